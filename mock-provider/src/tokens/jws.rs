//! JWS compact serialization (RFC 7515): building and reading
//! `header.payload.signature` strings.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::protocol::secret::base64url;
use crate::tokens::key_set::KeySet;
use crate::tokens::signing_key::SigningKey;

/// Signs `payload` under `header` with `key`, giving a compact JWS.
pub fn sign(header: &Value, payload: &Value, key: &SigningKey) -> String {
    let signing_input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(payload.to_string().as_bytes())
    );
    let sig = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", base64url(&sig))
}

/// Signs a JSON `payload` as an access token under `key`'s own header
/// (`typ: at+jwt`, its `alg` and `kid`): what `sign` gives for that header,
/// in one buffer, without a JSON tree. Most tokens are made this way.
pub fn sign_access_token(payload: &[u8], key: &SigningKey) -> String {
    let header = key.access_token_header();
    // base64url: 4 characters per 3 bytes; a signature is at most 512 bytes.
    let mut out = String::with_capacity(header.len() + payload.len().div_ceil(3) * 4 + 700);
    out.push_str(header);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut out);
    let sig = key.sign(out.as_bytes());
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&sig, &mut out);
    out
}

/// A compact JWS taken apart, not yet verified.
#[derive(Debug, Clone)]
pub struct DecodedJws {
    /// The protected header.
    pub header: Value,
    /// The payload, parsed as JSON.
    pub payload: Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl DecodedJws {
    /// Splits and decodes a compact JWS. `None` for anything that is not one.
    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
        // `alg: none` tokens end with an empty signature.
        let signature = URL_SAFE_NO_PAD.decode(s).ok()?;
        Some(Self {
            header,
            payload,
            signing_input: format!("{h}.{p}"),
            signature,
        })
    }

    /// Whether one of the keys published at `now` (chosen by `kid` and
    /// `alg`) signed this.
    pub fn verify(&self, keys: &KeySet, now: u64) -> bool {
        let Some(kid) = self.header.get("kid").and_then(Value::as_str) else {
            return false;
        };
        let Some(key) = keys.find(kid, now) else {
            return false;
        };
        self.header.get("alg").and_then(Value::as_str) == Some(key.alg().as_str())
            && key.verify(self.signing_input.as_bytes(), &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::signing_key::SigningAlgorithm;
    use serde_json::json;

    const RSA_PEM: &[u8] = include_bytes!("../../../fixtures/keys/rs256.pem");

    /// The one-buffer path is the JSON-tree path, byte for byte (RS256
    /// signatures are deterministic, so the whole token is compared).
    #[test]
    fn an_access_token_is_the_same_token_either_way() {
        let key = SigningKey::from_pem(SigningAlgorithm::Rs256, RSA_PEM).unwrap();
        let claims = json!({"iss": "http://127.0.0.1:1/default", "sub": "a", "scope": "x y"});
        let header = json!({"typ": "at+jwt", "alg": "RS256", "kid": key.kid()});
        let fast = sign_access_token(claims.to_string().as_bytes(), &key);
        assert_eq!(fast, sign(&header, &claims, &key));
        let decoded = DecodedJws::parse(&fast).unwrap();
        assert_eq!(decoded.header, header);
        assert_eq!(decoded.payload, claims);
    }
}
