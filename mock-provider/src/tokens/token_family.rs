//! Token families: every refresh and access token descending from one grant
//! (an authorization code or a seeded grant), refresh token rotation, reuse
//! detection and revocation.
//!
//! This is a plain state machine with no clock and no I/O: callers pass
//! `now` and hold it behind one lock, which is what makes redemption
//! exactly-once under any concurrency.
//!
//! Rules enforced here:
//! - OAuth 2.1 4.3.1 / RFC 9700 4.14.2: a rotated refresh token is
//!   single-use; presenting a consumed one revokes the whole family.
//! - RFC 6749 6: a refresh token is bound to the client it was issued to.
//! - RFC 6749 10.5 / 4.1.2: what is revoked never works again.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::num::NonZeroU64;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use serde::Serialize;

use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::{TokenHash, sha256};

/// The identity of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FamilyId(pub u64);

impl fmt::Display for FamilyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "family-{}", self.0)
    }
}

pub use crate::tokens::refresh_policy::RefreshPolicy;

/// What a family's tokens grant: fixed when the family starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The client the tokens were issued to.
    pub client_id: String,
    /// The user.
    pub subject: String,
    /// The scopes granted; refreshes may ask for fewer, never more.
    pub scope: ScopeSet,
    /// The resources (RFC 8707) granted; they become `aud`.
    pub resources: Vec<String>,
    /// When the user authorized the grant (seconds since the epoch).
    pub auth_time: u64,
}

/// Why a family was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationCause {
    /// A consumed refresh token was presented again.
    RefreshTokenReuse,
    /// The authorization code that started it was redeemed twice.
    AuthorizationCodeReuse,
    /// Revoked on request (RFC 7009, or the admin API).
    Requested,
}

/// Why a refresh token redemption failed. Every variant is `invalid_grant`
/// on the wire; they differ in what the provider records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RedeemError {
    /// No such refresh token.
    #[error("refresh token is unknown")]
    Unknown,
    /// Past its expiry.
    #[error("refresh token has expired")]
    Expired,
    /// Issued to another client (RFC 6749 6).
    #[error("refresh token was issued to another client")]
    ClientMismatch,
    /// Its family was revoked earlier.
    #[error("refresh token belongs to a revoked grant")]
    FamilyRevoked(FamilyId),
    /// It was already used: this use revoked the family.
    #[error("refresh token was already used; the grant has been revoked")]
    Reused(FamilyId),
}

/// A successful redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    /// The family.
    pub family: FamilyId,
    /// What it grants.
    pub grant: Grant,
    /// Whether the presented token was replaced by the new one; `false`
    /// under [`RefreshPolicy::Reusable`] or without a successor, where the
    /// client keeps using it.
    pub rotated: bool,
    /// Whether this was a redemption of a consumed token inside its grace
    /// period.
    pub within_grace: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefreshState {
    Active,
    Consumed { at: u64 },
    Revoked,
}

#[derive(Debug, Clone)]
struct RefreshRecord {
    family: FamilyId,
    expires_at: u64,
    state: RefreshState,
}

#[derive(Debug, Clone)]
struct Family {
    grant: Grant,
    policy: RefreshPolicy,
    revoked: Option<RevocationCause>,
    refresh_tokens: Vec<TokenHash>,
    access_tokens: Vec<JtiKey>,
}

/// An issued access token, by `jti`. Every token is recorded until it
/// expires (an hour by default), so under load these records are a large
/// part of the provider's memory: 56 bytes, the client and user shared
/// with every other token of theirs (they were two `String`s, 24 bytes and
/// an allocation each, per token).
#[derive(Debug, Clone)]
struct AccessRecord {
    /// Family ids start at 1, so `NonZeroU64` keeps the `Option` at 8 bytes.
    family: Option<NonZeroU64>,
    client_id: Arc<str>,
    subject: Arc<str>,
    expires_at: u64,
    revoked: bool,
}

impl AccessRecord {
    fn family(&self) -> Option<FamilyId> {
        self.family.map(|f| FamilyId(f.get()))
    }
}

/// An access token's `jti` as a map key: the 16 random bytes behind the 22
/// base64url characters the provider generates (a `String` key was 24
/// bytes and an allocation per token). Any other `jti` (RFC 9068 allows
/// any string) is keyed by the first 16 bytes of its SHA-256; a collision
/// with another key is a 2^-128 event, not a concern for a test server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct JtiKey([u8; 16]);

