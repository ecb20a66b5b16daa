//! Target profiles: the TOML file that tells the suite where the MCP server
//! under test is, how to start it, and which calls exercise its scopes and
//! its upstream API. These field names are public.
//!
//! ```toml
//! [server]
//! url = "http://127.0.0.1:{port}/mcp"
//! command = ["node", "server.mjs"]
//! ready_timeout_secs = 20
//! [auth]
//! scope = "mcp:tools"
//! validation = "jwt"          # or "introspection" (RFC 7662)
//! [permission]
//! tool = "admin_reset"
//! scope = "mcp:admin"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A whole profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetProfile {
    /// The server under test.
    pub server: ServerSection,
    /// What ordinary requests need.
    #[serde(default)]
    pub auth: AuthSection,
    /// A call that needs more scope than ordinary ones.
    #[serde(default)]
    pub permission: Option<PermissionSection>,
    /// The call that makes the server use its upstream API.
    #[serde(default)]
    pub upstream: Option<UpstreamSection>,
    /// The file it was read from.
    #[serde(skip)]
    pub source_file: Option<PathBuf>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// The MCP endpoint; `{port}` is a free port the suite picks.
    pub url: String,
    /// The canonical resource URI (default: `url`).
    #[serde(default)]
    pub resource: Option<String>,
    /// How to start the server; absent: it is already running.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Working directory of `command` (relative to the profile).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Extra environment for `command`.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How long to wait for the server to answer (default 20 s).
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout_secs: u64,
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// The scope an ordinary request needs (default `mcp:tools`).
    #[serde(default = "default_scope")]
    pub scope: String,
    /// How the server validates access tokens (default `jwt`).
    #[serde(default)]
    pub validation: TokenValidation,
    /// With `validation = "introspection"`: how long the server may keep
    /// answering from a cached `active: true` (RFC 7662 4 leaves caching to
    /// the resource server, trading load for how soon a revocation shows).
    /// Scenarios that revoke a token wait this long before judging.
    #[serde(default)]
    pub introspection_cache_secs: u64,
    /// The least time between two JWKS fetches the server allows itself
    /// when it meets an unknown `kid` (a refetch cooldown, RFC 7517 does not
    /// fix one). Default 30 s, as jose's `createRemoteJWKSet` and PyJWT's
    /// `PyJWKClient`. Scenarios about key rotation wait this long after the
    /// server's last JWKS fetch before they expect it to see a new key.
    #[serde(default = "default_jwks_cooldown")]
    pub jwks_refetch_cooldown_secs: u64,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            scope: default_scope(),
            validation: TokenValidation::default(),
            introspection_cache_secs: 0,
            jwks_refetch_cooldown_secs: default_jwks_cooldown(),
        }
    }
}

/// The longest JWKS refetch cooldown a profile may declare: the rotation
/// scenarios wait it out (twice), and a server that cannot see a new key
/// for more than two minutes is not honouring a rotation.
pub const MAX_JWKS_REFETCH_COOLDOWN_SECS: u64 = 120;

fn default_jwks_cooldown() -> u64 {
    30
}

/// The longest introspection cache a profile may declare: beyond a minute a
/// revoked token stays usable too long to call it revoked.
pub const MAX_INTROSPECTION_CACHE_SECS: u64 = 60;

/// How the server validates access tokens: `[auth] validation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum TokenValidation {
    /// Locally, as JWTs signed by the issuer's keys (`MCP_AUTH_JWKS_URI`).
    #[default]
    Jwt,
    /// By asking the issuer (RFC 7662, `MCP_AUTH_INTROSPECTION_URI`).
    Introspection,
}

impl TokenValidation {
    /// The profile's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Introspection => "introspection",
        }
    }
}

impl TryFrom<String> for TokenValidation {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "jwt" => Ok(Self::Jwt),
            "introspection" => Ok(Self::Introspection),
            // The parser shows the line; the message names the field.
            other => Err(format!(
                "auth.validation: `{other}` is not a validation mode; use \"jwt\" or \"introspection\""
            )),
        }
    }
}

/// `[permission]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSection {
    /// A tool that needs more than `auth.scope`.
    pub tool: String,
    /// Its arguments.
    #[serde(default)]
    pub arguments: serde_json::Map<String, serde_json::Value>,
    /// The scope it needs.
    pub scope: String,
}

