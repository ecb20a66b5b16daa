//! The running provider: [`MockProvider`] and its builder: configuration
//! checked, keys loaded, the socket bound, the state built, the router
//! ([`crate::router`]) served until stop.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::admin::admin_client::AdminClient;
use crate::config::consent_policy::ConsentPolicy;
use crate::config::tls::{TlsError, TlsIdentity};
use crate::config::{ClientConfig, ConfigError, ConfigProblem, IssuerConfig, ProviderConfig};
use crate::faults::fault_plan::FaultPlan;
use crate::faults::refresh_barrier::RefreshBarriers;
use crate::issuer::Issuer;
use crate::ledger::Ledger;
use crate::ledger::expectation::{Expectation, UnmetExpectations};
use crate::provider_state::ProviderState;
use crate::tokens::issuer_keys::IssuerKeys;
use crate::tokens::key_set::KeySet;
use crate::tokens::pending_authorization::PendingAuthorizations;
use crate::tokens::signing_key::{KeyError, SigningKey};

/// Why the provider did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// An OAuth 2.1 authorization server running on a local port, stopped when
/// dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use mock_provider::MockProvider;
/// let provider = MockProvider::start().await.unwrap();
/// let issuer = provider.issuer_url("default").unwrap();
/// assert!(issuer.starts_with("http://127.0.0.1:"));
/// assert!(issuer.ends_with("/default"));
/// # }
/// ```
#[derive(Debug)]
pub struct MockProvider {
    addr: SocketAddr,
    ca_pem: Option<String>,
    state: Arc<ProviderState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// Each with the id of its tally in the ledger.
    expectations: Mutex<Vec<(Expectation, usize)>>,
}

/// Builds a [`MockProvider`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use mock_provider::{ClientConfig, GrantType, IssuerConfig, MockProvider, SigningAlgorithm};
/// let provider = MockProvider::builder()
///     .issuer(IssuerConfig::new("tenant-a").signing_algorithm(SigningAlgorithm::Es256))
///     .client("tenant-a", ClientConfig::confidential("svc", "secret")
///         .grant_types([GrantType::ClientCredentials]))
///     .start()
///     .await
///     .unwrap();
/// assert!(provider.issuer_url("tenant-a").is_some());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MockProviderBuilder {
    config: ProviderConfig,
    addr: SocketAddr,
    interactive_consent: bool,
    /// Whether the issuer set was chosen (`config` or `issuer`): until it
    /// is, the implicit `default` issuer stands; the first `issuer` call
    /// replaces it rather than adding beside it.
    issuers_chosen: bool,
}

impl Default for MockProviderBuilder {
    fn default() -> Self {
        Self {
            config: ProviderConfig::default(),
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            interactive_consent: false,
            issuers_chosen: false,
        }
    }
}

impl MockProviderBuilder {
    /// Uses a whole configuration (its `bind`/`port` are ignored: see
    /// [`bind`](Self::bind)).
    pub fn config(mut self, config: ProviderConfig) -> Self {
        self.config = config;
        self.issuers_chosen = true;
        self
    }

    /// Adds an issuer, or replaces the one with the same name. The first
    /// call replaces the implicit `default` issuer: the provider serves
    /// exactly the issuers asked for.
    pub fn issuer(mut self, issuer: IssuerConfig) -> Self {
        if !self.issuers_chosen {
            // The implicit `default` issuer goes: the set is what is asked.
            self.config.issuers.clear();
            self.issuers_chosen = true;
        }
        match self
            .config
            .issuers
            .iter_mut()
            .find(|i| i.name == issuer.name)
        {
            Some(existing) => *existing = issuer,
            None => self.config.issuers.push(issuer),
        }
        self
    }

    /// Adds a client to the named issuer, creating the issuer with every
    /// default if there is none of that name yet.
    pub fn client(mut self, issuer: &str, client: ClientConfig) -> Self {
        match self.config.issuers.iter_mut().find(|i| i.name == issuer) {
            Some(i) => i.clients.push(client),
            None => self
                .config
                .issuers
                .push(IssuerConfig::new(issuer).client(client)),
        }
        self
    }

