//! A tiny manager that is single-flight but retries its refresh on
//! `invalid_grant`: the `invalid_grant` invariant (at most one refresh
//! request, every caller gets an error) catches it.

use std::time::{Duration, Instant};

use refresh_race::{
    FaultWeights, RaceCheck, RefreshBarrier, RefreshLimit, Schedule, ScheduleStrategy, TokenFault,
    TokenSource, UpstreamGrant, Violation,
};
use serde_json::Value;
use tokio::sync::Mutex;

/// How often it tries (the flaw: more than once after `invalid_grant`).
const ATTEMPTS: usize = 4;

struct RetryLooper {
    http: reqwest::Client,
    grant: UpstreamGrant,
    /// (access token, refresh token); the lock is held across a refresh,
    /// which makes it single-flight.
    state: Mutex<(Option<String>, String)>,
}

impl RetryLooper {
    fn new(grant: UpstreamGrant) -> Self {
        let refresh = grant.refresh_token.clone();
        Self {
            http: reqwest::Client::new(),
            grant,
            state: Mutex::new((None, refresh)),
        }
    }

    async fn refresh(&self, state: &mut (Option<String>, String)) -> Result<String, String> {
        for _ in 0..ATTEMPTS {
            let response = self
                .http
                .post(self.grant.token_url.clone())
                .basic_auth(&self.grant.client_id, Some(&self.grant.client_secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", state.1.as_str()),
                ])
                .send()
                .await
                .map_err(|e| e.without_url().to_string())?;
            if !response.status().is_success() {
                // The flaw: try again, whatever the provider said.
                continue;
            }
            let body: Value = response.json().await.map_err(|e| e.to_string())?;
            let access = body["access_token"].as_str().ok_or("no access_token")?;
            if let Some(next) = body["refresh_token"].as_str() {
                state.1 = next.to_owned();
            }
            state.0 = Some(access.to_owned());
            return Ok(access.to_owned());
        }
        Err(format!("the refresh failed {ATTEMPTS} times"))
    }
}

impl TokenSource for RetryLooper {
    type Error = String;

    async fn access_token(&self) -> Result<String, String> {
        let mut state = self.state.lock().await;
        match state.0.clone() {
            Some(token) => Ok(token),
            None => self.refresh(&mut state).await,
        }
    }

    async fn replace_rejected(&self, rejected: &str) -> Result<String, String> {
        let mut state = self.state.lock().await;
        match state.0.clone() {
            Some(token) if token != rejected => Ok(token),
            _ => self.refresh(&mut state).await,
        }
    }
}

#[test]
fn a_manager_retrying_invalid_grant_is_caught() {
    let started = Instant::now();
    let error = RaceCheck::new(RetryLooper::new)
        // 503 faults left out: this manager also ignores Retry-After, and
        // this test is about invalid_grant.
        .strategy(ScheduleStrategy::default().faults(FaultWeights {
            unavailable: 0,
            ..FaultWeights::default()
        }))
        .cases(24)
        .run()
        .expect_err("retrying invalid_grant must fail");
    eprintln!("{error}\n(test: {:.1} s)", started.elapsed().as_secs_f64());
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
            TokenFault::InvalidGrant { cycle: 1 },
        )
    );
    assert!(
        counterexample.violations.iter().any(|v| matches!(
            v,
            Violation::TooManyRefreshes {
                requests: ATTEMPTS,
                granted: 0,
                limit: RefreshLimit::NoRetryAfterInvalidGrant,
                ..
            }
        )),
        "{counterexample}"
    );
}
