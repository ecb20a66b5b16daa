//! Client authentication at the token, introspection and revocation
//! endpoints (RFC 6749 2.3): `client_secret_basic`, `client_secret_post`,
//! and `none` for public clients, each only for a client registered with it.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::clients::client_registry::{AuthMethod, RegisteredClient};
use crate::issuer::Issuer;
use crate::protocol::oauth_error::OAuthError;
use crate::protocol::request_params::RequestParams;

/// A client that proved who it is, and how.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// The client.
    pub client: Arc<RegisteredClient>,
    /// The method it used.
    pub method: AuthMethod,
}

pub(crate) fn basic_challenge(issuer: &Issuer) -> String {
    format!("Basic realm=\"{}\", charset=\"UTF-8\"", issuer.url())
}

/// Decodes `Authorization: Basic`. RFC 6749 2.3.1: the id and secret are
/// form-urlencoded before being joined with `:`.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| -> Option<String> {
        let plus = s.replace('+', " ");
        percent_encoding::percent_decode_str(&plus)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// The client a request claims to be (Basic user or `client_id`), not yet
/// authenticated: what the fault plan and the ledger go by before
/// authentication has run.
pub fn claimed_client_id(headers: &HeaderMap, params: &RequestParams) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_basic)
        .map(|(id, _)| id)
        .or_else(|| params.single("client_id").ok().flatten().map(str::to_owned))
}

/// The client authentication a request presents, by its shape, before
/// (and whether or not) it succeeds: HTTP Basic, `client_secret` in the
/// form, or `client_id` alone. `None` when it carries none of these.
pub fn presented_auth_method(headers: &HeaderMap, params: &RequestParams) -> Option<AuthMethod> {
    if headers.contains_key(header::AUTHORIZATION) {
        return Some(AuthMethod::ClientSecretBasic);
    }
    match (
        params.single("client_id").ok().flatten(),
        params.single("client_secret").ok().flatten(),
    ) {
        (_, Some(_)) => Some(AuthMethod::ClientSecretPost),
        (Some(_), None) => Some(AuthMethod::None),
        (None, None) => None,
    }
}

/// Authenticates the client of a request. Failures are `invalid_client`
/// (401 with a `Basic` challenge, one description for every cause) or
/// `invalid_request` for ambiguous requests.
pub async fn authenticate(
    issuer: &Issuer,
    headers: &HeaderMap,
    params: &RequestParams,
) -> Result<AuthenticatedClient, OAuthError> {
    let form_id = params.single("client_id")?;
    let form_secret = params.single("client_secret")?;
    let authorization = headers.get(header::AUTHORIZATION);

    let basic_failure = |why: &str| {
        OAuthError::invalid_client(why.to_owned()).with_www_authenticate(basic_challenge(issuer))
    };

    let (client_id, secret, method) = match authorization {
        Some(value) => {
            let (id, secret) = value.to_str().ok().and_then(parse_basic).ok_or_else(|| {
                basic_failure(
                    "the Authorization header is not valid HTTP Basic client authentication",
                )
            })?;
            if form_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "the client used more than one authentication method (Authorization header and client_secret); RFC 6749 2.3 allows one",
                ));
            }
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_request(
                    "client_id does not match the client in the Authorization header",
                ));
            }
            (id, Some(secret), AuthMethod::ClientSecretBasic)
        }
        None => match (form_id, form_secret) {
            (Some(id), Some(secret)) => (
                id.to_owned(),
                Some(secret.to_owned()),
                AuthMethod::ClientSecretPost,
            ),
            (Some(id), None) => (id.to_owned(), None, AuthMethod::None),
            (None, Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "client_secret was sent without client_id",
                ));
            }
            (None, None) => {
                return Err(basic_failure(
                    "no client authentication was included (send client_id, or HTTP Basic)",
                ));
            }
        },
    };

    // One answer for an unknown client, a method it is not registered for
    // and a wrong secret: naming the registered method would tell a caller
    // which client ids exist. The reason goes to the log, for the operator
    // (the ledger has the method presented). The 401 carries a challenge
    // whatever the method (RFC 9110 11.6.1: a 401 MUST send
    // WWW-Authenticate; RFC 6749 5.2 lets it name the schemes supported).
    let fail = |why: String| {
        tracing::info!(issuer = issuer.name(), client_id = %crate::protocol::limits::ledger_value(client_id.clone()), presented = %method, reason = %why, "client authentication failed");
        basic_failure("client authentication failed")
    };

    let client = issuer
        .resolve_client(&client_id)
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !client.accepts(method) {
        return Err(fail(format!(
            "registered for {} authentication, used {}",
            client.accepted_auth_methods(),
            method
        )));
    }
    if let (Some(expected), Some(presented)) = (&client.client_secret, &secret)
        && !expected.matches(presented)
    {
        return Err(fail("wrong secret".to_owned()));
    }
    Ok(AuthenticatedClient { client, method })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_is_form_decoded() {
        // "my%20id:p%3Ass" base64
        let v = format!("Basic {}", STANDARD.encode("my%20id:p%3Ass"));
        assert_eq!(
            parse_basic(&v),
            Some(("my id".to_owned(), "p:ss".to_owned()))
        );
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(
            parse_basic(&format!("basic {}", STANDARD.encode("nocolon"))),
            None
        );
    }
}