impl JtiKey {
    fn of(jti: &str) -> Self {
        let mut key = [0u8; 16];
        // The decoder's size check wants room for its estimate (18 bytes);
        // it refuses non-canonical trailing bits, so two different strings
        // never decode to the same bytes.
        let mut decoded = [0u8; 18];
        if jti.len() == 22 && URL_SAFE_NO_PAD.decode_slice(jti, &mut decoded) == Ok(16) {
            key.copy_from_slice(&decoded[..16]);
        } else {
            key.copy_from_slice(&sha256(jti.as_bytes())[..16]);
        }
        Self(key)
    }
}

/// A snapshot of a refresh token, for introspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenView {
    /// Its family.
    pub family: FamilyId,
    /// What the family grants.
    pub grant: Grant,
    /// Usable right now.
    pub active: bool,
    /// Expiry.
    pub expires_at: u64,
}

/// A family at a glance, for the admin state page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilySummary {
    /// Its id.
    pub id: FamilyId,
    /// What it grants (client, user, scope, resources, auth time).
    pub grant: Grant,
    /// Its refresh policy.
    pub policy: RefreshPolicy,
    /// Why it was revoked, if it was.
    pub revoked: Option<RevocationCause>,
    /// Refresh tokens issued in it and still remembered (each rotation
    /// adds one).
    pub refresh_tokens: usize,
    /// Access tokens issued in it and still remembered.
    pub access_tokens: usize,
}

impl FamilySummary {
    /// How many times its refresh token rotated.
    pub fn rotations(&self) -> usize {
        self.refresh_tokens.saturating_sub(1)
    }
}

/// Every family of one issuer.
#[derive(Debug, Default)]
pub struct TokenFamilies {
    next_id: u64,
    families: HashMap<FamilyId, Family>,
    refresh: HashMap<TokenHash, RefreshRecord>,
    access: HashMap<JtiKey, AccessRecord>,
    revoked_access: HashMap<JtiKey, u64>,
    /// One copy of each client id and subject the access records share;
    /// swept in [`TokenFamilies::prune`].
    names: HashSet<Arc<str>>,
}

impl TokenFamilies {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a family for a new grant.
    pub fn start(&mut self, grant: Grant, policy: RefreshPolicy) -> FamilyId {
        self.next_id += 1;
        let id = FamilyId(self.next_id);
        self.families.insert(
            id,
            Family {
                grant,
                policy,
                revoked: None,
                refresh_tokens: Vec::new(),
                access_tokens: Vec::new(),
            },
        );
        id
    }

    /// Records a refresh token issued in `family`.
    pub fn add_refresh_token(&mut self, family: FamilyId, hash: TokenHash, expires_at: u64) {
        if let Some(f) = self.families.get_mut(&family) {
            f.refresh_tokens.push(hash);
            self.refresh.insert(
                hash,
                RefreshRecord {
                    family,
                    expires_at,
                    state: RefreshState::Active,
                },
            );
        }
    }

    /// Records an issued access token (by `jti`), in `family` if it came
    /// from a grant with one.
    pub fn add_access_token(
        &mut self,
        family: Option<FamilyId>,
        jti: &str,
        client_id: &str,
        subject: &str,
        expires_at: u64,
    ) {
        let key = JtiKey::of(jti);
        if let Some(f) = family.and_then(|f| self.families.get_mut(&f)) {
            f.access_tokens.push(key);
        }
        let client_id = self.name(client_id);
        let subject = self.name(subject);
        self.access.insert(
            key,
            AccessRecord {
                family: family.and_then(|f| NonZeroU64::new(f.0)),
                client_id,
                subject,
                expires_at,
                revoked: false,
            },
        );
    }

    /// The shared copy of a client id or subject.
    fn name(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.names.get(name) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(shared.clone());
        shared
    }

