//! Discovery: authorization server metadata (RFC 8414) at the
//! path-inserted well-known location and the OpenID discovery locations the
//! MCP authorization spec (2025-11-25, "Authorization Server Metadata
//! Discovery") has clients try, and the JWKS.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::clients::client_registry::{AuthMethod, GrantType};
use crate::endpoints::exchange::Exchange;
use crate::faults::fault_plan::Endpoint;
use crate::issuer::Issuer;
use crate::ledger::DiscoveryForm;
use crate::provider_state::ProviderState;

/// The metadata document of an issuer.
pub fn metadata(issuer: &Issuer) -> Value {
    let settings = issuer.settings();
    let mut doc = json!({
        "issuer": issuer.url(),
        "authorization_endpoint": issuer.endpoint("authorize"),
        "token_endpoint": issuer.endpoint("token"),
        "jwks_uri": issuer.endpoint("jwks"),
        "introspection_endpoint": issuer.endpoint("introspect"),
        "revocation_endpoint": issuer.endpoint("revoke"),
        "scopes_supported": settings.scopes_supported,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GrantType::ALL.map(GrantType::as_str),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": AuthMethod::ALL.map(AuthMethod::as_str),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": AuthMethod::ALL.map(AuthMethod::as_str),
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": settings.client_id_metadata_documents,
        "subject_types_supported": ["public"],
    });
    if settings.dynamic_registration {
        doc["registration_endpoint"] = json!(issuer.endpoint("register"));
    }
    doc
}

/// The handler of one well-known location (`GET
/// /.well-known/oauth-authorization-server/{issuer}` and the others): the
/// metadata, or under `strict_discovery` a 404 for a location no spec
/// names. The ledger records the form either way.
pub async fn metadata_handler(
    form: DiscoveryForm,
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
) -> Response {
    let mut ex = match Exchange::start(state, &name, Endpoint::Metadata) {
        Ok(ex) => ex,
        Err(not_found) => return not_found,
    };
    ex.draft.discovery = Some(form);
    if !form.is_specified() && ex.issuer.settings().policy.strict_discovery {
        let r = crate::provider_state::not_found(
            "this issuer serves RFC 8414 metadata at /.well-known/oauth-authorization-server/{issuer} (path inserted), not appended",
        );
        return ex.finish(r);
    }
    ex.answer(async |ex, _| Ok(Json(metadata(&ex.issuer)).into_response()))
        .await
}

/// `GET /{issuer}/jwks`
pub async fn jwks_handler(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
) -> Response {
    let ex = match Exchange::start(state, &name, Endpoint::Jwks) {
        Ok(ex) => ex,
        Err(not_found) => return not_found,
    };
    ex.answer(async |ex, _| {
        let keys = ex.issuer.keys().await?;
        Ok((
            [(header::CONTENT_TYPE, "application/json")],
            keys.jwks(crate::issuer::now()).to_string(),
        )
            .into_response())
    })
    .await
}
