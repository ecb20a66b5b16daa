//! The provider's configuration: one TOML file (or the same structures
//! built in Rust) describing issuers, their keys, TTLs, scopes and
//! pre-registered clients. Every field has a default; a bad file is refused
//! with the field and the reason.
//!
//! ```
//! use mock_provider::ProviderConfig;
//! let config = ProviderConfig::from_toml_str(r#"
//!     [[issuer]]
//!     name = "tenant-a"
//!     signing_algorithm = "ES256"
//!
//!     [[issuer.client]]
//!     client_id = "my-app"
//!     client_secret = "s3cret"
//!     grant_types = ["client_credentials"]
//! "#).unwrap();
//! assert_eq!(config.issuers[0].clients[0].client_id, "my-app");
//! ```

pub(crate) mod config_error;
pub(crate) mod consent_mode;
pub(crate) mod consent_policy;
pub(crate) mod issuer_config;
pub(crate) mod issuer_policy;
pub(crate) mod tls;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::consent_mode::Consent;
use crate::config::tls::TlsConfig;
use crate::faults::fault_plan::FaultRule;
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::Secret;
use crate::tokens::access_token::REGISTERED_CLAIMS;

pub use crate::config::issuer_config::{ClientConfig, IssuerConfig};

/// The port `mock-provider serve` listens on when neither the file nor the
/// command line says.
pub const DEFAULT_PORT: u16 = 9400;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Address to bind (default 127.0.0.1).
    #[serde(default = "default_bind")]
    pub bind: IpAddr,
    /// Port (default 9400; 0 picks a free one).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The issuers (TOML: `[[issuer]]`); default: one named `default`.
    #[serde(default = "default_issuers", rename = "issuer")]
    pub issuers: Vec<IssuerConfig>,
    /// The admin API (`/__admin/`).
    #[serde(default)]
    pub admin: AdminConfig,
    /// HTTPS (`[tls]`).
    #[serde(default)]
    pub tls: TlsConfig,
    /// Fault rules in force from the start (TOML: `[[fault]]`).
    #[serde(default, rename = "fault")]
    pub faults: Vec<FaultRule>,
    /// The file this was read from; relative paths (key files) are
    /// resolved against its directory.
    #[serde(skip)]
    pub source_file: Option<PathBuf>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            bind: default_bind(),
            port: default_port(),
            issuers: default_issuers(),
            admin: AdminConfig::default(),
            tls: TlsConfig::default(),
            faults: Vec::new(),
            source_file: None,
        }
    }
}

/// The admin API's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Whether `/__admin/` is served (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// A bearer secret the admin API requires. Without one it answers
    /// loopback peers only, and the provider refuses to bind a
    /// non-loopback address with the admin API on.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Host names (no port) the admin API answers besides loopback names
    /// and the address the provider serves on: what a remote operator types,
    /// e.g. `["mock.ci.internal"]`. Any other `Host` is refused, so a page
    /// that rebinds its own name to this provider cannot use the API.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            secret: None,
            allowed_hosts: Vec::new(),
        }
    }
}

fn default_bind() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}
fn default_port() -> u16 {
    DEFAULT_PORT
}
fn default_issuers() -> Vec<IssuerConfig> {
    vec![IssuerConfig::new("default")]
}
pub use crate::config::config_error::{ConfigError, ConfigProblem};
use crate::config::issuer_config::default_true;

