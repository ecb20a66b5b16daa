#![doc = include_str!("../README.md")]
//!
//! The request flow: the router picks the endpoint's handler;
//! the handler starts an `Exchange` with the issuer named in the path; the
//! exchange asks the fault plan what to do, runs the endpoint (client
//! authentication, grants, tokens) unless a fault answers first, and writes
//! the ledger entry as the answer leaves.
//!
//! What a user reaches is re-exported here and in three namespaces:
//! [`admin`] (the admin API's client and its request and answer types),
//! [`faults`] (fault rules and the plan that runs them) and [`ledger`]
//! (what the provider saw). Everything else is private, so it can change
//! without breaking anyone.

mod access_token;
mod admin_api;
mod admin_client;
mod admin_guard;
mod admin_types;
mod authorization_code;
mod authorization_response;
mod authorize_endpoint;
mod client_auth;
mod client_metadata_document;
mod client_registry;
mod config;
mod config_error;
mod consent_mode;
mod consent_page;
mod consent_policy;
mod csrf_token;
mod discovery;
mod exchange;
mod expectation;
mod fault_plan;
mod fault_rule;
mod fingerprint;
mod html_page;
mod introspection_endpoint;
mod issuer;
mod issuer_config;
mod issuer_keys;
mod issuer_policy;
mod jws;
mod key_set;
mod ledger_entry;
mod ledger_storage;
mod limits;
mod oauth_error;
mod pending_authorization;
mod pkce;
mod provider_state;
mod ready_line;
mod redirect_uri;
mod refresh_barrier;
mod refresh_policy;
mod registration_endpoint;
mod request_params;
mod resource_indicator;
mod revocation_endpoint;
mod router;
mod scope;
mod secret;
mod server;
mod signing_fault;
mod signing_key;
mod state_page;
mod tls;
mod token_endpoint;
mod token_family;
mod token_override;
mod token_response;
mod upstream_api;

pub mod ledger;

/// The admin API from Rust: [`AdminClient`](admin::AdminClient) (what
/// [`MockProvider::admin`] hands out, or [`AdminClient::new`](admin::AdminClient::new)
/// for a provider in another process) and the requests and answers of
/// `/__admin/`.
pub mod admin {
    pub use crate::admin_client::{AdminClient, AdminError};
    pub use crate::admin_types::*;
}

/// Fault rules: a matcher and an action, in force for the whole provider.
/// Add them with [`MockProvider::faults`](crate::MockProvider::faults) in
/// process, or [`AdminClient::add_fault`](crate::admin::AdminClient::add_fault)
/// from outside.
pub mod faults {
    pub use crate::fault_plan::{
        AppliedFaults, Endpoint, FaultAction, FaultPlan, FaultRule, InvalidFault, RequestFacts,
        SigningFault, TokenOverride,
    };
    pub use crate::oauth_error::ErrorCode;
}

pub use access_token::{AccessTokenClaims, Audience};
pub use admin_client::{AdminClient, AdminError};
pub use client_registry::{AuthMethod, GrantType, RegisteredClient, Unsupported};
pub use config::{
    AdminConfig, BadSubject, ClientConfig, ConfigError, ConfigProblem, IssuerConfig, ProviderConfig,
};
pub use consent_mode::{Consent, UnknownConsent};
pub use expectation::{Expectation, Times, UnmetExpectations};
pub use fault_plan::{Endpoint, FaultAction, FaultPlan, FaultRule, InvalidFault};
pub use fingerprint::{Fingerprint, NotAFingerprint};
pub use issuer::Issuer;
pub use issuer_config::KeyFileError;
pub use issuer_keys::KeysUnavailable;
pub use issuer_policy::IssuerPolicy;
pub use jws::DecodedJws;
pub use key_set::KeySet;
pub use oauth_error::{ErrorCode, OAuthError};
pub use pkce::s256_challenge;
pub use ready_line::{READY_PREFIX, ReadyLine};
pub use refresh_policy::{RefreshPolicy, UnknownRefreshPolicy};
pub use request_params::RequestParams;
pub use scope::ScopeSet;
pub use secret::{Secret, TokenHash, random_base64url};
pub use server::{MockProvider, MockProviderBuilder, StartError};
pub use signing_key::{KeyError, SigningAlgorithm, SigningKey};
pub use token_endpoint::TokenResponse;

/// Not API: what `tests/memory_footprint.rs` needs to count the bytes one
/// ledger entry and one access-token record keep. It must reach them
/// directly, in a test binary of its own with a counting allocator.
#[doc(hidden)]
pub mod internals {
    pub use crate::ledger_entry::LedgerDraft;
    pub use crate::token_family::TokenFamilies;
}