    /// What a redemption of `presented` by `client_id` at `now` would do,
    /// without doing it: `Ok(within_grace)` when it would succeed.
    fn decide(
        &self,
        presented: &TokenHash,
        client_id: &str,
        now: u64,
    ) -> Result<(FamilyId, bool), RedeemError> {
        let record = self.refresh.get(presented).ok_or(RedeemError::Unknown)?;
        let family_id = record.family;
        let family = self.families.get(&family_id).ok_or(RedeemError::Unknown)?;
        if family.grant.client_id != client_id {
            return Err(RedeemError::ClientMismatch);
        }
        // A consumed token is reuse whatever became of its family since:
        // every such presentation is counted as one.
        let within_grace = match (record.state, family.policy) {
            (RefreshState::Consumed { at }, RefreshPolicy::Grace { seconds })
                if now <= at.saturating_add(seconds) =>
            {
                true
            }
            (RefreshState::Consumed { .. }, _) => return Err(RedeemError::Reused(family_id)),
            _ => false,
        };
        if family.revoked.is_some() || record.state == RefreshState::Revoked {
            return Err(RedeemError::FamilyRevoked(family_id));
        }
        if now >= record.expires_at {
            return Err(RedeemError::Expired);
        }
        Ok((family_id, within_grace))
    }

    /// The grant a redemption would be made under, if it would succeed; so
    /// that a caller can refuse a bad request without consuming the token.
    pub fn redeemable_grant(
        &self,
        presented: &TokenHash,
        client_id: &str,
        now: u64,
    ) -> Option<&Grant> {
        let (family, _) = self.decide(presented, client_id, now).ok()?;
        self.families.get(&family).map(|f| &f.grant)
    }

    /// Redeems a refresh token, atomically: on success under a rotating
    /// policy the presented token is consumed and `successor` (hash and
    /// expiry) becomes the family's new active token; the caller issues it.
    /// Without a successor (or under `reusable`) nothing rotates. Presenting a
    /// consumed token (outside a grace period) revokes the family.
    pub fn redeem(
        &mut self,
        presented: &TokenHash,
        client_id: &str,
        now: u64,
        successor: Option<(TokenHash, u64)>,
    ) -> Result<Redemption, RedeemError> {
        let (family_id, within_grace) = match self.decide(presented, client_id, now) {
            Ok(d) => d,
            Err(RedeemError::Reused(family)) => {
                self.revoke_family(family, RevocationCause::RefreshTokenReuse);
                return Err(RedeemError::Reused(family));
            }
            Err(e) => return Err(e),
        };
        let Some(family) = self.families.get(&family_id) else {
            return Err(RedeemError::Unknown);
        };
        let policy = family.policy;
        let grant = family.grant.clone();
        let successor = successor.filter(|_| policy != RefreshPolicy::Reusable);
        let rotated = successor.is_some();
        if let Some((hash, expires_at)) = successor {
            if !within_grace && let Some(r) = self.refresh.get_mut(presented) {
                r.state = RefreshState::Consumed { at: now };
            }
            self.add_refresh_token(family_id, hash, expires_at);
        }
        Ok(Redemption {
            family: family_id,
            grant,
            rotated,
            within_grace,
        })
    }

    /// Revokes a family: every refresh and access token in it.
    pub fn revoke_family(&mut self, family: FamilyId, cause: RevocationCause) {
        if let Some(f) = self.families.get_mut(&family)
            && f.revoked.is_none()
        {
            f.revoked = Some(cause);
        }
    }

    /// Revokes the family of a refresh token (RFC 7009 2.1: revoking a
    /// refresh token revokes what was issued from the same grant).
    pub fn revoke_refresh_token(&mut self, hash: &TokenHash) -> Option<FamilyId> {
        let family = self.refresh.get(hash)?.family;
        if let Some(r) = self.refresh.get_mut(hash) {
            r.state = RefreshState::Revoked;
        }
        self.revoke_family(family, RevocationCause::Requested);
        Some(family)
    }

    /// Revokes one access token.
    pub fn revoke_access_token(&mut self, jti: &str, expires_at: u64) {
        let key = JtiKey::of(jti);
        match self.access.get_mut(&key) {
            Some(r) => r.revoked = true,
            None => {
                self.revoked_access.insert(key, expires_at);
            }
        }
    }

    /// Whether an access token (by `jti`) has been revoked, on its own or
    /// with its family. Expiry is the caller's check.
    pub fn access_token_revoked(&self, jti: &str) -> bool {
        let key = JtiKey::of(jti);
        if self.revoked_access.contains_key(&key) {
            return true;
        }
        match self.access.get(&key) {
            Some(r) => r.revoked || r.family().is_some_and(|f| self.family_revoked(f)),
            None => false,
        }
    }

