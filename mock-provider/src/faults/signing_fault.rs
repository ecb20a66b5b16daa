//! Signing faults: access tokens that look right but must be refused by a
//! resource server that validates JWTs properly (RFC 8725 3.1-3.2, RFC 9068
//! 4): unknown `kid`, corrupted signature, `alg: none`, HS256 keyed with the
//! public key (algorithm confusion), a key rotated out of the JWKS.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::protocol::secret::base64url;
use crate::tokens::jws;
use crate::tokens::key_set::KeySet;

/// How an access token is (mis)signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningFault {
    /// Signed by a key that is not published, with a `kid` nobody knows.
    UnknownKid,
    /// A correct header and payload with a corrupted signature.
    BadSignature,
    /// `alg: none` and no signature (RFC 7519 6).
    AlgNone,
    /// `alg: HS256`, HMAC keyed with the issuer's PEM public key: the
    /// algorithm-confusion attack.
    Hs256WithPublicKey,
    /// Signed by a key that was rotated out of the JWKS (made and retired
    /// on the spot if the issuer never rotated).
    RotatedOutKey,
}

/// What an honest signature uses: the key (the active one unless a
/// published `kid` was asked for) and header parameters beyond `typ`,
/// `alg` and `kid`.
#[derive(Debug, Clone, Default)]
pub struct SignWith {
    /// Sign with the published key of this `kid`.
    pub kid: Option<String>,
    /// Extra (or replacing) header parameters; `alg` and `kid` stay ours.
    pub header: Map<String, Value>,
}

/// Signs `payload` as an access token under `keys`, with `fault` if any.
/// A `with.kid` that is not published at `now` signs with the active key.
pub fn sign(
    payload: &Value,
    keys: &KeySet,
    fault: Option<SigningFault>,
    now: u64,
    with: &SignWith,
) -> String {
    let active = with
        .kid
        .as_deref()
        .and_then(|kid| keys.find(kid, now))
        .unwrap_or(keys.active());
    let header = |kid: &str, alg: &str| {
        let mut h = json!({"typ": "at+jwt", "alg": alg, "kid": kid});
        if let Some(obj) = h.as_object_mut() {
            for (k, v) in &with.header {
                if k != "alg" && k != "kid" {
                    obj.insert(k.clone(), v.clone());
                }
            }
        }
        h
    };
    match fault {
        None => jws::sign(
            &header(active.kid(), active.alg().as_str()),
            payload,
            active,
        ),
        Some(SigningFault::UnknownKid) => match keys.stranger() {
            Some(k) => jws::sign(&header(k.kid(), k.alg().as_str()), payload, &k),
            None => corrupt(&jws::sign(
                &header("unknown", active.alg().as_str()),
                payload,
                active,
            )),
        },
        Some(SigningFault::BadSignature) => corrupt(&jws::sign(
            &header(active.kid(), active.alg().as_str()),
            payload,
            active,
        )),
        Some(SigningFault::AlgNone) => {
            let h = json!({"typ": "at+jwt", "alg": "none"});
            format!(
                "{}.{}.",
                base64url(h.to_string().as_bytes()),
                base64url(payload.to_string().as_bytes())
            )
        }
        Some(SigningFault::Hs256WithPublicKey) => {
            let h = header(active.kid(), "HS256");
            let input = format!(
                "{}.{}",
                base64url(h.to_string().as_bytes()),
                base64url(payload.to_string().as_bytes())
            );
            let key = hmac::Key::new(hmac::HMAC_SHA256, active.public_key_pem().as_bytes());
            let tag = hmac::sign(&key, input.as_bytes());
            format!("{input}.{}", base64url(tag.as_ref()))
        }
        Some(SigningFault::RotatedOutKey) => {
            let k = keys.retired(now).or_else(|| keys.stranger());
            match k {
                Some(k) => jws::sign(&header(k.kid(), k.alg().as_str()), payload, &k),
                None => corrupt(&jws::sign(
                    &header(active.kid(), active.alg().as_str()),
                    payload,
                    active,
                )),
            }
        }
    }
}

/// Flips bits in the signature part of a compact JWS.
fn corrupt(token: &str) -> String {
    let Some((input, sig)) = token.rsplit_once('.') else {
        return token.to_owned();
    };
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap_or_default();
    if let Some(b) = bytes.first_mut() {
        *b ^= 0x5a;
    }
    format!("{input}.{}", base64url(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::jws::DecodedJws;
    use crate::tokens::signing_key::{SigningAlgorithm, SigningKey};

    #[test]
    fn only_the_honest_token_verifies() {
        let keys = KeySet::new(SigningKey::generate(SigningAlgorithm::Es256).unwrap());
        let payload = json!({"sub": "a"});
        let good = sign(&payload, &keys, None, 0, &SignWith::default());
        assert!(DecodedJws::parse(&good).unwrap().verify(&keys, 0));
        for fault in [
            SigningFault::UnknownKid,
            SigningFault::BadSignature,
            SigningFault::AlgNone,
            SigningFault::Hs256WithPublicKey,
            SigningFault::RotatedOutKey,
        ] {
            let t = sign(&payload, &keys, Some(fault), 0, &SignWith::default());
            let parsed = DecodedJws::parse(&t).unwrap_or_else(|| panic!("{fault:?} parses"));
            assert!(!parsed.verify(&keys, 0), "{fault:?} must not verify");
            assert_eq!(parsed.payload, payload);
        }
        let none = sign(
            &payload,
            &keys,
            Some(SigningFault::AlgNone),
            0,
            &SignWith::default(),
        );
        assert!(none.ends_with('.'));
    }
}
