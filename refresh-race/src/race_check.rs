//! The runner: [`RaceCheck`] generates schedules with proptest's
//! `TestRunner` from a fixed, settable seed, runs each as a case against
//! one in-process mock provider on a tokio runtime it builds itself (the
//! user's test is a plain `#[test] fn`), shrinks a failing schedule, and
//! answers [`Passed`] or a [`RaceError`] (a [`Counterexample`], or a
//! problem of the harness itself).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::case_run::{CaseFailure, run_case};
use crate::counterexample::Counterexample;
use crate::invariants::Violation;
use crate::lockstep_callers::Upstream;
use crate::provider_harness::{HarnessError, ProviderHarness};
use crate::schedule::{Schedule, ScheduleStrategy};
use crate::token_source::{TokenSource, UpstreamGrant};

/// The seed used unless [`RaceCheck::seed`] says otherwise.
pub const DEFAULT_SEED: u64 = 0x5EED_2ACE;

/// How long the end of a run waits for the manager's leftover tasks.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// A run that found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passed {
    /// Cases run.
    pub cases: u32,
    /// How long the run took (provider start included).
    pub elapsed: Duration,
    /// The seed.
    pub seed: u64,
}

impl fmt::Display for Passed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refresh race: {} cases passed in {:.1} s (seed {})",
            self.cases,
            self.elapsed.as_secs_f64(),
            self.seed
        )
    }
}

/// Why a run did not pass.
#[derive(Debug, thiserror::Error)]
pub enum RaceError {
    /// The manager broke an invariant.
    #[error(
        "{0}\n(found at case {found}, shrunk in {steps} steps; seed {seed})",
        found = .0.found_at_case,
        steps = .0.shrink_steps,
        seed = .0.seed
    )]
    Counterexample(Box<Counterexample>),
    /// The harness could not do its part.
    #[error(transparent)]
    Harness(#[from] HarnessError),
}

impl RaceError {
    /// The counterexample, when that is what this is.
    pub fn counterexample(&self) -> Option<&Counterexample> {
        match self {
            Self::Counterexample(c) => Some(c),
            Self::Harness(_) => None,
        }
    }
}

/// A refresh-race property test of a token manager.
///
/// ```no_run
/// # use refresh_race::{RaceCheck, TokenSource, UpstreamGrant};
/// # struct Mine;
/// # impl TokenSource for Mine {
/// #     type Error = String;
/// #     async fn access_token(&self) -> Result<String, String> { Err("".into()) }
/// #     async fn replace_rejected(&self, _: &str) -> Result<String, String> { Err("".into()) }
/// # }
/// # fn build(_: UpstreamGrant) -> Mine { Mine }
/// let passed = RaceCheck::new(build).cases(24).seed(7).assert();
/// println!("{passed}");
/// ```
pub struct RaceCheck<F> {
    factory: F,
    cases: u32,
    seed: u64,
    strategy: ScheduleStrategy,
    call_timeout: Duration,
    max_shrink_iters: u32,
    max_shrink_time: Duration,
    verbose: bool,
}

impl<F> fmt::Debug for RaceCheck<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaceCheck")
            .field("cases", &self.cases)
            .field("seed", &self.seed)
            .field("strategy", &self.strategy)
            .field("call_timeout", &self.call_timeout)
            .field("max_shrink_iters", &self.max_shrink_iters)
            .field("max_shrink_time", &self.max_shrink_time)
            .finish_non_exhaustive()
    }
}

/// What the proptest closure shares across cases.
struct RunState {
    harness: RefCell<ProviderHarness>,
    /// The latest failure of each schedule (a rerun of a schedule replaces
    /// it).
    failures: RefCell<HashMap<Schedule, CaseFailure>>,
    harness_error: RefCell<Option<HarnessError>>,
    cases_run: Cell<u32>,
    found_at: Cell<Option<u32>>,
    shrink_steps: Cell<u32>,
}

