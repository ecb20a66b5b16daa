//! The authorization endpoint (RFC 6749 4.1.1, OAuth 2.1 4.1): checks the
//! client and redirect URI, requires PKCE S256, validates scope and
//! resource, approves headlessly for the configured (or `login_hint`) user
//! and redirects with `code`, `state` and `iss` (RFC 9207).
//!
//! Errors about the client or redirect URI are shown as a 400 page and never
//! redirected (RFC 6749 4.1.2.1); every other error goes back to the
//! redirect URI.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use url::Url;

use crate::authorization_code::CodeGrant;
use crate::client_registry::{GrantType, RegisteredClient};
use crate::exchange::{Exchange, error_response, fault_outcome};
use crate::fault_plan::{Endpoint, ResponseFault};
use crate::issuer::{Issuer, now};
use crate::oauth_error::{ErrorCode, OAuthError};
use crate::pkce;
use crate::request_params::RequestParams;
use crate::resource_indicator;
use crate::secret::Secret;
use crate::server::ProviderState;
use crate::token_family::Grant;

/// `GET|POST /{issuer}/authorize`
pub async fn authorize_handler(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let mut ex = match Exchange::start(state, &name, Endpoint::Authorize) {
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
        ex.draft.client_id = p.single("client_id").ok().flatten().map(str::to_owned);
    }
    let applied = ex.faults().await;
    // An injected OAuth error goes to the client's redirect URI like a real
    // one; a bare status replaces the whole answer.
    let injected = match &applied.response {
        Some(fault @ ResponseFault::Status { .. }) => {
            ex.draft.outcome = Some(fault_outcome(fault));
            let r = error_response(fault, Endpoint::Authorize);
            return ex.finish(r);
        }
        Some(ResponseFault::OauthError {
            error, description, ..
        }) => Some(OAuthError::new(*error, description.clone())),
        _ => None,
    };
    let response = match params {
        Err(e) => {
            ex.draft.outcome = Some(e.code().as_str().to_owned());
            error_page(e.description())
        }
        Ok(params) => match authorize(&issuer, &params, injected).await {
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
                redirect(
                    &redirect_uri,
                    &[
                        ("error", Some(error.code().as_str())),
                        ("error_description", Some(error.description())),
                        ("state", state.as_deref()),
                        ("iss", Some(issuer.url())),
                    ],
                )
            }
        },
    };
    ex.finish(response)
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
    issuer: &Issuer,
    params: &RequestParams,
    injected: Option<OAuthError>,
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
    let value = Secret::generate(32);
    let now = now();
    {
        let mut grants = issuer.grants();
        grants
            .codes
            .insert(value.hash(), code, now + issuer.settings().code_ttl);
        grants.touch(now);
    }
    tracing::info!(
        issuer = issuer.name(),
        client_id = %client.client_id,
        code = %value.fingerprint(),
        "authorization code issued"
    );
    Ok(redirect(
        &redirect_uri,
        &[
            ("code", Some(value.expose())),
            ("state", state.as_deref()),
            ("iss", Some(issuer.url())),
        ],
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
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "this client is not registered for the authorization_code grant",
        ));
    }
    let challenge = params.single("code_challenge")?;
    pkce::validate_challenge(challenge, params.single("code_challenge_method")?)
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    let scope = issuer.grantable_scope(client, params.single("scope")?)?;
    let resources =
        resource_indicator::validate(&params.all("resource"), &issuer.settings().resources)?;
    let subject = params
        .single("login_hint")?
        .unwrap_or(&issuer.settings().default_subject)
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

fn redirect(base: &str, params: &[(&str, Option<&str>)]) -> Response {
    let Ok(mut url) = Url::parse(base) else {
        return error_page("the redirect URI cannot be parsed");
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_page(message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authorization error</title></head>\
         <body><h1>Authorization request refused</h1><p>{}</p></body></html>",
        html_escape(message)
    );
    let mut response = (StatusCode::BAD_REQUEST, Html(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
