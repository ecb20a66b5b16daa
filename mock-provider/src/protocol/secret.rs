//! Secret values (client secrets, refresh tokens, authorization codes): a
//! type that never prints its value, the random generator that makes them,
//! and the fingerprints and hashes that stand in for them in state and logs.

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::protocol::fingerprint::Fingerprint;
use serde::{Deserialize, Deserializer};

/// A secret string. `Debug` and `Display` print `[redacted]`; the value is
/// only reachable through [`Secret::expose`], so it cannot leak into logs by
/// accident.
///
/// ```
/// use mock_provider::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "Secret([redacted])");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A fresh random secret of `bytes` random bytes, base64url-encoded.
    pub fn generate(bytes: usize) -> Self {
        Self(random_base64url(bytes))
    }

    /// The value itself. Call sites of this are the places a secret leaves.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the value, used as the key under which it is stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// A short fingerprint that is safe to log.
    pub fn fingerprint(&self) -> Fingerprint {
        self.hash().fingerprint()
    }

    /// Compares against a presented value in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(self.0.as_bytes(), presented.as_bytes())
            .is_ok()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// SHA-256 of a token value: what the provider keeps instead of the token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a presented token value.
    pub fn of(value: &str) -> Self {
        let digest = digest::digest(&digest::SHA256, value.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    /// `sha256:` and the first 12 hex digits: enough to correlate log lines,
    /// far too little to recover the token.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_digest(&self.0)
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.fingerprint())
    }
}

/// `bytes` bytes from the system CSPRNG, base64url without padding.
pub fn random_base64url(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The system RNG failing is not something a test server can recover from.
    aws_lc_rs::rand::fill(&mut buf).expect("system random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// base64url (no padding) of raw bytes, as JOSE and PKCE use it.
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_differ_and_have_the_asked_entropy() {
        let a = Secret::generate(32);
        let b = Secret::generate(32);
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
    }

    #[test]
    fn fingerprint_does_not_contain_the_value() {
        let s = Secret::new("abcdef");
        let shown = s.fingerprint().to_string();
        assert!(!shown.contains("abcdef"));
        assert!(shown.starts_with("sha256:"));
        assert_eq!(shown.len(), "sha256:".len() + 12);
    }

    #[test]
    fn matches_is_exact() {
        let s = Secret::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("abd"));
        assert!(!s.matches("ab"));
    }
}
