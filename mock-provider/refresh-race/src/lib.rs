//! `refresh-race`: property tests for YOUR upstream token manager.
//!
//! An MCP server (or any service) that calls a third-party API with its own
//! OAuth tokens needs a manager that refreshes them: once when many callers
//! need a token at the same moment (the provider's refresh tokens are
//! single-use, so a second refresh with the same token is reuse and revokes
//! the whole grant), once more when the API answers 401, never again after
//! `invalid_grant`, not before `Retry-After`. This crate checks that with
//! proptest-generated schedules against the in-process
//! [`mock_provider`], judging from the provider's ledger rather than from
//! what the manager says:
//!
//! 1. implement [`TokenSource`] for your manager (or a thin wrapper);
//! 2. give [`RaceCheck::new`] a factory that builds it from the
//!    [`UpstreamGrant`] the harness seeds for every case;
//! 3. call [`RaceCheck::assert`] (or [`RaceCheck::run`]) from a plain
//!    `#[test] fn`: it builds its own tokio runtime and provider.
//!
//! Every [`Schedule`] has 1..=16 concurrent callers, 1..=3 expiry cycles, a
//! refresh barrier that makes a racy manager collide every time (with a
//! short timeout, so a correct manager's lone refresh is hardly slowed),
//! maybe a token endpoint fault (latency, `invalid_grant`, a 503 with
//! `Retry-After`), and callers that move in lockstep or start staggered
//! over up to 120 ms ([`Pace`]). A failure is shrunk to a small [`Counterexample`]:
//!
//! ```text
//! refresh race counterexample: 2 callers, 1 cycle, no fault (refresh barrier: 2 parties, 150 ms)
//! violated:
//!   - cycle 1: 2 refresh requests (1 granted); expected at most 1 per cycle
//!   - cycle 1: refresh token sha256:3f9a0c1b22de presented 2 times (it is single-use)
//!   - cycle 1: reuse detected on refresh token sha256:3f9a0c1b22de; the grant (family 1) was revoked
//! ```
//!
//! # Example
//!
//! ```no_run
//! use refresh_race::{RaceCheck, TokenSource, UpstreamGrant};
//! # mod my_app {
//! #     #[derive(Debug)]
//! #     pub struct Error;
//! #     impl std::fmt::Display for Error {
//! #         fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("no token") }
//! #     }
//! #     pub struct TokenManager;
//! #     impl TokenManager {
//! #         pub fn new(_: url::Url, _: String, _: String, _: String) -> Self { TokenManager }
//! #         pub async fn token(&self) -> Result<String, Error> { Err(Error) }
//! #         pub async fn refresh_after_401(&self, _: &str) -> Result<String, Error> { Err(Error) }
//! #     }
//! # }
//!
//! /// The manager under test, seen through the harness's trait (a wrapper,
//! /// since the trait and the manager both live in other crates).
//! struct UnderTest(my_app::TokenManager);
//!
//! impl TokenSource for UnderTest {
//!     type Error = my_app::Error;
//!
//!     async fn access_token(&self) -> Result<String, my_app::Error> {
//!         self.0.token().await
//!     }
//!
//!     async fn replace_rejected(&self, rejected: &str) -> Result<String, my_app::Error> {
//!         self.0.refresh_after_401(rejected).await
//!     }
//! }
//!
//! // In a `#[test] fn`:
//! let passed = RaceCheck::new(|grant: UpstreamGrant| {
//!     UnderTest(my_app::TokenManager::new(
//!         grant.token_url,
//!         grant.client_id,
//!         grant.client_secret,
//!         grant.refresh_token,
//!     ))
//! })
//! .cases(32)
//! .assert();
//! println!("{passed}");
//! ```
//!
//! Modules: [`token_source`] (the trait and the grant), [`schedule`] (what
//! a case does and the strategy), [`race_check`] (the runner),
//! [`invariants`] (what is checked), [`counterexample`] (the report);
//! internally the provider harness, the lockstep callers, the case run and
//! the ledger evidence.

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
