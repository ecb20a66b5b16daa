//! What every handler shares ([`ProviderState`]): the issuers by name, the
//! fault plan, the ledger, the refresh barriers, the consent rules, the
//! pending consent requests and the admin settings; and the JSON 404 they
//! all answer with. Built once by [`crate::server`] at start.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::consent_policy::ConsentPolicy;
use crate::faults::fault_plan::{FaultPlan, FaultRule};
use crate::faults::refresh_barrier::RefreshBarriers;
use crate::issuer::Issuer;
use crate::ledger::Ledger;
use crate::protocol::secret::Secret;
use crate::tokens::pending_authorization::PendingAuthorizations;

/// What every handler shares: the issuers by name, the fault plan, the
/// ledger, the refresh barriers, the consent rules and pending consent
/// requests.
#[derive(Debug)]
pub struct ProviderState {
    pub(crate) base_url: String,
    pub(crate) issuers: BTreeMap<String, Arc<Issuer>>,
    pub(crate) faults: FaultPlan,
    pub(crate) initial_faults: Vec<FaultRule>,
    pub(crate) ledger: Ledger,
    pub(crate) barriers: RefreshBarriers,
    pub(crate) admin_secret: Option<Secret>,
    pub(crate) admin_allowed_hosts: Vec<String>,
    pub(crate) consent: BTreeMap<String, ConsentPolicy>,
    pub(crate) pending: PendingAuthorizations,
    /// The CSRF token of the admin state page's forms: made at start, only
    /// ever shown to those the admin guard lets read the page.
    /// Made at first use: the first random bytes of a process seed
    /// aws-lc's generator (about 25 ms of jitter entropy), which a start
    /// must not wait for.
    pub(crate) admin_form_token: std::sync::OnceLock<Secret>,
}

impl ProviderState {
    /// The fault plan.
    pub fn faults(&self) -> &FaultPlan {
        &self.faults
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The refresh barriers.
    pub fn barriers(&self) -> &RefreshBarriers {
        &self.barriers
    }

    /// The admin API's bearer secret, if one is configured.
    pub fn admin_secret(&self) -> Option<&Secret> {
        self.admin_secret.as_ref()
    }

    /// Host names the admin API answers besides loopback and its own
    /// address (`admin.allowed_hosts`).
    pub fn admin_allowed_hosts(&self) -> &[String] {
        &self.admin_allowed_hosts
    }

    /// The consent rules of the named issuer.
    pub fn consent_policy(&self, issuer: &str) -> Option<&ConsentPolicy> {
        self.consent.get(issuer)
    }

    /// Authorization requests waiting on the consent page.
    pub fn pending(&self) -> &PendingAuthorizations {
        &self.pending
    }

    /// The CSRF token of the admin state page's forms.
    pub fn admin_form_token(&self) -> &Secret {
        self.admin_form_token.get_or_init(|| Secret::generate(32))
    }

    /// `https` or `http`: what the provider serves.
    pub fn scheme(&self) -> &'static str {
        if self.is_https() { "https" } else { "http" }
    }

    /// Whether the provider serves HTTPS (cookies are then `Secure`).
    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https:")
    }

    /// Back to the state at start: configured faults, clients and keys, an
    /// empty ledger, no grants, no pending consent requests.
    pub fn reset(&self) {
        self.faults.clear();
        for rule in &self.initial_faults {
            self.faults.add(rule.clone());
        }
        self.ledger.clear();
        self.barriers.clear();
        self.pending.clear();
        for policy in self.consent.values() {
            policy.reset();
        }
        for issuer in self.issuers.values() {
            issuer.reset();
        }
    }

    /// One issuer back to its state at start: its configured faults,
    /// clients and keys, no grants; other issuers and the ledger (shared:
    /// read it `after_seq`) are left alone, so a test can reset its own
    /// issuer while others run. `false`: no such issuer.
    pub fn reset_issuer(&self, name: &str) -> bool {
        let Some(issuer) = self.issuers.get(name) else {
            return false;
        };
        self.faults.clear_issuer(name);
        for rule in self
            .initial_faults
            .iter()
            .filter(|r| r.issuer.as_deref() == Some(name))
        {
            self.faults.add(rule.clone());
        }
        if let Some(policy) = self.consent.get(name) {
            policy.reset();
        }
        issuer.reset();
        true
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every issuer by name.
    pub fn issuers(&self) -> &BTreeMap<String, Arc<Issuer>> {
        &self.issuers
    }

    /// An issuer by name, or the 404 answer for an unknown one.
    #[allow(clippy::result_large_err)]
    pub fn issuer(&self, name: &str) -> Result<Arc<Issuer>, Response> {
        self.issuers
            .get(name)
            .cloned()
            .ok_or_else(|| not_found(&format!("no issuer named `{name}`")))
    }
}

/// A JSON 404.
pub fn not_found(description: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "not_found", "error_description": description})),
    )
        .into_response()
}
