//! Token overrides: the fault that changes what an issued access token
//! says (`aud`, `iss`, lifetime, `nbf`/`iat`, scope, extra claims) and what
//! the token response carries (`refresh_token`, `expires_in`,
//! `token_type`), so a test can hand a server exactly the wrong token it
//! wants to see refused.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::protocol::token_response::TokenResponse;

/// Changes made to an issued access token and its token response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenOverride {
    /// Replace `aud` with this value (a string or an array).
    #[serde(default)]
    pub aud: Option<Value>,
    /// Leave `aud` out.
    #[serde(default)]
    pub remove_aud: bool,
    /// Replace `iss`.
    #[serde(default)]
    pub iss: Option<String>,
    /// Lifetime in seconds from now; zero or negative makes it already
    /// expired.
    #[serde(default)]
    pub ttl_secs: Option<i64>,
    /// Set `nbf` this many seconds in the future.
    #[serde(default)]
    pub nbf_in_secs: Option<i64>,
    /// Move `iat` this many seconds into the future.
    #[serde(default)]
    pub iat_in_secs: Option<i64>,
    /// Replace the granted scope (fewer scopes than asked).
    #[serde(default)]
    pub scope: Option<String>,
    /// Leave `refresh_token` out of the token response.
    #[serde(default)]
    pub no_refresh_token: bool,
    /// Leave `expires_in` out of the token response.
    #[serde(default)]
    pub no_expires_in: bool,
    /// Replace `token_type` in the token response.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Add or replace claims.
    #[serde(default)]
    pub extra_claims: Map<String, Value>,
    /// Add or replace JOSE header parameters (`jku`, `x5u`, an embedded
    /// `jwk`, another `typ`...): RFC 8725 3.10's tokens that point a
    /// careless verifier at a key of the attacker's choosing. `alg` and
    /// `kid` are not taken from here.
    #[serde(default)]
    pub header: Map<String, Value>,
    /// Sign with the published key that has this `kid` (a staged key, or
    /// one kept for a grace period) instead of the active one.
    #[serde(default)]
    pub kid: Option<String>,
}

impl TokenOverride {
    /// Applies the claim changes to a JWT payload issued at `now`.
    pub fn apply_to_claims(&self, claims: &mut Value, now: u64) {
        let Some(obj) = claims.as_object_mut() else {
            return;
        };
        if self.remove_aud {
            obj.remove("aud");
        }
        if let Some(aud) = &self.aud {
            obj.insert("aud".into(), aud.clone());
        }
        if let Some(iss) = &self.iss {
            obj.insert("iss".into(), json!(iss));
        }
        if let Some(ttl) = self.ttl_secs {
            obj.insert("exp".into(), json!(offset(now, ttl)));
        }
        if let Some(n) = self.nbf_in_secs {
            obj.insert("nbf".into(), json!(offset(now, n)));
        }
        if let Some(n) = self.iat_in_secs {
            obj.insert("iat".into(), json!(offset(now, n)));
        }
        if let Some(scope) = &self.scope {
            obj.insert("scope".into(), json!(scope));
        }
        for (k, v) in &self.extra_claims {
            obj.insert(k.clone(), v.clone());
        }
    }

    /// Applies the response changes.
    pub fn apply_to_response(&self, response: &mut TokenResponse) {
        if self.no_refresh_token {
            response.refresh_token = None;
        }
        if self.no_expires_in {
            response.expires_in = None;
        } else if let Some(ttl) = self.ttl_secs {
            response.expires_in = Some(ttl.max(0) as u64);
        }
        if let Some(t) = &self.token_type {
            response.token_type = t.clone();
        }
        if let Some(scope) = &self.scope {
            response.scope = scope.clone();
        }
    }
}

fn offset(now: u64, secs: i64) -> u64 {
    if secs >= 0 {
        now.saturating_add(secs as u64)
    } else {
        now.saturating_sub(secs.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_change_as_asked() {
        let mut claims =
            json!({"aud": "https://a", "iss": "x", "exp": 10, "iat": 5, "scope": "a b"});
        let o = TokenOverride {
            remove_aud: true,
            iss: Some("https://evil".into()),
            ttl_secs: Some(-60),
            nbf_in_secs: Some(300),
            scope: Some("a".into()),
            ..Default::default()
        };
        o.apply_to_claims(&mut claims, 1000);
        assert!(claims.get("aud").is_none());
        assert_eq!(claims["iss"], "https://evil");
        assert_eq!(claims["exp"], 940);
        assert_eq!(claims["nbf"], 1300);
        assert_eq!(claims["scope"], "a");
    }
}