    /// Serves HTTPS with a generated CA and leaf certificate (see
    /// [`MockProvider::ca_pem`]).
    pub fn tls(mut self) -> Self {
        self.config.tls.enabled = true;
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Shows the consent page for every issuer (like `serve
    /// --interactive`); clients with their own `consent` keep it.
    pub fn interactive_consent(mut self) -> Self {
        self.interactive_consent = true;
        self
    }

    /// Validates, loads keys, binds and starts serving.
    pub async fn start(self) -> Result<MockProvider, StartError> {
        let mut config = self.config;
        if self.interactive_consent {
            config.interactive_consent();
        }
        config.validate().map_err(|problems| ConfigError::Invalid {
            origin: config.source_file.clone(),
            problems,
        })?;
        // The first random bytes of a process seed aws-lc's generator
        // (about 25 ms of jitter entropy on one core): done off the start's
        // path, before the first token needs them. Requests that come
        // sooner wait for the seeding inside aws-lc.
        tokio::task::spawn_blocking(|| {
            let _ = aws_lc_rs::rand::fill(&mut [0u8; 1]);
        });
        // Key files load on blocking threads while the socket is bound, and
        // a bad one fails the start. Keys to generate are made after the
        // start returns (see `issuer_keys`): RSA-2048 takes 50-100 ms.
        let key_file_jobs: Vec<_> = config
            .issuers
            .iter()
            .map(|i| {
                i.key_file.is_some().then(|| {
                    let i = i.clone();
                    let base = config.base_dir().map(ToOwned::to_owned);
                    tokio::task::spawn_blocking(move || i.signing_key(base.as_deref()))
                })
            })
            .collect();
        if config.admin.enabled && config.admin.secret.is_none() && !self.addr.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                origin: config.source_file.clone(),
                problems: vec![ConfigProblem {
                    field: "admin.secret".into(),
                    reason: format!(
                        "is required to listen on the non-loopback address {} with the admin API on (or set admin.enabled = false)",
                        self.addr.ip()
                    ),
                }],
            }
            .into());
        }
        let listener = TcpListener::bind(self.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: self.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: self.addr,
            source,
        })?;
        let url_host = if addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            addr.ip()
        };
        // TLS material is made (or read) before the URL is known, so a bad
        // certificate never leaves a half-started server.
        let tls = if config.tls.enabled {
            let tls_config = config.tls.clone();
            let base = config.base_dir().map(ToOwned::to_owned);
            let identity = tokio::task::spawn_blocking(move || {
                TlsIdentity::from_config(&tls_config, base.as_deref())
            })
            .await
            .map_err(|e| TlsError::Invalid(e.to_string()))
            .and_then(|r| r)
            .map_err(|e| ConfigError::Invalid {
                origin: config.source_file.clone(),
                problems: vec![ConfigProblem {
                    field: "tls".into(),
                    reason: e.to_string(),
                }],
            })?;
            Some(identity)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{}", SocketAddr::new(url_host, addr.port()));

        let mut issuers = BTreeMap::new();
        let mut to_generate = Vec::new();
        let mut problems = Vec::new();
        for (idx, (cfg, job)) in config.issuers.iter().zip(key_file_jobs).enumerate() {
            let loaded = match job {
                None => None,
                Some(job) => match job.await {
                    Ok(Ok(key)) => Some(key),
                    Ok(Err(reason)) => {
                        problems.push(ConfigProblem {
                            field: format!("issuer[{idx}].key_file"),
                            reason: reason.to_string(),
                        });
                        continue;
                    }
                    Err(e) => {
                        problems.push(ConfigProblem {
                            field: format!("issuer[{idx}].key_file"),
                            reason: format!("key loading task failed: {e}"),
                        });
                        continue;
                    }
                },
            };
            let (keys, generate) = match loaded {
                Some(key) if cfg.staged_keys.is_empty() => {
                    (IssuerKeys::ready(KeySet::new(key)), None)
                }
                loaded => (IssuerKeys::pending(), Some(loaded)),
            };
            let issuer = Arc::new(Issuer::new(cfg, &base_url, keys));
            if let Some(loaded) = generate {
                to_generate.push((cfg.clone(), issuer.clone(), loaded));
            }
            issuers.insert(cfg.name.clone(), issuer);
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                origin: config.source_file.clone(),
                problems,
            }
            .into());
        }
        for (cfg, issuer, loaded) in to_generate {
            tokio::task::spawn_blocking(move || {
                let keys = generate_keys(&cfg, loaded);
                if let Err(reason) = &keys {
                    tracing::error!(issuer = %cfg.name, %reason, "signing keys could not be generated");
                }
                issuer.settle_keys(keys);
            });
        }
        let faults = FaultPlan::default();
        for rule in &config.faults {
            faults.add(rule.clone());
        }
        let consent = config
            .issuers
            .iter()
            .map(|i| (i.name.clone(), ConsentPolicy::from_config(i)))
            .collect();
        let state = Arc::new(ProviderState {
            base_url,
            issuers,
            faults,
            initial_faults: config.faults.clone(),
            ledger: Ledger::default(),
            barriers: RefreshBarriers::default(),
            admin_secret: config.admin.secret.clone(),
            admin_allowed_hosts: config.admin.allowed_hosts.clone(),
            consent,
            pending: PendingAuthorizations::default(),
            admin_form_token: std::sync::OnceLock::new(),
        });
        let (tx, rx) = oneshot::channel::<()>();
        let mut app = crate::router::router(state.clone());
        if config.admin.enabled {
            app =
                app.merge(crate::admin::admin_api::routes(state.clone()).with_state(state.clone()));
        }
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        let ca_pem = tls.as_ref().and_then(|t| t.ca_pem().map(str::to_owned));
        let task = match &tls {
            None => tokio::spawn(async move {
                let _ = axum::serve(listener, service)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            }),
            Some(identity) => {
                let rustls = identity.server_config().map_err(|e| ConfigError::Invalid {
                    origin: config.source_file.clone(),
                    problems: vec![ConfigProblem {
                        field: "tls".into(),
                        reason: e.to_string(),
                    }],
                })?;
                let std_listener = listener.into_std().map_err(|source| StartError::Bind {
                    addr: self.addr,
                    source,
                })?;
                let server = axum_server::from_tcp_rustls(
                    std_listener,
                    axum_server::tls_rustls::RustlsConfig::from_config(rustls),
                )
                .map_err(|source| StartError::Bind {
                    addr: self.addr,
                    source,
                })?;
                let handle = axum_server::Handle::new();
                let stopper = handle.clone();
                tokio::spawn(async move {
                    let _ = rx.await;
                    stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
                });
                tokio::spawn(async move {
                    let _ = server.handle(handle).serve(service).await;
                })
            }
        };
        Ok(MockProvider {
            addr,
            ca_pem,
            state,
            shutdown: Some(tx),
            task: Some(task),
            expectations: Mutex::default(),
        })
    }
}

