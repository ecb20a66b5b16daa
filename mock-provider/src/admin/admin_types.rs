//! What the admin API's requests and answers look like: the JSON types the
//! handlers ([`crate::admin::admin_api`]) and the typed client
//! ([`crate::admin::admin_client::AdminClient`]) share.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clients::client_registry::{GrantType, RegisteredClient};
use crate::faults::signing_fault::SigningFault;
use crate::faults::token_override::TokenOverride;
use crate::ledger::ClientCounters;
use crate::tokens::signing_key::SigningAlgorithm;

/// An issuer, as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerInfo {
    /// Its name.
    pub name: String,
    /// Its identifier.
    pub issuer: String,
    /// RFC 8414 metadata URL.
    pub metadata_url: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// JWKS.
    pub jwks_uri: String,
    /// The mock upstream API (also the audience it accepts).
    pub upstream_api: String,
    /// `RS256` or `ES256`.
    pub signing_algorithm: String,
    /// The signing key's id.
    pub active_kid: String,
}

/// A client, as the admin API lists it (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The id.
    pub client_id: String,
    /// Token endpoint authentication method.
    pub token_endpoint_auth_method: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Vec<GrantType>,
    /// Allowed scope, if restricted.
    pub scope: Option<String>,
    /// Refresh policy.
    pub refresh_policy: String,
    /// Name.
    pub client_name: Option<String>,
    /// `configured`, `dynamic_registration` or `metadata_document`.
    pub origin: String,
    /// Whether it has a secret.
    pub has_secret: bool,
}

impl From<&RegisteredClient> for ClientInfo {
    fn from(c: &RegisteredClient) -> Self {
        Self {
            client_id: c.client_id.clone(),
            token_endpoint_auth_method: c.auth_method.as_str().to_owned(),
            redirect_uris: c.redirect_uris.clone(),
            grant_types: c.grant_types.clone(),
            scope: c.allowed_scope.as_ref().map(ToString::to_string),
            refresh_policy: c.refresh_policy.to_string(),
            client_name: c.client_name.clone(),
            origin: serde_json::to_value(c.origin)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            has_secret: c.client_secret.is_some(),
        }
    }
}

/// Mint an access token with any claims and any signing fault.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// `client_id` claim (default `admin`).
    #[serde(default)]
    pub client_id: Option<String>,
    /// `sub` (default: the issuer's default subject).
    #[serde(default)]
    pub subject: Option<String>,
    /// `scope` (default: empty).
    #[serde(default)]
    pub scope: Option<String>,
    /// `aud`: a string or an array (default: the issuer's default audience).
    #[serde(default)]
    pub audience: Option<Value>,
    /// Lifetime from now; zero or negative is already expired (default:
    /// the issuer's access token lifetime).
    #[serde(default)]
    pub ttl_secs: Option<i64>,
    /// Extra claims.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// Any other token change (`nbf`, `iss`, removing `aud`...).
    #[serde(default, rename = "override")]
    pub token_override: Option<TokenOverride>,
    /// Sign it wrongly.
    #[serde(default)]
    pub signing_fault: Option<SigningFault>,
}

/// A minted token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MintedToken {
    /// The JWT.
    pub access_token: String,
    /// Its payload.
    pub claims: Value,
}

/// Seed a grant: a refresh token for a client and user, no browser.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedGrant {
    /// The client (must allow `refresh_token`).
    pub client_id: String,
    /// The user (default: the issuer's default subject).
    #[serde(default)]
    pub subject: Option<String>,
    /// Scope (default: what the client may have).
    #[serde(default)]
    pub scope: Option<String>,
    /// Resources (RFC 8707), becoming `aud` (default: the default audience).
    #[serde(default)]
    pub resources: Vec<String>,
}

/// A seeded grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeededGrant {
    /// The refresh token.
    pub refresh_token: String,
    /// Its family.
    pub family: u64,
    /// The client.
    pub client_id: String,
    /// The user.
    pub subject: String,
    /// The granted scope.
    pub scope: String,
    /// The resources.
    pub resources: Vec<String>,
    /// Refresh token expiry (Unix seconds).
    pub expires_at: u64,
}

/// Rotate the signing key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeys {
    /// Keep the old key in the JWKS this long; absent: drop it at once.
    #[serde(default)]
    pub grace_secs: Option<u64>,
    /// The new key's algorithm (default: the current one).
    #[serde(default)]
    pub algorithm: Option<SigningAlgorithm>,
}

impl RotateKeys {
    /// The old key stays published for `secs`; same algorithm.
    pub fn with_grace(secs: u64) -> Self {
        Self {
            grace_secs: Some(secs),
            algorithm: None,
        }
    }
}

/// An issuer's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysInfo {
    /// The signing key.
    pub active_kid: String,
    /// Every key in the JWKS now.
    pub published_kids: Vec<String>,
    /// The same keys with their algorithms, active first: a staged key is
    /// one here that is not `active_kid`.
    #[serde(default)]
    pub published: Vec<PublishedKey>,
}

/// A key in an issuer's JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedKey {
    /// Its `kid`.
    pub kid: String,
    /// `RS256` or `ES256`.
    pub alg: SigningAlgorithm,
}

/// Revoke by exactly one of token, subject or client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// An access or refresh token.
    #[serde(default)]
    pub token: Option<String>,
    /// Every grant of this user.
    #[serde(default)]
    pub subject: Option<String>,
    /// Every grant of this client.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeOutcome {
    /// Families revoked.
    pub families_revoked: usize,
    /// Whether a single access token was revoked.
    pub access_token_revoked: bool,
}

/// Expire a client's live access tokens now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpireRequest {
    /// The client.
    pub client_id: String,
}

/// How many tokens were expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireOutcome {
    /// Access tokens that stopped working.
    pub expired: usize,
}

/// Fault rules added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultsAdded {
    /// Their ids, in order.
    pub ids: Vec<u64>,
}

/// Ledger counters: issuer -> client -> counters.
pub type Counters = BTreeMap<String, BTreeMap<String, ClientCounters>>;
