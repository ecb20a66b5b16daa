//! The mock upstream API: a protected resource per issuer at
//! `/{issuer}/api/...`, standing in for the third-party API an MCP server
//! calls with tokens it obtained itself. It accepts only unexpired,
//! unrevoked tokens of its own issuer whose `aud` names it, answers 401 with
//! a Bearer challenge otherwise (RFC 6750 3.1), and records what every
//! request carried, so a test can tell a properly obtained upstream token
//! from a forwarded inbound one.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::endpoints::exchange::Exchange;
use crate::faults::fault_plan::Endpoint;
use crate::issuer::{Issuer, now};
use crate::ledger::UpstreamObservation;
use crate::protocol::secret::TokenHash;
use crate::provider_state::ProviderState;
use crate::tokens::access_token::{AccessTokenClaims, Audience};
use crate::tokens::jws::DecodedJws;
use crate::tokens::key_set::KeySet;

/// `ANY /{issuer}/api` and `ANY /{issuer}/api/{*path}`
pub async fn upstream_handler(
    State(state): State<Arc<ProviderState>>,
    Path(path): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let name = path.get("issuer").cloned().unwrap_or_default();
    let mut ex = match Exchange::start(state, &name, Endpoint::Upstream) {
        Ok(ex) => ex,
        Err(not_found) => return not_found,
    };
    let issuer = ex.issuer.clone();
    let keys = match issuer.keys().await {
        Ok(keys) => keys,
        Err(e) => return ex.answer(async move |_, _| Err(e.into())).await,
    };
    let sub_path = format!("/{}", path.get("path").map(String::as_str).unwrap_or(""));
    let bearer = bearer_token(&headers);
    let mut seen = observe(bearer.as_ref().and_then(|b| b.as_deref().ok()), &sub_path);
    ex.draft.client_id = seen.token_client_id.clone();
    let verdict = match &bearer {
        None => Err(Refusal::NoToken),
        Some(Err(why)) => Err(Refusal::Malformed(why)),
        Some(Ok(token)) => check(&issuer, &keys, token),
    };
    seen.refused_because = verdict.as_ref().err().map(|r| r.reason().to_owned());
    ex.draft.upstream = Some(seen);
    let challenge_realm = issuer.upstream_audience();
    ex.answer(async move |ex, _| {
        Ok(match verdict {
            Ok(claims) => {
                ex.draft.outcome = Some("ok".to_owned());
                Json(json!({
                    "issuer": claims.iss,
                    "subject": claims.sub,
                    "client_id": claims.client_id,
                    "scope": claims.scope,
                    "path": sub_path,
                    "message": format!("hello {}", claims.sub),
                }))
                .into_response()
            }
            Err(refusal) => {
                ex.draft.outcome = Some(refusal.code().to_owned());
                refusal.into_response(&challenge_realm)
            }
        })
    })
    .await
}

/// The bearer token of a request: `None` without an `Authorization`
/// header, `Err` for one that is not `Bearer <token>`.
fn bearer_token(headers: &HeaderMap) -> Option<Result<String, &'static str>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some(Err("the Authorization header is not ASCII"));
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return Some(Err("the Authorization header is not `Bearer <token>`"));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        // RFC 6750 3.1: another scheme counts as no authentication at all.
        return None;
    }
    let token = token.trim();
    if token.is_empty() || token.contains(' ') {
        return Some(Err("the bearer token is empty or has spaces"));
    }
    Some(Ok(token.to_owned()))
}

/// What the token says, read without trusting it, for the ledger.
fn observe(token: Option<&str>, path: &str) -> UpstreamObservation {
    let mut seen = UpstreamObservation {
        path: path.to_owned(),
        ..Default::default()
    };
    let Some(token) = token else {
        return seen;
    };
    seen.token = Some(TokenHash::of(token).fingerprint());
    if let Some(jws) = DecodedJws::parse(token) {
        let p = &jws.payload;
        let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
        seen.token_issuer = s("iss");
        seen.token_client_id = s("client_id");
        seen.token_subject = s("sub");
        seen.token_audience = match p.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
    }
    seen
}

enum Refusal {
    NoToken,
    Malformed(&'static str),
    Invalid(&'static str),
}

impl Refusal {
    fn reason(&self) -> &'static str {
        match self {
            Self::NoToken => "no access token",
            Self::Malformed(why) | Self::Invalid(why) => why,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NoToken => "no_token",
            Self::Malformed(_) => "invalid_request",
            Self::Invalid(_) => "invalid_token",
        }
    }

    fn into_response(self, realm: &str) -> Response {
        // RFC 6750 3.1: no error code when the request had no token.
        let (status, challenge) = match &self {
            Self::NoToken => (
                StatusCode::UNAUTHORIZED,
                format!("Bearer realm=\"{realm}\""),
            ),
            Self::Malformed(why) => (
                StatusCode::BAD_REQUEST,
                format!(
                    "Bearer realm=\"{realm}\", error=\"invalid_request\", error_description=\"{why}\""
                ),
            ),
            Self::Invalid(why) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{why}\""
                ),
            ),
        };
        let mut r = (
            status,
            Json(json!({"error": self.code(), "error_description": self.reason()})),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    }
}

fn check(issuer: &Issuer, keys: &KeySet, token: &str) -> Result<AccessTokenClaims, Refusal> {
    let now = now();
    let claims = AccessTokenClaims::verify(token, keys, now).ok_or(Refusal::Invalid(
        "the token is not a JWT signed by this issuer's published keys",
    ))?;
    if claims.iss != issuer.url() {
        return Err(Refusal::Invalid("the token was issued by another issuer"));
    }
    let own = issuer.upstream_audience();
    let for_us = match &claims.aud {
        Audience::One(a) => *a == own,
        Audience::Many(list) => list.contains(&own),
    };
    if !for_us {
        return Err(Refusal::Invalid("the token's audience is not this API"));
    }
    if now >= claims.exp {
        return Err(Refusal::Invalid("the token has expired"));
    }
    if claims
        .extra
        .get("nbf")
        .and_then(Value::as_u64)
        .is_some_and(|nbf| nbf > now)
    {
        return Err(Refusal::Invalid("the token is not valid yet"));
    }
    if issuer.grants().families.access_token_revoked(&claims.jti) {
        return Err(Refusal::Invalid("the token has been revoked"));
    }
    Ok(claims)
}