    /// The family an access token was issued in, if any.
    pub fn family_of_access_token(&self, jti: &str) -> Option<FamilyId> {
        self.access
            .get(&JtiKey::of(jti))
            .and_then(AccessRecord::family)
    }

    /// Revokes the live access tokens of a client, leaving its refresh
    /// tokens usable: "the access token stopped working early". Returns how
    /// many were revoked.
    pub fn expire_access_tokens_of_client(&mut self, client_id: &str) -> usize {
        let mut n = 0;
        for r in self.access.values_mut() {
            if &*r.client_id == client_id && !r.revoked {
                r.revoked = true;
                n += 1;
            }
        }
        n
    }

    /// Revokes every family and access token of a client; returns the
    /// number of families revoked.
    pub fn revoke_client(&mut self, client_id: &str) -> usize {
        self.expire_access_tokens_of_client(client_id);
        self.revoke_families_where(|g| g.client_id == client_id)
    }

    /// Revokes every family and access token of a user; returns the number
    /// of families revoked.
    pub fn revoke_subject(&mut self, subject: &str) -> usize {
        for r in self.access.values_mut() {
            if &*r.subject == subject {
                r.revoked = true;
            }
        }
        self.revoke_families_where(|g| g.subject == subject)
    }

    fn revoke_families_where(&mut self, pred: impl Fn(&Grant) -> bool) -> usize {
        let mut n = 0;
        for f in self.families.values_mut() {
            if f.revoked.is_none() && pred(&f.grant) {
                f.revoked = Some(RevocationCause::Requested);
                n += 1;
            }
        }
        n
    }

    /// The client a refresh token was issued to.
    pub fn refresh_token_client(&self, hash: &TokenHash) -> Option<&str> {
        let record = self.refresh.get(hash)?;
        self.families
            .get(&record.family)
            .map(|f| f.grant.client_id.as_str())
    }

    /// Whether a family is revoked (an unknown family counts as revoked).
    pub fn family_revoked(&self, family: FamilyId) -> bool {
        self.families
            .get(&family)
            .is_none_or(|f| f.revoked.is_some())
    }

    /// Why a family was revoked, if it was.
    pub fn revocation_cause(&self, family: FamilyId) -> Option<RevocationCause> {
        self.families.get(&family).and_then(|f| f.revoked)
    }

    /// A refresh token's state, for introspection.
    pub fn refresh_token(&self, hash: &TokenHash, now: u64) -> Option<RefreshTokenView> {
        let record = self.refresh.get(hash)?;
        let family = self.families.get(&record.family)?;
        Some(RefreshTokenView {
            family: record.family,
            grant: family.grant.clone(),
            active: family.revoked.is_none()
                && record.state == RefreshState::Active
                && now < record.expires_at,
            expires_at: record.expires_at,
        })
    }

    /// Every family, oldest first.
    pub fn summaries(&self) -> Vec<FamilySummary> {
        let mut out: Vec<FamilySummary> = self
            .families
            .iter()
            .map(|(id, f)| FamilySummary {
                id: *id,
                grant: f.grant.clone(),
                policy: f.policy,
                revoked: f.revoked,
                refresh_tokens: f.refresh_tokens.len(),
                access_tokens: f.access_tokens.len(),
            })
            .collect();
        out.sort_by_key(|f| f.id);
        out
    }

    /// The number of refresh tokens of a family that can still be redeemed.
    pub fn active_refresh_tokens(&self, family: FamilyId, now: u64) -> usize {
        let Some(f) = self.families.get(&family) else {
            return 0;
        };
        if f.revoked.is_some() {
            return 0;
        }
        f.refresh_tokens
            .iter()
            .filter_map(|h| self.refresh.get(h))
            .filter(|r| r.state == RefreshState::Active && now < r.expires_at)
            .count()
    }

