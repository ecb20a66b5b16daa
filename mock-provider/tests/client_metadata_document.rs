//! Client ID metadata documents (MCP authorization 2025-11-25): a URL
//! client id is resolved by fetching its JSON document, which must name
//! itself and describe a public client. The documents here are served by a
//! small axum app on 127.0.0.1.

mod support;

use axum::Json;
use axum::Router;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::json;

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
    let provider = support::start_provider().await;
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
    let provider = support::start_provider().await;
    let issuer = provider.issuer_url("default").unwrap();
    let docs = serve_documents().await;
    let http = support::http();
    let (_, challenge) = support::pkce_pair();
    for (doc, reason) in [
        ("liar.json", "must equal the URL"),
        ("secret.json", "client_secret"),
        ("missing.json", "status 404"),
    ] {
        let client_id = format!("{docs}/{doc}");
        let answer = support::authorize(
            &http,
            &issuer,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", support::REDIRECT),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        // Never redirected: the client is not trusted (RFC 6749 4.1.2.1).
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{doc}");
        assert!(answer.location.is_none(), "{doc}");
        assert!(answer.body.contains(reason), "{doc}: {}", answer.body);
    }
}
