//! The issuers the admin API lists (URLs, algorithm, active kid), their
//! clients (listed without secrets, created at run time, bad ones refused)
//! and their signing keys (rotated with and without a grace period).

mod support;

use mock_provider::admin::{MintRequest, RotateKeys};
use mock_provider::{AuthMethod, ClientConfig, GrantType};
use reqwest::StatusCode;
use serde_json::Value;
use support::admin_api::{assert_refused, client_credentials, introspect, jwks_kids};
use support::{
    APP, POST_APP, PUBLIC_APP, REDIRECT, REUSABLE_APP, http, jwt_header, jwt_payload, post_form,
};

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
