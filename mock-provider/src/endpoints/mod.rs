//! The HTTP endpoints. Each handler opens an [`Exchange`](exchange::Exchange),
//! the one place where the fault plan and the ledger meet.

pub(crate) mod authorization_response;
pub(crate) mod authorize_endpoint;
pub(crate) mod client_auth;
pub(crate) mod consent_page;
pub(crate) mod discovery;
pub(crate) mod exchange;
pub(crate) mod introspection_endpoint;
pub(crate) mod registration_endpoint;
pub(crate) mod revocation_endpoint;
pub(crate) mod token_endpoint;
pub(crate) mod upstream_api;
