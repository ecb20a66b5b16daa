//! The end of an authorization request: a code issued for an approved
//! request, or an error, sent to the client's redirect URI with `state` and
//! `iss` (RFC 6749 4.1.2, RFC 9207 2). The headless path
//! ([`crate::endpoints::authorize_endpoint`]) and the consent page
//! ([`crate::endpoints::consent_page`]) both end here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::issuer::{Issuer, now};
use crate::protocol::oauth_error::OAuthError;
use crate::protocol::secret::Secret;
use crate::tokens::authorization_code::CodeGrant;

/// Issues a code for an approved request and redirects to the client with
/// `code`, `state` and `iss` (RFC 6749 4.1.2, RFC 9207 2): the end of the
/// headless path and of an approval on the consent page alike.
pub fn issue_code(
    issuer: &Issuer,
    code: CodeGrant,
    redirect_uri: &str,
    state: Option<&str>,
) -> Response {
    let client_id = code.grant.client_id.clone();
    let value = Secret::generate(32);
    let now = now();
    {
        let mut grants = issuer.grants();
        grants
            .codes
            .insert(value.hash(), code, now, issuer.settings().code_ttl);
        grants.touch(now);
    }
    tracing::info!(
        issuer = issuer.name(),
        client_id = %client_id,
        code = %value.fingerprint(),
        "authorization code issued"
    );
    redirect(
        redirect_uri,
        &[
            ("code", Some(value.expose())),
            ("state", state),
            ("iss", Some(issuer.url())),
        ],
    )
}

/// Sends an error to the client's redirect URI with `state` and `iss`
/// (RFC 6749 4.1.2.1, RFC 9207 2).
pub fn redirect_error(
    issuer: &Issuer,
    redirect_uri: &str,
    state: Option<&str>,
    error: &OAuthError,
) -> Response {
    redirect(
        redirect_uri,
        &[
            ("error", Some(error.code().as_str())),
            ("error_description", Some(error.description())),
            ("state", state),
            ("iss", Some(issuer.url())),
        ],
    )
}

fn redirect(base: &str, params: &[(&str, Option<&str>)]) -> Response {
    let Ok(mut url) = Url::parse(base) else {
        return crate::protocol::html_page::refusal_page(
            StatusCode::BAD_REQUEST,
            "Authorization request refused",
            "the redirect URI cannot be parsed",
        );
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
