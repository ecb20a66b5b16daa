//! Fault rules: a matcher and an action, in force for the whole provider.
//! One way adds them from Rust, in process or not:
//! [`AdminClient::add_fault`](crate::admin::AdminClient::add_fault) (what
//! [`MockProvider::admin`](crate::MockProvider::admin) hands out). The
//! config file's `[[fault]]`, `POST /__admin/faults` and the conformance
//! suite's `fault` step take the same shape.

pub(crate) mod fault_plan;
pub(crate) mod fault_rule;
pub(crate) mod refresh_barrier;
pub(crate) mod signing_fault;
pub(crate) mod token_override;

pub use crate::protocol::oauth_error::ErrorCode;
pub use fault_plan::{Endpoint, FaultAction, FaultRule, InvalidFault, SigningFault, TokenOverride};
