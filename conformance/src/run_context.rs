//! What a run shares across scenarios: the profile and spec version, the
//! provider, the server under test (started with the environment contract
//! when the profile says how), the MCP client, the placeholders, and every
//! secret and response seen so far.
//!
//! A concurrent run has several lanes, each a `RunContext` of its own
//! ([`RunContext::open_lane`]): its own server process on its own port,
//! its own upstream issuer (so its own upstream client, grant, faults and
//! ledger entries) and its own token store, sharing the provider's
//! `trusted` and `other` issuers (the key lane has a trusted issuer of its
//! own as well). What a lane saw joins the first lane's
//! books when it closes ([`RunContext::close_lane`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::mcp_client::McpClient;
use crate::profile::TargetProfile;
use crate::provider_link::IssuerRole;
use crate::provider_link::{INTROSPECTION_CLIENT, ProviderLink};
use crate::secret_book::SecretBook;
use crate::spec_version::SpecVersion;
use crate::target_server::{LaunchSpec, TargetError, TargetServer, free_port};
use crate::template::Vars;
use crate::upstream_grant::seed_upstream;
pub use crate::upstream_grant::{SeedError, UPSTREAM_CLIENT};
use mock_provider::admin::IssuerInfo;

/// The run's shared state.
pub struct RunContext {
    /// The profile.
    pub profile: TargetProfile,
    /// The spec version.
    pub version: SpecVersion,
    /// The provider, shared by the lanes.
    pub provider: Arc<ProviderLink>,
    /// The name of this lane's upstream issuer at the provider.
    pub upstream_issuer: String,
    /// The name of the issuer this lane's server trusts (`trusted`, or the
    /// key lane's own).
    pub trusted_issuer: String,
    /// The ledger's last `seq` when the current scenario began: what the
    /// scenario's ledger reads start after (other lanes keep writing).
    pub scenario_mark: Option<u64>,
    /// The output of other lanes' servers, once they closed (for the leak
    /// scans).
    pub other_lane_logs: Vec<String>,
    request_timeout: Duration,
    /// The server, when the suite started it.
    pub server: Option<TargetServer>,
    /// The MCP client.
    pub client: McpClient,
    /// Placeholders every scenario can use.
    pub vars: Vars,
    /// Every secret handed out.
    pub book: SecretBook,
    /// Every response text received (for the leak scan).
    pub responses: Vec<(String, String)>,
    /// The MCP endpoint.
    pub url: String,
    /// The server's own client at the upstream issuer (with `[upstream]`).
    pub upstream_client: Option<String>,
    /// The directory handed over as `MCP_TOKEN_STORE_DIR`: a path in a
    /// private directory of the suite's that does not exist when the server
    /// starts (the server creates it).
    pub token_store: Option<std::path::PathBuf>,
    /// When the server last fetched the trusted issuer's JWKS, as far as
    /// the ledger showed before its last reset (milliseconds since the
    /// epoch): a refetch cooldown runs from there, not from a scenario's
    /// start.
    pub last_jwks_fetch_ms: Option<u64>,
    /// Keeps the token store directory alive for the run.
    _token_store_dir: Option<tempfile::TempDir>,
}

/// The issuers a lane has: its upstream issuer, and the issuer its server
/// trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneIssuers {
    /// The upstream issuer's name (`upstream`, `upstream-2`, ...).
    pub upstream: String,
    /// The trusted issuer's name (`trusted`, or the key lane's own).
    pub trusted: String,
}

