//! The step kinds of a scenario, one module each. A module holds its step's
//! serde struct (what a scenario file says, `deny_unknown_fields`), its
//! load-time check (against what earlier steps minted and saved) and its
//! `run`. [`Step`] only dispatches. To add a step kind: write
//! `steps/<kind>.rs` with a `//!` doc that opens with ``kind = "<kind>"``,
//! a struct with `check` and `run`, and add its line to `step_kinds!`;
//! `docs/steps.md` is generated from the modules' docs
//! (`UPDATE_STEP_DOCS=1 cargo test -p conformance --test step_docs`).
//!
//! A run keeps its state in [`ScenarioRun`]: the run's context (profile,
//! provider, MCP client, server), the template variables, saved sessions
//! and the exchanges that become evidence. A step that fails says whose
//! problem it is ([`StepError`]): the server's (FAIL), the suite's
//! (ERROR) or a precondition's (not meaningful).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::evidence::RawExchange;
use crate::expectation::{Expect, StatusSpec};
use crate::provider_link::IssuerRole;
use crate::run_context::RunContext;
use crate::template::Vars;

/// A server failure: `StepError::server(format!(..))`.
macro_rules! server {
    ($($arg:tt)*) => {
        $crate::steps::StepError::server(format!($($arg)*))
    };
}

/// The suite's own problem: `StepError::harness(format!(..))`.
macro_rules! harness {
    ($($arg:tt)*) => {
        $crate::steps::StepError::harness(format!($($arg)*))
    };
}

mod step_error;

pub use leak_scan::LeakScope;
pub use ledger::LedgerExpect;
pub use mcp::McpCall;
pub use mint::{OneOrMany, StagedKey};
pub use step_error::{FailureKind, StepError, StepFailure};
pub use wait::MAX_WAIT_MILLIS;

/// The step kinds: each line is a variant of [`Step`], its module and its
/// struct. The macro declares the module, exports the struct, and writes
/// the enum and its dispatch, so a new kind is a file and a line here.
macro_rules! step_kinds {
    ($( $(#[$doc:meta])* $variant:ident($module:ident::$ty:ident), )+) => {
        $( mod $module; pub use $module::$ty; )+

        /// A step: `kind` picks the module.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum Step {
            $( $(#[$doc])* $variant($ty), )+
        }

        /// The kinds, as scenarios name them (each module is named after
        /// its kind).
        pub const STEP_KINDS: &[&str] = &[$( stringify!($module), )+];

        // By hand rather than derived: serde's tagged enums buffer the
        // fields and lose their names, so `endpoint = "tokne"` would be
        // refused without saying which field. Here the kind picks the
        // struct and its fields are read with their path.
        impl<'de> Deserialize<'de> for Step {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                let mut fields = Map::<String, serde_json::Value>::deserialize(d)?;
                let kind = match fields.remove("kind") {
                    Some(serde_json::Value::String(k)) => k,
                    Some(other) => {
                        return Err(D::Error::custom(format!("kind: `{other}` is not a step kind")));
                    }
                    None => {
                        return Err(D::Error::custom(format!(
                            "missing field `kind` (one of {})",
                            STEP_KINDS.join(", ")
                        )));
                    }
                };
                let fields = serde_json::Value::Object(fields);
                let named = |e: serde_path_to_error::Error<serde_json::Error>| {
                    let path = e.path().to_string();
                    // An unknown field's message names it already.
                    if path == "." || e.inner().to_string().starts_with("unknown field") {
                        D::Error::custom(e.into_inner())
                    } else {
                        D::Error::custom(format!("{path}: {}", e.into_inner()))
                    }
                };
                match kind.as_str() {
                    $( stringify!($module) => serde_path_to_error::deserialize(fields)
                        .map(Self::$variant)
                        .map_err(named), )+
                    other => Err(D::Error::custom(format!(
                        "unknown step kind `{other}`, expected one of {}",
                        STEP_KINDS.join(", ")
                    ))),
                }
            }
        }

        impl Step {
            /// The kind's own load-time check.
            fn check_kind(&self, load: &mut LoadContext) -> Result<(), CheckError> {
                match self {
                    $( Self::$variant(s) => s.check(load), )+
                }
            }

            /// Runs the step.
            async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
                match self {
                    $( Self::$variant(s) => s.run(run).await, )+
                }
            }
        }
    };
}

step_kinds! {
    /// Add a fault rule.
    Fault(fault::FaultStep),
    /// Concurrent MCP calls.
    Concurrent(concurrent::ConcurrentStep),
    /// The server's upstream access tokens stop working now.
    ExpireUpstreamTokens(expire_upstream_tokens::ExpireUpstreamTokensStep),
    /// Let time pass (a `Retry-After`, a token lifetime).
    Wait(wait::WaitStep),
    /// Wait until the server may refetch the trusted issuer's JWKS.
    WaitJwksCooldown(wait_jwks_cooldown::WaitJwksCooldownStep),
    /// Check the provider's ledger.
    Ledger(ledger::LedgerStep),
    /// Stop the server and start it again.
    RestartServer(restart_server::RestartServerStep),
    /// Check the token store's files.
    TokenStore(token_store::TokenStoreStep),
    /// Mint a token.
    Mint(mint::MintStep),
    /// Revoke a minted token at the provider.
    Revoke(revoke::RevokeStep),
    /// Rotate an issuer's key.
    RotateKeys(rotate_keys::RotateKeysStep),
    /// An MCP request.
    Mcp(mcp::McpStep),
    /// A raw HTTP request.
    Http(http::HttpStep),
    /// Judge session ids.
    SessionIds(session_ids::SessionIdsStep),
    /// Scan for leaked secrets.
    LeakScan(leak_scan::LeakScanStep),
}

/// Why a step cannot run, found when its scenario loads: the field at
/// fault, when one is, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", field.map(|f| format!(".{f}")).unwrap_or_default())]
pub struct CheckError {
    /// The field (`count`, `expect.status`), or none for the step as a
    /// whole.
    pub field: Option<&'static str>,
    /// What is wrong.
    pub reason: String,
}

impl CheckError {
    /// A field's value is wrong.
    pub fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            reason: reason.into(),
        }
    }

    /// The step as a whole is wrong.
    pub fn step(reason: impl Into<String>) -> Self {
        Self {
            field: None,
            reason: reason.into(),
        }
    }
}