impl ProviderConfig {
    /// Reads and validates a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text, &path.display().to_string())?;
        config.source_file = Some(path.to_owned());
        config.validate().map_err(|problems| ConfigError::Invalid {
            origin: Some(path.to_owned()),
            problems,
        })?;
        Ok(config)
    }

    /// Parses and validates TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config = Self::parse(text, "(inline)")?;
        config.validate().map_err(|problems| ConfigError::Invalid {
            origin: None,
            problems,
        })?;
        Ok(config)
    }

    fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// Turns the consent page on for every issuer (`serve --interactive`);
    /// clients with their own `consent` keep it.
    pub fn interactive_consent(&mut self) {
        for issuer in &mut self.issuers {
            issuer.consent = Consent::Interactive;
        }
    }

    /// Makes every issuer strict (`serve --strict`, [`IssuerPolicy::strict`](crate::IssuerPolicy::strict)).
    pub fn strict(&mut self) {
        for issuer in &mut self.issuers {
            issuer.policy = std::mem::take(&mut issuer.policy).strict();
        }
    }

    /// The directory relative paths are resolved against.
    pub fn base_dir(&self) -> Option<&Path> {
        self.source_file.as_deref().and_then(Path::parent)
    }

    /// Checks every value; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: String, reason: String| {
            problems.push(ConfigProblem { field, reason });
        };
        if self.issuers.is_empty() {
            problem("issuer".into(), "at least one issuer is required".into());
        }
        for (i, issuer) in self.issuers.iter().enumerate() {
            let at = format!("issuer[{i}]");
            if !valid_issuer_name(&issuer.name) {
                problem(
                    format!("{at}.name"),
                    format!(
                        "`{}` is not a usable path segment: use 1-64 of A-Z a-z 0-9 . _ -, not starting with . or _",
                        issuer.name
                    ),
                );
            }
            if self.issuers[..i].iter().any(|o| o.name == issuer.name) {
                problem(
                    format!("{at}.name"),
                    format!("issuer `{}` is defined twice", issuer.name),
                );
            }
            for (field, v) in [
                ("access_token_ttl_secs", issuer.access_token_ttl_secs),
                ("refresh_token_ttl_secs", issuer.refresh_token_ttl_secs),
                (
                    "authorization_code_ttl_secs",
                    issuer.authorization_code_ttl_secs,
                ),
                ("consent_ttl_secs", issuer.consent_ttl_secs),
            ] {
                if v == 0 {
                    problem(format!("{at}.{field}"), "must be at least 1".into());
                }
            }
            for (j, s) in issuer.scopes_supported.iter().enumerate() {
                if ScopeSet::parse(s)
                    .map(|p| p.iter().count() != 1)
                    .unwrap_or(true)
                {
                    problem(
                        format!("{at}.scopes_supported[{j}]"),
                        format!("`{s}` is not a single RFC 6749 3.3 scope token"),
                    );
                }
            }
            if issuer.default_subject.trim().is_empty() {
                problem(format!("{at}.default_subject"), "must not be empty".into());
            }
            for (j, user) in issuer.users.iter().enumerate() {
                if let Err(reason) = check_subject(user) {
                    problem(format!("{at}.users[{j}]"), reason.to_string());
                } else if issuer.users[..j].contains(user) {
                    problem(
                        format!("{at}.users[{j}]"),
                        format!("user `{user}` is listed twice"),
                    );
                }
            }
            if let Some(aud) = &issuer.default_audience
                && url::Url::parse(aud).is_err()
            {
                problem(
                    format!("{at}.default_audience"),
                    format!("`{aud}` is not an absolute URI"),
                );
            }
            for (j, r) in issuer.resources.iter().enumerate() {
                if let Err(e) = crate::protocol::resource_indicator::validate(&[r.as_str()], &[]) {
                    problem(format!("{at}.resources[{j}]"), e.description().to_owned());
                }
            }
            for claim in issuer.extra_claims.keys() {
                if REGISTERED_CLAIMS.contains(&claim.as_str()) {
                    problem(
                        format!("{at}.extra_claims.{claim}"),
                        "is set by the provider itself and cannot be overridden here".into(),
                    );
                }
            }
            let supported = ScopeSet::from_tokens(issuer.scopes_supported.iter().cloned());
            for (j, scope) in issuer.policy.default_scopes.iter().flatten().enumerate() {
                if !issuer.scopes_supported.contains(scope) {
                    problem(
                        format!("{at}.policy.default_scopes[{j}]"),
                        format!("`{scope}` is not in scopes_supported"),
                    );
                }
            }
            for (j, client) in issuer.clients.iter().enumerate() {
                let at = format!("{at}.client[{j}]");
                if issuer.clients[..j]
                    .iter()
                    .any(|o| o.client_id == client.client_id)
                {
                    problem(
                        format!("{at}.client_id"),
                        format!("client `{}` is defined twice", client.client_id),
                    );
                }
                for p in client.problems(&supported) {
                    problem(format!("{at}.{}", p.field), p.reason);
                }
            }
        }
        for (i, rule) in self.faults.iter().enumerate() {
            if let Err(reason) = rule.validate() {
                problems.push(ConfigProblem {
                    field: format!("fault[{i}]"),
                    reason: reason.to_string(),
                });
            }
            if let Some(name) = &rule.issuer
                && !self.issuers.iter().any(|x| &x.name == name)
            {
                problems.push(ConfigProblem {
                    field: format!("fault[{i}].issuer"),
                    reason: format!("no issuer named `{name}`"),
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The longest subject a person may type on the consent page or list in
/// `users`.
pub const MAX_SUBJECT_LEN: usize = 256;

/// Whether `subject` is usable as a `sub`: not blank, not too long, no
/// control characters (it is shown on pages and written to logs).
pub fn check_subject(subject: &str) -> Result<(), BadSubject> {
    if subject.trim().is_empty() {
        return Err(BadSubject::Empty);
    }
    if subject.len() > MAX_SUBJECT_LEN {
        return Err(BadSubject::TooLong);
    }
    if subject.chars().any(char::is_control) {
        return Err(BadSubject::ControlCharacters);
    }
    Ok(())
}

/// Why a subject is not usable as a `sub`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadSubject {
    /// Blank.
    #[error("must not be empty")]
    Empty,
    /// Above `MAX_SUBJECT_LEN` (256) bytes.
    #[error("must be at most {MAX_SUBJECT_LEN} bytes")]
    TooLong,
    /// Control characters, which would reach pages and logs.
    #[error("must not contain control characters")]
    ControlCharacters,
}

fn valid_issuer_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.starts_with('.')
        && !name.starts_with('_')
}