/// The name of `MCP_TOKEN_STORE_DIR` inside the suite's private directory.
const TOKEN_STORE_SUBDIR: &str = "token-store";

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No free port.
    #[error("cannot pick a free port: {0}")]
    Port(std::io::Error),
    /// The server did not come up.
    #[error("{0}")]
    Server(#[from] TargetError),
    /// A URL from the profile does not work out.
    #[error("profile: {0}")]
    Profile(String),
    /// The provider did not start or cannot be used.
    #[error("{0}")]
    Provider(#[from] crate::provider_link::ProviderError),
    /// The server's upstream grant could not be seeded.
    #[error("{0}")]
    Seed(SeedError),
}

/// The ledger's latest `seq`, if it has entries.
pub async fn latest_ledger_seq(
    provider: &ProviderLink,
) -> Result<Option<u64>, mock_provider::AdminError> {
    let newest = provider
        .admin()
        .ledger(&mock_provider::ledger::LedgerFilter {
            limit: Some(1),
            ..Default::default()
        })
        .await?;
    Ok(newest.last().map(|e| e.seq))
}

/// Where the server says its Protected Resource Metadata is: the
/// `resource_metadata` of the Bearer challenge it answers a request without
/// a token with (one of the two discovery mechanisms of MCP 2025-11-25,
/// and the one 2025-06-18 requires), else the RFC 9728 well-known URL.
async fn discover_prm_url(client: &McpClient, resource: &Url) -> String {
    let (answer, _) = client.handshake(None, &[]).await;
    answer
        .bearer_challenge()
        .and_then(|c| c.param("resource_metadata").map(str::to_owned))
        .filter(|u| Url::parse(u).is_ok())
        .unwrap_or_else(|| prm_url(resource))
}

/// RFC 9728 3.1: the metadata location inserts the well-known suffix
/// between the host and the resource's path.
pub fn prm_url(resource: &Url) -> String {
    let origin = resource.origin().ascii_serialization();
    let path = resource.path().trim_end_matches('/');
    format!("{origin}/.well-known/oauth-protected-resource{path}")
}

impl RunContext {
    /// Resolves the profile's URLs, sets the environment contract and
    /// starts the server if the profile says how.
    pub async fn prepare(
        profile: TargetProfile,
        version: SpecVersion,
        provider: ProviderLink,
        request_timeout: Duration,
    ) -> Result<Self, SetupError> {
        let lane = LaneIssuers {
            upstream: IssuerRole::Upstream.name().to_owned(),
            trusted: IssuerRole::Trusted.name().to_owned(),
        };
        Self::prepare_lane(profile, version, Arc::new(provider), request_timeout, lane).await
    }

    /// Another lane beside this one: the same profile, spec version and
    /// provider; its own server (on a port of its own, when the suite
    /// starts the server) and the issuers `lane` names.
    pub async fn open_lane(&self, lane: LaneIssuers) -> Result<Self, SetupError> {
        Self::prepare_lane(
            self.profile.clone(),
            self.version,
            self.provider.clone(),
            self.request_timeout,
            lane,
        )
        .await
    }

    /// The issuers this lane has to itself: its upstream issuer, and its
    /// trusted issuer when it is not the shared one.
    pub fn own_issuers(&self) -> Vec<String> {
        let mut own = vec![self.upstream_issuer.clone()];
        if self.trusted_issuer != IssuerRole::Trusted.name() {
            own.push(self.trusted_issuer.clone());
        }
        own
    }

    /// A lane's books join this one's (secrets handed out, responses, the
    /// server's output), and its server stops.
    pub async fn close_lane(&mut self, mut lane: RunContext) {
        self.book.absorb(std::mem::take(&mut lane.book));
        self.responses.append(&mut lane.responses);
        self.last_jwks_fetch_ms = self.last_jwks_fetch_ms.max(lane.last_jwks_fetch_ms);
        lane.shutdown().await;
        if let Some(server) = &lane.server {
            self.other_lane_logs.push(server.logs());
        }
        self.other_lane_logs.append(&mut lane.other_lane_logs);
    }

    /// An issuer by role, this lane's.
    pub fn issuer(&self, role: IssuerRole) -> &IssuerInfo {
        self.provider
            .issuer_named(self.issuer_name(role))
            .unwrap_or_else(|| self.provider.issuer(role))
    }

    /// An issuer's name at the provider, this lane's.
    pub fn issuer_name(&self, role: IssuerRole) -> &str {
        match role {
            IssuerRole::Upstream => &self.upstream_issuer,
            IssuerRole::Trusted => &self.trusted_issuer,
            IssuerRole::Other => role.name(),
        }
    }

    /// The ledger's entries for one endpoint of an issuer since the
    /// current scenario began (or after `after_seq`, when later).
    pub async fn ledger_at(
        &self,
        role: IssuerRole,
        endpoint: mock_provider::Endpoint,
        after_seq: Option<u64>,
    ) -> Result<Vec<mock_provider::ledger::LedgerEntry>, mock_provider::AdminError> {
        self.provider
            .ledger_at(
                self.issuer_name(role),
                endpoint,
                after_seq.max(self.scenario_mark),
            )
            .await
    }

    /// Notes where the ledger stands as a scenario begins.
    pub async fn mark_scenario_start(&mut self) -> Result<(), mock_provider::AdminError> {
        self.scenario_mark = latest_ledger_seq(&self.provider).await?;
        Ok(())
    }

    async fn prepare_lane(
        profile: TargetProfile,
        version: SpecVersion,
        provider: Arc<ProviderLink>,
        request_timeout: Duration,
        lane: LaneIssuers,
    ) -> Result<Self, SetupError> {
        let LaneIssuers {
            upstream: upstream_issuer,
            trusted: trusted_issuer,
        } = lane;
        let port = if profile.server.command.is_some() {
            free_port().map_err(SetupError::Port)?
        } else {
            0
        };
        let fill = |s: &str| s.replace("{port}", &port.to_string());
        let url = fill(&profile.server.url);
        let resource = profile
            .server
            .resource
            .as_deref()
            .map(fill)
            .unwrap_or_else(|| url.clone());
        let resource_url = Url::parse(&resource)
            .map_err(|e| SetupError::Profile(format!("server.resource `{resource}`: {e}")))?;
        let origin = resource_url.origin().ascii_serialization();

        let named = |name: &str| {
            provider.issuer_named(name).cloned().ok_or_else(|| {
                SetupError::Profile(format!("the provider has no issuer named `{name}`"))
            })
        };
        let trusted = named(&trusted_issuer)?;
        let other = provider.issuer(IssuerRole::Other).clone();
        let upstream = named(&upstream_issuer)?;
        let mut vars = Vars::default();
        vars.set("url", url.clone());
        vars.set("resource", resource.clone());
        vars.set("origin", origin.clone());
        vars.set("prm_url", prm_url(&resource_url));
        vars.set(
            "prm_root_url",
            format!("{origin}/.well-known/oauth-protected-resource"),
        );
        vars.set("other_resource", format!("{origin}/another-mcp-server"));
        vars.set("issuer", trusted.issuer.clone());
        vars.set("other_issuer", other.issuer.clone());
        vars.set("other_jwks_uri", other.jwks_uri.clone());
        vars.set("upstream_issuer", upstream.issuer.clone());
        vars.set("upstream_api", upstream.upstream_api.clone());
        vars.set("auth_scope", profile.auth.scope.clone());
        if let Some(p) = &profile.permission {
            vars.set("permission_scope", p.scope.clone());
            vars.set("full_scope", format!("{} {}", profile.auth.scope, p.scope));
        }

        let mut book = SecretBook::default();
        let upstream_env = match &profile.upstream {
            Some(u) => Some(
                seed_upstream(&provider, &upstream, &mut book, u)
                    .await
                    .map_err(SetupError::Seed)?,
            ),
            None => None,
        };
        // A private directory of the suite's, and in it the path of the
        // server's token directory, which does not exist yet: the server
        // creates it, and its mode is the server's doing (a directory the
        // suite made would be 0700 whatever the server does).
        let token_store_dir = if profile.upstream.as_ref().is_some_and(|u| u.token_store) {
            Some(
                tempfile::Builder::new()
                    .prefix("mcp-token-store-")
                    .tempdir()
                    .map_err(SetupError::Port)?,
            )
        } else {
            None
        };
        let token_store_path = token_store_dir
            .as_ref()
            .map(|d| d.path().join(TOKEN_STORE_SUBDIR));
        let server = match &profile.server.command {
            None => None,
            Some(command) => {
                let mut env = BTreeMap::new();
                env.insert("PORT".to_owned(), port.to_string());
                env.insert("MCP_RESOURCE_URL".to_owned(), resource.clone());
                env.insert("MCP_AUTH_ISSUER".to_owned(), trusted.issuer.clone());
                env.insert("MCP_AUTH_JWKS_URI".to_owned(), trusted.jwks_uri.clone());
                env.insert(
                    "MCP_AUTH_INTROSPECTION_URI".to_owned(),
                    format!("{}/introspect", trusted.issuer),
                );
                if let Some(secret) = provider.introspection_secret() {
                    env.insert(
                        "MCP_AUTH_INTROSPECTION_CLIENT_ID".to_owned(),
                        INTROSPECTION_CLIENT.to_owned(),
                    );
                    env.insert(
                        "MCP_AUTH_INTROSPECTION_CLIENT_SECRET".to_owned(),
                        secret.to_owned(),
                    );
                    book.add(secret, "introspection client secret");
                }
                env.extend(upstream_env.clone().unwrap_or_default());
                // TLS mode: the server must trust the provider's CA; these
                // are the variables OpenSSL, rustls, Node and Python read.
                if let Some(ca) = provider.ca_pem() {
                    let path = std::env::temp_dir().join(format!(
                        "mcp-auth-conformance-ca-{}.pem",
                        std::process::id()
                    ));
                    std::fs::write(&path, ca).map_err(SetupError::Port)?;
                    for var in ["SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE"] {
                        env.insert(var.to_owned(), path.display().to_string());
                    }
                }
                if let Some(dir) = &token_store_path {
                    env.insert("MCP_TOKEN_STORE_DIR".to_owned(), dir.display().to_string());
                }
                for (k, v) in &profile.server.env {
                    env.insert(k.clone(), fill(v));
                }
                let cwd = profile
                    .server
                    .cwd
                    .as_ref()
                    .map(|c| profile.base_dir().join(c))
                    .or_else(|| Some(profile.base_dir()).filter(|d| !d.as_os_str().is_empty()));
                let mut command: Vec<String> = command.iter().map(|c| fill(c)).collect();
                // A relative program path with a directory in it is relative
                // to the profile, like every other path in it.
                if let Some(program) = command.first_mut()
                    && program.contains('/')
                    && std::path::Path::new(program.as_str()).is_relative()
                {
                    *program = profile.base_dir().join(&*program).display().to_string();
                }
                let spec = LaunchSpec {
                    command,
                    cwd,
                    env,
                    ready_url: url.clone(),
                    ready_timeout: Duration::from_secs(profile.server.ready_timeout_secs),
                };
                Some(TargetServer::start(spec).await?)
            }
        };
        let client = McpClient::new(&url, version, request_timeout);
        vars.set(
            "discovered_prm_url",
            discover_prm_url(&client, &resource_url).await,
        );
        Ok(Self {
            profile,
            version,
            provider,
            upstream_issuer,
            trusted_issuer,
            scenario_mark: None,
            other_lane_logs: Vec::new(),
            request_timeout,
            server,
            client,
            vars,
            book,
            responses: Vec::new(),
            upstream_client: upstream_env.map(|_| UPSTREAM_CLIENT.to_owned()),
            token_store: token_store_path,
            last_jwks_fetch_ms: None,
            _token_store_dir: token_store_dir,
            url,
        })
    }

    /// A fresh upstream grant for the server (the provider was reset), and
    /// a restart so the server picks it up.
    pub async fn reseed_upstream(&mut self) -> Result<(), SeedError> {
        let Some(section) = self.profile.upstream.clone() else {
            return Ok(());
        };
        let upstream = self.issuer(IssuerRole::Upstream).clone();
        let env = seed_upstream(&self.provider, &upstream, &mut self.book, &section).await?;
        // A new grant: what the store holds belongs to the old one. The
        // directory goes too: the restarted server creates it again.
        if let Some(dir) = &self.token_store {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(server) = self.server.as_mut() {
            for (k, v) in &env {
                server.set_env(k, v);
            }
            server.restart().await.map_err(SeedError::Restart)?;
        }
        Ok(())
    }

    /// When the server's upstream client was refused at the upstream token
    /// endpoint for the way it authenticated, that in plain words: the
    /// usual reason a correct server's upstream calls fail here.
    pub async fn upstream_client_auth_hint(&self) -> Option<String> {
        let section = self.profile.upstream.as_ref()?;
        let client = self.upstream_client.as_deref()?;
        let refused = self
            .ledger_at(IssuerRole::Upstream, mock_provider::Endpoint::Token, None)
            .await
            .ok()?
            .into_iter()
            .rev()
            .find(|e| e.client_id.as_deref() == Some(client) && e.outcome == "invalid_client")?;
        let accepted = match section.client_auth {
            Some(m) => format!("only {m} (the profile's [upstream] client_auth)"),
            None => "client_secret_basic or client_secret_post".to_owned(),
        };
        Some(match refused.client_auth {
            Some(used) => format!(
                "the upstream token endpoint refused the server's client authentication: your server authenticated with {used}; the upstream accepts {accepted}, with UPSTREAM_CLIENT_ID and UPSTREAM_CLIENT_SECRET"
            ),
            None => format!(
                "the upstream token endpoint refused the server's request: it carried no client authentication; the upstream accepts {accepted}, with UPSTREAM_CLIENT_ID and UPSTREAM_CLIENT_SECRET"
            ),
        })
    }

    /// Finds the newest spec version both sides speak, with a valid token:
    /// 2026-07-28's `server/discover` first, then `initialize` offering
    /// the newest revision with a handshake and taking the version the
    /// server answers with. Switches the run to it; `None` (and the run
    /// stays on the default) when the server answered neither.
    pub async fn negotiate_version(&mut self) -> Option<SpecVersion> {
        use mock_provider::admin::MintRequest;
        let minted = self
            .provider
            .admin()
            .mint_token(
                &self.trusted_issuer,
                &MintRequest {
                    client_id: Some("mcp-conformance-client".to_owned()),
                    subject: Some("alice".to_owned()),
                    scope: Some(self.profile.auth.scope.clone()),
                    audience: self.vars.get("resource").map(|r| serde_json::json!(r)),
                    ..Default::default()
                },
            )
            .await
            .ok()?;
        self.book.add(&minted.access_token, "token negotiation");
        let bearer = format!("Bearer {}", minted.access_token);
        let newest = self.client.with_version(SpecVersion::V2026_07_28);
        let (answer, _) = newest.handshake(Some(&bearer), &[]).await;
        let speaks_newest = (200..300).contains(&answer.status())
            && answer
                .jsonrpc
                .as_ref()
                .is_some_and(|r| r.get("result").is_some());
        let version = if speaks_newest {
            SpecVersion::V2026_07_28
        } else {
            let offer = self.client.with_version(SpecVersion::V2025_11_25);
            let (answer, _) = offer.handshake(Some(&bearer), &[]).await;
            answer
                .jsonrpc
                .as_ref()
                .and_then(|r| r.pointer("/result/protocolVersion"))
                .and_then(|v| v.as_str())
                .and_then(|v| v.parse().ok())?
        };
        self.version = version;
        self.client = self.client.with_version(version);
        Some(version)
    }

    /// Notes the server's latest JWKS fetch from the ledger (before a reset
    /// clears it).
    pub async fn note_jwks_fetches(&mut self) -> Result<(), mock_provider::AdminError> {
        let latest = self
            .provider
            .ledger_at(&self.trusted_issuer, mock_provider::Endpoint::Jwks, None)
            .await?
            .iter()
            .map(|e| e.time_ms)
            .max();
        self.last_jwks_fetch_ms = self.last_jwks_fetch_ms.max(latest);
        Ok(())
    }

    /// Stops the server, if the suite started it.
    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.as_mut() {
            server.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prm_location_inserts_the_well_known_suffix() {
        let u = Url::parse("http://127.0.0.1:3000/mcp").unwrap();
        assert_eq!(
            prm_url(&u),
            "http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp"
        );
        let root = Url::parse("https://mcp.example").unwrap();
        assert_eq!(
            prm_url(&root),
            "https://mcp.example/.well-known/oauth-protected-resource"
        );
    }
}
