//! The authorization endpoint (RFC 6749 4.1.1, OAuth 2.1 4.1): checks the
//! client and redirect URI, requires PKCE S256, validates scope and
//! resource, then either approves headlessly for the configured (or
//! `login_hint`) user, or, with interactive consent, shows the consent page
//! ([`crate::endpoints::consent_page`]); both end in [`issue_code`], which redirects
//! with `code`, `state` and `iss` (RFC 9207).
//!
//! Errors about the client or redirect URI are shown as a 400 page and never
//! redirected (RFC 6749 4.1.2.1); every other error goes back to the
//! redirect URI.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

use crate::clients::client_registry::{GrantType, RegisteredClient};
use crate::config::consent_mode::Consent;
use crate::endpoints::authorization_response;
use crate::endpoints::consent_page;
use crate::endpoints::exchange::{Exchange, error_response, fault_outcome};
use crate::faults::fault_plan::{Endpoint, ResponseFault};
use crate::issuer::{Issuer, now};
use crate::ledger::{ConsentDecision, ConsentRecord, LedgerDraft};
use crate::protocol::oauth_error::{ErrorCode, OAuthError};
use crate::protocol::pkce;
use crate::protocol::request_params::RequestParams;
use crate::protocol::resource_indicator;
use crate::provider_state::ProviderState;
use crate::tokens::authorization_code::CodeGrant;
use crate::tokens::token_family::Grant;

/// `GET|POST /{issuer}/authorize`
pub async fn authorize_handler(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let mut ex = match Exchange::start(state.clone(), &name, Endpoint::Authorize) {
        Ok(ex) => ex,
        Err(not_found) => return not_found,
    };
    let issuer = ex.issuer.clone();
    let params = if method == Method::POST {
        RequestParams::from_form_body(&headers, body).await
    } else {
        RequestParams::parse(query.unwrap_or_default().as_bytes())
    };
    if let Ok(p) = &params {
        note_request(&mut ex.draft, p);
    }
    let applied = ex.faults().await;
    // An injected OAuth error goes to the client's redirect URI like a real
    // one; a bare status replaces the whole answer.
    let injected = match &applied.response {
        Some(fault @ ResponseFault::Status { .. }) => {
            ex.draft.outcome = Some(fault_outcome(fault));
            ex.draft.answered_by_fault = true;
            let r = error_response(fault, Endpoint::Authorize);
            return ex.finish(r);
        }
        Some(ResponseFault::OauthError {
            error, description, ..
        }) => Some(OAuthError::new(*error, description.clone())),
        _ => None,
    };
    // The injected error is answered before any code is issued.
    ex.draft.answered_by_fault = injected.is_some();
    let response = match params {
        Err(e) => {
            ex.draft.outcome = Some(e.code().as_str().to_owned());
            error_page(e.description())
        }
        Ok(params) => match authorize(&state, &issuer, &params, injected, &mut ex.draft).await {
            Ok(response) => response,
            Err(AuthorizeError::Page(message)) => {
                ex.draft.outcome = Some("invalid_request".to_owned());
                error_page(&message)
            }
            Err(AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
            }) => {
                tracing::info!(issuer = issuer.name(), error = %error.code(), "authorization request refused");
                ex.draft.outcome = Some(error.code().as_str().to_owned());
                authorization_response::redirect_error(
                    &issuer,
                    &redirect_uri,
                    state.as_deref(),
                    &error,
                )
            }
        },
    };
    ex.finish(response)
}

/// What the ledger keeps of an authorization request, before any check:
/// a judge of clients needs what was sent, also when it was refused.
fn note_request(draft: &mut LedgerDraft, p: &RequestParams) {
    let single = |name| p.single(name).ok().flatten().map(str::to_owned);
    draft.client_id = single("client_id");
    draft.resource = p.all("resource").into_iter().map(str::to_owned).collect();
    draft.state_length = p.single("state").ok().flatten().map(str::len);
    draft.requested_scope = single("scope");
    draft.redirect_uri = single("redirect_uri");
    draft.response_mode = single("response_mode");
}

