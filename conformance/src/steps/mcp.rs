//! `kind = "mcp"`: one JSON-RPC request over Streamable HTTP (`initialize`,
//! `tools/list`, `tools/call`, `ping`, or the profile's permission and
//! upstream tools) with a minted token or any `Authorization`, on a saved
//! session or a fresh handshake, judged by `expect`. With
//! `within_introspection_cache` the call is repeated while the server may
//! lawfully answer from its introspection cache.
//!
//! ```toml
//! [[step]]
//! kind = "mcp"
//! call = "tools/list"
//! token = "expired"
//! expect = { status = 401, challenge = { scheme = "Bearer", error = "invalid_token" } }
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{CheckError, FailureKind, LoadContext, ScenarioRun, StepError};
use crate::expectation::{self, Expect};
use crate::mcp_client::{Answer, McpRequest};

/// How often a call is repeated while the server may still answer from its
/// introspection cache.
const CACHE_RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// An MCP call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum McpCall {
    /// `initialize` (then `notifications/initialized`).
    #[serde(rename = "initialize")]
    Initialize,
    /// `tools/list`
    #[serde(rename = "tools/list")]
    ToolsList,
    /// `tools/call` of `tool` with `arguments`.
    #[serde(rename = "tools/call")]
    ToolsCall,
    /// `tools/call` of the profile's `[permission]` tool.
    #[serde(rename = "permission")]
    Permission,
    /// `tools/call` of the profile's `[upstream]` tool.
    #[serde(rename = "upstream")]
    Upstream,
    /// `ping`
    #[serde(rename = "ping")]
    Ping,
}

/// `kind = "mcp"`: a JSON-RPC request over Streamable HTTP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpStep {
    /// The call.
    pub call: McpCall,
    /// For `tools/call`: the tool.
    #[serde(default)]
    pub tool: Option<String>,
    /// For `tools/call`: its arguments.
    #[serde(default)]
    pub arguments: Map<String, Value>,
    /// Send `Authorization: Bearer <that minted token>`.
    #[serde(default)]
    pub token: Option<String>,
    /// Send this `Authorization` header instead (template).
    #[serde(default)]
    pub authorization: Option<String>,
    /// Query parameters to add (templates).
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Use a session saved by an earlier step; absent: a fresh handshake
    /// with the same credentials (for calls other than `initialize`).
    #[serde(default)]
    pub session: Option<String>,
    /// For `initialize`: save the session under this name.
    #[serde(default)]
    pub save_session: Option<String>,
    /// The server may still answer from its introspection cache: the call
    /// is repeated until `expect` holds or `[auth] introspection_cache_secs`
    /// has passed, and judged on the last answer.
    #[serde(default)]
    pub within_introspection_cache: bool,
    /// The step only sets the scene (the server must have refetched its
    /// keys, say): when its expectation fails the scenario is not
    /// meaningful rather than failed.
    #[serde(default)]
    pub precondition: bool,
    /// What must come back.
    #[serde(default)]
    pub expect: Expect,
}

impl McpStep {
    pub(super) fn check(&self, load: &mut LoadContext) -> Result<(), CheckError> {
        if let Some(t) = &self.token {
            load.minted("token", t)?;
        }
        if self.token.is_some() && self.authorization.is_some() {
            return Err(CheckError::step(
                "give `token` or `authorization`, not both",
            ));
        }
        if self.call == McpCall::ToolsCall && self.tool.is_none() {
            return Err(CheckError::field("tool", "tools/call needs a tool"));
        }
        if let Some(s) = &self.session
            && !load.sessions.contains(s)
        {
            return Err(CheckError::field(
                "session",
                format!("`{s}` is not saved by an earlier initialize"),
            ));
        }
        if let Some(s) = &self.save_session {
            if self.call != McpCall::Initialize {
                return Err(CheckError::field(
                    "save_session",
                    "only an initialize opens a session",
                ));
            }
            load.sessions.insert(s.clone());
        }
        Ok(())
    }

