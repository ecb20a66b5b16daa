//! The router: which handler answers which path, for every issuer of the
//! state (the admin API's routes are merged in by [`crate::server`] when
//! it is on).
//!
//! A request's way through the provider: the router picks the endpoint's
//! handler; the handler starts an [`crate::endpoints::exchange::Exchange`] with the
//! issuer named in the path; the exchange asks the fault plan what to do,
//! runs the endpoint's logic (client authentication, grants, tokens) unless
//! a fault answers first, and writes the ledger entry as the answer leaves.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::json;

use crate::endpoints::authorize_endpoint::authorize_handler;
use crate::endpoints::consent_page::consent_handler;
use crate::endpoints::discovery::{jwks_handler, metadata_handler};
use crate::endpoints::introspection_endpoint::introspect_handler;
use crate::endpoints::registration_endpoint::register_handler;
use crate::endpoints::revocation_endpoint::revoke_handler;
use crate::endpoints::token_endpoint::token_handler;
use crate::endpoints::upstream_api::upstream_handler;
use crate::ledger::DiscoveryForm;
use crate::provider_state::{ProviderState, not_found};

/// The router serving every issuer of `state`.
pub fn router(state: Arc<ProviderState>) -> Router {
    Router::new()
        .route("/", get(index))
        // RFC 8414 3: the well-known suffix inserted before the issuer path;
        // OpenID Connect Discovery 4: appended. Each route tells the ledger
        // which form a client used.
        .route(
            "/.well-known/oauth-authorization-server/{issuer}",
            get(|s, p| metadata_handler(DiscoveryForm::OauthPathInserted, s, p)),
        )
        .route(
            "/.well-known/openid-configuration/{issuer}",
            get(|s, p| metadata_handler(DiscoveryForm::OpenidPathInserted, s, p)),
        )
        .route(
            "/{issuer}/.well-known/openid-configuration",
            get(|s, p| metadata_handler(DiscoveryForm::OpenidPathAppended, s, p)),
        )
        .route(
            "/{issuer}/.well-known/oauth-authorization-server",
            get(|s, p| metadata_handler(DiscoveryForm::OauthPathAppended, s, p)),
        )
        .route("/{issuer}/jwks", get(jwks_handler))
        .route(
            "/{issuer}/authorize",
            get(authorize_handler).post(authorize_handler),
        )
        .route("/{issuer}/authorize/consent", post(consent_handler))
        .route("/{issuer}/token", post(token_handler))
        .route("/{issuer}/register", post(register_handler))
        .route("/{issuer}/introspect", post(introspect_handler))
        .route("/{issuer}/revoke", post(revoke_handler))
        .route("/{issuer}/api", any(upstream_handler))
        .route("/{issuer}/api/{*path}", any(upstream_handler))
        .fallback(|| async { not_found("no such endpoint") })
        .with_state(state)
}

async fn index(axum::extract::State(state): axum::extract::State<Arc<ProviderState>>) -> Response {
    let issuers: Vec<_> = state
        .issuers
        .values()
        .map(|i| json!({"name": i.name(), "issuer": i.url(), "metadata": format!("{}/.well-known/oauth-authorization-server/{}", state.base_url, i.name())}))
        .collect();
    Json(json!({"service": "mock-provider", "issuers": issuers})).into_response()
}
