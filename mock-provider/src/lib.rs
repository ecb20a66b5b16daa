#![doc = include_str!("../README.md")]
//!
//! The request flow: the router picks the endpoint's handler;
//! the handler starts an `Exchange` with the issuer named in the path; the
//! exchange asks the fault plan what to do, runs the endpoint (client
//! authentication, grants, tokens) unless a fault answers first, and writes
//! the ledger entry as the answer leaves.

pub mod access_token;
pub mod admin_api;
pub mod admin_client;
pub mod admin_guard;
pub mod admin_types;
pub mod authorization_code;
pub mod authorization_response;
pub mod authorize_endpoint;
pub mod client_auth;
pub mod client_metadata_document;
pub mod client_registry;
pub mod config;
pub mod config_error;
pub mod consent_mode;
pub mod consent_page;
pub mod consent_policy;
pub mod csrf_token;
pub mod discovery;
pub mod exchange;
pub mod fault_plan;
pub mod fault_rule;
pub mod html_page;
pub mod introspection_endpoint;
pub mod issuer;
pub mod issuer_config;
pub mod issuer_keys;
pub mod issuer_policy;
pub mod jws;
pub mod key_set;
pub mod ledger;
pub mod ledger_entry;
mod ledger_storage;
pub mod limits;
pub mod oauth_error;
pub mod pending_authorization;
pub mod pkce;
pub mod provider_state;
pub mod ready_line;
pub mod redirect_uri;
pub mod refresh_barrier;
pub mod refresh_policy;
pub mod registration_endpoint;
pub mod request_params;
pub mod resource_indicator;
pub mod revocation_endpoint;
mod router;
pub mod scope;
pub mod secret;
pub mod server;
pub mod signing_fault;
pub mod signing_key;
pub mod state_page;
pub mod tls;
pub mod token_endpoint;
pub mod token_family;
pub mod token_override;
pub mod token_response;
pub mod upstream_api;

pub use access_token::{AccessTokenClaims, Audience};
pub use admin_client::{AdminClient, AdminError};
pub use client_registry::{AuthMethod, GrantType, RegisteredClient};
pub use config::{
    AdminConfig, ClientConfig, ConfigError, ConfigProblem, IssuerConfig, ProviderConfig,
};
pub use consent_mode::Consent;
pub use fault_plan::{Endpoint, FaultAction, FaultPlan, FaultRule, InvalidFault};
pub use issuer::Issuer;
pub use oauth_error::{ErrorCode, OAuthError};
pub use request_params::RequestParams;
pub use scope::ScopeSet;
pub use secret::Secret;
pub use server::{MockProvider, MockProviderBuilder, StartError};
pub use signing_key::{SigningAlgorithm, SigningKey};
pub use token_endpoint::TokenResponse;
pub use token_family::RefreshPolicy;
