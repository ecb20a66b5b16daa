//! What a run shares across scenarios: the profile and spec version, the
//! provider, the server under test (started with the environment contract
//! when the profile says how), the MCP client, the placeholders, and every
//! secret and response seen so far.

use std::collections::BTreeMap;
use std::time::Duration;

use url::Url;

use crate::mcp_client::McpClient;
use crate::profile::TargetProfile;
use crate::provider_link::{INTROSPECTION_CLIENT, ProviderLink};
use crate::scenario::IssuerRole;
use crate::secret_book::SecretBook;
use crate::spec_version::SpecVersion;
use crate::target_server::{LaunchSpec, TargetError, TargetServer, free_port};
use crate::template::Vars;

/// The run's shared state.
pub struct RunContext {
    /// The profile.
    pub profile: TargetProfile,
    /// The spec version.
    pub version: SpecVersion,
    /// The provider.
    pub provider: ProviderLink,
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
}

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

        let trusted = provider.issuer(IssuerRole::Trusted).clone();
        let other = provider.issuer(IssuerRole::Other).clone();
        let upstream = provider.issuer(IssuerRole::Upstream).clone();
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
        vars.set("upstream_issuer", upstream.issuer.clone());
        vars.set("upstream_api", upstream.upstream_api.clone());
        vars.set("auth_scope", profile.auth.scope.clone());
        if let Some(p) = &profile.permission {
            vars.set("permission_scope", p.scope.clone());
            vars.set("full_scope", format!("{} {}", profile.auth.scope, p.scope));
        }

        let mut book = SecretBook::default();
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
        Ok(Self {
            profile,
            version,
            provider,
            server,
            client,
            vars,
            book,
            responses: Vec::new(),
            url,
        })
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
