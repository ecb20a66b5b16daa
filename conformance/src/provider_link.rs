//! The suite's authorization servers: the mock provider, run in-process on
//! 127.0.0.1 (the default) or a standalone one driven through its admin API
//! (`--provider URL`). Either way it has three issuers: `trusted` (the
//! server's), `other` (valid, not trusted) and `upstream` (the server's
//! upstream API's). Concurrent lanes (`--jobs`) each have an upstream
//! issuer of their own: `upstream`, `upstream-2`, ... (the embedded
//! provider has [`MAX_LANES`] of them). One more lane, the key lane, also
//! has a trusted issuer of its own, [`KEY_LANE_TRUSTED`], so the scenarios
//! that rotate keys can run beside the others.

use mock_provider::admin::IssuerInfo;
use mock_provider::{
    AdminClient, ClientConfig, GrantType, IssuerConfig, MockProvider, SigningAlgorithm,
};
use serde::{Deserialize, Serialize};

/// The issuers the suite's provider runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerRole {
    /// The server's authorization server.
    #[default]
    Trusted,
    /// Another, perfectly valid issuer the server does not trust.
    Other,
    /// The issuer of the server's upstream API.
    Upstream,
}

impl IssuerRole {
    /// The issuer's name at the provider.
    pub fn name(self) -> &'static str {
        match self {
            Self::Trusted => "trusted",
            Self::Other => "other",
            Self::Upstream => "upstream",
        }
    }
}

/// The most lanes a run can have: the embedded provider has an upstream
/// issuer for each.
pub const MAX_LANES: usize = 8;

/// The trusted issuer of the key lane: configured as `trusted`, used by
/// no other lane.
pub const KEY_LANE_TRUSTED: &str = "trusted-2";

/// The name of lane `n`'s upstream issuer (lane 0: `upstream`).
pub fn lane_upstream_issuer(n: usize) -> String {
    match n {
        0 => IssuerRole::Upstream.name().to_owned(),
        n => format!("{}-{}", IssuerRole::Upstream.name(), n + 1),
    }
}

/// The confidential client the server may use for introspection.
pub const INTROSPECTION_CLIENT: &str = "mcp-resource-server";

/// The scopes every suite issuer supports.
fn scopes(extra: &[&str]) -> Vec<String> {
    let mut s: Vec<String> = ["mcp:tools", "mcp:admin", "offline_access"]
        .map(String::from)
        .to_vec();
    for e in extra {
        if !s.iter().any(|x| x == e) {
            s.push((*e).to_owned());
        }
    }
    s
}

/// Where the provider is and what it has.
pub struct ProviderLink {
    embedded: Option<MockProvider>,
    admin: AdminClient,
    issuers: Vec<IssuerInfo>,
    introspection_secret: String,
}

