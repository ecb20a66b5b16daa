//! Bad admin requests (malformed JSON, unknown or missing fields, wrong
//! types, unknown routes) are refused with 400 or 404 naming the problem,
//! and change nothing.

mod support;

use mock_provider::admin::{MintRequest, SeedGrant};
use reqwest::StatusCode;
use support::APP;
use support::admin_api::{admin_raw, client_credentials, refresh};

#[tokio::test]
async fn bad_admin_requests_are_refused_and_change_nothing() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let base = provider.base_url();
    let seeded = admin
        .seed_grant(
            "default",
            &SeedGrant {
                client_id: APP.0.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let clients_before = admin.clients("default").await.unwrap();
    let keys_before = admin.keys("default").await.unwrap();

    use reqwest::Method;
    for (method, path, body, words) in [
        // Malformed JSON.
        (
            Method::POST,
            "issuers/default/tokens",
            r#"{"ttl_secs": "#,
            &["invalid request body"][..],
        ),
        (
            Method::POST,
            "issuers/default/grants",
            "not json",
            &["invalid request body"][..],
        ),
        (
            Method::POST,
            "issuers/default/clients",
            "[1,2",
            &["invalid request body"][..],
        ),
        // Unknown fields.
        (
            Method::POST,
            "issuers/default/tokens",
            r#"{"bogus": 1}"#,
            &["bogus"][..],
        ),
        (
            Method::POST,
            "issuers/default/grants",
            r#"{"client_id": "app", "extra": true}"#,
            &["extra"][..],
        ),
        (
            Method::POST,
            "issuers/default/clients",
            r#"{"client_id": "x", "colour": "red"}"#,
            &["colour"][..],
        ),
        (
            Method::POST,
            "issuers/default/revoke",
            r#"{"subject": "alice", "everything": true}"#,
            &["everything"][..],
        ),
        (
            Method::POST,
            "issuers/default/keys/rotate",
            r#"{"grace": 5}"#,
            &["grace"][..],
        ),
        (
            Method::POST,
            "issuers/default/expire-access-tokens",
            r#"{"client_id": "app", "now": true}"#,
            &["now"][..],
        ),
        (
            Method::POST,
            "issuers/default/tokens",
            r#"{"override": {"sub": "x"}}"#,
            &["sub"][..],
        ),
        (
            Method::POST,
            "faults",
            r#"{"endpoint": "token", "action": {"kind": "empty_body"}, "bogus": 1}"#,
            &["bogus"][..],
        ),
        (
            Method::POST,
            "faults",
            r#"{"endpoint": "token", "action": {"kind": "http_status", "status": 503, "retry": 1}}"#,
            &["retry"][..],
        ),
        // Missing required fields.
        (
            Method::POST,
            "issuers/default/grants",
            "{}",
            &["client_id"][..],
        ),
        (
            Method::POST,
            "issuers/default/expire-access-tokens",
            "{}",
            &["client_id"][..],
        ),
        (
            Method::POST,
            "issuers/default/clients",
            r#"{"client_secret": "x"}"#,
            &["client_id"][..],
        ),
        // Not a fault id.
        (Method::DELETE, "faults/abc", "", &["abc"][..]),
    ] {
        let body = (!body.is_empty()).then_some(body);
        let (status, err) = admin_raw(base, method.clone(), path, body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {body:?}: {err}"
        );
        assert_eq!(err["error"], "invalid_request", "{path}: {err}");
        let d = err["error_description"].as_str().unwrap_or_default();
        for w in words {
            assert!(d.contains(w), "{method} {path} {body:?}: `{w}` not in {d}");
        }
    }
    // Unknown admin endpoints and issuers: JSON 404.
    let (status, err) = admin_raw(base, Method::GET, "nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"], "not_found");
    let (status, _) = admin_raw(base, Method::POST, "issuers/ghost/tokens", Some("{}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // State kept, provider still serving.
    assert_eq!(admin.clients("default").await.unwrap(), clients_before);
    assert_eq!(admin.keys("default").await.unwrap(), keys_before);
    assert!(admin.faults().await.unwrap().is_empty());
    client_credentials(&issuer, APP).await;
    let answer = refresh(&issuer, APP, &seeded.refresh_token).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    admin
        .mint_token("default", &MintRequest::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_types_are_refused_naming_the_field() {
    let provider = support::start_provider().await;
    let base = provider.base_url();
    use reqwest::Method;
    let mut unnamed = Vec::new();
    for (path, body, field) in [
        (
            "issuers/default/tokens",
            r#"{"ttl_secs": "ten"}"#,
            "ttl_secs",
        ),
        ("issuers/default/tokens", r#"{"subject": 7}"#, "subject"),
        ("issuers/default/grants", r#"{"client_id": 5}"#, "client_id"),
        (
            "issuers/default/grants",
            r#"{"client_id": "app", "resources": "https://r.example"}"#,
            "resources",
        ),
        (
            "issuers/default/clients",
            r#"{"client_id": "x", "grant_types": "client_credentials"}"#,
            "grant_types",
        ),
        (
            "issuers/default/keys/rotate",
            r#"{"grace_secs": "soon"}"#,
            "grace_secs",
        ),
        (
            "issuers/default/revoke",
            r#"{"subject": ["alice"]}"#,
            "subject",
        ),
        (
            "faults",
            r#"{"endpoint": "token", "action": {"kind": "http_status", "status": "503"}}"#,
            "status",
        ),
        (
            "faults",
            r#"{"endpoint": "token", "action": {"kind": "empty_body"}, "times": "2"}"#,
            "times",
        ),
    ] {
        let (status, err) = admin_raw(base, Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {err}");
        assert_eq!(err["error"], "invalid_request");
        let d = err["error_description"].as_str().unwrap_or_default();
        if !d.contains(field) {
            unnamed.push(format!("POST {path} {body}: `{field}` not named in {d:?}"));
        }
    }
    // Still serving, nothing added.
    client_credentials(&provider.issuer_url("default").unwrap(), APP).await;
    assert!(provider.admin().faults().await.unwrap().is_empty());
    assert!(
        unnamed.is_empty(),
        "wrong-typed values refused without naming the field:\n{}",
        unnamed.join("\n")
    );
}
