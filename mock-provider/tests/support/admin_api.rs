//! What the admin API tests (`admin_*.rs`) share: checks of admin
//! refusals, raw admin requests for bodies the typed client cannot send,
//! and the OAuth requests that show what an admin call changed.

use mock_provider::AdminError;
use reqwest::StatusCode;
use serde_json::Value;

use super::{APP, JsonAnswer, POST_APP, http, post_form};

/// The status and JSON body of an admin refusal.
pub fn refusal<T: std::fmt::Debug>(result: Result<T, AdminError>) -> (StatusCode, Value) {
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
pub fn assert_refused<T: std::fmt::Debug>(
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
pub async fn admin_raw(
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

pub async fn introspect(issuer: &str, token: &str) -> Value {
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
pub async fn token(issuer: &str, client: (&str, &str), form: &[(&str, &str)]) -> JsonAnswer {
    if client.0 == POST_APP.0 {
        let mut form = form.to_vec();
        form.extend([("client_id", client.0), ("client_secret", client.1)]);
        post_form(&http(), issuer, "token", None, &form).await
    } else {
        post_form(&http(), issuer, "token", Some(client), form).await
    }
}

pub async fn client_credentials(issuer: &str, client: (&str, &str)) -> String {
    let a = token(issuer, client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    a.str("access_token").to_owned()
}

pub async fn refresh(issuer: &str, client: (&str, &str), refresh_token: &str) -> JsonAnswer {
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

pub async fn jwks_kids(issuer: &str) -> Vec<String> {
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
