//! Token revocation (RFC 7009): a client revokes one of its own tokens.
//! Revoking a refresh token revokes its whole family; revoking an access
//! token revokes that token. Unknown tokens get 200 (RFC 7009 2.2).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::endpoints::client_auth;
use crate::endpoints::exchange::{Exchange, no_store};
use crate::faults::fault_plan::Endpoint;
use crate::issuer::{Issuer, now};
use crate::protocol::oauth_error::OAuthError;
use crate::protocol::request_params::RequestParams;
use crate::protocol::secret::TokenHash;
use crate::provider_state::ProviderState;
use crate::tokens::access_token::AccessTokenClaims;

/// `POST /{issuer}/revoke`
pub async fn revoke_handler(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut ex = match Exchange::start(state, &name, Endpoint::Revoke) {
        Ok(ex) => ex,
        Err(not_found) => return not_found,
    };
    let params = ex.read_form(&headers, body).await;
    ex.answer(async |ex, _| {
        revoke(&ex.issuer, &headers, &params?).await?;
        let r = no_store(StatusCode::OK.into_response());
        Ok(r)
    })
    .await
}

fn not_yours() -> OAuthError {
    // RFC 7009 2.1: the token must have been issued to the requesting client.
    OAuthError::unauthorized_client("the token was not issued to this client")
}

async fn revoke(
    issuer: &Issuer,
    headers: &HeaderMap,
    params: &RequestParams,
) -> Result<(), OAuthError> {
    params.reject_duplicates()?;
    let client = client_auth::authenticate(issuer, headers, params).await?;
    let token = params.required("token")?;
    // token_type_hint only speeds up the search (RFC 7009 2.1); both kinds
    // are tried whatever it says.
    let _ = params.single("token_type_hint")?;
    let client_id = &client.client.client_id;

    if let Some(claims) = AccessTokenClaims::verify(token, &*issuer.keys().await?, now())
        && claims.iss == issuer.url()
    {
        if &claims.client_id != client_id {
            return Err(not_yours());
        }
        issuer
            .grants()
            .families
            .revoke_access_token(&claims.jti, claims.exp);
        tracing::info!(issuer = issuer.name(), %client_id, "access token revoked");
        return Ok(());
    }
    let hash = TokenHash::of(token);
    let mut grants = issuer.grants();
    match grants.families.refresh_token_client(&hash) {
        Some(owner) if owner != client_id => Err(not_yours()),
        Some(_) => {
            if let Some(family) = grants.families.revoke_refresh_token(&hash) {
                tracing::info!(issuer = issuer.name(), %client_id, %family, "refresh token revoked with its family");
            }
            Ok(())
        }
        None => Ok(()),
    }
}
