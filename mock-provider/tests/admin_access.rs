//! Who reaches the admin API: the admin secret when one is configured (any
//! case of `Bearer`), nothing when the API is disabled, and a non-loopback
//! bind only with a secret or the API off.

mod support;

use mock_provider::admin::MintRequest;
use mock_provider::{AdminClient, MockProvider, ProviderConfig, StartError};
use reqwest::StatusCode;
use serde_json::Value;
use support::admin_api::assert_refused;
use support::http;

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
