//! Registered clients of one issuer: pre-configured, dynamically registered
//! (RFC 7591) or described by a client ID metadata document; their
//! authentication method, grant types, redirect URIs, scopes and refresh
//! policy.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::protocol::redirect_uri;
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::Secret;
use crate::tokens::token_family::RefreshPolicy;

/// How a client authenticates at the token endpoint (RFC 7591 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the client id and secret (RFC 6749 2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` only, PKCE protects the code.
    None,
}

impl AuthMethod {
    /// Every supported method, as advertised in metadata.
    pub const ALL: [AuthMethod; 3] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::None,
    ];

    /// The RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }

    /// Whether the client holds a secret.
    pub fn is_confidential(self) -> bool {
        self != Self::None
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = Unsupported;
    fn from_str(s: &str) -> Result<Self, Unsupported> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| Unsupported::new("token_endpoint_auth_method", s))
    }
}

/// A wire name the provider does not support: an authentication method or
/// a grant type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported {what} `{value}`")]
pub struct Unsupported {
    /// What was named.
    pub what: &'static str,
    /// The name given.
    pub value: String,
}

impl Unsupported {
    fn new(what: &'static str, value: &str) -> Self {
        Self {
            what,
            value: value.to_owned(),
        }
    }
}

/// An OAuth grant type the provider supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 4.1 with PKCE.
    AuthorizationCode,
    /// RFC 6749 6.
    RefreshToken,
    /// RFC 6749 4.4.
    ClientCredentials,
}

impl GrantType {
    /// Every supported grant type.
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GrantType {
    type Err = Unsupported;
    fn from_str(s: &str) -> Result<Self, Unsupported> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| Unsupported::new("grant type", s))
    }
}

/// Where a client came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientOrigin {
    /// The configuration file or the builder.
    Configured,
    /// RFC 7591 registration.
    DynamicRegistration,
    /// A fetched client ID metadata document.
    MetadataDocument,
    /// The admin API.
    Admin,
}

/// A client the issuer knows.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// The client identifier.
    pub client_id: String,
    /// The secret of a confidential client.
    pub client_secret: Option<Secret>,
    /// How it authenticates.
    pub auth_method: AuthMethod,
    /// Other confidential methods it may use too (many real providers
    /// take `client_secret_basic` and `client_secret_post` from the same
    /// client).
    pub extra_auth_methods: Vec<AuthMethod>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grant types it may use.
    pub grant_types: Vec<GrantType>,
    /// Scopes it may ask for; `None` means any the issuer supports.
    pub allowed_scope: Option<ScopeSet>,
    /// Its refresh policy.
    pub refresh_policy: RefreshPolicy,
    /// A human name.
    pub client_name: Option<String>,
    /// Where it came from.
    pub origin: ClientOrigin,
}

/// Why an authorization request's redirect URI cannot be used. These are
/// the errors that must not be sent to the redirect URI (RFC 6749 4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriMismatch {
    /// The client registered several and the request names none.
    #[error("redirect_uri is required: the client registered more than one")]
    Missing,
    /// Not one of the registered ones.
    #[error("redirect_uri `{0}` is not registered for this client")]
    NotRegistered(String),
}

impl RegisteredClient {
    /// Whether the client may authenticate with `method`.
    pub fn accepts(&self, method: AuthMethod) -> bool {
        self.auth_method == method || self.extra_auth_methods.contains(&method)
    }

    /// The methods it may use, for messages: `client_secret_basic` or
    /// `client_secret_basic or client_secret_post`.
    pub fn accepted_auth_methods(&self) -> String {
        std::iter::once(self.auth_method)
            .chain(self.extra_auth_methods.iter().copied())
            .map(AuthMethod::as_str)
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// Whether the client may use a grant type.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The redirect URI to answer to: the presented one when it matches a
    /// registered one, or the only registered one when none is presented.
    pub fn redirect_uri_for(&self, presented: Option<&str>) -> Result<String, RedirectUriMismatch> {
        match presented {
            Some(p) => {
                if self
                    .redirect_uris
                    .iter()
                    .any(|r| redirect_uri::matches(r, p))
                {
                    Ok(p.to_owned())
                } else {
                    Err(RedirectUriMismatch::NotRegistered(p.to_owned()))
                }
            }
            None if self.redirect_uris.len() == 1 => Ok(self.redirect_uris[0].clone()),
            None => Err(RedirectUriMismatch::Missing),
        }
    }
}

/// The clients of one issuer, by id.
#[derive(Debug, Default)]
pub struct ClientRegistry {
    clients: HashMap<String, Arc<RegisteredClient>>,
}

impl ClientRegistry {
    /// Adds or replaces a client.
    pub fn insert(&mut self, client: RegisteredClient) -> Arc<RegisteredClient> {
        let client = Arc::new(client);
        self.clients
            .insert(client.client_id.clone(), client.clone());
        client
    }

    /// A client by id.
    pub fn get(&self, client_id: &str) -> Option<Arc<RegisteredClient>> {
        self.clients.get(client_id).cloned()
    }

    /// Every client, sorted by id.
    pub fn all(&self) -> Vec<Arc<RegisteredClient>> {
        let mut v: Vec<_> = self.clients.values().cloned().collect();
        v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        v
    }
}
