//! The reference server's upstream token manager under the refresh-race
//! property test: correct (`Behaviour::default()`) it passes; with
//! `naive_refresh` (no single flight) it fails, and the counterexample
//! shrinks to two callers in one cycle without a fault.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reference_server::secret_string::SecretString;
use reference_server::upstream_config::UpstreamConfig;
use reference_server::upstream_tokens::{Behaviour, TokenError, UpstreamTokens};
use refresh_race::{
    Pace, RaceCheck, RefreshBarrier, Schedule, TokenFault, TokenSource, UpstreamGrant, Violation,
};

/// The reference manager behind the harness's trait.
struct Reference(Arc<UpstreamTokens>);

impl TokenSource for Reference {
    type Error = TokenError;

    async fn access_token(&self) -> Result<String, TokenError> {
        let token = self.0.access_token().await?;
        Ok(token.expose().to_owned())
    }

    async fn replace_rejected(&self, rejected: &str) -> Result<String, TokenError> {
        let token = self
            .0
            .replace_rejected(&SecretString::new(rejected))
            .await?;
        Ok(token.expose().to_owned())
    }
}

/// A factory of reference managers with `behaviour`, as the server builds
/// them from its environment (no token store).
fn reference(behaviour: Behaviour) -> impl Fn(UpstreamGrant) -> Reference {
    move |grant| {
        let config = UpstreamConfig {
            issuer: Some(grant.issuer.to_string()),
            token_url: grant.token_url,
            client_id: grant.client_id,
            client_secret: Some(SecretString::new(grant.client_secret)),
            refresh_token: Some(SecretString::new(grant.refresh_token)),
            tenant_refresh_tokens: None,
            api_url: grant.api_url.as_str().trim_end_matches('/').to_owned(),
            refresh_skew: Duration::from_secs(300),
            store_dir: None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        Reference(Arc::new(UpstreamTokens::new(
            &config, http, behaviour, None,
        )))
    }
}

#[test]
fn the_correct_manager_passes() {
    let started = Instant::now();
    let passed = RaceCheck::new(reference(Behaviour::default()))
        .cases(24)
        .assert();
    assert_eq!(passed.cases, 24);
    eprintln!("{passed} (test: {:.1} s)", started.elapsed().as_secs_f64());
}

#[test]
fn the_naive_manager_fails_with_a_small_counterexample() {
    let started = Instant::now();
    let error = RaceCheck::new(reference(Behaviour {
        naive_refresh: true,
        ..Behaviour::default()
    }))
    .cases(24)
    .run()
    .expect_err("a manager without single flight must fail");
    eprintln!("{error}\n(test: {:.1} s)", started.elapsed().as_secs_f64());
    let counterexample = error.counterexample().expect("a counterexample");
    assert_eq!(
        counterexample.schedule,
        Schedule::new(
            2,
            1,
            RefreshBarrier {
                parties: 2,
                timeout: Duration::from_millis(150),
            },
            TokenFault::None,
        )
    );
    assert!(
        counterexample
            .violations
            .iter()
            .any(|v| matches!(v, Violation::ReuseDetected { .. })),
        "{counterexample}"
    );
    insta::assert_snapshot!(counterexample.redacted());
}

/// A counterexample found once stays a regression test: `check` runs just
/// that schedule.
#[test]
fn a_known_schedule_can_be_checked_alone() {
    let two_callers = Schedule::new(
        2,
        1,
        RefreshBarrier {
            parties: 2,
            timeout: Duration::from_millis(150),
        },
        TokenFault::None,
    );
    let naive = RaceCheck::new(reference(Behaviour {
        naive_refresh: true,
        ..Behaviour::default()
    }));
    assert!(naive.check(two_callers).is_err());
    let correct = RaceCheck::new(reference(Behaviour::default()));
    correct.check(two_callers).expect("the correct manager");
}

/// Staggered callers: some arrive while the refresh is in flight, some
/// after it, some only after another caller's 401. The correct manager
/// still refreshes once per cycle; the naive one still collides.
#[test]
fn staggered_callers_judge_the_same_way() {
    let staggered = Schedule::new(
        6,
        2,
        RefreshBarrier {
            parties: 2,
            timeout: Duration::from_millis(150),
        },
        TokenFault::None,
    )
    .paced(Pace::Staggered {
        spread: Duration::from_millis(100),
    });
    let naive = RaceCheck::new(reference(Behaviour {
        naive_refresh: true,
        ..Behaviour::default()
    }));
    let error = naive
        .check(staggered)
        .expect_err("staggered naive callers still collide");
    let counterexample = error.counterexample().expect("a counterexample");
    assert!(
        counterexample
            .to_string()
            .contains("6 callers staggered over 100 ms, 2 cycles"),
        "{counterexample}"
    );
    RaceCheck::new(reference(Behaviour::default()))
        .check(staggered)
        .expect("the correct manager");
}
