//! One issuer at run time: its identifier and endpoint URLs, settings, keys,
//! clients and grant state, and the access token minting every grant shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::clients::client_metadata_document::{self, FetchPolicy, MetadataDocumentError};
use crate::clients::client_registry::{ClientOrigin, ClientRegistry, RegisteredClient};
use crate::config::IssuerConfig;
use crate::config::issuer_policy::IssuerPolicy;
use crate::faults::fault_plan::AppliedFaults;
use crate::faults::signing_fault;
use crate::protocol::limits::MAX_CACHED_METADATA_DOCUMENTS;
use crate::protocol::oauth_error::OAuthError;
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::random_base64url;
use crate::tokens::access_token::{AccessTokenClaims, Audience};
use crate::tokens::authorization_code::CodeStore;
use crate::tokens::issuer_keys::{IssuerKeys, KeysUnavailable};
use crate::tokens::key_set::KeySet;
use crate::tokens::signing_key::{KeyError, SigningKey};
use crate::tokens::token_family::{FamilyId, TokenFamilies};

/// How long a fetched client ID metadata document is trusted.
const METADATA_DOCUMENT_TTL: Duration = Duration::from_secs(60);

/// Expired grant records are pruned every this many mutations.
const PRUNE_EVERY: u64 = 4096;

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A claim value as text: a string as is, anything else (an override may
/// put a number in `aud`) as JSON.
fn claim_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// What an issuer's tokens look like; from [`IssuerConfig`].
#[derive(Debug, Clone)]
pub struct IssuerSettings {
    /// Access token lifetime in seconds.
    pub access_token_ttl: u64,
    /// Refresh token lifetime in seconds.
    pub refresh_token_ttl: u64,
    /// Authorization code lifetime in seconds.
    pub code_ttl: u64,
    /// Supported scopes, in configured order (for metadata).
    pub scopes_supported: Vec<String>,
    /// The user approved by default.
    pub default_subject: String,
    /// `aud` when no resource is asked for.
    pub default_audience: String,
    /// Allowed resources (empty: any).
    pub resources: Vec<String>,
    /// Extra access token claims.
    pub extra_claims: Map<String, Value>,
    /// RFC 7591 registration on.
    pub dynamic_registration: bool,
    /// Client ID metadata documents on.
    pub client_id_metadata_documents: bool,
    /// How strict it is with clients.
    pub policy: IssuerPolicy,
}

/// The mutable grant state of an issuer, behind one lock so that code
/// redemption and refresh rotation are atomic.
#[derive(Debug, Default)]
pub struct GrantState {
    /// Authorization codes.
    pub codes: CodeStore,
    /// Token families.
    pub families: TokenFamilies,
    mutations: u64,
}

impl GrantState {
    /// Records an issued access token, in `family` if its grant has one,
    /// and counts the mutation: tokens that only ever expire
    /// (client_credentials, minted) are pruned like the rest.
    pub fn record_access_token(
        &mut self,
        family: Option<FamilyId>,
        claims: &AccessTokenClaims,
        now: u64,
    ) {
        self.families.add_access_token(
            family,
            &claims.jti,
            &claims.client_id,
            &claims.sub,
            claims.exp,
        );
        self.touch(now);
    }

    /// Counts a mutation and prunes expired records now and then.
    pub fn touch(&mut self, now: u64) {
        self.mutations += 1;
        if self.mutations.is_multiple_of(PRUNE_EVERY) {
            self.families.prune(now);
            self.codes.forget_stale(now);
        }
    }
}

/// Why a client id did not resolve to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientLookupError {
    /// Neither registered nor a metadata document URL.
    #[error("client `{0}` is not registered with this issuer")]
    Unknown(String),
    /// A metadata document URL that did not work.
    #[error(transparent)]
    MetadataDocument(#[from] MetadataDocumentError),
}

/// An issuer.
#[derive(Debug)]
pub struct Issuer {
    name: String,
    url: String,
    settings: IssuerSettings,
    keys: IssuerKeys,
    configured_clients: Vec<RegisteredClient>,
    clients: RwLock<ClientRegistry>,
    metadata_documents: Mutex<HashMap<String, (Arc<RegisteredClient>, Instant)>>,
    grants: Mutex<GrantState>,
    /// Made at the first document fetch: most runs never fetch one.
    metadata_http: std::sync::OnceLock<reqwest::Client>,
}

impl Issuer {
    /// Builds an issuer from validated configuration and its keys, which
    /// may still be being generated (see [`crate::tokens::issuer_keys`]).
    pub(crate) fn new(config: &IssuerConfig, base_url: &str, keys: IssuerKeys) -> Self {
        let url = format!("{}/{}", base_url.trim_end_matches('/'), config.name);
        let configured_clients: Vec<RegisteredClient> =
            config.clients.iter().map(|c| c.to_registered()).collect();
        let mut registry = ClientRegistry::default();
        for c in &configured_clients {
            registry.insert(c.clone());
        }
        Self {
            name: config.name.clone(),
            settings: IssuerSettings {
                access_token_ttl: config.access_token_ttl_secs,
                refresh_token_ttl: config.refresh_token_ttl_secs,
                code_ttl: config.authorization_code_ttl_secs,
                scopes_supported: config.scopes_supported.clone(),
                default_subject: config.default_subject.clone(),
                default_audience: config
                    .default_audience
                    .clone()
                    .unwrap_or_else(|| format!("{url}/api")),
                resources: config.resources.clone(),
                extra_claims: config.extra_claims.clone(),
                dynamic_registration: config.dynamic_registration,
                client_id_metadata_documents: config.client_id_metadata_documents,
                policy: config.policy.clone(),
            },
            url,
            keys,
            configured_clients,
            clients: RwLock::new(registry),
            metadata_documents: Mutex::new(HashMap::new()),
            grants: Mutex::new(GrantState::default()),
            metadata_http: std::sync::OnceLock::new(),
        }
    }

    /// The issuer's name (its path segment).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The issuer identifier, e.g. `http://127.0.0.1:9400/default`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An endpoint URL under the issuer.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.url)
    }

    /// The audience the issuer's mock upstream API accepts:
    /// `{issuer}/api`, also its URL.
    pub fn upstream_audience(&self) -> String {
        self.endpoint("api")
    }

    /// The settings.
    pub fn settings(&self) -> &IssuerSettings {
        &self.settings
    }

    /// The supported scopes as a set.
    pub fn supported_scopes(&self) -> ScopeSet {
        ScopeSet::from_tokens(self.settings.scopes_supported.iter().cloned())
    }

    /// The current keys; waits while they are still being generated at
    /// start in the background.
    pub async fn keys(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        self.keys.current().await
    }

    /// The current keys if they exist yet, without waiting.
    pub fn keys_now(&self) -> Option<Arc<KeySet>> {
        self.keys.now()
    }

    /// Hands over the keys generated at start.
    pub(crate) fn settle_keys(&self, keys: Result<KeySet, KeyError>) {
        self.keys.settle(keys);
    }

    /// Makes `next` the signing key; the old one stays in the JWKS for
    /// `grace_secs`, or leaves it at once with `None`.
    pub async fn rotate_keys(
        &self,
        next: SigningKey,
        grace_secs: Option<u64>,
    ) -> Result<Arc<KeySet>, KeysUnavailable> {
        self.keys
            .replace(|keys| keys.rotated(next, grace_secs, now()))
            .await
    }

    /// Back to the state at start: configured clients and keys only, no
    /// grants, no cached metadata documents.
    pub fn reset(&self) {
        self.keys.reset();
        let mut registry = ClientRegistry::default();
        for c in &self.configured_clients {
            registry.insert(c.clone());
        }
        *self.clients.write().unwrap_or_else(|p| p.into_inner()) = registry;
        self.metadata_documents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.grants() = GrantState::default();
    }

    /// The grant state, locked. Hold it only for bookkeeping, never across
    /// an `await` or a signature.
    pub(crate) fn grants(&self) -> MutexGuard<'_, GrantState> {
        self.grants.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A registered client.
    pub fn client(&self, client_id: &str) -> Option<Arc<RegisteredClient>> {
        self.clients
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(client_id)
    }

    /// Every registered client.
    pub fn clients(&self) -> Vec<Arc<RegisteredClient>> {
        self.clients.read().unwrap_or_else(|p| p.into_inner()).all()
    }

    /// Registers a client from dynamic registration unless the issuer
    /// already holds `cap` of them: counted and added under one lock, so
    /// concurrent registrations cannot pass the cap together.
    pub fn register_dynamic_client(
        &self,
        client: RegisteredClient,
        cap: usize,
    ) -> Option<Arc<RegisteredClient>> {
        let mut registry = self.clients.write().unwrap_or_else(|p| p.into_inner());
        let held = registry
            .all()
            .iter()
            .filter(|c| c.origin == ClientOrigin::DynamicRegistration)
            .count();
        (held < cap).then(|| registry.insert(client))
    }

    /// Registers a client (dynamic registration or the admin API).
    pub fn register_client(&self, client: RegisteredClient) -> Arc<RegisteredClient> {
        self.clients
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(client)
    }

    /// Where this issuer fetches client ID metadata documents from.
    pub fn fetch_policy(&self) -> FetchPolicy {
        FetchPolicy {
            loopback: self.settings.policy.metadata_documents_loopback,
            private: self.settings.policy.metadata_documents_private,
        }
    }

    /// A client by id: registered, or fetched from its metadata document
    /// when the id is a URL and documents are on.
    pub async fn resolve_client(
        &self,
        client_id: &str,
    ) -> Result<Arc<RegisteredClient>, ClientLookupError> {
        if let Some(c) = self.client(client_id) {
            return Ok(c);
        }
        if !self.settings.client_id_metadata_documents
            || !client_metadata_document::looks_like_url(client_id)
        {
            return Err(ClientLookupError::Unknown(client_id.to_owned()));
        }
        if let Some((c, at)) = self
            .metadata_documents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(client_id)
            && at.elapsed() < METADATA_DOCUMENT_TTL
        {
            return Ok(c.clone());
        }
        let policy = self.fetch_policy();
        let http = self.metadata_http.get_or_init(|| policy.http_client());
        let client = Arc::new(client_metadata_document::fetch(http, policy, client_id).await?);
        let mut cache = self
            .metadata_documents
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_METADATA_DOCUMENTS {
            cache.retain(|_, (_, at)| at.elapsed() < METADATA_DOCUMENT_TTL);
            if cache.len() >= MAX_CACHED_METADATA_DOCUMENTS {
                cache.clear();
            }
        }
        cache.insert(client_id.to_owned(), (client.clone(), Instant::now()));
        Ok(client)
    }

    /// Builds the claims of a new access token. `audiences` empty means the
    /// default audience.
    pub fn access_token_claims(
        &self,
        client_id: &str,
        subject: &str,
        scope: &ScopeSet,
        audiences: &[String],
        auth_time: Option<u64>,
        now: u64,
    ) -> AccessTokenClaims {
        let aud = if audiences.is_empty() {
            Audience::One(self.settings.default_audience.clone())
        } else {
            Audience::from_list(audiences.to_vec())
        };
        AccessTokenClaims {
            iss: self.url.clone(),
            sub: subject.to_owned(),
            aud,
            exp: now + self.settings.access_token_ttl,
            iat: now,
            jti: random_base64url(16),
            client_id: client_id.to_owned(),
            scope: scope.to_string(),
            auth_time,
            extra: self.settings.extra_claims.clone(),
        }
    }

    /// Signs claims into an access token with `keys` (the issuer's, see
    /// [`Issuer::keys`]), with the token overrides and signing fault the
    /// fault plan chose.
    pub fn issue_access_token(
        &self,
        keys: &KeySet,
        claims: &AccessTokenClaims,
        faults: &AppliedFaults,
        now: u64,
    ) -> String {
        self.issue_access_token_with_audience(keys, claims, faults, now)
            .0
    }

    /// [`Issuer::issue_access_token`], also returning the `aud` the token
    /// carries: the claims' unless an override replaced or removed it, so
    /// the ledger records what the client actually got.
    pub fn issue_access_token_with_audience(
        &self,
        keys: &KeySet,
        claims: &AccessTokenClaims,
        faults: &AppliedFaults,
        now: u64,
    ) -> (String, Vec<String>) {
        if faults.token_overrides.is_empty() && faults.signing.is_none() {
            // No fault touches the token: the claims go straight to JSON
            // under the active key's own header.
            return (claims.sign(keys.active()), claims.aud.to_list());
        }
        let mut payload = serde_json::to_value(claims).unwrap_or(Value::Null);
        for o in &faults.token_overrides {
            o.apply_to_claims(&mut payload, now);
        }
        let audience = match payload.get("aud") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(list)) => list.iter().map(claim_text).collect(),
            Some(other) => vec![claim_text(other)],
        };
        let mut with = signing_fault::SignWith::default();
        for o in &faults.token_overrides {
            if o.kid.is_some() {
                with.kid = o.kid.clone();
            }
            with.header
                .extend(o.header.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let token = signing_fault::sign(&payload, keys, faults.signing, now, &with);
        (token, audience)
    }

    /// The scope a client gets: what it asked for if it may have it (RFC
    /// 6749 3.3), else what it is allowed when it asked for nothing.
    pub fn grantable_scope(
        &self,
        client: &RegisteredClient,
        requested: Option<&str>,
    ) -> Result<ScopeSet, OAuthError> {
        let allowed = client
            .allowed_scope
            .clone()
            .unwrap_or_else(|| self.supported_scopes());
        let Some(requested) = requested else {
            return Ok(match &self.settings.policy.default_scopes {
                Some(defaults) => {
                    ScopeSet::from_tokens(defaults.iter().cloned()).intersection(&allowed)
                }
                None => allowed,
            });
        };
        let requested =
            ScopeSet::parse(requested).map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
        let unknown = requested.difference(&self.supported_scopes());
        if !unknown.is_empty() {
            return Err(OAuthError::invalid_scope(format!(
                "scope `{unknown}` is not supported by this issuer"
            )));
        }
        let refused = requested.difference(&allowed);
        if !refused.is_empty() {
            return Err(OAuthError::invalid_scope(format!(
                "scope `{refused}` is not allowed for this client"
            )));
        }
        Ok(requested)
    }
}
