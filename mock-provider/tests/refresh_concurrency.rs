//! Exactly-once refresh token redemption under real concurrency over HTTP
//! (OAuth 2.1 4.3.1, RFC 9700 4.14.2: a rotated refresh token is single
//! use; reuse revokes the family).

mod support;

use futures_like::join_all;
use reqwest::StatusCode;
use support::{APP, RESOURCE};

/// A tiny join_all so the test needs no extra crate.
mod futures_like {
    pub async fn join_all<T: Send + 'static>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.expect("task"));
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_redemptions_give_one_success() {
    const N: usize = 1000;
    let provider = support::start_provider().await;
    let issuer = provider.issuer_url("default").unwrap();
    let http = support::http();
    let first = support::code_flow_tokens(&http, &issuer, &[("resource", RESOURCE)]).await;
    let refresh = first.str("refresh_token").to_owned();

    // All requests are spawned before any is awaited; a start barrier
    // releases them together.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(N));
    let mut handles = Vec::with_capacity(N);
    for _ in 0..N {
        let http = http.clone();
        let issuer = issuer.clone();
        let refresh = refresh.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            support::post_form(
                &http,
                &issuer,
                "token",
                Some(APP),
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await
        }));
    }
    let answers = join_all(handles).await;
    let successes: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .collect();
    let invalid_grant = answers
        .iter()
        .filter(|a| a.status == StatusCode::BAD_REQUEST && a.error() == Some("invalid_grant"))
        .count();
    assert_eq!(successes.len(), 1, "exactly one redemption succeeds");
    assert_eq!(invalid_grant, N - 1, "every other one is invalid_grant");

    // The reuse revoked the family: the winner's rotated token is dead too.
    let winner_refresh = successes[0].str("refresh_token");
    let after = support::post_form(
        &http,
        &issuer,
        "token",
        Some(APP),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", winner_refresh),
        ],
    )
    .await;
    assert_eq!(after.error(), Some("invalid_grant"));
    // ...and so are the access tokens of the family.
    let introspection = support::post_form(
        &http,
        &issuer,
        "introspect",
        Some(APP),
        &[("token", successes[0].str("access_token"))],
    )
    .await;
    assert_eq!(introspection.body["active"], false);
}
