//! Client ID metadata documents (MCP authorization 2025-11-25): a URL
//! client id is resolved by fetching its JSON document, which must name
//! itself and describe a public client. The documents here are served by a
//! small axum app on 127.0.0.1, so these issuers turn loopback fetches on;
//! by default the provider fetches only https from public addresses, and
//! the SSRF tests show that nothing else is even connected to.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::Router;
use axum::routing::get;
use mock_provider::IssuerPolicy;
use mock_provider::{MockProvider, ProviderConfig};
use reqwest::StatusCode;
use serde_json::json;

/// A provider whose issuers fetch documents from loopback (or not).
async fn provider(loopback: bool) -> MockProvider {
    let policy = IssuerPolicy {
        metadata_documents_loopback: loopback,
        ..IssuerPolicy::default()
    };
    MockProvider::builder()
        .issuer(support::test_issuer("default").policy(policy))
        .start()
        .await
        .unwrap()
}

/// A listener that counts the connections it accepts (and answers none):
/// what an SSRF target would see.
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((_stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr.to_string(), seen)
}

/// The authorization request a caller would send with `client_id`.
async fn authorize_as(issuer: &str, client_id: &str) -> support::AuthorizeAnswer {
    let (_, challenge) = support::pkce_pair();
    support::authorize(
        &support::http(),
        issuer,
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", support::REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await
}

/// Serves `/good.json`, `/liar.json` (names another client id) and
/// `/secret.json` (carries a client_secret); returns the base URL.
async fn serve_documents() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let good = format!("{base}/good.json");
    let secret = format!("{base}/secret.json");
    let app = Router::new()
        .route(
            "/good.json",
            get(move || async move {
                Json(json!({
                    "client_id": good,
                    "client_name": "Document client",
                    "redirect_uris": [support::REDIRECT],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "token_endpoint_auth_method": "none",
                }))
            }),
        )
        .route(
            "/liar.json",
            get(|| async {
                Json(json!({
                    "client_id": "https://someone-else.example/client.json",
                    "redirect_uris": [support::REDIRECT],
                }))
            }),
        )
        .route(
            "/secret.json",
            get(move || async move {
                Json(json!({
                    "client_id": secret,
                    "client_secret": "nope",
                    "redirect_uris": [support::REDIRECT],
                }))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
async fn url_client_id_completes_code_flow_with_pkce() {
    let provider = provider(true).await;
    let issuer = provider.issuer_url("default").unwrap();
    let docs = serve_documents().await;
    let client_id = format!("{docs}/good.json");
    let http = support::http();

    let (code, verifier) = support::authorization_code(&http, &issuer, &client_id, &[]).await;
    let token = support::post_form(
        &http,
        &issuer,
        "token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &code),
            ("redirect_uri", support::REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(token.status, StatusCode::OK, "{token:?}");
    assert!(token.body["refresh_token"].is_string());

    let metadata: serde_json::Value = http
        .get(format!(
            "{}/.well-known/oauth-authorization-server/default",
            provider.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
}

#[tokio::test]
async fn documents_that_lie_or_hold_secrets_are_refused() {
    let provider = provider(true).await;
    let issuer = provider.issuer_url("default").unwrap();
    let docs = serve_documents().await;
    for (doc, reason) in [
        ("liar.json", "must equal the URL"),
        ("secret.json", "client_secret"),
        ("missing.json", "could not be fetched"),
    ] {
        let client_id = format!("{docs}/{doc}");
        let answer = authorize_as(&issuer, &client_id).await;
        // Never redirected: the client is not trusted (RFC 6749 4.1.2.1).
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{doc}");
        assert!(answer.location.is_none(), "{doc}");
        assert!(answer.body.contains(reason), "{doc}: {}", answer.body);
    }
}

#[tokio::test]
async fn loopback_and_private_targets_are_never_fetched_by_default() {
    let provider = provider(false).await;
    let issuer = provider.issuer_url("default").unwrap();
    let (target, seen) = counting_listener().await;
    let port = target.rsplit(':').next().unwrap();
    for client_id in [
        format!("http://{target}/client.json"),
        format!("https://{target}/client.json"),
        format!("http://localhost:{port}/client.json"),
        format!("https://localhost:{port}/client.json"),
        format!("https://[::ffff:127.0.0.1]:{port}/client.json"),
        "https://169.254.169.254/latest/meta-data/iam".to_owned(),
        "https://10.0.0.1/client.json".to_owned(),
        "https://[fd00:ec2::254]/latest".to_owned(),
        "http://app.example/client.json".to_owned(),
    ] {
        let answer = authorize_as(&issuer, &client_id).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{client_id}");
        assert!(answer.location.is_none(), "{client_id}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(seen.load(Ordering::SeqCst), 0, "the provider connected");
}

#[tokio::test]
async fn the_admin_api_is_never_fetched_even_with_loopback_on() {
    let provider = provider(true).await;
    let issuer = provider.issuer_url("default").unwrap();
    let (target, seen) = counting_listener().await;
    for client_id in [
        format!("http://{target}/__admin/ledger"),
        format!("http://{target}/%5F%5Fadmin/ledger"),
        format!("{}/__admin/ledger", provider.base_url()),
        format!("{}/__ADMIN/issuers", provider.base_url()),
    ] {
        let answer = authorize_as(&issuer, &client_id).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{client_id}");
        assert!(answer.body.contains("admin API"), "{}", answer.body);
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(seen.load(Ordering::SeqCst), 0, "the provider connected");
}

#[tokio::test]
async fn fetch_failures_do_not_tell_closed_ports_from_missing_paths() {
    let provider = provider(true).await;
    let issuer = provider.issuer_url("default").unwrap();
    let docs = serve_documents().await;
    // A port nothing listens on (bound, then closed).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let missing = authorize_as(&issuer, &format!("{docs}/missing.json")).await;
    let refused = authorize_as(&issuer, &format!("http://{closed}/client.json")).await;
    let strip = |body: &str, url: &str| body.replace(url, "URL");
    assert_eq!(
        strip(&missing.body, &format!("{docs}/missing.json")),
        strip(&refused.body, &format!("http://{closed}/client.json")),
        "the two failures must read the same"
    );
    for body in [&missing.body, &refused.body] {
        assert!(!body.contains("404"), "{body}");
        assert!(!body.contains("error sending request"), "{body}");
        assert!(!body.contains("onnection"), "{body}");
    }
}

#[tokio::test]
async fn oversized_documents_are_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route("/big.json", get(|| async { "x".repeat(200 * 1024) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let provider = provider(true).await;
    let issuer = provider.issuer_url("default").unwrap();
    let answer = authorize_as(&issuer, &format!("{base}/big.json")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body.contains("could not be fetched"),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn the_fetch_policy_is_read_from_toml_and_typos_are_refused() {
    // The policy's TOML names (private fetches are proven refused by
    // default in loopback_and_private_targets_are_never_fetched_by_default).
    let config = ProviderConfig::from_toml_str(
        "port = 0\n[[issuer]]\nname = \"default\"\n[issuer.policy]\nmetadata_documents_loopback = true\nmetadata_documents_private = true\n",
    )
    .unwrap();
    assert!(config.issuers[0].policy.metadata_documents_private);
    let bad = ProviderConfig::from_toml_str(
        "[[issuer]]\nname = \"default\"\n[issuer.policy]\nmetadata_documents_privat = true\n",
    )
    .unwrap_err();
    assert!(
        bad.to_string().contains("metadata_documents_privat"),
        "{bad}"
    );
}