    /// An MCP step; with `within_introspection_cache`, repeated until its
    /// expectation holds or the profile's declared introspection cache time
    /// has passed (a cache may lawfully answer for that long), and judged on
    /// the last attempt, whose exchanges are the evidence.
    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        if !self.within_introspection_cache {
            return self.once(run).await;
        }
        let window = Duration::from_secs(run.ctx.profile.auth.introspection_cache_secs);
        let started = Instant::now();
        loop {
            let mark = run.exchanges.len();
            let error = match self.once(run).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let elapsed = started.elapsed();
            if elapsed >= window {
                return Err(if window.is_zero() || error.kind != FailureKind::Server {
                    error
                } else {
                    server!(
                        "{error} (still after {} s, the introspection cache time the profile declares)",
                        window.as_secs()
                    )
                });
            }
            run.exchanges.truncate(mark);
            tokio::time::sleep(CACHE_RETRY_INTERVAL.min(window - elapsed)).await;
        }
    }

    async fn once(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let authorization =
            authorization(run, self.token.as_deref(), self.authorization.as_deref())?;
        let query: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(k, v)| Ok((k.clone(), run.render(v)?)))
            .collect::<Result<_, StepError>>()?;
        let client = run.ctx.client.clone();
        let answer = if self.call == McpCall::Initialize {
            let (answer, session) = client.handshake(authorization.as_deref(), &query).await;
            run.record(&answer.raw);
            if let Some(name) = &self.save_session {
                match session {
                    Some(s) => {
                        // `{session.NAME}` for raw requests (an http DELETE).
                        run.vars.set(&format!("session.{name}"), s.clone());
                        run.sessions.insert(name.clone(), s);
                    }
                    None if (200..300).contains(&answer.status()) => {
                        return Err(StepError::server(
                            "the server answered initialize without an Mcp-Session-Id header"
                                .to_owned(),
                        ));
                    }
                    None => {}
                }
            }
            answer
        } else {
            let session = match &self.session {
                Some(name) => run.sessions.get(name).cloned(),
                None => {
                    // A fresh session with the same credentials first.
                    let (hello, session) = client.handshake(authorization.as_deref(), &query).await;
                    run.record(&hello.raw);
                    if !(200..300).contains(&hello.status()) {
                        return self.judge(run, &hello).await;
                    }
                    session
                }
            };
            let message = message(run, self.call, self.tool.as_deref(), &self.arguments)?;
            let answer = client
                .send(&McpRequest {
                    message,
                    authorization,
                    query,
                    session,
                    protocol_header: true,
                })
                .await;
            run.record(&answer.raw);
            answer
        };
        self.judge(run, &answer).await
    }

    async fn judge(&self, run: &mut ScenarioRun<'_>, answer: &Answer) -> Result<(), StepError> {
        expectation::check(&self.expect, answer, &run.vars, run.ctx.client.http()).await?;
        if self.expect.says_reauth_required {
            let hints = run
                .ctx
                .profile
                .upstream
                .as_ref()
                .map(|u| u.reauth_hints.clone())
                .unwrap_or_else(|| {
                    crate::profile::DEFAULT_REAUTH_HINTS
                        .iter()
                        .map(|h| (*h).to_owned())
                        .collect()
                });
            expectation::says_reauth_required(answer, &hints)?;
        }
        Ok(())
    }
}

/// The `Authorization` header of a call: `Bearer` and the minted `token`,
/// or `authorization` rendered.
pub(super) fn authorization(
    run: &ScenarioRun<'_>,
    token: Option<&str>,
    authorization: Option<&str>,
) -> Result<Option<String>, StepError> {
    if let Some(t) = token {
        let value = run
            .vars
            .get(&format!("token.{t}"))
            .ok_or_else(|| harness!("token `{t}` was not minted"))?;
        return Ok(Some(format!("Bearer {value}")));
    }
    authorization.map(|a| run.render(a)).transpose()
}

/// The JSON-RPC message of `call` (`tool` and `arguments` for
/// `tools/call`; the profile names the permission and upstream tools).
pub(super) fn message(
    run: &ScenarioRun<'_>,
    call: McpCall,
    tool: Option<&str>,
    arguments: &Map<String, Value>,
) -> Result<Value, StepError> {
    let client = &run.ctx.client;
    let tool_call = |name: &str, args: &Map<String, Value>| {
        client.request("tools/call", Some(json!({"name": name, "arguments": args})))
    };
    Ok(match call {
        McpCall::Initialize => client.initialize_message(),
        McpCall::ToolsList => client.request("tools/list", None),
        McpCall::Ping => client.request("ping", None),
        McpCall::ToolsCall => tool_call(tool.unwrap_or(""), arguments),
        McpCall::Permission => {
            let p = run.ctx.profile.permission.as_ref().ok_or_else(|| {
                harness!("`permission` call without a [permission] profile section")
            })?;
            tool_call(&p.tool, &p.arguments)
        }
        McpCall::Upstream => {
            let u =
                run.ctx.profile.upstream.as_ref().ok_or_else(|| {
                    harness!("`upstream` call without an [upstream] profile section")
                })?;
            tool_call(&u.tool, &u.arguments)
        }
    })
}
