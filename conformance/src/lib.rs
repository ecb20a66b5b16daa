//! `conformance`: drives any MCP server (any language) over Streamable HTTP
//! through the resource-server OAuth scenarios, with `mock-provider` as its
//! authorization server, and reports per scenario with evidence.
//!
//! The binary is `mcp-auth-conformance`; this library is what it is made
//! of: profiles, scenarios as data, the MCP client, the server launcher,
//! the runner and the reports.

pub mod catalogue;
pub mod evidence;
pub mod expectation;
pub mod expected_failures;
pub mod junit;
pub mod markdown_report;
pub mod mcp_client;
pub mod profile;
pub mod provider_link;
pub mod report;
pub mod run_context;
pub mod runner;
pub mod scenario;
mod schedule;
pub mod secret_book;
pub mod spec_version;
pub mod steps;
pub mod target_server;
pub mod template;
pub mod terminal_report;
pub mod upstream_grant;
pub mod www_authenticate;

pub use profile::TargetProfile;
pub use report::{RunReport, ScenarioResult, Verdict};
pub use scenario::Scenario;
pub use spec_version::SpecVersion;
