//! Authorization codes: what each one is bound to (client, redirect URI,
//! PKCE challenge, scope, resources, user), their expiry, and single use
//! (RFC 6749 4.1.2: a second use is refused and what the code issued is
//! revoked).

use std::collections::HashMap;

use crate::protocol::limits::USED_CODE_MEMORY_SECS;
use crate::protocol::secret::TokenHash;
use crate::tokens::token_family::{FamilyId, Grant};

/// What an authorization code was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    /// The `redirect_uri` of the authorization request, if it had one
    /// (RFC 6749 4.1.3: then the token request must repeat it).
    pub redirect_uri: Option<String>,
    /// The S256 PKCE challenge.
    pub code_challenge: String,
    /// The grant the code stands for.
    pub grant: Grant,
}

/// Why a code cannot be redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeRedeemError {
    /// No such code.
    #[error("authorization code is unknown")]
    Unknown,
    /// Past its lifetime.
    #[error("authorization code has expired")]
    Expired,
    /// Redeemed before; `family` is what the first redemption issued.
    #[error("authorization code was already used; tokens issued from it are revoked")]
    AlreadyUsed {
        /// The family started by the first redemption.
        family: Option<FamilyId>,
    },
}

#[derive(Debug, Clone)]
struct CodeRecord {
    code: CodeGrant,
    expires_at: u64,
    used_by: Option<Option<FamilyId>>,
}

/// The codes of one issuer.
#[derive(Debug, Default)]
pub struct CodeStore {
    codes: HashMap<TokenHash, CodeRecord>,
}

impl CodeStore {
    /// Stores a new code, issued at `now`, living `ttl_secs`.
    pub fn insert(&mut self, hash: TokenHash, code: CodeGrant, now: u64, ttl_secs: u64) {
        // Amortised: a sweep every 64 codes keeps the store to the codes of
        // the last few minutes, however many are asked for.
        if self.codes.len().is_multiple_of(64) {
            self.forget_stale(now);
        }
        self.codes.insert(
            hash,
            CodeRecord {
                code,
                expires_at: now.saturating_add(ttl_secs),
                used_by: None,
            },
        );
    }

    /// Looks a code up for redemption without consuming it, so the caller
    /// can check the client, redirect URI and PKCE verifier first.
    pub fn get(&self, hash: &TokenHash, now: u64) -> Result<&CodeGrant, CodeRedeemError> {
        let record = self.codes.get(hash).ok_or(CodeRedeemError::Unknown)?;
        if let Some(family) = record.used_by {
            return Err(CodeRedeemError::AlreadyUsed { family });
        }
        if now >= record.expires_at {
            return Err(CodeRedeemError::Expired);
        }
        Ok(&record.code)
    }

    /// Marks a code used and records the family its tokens went to.
    pub fn mark_used(&mut self, hash: &TokenHash, family: FamilyId) {
        if let Some(r) = self.codes.get_mut(hash) {
            r.used_by = Some(Some(family));
        }
    }

    /// Forgets unused codes past their expiry and used ones
    /// [`USED_CODE_MEMORY_SECS`] after it.
    pub fn forget_stale(&mut self, now: u64) {
        self.codes.retain(|_, r| match r.used_by {
            None => r.expires_at > now,
            Some(_) => r.expires_at.saturating_add(USED_CODE_MEMORY_SECS) > now,
        });
    }
}