/// What a load-time check knows: the tokens minted and the sessions saved
/// by the steps before.
#[derive(Debug, Default)]
pub struct LoadContext {
    /// Names of minted tokens.
    pub tokens: BTreeSet<String>,
    /// Names of saved sessions.
    pub sessions: BTreeSet<String>,
}

impl LoadContext {
    /// `Ok` when `name` was minted by an earlier step; `field` names the
    /// field in the error.
    pub fn minted(&self, field: &'static str, name: &str) -> Result<(), CheckError> {
        if self.tokens.contains(name) {
            Ok(())
        } else {
            Err(CheckError::field(
                field,
                format!("`{name}` is not minted by an earlier step"),
            ))
        }
    }

    /// Whether `{name}` is a placeholder the run or an earlier step
    /// defines.
    fn knows_placeholder(&self, name: &str) -> bool {
        crate::template::RUN_PLACEHOLDERS.contains(&name)
            || crate::template::is_repeat(name)
            || name == "call.subject"
            || name
                .strip_prefix("token.")
                .or_else(|| name.strip_prefix("subject."))
                .is_some_and(|t| self.tokens.contains(t))
            || name
                .strip_prefix("session.")
                .is_some_and(|s| self.sessions.contains(s))
    }
}

/// What a step (or a scenario) touches, which decides whether it may run
/// beside others in a lane of its own (see [`crate::runner`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// Only what its lane owns: requests to its server, tokens it mints.
    Lane,
    /// Its lane's server process or upstream issuer (a restart, the token
    /// store, the server's upstream client): its own when each lane starts
    /// a server, shared otherwise.
    Server,
    /// The trusted issuer's faults, keys or JWKS ledger, and the server's
    /// JWKS refetch history: its own only in the key lane, which has a
    /// trusted issuer to itself.
    Trusted,
    /// What every lane shares: the `other` issuer, every lane's responses
    /// and logs. It runs alone.
    Shared,
}

impl Step {
    /// What the step touches.
    pub fn reach(&self) -> Reach {
        let of = |issuer: IssuerRole| match issuer {
            IssuerRole::Upstream => Reach::Server,
            IssuerRole::Trusted => Reach::Trusted,
            IssuerRole::Other => Reach::Shared,
        };
        match self {
            Self::Fault(f) => of(f.issuer),
            Self::RotateKeys(r) => of(r.issuer),
            Self::Ledger(l) if l.expect.max_other_jwks_requests.is_some() => Reach::Shared,
            Self::Ledger(l) if l.expect.max_jwks_requests.is_some() => Reach::Trusted,
            Self::Ledger(_) => Reach::Server,
            Self::Mint(m) if m.issuer == IssuerRole::Upstream => Reach::Server,
            Self::Revoke(r) if r.issuer == IssuerRole::Upstream => Reach::Server,
            Self::WaitJwksCooldown(_) => Reach::Trusted,
            Self::LeakScan(_) => Reach::Shared,
            Self::ExpireUpstreamTokens(_) | Self::RestartServer(_) | Self::TokenStore(_) => {
                Reach::Server
            }
            Self::Concurrent(_)
            | Self::Wait(_)
            | Self::Mint(_)
            | Self::Revoke(_)
            | Self::Mcp(_)
            | Self::Http(_)
            | Self::SessionIds(_) => Reach::Lane,
        }
    }

