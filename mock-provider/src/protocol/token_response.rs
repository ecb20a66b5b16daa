//! A successful token response (RFC 6749 5.1), as the token endpoint
//! sends it and a token override may change it.

use serde::{Deserialize, Serialize};

/// A successful token response (RFC 6749 5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// The refresh token, for grants that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope.
    pub scope: String,
}
