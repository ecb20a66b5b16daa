//! How strict an issuer is with what clients send, and what it lets them
//! make it do (TOML: `[issuer.policy]`). The defaults serve any reasonable
//! client; `strict` is the setting a client conformance run uses, where a
//! lenient provider would hide the client's mistakes.
//!
//! ```
//! use mock_provider::ProviderConfig;
//! let config = ProviderConfig::from_toml_str(r#"
//!     [[issuer]]
//!     name = "default"
//!     [issuer.policy]
//!     require_resource = true
//!     default_scopes = ["mcp:tools"]
//! "#).unwrap();
//! assert!(config.issuers[0].policy.require_resource);
//! ```

use serde::{Deserialize, Serialize};

/// An issuer's policy. Every field has a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerPolicy {
    /// Authorization and token requests must carry `resource` (RFC 8707).
    /// The MCP authorization spec (2025-06-18 on): "MCP clients MUST
    /// include the `resource` parameter in authorization requests and
    /// token requests". Without it a request is refused with
    /// `invalid_target`; by default the token gets the issuer's default
    /// audience.
    #[serde(default)]
    pub require_resource: bool,
    /// Serve metadata only at the locations RFC 8414 and the MCP
    /// authorization spec name (`/.well-known/oauth-authorization-server/
    /// {issuer}`, and OpenID discovery inserted or appended); the appended
    /// RFC 8414 form answers 404. The ledger records the form asked either
    /// way.
    #[serde(default)]
    pub strict_discovery: bool,
    /// What a request without `scope` is granted: these scopes (those the
    /// client may have), as many real servers do. Unset: every scope the
    /// client may have.
    #[serde(default)]
    pub default_scopes: Option<Vec<String>>,
    /// When not empty, the only clients that may introspect (RFC 7662 2.1
    /// leaves who may to the server): the resource servers. Unset: any
    /// confidential client.
    #[serde(default)]
    pub introspection_clients: Vec<String>,
    /// Fetch client ID metadata documents from `http` URLs on a loopback
    /// address (for tests that serve a document from 127.0.0.1). Off: only
    /// `https`. The provider's own admin API is never fetched.
    #[serde(default)]
    pub metadata_documents_loopback: bool,
    /// Fetch client ID metadata documents from hosts that resolve to
    /// private, link-local, shared or unspecified addresses (10/8,
    /// 169.254/16 and the cloud metadata address, fc00::/7...). Off: such
    /// a fetch is refused before any connection.
    #[serde(default)]
    pub metadata_documents_private: bool,
}

impl IssuerPolicy {
    /// The policy of `serve --strict`: `resource` required and only the
    /// specified discovery locations served. Other fields are kept.
    pub fn strict(mut self) -> Self {
        self.require_resource = true;
        self.strict_discovery = true;
        self
    }
}
