//! The admin API under `/__admin/`, driven through the typed `AdminClient`
//! over real sockets: issuers, clients, minted tokens, seeded grants, keys,
//! revocation, early expiry, faults, the ledger and its counters, reset,
//! refusals of bad requests, and the guard (secret, disabled, non-loopback).

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use mock_provider::admin::{MintRequest, RevokeRequest, RotateKeys, SeedGrant};
use mock_provider::faults::{Endpoint, FaultAction, FaultRule, SigningFault, TokenOverride};
use mock_provider::ledger::LedgerFilter;
use mock_provider::{
    AdminClient, AdminError, AuthMethod, ClientConfig, GrantType, MockProvider, ProviderConfig,
    StartError,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{
    APP, POST_APP, PUBLIC_APP, REDIRECT, RESOURCE, REUSABLE_APP, http, jwt_payload, post_form,
};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The status and JSON body of an admin refusal.
fn refusal<T: std::fmt::Debug>(result: Result<T, AdminError>) -> (StatusCode, Value) {
    match result {
        Err(AdminError::Refused { status, body, .. }) => (
            status,
            serde_json::from_str(&body)
                .unwrap_or_else(|_| panic!("refusal body is not JSON: {body}")),
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Asserts a refusal with `status` whose JSON `error_description` mentions
/// every one of `words`.
fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, AdminError>,
    status: StatusCode,
    words: &[&str],
) -> Value {
    let (got, body) = refusal(result);
    assert_eq!(got, status, "{body}");
    assert!(body["error"].is_string(), "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    for w in words {
        assert!(
            description.contains(w),
            "`{w}` not named in {description:?}"
        );
    }
    body
}

/// A raw admin request (for bodies the typed client cannot send).
async fn admin_raw(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = http().request(method, format!("{base}/__admin/{path}"));
    // The admin guard wants every POST declared JSON, body or not.
    req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
    if let Some(b) = body {
        req = req.body(b.to_owned());
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn introspect(issuer: &str, token: &str) -> Value {
    let a = post_form(
        &http(),
        issuer,
        "introspect",
        Some(APP),
        &[("token", token)],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    a.body
}

/// A token request authenticated as `client` the way it is registered:
/// `client_secret_post` for `POST_APP`, HTTP Basic otherwise (RFC 6749 2.3.1).
async fn token(issuer: &str, client: (&str, &str), form: &[(&str, &str)]) -> support::JsonAnswer {
    if client.0 == POST_APP.0 {
        let mut form = form.to_vec();
        form.extend([("client_id", client.0), ("client_secret", client.1)]);
        post_form(&http(), issuer, "token", None, &form).await
    } else {
        post_form(&http(), issuer, "token", Some(client), form).await
    }
}

async fn client_credentials(issuer: &str, client: (&str, &str)) -> String {
    let a = token(issuer, client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    a.str("access_token").to_owned()
}

async fn refresh(issuer: &str, client: (&str, &str), refresh_token: &str) -> support::JsonAnswer {
    token(
        issuer,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

fn jwt_header(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h)
            .unwrap(),
    )
    .unwrap()
}

async fn jwks_kids(issuer: &str) -> Vec<String> {
    let jwks: Value = http()
        .get(format!("{issuer}/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn issuers_lists_urls_algorithm_and_active_kid() {
    let provider = support::start_provider().await;
    let issuers = provider.admin().issuers().await.unwrap();
    let names: Vec<&str> = issuers.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["default", "other"]);
    for (info, alg) in issuers.iter().zip(["RS256", "ES256"]) {
        let url = provider.issuer_url(&info.name).unwrap();
        assert_eq!(info.issuer, url);
        assert_eq!(
            info.metadata_url,
            format!(
                "{}/.well-known/oauth-authorization-server/{}",
                provider.base_url(),
                info.name
            )
        );
        assert_eq!(info.token_endpoint, format!("{url}/token"));
        assert_eq!(info.jwks_uri, format!("{url}/jwks"));
        assert_eq!(info.upstream_api, format!("{url}/api"));
        assert_eq!(info.signing_algorithm, alg);
        // The kid listed is the one the JWKS publishes (RFC 7517 4.5).
        assert_eq!(jwks_kids(&url).await, [info.active_kid.as_str()]);
        // And the metadata document agrees on the endpoints (RFC 8414 2).
        let metadata: Value = http()
            .get(&info.metadata_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(metadata["issuer"], info.issuer);
        assert_eq!(metadata["token_endpoint"], info.token_endpoint);
        assert_eq!(metadata["jwks_uri"], info.jwks_uri);
    }
}

#[tokio::test]
async fn clients_lists_configured_clients_without_their_secrets() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let clients = admin.clients("default").await.unwrap();
    let ids: Vec<&str> = clients.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(
        ids,
        ["app", "grace-app", "post-app", "public-app", "reusable-app"]
    );
    let app = clients.iter().find(|c| c.client_id == APP.0).unwrap();
    assert!(app.has_secret);
    assert_eq!(app.token_endpoint_auth_method, "client_secret_basic");
    assert_eq!(app.origin, "configured");
    assert_eq!(app.redirect_uris, [REDIRECT]);
    assert_eq!(app.refresh_policy, "single_use");
    let public = clients.iter().find(|c| c.client_id == PUBLIC_APP).unwrap();
    assert!(!public.has_secret);
    assert_eq!(public.token_endpoint_auth_method, "none");
    let post = clients.iter().find(|c| c.client_id == POST_APP.0).unwrap();
    assert_eq!(post.token_endpoint_auth_method, "client_secret_post");
    let raw = serde_json::to_string(&clients).unwrap();
    for secret in [APP.1, POST_APP.1, REUSABLE_APP.1] {
        assert!(!raw.contains(secret), "a secret is listed: {raw}");
    }
    assert_refused(
        admin.clients("nope").await,
        StatusCode::NOT_FOUND,
        &["nope"],
    );
}

#[tokio::test]
async fn created_clients_complete_their_flows_and_bad_ones_are_refused() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();

    // A machine client: client_credentials (RFC 6749 4.4).
    let svc = admin
        .create_client(
            "default",
            &ClientConfig::confidential("svc", "svc-secret")
                .grant_types([GrantType::ClientCredentials])
                .scope("mcp:tools"),
        )
        .await
        .unwrap();
    assert_eq!(svc.client_id, "svc");
    assert!(svc.has_secret);
    assert_eq!(svc.grant_types, [GrantType::ClientCredentials]);
    assert_eq!(svc.scope.as_deref(), Some("mcp:tools"));
    let token = client_credentials(&issuer, ("svc", "svc-secret")).await;
    let claims = jwt_payload(&token);
    assert_eq!(claims["client_id"], "svc");
    assert_eq!(claims["sub"], "svc"); // RFC 9068 2.2: no user, sub = client
    assert_eq!(claims["scope"], "mcp:tools");

    // A web client: code + PKCE, then refresh.
    admin
        .create_client(
            "default",
            &ClientConfig::confidential("web", "web-secret")
                .redirect_uri(REDIRECT)
                .auth_method(AuthMethod::ClientSecretPost),
        )
        .await
        .unwrap();
    let (code, verifier) =
        support::authorization_code(&http(), &issuer, "web", &[("scope", "mcp:tools")]).await;
    let tokens = post_form(
        &http(),
        &issuer,
        "token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", "web"),
            ("client_secret", "web-secret"),
        ],
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{tokens:?}");
    assert_eq!(jwt_payload(tokens.str("access_token"))["client_id"], "web");
    let refreshed = post_form(
        &http(),
        &issuer,
        "token",
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.str("refresh_token")),
            ("client_id", "web"),
            ("client_secret", "web-secret"),
        ],
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");

    let ids: Vec<String> = admin
        .clients("default")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert!(ids.contains(&"svc".to_owned()) && ids.contains(&"web".to_owned()));

    // The same id twice, or a configured client's id: 409.
    assert_refused(
        admin
            .create_client(
                "default",
                &ClientConfig::confidential("svc", "x").grant_types([GrantType::ClientCredentials]),
            )
            .await,
        StatusCode::CONFLICT,
        &["svc"],
    );
    assert_refused(
        admin
            .create_client(
                "default",
                &ClientConfig::confidential(APP.0, "x").redirect_uri(REDIRECT),
            )
            .await,
        StatusCode::CONFLICT,
        &["app"],
    );
    // The original secret of `svc` still works: the refused create changed nothing.
    client_credentials(&issuer, ("svc", "svc-secret")).await;

    // Invalid configurations: 400 naming the field.
    let cases = [
        (
            ClientConfig::public("no-secret")
                .auth_method(AuthMethod::ClientSecretBasic)
                .grant_types([GrantType::ClientCredentials]),
            "client_secret",
        ),
        (
            ClientConfig::public("pub-cc").grant_types([GrantType::ClientCredentials]),
            "grant_types",
        ),
        (
            ClientConfig::public("bad-redirect").redirect_uri("http://evil.example/cb"),
            "redirect_uris[0]",
        ),
        (ClientConfig::public("no-redirect"), "redirect_uris"),
        (
            ClientConfig::confidential("bad-scope", "s")
                .grant_types([GrantType::ClientCredentials])
                .scope("mcp:everything"),
            "scope",
        ),
        (
            ClientConfig::confidential("", "s").grant_types([GrantType::ClientCredentials]),
            "client_id",
        ),
    ];
    for (config, field) in cases {
        let body = assert_refused(
            admin.create_client("default", &config).await,
            StatusCode::BAD_REQUEST,
            &[field],
        );
        assert_eq!(body["error"], "invalid_request");
    }
    assert_refused(
        admin
            .create_client("nope", &ClientConfig::confidential("z", "z"))
            .await,
        StatusCode::NOT_FOUND,
        &["nope"],
    );
}

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

#[tokio::test]
async fn keys_rotate_with_and_without_grace() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let initial = admin.keys("default").await.unwrap();
    assert_eq!(initial.published_kids, [initial.active_kid.as_str()]);
    let before = admin
        .mint_token("default", &MintRequest::default())
        .await
        .unwrap()
        .access_token;

    // With a grace period the old key stays published: old tokens verify.
    let graced = admin
        .rotate_keys("default", &RotateKeys::with_grace(300))
        .await
        .unwrap();
    assert_ne!(graced.active_kid, initial.active_kid);
    assert_eq!(
        graced.published_kids,
        [graced.active_kid.clone(), initial.active_kid.clone()]
    );
    assert_eq!(jwks_kids(&issuer).await, graced.published_kids);
    assert_eq!(admin.keys("default").await.unwrap(), graced);
    assert_eq!(introspect(&issuer, &before).await["active"], true);
    let after = admin
        .mint_token("default", &MintRequest::default())
        .await
        .unwrap()
        .access_token;
    assert_eq!(jwt_header(&after)["kid"], graced.active_kid);

    // Without one it leaves the JWKS at once: its tokens stop verifying.
    let abrupt = admin
        .rotate_keys("default", &RotateKeys::default())
        .await
        .unwrap();
    assert_ne!(abrupt.active_kid, graced.active_kid);
    assert!(!abrupt.published_kids.contains(&graced.active_kid));
    assert_eq!(jwks_kids(&issuer).await, abrupt.published_kids);
    assert_eq!(introspect(&issuer, &after).await["active"], false);
    let token = client_credentials(&issuer, APP).await;
    assert_eq!(jwt_header(&token)["kid"], abrupt.active_kid);
    assert_eq!(introspect(&issuer, &token).await["active"], true);

    // The other issuer's keys did not move.
    let other = admin.keys("other").await.unwrap();
    assert_eq!(other.published_kids.len(), 1);
    assert_refused(admin.keys("nope").await, StatusCode::NOT_FOUND, &["nope"]);
    assert_refused(
        admin.rotate_keys("nope", &RotateKeys::default()).await,
        StatusCode::NOT_FOUND,
        &["nope"],
    );
}

#[tokio::test]
async fn revoke_by_token_subject_or_client() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();

    // An access token: only it stops working.
    let access = client_credentials(&issuer, APP).await;
    let other_access = client_credentials(&issuer, APP).await;
    let out = admin
        .revoke(
            "default",
            &RevokeRequest {
                token: Some(access.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(out.access_token_revoked);
    assert_eq!(out.families_revoked, 0);
    assert_eq!(introspect(&issuer, &access).await["active"], false);
    assert_eq!(introspect(&issuer, &other_access).await["active"], true);

    // A refresh token: its family goes, access tokens included (RFC 7009 2.1).
    let tokens = support::code_flow_tokens(&http(), &issuer, &[]).await;
    let (rt, at) = (tokens.str("refresh_token"), tokens.str("access_token"));
    assert_eq!(introspect(&issuer, rt).await["active"], true);
    let out = admin
        .revoke(
            "default",
            &RevokeRequest {
                token: Some(rt.to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.families_revoked, 1);
    assert!(!out.access_token_revoked);
    let answer = refresh(&issuer, APP, rt).await;
    assert_eq!(answer.error(), Some("invalid_grant"), "{answer:?}");
    assert_eq!(introspect(&issuer, rt).await["active"], false);
    assert_eq!(introspect(&issuer, at).await["active"], false);

    // Not a token of this issuer: 404.
    assert_refused(
        admin
            .revoke(
                "default",
                &RevokeRequest {
                    token: Some("not-a-token".into()),
                    ..Default::default()
                },
            )
            .await,
        StatusCode::NOT_FOUND,
        &["token"],
    );

    // By subject: every grant and access token of that user.
    let seed = |client: &str, subject: &str| SeedGrant {
        client_id: client.into(),
        subject: Some(subject.into()),
        ..Default::default()
    };
    let carol_app = admin
        .seed_grant("default", &seed(APP.0, "carol"))
        .await
        .unwrap();
    let carol_post = admin
        .seed_grant("default", &seed(POST_APP.0, "carol"))
        .await
        .unwrap();
    let dave = admin
        .seed_grant("default", &seed(APP.0, "dave"))
        .await
        .unwrap();
    let carol_minted = admin
        .mint_token(
            "default",
            &MintRequest {
                subject: Some("carol".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .access_token;
    let out = admin
        .revoke(
            "default",
            &RevokeRequest {
                subject: Some("carol".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.families_revoked, 2);
    assert_eq!(
        refresh(&issuer, APP, &carol_app.refresh_token)
            .await
            .error(),
        Some("invalid_grant")
    );
    assert_eq!(
        refresh(&issuer, POST_APP, &carol_post.refresh_token)
            .await
            .error(),
        Some("invalid_grant")
    );
    assert_eq!(introspect(&issuer, &carol_minted).await["active"], false);
    let dave_answer = refresh(&issuer, APP, &dave.refresh_token).await;
    assert_eq!(dave_answer.status, StatusCode::OK, "{dave_answer:?}");

    // By client: every grant and access token of that client, no other's.
    let post_grant = admin
        .seed_grant("default", &seed(POST_APP.0, "erin"))
        .await
        .unwrap();
    let app_grant = admin
        .seed_grant("default", &seed(APP.0, "erin"))
        .await
        .unwrap();
    let post_access = client_credentials(&issuer, POST_APP).await;
    let app_access = client_credentials(&issuer, APP).await;
    let out = admin
        .revoke(
            "default",
            &RevokeRequest {
                client_id: Some(POST_APP.0.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.families_revoked, 1);
    assert_eq!(introspect(&issuer, &post_access).await["active"], false);
    assert_eq!(introspect(&issuer, &app_access).await["active"], true);
    assert_eq!(
        introspect(&issuer, &post_grant.refresh_token).await["active"],
        false
    );
    assert_eq!(
        refresh(&issuer, APP, &app_grant.refresh_token).await.status,
        StatusCode::OK
    );

    // Exactly one of token, subject, client_id.
    for request in [
        RevokeRequest::default(),
        RevokeRequest {
            token: Some(app_access.clone()),
            subject: Some("erin".into()),
            client_id: None,
        },
        RevokeRequest {
            token: None,
            subject: Some("erin".into()),
            client_id: Some(APP.0.into()),
        },
    ] {
        assert_refused(
            admin.revoke("default", &request).await,
            StatusCode::BAD_REQUEST,
            &["exactly one"],
        );
    }
    // The refused requests revoked nothing.
    assert_eq!(introspect(&issuer, &app_access).await["active"], true);
}

#[tokio::test]
async fn expire_access_tokens_leaves_refresh_tokens_working() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let api = format!("{issuer}/api/me");
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
    let first = refresh(&issuer, APP, &seeded.refresh_token).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let user_token = first.str("access_token").to_owned();
    let rt = first.str("refresh_token").to_owned();
    let machine_token = client_credentials(&issuer, APP).await;
    let bystander = client_credentials(&issuer, POST_APP).await;
    let upstream = |token: String| {
        let api = api.clone();
        async move {
            http()
                .get(&api)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(upstream(user_token.clone()).await, StatusCode::OK);

    let expired = admin.expire_access_tokens("default", APP.0).await.unwrap();
    assert_eq!(expired, 2);
    for token in [&user_token, &machine_token] {
        assert_eq!(introspect(&issuer, token).await, json!({"active": false}));
        assert_eq!(upstream(token.clone()).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(introspect(&issuer, &bystander).await["active"], true);
    assert_eq!(upstream(bystander).await, StatusCode::OK);

    // The refresh token still works and its new access token is live.
    assert_eq!(introspect(&issuer, &rt).await["active"], true);
    let next = refresh(&issuer, APP, &rt).await;
    assert_eq!(next.status, StatusCode::OK, "{next:?}");
    let fresh = next.str("access_token").to_owned();
    assert_eq!(introspect(&issuer, &fresh).await["active"], true);
    assert_eq!(upstream(fresh).await, StatusCode::OK);
    // Nothing live left to expire for a client without tokens.
    assert_eq!(
        admin
            .expire_access_tokens("default", "nobody")
            .await
            .unwrap(),
        0
    );
}

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

#[tokio::test]
async fn reset_returns_to_the_state_at_start() {
    let mut config = ProviderConfig {
        issuers: vec![support::test_issuer("default")],
        ..Default::default()
    };
    let config_fault = FaultRule::new(
        Endpoint::Introspect,
        FaultAction::Latency {
            millis: 1,
            jitter_millis: 0,
        },
    );
    config.faults.push(config_fault.clone());
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let initial_keys = admin.keys("default").await.unwrap();
    let configured: Vec<String> = admin
        .clients("default")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(admin.faults().await.unwrap().len(), 1);

    // Change everything.
    admin
        .add_fault(&FaultRule::new(Endpoint::Jwks, FaultAction::EmptyBody))
        .await
        .unwrap();
    admin
        .create_client(
            "default",
            &ClientConfig::confidential("extra", "extra-secret")
                .grant_types([GrantType::ClientCredentials]),
        )
        .await
        .unwrap();
    let registered = http()
        .post(format!("{issuer}/register"))
        .json(&json!({"grant_types": ["client_credentials"], "client_name": "dcr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let registered: Value = registered.json().await.unwrap();
    let dcr_id = registered["client_id"].as_str().unwrap().to_owned();
    let dcr_secret = registered["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        admin.clients("default").await.unwrap().len(),
        configured.len() + 2
    );
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
    assert_eq!(
        introspect(&issuer, &seeded.refresh_token).await["active"],
        true
    );
    admin
        .rotate_keys("default", &RotateKeys::with_grace(60))
        .await
        .unwrap();
    assert!(
        !admin
            .ledger(&LedgerFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    admin.reset().await.unwrap();

    // The ledger is empty (admin calls are not recorded).
    assert!(
        admin
            .ledger(&LedgerFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(admin.counters().await.unwrap().is_empty());
    // Faults: the configuration's, no others.
    let faults = admin.faults().await.unwrap();
    assert_eq!(faults.len(), 1);
    assert_eq!(
        FaultRule {
            id: 0,
            ..faults[0].clone()
        },
        config_fault
    );
    // Keys: the initial one, alone.
    assert_eq!(admin.keys("default").await.unwrap(), initial_keys);
    assert_eq!(jwks_kids(&issuer).await, initial_keys.published_kids);
    // Clients: configured ones kept, created and registered ones gone.
    let after: Vec<String> = admin
        .clients("default")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(after, configured);
    for (id, secret) in [
        ("extra", "extra-secret"),
        (dcr_id.as_str(), dcr_secret.as_str()),
    ] {
        let a = post_form(
            &http(),
            &issuer,
            "token",
            Some((id, secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(a.error(), Some("invalid_client"), "{id}: {a:?}");
    }
    // Grants: gone.
    let answer = refresh(&issuer, APP, &seeded.refresh_token).await;
    assert_eq!(answer.error(), Some("invalid_grant"), "{answer:?}");
    // And the provider works as at start.
    let token = client_credentials(&issuer, APP).await;
    assert_eq!(jwt_header(&token)["kid"], initial_keys.active_kid);
}

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

const ADMIN_SECRET_CONFIG: &str = r#"
[admin]
secret = "s3cret"
"#;

#[tokio::test]
async fn admin_secret_is_required_when_configured() {
    let config = ProviderConfig::from_toml_str(ADMIN_SECRET_CONFIG).unwrap();
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let url = format!("{}/__admin/issuers", provider.base_url());
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer "),
        Some("Basic czNjcmV0"),
    ] {
        let mut req = http().get(&url);
        if let Some(a) = auth {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized", "{auth:?}");
    }
    // Every admin endpoint is guarded, not only the listing.
    let r = http()
        .post(format!("{}/__admin/reset", provider.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http().get(&url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The provider's own client carries the secret; a bare one does not.
    let issuers = provider.admin().issuers().await.unwrap();
    assert_eq!(issuers.len(), 1);
    provider
        .admin()
        .mint_token("default", &MintRequest::default())
        .await
        .unwrap();
    assert_refused(
        AdminClient::new(provider.base_url()).issuers().await,
        StatusCode::UNAUTHORIZED,
        &["Bearer"],
    );
    assert_refused(
        AdminClient::new(provider.base_url())
            .with_secret(mock_provider::Secret::new("s3cret-not"))
            .issuers()
            .await,
        StatusCode::UNAUTHORIZED,
        &[],
    );
    // The OAuth endpoints are not behind the admin secret.
    let metadata = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server/default",
            provider.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.status(), StatusCode::OK);
}

#[tokio::test]
async fn admin_bearer_scheme_is_case_insensitive() {
    // RFC 7235 2.1 / RFC 6750 2.1: the auth-scheme is case-insensitive.
    let config = ProviderConfig::from_toml_str(ADMIN_SECRET_CONFIG).unwrap();
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    for scheme in ["bearer", "BEARER"] {
        let r = http()
            .get(format!("{}/__admin/issuers", provider.base_url()))
            .header(reqwest::header::AUTHORIZATION, format!("{scheme} s3cret"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "scheme `{scheme}`");
    }
}

#[tokio::test]
async fn disabled_admin_api_is_not_served() {
    let config = ProviderConfig::from_toml_str("[admin]\nenabled = false\n").unwrap();
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let r = http()
        .get(format!("{}/__admin/issuers", provider.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_refused(provider.admin().reset().await, StatusCode::NOT_FOUND, &[]);
    // The OAuth side works as ever.
    let r = http()
        .get(format!("{}/default/jwks", provider.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn non_loopback_bind_needs_an_admin_secret() {
    let any: std::net::SocketAddr = "0.0.0.0:0".parse().unwrap();
    let err = MockProvider::builder().bind(any).start().await.unwrap_err();
    assert!(matches!(err, StartError::Config(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("admin.secret"), "{message}");

    // With a secret, or with the admin API off, it starts.
    let config = ProviderConfig::from_toml_str(ADMIN_SECRET_CONFIG).unwrap();
    let provider = MockProvider::builder()
        .config(config)
        .bind(any)
        .start()
        .await
        .unwrap();
    assert!(provider.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(provider.admin().issuers().await.unwrap().len(), 1);
    let config = ProviderConfig::from_toml_str("[admin]\nenabled = false\n").unwrap();
    MockProvider::builder()
        .config(config)
        .bind(any)
        .start()
        .await
        .unwrap();
}
