//! Access tokens: JWTs in the RFC 9068 profile (`typ: at+jwt`; `iss`,
//! `sub`, `aud`, `exp`, `iat`, `jti`, `client_id`, `scope`), their issuance
//! and the verification the provider's own introspection does.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::tokens::jws::{self, DecodedJws};
use crate::tokens::key_set::KeySet;
use crate::tokens::signing_key::SigningKey;

/// The `aud` claim: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience (a string on the wire).
    One(String),
    /// Several (an array).
    Many(Vec<String>),
}

impl Audience {
    /// A string for one value, an array for several.
    pub fn from_list(mut list: Vec<String>) -> Self {
        if list.len() == 1 {
            Self::One(list.remove(0))
        } else {
            Self::Many(list)
        }
    }

    /// The audiences as a list.
    pub fn to_list(&self) -> Vec<String> {
        match self {
            Self::One(a) => vec![a.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// The claims of an access token (RFC 9068 2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer identifier.
    pub iss: String,
    /// Subject: the user, or the client for client_credentials (RFC 9068 2.2).
    pub sub: String,
    /// Audience: the resource(s) the token is for (RFC 8707).
    pub aud: Audience,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Unique id.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-delimited scopes.
    pub scope: String,
    /// When the user authenticated, for user grants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// Extra claims from the issuer's configuration.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The names the provider sets itself; configuration may not override them.
pub const REGISTERED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "jti",
    "client_id",
    "scope",
    "auth_time",
];

impl AccessTokenClaims {
    /// Signs the claims into a compact JWT with header `typ: at+jwt`.
    pub fn sign(&self, key: &SigningKey) -> String {
        // Claims of strings, numbers and a JSON map always serialize.
        let payload = if self
            .extra
            .keys()
            .any(|k| REGISTERED_CLAIMS.contains(&k.as_str()))
        {
            // Written straight out, an extra claim of a registered name
            // would repeat the member; through a map it replaces it.
            serde_json::to_vec(&serde_json::to_value(self).unwrap_or(Value::Null))
        } else {
            serde_json::to_vec(self)
        };
        jws::sign_access_token(&payload.unwrap_or_default(), key)
    }

    /// Verifies a token against the keys published at `now` and reads its
    /// claims. `None` when it is not a JWT, not signed by one of the keys,
    /// or not this profile.
    pub fn verify(token: &str, keys: &KeySet, now: u64) -> Option<Self> {
        let jws = DecodedJws::parse(token)?;
        if !jws.verify(keys, now) {
            return None;
        }
        serde_json::from_value(jws.payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::jws::DecodedJws;
    use crate::tokens::signing_key::SigningAlgorithm;

    /// An extra claim named like a registered one replaces it instead of
    /// repeating the member (which JSON parsers read differently).
    #[test]
    fn an_extra_claim_of_a_registered_name_is_not_repeated() {
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let mut extra = Map::new();
        extra.insert("sub".into(), Value::from("other"));
        let claims = AccessTokenClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: Audience::One("a".into()),
            exp: 2,
            iat: 1,
            jti: "j".into(),
            client_id: "c".into(),
            scope: "x".into(),
            auth_time: None,
            extra,
        };
        let token = claims.sign(&key);
        let payload = token.split('.').nth(1).unwrap();
        let json = String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(json.matches("\"sub\"").count(), 1, "{json}");
        assert_eq!(DecodedJws::parse(&token).unwrap().payload["sub"], "other");
    }
}
