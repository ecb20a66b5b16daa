//! Body faults (`malformed_json`, `empty_body`, `wrong_content_type`) mangle
//! an answer after the request was processed, so a refresh token presented
//! is consumed.

mod support;

use mock_provider::faults::{Endpoint, FaultAction, FaultRule};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use support::APP;
use support::fault_fixture::{
    Fixture, RawAnswer, assert_last, fixture, raw, refresh, seed, token_filter,
};

/// A token request of `APP` at `default` whose body is kept as text.
async fn raw_token(f: &Fixture, form: &[(&str, &str)]) -> RawAnswer {
    raw(f
        .http
        .post(format!("{}/token", f.issuer))
        .header(
            reqwest::header::AUTHORIZATION,
            support::basic_header(APP.0, APP.1),
        )
        .form(form))
    .await
}

/// A body fault mangles a PROCESSED answer: under `malformed_json` the
/// refresh grant happened and the presented refresh token is consumed, so
/// presenting it again is reuse (OAuth 2.1 4.3.1, RFC 9700 4.14.2): the
/// answer is `invalid_grant` and the whole family is revoked.
#[tokio::test]
async fn malformed_json_consumes_the_refresh_token() {
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    // A first honest refresh, so the family has a live access token.
    let first = refresh(&f, &grant.refresh_token).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let rt1 = first.str("refresh_token").to_owned();
    let at1 = first.str("access_token").to_owned();

    let id = f
        .add_fault(FaultRule::new(Endpoint::Token, FaultAction::MalformedJson).times(1))
        .await;
    let mangled = raw_token(
        &f,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
    )
    .await;
    assert_eq!(mangled.status, StatusCode::OK, "{mangled:?}");
    assert_eq!(mangled.header(CONTENT_TYPE), Some("application/json"));
    assert!(
        serde_json::from_str::<Value>(&mangled.text).is_err(),
        "not JSON: {:?}",
        mangled.text
    );
    let e = assert_last(
        &f.admin,
        token_filter(),
        &[&format!("malformed_json#{id}")],
        "ok",
        200,
    )
    .await;
    assert_eq!(e.family, Some(grant.family));
    assert!(e.processed, "a body fault mangles a processed answer");
    assert!(
        e.issued_refresh_token.is_some(),
        "the grant happened: a successor was issued: {e:?}"
    );

    // rt1 was consumed: presenting it again is reuse.
    let reuse = refresh(&f, &rt1).await;
    assert_eq!(reuse.status, StatusCode::BAD_REQUEST, "{reuse:?}");
    assert_eq!(reuse.error(), Some("invalid_grant"));
    let e = assert_last(&f.admin, token_filter(), &[], "invalid_grant", 400).await;
    assert!(e.reuse_detected, "{e:?}");
    assert_eq!(e.family, Some(grant.family));
    // ...which revoked the family: its access token is dead (RFC 7662 2.2).
    let introspection = support::post_form(
        &f.http,
        &f.issuer,
        "introspect",
        Some(APP),
        &[("token", &at1)],
    )
    .await;
    assert_eq!(introspection.status, StatusCode::OK);
    assert_eq!(introspection.body["active"], false, "{introspection:?}");
}

/// `empty_body`: a 200 with nothing in it, after the grant ran. Added
/// through the Rust API.
#[tokio::test]
async fn empty_body_is_a_processed_200_with_no_body() {
    let f = fixture().await;
    let id = f
        .provider
        .admin()
        .add_fault(&FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).times(1))
        .await
        .unwrap();
    let a = raw_token(&f, &[("grant_type", "client_credentials")]).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(a.text, "");
    assert_eq!(a.header(CONTENT_TYPE), Some("application/json"));
    let e = assert_last(
        &f.admin,
        token_filter(),
        &[&format!("empty_body#{id}")],
        "ok",
        200,
    )
    .await;
    assert_eq!(e.client_id.as_deref(), Some(APP.0));
    assert!(f.admin.faults().await.unwrap().is_empty());
}

/// `wrong_content_type`: the real JSON token response labelled
/// `text/html` (RFC 6749 5.1 requires `application/json`).
#[tokio::test]
async fn wrong_content_type_labels_real_json_as_html() {
    let f = fixture().await;
    let id = f
        .add_fault(FaultRule::new(Endpoint::Token, FaultAction::WrongContentType).times(1))
        .await;
    let a = raw_token(&f, &[("grant_type", "client_credentials")]).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert!(
        a.header(CONTENT_TYPE)
            .is_some_and(|c| c.starts_with("text/html")),
        "{a:?}"
    );
    let body: Value = serde_json::from_str(&a.text).expect("still the JSON token response");
    assert!(body["access_token"].is_string(), "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_last(
        &f.admin,
        token_filter(),
        &[&format!("wrong_content_type#{id}")],
        "ok",
        200,
    )
    .await;
}
