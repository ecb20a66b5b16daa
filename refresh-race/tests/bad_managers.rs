//! Managers that misbehave in ways that must not hang the harness: one
//! whose calls never answer gives a timeout violation, and calling `run`
//! from inside a tokio runtime is a clear harness error.

use std::time::{Duration, Instant};

use refresh_race::{
    HarnessError, RaceCheck, RaceError, RefreshBarrier, Schedule, TokenFault, TokenSource,
    UpstreamGrant,
};

/// Never answers.
struct Hangs;

impl TokenSource for Hangs {
    type Error = String;

    async fn access_token(&self) -> Result<String, String> {
        std::future::pending().await
    }

    async fn replace_rejected(&self, _rejected: &str) -> Result<String, String> {
        std::future::pending().await
    }
}

#[test]
fn a_hanging_manager_is_a_timeout_violation() {
    let started = Instant::now();
    let error = RaceCheck::new(|_: UpstreamGrant| Hangs)
        .call_timeout(Duration::from_millis(300))
        .cases(4)
        .run()
        .expect_err("a manager that never answers must fail");
    let elapsed = started.elapsed();
    eprintln!("{error}\n(test: {:.1} s)", elapsed.as_secs_f64());
    let counterexample = error.counterexample().expect("a counterexample");
    assert_eq!(
        counterexample.schedule,
        Schedule::new(
            1,
            1,
            RefreshBarrier {
                parties: 2,
                timeout: Duration::from_millis(150),
            },
            TokenFault::None,
        )
    );
    assert_eq!(
        counterexample.violations[0].to_string(),
        "cycle 1: 1 of 1 caller ended without a token the upstream API accepted: access_token() did not answer within 300 ms (1 caller)"
    );
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

#[tokio::test]
async fn run_inside_a_runtime_is_a_harness_error() {
    let error = RaceCheck::new(|_: UpstreamGrant| Hangs).run().unwrap_err();
    assert!(
        matches!(error, RaceError::Harness(HarnessError::InsideRuntime)),
        "{error}"
    );
    assert!(error.to_string().contains("plain #[test]"), "{error}");
}
