//! The `refresh_barrier` fault holds concurrent refreshes and releases them
//! together, so they collide as reuse; a lone request goes on at the timeout.

mod support;

use std::time::{Duration, Instant};

use mock_provider::faults::{Endpoint, FaultAction, FaultRule};
use reqwest::StatusCode;
use support::APP;
use support::fault_fixture::{assert_last, fixture, refresh, seed, token_filter};

/// The barrier holds 5 concurrent refreshes with the same refresh token and
/// releases them together: exactly one wins, the other four present a
/// consumed token, which is reuse (OAuth 2.1 4.3.1, RFC 9700 4.14.2) and
/// revokes the family, the winner's new refresh token included.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_barrier_makes_five_refreshes_collide() {
    const K: usize = 5;
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    let id = f
        .add_fault(
            FaultRule::new(
                Endpoint::Token,
                FaultAction::RefreshBarrier {
                    parties: K,
                    timeout_millis: 5000,
                },
            )
            .client(APP.0)
            .times(K as u64),
        )
        .await;
    let started = Instant::now();
    let handles: Vec<_> = (0..K)
        .map(|_| {
            let http = f.http.clone();
            let issuer = f.issuer.clone();
            let rt = grant.refresh_token.clone();
            tokio::spawn(async move {
                support::post_form(
                    &http,
                    &issuer,
                    "token",
                    Some(APP),
                    &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                )
                .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for h in handles {
        answers.push(h.await.unwrap());
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "released when the fifth arrived, not by the timeout: {:?}",
        started.elapsed()
    );
    let winners: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .collect();
    let losers = answers
        .iter()
        .filter(|a| a.status == StatusCode::BAD_REQUEST && a.error() == Some("invalid_grant"))
        .count();
    assert_eq!(winners.len(), 1, "{answers:#?}");
    assert_eq!(losers, K - 1, "{answers:#?}");

    let entries = f.admin.ledger(&token_filter().client(APP.0)).await.unwrap();
    assert_eq!(entries.len(), K);
    let name = format!("refresh_barrier#{id}");
    assert!(
        entries.iter().all(|e| e.faults == [name.clone()]),
        "{entries:#?}"
    );
    assert!(entries.iter().all(|e| e.family == Some(grant.family)));
    assert_eq!(entries.iter().filter(|e| e.outcome == "ok").count(), 1);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.outcome == "invalid_grant" && e.status == 400)
            .count(),
        K - 1
    );

    // The family is revoked: the winner's successor token is dead too.
    assert!(f.admin.faults().await.unwrap().is_empty(), "rule spent");
    let after = refresh(&f, winners[0].str("refresh_token")).await;
    assert_eq!(after.error(), Some("invalid_grant"), "{after:?}");
    let introspection = support::post_form(
        &f.http,
        &f.issuer,
        "introspect",
        Some(APP),
        &[("token", winners[0].str("access_token"))],
    )
    .await;
    assert_eq!(introspection.body["active"], false);

    // Every loser presented a consumed refresh token: each is reuse (the
    // ledger's `reuse_detected` means "presented a consumed refresh
    // token"), not only the first one to arrive after the winner.
    let reused: Vec<_> = entries.iter().filter(|e| e.reuse_detected).collect();
    assert_eq!(
        reused.len(),
        K - 1,
        "every loser presented a consumed token: {entries:#?}"
    );
    assert!(reused.iter().all(|e| e.outcome == "invalid_grant"));
}

/// A refresh request alone at a barrier goes on when the barrier times out.
#[tokio::test]
async fn refresh_barrier_lets_a_lone_request_through_after_the_timeout() {
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    let id = f
        .add_fault(FaultRule::new(
            Endpoint::Token,
            FaultAction::RefreshBarrier {
                parties: 2,
                timeout_millis: 300,
            },
        ))
        .await;
    let started = Instant::now();
    let a = refresh(&f, &grant.refresh_token).await;
    let took = started.elapsed();
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    let e = assert_last(
        &f.admin,
        token_filter(),
        &[&format!("refresh_barrier#{id}")],
        "ok",
        200,
    )
    .await;
    assert!(e.latency_ms >= 300.0, "{e:?}");
    assert!(!e.reuse_detected);
}
