//! The admin API from Rust: [`AdminClient`] (what
//! [`MockProvider::admin`](crate::MockProvider::admin) hands out, or
//! [`AdminClient::new`] for a provider in another process) and the requests
//! and answers of `/__admin/`, with the pages (`/__state`) beside them.

pub(crate) mod admin_api;
pub(crate) mod admin_client;
pub(crate) mod admin_guard;
pub(crate) mod admin_types;
pub(crate) mod state_page;

pub use admin_client::{AdminClient, AdminError};
pub use admin_types::*;
