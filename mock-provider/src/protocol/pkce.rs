//! PKCE (RFC 7636; required for every client by OAuth 2.1 4.1.1 and the MCP
//! authorization spec): the S256 method only, challenge and verifier syntax,
//! and the check at the token endpoint.

use crate::protocol::secret::{base64url, sha256};

/// Why an authorization request's PKCE parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// No `code_challenge` at all.
    #[error("code_challenge is required (PKCE, OAuth 2.1 4.1.1)")]
    MissingChallenge,
    /// `plain`, an absent method (which RFC 7636 4.3 defaults to `plain`),
    /// or something else.
    #[error("code_challenge_method must be S256, got `{0}`")]
    UnsupportedMethod(String),
    /// Not 43 characters of base64url (the length of a SHA-256 digest).
    #[error("code_challenge must be the 43-character base64url SHA-256 of the verifier")]
    MalformedChallenge,
}

/// Checks the authorization request's `code_challenge` and
/// `code_challenge_method`.
pub fn validate_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<(), PkceError> {
    let challenge = challenge.ok_or(PkceError::MissingChallenge)?;
    match method {
        Some("S256") => {}
        Some(other) => return Err(PkceError::UnsupportedMethod(other.to_owned())),
        None => {
            return Err(PkceError::UnsupportedMethod(
                "plain (the default)".to_owned(),
            ));
        }
    }
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(PkceError::MalformedChallenge);
    }
    Ok(())
}

/// Whether a verifier has RFC 7636 4.1's form: 43 to 128 unreserved
/// characters.
pub fn verifier_is_well_formed(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of a verifier.
pub fn s256_challenge(verifier: &str) -> String {
    base64url(&sha256(verifier.as_bytes()))
}

/// Whether `verifier` matches the S256 `challenge`.
pub fn verify(verifier: &str, challenge: &str) -> bool {
    verifier_is_well_formed(verifier)
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            s256_challenge(verifier).as_bytes(),
            challenge.as_bytes(),
        )
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256_challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(verify(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn plain_and_missing_method_are_refused() {
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(validate_challenge(Some(c), Some("plain")).is_err());
        assert!(validate_challenge(Some(c), None).is_err());
        assert!(validate_challenge(None, Some("S256")).is_err());
        assert!(validate_challenge(Some("short"), Some("S256")).is_err());
        assert!(validate_challenge(Some(c), Some("S256")).is_ok());
    }

    #[test]
    fn short_verifier_is_refused_even_if_hash_matches() {
        let v = "abc";
        assert!(!verify(v, &s256_challenge(v)));
    }
}
