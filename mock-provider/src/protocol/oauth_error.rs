//! OAuth error responses: the error codes of RFC 6749 5.2 / 4.1.2.1,
//! RFC 7009, RFC 7591 and RFC 8707, and their rendering as a JSON body with
//! the right status and headers.

use std::fmt;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// An OAuth `error` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// RFC 6749 5.2 / 4.1.2.1
    InvalidRequest,
    /// RFC 6749 5.2
    InvalidClient,
    /// RFC 6749 5.2
    InvalidGrant,
    /// RFC 6749 5.2 / 4.1.2.1
    UnauthorizedClient,
    /// RFC 6749 5.2
    UnsupportedGrantType,
    /// RFC 6749 5.2 / 4.1.2.1
    InvalidScope,
    /// RFC 6749 4.1.2.1
    AccessDenied,
    /// RFC 6749 4.1.2.1
    UnsupportedResponseType,
    /// RFC 6749 4.1.2.1 (and usable at the token endpoint)
    ServerError,
    /// RFC 6749 4.1.2.1
    TemporarilyUnavailable,
    /// RFC 8707 2
    InvalidTarget,
    /// RFC 7009 2.2.1
    UnsupportedTokenType,
    /// RFC 7591 3.2.2
    InvalidRedirectUri,
    /// RFC 7591 3.2.2
    InvalidClientMetadata,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
        }
    }

    /// The status RFC 6749 5.2 gives this code at the token endpoint.
    fn default_status(self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error answer: code, human description, HTTP status and an
/// optional `WWW-Authenticate` challenge.
///
/// ```
/// use mock_provider::{ErrorCode, OAuthError};
/// let e = OAuthError::invalid_grant("refresh token was already used");
/// assert_eq!(e.code(), ErrorCode::InvalidGrant);
/// assert_eq!(e.status(), 400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    code: ErrorCode,
    description: String,
    status: StatusCode,
    www_authenticate: Option<String>,
}

/// The JSON body of an OAuth error (RFC 6749 5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error code.
    pub error: String,
    /// Human-readable text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl OAuthError {
    /// An error with the status RFC 6749 gives its code. Characters RFC
    /// 6749 5.2 does not allow in `error_description` (quotes, backslashes,
    /// anything outside printable ASCII, which echoed input may carry) are
    /// replaced with `?`.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description_charset(description.into()),
            status: code.default_status(),
            www_authenticate: None,
        }
    }

    /// `invalid_request`
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
    /// `invalid_client` (401)
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }
    /// `invalid_grant`
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }
    /// `unauthorized_client`
    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, description)
    }
    /// `invalid_scope`
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }
    /// `invalid_target` (RFC 8707)
    pub fn invalid_target(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidTarget, description)
    }

    /// Overrides the HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds a `WWW-Authenticate` challenge (RFC 6749 5.2 for a failed
    /// `Authorization` header).
    pub fn with_www_authenticate(mut self, challenge: impl Into<String>) -> Self {
        self.www_authenticate = Some(challenge.into());
        self
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The HTTP status as a number.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }
    /// The body as sent.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.as_str().to_owned(),
            error_description: Some(self.description.clone()),
        }
    }
}

/// RFC 6749 5.2: `error_description` is `%x20-21 / %x23-5B / %x5D-7E`.
fn description_charset(text: String) -> String {
    let allowed = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if text.chars().all(allowed) {
        return text;
    }
    text.chars()
        .map(|c| if allowed(c) { c } else { '?' })
        .collect()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(challenge) = self
            .www_authenticate
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_to_the_rfc_charset() {
        let e = OAuthError::invalid_request("grant_type `caf\u{e9}\"\\` is not supported");
        assert_eq!(e.description(), "grant_type `caf???` is not supported");
    }
}