    /// What the step expects of an answer, if it judges one.
    pub fn expect(&self) -> Option<&Expect> {
        match self {
            Self::Mcp(m) => Some(&m.expect),
            Self::Http(h) => Some(&h.expect),
            Self::Concurrent(c) => Some(&c.expect),
            _ => None,
        }
    }

    /// Whether the step only sets the scene: its failure makes the
    /// scenario not meaningful rather than failed.
    pub fn is_precondition(&self) -> bool {
        match self {
            Self::Mcp(m) => m.precondition,
            Self::Http(h) => h.precondition,
            _ => false,
        }
    }

    /// The load-time check: the kind's own, then what every step shares
    /// (status classes, placeholders).
    pub fn check(&self, load: &mut LoadContext) -> Result<(), CheckError> {
        self.check_kind(load)?;
        if let Some(StatusSpec::Class(c)) = self.expect().and_then(|e| e.status.as_ref())
            && !matches!(c.as_str(), "1xx" | "2xx" | "3xx" | "4xx" | "5xx")
        {
            return Err(CheckError::field(
                "expect.status",
                format!("`{c}` is not a status class (1xx-5xx) or a code"),
            ));
        }
        // Every `{...}` in the step's strings must be a placeholder the run
        // or an earlier step defines: a typo is a load error, not a FAIL
        // charged to the server.
        let mut strings = Vec::new();
        collect_strings(
            &serde_json::to_value(self).unwrap_or(Value::Null),
            &mut strings,
        );
        for text in strings {
            for name in crate::template::placeholders(&text) {
                if !load.knows_placeholder(name) {
                    return Err(CheckError::step(format!(
                        "unknown placeholder `{{{name}}}` (known: {}, token.NAME and subject.NAME of a token minted earlier, session.NAME of a session saved earlier, call.subject, repeat:X:N)",
                        crate::template::RUN_PLACEHOLDERS.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Every string in `v`, keys aside.
fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// One scenario in progress: what its steps share.
pub struct ScenarioRun<'a> {
    ctx: &'a mut RunContext,
    vars: Vars,
    sessions: BTreeMap<String, String>,
    exchanges: Vec<RawExchange>,
    /// The provider ledger's last `seq` at the previous `ledger` step.
    ledger_mark: Option<u64>,
}

/// Runs a scenario's `steps`; `Ok` when every expectation held.
pub async fn run_scenario(ctx: &mut RunContext, steps: &[Step]) -> Result<(), StepFailure> {
    let mut vars = ctx.vars.clone();
    vars.set("spec_version", ctx.client.version().as_str());
    let ledger_mark = ctx.scenario_mark;
    let mut run = ScenarioRun {
        ctx,
        vars,
        sessions: BTreeMap::new(),
        exchanges: Vec::new(),
        ledger_mark,
    };
    for (i, step) in steps.iter().enumerate() {
        run.exchanges.clear();
        if let Err(e) = step.run(&mut run).await {
            return Err(StepFailure {
                step: i,
                kind: match e.kind {
                    FailureKind::Server if step.is_precondition() => FailureKind::Precondition,
                    kind => kind,
                },
                message: e.message,
                evidence: std::mem::take(&mut run.exchanges),
            });
        }
    }
    Ok(())
}

impl ScenarioRun<'_> {
    fn render(&self, text: &str) -> Result<String, StepError> {
        self.vars.render(text).map_err(|e| harness!("{e}"))
    }

    /// `value` with every string in it rendered.
    fn render_json(&self, value: &Value) -> Result<Value, StepError> {
        Ok(match value {
            Value::String(s) => Value::String(self.render(s)?),
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|v| self.render_json(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_json(v)?)))
                    .collect::<Result<_, StepError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Keeps an exchange: for the leak scan, and as the step's evidence.
    fn record(&mut self, raw: &RawExchange) {
        self.ctx
            .responses
            .push((raw.request.clone(), raw.response_text()));
        self.exchanges.push(raw.clone());
    }

    /// The server's own client at the upstream issuer.
    fn upstream_client(&self) -> Result<String, StepError> {
        self.ctx
            .upstream_client
            .clone()
            .ok_or_else(|| harness!("needs an [upstream] profile section"))
    }
}
