//! Clients: the registry (pre-registered and dynamically registered) and
//! client ID metadata documents.

pub(crate) mod client_metadata_document;
pub(crate) mod client_registry;
