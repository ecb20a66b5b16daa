//! A typed client for the admin API, the same whether the provider runs
//! in-process ([`crate::MockProvider::admin`]) or standalone
//! (`mock-provider serve`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use mock_provider::admin::MintRequest;
//! use mock_provider::faults::{Endpoint, FaultAction, FaultRule};
//! use mock_provider::MockProvider;
//!
//! let provider = MockProvider::start().await.unwrap();
//! let admin = provider.admin();
//! let token = admin.mint_token("default", &MintRequest::default()).await.unwrap();
//! assert_eq!(token.claims["sub"], "alice");
//! admin
//!     .add_fault(&FaultRule::new(Endpoint::Jwks, FaultAction::EmptyBody).times(1))
//!     .await
//!     .unwrap();
//! assert_eq!(admin.faults().await.unwrap().len(), 1);
//! # }
//! ```

use std::fmt;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::admin::admin_types::{
    ClientInfo, Counters, ExpireOutcome, ExpireRequest, FaultsAdded, IssuerInfo, KeysInfo,
    MintRequest, MintedToken, RevokeOutcome, RevokeRequest, RotateKeys, SeedGrant, SeededGrant,
};
use crate::config::ClientConfig;
use crate::faults::fault_plan::FaultRule;
use crate::ledger::{LedgerEntry, LedgerFilter};
use crate::protocol::secret::Secret;

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request did not complete.
    #[error("admin request to {url} failed: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The provider refused it.
    #[error("admin API answered {status} for {url}: {body}")]
    Refused {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// The error body.
        body: String,
    },
    /// The answer was not what the API documents.
    #[error("admin API answer from {url} could not be read: {reason}")]
    Decode {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl AdminError {
    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Calls `/__admin/` on a provider.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base_url: String,
    secret: Option<Secret>,
}

impl fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl AdminClient {
    /// A client for the provider at `base_url` (`http://127.0.0.1:9400`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            secret: None,
        }
    }

    /// Sends the admin secret as a bearer token.
    pub fn with_secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Uses this HTTP client (e.g. one that trusts the provider's CA).
    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, AdminError> {
        let url = format!("{}/__admin/{path}", self.base_url);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(secret) = &self.secret {
            req = req.bearer_auth(secret.expose());
        }
        match body {
            Some(body) => req = req.json(body),
            // The admin guard wants every POST declared JSON (a cross-site
            // form cannot say that); an empty object is what the API reads
            // for no body.
            None if method == Method::POST => req = req.json(&serde_json::json!({})),
            None => {}
        }
        let response = req.send().await.map_err(|source| AdminError::Transport {
            url: url.clone(),
            source,
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|source| AdminError::Transport {
                url: url.clone(),
                source,
            })?;
        if !status.is_success() {
            return Err(AdminError::Refused {
                url,
                status,
                body: text,
            });
        }
        let text = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(text).map_err(|e| AdminError::Decode {
            url,
            reason: e.to_string(),
        })
    }

    /// The issuers.
    pub async fn issuers(&self) -> Result<Vec<IssuerInfo>, AdminError> {
        self.call(Method::GET, "issuers", None::<&()>).await
    }

    /// An issuer's clients.
    pub async fn clients(&self, issuer: &str) -> Result<Vec<ClientInfo>, AdminError> {
        self.call(
            Method::GET,
            &format!("issuers/{issuer}/clients"),
            None::<&()>,
        )
        .await
    }

    /// Creates a client.
    pub async fn create_client(
        &self,
        issuer: &str,
        client: &ClientConfig,
    ) -> Result<ClientInfo, AdminError> {
        self.call(
            Method::POST,
            &format!("issuers/{issuer}/clients"),
            Some(client),
        )
        .await
    }

    /// Mints an access token.
    pub async fn mint_token(
        &self,
        issuer: &str,
        request: &MintRequest,
    ) -> Result<MintedToken, AdminError> {
        self.call(
            Method::POST,
            &format!("issuers/{issuer}/tokens"),
            Some(request),
        )
        .await
    }

    /// Seeds a grant: a refresh token for a client and user.
    pub async fn seed_grant(
        &self,
        issuer: &str,
        request: &SeedGrant,
    ) -> Result<SeededGrant, AdminError> {
        self.call(
            Method::POST,
            &format!("issuers/{issuer}/grants"),
            Some(request),
        )
        .await
    }

    /// An issuer's keys.
    pub async fn keys(&self, issuer: &str) -> Result<KeysInfo, AdminError> {
        self.call(Method::GET, &format!("issuers/{issuer}/keys"), None::<&()>)
            .await
    }

    /// Rotates an issuer's signing key as `request` says: at once and
    /// keeping the algorithm (`RotateKeys::default()`), with a grace period
    /// (`RotateKeys::with_grace(secs)`), or to another algorithm.
    pub async fn rotate_keys(
        &self,
        issuer: &str,
        request: &RotateKeys,
    ) -> Result<KeysInfo, AdminError> {
        self.call(
            Method::POST,
            &format!("issuers/{issuer}/keys/rotate"),
            Some(request),
        )
        .await
    }

    /// Revokes by token, subject or client.
    pub async fn revoke(
        &self,
        issuer: &str,
        request: &RevokeRequest,
    ) -> Result<RevokeOutcome, AdminError> {
        self.call(
            Method::POST,
            &format!("issuers/{issuer}/revoke"),
            Some(request),
        )
        .await
    }

    /// Expires a client's live access tokens now (its refresh tokens keep
    /// working).
    pub async fn expire_access_tokens(
        &self,
        issuer: &str,
        client_id: &str,
    ) -> Result<usize, AdminError> {
        let out: ExpireOutcome = self
            .call(
                Method::POST,
                &format!("issuers/{issuer}/expire-access-tokens"),
                Some(&ExpireRequest {
                    client_id: client_id.to_owned(),
                }),
            )
            .await?;
        Ok(out.expired)
    }

    /// Adds a fault rule; returns its id.
    pub async fn add_fault(&self, rule: &FaultRule) -> Result<u64, AdminError> {
        let added: FaultsAdded = self.call(Method::POST, "faults", Some(rule)).await?;
        added
            .ids
            .first()
            .copied()
            .ok_or_else(|| AdminError::Decode {
                url: format!("{}/__admin/faults", self.base_url),
                reason: "no id returned".into(),
            })
    }

    /// Adds several rules at once (all or none).
    pub async fn add_faults(&self, rules: &[FaultRule]) -> Result<Vec<u64>, AdminError> {
        let added: FaultsAdded = self.call(Method::POST, "faults", Some(rules)).await?;
        Ok(added.ids)
    }

    /// The rules in force.
    pub async fn faults(&self) -> Result<Vec<FaultRule>, AdminError> {
        self.call(Method::GET, "faults", None::<&()>).await
    }

    /// Removes one rule.
    pub async fn remove_fault(&self, id: u64) -> Result<(), AdminError> {
        self.call::<Option<()>>(Method::DELETE, &format!("faults/{id}"), None::<&()>)
            .await
            .map(|_| ())
    }

    /// Removes every rule.
    pub async fn clear_faults(&self) -> Result<(), AdminError> {
        self.call::<Option<()>>(Method::DELETE, "faults", None::<&()>)
            .await
            .map(|_| ())
    }

    /// Ledger entries matching `filter`.
    pub async fn ledger(&self, filter: &LedgerFilter) -> Result<Vec<LedgerEntry>, AdminError> {
        let query = serde_urlencoded::to_string(filter).map_err(|e| AdminError::Decode {
            url: format!("{}/__admin/ledger", self.base_url),
            reason: e.to_string(),
        })?;
        self.call(Method::GET, &format!("ledger?{query}"), None::<&()>)
            .await
    }

    /// Counters per issuer and client.
    pub async fn counters(&self) -> Result<Counters, AdminError> {
        self.counters_after(None).await
    }

    /// Counters of what the ledger recorded after entry `after_seq` (a
    /// mark taken earlier); all of it with `None`.
    pub async fn counters_after(&self, after_seq: Option<u64>) -> Result<Counters, AdminError> {
        let path = match after_seq {
            Some(seq) => format!("ledger/counters?after_seq={seq}"),
            None => "ledger/counters".to_owned(),
        };
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// One issuer back to its state at start (its faults, clients, keys
    /// and grants); the ledger and the other issuers stay as they are.
    pub async fn reset_issuer(&self, issuer: &str) -> Result<(), AdminError> {
        self.call::<Option<()>>(
            Method::POST,
            &format!("issuers/{issuer}/reset"),
            None::<&()>,
        )
        .await
        .map(|_| ())
    }

    /// Back to the state at start.
    pub async fn reset(&self) -> Result<(), AdminError> {
        self.call::<Option<()>>(Method::POST, "reset", None::<&()>)
            .await
            .map(|_| ())
    }
}
