//! One issuer's configuration ([`IssuerConfig`]: keys, lifetimes, scopes,
//! audience, registration, consent, policy) and its pre-registered clients
//! ([`ClientConfig`]), with their defaults and builders. Checked as part of
//! the whole configuration ([`crate::config::ProviderConfig::validate`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clients::client_registry::{AuthMethod, ClientOrigin, GrantType, RegisteredClient};
use crate::config::config_error::ConfigProblem;
use crate::config::consent_mode::{Consent, DEFAULT_CONSENT_TTL_SECS};
use crate::config::issuer_policy::IssuerPolicy;
use crate::protocol::redirect_uri;
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::Secret;
use crate::tokens::signing_key::{KeyError, SigningAlgorithm, SigningKey};
use crate::tokens::token_family::RefreshPolicy;

/// One issuer (an authorization server at `/{name}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The path segment: `http://host:port/{name}` is the issuer identifier.
    pub name: String,
    /// `RS256` (default) or `ES256`.
    #[serde(default)]
    pub signing_algorithm: SigningAlgorithm,
    /// A PEM private key (PKCS#8) so tokens verify across restarts; a key is
    /// generated at start when absent. Relative to the config file.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Keys published in the JWKS from the start that sign nothing until a
    /// token asks for their `kid` (a mint with `override.kid`): the next
    /// key of a rotation done the way issuers do it, published before it
    /// signs. One generated key per algorithm listed; reset keeps them.
    #[serde(default)]
    pub staged_keys: Vec<SigningAlgorithm>,
    /// Access token lifetime (default 3600).
    #[serde(default = "default_access_ttl")]
    pub access_token_ttl_secs: u64,
    /// Refresh token lifetime (default 30 days).
    #[serde(default = "default_refresh_ttl")]
    pub refresh_token_ttl_secs: u64,
    /// Authorization code lifetime (default 60; RFC 6749 4.1.2 says short).
    #[serde(default = "default_code_ttl")]
    pub authorization_code_ttl_secs: u64,
    /// Scopes clients may ask for.
    #[serde(default = "default_scopes")]
    pub scopes_supported: Vec<String>,
    /// The user the headless authorize endpoint approves for (`login_hint`
    /// picks another).
    #[serde(default = "default_subject")]
    pub default_subject: String,
    /// `aud` of tokens asked for without `resource` (default
    /// `{issuer}/api`).
    #[serde(default)]
    pub default_audience: Option<String>,
    /// When not empty, the only `resource` values accepted (RFC 8707).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Claims added to every access token.
    #[serde(default)]
    pub extra_claims: Map<String, Value>,
    /// Whether the RFC 7591 registration endpoint is on (default true).
    #[serde(default = "default_true")]
    pub dynamic_registration: bool,
    /// Whether URL client ids are resolved as client ID metadata documents
    /// (default true).
    #[serde(default = "default_true")]
    pub client_id_metadata_documents: bool,
    /// `auto` (default: headless approval) or `interactive` (a consent
    /// page for a person); a client's own `consent` overrides it.
    #[serde(default)]
    pub consent: Consent,
    /// Users the consent page offers besides `default_subject` (a person
    /// may also type another).
    #[serde(default)]
    pub users: Vec<String>,
    /// How long a consent page stays usable (default 600).
    #[serde(default = "default_consent_ttl")]
    pub consent_ttl_secs: u64,
    /// How strict the issuer is with clients (TOML: `[issuer.policy]`).
    #[serde(default)]
    pub policy: IssuerPolicy,
    /// Pre-registered clients (TOML: `[[issuer.client]]`).
    #[serde(default, rename = "client")]
    pub clients: Vec<ClientConfig>,
}

/// A pre-registered client. Serializing one writes its secret: it is what
/// the admin client sends to create a client.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The client id.
    pub client_id: String,
    /// The secret; a client without one is public.
    #[serde(default, serialize_with = "expose_secret")]
    pub client_secret: Option<Secret>,
    /// Default: `client_secret_basic` with a secret, `none` without.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<AuthMethod>,
    /// More confidential methods the client may use besides
    /// `token_endpoint_auth_method`, e.g. `["client_secret_post"]` for a
    /// `client_secret_basic` client, as many real providers allow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_auth_methods: Vec<AuthMethod>,
    /// Redirect URIs (https, or http on a loopback host).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Default: `authorization_code` and `refresh_token`.
    #[serde(default = "default_client_grants")]
    pub grant_types: Vec<GrantType>,
    /// Space-delimited scopes the client may ask for (default: any the
    /// issuer supports); also what it gets when it asks for none.
    #[serde(default)]
    pub scope: Option<String>,
    /// `single_use` (default), `reusable` or `grace(SECONDS)`.
    #[serde(default)]
    pub refresh_policy: RefreshPolicy,
    /// A name to show people.
    #[serde(default)]
    pub client_name: Option<String>,
    /// `auto` or `interactive`: overrides the issuer's `consent` for this
    /// client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
}

