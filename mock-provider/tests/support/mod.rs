//! What the integration tests share: a provider with a known set of
//! clients, a real HTTP client that does not follow redirects, PKCE pairs,
//! and one-call versions of the authorization and token requests.
#![allow(dead_code)]

pub mod admin_api;
pub mod fault_fixture;
pub mod provider_binary;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use mock_provider::{ClientConfig, GrantType, IssuerConfig, MockProvider, RefreshPolicy};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

pub const REDIRECT: &str = "http://127.0.0.1:8765/callback";
/// A confidential client_secret_basic client with every grant.
pub const APP: (&str, &str) = ("app", "app-secret");
/// A confidential client_secret_post client.
pub const POST_APP: (&str, &str) = ("post-app", "post-secret");
/// A public client (PKCE only).
pub const PUBLIC_APP: &str = "public-app";
/// A client whose refresh tokens are reusable.
pub const REUSABLE_APP: (&str, &str) = ("reusable-app", "reusable-secret");
/// A client with a 2 s grace period.
pub const GRACE_APP: (&str, &str) = ("grace-app", "grace-secret");
pub const RESOURCE: &str = "http://127.0.0.1:9999/mcp";

/// The issuer configuration the tests use.
pub fn test_issuer(name: &str) -> IssuerConfig {
    let all = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];
    IssuerConfig::new(name)
        .client(
            ClientConfig::confidential(APP.0, APP.1)
                .redirect_uri(REDIRECT)
                .grant_types(all),
        )
        .client(
            ClientConfig::confidential(POST_APP.0, POST_APP.1)
                .auth_method(mock_provider::AuthMethod::ClientSecretPost)
                .redirect_uri(REDIRECT)
                .grant_types(all),
        )
        .client(ClientConfig::public(PUBLIC_APP).redirect_uri(REDIRECT))
        .client(
            ClientConfig::confidential(REUSABLE_APP.0, REUSABLE_APP.1)
                .redirect_uri(REDIRECT)
                .refresh_policy(RefreshPolicy::Reusable),
        )
        .client(
            ClientConfig::confidential(GRACE_APP.0, GRACE_APP.1)
                .redirect_uri(REDIRECT)
                .refresh_policy(RefreshPolicy::Grace { seconds: 2 }),
        )
}

/// A provider with issuers `default` (RS256) and `other` (ES256), both with
/// the test clients.
pub async fn start_provider() -> MockProvider {
    MockProvider::builder()
        .issuer(test_issuer("default"))
        .issuer(test_issuer("other").signing_algorithm(mock_provider::SigningAlgorithm::Es256))
        .start()
        .await
        .expect("provider starts")
}

/// A reqwest client that shows redirects instead of following them.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A fresh PKCE (verifier, S256 challenge).
pub fn pkce_pair() -> (String, String) {
    let verifier = mock_provider::random_base64url(32);
    let challenge = mock_provider::s256_challenge(&verifier);
    (verifier, challenge)
}

/// What the authorization endpoint answered.
#[derive(Debug)]
pub struct AuthorizeAnswer {
    pub status: StatusCode,
    pub location: Option<Url>,
    /// Query parameters of the redirect.
    pub params: HashMap<String, String>,
    pub body: String,
}

/// GETs the authorization endpoint with `params`.
pub async fn authorize(
    http: &reqwest::Client,
    issuer_url: &str,
    params: &[(&str, &str)],
) -> AuthorizeAnswer {
    let response = http
        .get(format!("{issuer_url}/authorize"))
        .query(params)
        .send()
        .await
        .expect("authorize request");
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| Url::parse(v).expect("absolute Location"));
    let params = location
        .as_ref()
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let body = response.text().await.unwrap_or_default();
    AuthorizeAnswer {
        status,
        location,
        params,
        body,
    }
}

/// Runs a successful authorization request for `client_id` and returns
/// (code, verifier).
pub async fn authorization_code(
    http: &reqwest::Client,
    issuer_url: &str,
    client_id: &str,
    extra: &[(&str, &str)],
) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
    ];
    params.extend_from_slice(extra);
    let answer = authorize(http, issuer_url, &params).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{answer:?}");
    let code = answer
        .params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {answer:?}"))
        .clone();
    (code, verifier)
}

/// What the token (or introspection/revocation) endpoint answered.
#[derive(Debug)]
pub struct JsonAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl JsonAnswer {
    /// The `error` field.
    pub fn error(&self) -> Option<&str> {
        self.body.get("error").and_then(Value::as_str)
    }
    /// A string field.
    pub fn str(&self, field: &str) -> &str {
        self.body
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no `{field}` in {:?}", self.body))
    }
}

/// POSTs a form to `{issuer}/{endpoint}`, with HTTP Basic when `basic` is set.
pub async fn post_form(
    http: &reqwest::Client,
    issuer_url: &str,
    endpoint: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> JsonAnswer {
    let mut request = http.post(format!("{issuer_url}/{endpoint}")).form(form);
    if let Some((id, secret)) = basic {
        request = request.header(reqwest::header::AUTHORIZATION, basic_header(id, secret));
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    JsonAnswer {
        status,
        headers,
        body,
    }
}

/// RFC 6749 2.3.1 Basic credentials.
pub fn basic_header(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// Code + PKCE + token for the `APP` client; returns the token response.
pub async fn code_flow_tokens(
    http: &reqwest::Client,
    issuer_url: &str,
    extra: &[(&str, &str)],
) -> JsonAnswer {
    let (code, verifier) = authorization_code(http, issuer_url, APP.0, extra).await;
    let answer = exchange_code(http, issuer_url, &code, &verifier, REDIRECT, &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer
}

/// The `APP` client's token request for `code` (RFC 6749 4.1.3), with
/// `redirect_uri` and any `extra` parameters.
pub async fn exchange_code(
    http: &reqwest::Client,
    issuer_url: &str,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> JsonAnswer {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    form.extend_from_slice(extra);
    post_form(http, issuer_url, "token", Some(APP), &form).await
}

/// POSTs raw bytes to `{issuer}/{endpoint}` with the given `Content-Type`
/// (none when `None`) and optional `Authorization` header value, for
/// requests `post_form` cannot build (wrong media type, bad encoding).
pub async fn post_raw(
    http: &reqwest::Client,
    issuer_url: &str,
    endpoint: &str,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> JsonAnswer {
    let mut request = http
        .post(format!("{issuer_url}/{endpoint}"))
        .body(body.into());
    if let Some(ct) = content_type {
        request = request.header(reqwest::header::CONTENT_TYPE, ct);
    }
    if let Some(value) = authorization {
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    JsonAnswer {
        status,
        headers,
        body,
    }
}

/// The payload of a JWT, decoded without checking the signature.
pub fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("payload is base64url");
    serde_json::from_slice(&bytes).expect("payload is JSON")
}

/// The protected header of a compact JWS, decoded without any checks (so
/// that `alg: none` can be read too).
pub fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().expect("a JWS has a header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("header is base64url");
    serde_json::from_slice(&bytes).expect("header is JSON")
}

/// Seconds since the Unix epoch, as JWT times count them (RFC 7519 2).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