/// The provider could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The embedded provider did not start.
    #[error("the embedded mock provider did not start: {0}")]
    Start(#[from] mock_provider::StartError),
    /// The standalone provider did not answer as expected.
    #[error("the provider at {url} cannot be used: {reason}")]
    Remote {
        /// Its URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl ProviderLink {
    /// Starts the embedded provider with the three issuers; `extra_scopes`
    /// are the profile's scopes beyond the defaults.
    pub async fn embedded(extra_scopes: &[&str]) -> Result<Self, ProviderError> {
        Self::embedded_with(extra_scopes, false).await
    }

    /// The embedded provider for a profile: its issuers also support the
    /// scopes the profile's server asks for.
    pub async fn for_profile(
        profile: &crate::profile::TargetProfile,
        tls: bool,
    ) -> Result<Self, ProviderError> {
        let scopes: Vec<&str> = std::iter::once(profile.auth.scope.as_str())
            .chain(profile.permission.as_ref().map(|p| p.scope.as_str()))
            .flat_map(|s| s.split(' '))
            .filter(|s| !s.is_empty())
            .collect();
        Self::embedded_with(&scopes, tls).await
    }

    /// Like [`embedded`](Self::embedded); with `tls` the provider serves
    /// HTTPS from a CA made at start ([`ca_pem`](Self::ca_pem)).
    pub async fn embedded_with(extra_scopes: &[&str], tls: bool) -> Result<Self, ProviderError> {
        let secret = mock_provider::random_base64url(24);
        let issuer = |name: &str| IssuerConfig::new(name).scopes_supported(scopes(extra_scopes));
        let mut builder = MockProvider::builder();
        if tls {
            builder = builder.tls();
        }
        for lane in 1..MAX_LANES {
            builder = builder.issuer(
                issuer(&lane_upstream_issuer(lane)).signing_algorithm(SigningAlgorithm::Es256),
            );
        }
        // Staged keys: published from the start, signing only the tokens
        // of the rotation scenarios that ask for them.
        let trusted = |name: &str| {
            issuer(name)
                .staged_key(SigningAlgorithm::Rs256)
                .staged_key(SigningAlgorithm::Es256)
                .client(
                    ClientConfig::confidential(INTROSPECTION_CLIENT, secret.clone())
                        .grant_types([GrantType::ClientCredentials]),
                )
        };
        builder = builder.issuer(trusted(KEY_LANE_TRUSTED));
        let provider = builder
            .issuer(trusted("trusted"))
            .issuer(issuer("other"))
            .issuer(issuer("upstream").signing_algorithm(SigningAlgorithm::Es256))
            .start()
            .await?;
        // Over HTTPS too: the provider's client trusts its own CA.
        let admin = provider.admin();
        let issuers = admin.issuers().await.map_err(|e| ProviderError::Remote {
            url: provider.base_url().to_owned(),
            reason: e.to_string(),
        })?;
        // The builder keeps the `default` issuer; the suite does not use it.
        Ok(Self {
            embedded: Some(provider),
            admin,
            issuers,
            introspection_secret: secret,
        })
    }

    /// Uses a standalone provider; it must have issuers named `trusted`,
    /// `other` and `upstream`.
    pub async fn remote(url: &str, admin_secret: Option<String>) -> Result<Self, ProviderError> {
        let mut admin = AdminClient::new(url);
        if let Some(s) = admin_secret {
            admin = admin.with_secret(mock_provider::Secret::new(s));
        }
        let issuers = admin.issuers().await.map_err(|e| ProviderError::Remote {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        for role in [IssuerRole::Trusted, IssuerRole::Other, IssuerRole::Upstream] {
            if !issuers.iter().any(|i| i.name == role.name()) {
                return Err(ProviderError::Remote {
                    url: url.to_owned(),
                    reason: format!(
                        "it has no issuer named `{}` (the suite needs `trusted`, `other` and `upstream`)",
                        role.name()
                    ),
                });
            }
        }
        Ok(Self {
            embedded: None,
            admin,
            issuers,
            introspection_secret: String::new(),
        })
    }

    /// The admin client.
    pub fn admin(&self) -> &AdminClient {
        &self.admin
    }

    /// The ledger's entries for one endpoint of the issuer named `issuer`
    /// (since the last reset, after `after_seq` when given), oldest first.
    pub async fn ledger_at(
        &self,
        issuer: &str,
        endpoint: mock_provider::Endpoint,
        after_seq: Option<u64>,
    ) -> Result<Vec<mock_provider::ledger::LedgerEntry>, mock_provider::AdminError> {
        self.admin
            .ledger(&mock_provider::ledger::LedgerFilter {
                issuer: Some(issuer.to_owned()),
                endpoint: Some(endpoint),
                after_seq,
                ..Default::default()
            })
            .await
    }

    /// An issuer by role (lane 0's upstream issuer for `Upstream`).
    pub fn issuer(&self, role: IssuerRole) -> &IssuerInfo {
        self.issuer_named(role.name()).unwrap_or(&self.issuers[0])
    }

    /// An issuer by name.
    pub fn issuer_named(&self, name: &str) -> Option<&IssuerInfo> {
        self.issuers.iter().find(|i| i.name == name)
    }

    /// Whether the provider has the key lane's trusted issuer.
    pub fn has_key_lane(&self) -> bool {
        self.issuer_named(KEY_LANE_TRUSTED).is_some()
    }

    /// How many lanes the provider has upstream issuers for (a standalone
    /// provider: `upstream`, then `upstream-2`, ... as far as it has them).
    pub fn lanes(&self) -> usize {
        self.lane_upstream_issuers().count().max(1)
    }

    /// The upstream issuers of the lanes the provider has, lane 0 first.
    pub fn lane_upstream_issuers(&self) -> impl Iterator<Item = &IssuerInfo> {
        (0..MAX_LANES).map_while(|n| self.issuer_named(&lane_upstream_issuer(n)))
    }

    /// The introspection client's secret (embedded provider only).
    pub fn introspection_secret(&self) -> Option<&str> {
        (!self.introspection_secret.is_empty()).then_some(self.introspection_secret.as_str())
    }

    /// The CA the embedded provider's certificate chains to, in TLS mode.
    pub fn ca_pem(&self) -> Option<&str> {
        self.embedded.as_ref().and_then(|p| p.ca_pem())
    }

    /// Whether the provider runs in this process.
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }
}
