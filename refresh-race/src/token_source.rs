//! What the user brings: the [`TokenSource`] trait their upstream token
//! manager implements, and the [`UpstreamGrant`] the harness seeds for
//! every case and hands to their factory.

use std::fmt;
use std::future::Future;

use url::Url;

/// An upstream token manager under test: the part of it an API client
/// uses.
///
/// The harness calls it from many tasks at once (hence `Send + Sync`), and
/// bounds every call with a timeout: a call that does not answer is a
/// violation, not a hang. (A call that blocks its thread instead of
/// awaiting cannot be interrupted by any timeout: keep blocking work off
/// the async threads, as any tokio code must.)
pub trait TokenSource: Send + Sync + 'static {
    /// What the manager answers when it has no token to give (e.g. the
    /// grant is gone, or the token endpoint is unavailable).
    type Error: fmt::Display + Send;

    /// A valid access token for the upstream API, refreshing if needed.
    fn access_token(&self) -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// The upstream API refused `rejected` (401): give a replacement.
    fn replace_rejected(
        &self,
        rejected: &str,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
}

/// The grant the harness seeded for one case, at a fresh confidential
/// client of an issuer whose refresh tokens are single-use and rotate
/// (presenting a consumed one revokes the whole grant).
///
/// The manager starts with the refresh token only: no access token yet.
/// `Debug` never shows the client secret or the refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamGrant {
    /// The issuer identifier.
    pub issuer: Url,
    /// The token endpoint (refresh with `grant_type=refresh_token`).
    pub token_url: Url,
    /// The manager's client at the issuer.
    pub client_id: String,
    /// Its secret, for `client_secret_basic` (RFC 6749 2.3.1).
    pub client_secret: String,
    /// The refresh token to start from.
    pub refresh_token: String,
    /// The upstream API: it accepts only this issuer's live access tokens
    /// and answers 401 otherwise.
    pub api_url: Url,
}

impl fmt::Debug for UpstreamGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamGrant")
            .field("issuer", &self.issuer.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field(
                "refresh_token",
                &mock_provider::TokenHash::of(&self.refresh_token).fingerprint(),
            )
            .field("api_url", &self.api_url.as_str())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secrets() {
        let grant = UpstreamGrant {
            issuer: Url::parse("http://127.0.0.1:1/upstream").unwrap(),
            token_url: Url::parse("http://127.0.0.1:1/upstream/token").unwrap(),
            client_id: "c".into(),
            client_secret: "client-secret-value".into(),
            refresh_token: "refresh-token-value".into(),
            api_url: Url::parse("http://127.0.0.1:1/upstream/api").unwrap(),
        };
        let shown = format!("{grant:?}");
        assert!(!shown.contains("client-secret-value"), "{shown}");
        assert!(!shown.contains("refresh-token-value"), "{shown}");
        assert!(shown.contains("sha256:"), "{shown}");
    }
}
