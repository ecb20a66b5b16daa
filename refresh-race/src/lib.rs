#![doc = include_str!("../README.md")]

mod case_run;
pub mod counterexample;
pub mod invariants;
mod ledger_evidence;
mod lockstep_callers;
mod provider_harness;
pub mod race_check;
pub mod schedule;
pub mod token_source;

pub use counterexample::Counterexample;
pub use invariants::{Expected, RefreshLimit, Step, Violation};
pub use lockstep_callers::{Ending, Stage};
pub use provider_harness::HarnessError;
pub use race_check::{DEFAULT_SEED, Passed, RaceCheck, RaceError};
pub use schedule::{
    FaultWeights, MAX_CALLERS, MAX_CYCLES, MAX_STAGGER, Pace, RefreshBarrier, Schedule,
    ScheduleStrategy, TokenFault, schedules,
};
pub use token_source::{TokenSource, UpstreamGrant};
