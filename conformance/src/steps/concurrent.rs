//! `kind = "concurrent"`: the same MCP call `count` times at once (2-50),
//! each answer judged by `expect`: what makes a server's refresh race
//! show. With `tokens`, call `i` carries `tokens[i % len]` on that token's
//! own session and `{call.subject}` is the `sub` it was minted with; with
//! `call = "initialize"`, the initialize requests are the calls.
//!
//! ```toml
//! [[step]]
//! kind = "concurrent"
//! count = 5
//! call = "upstream"
//! token = "valid"
//! expect = { status = 200, jsonrpc = "result" }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Map;

use super::mcp::{McpCall, authorization, message};
use super::{CheckError, LoadContext, ScenarioRun, StepError};
use crate::expectation::{self, Expect};
use crate::mcp_client::McpRequest;

/// `kind = "concurrent"`: the same MCP call `count` times at once on one
/// session; with `call = "initialize"`, `count` initialize requests at once
/// and no session (each one would open its own). With `tokens`, call `i`
/// carries `tokens[i % len]` on that token's own session, and
/// `{call.subject}` in `expect` is the `sub` it was minted with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrentStep {
    /// How many (2-50).
    pub count: usize,
    /// The call.
    pub call: McpCall,
    /// The minted token to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Or several minted tokens, taken in turn (instead of `token`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<String>,
    /// What every answer must look like.
    #[serde(default)]
    pub expect: Expect,
}

impl ConcurrentStep {
    pub(super) fn check(&self, load: &mut LoadContext) -> Result<(), CheckError> {
        if self.count < 2 || self.count > 50 {
            return Err(CheckError::field("count", "must be 2-50"));
        }
        if self.token.is_some() != self.tokens.is_empty() {
            return Err(CheckError::step("give `token` or `tokens`, one of them"));
        }
        for t in self.token.iter().chain(&self.tokens) {
            load.minted("token", t)?;
        }
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let names: Vec<String> = self.token.iter().chain(&self.tokens).cloned().collect();
        let client = run.ctx.client.clone();
        // Per token: its step, its authorization, its session, and the
        // variables its answers are checked with.
        let mut per_token = Vec::new();
        for name in &names {
            let authorization = authorization(run, Some(name), None)?;
            let mut vars = run.vars.clone();
            if let Some(subject) = run.vars.get(&format!("subject.{name}")) {
                vars.set("call.subject", subject.to_owned());
            }
            // Initialize requests need no session: they are the calls.
            let session = if self.call == McpCall::Initialize {
                None
            } else {
                let (hello, session) = client.handshake(authorization.as_deref(), &[]).await;
                run.record(&hello.raw);
                if !(200..300).contains(&hello.status()) {
                    return Ok(
                        expectation::check(&self.expect, &hello, &vars, client.http()).await?,
                    );
                }
                session
            };
            per_token.push((authorization, session, vars));
        }
        let mut calls = Vec::new();
        for i in 0..self.count {
            let (authorization, session, _) = &per_token[i % per_token.len()];
            let req = McpRequest {
                message: message(run, self.call, None, &Map::new())?,
                authorization: authorization.clone(),
                query: Vec::new(),
                session: session.clone(),
                protocol_header: self.call != McpCall::Initialize,
            };
            let client = client.clone();
            calls.push(tokio::spawn(async move { client.send(&req).await }));
        }
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.map_err(|e| harness!("{e}"))?);
        }
        for a in &answers {
            run.record(&a.raw);
        }
        for (i, a) in answers.iter().enumerate() {
            let vars = &per_token[i % per_token.len()].2;
            let token = &names[i % names.len()];
            expectation::check(&self.expect, a, vars, client.http())
                .await
                .map_err(|e| {
                    // The unmet expectation keeps whose problem it is.
                    let mut e = StepError::from(e);
                    e.message = if names.len() > 1 {
                        format!("call {} of {} (token `{token}`): {}", i + 1, self.count, e.message)
                    } else {
                        format!("call {} of {}: {}", i + 1, self.count, e.message)
                    };
                    e
                })?;
        }
        Ok(())
    }
}
