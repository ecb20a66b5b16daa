//! The ledger and counters the admin API reports: filters narrow the
//! ledger (bad ones are refused), it records the resources asked and the
//! audience issued (RFC 8707), and the counters tell refresh grants from reuse.

mod support;

use mock_provider::GrantType;
use mock_provider::admin::SeedGrant;
use mock_provider::faults::{Endpoint, FaultAction, FaultRule, TokenOverride};
use mock_provider::ledger::LedgerFilter;
use reqwest::StatusCode;
use serde_json::json;
use support::admin_api::{admin_raw, client_credentials, jwks_kids, refresh, token};
use support::{APP, POST_APP, RESOURCE, http, jwt_payload, post_form};

#[tokio::test]
async fn ledger_filters_narrow_and_bad_filters_are_refused() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let other = provider.issuer_url("other").unwrap();

    client_credentials(&issuer, APP).await;
    let bad = post_form(
        &http(),
        &issuer,
        "token",
        Some((APP.0, "wrong")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(bad.error(), Some("invalid_client"));
    client_credentials(&issuer, POST_APP).await;
    let seeded = admin
        .seed_grant(
            "other",
            &SeedGrant {
                client_id: APP.0.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        refresh(&other, APP, &seeded.refresh_token).await.status,
        StatusCode::OK
    );
    jwks_kids(&issuer).await;

    let all = admin.ledger(&LedgerFilter::default()).await.unwrap();
    assert_eq!(all.len(), 5, "{all:#?}");
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let q = |f: LedgerFilter| {
        let admin = admin.clone();
        async move { admin.ledger(&f).await.unwrap() }
    };

    let at_other = q(LedgerFilter {
        issuer: Some("other".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(at_other.len(), 1);
    assert_eq!(at_other[0].grant_type, Some(GrantType::RefreshToken));
    assert!(at_other[0].family.is_some());
    assert!(at_other[0].refresh_token.is_some());

    let tokens = q(LedgerFilter {
        endpoint: Some(Endpoint::Token),
        ..Default::default()
    })
    .await;
    assert_eq!(tokens.len(), 4);
    assert!(tokens.iter().all(|e| e.endpoint == Endpoint::Token));
    let jwks = q(LedgerFilter {
        endpoint: Some(Endpoint::Jwks),
        ..Default::default()
    })
    .await;
    assert_eq!(jwks.len(), 1);
    assert_eq!(jwks[0].client_id, None);

    let app = q(LedgerFilter {
        client_id: Some(APP.0.into()),
        ..Default::default()
    })
    .await;
    assert_eq!(app.len(), 3);
    assert!(app.iter().all(|e| e.client_id.as_deref() == Some(APP.0)));

    let cc = q(LedgerFilter {
        grant_type: Some(GrantType::ClientCredentials),
        ..Default::default()
    })
    .await;
    assert_eq!(cc.len(), 3);
    let cc_default_app = q(LedgerFilter {
        issuer: Some("default".into()),
        client_id: Some(APP.0.into()),
        grant_type: Some(GrantType::ClientCredentials),
        outcome: Some("ok".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(cc_default_app.len(), 1);
    assert_eq!(cc_default_app[0].status, 200);

    let refused = q(LedgerFilter {
        outcome: Some("invalid_client".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].status, 401);

    let after = q(LedgerFilter {
        after_seq: Some(all[1].seq),
        ..Default::default()
    })
    .await;
    assert_eq!(
        after.iter().map(|e| e.seq).collect::<Vec<_>>(),
        all[2..].iter().map(|e| e.seq).collect::<Vec<_>>()
    );
    let last_two = q(LedgerFilter {
        limit: Some(2),
        ..Default::default()
    })
    .await;
    assert_eq!(last_two, all[3..]);
    assert!(
        q(LedgerFilter {
            after_seq: Some(all[4].seq),
            ..Default::default()
        })
        .await
        .is_empty()
    );

    // Bad filters: 400, naming what is wrong.
    let base = provider.base_url();
    for (query, word) in [
        ("endpoint=nope", "nope"),
        ("bogus=1", "bogus"),
        ("after_seq=abc", "invalid ledger filter"),
        ("grant_type=password", "password"),
        ("limit=-1", "invalid ledger filter"),
    ] {
        let (status, body) =
            admin_raw(base, reqwest::Method::GET, &format!("ledger?{query}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "invalid_request");
        let d = body["error_description"].as_str().unwrap_or_default();
        assert!(d.contains(word), "{query}: `{word}` not in {d}");
    }
}

/// RFC 8707 in the ledger: the `resource` values a token or authorization
/// request carried (as sent, also when refused) and the `aud` of the access
/// token issued (as the token carries it, also under a `token_override`),
/// with filters on both; entries without either leave the keys out.
#[tokio::test]
async fn ledger_records_resources_asked_and_audience_issued() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let default_aud = format!("{issuer}/api");

    // client_credentials: without a resource, then with one, then a bad one.
    client_credentials(&issuer, APP).await;
    let with = token(
        &issuer,
        APP,
        &[("grant_type", "client_credentials"), ("resource", RESOURCE)],
    )
    .await;
    assert_eq!(with.status, StatusCode::OK, "{with:?}");
    let bad = token(
        &issuer,
        APP,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "mcp.example"),
        ],
    )
    .await;
    assert_eq!(bad.error(), Some("invalid_target"));
    // authorization_code: the authorization request and the token request
    // both ask for the resource; the refresh asks for nothing and keeps it.
    let tokens = support::code_flow_tokens(&http(), &issuer, &[("resource", RESOURCE)]).await;
    let refreshed = refresh(&issuer, APP, tokens.str("refresh_token")).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
    // An override that rewrites `aud`: the ledger says what the token says.
    admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::TokenOverride(TokenOverride {
                    aud: Some(json!([
                        "https://elsewhere.example",
                        "https://second.example"
                    ])),
                    ..Default::default()
                }),
            )
            .times(1),
        )
        .await
        .unwrap();
    let overridden = client_credentials(&issuer, APP).await;
    assert_eq!(
        jwt_payload(&overridden)["aud"],
        json!(["https://elsewhere.example", "https://second.example"])
    );

    let all = admin.ledger(&LedgerFilter::default()).await.unwrap();
    /// Endpoint, grant type, resources asked, audience issued.
    type Row = (Endpoint, Option<GrantType>, Vec<String>, Vec<String>);
    let shown: Vec<Row> = all
        .iter()
        .map(|e| {
            (
                e.endpoint,
                e.grant_type,
                e.resource.clone(),
                e.audience.clone(),
            )
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    use GrantType::{AuthorizationCode, ClientCredentials, RefreshToken};
    assert_eq!(
        shown,
        [
            (
                Endpoint::Token,
                Some(ClientCredentials),
                s(&[]),
                s(&[&default_aud])
            ),
            (
                Endpoint::Token,
                Some(ClientCredentials),
                s(&[RESOURCE]),
                s(&[RESOURCE])
            ),
            (
                Endpoint::Token,
                Some(ClientCredentials),
                s(&["mcp.example"]),
                s(&[])
            ),
            (Endpoint::Authorize, None, s(&[RESOURCE]), s(&[])),
            (
                Endpoint::Token,
                Some(AuthorizationCode),
                s(&[]),
                s(&[RESOURCE])
            ),
            (Endpoint::Token, Some(RefreshToken), s(&[]), s(&[RESOURCE])),
            (
                Endpoint::Token,
                Some(ClientCredentials),
                s(&[]),
                s(&["https://elsewhere.example", "https://second.example"])
            ),
        ]
    );

    let asked = admin
        .ledger(&LedgerFilter {
            resource: Some(RESOURCE.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        asked.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [all[1].seq, all[3].seq]
    );
    let for_resource = admin
        .ledger(&LedgerFilter {
            audience: Some(RESOURCE.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        for_resource.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [all[1].seq, all[4].seq, all[5].seq]
    );

    // In the JSON: arrays where there is something, no key where not.
    let (status, json) = admin_raw(
        provider.base_url(),
        reqwest::Method::GET,
        "ledger?endpoint=token&grant_type=client_credentials",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(json[0].get("resource").is_none(), "{json}");
    assert_eq!(json[0]["audience"], json!([default_aud]));
    assert_eq!(json[1]["resource"], json!([RESOURCE]));
    assert!(json[2].get("audience").is_none(), "{json}");
}

#[tokio::test]
async fn counters_tell_refresh_grants_from_reuse() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let tokens = support::code_flow_tokens(&http(), &issuer, &[]).await;
    let r1 = tokens.str("refresh_token").to_owned();
    let second = refresh(&issuer, APP, &r1).await;
    assert_eq!(second.status, StatusCode::OK);
    let r2 = second.str("refresh_token").to_owned();
    // OAuth 2.1 4.3.1: reusing a rotated refresh token is refused and revokes
    // the family, so its successor fails too.
    let reuse = refresh(&issuer, APP, &r1).await;
    assert_eq!(reuse.error(), Some("invalid_grant"));
    let after = refresh(&issuer, APP, &r2).await;
    assert_eq!(after.error(), Some("invalid_grant"));
    client_credentials(&issuer, POST_APP).await;

    let counters = admin.counters().await.unwrap();
    let app = &counters["default"][APP.0];
    assert_eq!(app.refresh_requests, 3);
    assert_eq!(app.refresh_grants, 1);
    assert_eq!(app.reuse_detected, 1);
    assert_eq!(app.invalid_grant, 2);
    assert_eq!(app.upstream_requests, 0);
    assert!(app.requests >= 4, "{app:?}");
    let post = &counters["default"][POST_APP.0];
    assert_eq!(
        (post.requests, post.refresh_requests, post.invalid_grant),
        (1, 0, 0)
    );
    assert!(!counters.contains_key("other"));
    let reused = admin
        .ledger(&LedgerFilter {
            client_id: Some(APP.0.into()),
            outcome: Some("invalid_grant".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reused.len(), 2);
    assert!(reused[0].reuse_detected && !reused[1].reuse_detected);
    assert_eq!(reused[0].family, reused[1].family);
}
