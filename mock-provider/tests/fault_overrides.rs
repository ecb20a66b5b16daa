//! `token_override` faults change the issued access token's claims and the
//! token response field by field, or leave out the refresh token.

mod support;

use mock_provider::GrantType;
use mock_provider::faults::{Endpoint, FaultAction, FaultRule, TokenOverride};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::fault_fixture::{
    Fixture, assert_last, client_credentials, fixture, refresh, seed, token_filter,
};
use support::{APP, JsonAnswer, now};

/// Adds a one-shot override, runs a client_credentials grant and returns
/// the token response and the access token's payload, having checked the
/// ledger entry.
async fn overridden(f: &Fixture, o: TokenOverride, scope: Option<&str>) -> (JsonAnswer, Value) {
    let id = f
        .add_fault(FaultRule::new(Endpoint::Token, FaultAction::TokenOverride(o)).times(1))
        .await;
    let a = client_credentials(f, &f.issuer, scope).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_last(
        &f.admin,
        token_filter(),
        &[&format!("token_override#{id}")],
        "ok",
        200,
    )
    .await;
    let payload = support::jwt_payload(a.str("access_token"));
    (a, payload)
}

/// Token overrides change the access token's claims (RFC 9068 2.2, RFC
/// 7519 4.1) and the token response (RFC 6749 5.1) exactly as asked.
#[tokio::test]
async fn token_override_changes_each_field() {
    let f = fixture().await;
    let default_aud = format!("{}/api", f.issuer);
    let honest = client_credentials(&f, &f.issuer, None).await;
    let honest_payload = support::jwt_payload(honest.str("access_token"));
    assert_eq!(honest_payload["aud"], default_aud.as_str());
    assert_eq!(honest.body["expires_in"], 3600);

    // aud: a string.
    let (_, p) = overridden(
        &f,
        TokenOverride {
            aud: Some(json!("https://elsewhere.example/api")),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["aud"], "https://elsewhere.example/api");
    // aud: an array.
    let (_, p) = overridden(
        &f,
        TokenOverride {
            aud: Some(json!(["https://a.example", "https://b.example"])),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["aud"], json!(["https://a.example", "https://b.example"]));
    // remove_aud.
    let (_, p) = overridden(
        &f,
        TokenOverride {
            remove_aud: true,
            ..Default::default()
        },
        None,
    )
    .await;
    assert!(p.get("aud").is_none(), "{p}");
    // iss.
    let (_, p) = overridden(
        &f,
        TokenOverride {
            iss: Some("https://evil.example".into()),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["iss"], "https://evil.example");
    // ttl_secs negative: already expired, expires_in 0.
    let (a, p) = overridden(
        &f,
        TokenOverride {
            ttl_secs: Some(-60),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["exp"].as_u64().unwrap() + 60, p["iat"].as_u64().unwrap());
    assert!(p["exp"].as_u64().unwrap() < now(), "exp in the past: {p}");
    assert_eq!(a.body["expires_in"], 0);
    // ttl_secs short.
    let (a, p) = overridden(
        &f,
        TokenOverride {
            ttl_secs: Some(5),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["exp"].as_u64().unwrap(), p["iat"].as_u64().unwrap() + 5);
    assert_eq!(a.body["expires_in"], 5);
    // nbf_in_secs.
    let (_, p) = overridden(
        &f,
        TokenOverride {
            nbf_in_secs: Some(300),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["nbf"].as_u64().unwrap(), p["iat"].as_u64().unwrap() + 300);
    // iat_in_secs: iat moves, exp stays (issued now with the 3600 s ttl).
    let (_, p) = overridden(
        &f,
        TokenOverride {
            iat_in_secs: Some(600),
            ..Default::default()
        },
        None,
    )
    .await;
    let issued = p["exp"].as_u64().unwrap() - 3600;
    assert_eq!(p["iat"].as_u64().unwrap(), issued + 600);
    assert!(
        p["iat"].as_u64().unwrap() > now() + 500,
        "iat in the future"
    );
    // scope: fewer than asked, in the claim and the response.
    let (a, p) = overridden(
        &f,
        TokenOverride {
            scope: Some("mcp:tools".into()),
            ..Default::default()
        },
        Some("mcp:tools mcp:admin"),
    )
    .await;
    assert_eq!(p["scope"], "mcp:tools");
    assert_eq!(a.body["scope"], "mcp:tools");
    // no_expires_in.
    let (a, p) = overridden(
        &f,
        TokenOverride {
            no_expires_in: true,
            ..Default::default()
        },
        None,
    )
    .await;
    assert!(a.body.get("expires_in").is_none(), "{:?}", a.body);
    assert!(p["exp"].is_u64(), "the JWT still expires");
    // token_type.
    let (a, _) = overridden(
        &f,
        TokenOverride {
            token_type: Some("mac".into()),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(a.body["token_type"], "mac");
    // extra_claims: added, and a registered one replaced.
    let mut extra = serde_json::Map::new();
    extra.insert("tenant".into(), json!("acme"));
    extra.insert("roles".into(), json!(["reader"]));
    extra.insert("sub".into(), json!("mallory"));
    let (_, p) = overridden(
        &f,
        TokenOverride {
            extra_claims: extra,
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["tenant"], "acme");
    assert_eq!(p["roles"], json!(["reader"]));
    assert_eq!(p["sub"], "mallory");

    // Every rule was one-shot: the next token is honest again.
    let after = client_credentials(&f, &f.issuer, None).await;
    let p = support::jwt_payload(after.str("access_token"));
    assert_eq!(p["aud"], default_aud.as_str());
    assert_eq!(after.body["token_type"], "Bearer");
}

/// `no_refresh_token`: the refresh grant answers without a refresh token
/// and nothing rotated, so the client keeps using the one it has (RFC 6749
/// 6: the server MAY issue a new refresh token).
#[tokio::test]
async fn no_refresh_token_leaves_the_old_refresh_token_working() {
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    let id = f
        .add_fault(
            FaultRule::new(
                Endpoint::Token,
                FaultAction::TokenOverride(TokenOverride {
                    no_refresh_token: true,
                    ..Default::default()
                }),
            )
            .grant_type(GrantType::RefreshToken)
            .times(1),
        )
        .await;
    let a = refresh(&f, &grant.refresh_token).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert!(a.body.get("refresh_token").is_none(), "{:?}", a.body);
    assert!(a.body["access_token"].is_string());
    let e = assert_last(
        &f.admin,
        token_filter(),
        &[&format!("token_override#{id}")],
        "ok",
        200,
    )
    .await;
    assert_eq!(e.issued_refresh_token, None);

    let again = refresh(&f, &grant.refresh_token).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "not rotated, not reused: {again:?}"
    );
    assert_ne!(again.str("refresh_token"), grant.refresh_token);
    let e = assert_last(&f.admin, token_filter(), &[], "ok", 200).await;
    assert!(!e.reuse_detected);
}