impl MockProvider {
    /// Starts a provider with the default configuration (one issuer named
    /// `default`) on a free port of 127.0.0.1.
    pub async fn start() -> Result<Self, StartError> {
        Self::builder().start().await
    }

    /// A builder.
    pub fn builder() -> MockProviderBuilder {
        MockProviderBuilder::default()
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PEM of the CA that issued the provider's certificate, when it
    /// serves HTTPS with a generated one: what its clients must trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS)
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The identifier of the named issuer.
    pub fn issuer_url(&self, name: &str) -> Option<String> {
        self.state.issuers.get(name).map(|i| i.url().to_owned())
    }

    /// The named issuer, for direct inspection.
    pub fn issuer(&self, name: &str) -> Option<Arc<Issuer>> {
        self.state.issuers.get(name).cloned()
    }

    /// Every issuer, by name.
    pub fn issuers(&self) -> Vec<Arc<Issuer>> {
        self.state.issuers.values().cloned().collect()
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        self.state.ledger()
    }

    /// Expects requests from now on (see [`Expectation`]); checked by
    /// [`MockProvider::verify`] and when the provider is dropped.
    pub fn expect(&self, expectation: Expectation) {
        let id = self.ledger().watch(expectation.filter.clone());
        self.expectations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((expectation, id));
    }

    /// Whether every expectation is met so far.
    pub fn verify(&self) -> Result<(), UnmetExpectations> {
        let unmet: Vec<String> = self
            .expectations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|(e, id)| e.unmet(self.ledger().watched(*id)))
            .collect();
        if unmet.is_empty() {
            Ok(())
        } else {
            Err(UnmetExpectations(unmet))
        }
    }

    /// A client for this provider's admin API: with its secret, and over
    /// HTTPS trusting the provider's own CA when it serves TLS.
    pub fn admin(&self) -> AdminClient {
        let mut client = AdminClient::new(self.base_url());
        if let Some(http) = self.ca_pem().and_then(|pem| {
            let ca = reqwest::Certificate::from_pem(pem.as_bytes()).ok()?;
            reqwest::Client::builder().tls_certs_only([ca]).build().ok()
        }) {
            client = client.with_http(http);
        }
        match self.state.admin_secret() {
            Some(secret) => client.with_secret(secret.clone()),
            None => client,
        }
    }

    /// Stops accepting connections and waits for open ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        // As wiremock does: an unmet expectation fails the test that set
        // it, unless that test is already failing.
        if !std::thread::panicking()
            && let Err(unmet) = self.verify()
        {
            panic!("{unmet}");
        }
    }
}

/// An issuer's key set: the key from its file or a new one, and its
/// staged keys (made on a blocking thread after the start).
fn generate_keys(cfg: &IssuerConfig, loaded: Option<SigningKey>) -> Result<KeySet, KeyError> {
    let active = match loaded {
        Some(key) => key,
        None => SigningKey::generate(cfg.signing_algorithm)?,
    };
    Ok(KeySet::with_staged(active, cfg.staged_signing_keys()?))
}
