//! Token introspection (RFC 7662): an authenticated client asks whether a
//! token is active and what it carries. Access tokens are verified JWTs
//! whose `jti` is not revoked; refresh tokens are looked up by hash.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::endpoints::client_auth;
use crate::endpoints::exchange::{Exchange, no_store};
use crate::faults::fault_plan::Endpoint;
use crate::issuer::{Issuer, now};
use crate::protocol::oauth_error::OAuthError;
use crate::protocol::request_params::RequestParams;
use crate::protocol::secret::TokenHash;
use crate::provider_state::ProviderState;
use crate::tokens::access_token::AccessTokenClaims;
use crate::tokens::key_set::KeySet;

/// `POST /{issuer}/introspect`
pub async fn introspect_handler(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut ex = match Exchange::start(state, &name, Endpoint::Introspect) {
        Ok(ex) => ex,
        Err(not_found) => return not_found,
    };
    let params = ex.read_form(&headers, body).await;
    ex.answer(async |ex, _| {
        let doc = introspect(&ex.issuer, &headers, &params?).await?;
        let r = no_store(Json(doc).into_response());
        Ok(r)
    })
    .await
}

async fn introspect(
    issuer: &Issuer,
    headers: &HeaderMap,
    params: &RequestParams,
) -> Result<Value, OAuthError> {
    params.reject_duplicates()?;
    let client = client_auth::authenticate(issuer, headers, params).await?;
    if !client.method.is_confidential() {
        // RFC 7662 2.1: the endpoint must be protected; a public client
        // proves nothing.
        return Err(OAuthError::invalid_client(
            "introspection needs an authenticated (confidential) client",
        )
        .with_www_authenticate(client_auth::basic_challenge(issuer)));
    }
    // RFC 7662 2.1 leaves to the server which clients may ask; a strict
    // issuer lets only its resource servers.
    let allowed = &issuer.settings().policy.introspection_clients;
    if !allowed.is_empty() && !allowed.contains(&client.client.client_id) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the introspection endpoint (introspection_clients)",
        )
        .with_status(axum::http::StatusCode::FORBIDDEN));
    }
    let token = params.required("token")?;
    Ok(describe(issuer, &*issuer.keys().await?, token))
}

/// The introspection answer for any token string.
pub fn describe(issuer: &Issuer, keys: &KeySet, token: &str) -> Value {
    let now = now();
    if let Some(claims) = AccessTokenClaims::verify(token, keys, now)
        && claims.iss == issuer.url()
    {
        let revoked = issuer.grants().families.access_token_revoked(&claims.jti);
        // RFC 7662 2.2: `active` means "within its given time window of
        // validity": not before `nbf` either (the upstream API holds tokens
        // to the same window).
        let not_yet_valid = claims
            .extra
            .get("nbf")
            .and_then(Value::as_u64)
            .is_some_and(|nbf| nbf > now);
        if revoked || now >= claims.exp || not_yet_valid {
            return json!({"active": false});
        }
        let mut doc = json!({
            "active": true,
            "token_type": "Bearer",
            "scope": claims.scope,
            "client_id": claims.client_id,
            "sub": claims.sub,
            "aud": claims.aud,
            "iss": claims.iss,
            "exp": claims.exp,
            "iat": claims.iat,
            "jti": claims.jti,
        });
        for (k, v) in claims.extra {
            doc[k] = v;
        }
        return doc;
    }
    let grants = issuer.grants();
    match grants.families.refresh_token(&TokenHash::of(token), now) {
        Some(view) if view.active => json!({
            "active": true,
            "scope": view.grant.scope.to_string(),
            "client_id": view.grant.client_id,
            "sub": view.grant.subject,
            "iss": issuer.url(),
            "exp": view.expires_at,
        }),
        _ => json!({"active": false}),
    }
}