/// `[upstream]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    /// The tool that makes the server call its upstream API.
    pub tool: String,
    /// Its arguments.
    #[serde(default)]
    pub arguments: serde_json::Map<String, serde_json::Value>,
    /// The server keeps its upstream tokens in files: the suite hands it an
    /// empty directory as `MCP_TOKEN_STORE_DIR` and checks it.
    #[serde(default)]
    pub token_store: bool,
    /// The server holds one upstream grant per user: the suite hands over
    /// `UPSTREAM_REFRESH_TOKENS` (subject -> refresh token, JSON).
    #[serde(default)]
    pub tenants: bool,
    /// Words of which the server's answer to a call whose upstream grant
    /// died (`invalid_grant`) must contain one, compared
    /// case-insensitively: that it asks for re-authentication. Plain
    /// substrings, no patterns; default [`DEFAULT_REAUTH_HINTS`].
    #[serde(default = "default_reauth_hints")]
    pub reauth_hints: Vec<String>,
    /// Pin how the server must authenticate at the upstream token endpoint:
    /// `client_secret_basic` or `client_secret_post`. Default: the upstream
    /// accepts either, as most real providers do.
    #[serde(default)]
    pub client_auth: Option<mock_provider::AuthMethod>,
}

/// What counts as "re-authentication required" unless a profile says
/// otherwise: lenient on purpose (any wording that sends the user back to
/// authorize).
pub const DEFAULT_REAUTH_HINTS: [&str; 8] = [
    "re-auth",
    "reauth",
    "authoriz",
    "authenticat",
    "sign in",
    "log in",
    "login",
    "consent",
];

fn default_reauth_hints() -> Vec<String> {
    DEFAULT_REAUTH_HINTS
        .iter()
        .map(|h| (*h).to_owned())
        .collect()
}

fn default_ready_timeout() -> u64 {
    20
}

fn default_scope() -> String {
    "mcp:tools".to_owned()
}

/// A profile that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Unreadable file.
    #[error("cannot read profile {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML or not the profile shape.
    #[error("profile {path} is not valid:\n{message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value that cannot work.
    #[error("profile {path}: {field}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
}

