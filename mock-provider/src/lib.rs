//! `mock-provider`: an OAuth 2.1 authorization server for tests, with
//! several issuers in one process, RFC 8414 metadata, JWKS, PKCE-only
//! authorization code, refresh rotation with reuse detection, client
//! credentials, dynamic registration, client ID metadata documents,
//! introspection and revocation; headless approval by default, a consent
//! page for people on request, and an HTML state page under `/__admin/`.
//!
//! Start one in a test the way `wiremock::MockServer` is started:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use mock_provider::MockProvider;
//! let provider = MockProvider::start().await.unwrap();
//! let metadata = format!(
//!     "{}/.well-known/oauth-authorization-server/default",
//!     provider.base_url()
//! );
//! assert!(metadata.starts_with("http://127.0.0.1:"));
//! # }
//! ```

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
pub mod upstream_api;

pub use access_token::{AccessTokenClaims, Audience};
pub use admin_client::{AdminClient, AdminError};
pub use client_registry::{AuthMethod, GrantType, RegisteredClient};
pub use config::{
    AdminConfig, ClientConfig, ConfigError, ConfigProblem, IssuerConfig, ProviderConfig,
};
pub use consent_mode::Consent;
pub use fault_plan::{Endpoint, FaultAction, FaultPlan, FaultRule};
pub use issuer::Issuer;
pub use oauth_error::{ErrorCode, OAuthError};
pub use request_params::RequestParams;
pub use scope::ScopeSet;
pub use secret::Secret;
pub use server::{MockProvider, MockProviderBuilder, StartError};
pub use signing_key::{SigningAlgorithm, SigningKey};
pub use token_endpoint::TokenResponse;
pub use token_family::RefreshPolicy;

/// The README's Rust examples, compiled as doc-tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