fn expose_secret<S: serde::Serializer>(secret: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(v) => s.serialize_some(v.expose()),
        None => s.serialize_none(),
    }
}

pub(crate) fn default_true() -> bool {
    true
}

fn default_access_ttl() -> u64 {
    3600
}
fn default_refresh_ttl() -> u64 {
    30 * 24 * 3600
}
fn default_code_ttl() -> u64 {
    60
}
fn default_scopes() -> Vec<String> {
    ["mcp:tools", "mcp:admin", "offline_access"]
        .map(String::from)
        .to_vec()
}
fn default_subject() -> String {
    "alice".to_owned()
}
fn default_consent_ttl() -> u64 {
    DEFAULT_CONSENT_TTL_SECS
}
fn default_client_grants() -> Vec<GrantType> {
    vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
}

impl IssuerConfig {
    /// An issuer with every default.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            signing_algorithm: SigningAlgorithm::default(),
            key_file: None,
            staged_keys: Vec::new(),
            access_token_ttl_secs: default_access_ttl(),
            refresh_token_ttl_secs: default_refresh_ttl(),
            authorization_code_ttl_secs: default_code_ttl(),
            scopes_supported: default_scopes(),
            default_subject: default_subject(),
            default_audience: None,
            resources: Vec::new(),
            extra_claims: Map::new(),
            dynamic_registration: true,
            client_id_metadata_documents: true,
            consent: Consent::default(),
            users: Vec::new(),
            consent_ttl_secs: default_consent_ttl(),
            policy: IssuerPolicy::default(),
            clients: Vec::new(),
        }
    }

    /// Sets the issuer's policy towards clients.
    pub fn policy(mut self, policy: IssuerPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets how authorization is approved: headless (`Consent::Auto`, the
    /// default) or on a consent page (`Consent::Interactive`).
    pub fn consent(mut self, consent: Consent) -> Self {
        self.consent = consent;
        self
    }

    /// Sets the users the consent page offers (besides the default subject).
    pub fn users<I: IntoIterator<Item = S>, S: Into<String>>(mut self, users: I) -> Self {
        self.users = users.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how long a consent page stays usable.
    pub fn consent_ttl_secs(mut self, secs: u64) -> Self {
        self.consent_ttl_secs = secs;
        self
    }

    /// Sets the signing algorithm.
    pub fn signing_algorithm(mut self, alg: SigningAlgorithm) -> Self {
        self.signing_algorithm = alg;
        self
    }

    /// Loads the key from a PEM file instead of generating one.
    pub fn key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.key_file = Some(path.into());
        self
    }

    /// Sets the access token lifetime.
    pub fn access_token_ttl_secs(mut self, secs: u64) -> Self {
        self.access_token_ttl_secs = secs;
        self
    }

    /// Sets the refresh token lifetime.
    pub fn refresh_token_ttl_secs(mut self, secs: u64) -> Self {
        self.refresh_token_ttl_secs = secs;
        self
    }

    /// Sets the supported scopes.
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        scopes: I,
    ) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the default subject.
    pub fn default_subject(mut self, subject: impl Into<String>) -> Self {
        self.default_subject = subject.into();
        self
    }

    /// Adds a claim to every access token.
    pub fn extra_claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra_claims.insert(name.into(), value);
        self
    }

    /// Adds a pre-registered client.
    pub fn client(mut self, client: ClientConfig) -> Self {
        self.clients.push(client);
        self
    }

    /// Publishes a staged key of `alg` (see `staged_keys`).
    pub fn staged_key(mut self, alg: SigningAlgorithm) -> Self {
        self.staged_keys.push(alg);
        self
    }

    /// Generates the staged keys.
    pub fn staged_signing_keys(&self) -> Result<Vec<SigningKey>, KeyError> {
        self.staged_keys
            .iter()
            .map(|alg| SigningKey::generate(*alg))
            .collect()
    }

    /// Loads or generates the signing key; a failure names `key_file`.
    pub fn signing_key(&self, base_dir: Option<&Path>) -> Result<SigningKey, KeyFileError> {
        match &self.key_file {
            Some(path) => {
                let path = match base_dir {
                    Some(dir) if path.is_relative() => dir.join(path),
                    _ => path.clone(),
                };
                SigningKey::from_pem_file(self.signing_algorithm, &path).map_err(|e| match e {
                    KeyError::Read { .. } => KeyFileError::Key(e),
                    _ => KeyFileError::Unusable { path, source: e },
                })
            }
            None => SigningKey::generate(self.signing_algorithm).map_err(KeyFileError::Key),
        }
    }
}

