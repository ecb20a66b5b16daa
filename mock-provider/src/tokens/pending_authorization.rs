//! Authorization requests waiting for a person's decision on the consent
//! page. The validated request (client, redirect URI, state, PKCE
//! challenge, scope, resources) stays here, server-side, under an opaque
//! random id; the page's form carries only that id, a CSRF token and the
//! decision, so a posted form cannot change what is being approved.
//!
//! The store is bounded in time (each request expires after its issuer's
//! `consent_ttl_secs`) and in number ([`MAX_PENDING`], oldest dropped
//! first). Ids are single use: a used or expired id is remembered for a
//! while so the refusal can say which it was. Only hashes of ids are kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::protocol::csrf_token::{CsrfError, PresentedCsrf};
use crate::protocol::secret::{Secret, TokenHash};
use crate::tokens::authorization_code::CodeGrant;

/// The most pending requests (and remembered used ones) kept at once.
pub const MAX_PENDING: usize = 1000;

/// A validated authorization request awaiting consent.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    /// The issuer's name.
    pub issuer: String,
    /// The client.
    pub client_id: String,
    /// Where the answer goes (the presented redirect URI, or the only
    /// registered one).
    pub redirect_uri: String,
    /// The client's `state`, returned unchanged.
    pub state: Option<String>,
    /// What a code would be bound to; `grant.subject` is the preselected
    /// user until the person picks one.
    pub code: CodeGrant,
}

/// What the consent page embeds: the pending id (hidden field) and the
/// CSRF token (hidden field and cookie).
#[derive(Debug)]
pub struct PendingTicket {
    /// The opaque id of the pending request.
    pub id: Secret,
    /// The per-request CSRF token.
    pub csrf: Secret,
}

/// Why a posted consent form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PendingError {
    /// No such pending request (never issued, dropped by a reset or a
    /// restart, pushed out by newer ones, or for another issuer).
    #[error(
        "this consent request is unknown: it may predate a restart or reset; start the authorization again"
    )]
    Unknown,
    /// Waited longer than the issuer's `consent_ttl_secs`.
    #[error("this consent request has expired; start the authorization again")]
    Expired,
    /// Answered before: a consent form works once.
    #[error("this consent request was already answered; a consent form can be used only once")]
    AlreadyUsed,
    /// The CSRF check failed (RFC 6749 10.12).
    #[error(transparent)]
    Csrf(#[from] CsrfError),
}

#[derive(Debug)]
enum Slot {
    Waiting {
        request: Box<PendingAuthorization>,
        csrf: Secret,
        expires_at: Instant,
    },
    Used,
}

#[derive(Debug)]
struct Entry {
    slot: Slot,
    created: Instant,
    /// When the entry is dropped altogether; until then an expired or used
    /// id is recognised as such.
    forget_at: Instant,
}

/// Every pending request of the provider.
#[derive(Debug, Default)]
pub struct PendingAuthorizations {
    entries: Mutex<HashMap<TokenHash, Entry>>,
}

impl PendingAuthorizations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `request` for `ttl` and returns its id and CSRF token.
    pub fn insert(&self, request: PendingAuthorization, ttl: Duration) -> PendingTicket {
        let id = Secret::generate(32);
        let csrf = Secret::generate(32);
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, e| e.forget_at > now);
        while entries.len() >= MAX_PENDING {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.created)
                .map(|(k, _)| *k)
            else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.insert(
            id.hash(),
            Entry {
                slot: Slot::Waiting {
                    request: Box::new(request),
                    csrf: csrf.clone(),
                    expires_at: now + ttl,
                },
                created: now,
                forget_at: now + ttl.saturating_mul(2),
            },
        );
        PendingTicket { id, csrf }
    }

    /// Takes the pending request `id` of `issuer` for a decision, once: the
    /// CSRF token of the form and of the cookie must both be the one issued
    /// with it. A failed CSRF check leaves the request waiting (a forged
    /// post must not be able to cancel the person's pending request); any
    /// success makes the id used.
    pub fn redeem(
        &self,
        id: &str,
        issuer: &str,
        presented: &PresentedCsrf<'_>,
    ) -> Result<PendingAuthorization, PendingError> {
        let hash = TokenHash::of(id);
        let now = Instant::now();
        let mut entries = self.lock();
        let entry = entries.get_mut(&hash).ok_or(PendingError::Unknown)?;
        match &entry.slot {
            Slot::Used => return Err(PendingError::AlreadyUsed),
            Slot::Waiting {
                request,
                csrf,
                expires_at,
            } => {
                if request.issuer != issuer {
                    return Err(PendingError::Unknown);
                }
                if now >= *expires_at {
                    return Err(PendingError::Expired);
                }
                presented.check(csrf)?;
            }
        }
        match std::mem::replace(&mut entry.slot, Slot::Used) {
            Slot::Waiting { request, .. } => Ok(*request),
            Slot::Used => Err(PendingError::AlreadyUsed),
        }
    }

    /// How many requests are waiting (not expired, not used).
    pub fn waiting(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .values()
            .filter(|e| matches!(&e.slot, Slot::Waiting { expires_at, .. } if *expires_at > now))
            .count()
    }

    /// How many entries are kept, used and expired ones included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Forgets everything (reset).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::scope::ScopeSet;
    use crate::tokens::token_family::Grant;

    fn request(issuer: &str) -> PendingAuthorization {
        PendingAuthorization {
            issuer: issuer.to_owned(),
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            state: Some("s".into()),
            code: CodeGrant {
                redirect_uri: None,
                code_challenge: "x".into(),
                grant: Grant {
                    client_id: "c".into(),
                    subject: "alice".into(),
                    scope: ScopeSet::default(),
                    resources: vec![],
                    auth_time: 0,
                },
            },
        }
    }

    fn both(t: &PendingTicket) -> PresentedCsrf<'_> {
        PresentedCsrf {
            form: Some(t.csrf.expose()),
            cookie: Some(t.csrf.expose()),
        }
    }

    #[test]
    fn single_use_and_bound_to_issuer_and_token() {
        let store = PendingAuthorizations::default();
        let t = store.insert(request("i"), Duration::from_secs(60));
        let id = t.id.expose();
        assert_eq!(
            store.redeem(id, "other", &both(&t)).unwrap_err(),
            PendingError::Unknown
        );
        let wrong = PresentedCsrf {
            form: Some("nope"),
            cookie: Some(t.csrf.expose()),
        };
        assert!(matches!(
            store.redeem(id, "i", &wrong),
            Err(PendingError::Csrf(_))
        ));
        assert_eq!(store.redeem(id, "i", &both(&t)).unwrap().client_id, "c");
        assert_eq!(
            store.redeem(id, "i", &both(&t)).unwrap_err(),
            PendingError::AlreadyUsed
        );
        assert_eq!(
            store.redeem("unknown", "i", &both(&t)).unwrap_err(),
            PendingError::Unknown
        );
    }

    #[test]
    fn expires_and_is_bounded() {
        let store = PendingAuthorizations::default();
        let t = store.insert(request("i"), Duration::ZERO);
        assert_eq!(
            store.redeem(t.id.expose(), "i", &both(&t)).unwrap_err(),
            PendingError::Expired
        );
        for _ in 0..MAX_PENDING + 10 {
            store.insert(request("i"), Duration::from_secs(60));
        }
        assert_eq!(store.len(), MAX_PENDING);
        assert_eq!(store.waiting(), MAX_PENDING);
    }
}
