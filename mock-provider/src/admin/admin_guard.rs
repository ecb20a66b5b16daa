//! The guard in front of every `/__admin/` route, JSON API and HTML state
//! page alike. A web page the operator happens to open must not be able to
//! steer the provider or read its ledger, so a request passes only if:
//!
//! 1. its `Host` names this provider: a loopback name or address, the
//!    address the provider serves on, or one of `admin.allowed_hosts`. A
//!    DNS-rebinding page reaches 127.0.0.1 under its own name and is
//!    refused here, reads included;
//! 2. no `Origin` or `Sec-Fetch-Site` says another site sent it;
//! 3. it carries the admin secret when one is configured, and comes from a
//!    loopback peer when none is;
//! 4. a `POST` says `Content-Type: application/json`. A cross-site form or
//!    `fetch` without a CORS preflight can only send `text/plain`, form or
//!    multipart bodies, and the provider never answers a preflight. The
//!    state page's own reset form is the one exception: it carries a CSRF
//!    token ([`crate::protocol::csrf_token`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::protocol::csrf_token;
use crate::provider_state::ProviderState;

/// Why the guard refused a request: one variant per failure, each with its
/// status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminGuardRefusal {
    /// The `Host` is not this provider's.
    #[error(
        "the admin API answers only requests addressed to this provider (Host `{0}` is not a loopback host, the provider's address, or in admin.allowed_hosts)"
    )]
    ForeignHost(String),
    /// A browser said the request came from another site.
    #[error("the admin API refuses cross-site requests ({0})")]
    CrossSite(String),
    /// No or the wrong admin secret.
    #[error("the admin API needs `Authorization: Bearer <admin secret>`")]
    Unauthorized,
    /// No secret configured and the peer is not on loopback.
    #[error("the admin API answers loopback peers only (configure admin.secret to open it)")]
    NotLoopback,
    /// A `POST` whose body is not declared JSON.
    #[error("admin requests that change state must be sent as `Content-Type: application/json`")]
    NotJson,
}

impl AdminGuardRefusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::ForeignHost(_) | Self::CrossSite(_) | Self::NotLoopback => StatusCode::FORBIDDEN,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::ForeignHost(_) | Self::CrossSite(_) | Self::NotLoopback => "forbidden",
            Self::Unauthorized => "unauthorized",
            Self::NotJson => "unsupported_media_type",
        }
    }
}

impl IntoResponse for AdminGuardRefusal {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code(), "error_description": self.to_string()});
        (self.status(), Json(body)).into_response()
    }
}

/// The guard, as axum middleware.
pub async fn guard(
    State(state): State<Arc<ProviderState>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    match check(
        &state,
        request.method(),
        request.uri(),
        request.headers(),
        peer,
    ) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::warn!(path = request.uri().path(), %refusal, "admin request refused");
            refusal.into_response()
        }
    }
}

/// The four checks, in order.
pub fn check(
    state: &ProviderState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Result<(), AdminGuardRefusal> {
    let host = request_host(uri, headers);
    if !host_allowed(state, host) {
        return Err(AdminGuardRefusal::ForeignHost(
            host.unwrap_or("").to_owned(),
        ));
    }
    csrf_token::check_same_origin_at(headers, state.scheme(), host)
        .map_err(|e| AdminGuardRefusal::CrossSite(e.to_string()))?;
    match state.admin_secret() {
        Some(secret) => {
            // RFC 9110 11.1: the scheme is case-insensitive.
            let presented = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim());
            if !presented.is_some_and(|p| secret.matches(p)) {
                return Err(AdminGuardRefusal::Unauthorized);
            }
        }
        None => {
            if !peer.is_some_and(|ip| ip.is_loopback()) {
                return Err(AdminGuardRefusal::NotLoopback);
            }
        }
    }
    let form_route = uri.path() == crate::admin::state_page::RESET_PATH;
    if method == Method::POST && !form_route && !declares_json(headers) {
        return Err(AdminGuardRefusal::NotJson);
    }
    Ok(())
}

/// The `Host` header, or the URI's authority (HTTP/2).
fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

fn host_allowed(state: &ProviderState, host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
        return false;
    };
    let name = authority
        .host()
        .trim_matches(['[', ']'])
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = name.parse::<IpAddr>()
        && ip.is_loopback()
    {
        return true;
    }
    let own = url::Url::parse(state.base_url()).ok().and_then(|u| {
        u.host_str()
            .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
    });
    own.as_deref() == Some(name.as_str())
        || state
            .admin_allowed_hosts()
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(&name))
}

fn declares_json(headers: &HeaderMap) -> bool {
    crate::protocol::request_params::require_content_type(headers, "application/json").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_recognised_with_parameters() {
        let mut h = HeaderMap::new();
        assert!(!declares_json(&h));
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!declares_json(&h));
        h.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert!(declares_json(&h));
    }
}