    /// Forgets what expired before `now`: records of expired tokens and
    /// families with nothing left in them.
    pub fn prune(&mut self, now: u64) {
        self.refresh.retain(|_, r| r.expires_at > now);
        self.access.retain(|_, r| r.expires_at > now);
        self.revoked_access.retain(|_, exp| *exp > now);
        let refresh = &self.refresh;
        let access = &self.access;
        self.families.retain(|_, f| {
            f.refresh_tokens.retain(|h| refresh.contains_key(h));
            f.access_tokens.retain(|j| access.contains_key(j));
            !f.refresh_tokens.is_empty() || !f.access_tokens.is_empty()
        });
        // The pruned records' names; no `Arc` leaves this store, so a
        // count of 1 means only the set holds it.
        self.names.retain(|n| Arc::strong_count(n) > 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier, Mutex};

    use proptest::prelude::*;

    fn grant(client: &str) -> Grant {
        Grant {
            client_id: client.to_owned(),
            subject: "alice".to_owned(),
            scope: ScopeSet::parse("a b").unwrap(),
            resources: vec!["https://r.example".to_owned()],
            auth_time: 0,
        }
    }

    fn h(n: u64) -> TokenHash {
        TokenHash::of(&format!("token-{n}"))
    }

    #[test]
    fn rotation_then_reuse_revokes_family() {
        let mut t = TokenFamilies::new();
        let f = t.start(grant("c"), RefreshPolicy::SingleUse);
        t.add_refresh_token(f, h(1), 100);
        t.add_access_token(Some(f), "at1", "c", "alice", 100);
        assert!(t.redeem(&h(1), "c", 10, Some((h(2), 100))).unwrap().rotated);
        assert_eq!(
            t.redeem(&h(1), "c", 11, Some((h(3), 100))),
            Err(RedeemError::Reused(f))
        );
        assert_eq!(
            t.redeem(&h(2), "c", 12, Some((h(4), 100))),
            Err(RedeemError::FamilyRevoked(f))
        );
        assert!(t.access_token_revoked("at1"));
        assert_eq!(
            t.revocation_cause(f),
            Some(RevocationCause::RefreshTokenReuse)
        );
    }

    #[test]
    fn client_mismatch_does_not_consume() {
        let mut t = TokenFamilies::new();
        let f = t.start(grant("c"), RefreshPolicy::SingleUse);
        t.add_refresh_token(f, h(1), 100);
        assert_eq!(
            t.redeem(&h(1), "other", 10, Some((h(2), 100))),
            Err(RedeemError::ClientMismatch)
        );
        assert!(t.redeem(&h(1), "c", 10, Some((h(2), 100))).is_ok());
    }

    #[test]
    fn reusable_keeps_the_token() {
        let mut t = TokenFamilies::new();
        let f = t.start(grant("c"), RefreshPolicy::Reusable);
        t.add_refresh_token(f, h(1), 100);
        for i in 0..3 {
            let r = t.redeem(&h(1), "c", i, Some((h(2 + i), 100))).unwrap();
            assert!(!r.rotated);
        }
        assert_eq!(t.active_refresh_tokens(f, 0), 1);
    }

    #[test]
    fn grace_allows_reuse_for_a_while_then_revokes() {
        let mut t = TokenFamilies::new();
        let f = t.start(grant("c"), RefreshPolicy::Grace { seconds: 5 });
        t.add_refresh_token(f, h(1), 100);
        t.redeem(&h(1), "c", 10, Some((h(2), 100))).unwrap();
        assert!(
            t.redeemable_grant(&h(1), "c", 15).is_some(),
            "redeemable within grace"
        );
        let r = t.redeem(&h(1), "c", 15, Some((h(3), 100))).unwrap();
        assert!(r.within_grace);
        assert!(t.redeemable_grant(&h(1), "c", 16).is_none());
        assert_eq!(
            t.redeem(&h(1), "c", 16, Some((h(4), 100))),
            Err(RedeemError::Reused(f))
        );
    }

    #[test]
    fn expired_token_fails_without_revoking() {
        let mut t = TokenFamilies::new();
        let f = t.start(grant("c"), RefreshPolicy::SingleUse);
        t.add_refresh_token(f, h(1), 10);
        t.add_refresh_token(f, h(2), 100);
        assert_eq!(
            t.redeem(&h(1), "c", 10, Some((h(3), 100))),
            Err(RedeemError::Expired)
        );
        assert!(!t.family_revoked(f));
    }

    #[test]
    fn prune_forgets_expired_records() {
        let mut t = TokenFamilies::new();
        let f = t.start(grant("c"), RefreshPolicy::SingleUse);
        t.add_refresh_token(f, h(1), 10);
        t.add_access_token(Some(f), "a", "c", "alice", 10);
        t.prune(11);
        assert!(t.refresh_token(&h(1), 11).is_none());
        assert!(t.family_revoked(f), "an emptied family is forgotten");
    }

    #[test]
    fn access_tokens_are_found_by_any_jti() {
        let mut t = TokenFamilies::new();
        let f = t.start(grant("c"), RefreshPolicy::SingleUse);
        let generated = crate::protocol::secret::random_base64url(16);
        // The provider's own 22-character jti, and others (RFC 9068 allows
        // any string): a 22-character one that is not canonical base64url
        // (its last character carries non-zero trailing bits), and a UUID.
        let odd = format!("{}B", &generated[..21]);
        let uuid = "6f1c2b7e-8a4d-4b0e-9c3f-2d5e7a9b1c0d";
        for jti in [generated.as_str(), odd.as_str(), uuid] {
            t.add_access_token(Some(f), jti, "c", "alice", 100);
        }
        assert_ne!(JtiKey::of(&generated), JtiKey::of(&odd));
        for jti in [generated.as_str(), odd.as_str(), uuid] {
            assert_eq!(t.family_of_access_token(jti), Some(f), "{jti}");
            assert!(!t.access_token_revoked(jti));
        }
        t.revoke_access_token(uuid, 100);
        assert!(t.access_token_revoked(uuid));
        assert!(!t.access_token_revoked(&generated));
        // Revoking a token never recorded (minted elsewhere) still sticks.
        t.revoke_access_token("unseen", 100);
        assert!(t.access_token_revoked("unseen"));
        assert_eq!(t.summaries()[0].access_tokens, 3);
        assert_eq!(t.revoke_subject("alice"), 1);
        assert!(t.access_token_revoked(&generated));
    }

    /// What BENCHMARKS.md's figures rest on: a record is 56 bytes and its
    /// key 16, with the client and user shared, not copied.
    #[test]
    fn access_records_are_small_and_share_their_names() {
        assert!(std::mem::size_of::<AccessRecord>() <= 56);
        assert_eq!(std::mem::size_of::<JtiKey>(), 16);
        let mut t = TokenFamilies::new();
        for i in 0..10 {
            t.add_access_token(None, &format!("jti-{i}"), "c", "c", 10);
        }
        assert_eq!(t.names.len(), 1, "one copy of `c`");
        t.prune(11);
        assert!(t.names.is_empty(), "dropped with the last record");
    }

    // ---- model-based property test -------------------------------------

    #[derive(Debug, Clone)]
    enum Op {
        Start,
        Redeem { token: usize },
        Concurrent { token: usize, threads: usize },
        RevokeToken { token: usize },
        RevokeFamily { family: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => Just(Op::Start),
            6 => (0usize..64).prop_map(|token| Op::Redeem { token }),
            2 => ((0usize..64), (2usize..8)).prop_map(|(token, threads)| Op::Concurrent { token, threads }),
            1 => (0usize..64).prop_map(|token| Op::RevokeToken { token }),
            1 => (0usize..16).prop_map(|family| Op::RevokeFamily { family }),
        ]
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum ModelToken {
        Active,
        Consumed,
    }

    /// The obvious sequential model: a list of tokens, each with a family,
    /// and a set of revoked families.
    #[derive(Default)]
    struct Model {
        tokens: Vec<(usize, ModelToken)>,
        revoked: Vec<bool>,
    }

    impl Model {
        /// Returns whether a redemption should succeed, updating the model.
        fn redeem(&mut self, token: usize) -> bool {
            let (family, state) = self.tokens[token];
            if self.revoked[family] {
                return false;
            }
            match state {
                ModelToken::Active => {
                    self.tokens[token].1 = ModelToken::Consumed;
                    self.tokens.push((family, ModelToken::Active));
                    true
                }
                ModelToken::Consumed => {
                    self.revoked[family] = true;
                    false
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Invariants: a refresh token succeeds at most once, reuse revokes
        /// its family, nothing from a revoked family ever succeeds again,
        /// and concurrent redemptions of one token give exactly one success.
        #[test]
        fn families_follow_the_sequential_model(ops in proptest::collection::vec(op(), 1..80)) {
            let store = Arc::new(Mutex::new(TokenFamilies::new()));
            let mut model = Model::default();
            let mut family_ids: Vec<FamilyId> = Vec::new();
            let mut next_hash = 0u64;
            let mut fresh = || { next_hash += 1; h(next_hash) };
            let mut hashes: Vec<TokenHash> = Vec::new();
            let mut successes_per_token: HashMap<usize, usize> = HashMap::new();

            for op in ops {
                match op {
                    Op::Start => {
                        let mut s = store.lock().unwrap();
                        let f = s.start(grant("c"), RefreshPolicy::SingleUse);
                        let t = fresh();
                        s.add_refresh_token(f, t, u64::MAX);
                        family_ids.push(f);
                        hashes.push(t);
                        model.revoked.push(false);
                        model.tokens.push((family_ids.len() - 1, ModelToken::Active));
                    }
                    Op::Redeem { token } if !hashes.is_empty() => {
                        let token = token % hashes.len();
                        let successor = fresh();
                        let mut s = store.lock().unwrap();
                        // The dry run agrees with the real redemption.
                        let predicted = s.redeemable_grant(&hashes[token], "c", 1).is_some();
                        let got = s.redeem(&hashes[token], "c", 1, Some((successor, u64::MAX)));
                        drop(s);
                        prop_assert_eq!(predicted, got.is_ok());
                        let expected = model.redeem(token);
                        prop_assert_eq!(got.is_ok(), expected, "token {} {:?}", token, got);
                        if got.is_ok() {
                            hashes.push(successor);
                            *successes_per_token.entry(token).or_default() += 1;
                        }
                    }
                    Op::Concurrent { token, threads } if !hashes.is_empty() => {
                        let token = token % hashes.len();
                        let presented = hashes[token];
                        let barrier = Arc::new(Barrier::new(threads));
                        let successors: Vec<TokenHash> = (0..threads).map(|_| fresh()).collect();
                        let handles: Vec<_> = successors.iter().map(|succ| {
                            let store = store.clone();
                            let barrier = barrier.clone();
                            let succ = *succ;
                            std::thread::spawn(move || {
                                barrier.wait();
                                store.lock().unwrap().redeem(&presented, "c", 1, Some((succ, u64::MAX))).ok().map(|_| succ)
                            })
                        }).collect();
                        let winners: Vec<TokenHash> = handles.into_iter().filter_map(|h| h.join().unwrap()).collect();
                        // Sequential meaning of k concurrent redemptions: the first one
                        // behaves like a single redeem, every later one is reuse.
                        let was_active = model.redeem(token);
                        let mut expected_winners = usize::from(was_active);
                        for _ in 1..threads {
                            if model.redeem(token) { expected_winners += 1; }
                        }
                        prop_assert_eq!(winners.len(), expected_winners);
                        prop_assert!(winners.len() <= 1);
                        if let Some(w) = winners.first() {
                            // The model pushed one new active token for the winner.
                            hashes.push(*w);
                            *successes_per_token.entry(token).or_default() += 1;
                        }
                        // Keep index alignment: the model may have pushed exactly one token.
                        prop_assert_eq!(hashes.len(), model.tokens.len());
                    }
                    Op::RevokeToken { token } if !hashes.is_empty() => {
                        let token = token % hashes.len();
                        store.lock().unwrap().revoke_refresh_token(&hashes[token]);
                        let family = model.tokens[token].0;
                        model.revoked[family] = true;
                    }
                    Op::RevokeFamily { family } if !family_ids.is_empty() => {
                        let family = family % family_ids.len();
                        store.lock().unwrap().revoke_family(family_ids[family], RevocationCause::Requested);
                        model.revoked[family] = true;
                    }
                    _ => {}
                }
                prop_assert_eq!(hashes.len(), model.tokens.len());
                // Global invariant: revoked families have no redeemable token.
                let s = store.lock().unwrap();
                for (i, f) in family_ids.iter().enumerate() {
                    prop_assert_eq!(s.family_revoked(*f), model.revoked[i]);
                    if model.revoked[i] {
                        prop_assert_eq!(s.active_refresh_tokens(*f, 1), 0);
                    }
                }
            }
            for (token, n) in successes_per_token {
                prop_assert!(n <= 1, "token {} redeemed {} times", token, n);
            }
        }
    }
}
