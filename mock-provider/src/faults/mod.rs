//! Fault rules: a matcher and an action, in force for the whole provider.
//! Add them with [`MockProvider::faults`](crate::MockProvider::faults) in
//! process, or [`AdminClient::add_fault`](crate::admin::AdminClient::add_fault)
//! from outside.

pub(crate) mod fault_plan;
pub(crate) mod fault_rule;
pub(crate) mod refresh_barrier;
pub(crate) mod signing_fault;
pub(crate) mod token_override;

pub use crate::protocol::oauth_error::ErrorCode;
pub use fault_plan::{
    AppliedFaults, Endpoint, FaultAction, FaultPlan, FaultRule, InvalidFault, RequestFacts,
    SigningFault, TokenOverride,
};
