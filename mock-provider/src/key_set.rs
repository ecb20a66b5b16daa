//! An issuer's keys: the one that signs now and the ones still published in
//! the JWKS (RFC 7517) so tokens they signed keep verifying.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::signing_key::SigningKey;

/// The active key and the keys still published beside it.
#[derive(Debug, Clone)]
pub struct KeySet {
    active: Arc<SigningKey>,
    published: Vec<Arc<SigningKey>>,
}

impl KeySet {
    /// A set with a single key.
    pub fn new(active: SigningKey) -> Self {
        let active = Arc::new(active);
        Self {
            published: vec![active.clone()],
            active,
        }
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &Arc<SigningKey> {
        &self.active
    }

    /// A published key by `kid`.
    pub fn find(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.published.iter().find(|k| k.kid() == kid)
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.published.iter().map(|k| k.public_jwk().clone()).collect::<Vec<_>>() })
    }
}
