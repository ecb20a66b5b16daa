//! An issuer's keys: the one that signs now, the ones still published in
//! the JWKS (RFC 7517) so tokens they signed keep verifying (until a grace
//! period ends), the ones rotated out, and a stranger key that was never
//! published (for the unknown-`kid` signing fault).

use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};

use crate::tokens::signing_key::{SigningAlgorithm, SigningKey};

#[derive(Debug, Clone)]
struct Published {
    key: Arc<SigningKey>,
    /// Unix time after which it leaves the JWKS; `None`: for good.
    until: Option<u64>,
}

/// The keys of one issuer. Immutable: rotation makes a new set.
#[derive(Debug)]
pub struct KeySet {
    active: Arc<SigningKey>,
    published: Vec<Published>,
    retired: Vec<Arc<SigningKey>>,
    stranger: OnceLock<Option<Arc<SigningKey>>>,
}

impl KeySet {
    /// A set with a single key.
    pub fn new(active: SigningKey) -> Self {
        let active = Arc::new(active);
        Self {
            published: vec![Published {
                key: active.clone(),
                until: None,
            }],
            active,
            retired: Vec::new(),
            stranger: OnceLock::new(),
        }
    }

    /// A set where `active` signs and `staged` are published beside it,
    /// signing only tokens that ask for their `kid`.
    pub fn with_staged(active: SigningKey, staged: Vec<SigningKey>) -> Self {
        let mut set = Self::new(active);
        set.published
            .extend(staged.into_iter().map(|key| Published {
                key: Arc::new(key),
                until: None,
            }));
        set
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> &Arc<SigningKey> {
        &self.active
    }

    /// The algorithm of the active key.
    pub fn alg(&self) -> SigningAlgorithm {
        self.active.alg()
    }

    /// A key published at `now`, by `kid`.
    pub fn find(&self, kid: &str, now: u64) -> Option<&Arc<SigningKey>> {
        self.published
            .iter()
            .find(|p| p.key.kid() == kid && p.until.is_none_or(|u| now < u))
            .map(|p| &p.key)
    }

    /// The JWKS document at `now`.
    pub fn jwks(&self, now: u64) -> Value {
        let keys: Vec<Value> = self
            .published
            .iter()
            .filter(|p| p.until.is_none_or(|u| now < u))
            .map(|p| p.key.public_jwk().clone())
            .collect();
        json!({ "keys": keys })
    }

    /// The `kid`s published at `now`, active first.
    pub fn published_kids(&self, now: u64) -> Vec<String> {
        self.published
            .iter()
            .filter(|p| p.until.is_none_or(|u| now < u))
            .map(|p| p.key.kid().to_owned())
            .collect()
    }

    /// A new set where `next` signs. The old active key stays published
    /// for `grace_secs` (from `now`), or leaves the JWKS at once when
    /// `grace_secs` is `None`.
    pub fn rotated(&self, next: SigningKey, grace_secs: Option<u64>, now: u64) -> Self {
        let next = Arc::new(next);
        let mut published = vec![Published {
            key: next.clone(),
            until: None,
        }];
        let mut retired = self.retired.clone();
        for p in &self.published {
            // Clocks tick in whole seconds here: one more second makes sure
            // a grace period is never shorter than asked.
            let until = if Arc::ptr_eq(&p.key, &self.active) {
                Some(match grace_secs {
                    Some(g) => now.saturating_add(g).saturating_add(1),
                    None => now,
                })
            } else {
                p.until
            };
            match until {
                Some(u) if u <= now => retired.push(p.key.clone()),
                _ => published.push(Published {
                    key: p.key.clone(),
                    until,
                }),
            }
        }
        Self {
            active: next,
            published,
            retired,
            stranger: OnceLock::new(),
        }
    }

    /// The most recently retired key (out of the JWKS), if any. Keys whose
    /// grace period ran out count as retired.
    pub fn retired(&self, now: u64) -> Option<Arc<SigningKey>> {
        self.published
            .iter()
            .filter(|p| p.until.is_some_and(|u| u <= now))
            .map(|p| p.key.clone())
            .next_back()
            .or_else(|| self.retired.last().cloned())
    }

    /// A key of the same algorithm that was never published; made on first
    /// use. `None` only if key generation fails.
    pub fn stranger(&self) -> Option<Arc<SigningKey>> {
        self.stranger
            .get_or_init(|| SigningKey::generate(self.alg()).ok().map(Arc::new))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es() -> SigningKey {
        SigningKey::generate(SigningAlgorithm::Es256).unwrap()
    }

    #[test]
    fn rotation_with_grace_keeps_old_key_until_it_ends() {
        let set = KeySet::new(es());
        let old = set.active().kid().to_owned();
        let next = set.rotated(es(), Some(60), 1000);
        assert_ne!(next.active().kid(), old);
        assert_eq!(next.published_kids(1000).len(), 2);
        assert!(next.find(&old, 1060).is_some(), "the whole grace period");
        assert!(next.find(&old, 1061).is_none());
        assert_eq!(next.retired(1061).unwrap().kid(), old);
    }

    #[test]
    fn rotation_without_grace_drops_old_key() {
        let set = KeySet::new(es());
        let old = set.active().kid().to_owned();
        let next = set.rotated(es(), None, 1000);
        assert_eq!(
            next.published_kids(1000),
            vec![next.active().kid().to_owned()]
        );
        assert!(next.find(&old, 1000).is_none());
        assert_eq!(next.retired(1000).unwrap().kid(), old);
    }

    #[test]
    fn stranger_is_never_published() {
        let set = KeySet::new(es());
        let s = set.stranger().unwrap();
        assert!(set.find(s.kid(), 0).is_none());
        assert_eq!(set.stranger().unwrap().kid(), s.kid(), "made once");
    }
}