impl<F, S> RaceCheck<F>
where
    F: Fn(UpstreamGrant) -> S,
    S: TokenSource,
{
    /// A check of the managers `factory` builds (once per case, from the
    /// grant the harness seeded; it runs inside the harness's tokio
    /// runtime, so it may spawn tasks).
    pub fn new(factory: F) -> Self {
        Self {
            factory,
            cases: 24,
            seed: DEFAULT_SEED,
            strategy: ScheduleStrategy::default(),
            call_timeout: Duration::from_secs(10),
            max_shrink_iters: 256,
            max_shrink_time: Duration::from_secs(120),
            verbose: std::env::var_os("REFRESH_RACE_VERBOSE").is_some(),
        }
    }

    /// How many schedules to generate (default 24).
    pub fn cases(mut self, cases: u32) -> Self {
        self.cases = cases.max(1);
        self
    }

    /// The seed of the schedule generator (default [`DEFAULT_SEED`]): the
    /// same seed generates the same schedules.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The schedule strategy (default [`ScheduleStrategy::default`]).
    pub fn strategy(mut self, strategy: ScheduleStrategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// How long one call of the manager (and one API call) may take
    /// before it counts as a hang (default 10 s).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// At most this many shrink steps (default 256).
    pub fn max_shrink_iters(mut self, iters: u32) -> Self {
        self.max_shrink_iters = iters;
        self
    }

    /// At most this long shrinking (default 120 s).
    pub fn max_shrink_time(mut self, time: Duration) -> Self {
        self.max_shrink_time = time;
        self
    }

    /// Print every case's schedule, verdict and time to stderr (default:
    /// on when the environment has `REFRESH_RACE_VERBOSE`).
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// Runs the check and panics with the report if it fails: for a
    /// `#[test] fn`.
    #[track_caller]
    pub fn assert(self) -> Passed {
        match self.run() {
            Ok(passed) => passed,
            Err(e) => panic!("{e}"),
        }
    }

    /// Runs the check. Call it from a plain `#[test] fn` (not inside a
    /// tokio runtime: it builds its own).
    pub fn run(self) -> Result<Passed, RaceError> {
        let started = Instant::now();
        let (runtime, harness, upstream) = self.start()?;
        let state = RunState {
            harness: RefCell::new(harness),
            failures: RefCell::new(HashMap::new()),
            harness_error: RefCell::new(None),
            cases_run: Cell::new(0),
            found_at: Cell::new(None),
            shrink_steps: Cell::new(0),
        };
        let config = Config {
            cases: self.cases,
            max_shrink_iters: self.max_shrink_iters,
            max_shrink_time: u32::try_from(self.max_shrink_time.as_millis()).unwrap_or(u32::MAX),
            failure_persistence: None,
            source_file: None,
            test_name: None,
            fork: false,
            timeout: 0,
            verbose: 0,
            ..Config::default()
        };
        let mut runner = TestRunner::new_with_rng(config, rng(self.seed));
        let result = runner.run(&self.strategy, |schedule| {
            if state.harness_error.borrow().is_some() {
                // The harness broke: stop spending time (every further case
                // passes, so shrinking ends at once).
                return Ok(());
            }
            let n = state.cases_run.get() + 1;
            state.cases_run.set(n);
            let case_started = Instant::now();
            let outcome = {
                let mut harness = state.harness.borrow_mut();
                runtime.block_on(run_case(&mut harness, &upstream, &schedule, &self.factory))
            };
            match outcome {
                Ok(None) => {
                    if self.verbose {
                        eprintln!(
                            "refresh race: case {n} ({} ms): {schedule}: ok",
                            case_started.elapsed().as_millis()
                        );
                    }
                    Ok(())
                }
                Ok(Some(failure)) => {
                    if self.verbose {
                        eprintln!(
                            "refresh race: case {n} ({} ms): {schedule}: {}",
                            case_started.elapsed().as_millis(),
                            failure
                                .violations
                                .first()
                                .map(ToString::to_string)
                                .unwrap_or_default()
                        );
                    }
                    match state.found_at.get() {
                        None => state.found_at.set(Some(n)),
                        Some(_) => state.shrink_steps.set(state.shrink_steps.get() + 1),
                    }
                    let summary = failure
                        .violations
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    state.failures.borrow_mut().insert(schedule, failure);
                    Err(TestCaseError::fail(summary))
                }
                Err(e) => {
                    *state.harness_error.borrow_mut() = Some(e);
                    Err(TestCaseError::fail("the harness failed"))
                }
            }
        });
        drop(runner);
        let RunState {
            harness,
            failures,
            harness_error,
            cases_run,
            found_at,
            shrink_steps,
        } = state;
        // The provider stops inside the runtime that runs it; a manager's
        // task that never ends does not hold the run.
        runtime.block_on(async move { drop(harness) });
        runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
        if let Some(e) = harness_error.into_inner() {
            return Err(RaceError::Harness(e));
        }
        match result {
            Ok(()) => Ok(Passed {
                cases: cases_run.get(),
                elapsed: started.elapsed(),
                seed: self.seed,
            }),
            Err(TestError::Fail(reason, schedule)) => {
                let failure =
                    failures
                        .into_inner()
                        .remove(&schedule)
                        .unwrap_or_else(|| CaseFailure {
                            violations: vec![Violation::Panicked {
                                message: reason.to_string(),
                            }],
                            evidence: Vec::new(),
                        });
                let found = found_at.get().unwrap_or(cases_run.get());
                Err(RaceError::Counterexample(Box::new(Counterexample {
                    schedule,
                    violations: failure.violations,
                    evidence: failure.evidence,
                    seed: self.seed,
                    found_at_case: found,
                    shrink_steps: shrink_steps.get(),
                })))
            }
            Err(TestError::Abort(reason)) => {
                Err(RaceError::Counterexample(Box::new(Counterexample {
                    schedule: Schedule::new(
                        1,
                        1,
                        crate::schedule::RefreshBarrier {
                            parties: 2,
                            timeout: Duration::from_millis(150),
                        },
                        crate::schedule::TokenFault::None,
                    ),
                    violations: vec![Violation::Panicked {
                        message: format!("proptest aborted the run: {reason}"),
                    }],
                    evidence: Vec::new(),
                    seed: self.seed,
                    found_at_case: cases_run.get(),
                    shrink_steps: 0,
                })))
            }
        }
    }

    /// Runs one given schedule (no generation, no shrinking): for a
    /// regression test of a counterexample found earlier.
    pub fn check(&self, schedule: Schedule) -> Result<(), RaceError> {
        let (runtime, mut harness, upstream) = self.start()?;
        let outcome = runtime.block_on(run_case(&mut harness, &upstream, &schedule, &self.factory));
        runtime.block_on(async move { drop(harness) });
        runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
        match outcome? {
            None => Ok(()),
            Some(failure) => Err(RaceError::Counterexample(Box::new(Counterexample {
                schedule,
                violations: failure.violations,
                evidence: failure.evidence,
                seed: self.seed,
                found_at_case: 1,
                shrink_steps: 0,
            }))),
        }
    }

    /// The runtime, the provider and the callers' HTTP client.
    fn start(&self) -> Result<(tokio::runtime::Runtime, ProviderHarness, Upstream), HarnessError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(HarnessError::InsideRuntime);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .map_err(HarnessError::Runtime)?;
        let harness = runtime.block_on(ProviderHarness::start())?;
        let http = reqwest::Client::builder()
            .timeout(self.call_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(HarnessError::Http)?;
        let upstream = Upstream {
            http,
            api_url: harness.api_url().clone(),
            call_timeout: self.call_timeout,
        };
        Ok((runtime, harness, upstream))
    }
}

/// A ChaCha RNG from a 64-bit seed (SplitMix64 spreads it over 32 bytes).
fn rng(seed: u64) -> TestRng {
    let mut state = seed;
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}
