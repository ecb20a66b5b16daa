#![doc = include_str!("../README.md")]
//!
//! The request flow: the router picks the endpoint's handler;
//! the handler starts an `Exchange` with the issuer named in the path; the
//! exchange asks the fault plan what to do, runs the endpoint (client
//! authentication, grants, tokens) unless a fault answers first, and writes
//! the ledger entry as the answer leaves.
//!
//! The folders are the parts: `endpoints/` (the handlers and `Exchange`),
//! `tokens/` (keys, JWS, codes and the token-family state machine),
//! `clients/`, `faults/`, `ledger/`, `config/`, `admin/` (the admin API and
//! the state page) and `protocol/` (OAuth's shared vocabulary); `server.rs`
//! starts it all and `router.rs` names every route. No module imports one
//! that imports it back.
//!
//! What a user reaches is re-exported here and in three namespaces:
//! [`admin`] (the admin API's client and its request and answer types),
//! [`faults`] (fault rules and the plan that runs them) and [`ledger`]
//! (what the provider saw). Everything else is private, so it can change
//! without breaking anyone.

mod clients;
mod config;
mod endpoints;
mod issuer;
mod protocol;
mod provider_state;
mod ready_line;
mod router;
mod server;
mod tokens;

pub mod admin;
pub mod faults;
pub mod ledger;

pub use admin::{AdminClient, AdminError};
pub use clients::client_registry::{AuthMethod, GrantType, RegisteredClient, Unsupported};
pub use config::consent_mode::{Consent, UnknownConsent};
pub use config::issuer_config::KeyFileError;
pub use config::issuer_policy::IssuerPolicy;
pub use config::{
    AdminConfig, BadSubject, ClientConfig, ConfigError, ConfigProblem, IssuerConfig, ProviderConfig,
};
pub use endpoints::token_endpoint::TokenResponse;
pub use faults::{Endpoint, FaultAction, FaultRule, InvalidFault};
pub use issuer::Issuer;
pub use ledger::expectation::{Expectation, Times, UnmetExpectations};
pub use protocol::fingerprint::{Fingerprint, NotAFingerprint};
pub use protocol::oauth_error::{ErrorCode, OAuthError};
pub use protocol::pkce::s256_challenge;
pub use protocol::request_params::RequestParams;
pub use protocol::scope::ScopeSet;
pub use protocol::secret::{Secret, TokenHash, random_base64url};
pub use ready_line::{READY_PREFIX, ReadyLine};
pub use server::{MockProvider, MockProviderBuilder, StartError};
pub use tokens::access_token::{AccessTokenClaims, Audience};
pub use tokens::issuer_keys::KeysUnavailable;
pub use tokens::jws::DecodedJws;
pub use tokens::key_set::KeySet;
pub use tokens::refresh_policy::{RefreshPolicy, UnknownRefreshPolicy};
pub use tokens::signing_key::{KeyError, SigningAlgorithm, SigningKey};

/// Not API: what `tests/memory_footprint.rs` needs to count the bytes one
/// ledger entry and one access-token record keep (it must reach them
/// directly, in a test binary of its own with a counting allocator), and
/// the fault plan that `tests/fault_latency_and_probability.rs` evaluates
/// without a clock to learn what a seed draws.
#[doc(hidden)]
pub mod internals {
    pub use crate::faults::fault_plan::{FaultPlan, RequestFacts};
    pub use crate::ledger::ledger_entry::LedgerDraft;
    pub use crate::tokens::token_family::TokenFamilies;
}
