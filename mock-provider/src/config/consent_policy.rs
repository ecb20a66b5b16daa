//! Who is asked for consent: the consent mode ([`Consent`]: headless
//! auto-approve or an interactive page) of each issuer and the per-client
//! overrides, the users the consent page offers, and how long a pending
//! authorization request may wait for a decision.
//!
//! The configuration (`consent`, `users`, `consent_ttl_secs` on an issuer,
//! `consent` on a client) is turned into one [`ConsentPolicy`] per issuer
//! at start; clients created through the admin API add their override.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::config::IssuerConfig;
pub use crate::config::consent_mode::Consent;

/// The consent rules of one issuer.
#[derive(Debug)]
pub struct ConsentPolicy {
    mode: Consent,
    configured_clients: HashMap<String, Consent>,
    /// Overrides of clients created through the admin API; dropped on reset
    /// with the clients themselves.
    admin_clients: Mutex<HashMap<String, Consent>>,
    users: Vec<String>,
    default_subject: String,
    pending_ttl: Duration,
}

impl ConsentPolicy {
    /// The policy of a (validated) issuer configuration.
    pub fn from_config(config: &IssuerConfig) -> Self {
        Self {
            mode: config.consent,
            configured_clients: config
                .clients
                .iter()
                .filter_map(|c| c.consent.map(|m| (c.client_id.clone(), m)))
                .collect(),
            admin_clients: Mutex::new(HashMap::new()),
            users: config.users.clone(),
            default_subject: config.default_subject.clone(),
            pending_ttl: Duration::from_secs(config.consent_ttl_secs),
        }
    }

    /// The issuer-wide mode.
    pub fn issuer_mode(&self) -> Consent {
        self.mode
    }

    /// The mode for a client: its own setting, else the issuer's.
    /// Clients from dynamic registration or metadata documents have no
    /// setting of their own.
    pub fn mode_for(&self, client_id: &str) -> Consent {
        if let Some(m) = self.configured_clients.get(client_id) {
            return *m;
        }
        self.admin_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(client_id)
            .copied()
            .unwrap_or(self.mode)
    }

    /// Records the override of a client created through the admin API.
    pub fn set_admin_client(&self, client_id: &str, consent: Option<Consent>) {
        let mut admin = self.admin_clients.lock().unwrap_or_else(|p| p.into_inner());
        match consent {
            Some(c) => admin.insert(client_id.to_owned(), c),
            None => admin.remove(client_id),
        };
    }

    /// Forgets the overrides of admin-created clients (reset).
    pub fn reset(&self) {
        self.admin_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The users the consent page offers: the default subject first, then
    /// the configured ones, without repeats.
    pub fn offered_users(&self) -> Vec<String> {
        let mut out = vec![self.default_subject.clone()];
        for u in &self.users {
            if !out.contains(u) {
                out.push(u.clone());
            }
        }
        out
    }

    /// How long a pending request waits for a decision.
    pub fn pending_ttl(&self) -> Duration {
        self.pending_ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;

    #[test]
    fn client_setting_overrides_the_issuer() {
        let config = IssuerConfig::new("i")
            .consent(Consent::Interactive)
            .users(["bob", "alice", "carol"])
            .client(ClientConfig::public("headless").consent(Consent::Auto));
        let p = ConsentPolicy::from_config(&config);
        assert_eq!(p.mode_for("headless"), Consent::Auto);
        assert_eq!(p.mode_for("anyone-else"), Consent::Interactive);
        p.set_admin_client("made-by-admin", Some(Consent::Auto));
        assert_eq!(p.mode_for("made-by-admin"), Consent::Auto);
        p.reset();
        assert_eq!(p.mode_for("made-by-admin"), Consent::Interactive);
        assert_eq!(p.offered_users(), ["alice", "bob", "carol"]);
    }

    #[test]
    fn unknown_values_name_the_field() {
        let e = "always".parse::<Consent>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown consent `always`: expected `auto` or `interactive`"
        );
    }
}