impl ClientConfig {
    /// A public client (no secret, `none` authentication, PKCE).
    pub fn public(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            token_endpoint_auth_method: None,
            extra_auth_methods: Vec::new(),
            redirect_uris: Vec::new(),
            grant_types: default_client_grants(),
            scope: None,
            refresh_policy: RefreshPolicy::default(),
            client_name: None,
            consent: None,
        }
    }

    /// A confidential client using `client_secret_basic`.
    pub fn confidential(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            client_secret: Some(Secret::new(secret)),
            ..Self::public(client_id)
        }
    }

    /// Adds a redirect URI.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Sets the grant types.
    pub fn grant_types<I: IntoIterator<Item = GrantType>>(mut self, grants: I) -> Self {
        self.grant_types = grants.into_iter().collect();
        self
    }

    /// Sets the authentication method.
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.token_endpoint_auth_method = Some(method);
        self
    }

    /// Lets a confidential client also authenticate with `method` (say
    /// `client_secret_post` beside `client_secret_basic`).
    pub fn also_accept(mut self, method: AuthMethod) -> Self {
        if !self.extra_auth_methods.contains(&method) {
            self.extra_auth_methods.push(method);
        }
        self
    }

    /// Sets the allowed (and default) scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Sets the refresh policy.
    pub fn refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.refresh_policy = policy;
        self
    }

    /// Sets the name shown to people (on the consent page).
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// Overrides the issuer's consent mode for this client.
    pub fn consent(mut self, consent: Consent) -> Self {
        self.consent = Some(consent);
        self
    }

    /// The authentication method in force.
    pub fn effective_auth_method(&self) -> AuthMethod {
        self.token_endpoint_auth_method
            .unwrap_or(if self.client_secret.is_some() {
                AuthMethod::ClientSecretBasic
            } else {
                AuthMethod::None
            })
    }

    /// Every problem with this client, given the issuer's supported
    /// scopes; fields are relative to the client.
    pub fn problems(&self, supported: &ScopeSet) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut problem = |field: &str, reason: String| {
            out.push(ConfigProblem {
                field: field.to_owned(),
                reason,
            })
        };
        if self.client_id.is_empty() || !self.client_id.bytes().all(|b| (0x21..=0x7e).contains(&b))
        {
            problem(
                "client_id",
                format!(
                    "`{}` must be 1 or more visible ASCII characters",
                    self.client_id
                ),
            );
        }
        let method = self.effective_auth_method();
        match (method.is_confidential(), &self.client_secret) {
            (true, None) => problem(
                "client_secret",
                format!("is required with token_endpoint_auth_method = \"{method}\""),
            ),
            (false, Some(_)) => problem(
                "client_secret",
                "a public client (token_endpoint_auth_method = \"none\") must not have a secret"
                    .into(),
            ),
            _ => {}
        }
        for (k, extra) in self.extra_auth_methods.iter().enumerate() {
            if !(method.is_confidential() && extra.is_confidential()) {
                problem(
                    &format!("extra_auth_methods[{k}]"),
                    format!(
                        "`{extra}` cannot be added to a client authenticating with `{method}`: extra methods are for confidential clients, and must be confidential"
                    ),
                );
            }
        }
        for (k, uri) in self.redirect_uris.iter().enumerate() {
            if let Err(e) = redirect_uri::validate(uri) {
                problem(&format!("redirect_uris[{k}]"), e.to_string());
            }
        }
        if self.grant_types.is_empty() {
            problem("grant_types", "must name at least one grant type".into());
        }
        if self.grant_types.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty()
        {
            problem(
                "redirect_uris",
                "the authorization_code grant needs at least one redirect URI".into(),
            );
        }
        if self.grant_types.contains(&GrantType::ClientCredentials) && !method.is_confidential() {
            problem(
                "grant_types",
                "client_credentials needs a confidential client (a client_secret)".into(),
            );
        }
        if let Some(scope) = &self.scope {
            match ScopeSet::parse(scope) {
                Err(e) => problem("scope", e.to_string()),
                Ok(s) if !s.is_subset(supported) => problem(
                    "scope",
                    format!(
                        "`{}` is not in the issuer's scopes_supported",
                        s.difference(supported)
                    ),
                ),
                Ok(_) => {}
            }
        }
        out
    }

    /// The registry entry for this (validated) configuration.
    pub fn to_registered(&self) -> RegisteredClient {
        RegisteredClient {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            auth_method: self.effective_auth_method(),
            extra_auth_methods: self.extra_auth_methods.clone(),
            redirect_uris: self.redirect_uris.clone(),
            grant_types: self.grant_types.clone(),
            allowed_scope: self.scope.as_deref().and_then(|s| ScopeSet::parse(s).ok()),
            refresh_policy: self.refresh_policy,
            client_name: self.client_name.clone(),
            origin: ClientOrigin::Configured,
        }
    }
}

/// Why an issuer's signing key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Unreadable (the error names the file), or not generated.
    #[error(transparent)]
    Key(KeyError),
    /// Read but not a usable key.
    #[error("{}: {source}", path.display())]
    Unusable {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: KeyError,
    },
}
