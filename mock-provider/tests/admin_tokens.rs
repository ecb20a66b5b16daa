//! Tokens made by the admin API: minted access tokens carry what was asked
//! (claims, lifetime, overrides, signing faults) and introspect accordingly;
//! seeded refresh grants work for their own client and issuer only.

mod support;

use mock_provider::admin::{MintRequest, SeedGrant};
use mock_provider::faults::{SigningFault, TokenOverride};
use mock_provider::{ClientConfig, GrantType};
use reqwest::StatusCode;
use serde_json::json;
use support::admin_api::{assert_refused, introspect, refresh};
use support::{APP, POST_APP, RESOURCE, jwt_header, jwt_payload, now};

#[tokio::test]
async fn minted_tokens_carry_what_was_asked_and_introspect_accordingly() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let api = format!("{issuer}/api");
    let kid = admin.keys("default").await.unwrap().active_kid;

    // Defaults: client `admin`, the default subject and audience, the
    // issuer's lifetime, an RFC 9068 header.
    let minted = admin
        .mint_token("default", &MintRequest::default())
        .await
        .unwrap();
    let claims = jwt_payload(&minted.access_token);
    assert_eq!(minted.claims, claims);
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], api);
    assert_eq!(claims["client_id"], "admin");
    assert_eq!(claims["scope"], "");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 3600);
    assert!(iat.abs_diff(now()) <= 5);
    let header = jwt_header(&minted.access_token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], kid);
    // RFC 7662 2.2: a live token of this issuer is active.
    let doc = introspect(&issuer, &minted.access_token).await;
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["sub"], "alice");
    assert_eq!(doc["client_id"], "admin");
    assert_eq!(doc["aud"], api);

    // Subject, scope, client and an audience string.
    let minted = admin
        .mint_token(
            "default",
            &MintRequest {
                client_id: Some("someone".into()),
                subject: Some("bob".into()),
                scope: Some("mcp:tools mcp:admin".into()),
                audience: Some(json!(RESOURCE)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let claims = jwt_payload(&minted.access_token);
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["client_id"], "someone");
    // RFC 6749 3.3: scope is a set; order carries no meaning.
    let mut scope: Vec<&str> = claims["scope"].as_str().unwrap().split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["mcp:admin", "mcp:tools"]);
    assert_eq!(claims["aud"], RESOURCE);
    let doc = introspect(&issuer, &minted.access_token).await;
    assert_eq!(doc["active"], true, "{doc}");
    assert_eq!(doc["aud"], RESOURCE);

    // An audience array stays an array (RFC 7519 4.1.3).
    let minted = admin
        .mint_token(
            "default",
            &MintRequest {
                audience: Some(json!([RESOURCE, api])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        jwt_payload(&minted.access_token)["aud"],
        json!([RESOURCE, api])
    );
    assert_eq!(
        introspect(&issuer, &minted.access_token).await["active"],
        true
    );

    // A negative lifetime: exp in the past, inactive (RFC 7662 2.2).
    let minted = admin
        .mint_token(
            "default",
            &MintRequest {
                ttl_secs: Some(-60),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let exp = jwt_payload(&minted.access_token)["exp"].as_u64().unwrap();
    assert!(exp < now(), "exp {exp} is not in the past");
    assert_eq!(
        introspect(&issuer, &minted.access_token).await,
        json!({"active": false})
    );
    // A short positive one is still active.
    let minted = admin
        .mint_token(
            "default",
            &MintRequest {
                ttl_secs: Some(120),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let c = jwt_payload(&minted.access_token);
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 120);
    assert_eq!(
        introspect(&issuer, &minted.access_token).await["active"],
        true
    );

    // Extra claims appear in the token and in introspection.
    let mut extra = serde_json::Map::new();
    extra.insert("tenant".into(), json!("acme"));
    extra.insert("roles".into(), json!(["reader", "writer"]));
    let minted = admin
        .mint_token(
            "default",
            &MintRequest {
                claims: extra,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let c = jwt_payload(&minted.access_token);
    assert_eq!(c["tenant"], "acme");
    assert_eq!(c["roles"], json!(["reader", "writer"]));
    let doc = introspect(&issuer, &minted.access_token).await;
    assert_eq!(doc["active"], true);
    assert_eq!(doc["tenant"], "acme");

    // An override: another `iss` is not this issuer's token.
    let minted = admin
        .mint_token(
            "default",
            &MintRequest {
                token_override: Some(TokenOverride {
                    iss: Some("https://evil.example".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        jwt_payload(&minted.access_token)["iss"],
        "https://evil.example"
    );
    assert_eq!(
        introspect(&issuer, &minted.access_token).await["active"],
        false
    );
    // An override removing `aud` (RFC 9068 2.2 makes it required).
    let minted = admin
        .mint_token(
            "default",
            &MintRequest {
                token_override: Some(TokenOverride {
                    remove_aud: true,
                    nbf_in_secs: Some(0),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let c = jwt_payload(&minted.access_token);
    assert!(c.get("aud").is_none(), "{c}");
    assert!(c["nbf"].as_u64().is_some(), "{c}");
    assert_eq!(
        introspect(&issuer, &minted.access_token).await["active"],
        false
    );
    // Not valid yet: outside its time window, so not active (RFC 7662 2.2).
    let minted = admin
        .mint_token(
            "default",
            &MintRequest {
                token_override: Some(TokenOverride {
                    nbf_in_secs: Some(300),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        introspect(&issuer, &minted.access_token).await,
        json!({"active": false})
    );

    // Signing faults: tokens that must not verify (RFC 8725 3.1).
    for (fault, alg) in [
        (SigningFault::BadSignature, "RS256"),
        (SigningFault::AlgNone, "none"),
        (SigningFault::Hs256WithPublicKey, "HS256"),
        (SigningFault::UnknownKid, "RS256"),
        (SigningFault::RotatedOutKey, "RS256"),
    ] {
        let minted = admin
            .mint_token(
                "default",
                &MintRequest {
                    signing_fault: Some(fault),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(jwt_header(&minted.access_token)["alg"], alg, "{fault:?}");
        assert_eq!(jwt_payload(&minted.access_token)["sub"], "alice");
        assert_eq!(
            introspect(&issuer, &minted.access_token).await,
            json!({"active": false}),
            "{fault:?}"
        );
    }

    // The other issuer signs with its own ES256 key.
    let minted = admin
        .mint_token("other", &MintRequest::default())
        .await
        .unwrap();
    assert_eq!(jwt_header(&minted.access_token)["alg"], "ES256");
    assert_eq!(
        jwt_payload(&minted.access_token)["iss"],
        provider.issuer_url("other").unwrap()
    );
    // Not a token of `default`.
    assert_eq!(
        introspect(&issuer, &minted.access_token).await["active"],
        false
    );

    // Refusals.
    assert_refused(
        admin
            .mint_token(
                "default",
                &MintRequest {
                    audience: Some(json!(42)),
                    ..Default::default()
                },
            )
            .await,
        StatusCode::BAD_REQUEST,
        &["audience"],
    );
    assert_refused(
        admin
            .mint_token(
                "default",
                &MintRequest {
                    scope: Some("bad\"scope".into()),
                    ..Default::default()
                },
            )
            .await,
        StatusCode::BAD_REQUEST,
        &["scope"],
    );
    assert_refused(
        admin.mint_token("nope", &MintRequest::default()).await,
        StatusCode::NOT_FOUND,
        &["nope"],
    );
}

#[tokio::test]
async fn seeded_grants_refresh_for_their_client_only() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();

    let seeded = admin
        .seed_grant(
            "default",
            &SeedGrant {
                client_id: APP.0.into(),
                subject: Some("bob".into()),
                scope: Some("mcp:tools".into()),
                resources: vec![RESOURCE.into()],
            },
        )
        .await
        .unwrap();
    assert_eq!(seeded.client_id, APP.0);
    assert_eq!(seeded.subject, "bob");
    assert_eq!(seeded.scope, "mcp:tools");
    assert_eq!(seeded.resources, [RESOURCE]);
    assert!(seeded.expires_at > now() + 3600);
    assert!(!seeded.refresh_token.is_empty());

    // RFC 6749 6: bound to the client it was issued to; another client's
    // attempt fails and does not consume it.
    let stolen = refresh(&issuer, POST_APP, &seeded.refresh_token).await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST, "{stolen:?}");
    assert_eq!(stolen.error(), Some("invalid_grant"));

    let answer = refresh(&issuer, APP, &seeded.refresh_token).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let claims = jwt_payload(answer.str("access_token"));
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["aud"], RESOURCE); // RFC 8707: resources become aud
    assert_eq!(claims["client_id"], APP.0);
    assert_eq!(claims["scope"], "mcp:tools");
    assert_eq!(answer.str("scope"), "mcp:tools");
    let rotated = answer.str("refresh_token");
    assert_ne!(rotated, seeded.refresh_token, "single_use rotates");
    let again = refresh(&issuer, APP, rotated).await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");

    // Defaults: the default subject, the default audience, the client's scope.
    let seeded = admin
        .seed_grant(
            "default",
            &SeedGrant {
                client_id: POST_APP.0.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(seeded.subject, "alice");
    assert!(seeded.resources.is_empty());
    let answer = refresh(&issuer, POST_APP, &seeded.refresh_token).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let claims = jwt_payload(answer.str("access_token"));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], format!("{issuer}/api"));
    assert_eq!(claims["scope"], seeded.scope);

    // Refusals naming the field.
    admin
        .create_client(
            "default",
            &ClientConfig::confidential("m2m", "m2m-secret")
                .grant_types([GrantType::ClientCredentials]),
        )
        .await
        .unwrap();
    for (request, words) in [
        (
            SeedGrant {
                client_id: "ghost".into(),
                ..Default::default()
            },
            &["client_id", "ghost"][..],
        ),
        (
            SeedGrant {
                client_id: "m2m".into(),
                ..Default::default()
            },
            &["client_id", "refresh_token"][..],
        ),
        (
            SeedGrant {
                client_id: APP.0.into(),
                scope: Some("mcp:everything".into()),
                ..Default::default()
            },
            &["scope"][..],
        ),
        (
            SeedGrant {
                client_id: APP.0.into(),
                resources: vec!["not a uri".into()],
                ..Default::default()
            },
            &["resources"][..],
        ),
    ] {
        let body = assert_refused(
            admin.seed_grant("default", &request).await,
            StatusCode::BAD_REQUEST,
            words,
        );
        assert_eq!(body["error"], "invalid_request");
    }
    // A seed at one issuer is not a grant at another.
    let at_other = refresh(
        &provider.issuer_url("other").unwrap(),
        APP,
        &admin
            .seed_grant(
                "default",
                &SeedGrant {
                    client_id: APP.0.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .refresh_token,
    )
    .await;
    assert_eq!(at_other.status, StatusCode::BAD_REQUEST);
    assert_eq!(at_other.error(), Some("invalid_grant"));
}
