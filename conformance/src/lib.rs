//! `conformance`: will drive any MCP server over Streamable HTTP through
//! the resource-server OAuth scenarios, using `mock-provider` as its
//! authorization server. Nothing is implemented yet: this crate only holds
//! its place in the workspace.
