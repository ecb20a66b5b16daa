//! Faults of time and chance: a fixed `latency` delays the answer, and
//! seeded jitter and seeded probability replay exactly on another provider.

mod support;

use std::time::{Duration, Instant};

use mock_provider::MockProvider;
use mock_provider::faults::{Endpoint, FaultAction, FaultRule};
use mock_provider::internals::{FaultPlan, RequestFacts};
use reqwest::StatusCode;
use support::fault_fixture::{
    assert_entry, assert_last, client_credentials, fixture, ledger_at, token_filter,
};

// ---- latency ---------------------------------------------------------------

/// A fixed delay: the answer takes at least `millis`.
#[tokio::test]
async fn latency_delays_the_answer() {
    let f = fixture().await;
    let id = f
        .add_fault(
            FaultRule::new(
                Endpoint::Token,
                FaultAction::Latency {
                    millis: 300,
                    jitter_millis: 0,
                },
            )
            .times(1),
        )
        .await;
    let started = Instant::now();
    let a = client_credentials(&f, &f.issuer, None).await;
    let took = started.elapsed();
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    let e = assert_last(
        &f.admin,
        token_filter(),
        &[&format!("latency#{id}")],
        "ok",
        200,
    )
    .await;
    assert!(e.latency_ms >= 300.0, "{e:?}");
}

/// Jitter drawn from the rule's seed replays: two providers with the same
/// seed delay the same requests by the same amounts.
#[tokio::test]
async fn seeded_jitter_replays_on_another_provider() {
    fn rule(seed: u64) -> FaultRule {
        FaultRule {
            seed,
            ..FaultRule::new(
                Endpoint::Jwks,
                FaultAction::Latency {
                    millis: 0,
                    jitter_millis: 200,
                },
            )
        }
    }
    // What the seed draws, from a plan evaluated in-process (no clock).
    let plan = FaultPlan::default();
    plan.add(rule(7));
    let facts = RequestFacts::new(Endpoint::Jwks, "default");
    let drawn: Vec<Duration> = (0..5).map(|_| plan.evaluate(&facts).latency).collect();
    let ms = |d: &[Duration]| d.iter().map(Duration::as_millis).collect::<Vec<_>>();
    let spread = drawn
        .iter()
        .max()
        .unwrap()
        .saturating_sub(*drawn.iter().min().unwrap());
    assert!(
        spread >= Duration::from_millis(100),
        "the jitter varies from request to request: {:?}",
        ms(&drawn)
    );

    async fn delays(seed: u64) -> Vec<Duration> {
        let provider = MockProvider::start().await.unwrap();
        let admin = provider.admin();
        let id = admin.add_fault(&rule(seed)).await.unwrap();
        let http = support::http();
        let url = format!("{}/jwks", provider.issuer_url("default").unwrap());
        let mut out = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let r = http.get(&url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.bytes().await.unwrap();
            out.push(started.elapsed());
        }
        let entries = ledger_at(&admin, Endpoint::Jwks).await;
        assert_eq!(entries.len(), 5);
        for e in &entries {
            assert_entry(e, &[&format!("latency#{id}")], "ok", 200);
        }
        out
    }
    // Each of two fresh providers waits at least what the seed drew (a
    // sleep is never shorter), and not much more: only a lower bound is
    // exact under a loaded machine, so the upper one is generous. A
    // provider drawing from anything but the seed falls below some draw.
    for _ in 0..2 {
        let observed = delays(7).await;
        for (seen, want) in observed.iter().zip(&drawn) {
            assert!(
                seen >= want && *seen <= *want + Duration::from_millis(1500),
                "same seed, same delays: drawn {:?}, observed {:?}",
                ms(&drawn),
                ms(&observed)
            );
        }
    }
}

// ---- probability -----------------------------------------------------------

/// A rule with a probability fires by draws from its seed: the same seed on
/// two fresh providers gives the same fire/no-fire sequence; another seed
/// gives another one.
#[tokio::test]
async fn seeded_probability_replays_exactly() {
    async fn pattern(seed: u64) -> String {
        let provider = MockProvider::start().await.unwrap();
        let admin = provider.admin();
        let id = admin
            .add_fault(
                &FaultRule::new(
                    Endpoint::Jwks,
                    FaultAction::HttpStatus {
                        status: 503,
                        retry_after_secs: None,
                    },
                )
                .probability(0.5, seed),
            )
            .await
            .unwrap();
        let http = support::http();
        let url = format!("{}/jwks", provider.issuer_url("default").unwrap());
        let mut out = String::new();
        for _ in 0..40 {
            let status = http.get(&url).send().await.unwrap().status();
            out.push(match status {
                StatusCode::SERVICE_UNAVAILABLE => 'X',
                StatusCode::OK => '.',
                other => panic!("unexpected {other}"),
            });
        }
        let entries = ledger_at(&admin, Endpoint::Jwks).await;
        let logged: String = entries
            .iter()
            .map(|e| {
                if e.faults == [format!("http_status#{id}")] {
                    assert_entry(e, &[&format!("http_status#{id}")], "http_503", 503);
                    'X'
                } else {
                    assert_entry(e, &[], "ok", 200);
                    '.'
                }
            })
            .collect();
        assert_eq!(logged, out, "the ledger tells the same story");
        out
    }
    let a = pattern(7).await;
    let b = pattern(7).await;
    let c = pattern(8).await;
    assert_eq!(a, b, "same seed, same sequence");
    assert_ne!(a, c, "another seed, another sequence");
    let fired = a.chars().filter(|c| *c == 'X').count();
    assert!((5..=35).contains(&fired), "p = 0.5 over 40 draws: {a}");
}