impl TargetProfile {
    /// Reads and checks a profile file.
    pub fn from_file(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut profile = Self::from_toml_str(&text, &path.display().to_string())?;
        // Absolute, so paths relative to the profile stay right after the
        // server's working directory changes.
        profile.source_file = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()));
        Ok(profile)
    }

    /// Parses and checks profile text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ProfileError> {
        let profile: Self = toml::from_str(text).map_err(|e| ProfileError::Parse {
            path: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        profile.check(origin)?;
        Ok(profile)
    }

    fn check(&self, origin: &str) -> Result<(), ProfileError> {
        let invalid = |field: &str, reason: String| ProfileError::Invalid {
            path: origin.to_owned(),
            field: field.to_owned(),
            reason,
        };
        let probe = self.server.url.replace("{port}", "1");
        let url = url::Url::parse(&probe).map_err(|e| {
            invalid(
                "server.url",
                format!("`{}` is not a URL: {e}", self.server.url),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("server.url", "must be http or https".into()));
        }
        if let Some(r) = &self.server.resource
            && url::Url::parse(&r.replace("{port}", "1")).is_err()
        {
            return Err(invalid(
                "server.resource",
                format!("`{r}` is not an absolute URI"),
            ));
        }
        if let Some(cmd) = &self.server.command
            && cmd.is_empty()
        {
            return Err(invalid("server.command", "must name a program".into()));
        }
        if self.server.url.contains("{port}") && self.server.command.is_none() {
            return Err(invalid(
                "server.url",
                "`{port}` needs `command`: the suite only picks a port for a server it starts"
                    .into(),
            ));
        }
        if self.server.ready_timeout_secs == 0 || self.server.ready_timeout_secs > 600 {
            return Err(invalid("server.ready_timeout_secs", "must be 1-600".into()));
        }
        if self.auth.scope.trim().is_empty() {
            return Err(invalid("auth.scope", "must not be empty".into()));
        }
        if self.auth.introspection_cache_secs > MAX_INTROSPECTION_CACHE_SECS {
            return Err(invalid(
                "auth.introspection_cache_secs",
                format!(
                    "must be 0-{MAX_INTROSPECTION_CACHE_SECS}: a revoked token must stop working soon"
                ),
            ));
        }
        if self.auth.introspection_cache_secs > 0
            && self.auth.validation != TokenValidation::Introspection
        {
            return Err(invalid(
                "auth.introspection_cache_secs",
                "only applies with `validation = \"introspection\"`".into(),
            ));
        }
        if let Some(p) = &self.permission
            && p.scope.trim().is_empty()
        {
            return Err(invalid("permission.scope", "must not be empty".into()));
        }
        if self.auth.jwks_refetch_cooldown_secs > MAX_JWKS_REFETCH_COOLDOWN_SECS {
            return Err(invalid(
                "auth.jwks_refetch_cooldown_secs",
                format!(
                    "must be 0-{MAX_JWKS_REFETCH_COOLDOWN_SECS}: a server that cannot see a new signing key for longer is not honouring a key rotation"
                ),
            ));
        }
        if let Some(u) = &self.upstream
            && u.client_auth == Some(mock_provider::AuthMethod::None)
        {
            return Err(invalid(
                "upstream.client_auth",
                "the server's upstream client is confidential: use \"client_secret_basic\" or \"client_secret_post\"".into(),
            ));
        }
        if let Some(u) = &self.upstream
            && (u.reauth_hints.is_empty() || u.reauth_hints.iter().any(|h| h.trim().is_empty()))
        {
            return Err(invalid(
                "upstream.reauth_hints",
                "must list at least one word, none of them empty".into(),
            ));
        }
        Ok(())
    }

    /// The directory relative paths are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        self.source_file
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_owned)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_profile_gets_defaults() {
        let p =
            TargetProfile::from_toml_str("[server]\nurl = \"http://127.0.0.1:3000/mcp\"\n", "t")
                .unwrap();
        assert_eq!(p.auth.scope, "mcp:tools");
        assert_eq!(p.server.ready_timeout_secs, 20);
        assert!(p.permission.is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let e = TargetProfile::from_toml_str("[server]\nurl = \"nope\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("server.url"), "{e}");
        let e =
            TargetProfile::from_toml_str("[server]\nurl = \"http://127.0.0.1:{port}/mcp\"\n", "t")
                .unwrap_err();
        assert!(e.to_string().contains("needs `command`"), "{e}");
        let e = TargetProfile::from_toml_str("[server]\nurll = \"x\"\n", "t").unwrap_err();
        assert!(e.to_string().contains("unknown field `urll`"), "{e}");
    }

    #[test]
    fn reauth_hints_default_and_override() {
        let server = "[server]\nurl = \"http://127.0.0.1:3000/mcp\"\n[upstream]\ntool = \"t\"\n";
        let p = TargetProfile::from_toml_str(server, "t").unwrap();
        assert_eq!(
            p.upstream.unwrap().reauth_hints.len(),
            DEFAULT_REAUTH_HINTS.len()
        );
        let p = TargetProfile::from_toml_str(
            &format!("{server}reauth_hints = [\"connect again\"]\n"),
            "t",
        )
        .unwrap();
        assert_eq!(p.upstream.unwrap().reauth_hints, vec!["connect again"]);
        let e =
            TargetProfile::from_toml_str(&format!("{server}reauth_hints = []\n"), "t").unwrap_err();
        assert!(e.to_string().contains("upstream.reauth_hints"), "{e}");
    }

    #[test]
    fn validation_mode_and_cache() {
        let server = "[server]\nurl = \"http://127.0.0.1:3000/mcp\"\n";
        let p = TargetProfile::from_toml_str(server, "t").unwrap();
        assert_eq!(p.auth.validation, TokenValidation::Jwt);
        let p = TargetProfile::from_toml_str(
            &format!(
                "{server}[auth]\nvalidation = \"introspection\"\nintrospection_cache_secs = 5\n"
            ),
            "t",
        )
        .unwrap();
        assert_eq!(p.auth.validation, TokenValidation::Introspection);
        assert_eq!(p.auth.introspection_cache_secs, 5);
        let e = TargetProfile::from_toml_str(
            &format!("{server}[auth]\nvalidation = \"opaque\"\n"),
            "t",
        )
        .unwrap_err();
        assert!(e.to_string().contains("auth.validation: `opaque`"), "{e}");
        let e = TargetProfile::from_toml_str(
            &format!(
                "{server}[auth]\nvalidation = \"introspection\"\nintrospection_cache_secs = 61\n"
            ),
            "t",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("auth.introspection_cache_secs"),
            "{e}"
        );
        let e = TargetProfile::from_toml_str(
            &format!("{server}[auth]\nintrospection_cache_secs = 1\n"),
            "t",
        )
        .unwrap_err();
        assert!(e.to_string().contains("only applies with"), "{e}");
    }
}
