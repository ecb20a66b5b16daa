//! Fault rules through the admin API: added one by one or in a batch,
//! listed with what is left of `times`, removed, cleared, and unusable
//! rules refused naming what is wrong.

mod support;

use mock_provider::GrantType;
use mock_provider::faults::{Endpoint, FaultAction, FaultRule};
use reqwest::StatusCode;
use support::admin_api::{admin_raw, assert_refused, client_credentials};
use support::{APP, POST_APP, http, post_form};

#[tokio::test]
async fn faults_are_added_listed_removed_and_cleared() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    assert!(admin.faults().await.unwrap().is_empty());

    let rule = FaultRule::new(
        Endpoint::Token,
        FaultAction::HttpStatus {
            status: 503,
            retry_after_secs: Some(3),
        },
    )
    .issuer("default")
    .grant_type(GrantType::ClientCredentials)
    .times(2);
    let id = admin.add_fault(&rule).await.unwrap();
    let listed = admin.faults().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], FaultRule { id, ..rule.clone() });

    let answer = post_form(
        &http(),
        &issuer,
        "token",
        Some(APP),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers["retry-after"], "3");
    // `times` shows what is left.
    assert_eq!(admin.faults().await.unwrap()[0].times, Some(1));
    // Only the matching issuer is affected.
    client_credentials(&provider.issuer_url("other").unwrap(), APP).await;

    admin.remove_fault(id).await.unwrap();
    assert!(admin.faults().await.unwrap().is_empty());
    client_credentials(&issuer, APP).await;
    assert_refused(
        admin.remove_fault(id).await,
        StatusCode::NOT_FOUND,
        &[&id.to_string()],
    );

    // Several at once, then all cleared.
    let ids = admin
        .add_faults(&[
            FaultRule::new(Endpoint::Jwks, FaultAction::EmptyBody),
            FaultRule::new(
                Endpoint::Token,
                FaultAction::oauth_error(mock_provider::ErrorCode::TemporarilyUnavailable),
            )
            .client(APP.0),
        ])
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1] && ids[0] > id);
    let answer = post_form(
        &http(),
        &issuer,
        "token",
        Some(APP),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(answer.error(), Some("temporarily_unavailable"));
    client_credentials(&issuer, POST_APP).await; // another client: untouched
    admin.clear_faults().await.unwrap();
    assert!(admin.faults().await.unwrap().is_empty());
    client_credentials(&issuer, APP).await;

    // Unusable rules are refused, naming what is wrong; a batch is all or none.
    let base = provider.base_url();
    for (body, words) in [
        (
            r#"{"endpoint":"token","action":{"kind":"http_status","status":404}}"#,
            &["http_status", "404"][..],
        ),
        (
            r#"{"endpoint":"upstream","action":{"kind":"http_status","status":200}}"#,
            &["200"][..],
        ),
        (
            r#"{"endpoint":"nope","action":{"kind":"empty_body"}}"#,
            &["fault.endpoint", "nope"][..],
        ),
        (r#"{"endpoint":"token"}"#, &["action"][..]),
        (
            r#"{"endpoint":"token","action":{}}"#,
            &["fault.action", "kind", "oauth_error"][..],
        ),
        (
            r#"{"endpoint":"token","action":{"kind":"http_status","status":"503"}}"#,
            &["fault.action", "status"][..],
        ),
        (
            r#"{"endpoint":"token","action":{"kind":"empty_body"},"issuer":"ghost"}"#,
            &["fault[0].issuer", "ghost"][..],
        ),
        (
            r#"{"endpoint":"jwks","action":{"kind":"signing","fault":"alg_none"}}"#,
            &["token"][..],
        ),
        (
            r#"[{"endpoint":"jwks","action":{"kind":"empty_body"}},{"endpoint":"token","action":{"kind":"empty_body"},"times":0}]"#,
            &["fault[1]", "times"][..],
        ),
    ] {
        let (status, err) = admin_raw(base, reqwest::Method::POST, "faults", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        let description = err["error_description"].as_str().unwrap_or_default();
        for w in words {
            assert!(
                description.contains(w),
                "{body}: `{w}` not in {description}"
            );
        }
    }
    assert!(
        admin.faults().await.unwrap().is_empty(),
        "nothing was added"
    );
}