enum AuthorizeError {
    /// Shown to the user agent; the redirect URI cannot be trusted.
    Page(String),
    /// Sent back to the client at its redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

async fn authorize(
    provider: &ProviderState,
    issuer: &Issuer,
    params: &RequestParams,
    injected: Option<OAuthError>,
    draft: &mut LedgerDraft,
) -> Result<Response, AuthorizeError> {
    let page = |e: OAuthError| AuthorizeError::Page(e.description().to_owned());
    let client_id = params.required("client_id").map_err(page)?;
    let client = issuer
        .resolve_client(client_id)
        .await
        .map_err(|e| AuthorizeError::Page(e.to_string()))?;
    let presented_redirect = params.single("redirect_uri").map_err(page)?;
    let redirect_uri = client
        .redirect_uri_for(presented_redirect)
        .map_err(|e| AuthorizeError::Page(e.to_string()))?;

    let state = params.single("state").ok().flatten().map(str::to_owned);
    let to_client = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
    };
    if let Some(error) = injected {
        return Err(to_client(error));
    }
    let code = check_request(issuer, &client, params, presented_redirect).map_err(to_client)?;
    // Consent comes after every check above, so an invalid request is
    // refused the same way with or without the page. The page is shown for
    // every request of an interactive client: nothing is remembered, so an
    // approval for one client never lets another skip it (MCP security best
    // practices, "Confused Deputy Problem": consent per client).
    let interactive = provider
        .consent_policy(issuer.name())
        .is_some_and(|p| p.mode_for(&client.client_id) == Consent::Interactive);
    if interactive {
        draft.consent = Some(ConsentRecord {
            decision: ConsentDecision::Shown,
            subject: Some(code.grant.subject.clone()),
        });
        return Ok(consent_page::show(
            provider,
            issuer,
            &client,
            code,
            redirect_uri,
            state,
        ));
    }
    draft.granted_scope = Some(code.grant.scope.to_string());
    Ok(authorization_response::issue_code(
        issuer,
        code,
        &redirect_uri,
        state.as_deref(),
    ))
}

/// Everything after the client and redirect URI are known good.
fn check_request(
    issuer: &Issuer,
    client: &RegisteredClient,
    params: &RequestParams,
    presented_redirect: Option<&str>,
) -> Result<CodeGrant, OAuthError> {
    params.reject_duplicates()?;
    match params.single("response_type")? {
        None => {
            return Err(OAuthError::invalid_request(
                "missing required parameter `response_type`",
            ));
        }
        Some("code") => {}
        Some(other) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                format!("response_type `{other}` is not supported; only `code`"),
            ));
        }
    }
    // OAuth 2.0 Multiple Response Type Encoding Practices 2.1: an
    // unsupported mode is an error, not silently `query` (the metadata
    // lists only `query`).
    match params.single("response_mode")? {
        None | Some("query") => {}
        Some(other) => {
            return Err(OAuthError::invalid_request(format!(
                "response_mode `{other}` is not supported; only `query` (see response_modes_supported)"
            )));
        }
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "this client is not registered for the authorization_code grant",
        ));
    }
    let challenge = params.single("code_challenge")?;
    pkce::validate_challenge(challenge, params.single("code_challenge_method")?)
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let scope = issuer.grantable_scope(client, params.single("scope")?)?;
    let asked = params.all("resource");
    resource_indicator::require(&asked, issuer.settings().policy.require_resource)?;
    let resources = resource_indicator::validate(&asked, &issuer.settings().resources)?;
    let subject = match params.single("login_hint")? {
        // The same rule as a subject typed on the consent page: it becomes
        // `sub`, so no control characters, nothing over-long.
        Some(hint) => {
            crate::config::check_subject(hint).map_err(|reason| {
                OAuthError::invalid_request(format!("login_hint cannot be a subject: it {reason}"))
            })?;
            hint
        }
        None => issuer.settings().default_subject.as_str(),
    }
    .to_owned();
    Ok(CodeGrant {
        redirect_uri: presented_redirect.map(str::to_owned),
        code_challenge: challenge.unwrap_or_default().to_owned(),
        grant: Grant {
            client_id: client.client_id.clone(),
            subject,
            scope,
            resources,
            auth_time: now(),
        },
    })
}

/// The 400 page for a request that cannot be sent back to the client, with
/// the headers every page carries (no framing, no sniffing, a CSP).
fn error_page(message: &str) -> Response {
    crate::protocol::html_page::refusal_page(
        StatusCode::BAD_REQUEST,
        "Authorization request refused",
        message,
    )
}
