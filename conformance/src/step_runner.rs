//! Runs one scenario's steps against the server and checks their
//! expectations; the first unmet expectation ends the scenario with its
//! evidence.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use mock_provider::admin_api::{MintRequest, RevokeRequest, RotateKeys};
use mock_provider::token_override::TokenOverride;
use serde_json::{Value, json};

use crate::evidence::RawExchange;
use crate::expectation;
use crate::mcp_client::{Answer, McpRequest};
use crate::run_context::RunContext;
use crate::scenario::{
    ConcurrentStep, FaultStep, HttpStep, IssuerRole, LeakScanStep, LeakScope, LedgerExpect,
    McpCall, McpStep, MintStep, RevokeStep, RotateKeysStep, Scenario, SessionIdsStep, StagedKey,
    Step,
};
use crate::template::Vars;

/// How often a call is repeated while the server may still answer from its
/// introspection cache.
const CACHE_RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// Whose problem a step's failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The server did not do what the step expects: FAIL.
    Server,
    /// The suite, the profile or the provider could not run the step
    /// (a fault rule refused, an admin call that failed): ERROR.
    Harness,
    /// A `precondition` step's expectation did not hold: the server never
    /// got into the state the rule is about, so the scenario proves
    /// nothing (not meaningful).
    Precondition,
}

/// Why a step did not pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// Whose problem it is.
    pub kind: FailureKind,
    /// What went wrong.
    pub message: String,
}

impl StepError {
    /// The suite's own problem.
    pub fn harness(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Harness,
            message: message.into(),
        }
    }
}

/// What the server did wrong (the expectation checks speak in messages).
impl From<String> for StepError {
    fn from(message: String) -> Self {
        Self {
            kind: FailureKind::Server,
            message,
        }
    }
}

/// A server failure: `StepError::from(format!(..))`.
macro_rules! server {
    ($($arg:tt)*) => {
        StepError::from(format!($($arg)*))
    };
}

/// `StepError::harness(format!(..))`.
macro_rules! harness {
    ($($arg:tt)*) => {
        StepError::harness(format!($($arg)*))
    };
}

/// Why a scenario did not pass.
#[derive(Debug, Clone)]
pub struct StepFailure {
    /// Which step (from 0).
    pub step: usize,
    /// Whose problem it is.
    pub kind: FailureKind,
    /// What went wrong.
    pub message: String,
    /// The exchanges of that step.
    pub evidence: Vec<RawExchange>,
}

/// One scenario in progress.
struct ScenarioRun<'a> {
    ctx: &'a mut RunContext,
    vars: Vars,
    sessions: BTreeMap<String, String>,
    exchanges: Vec<RawExchange>,
    /// The provider ledger's last `seq` at the previous `ledger` step.
    ledger_mark: Option<u64>,
}

/// Runs `scenario`; `Ok` when every expectation held.
pub async fn run_scenario(ctx: &mut RunContext, scenario: &Scenario) -> Result<(), StepFailure> {
    let mut vars = ctx.vars.clone();
    vars.set("spec_version", ctx.client.version().as_str());
    let mut run = ScenarioRun {
        ctx,
        vars,
        sessions: BTreeMap::new(),
        exchanges: Vec::new(),
        ledger_mark: None,
    };
    for (i, step) in scenario.steps.iter().enumerate() {
        run.exchanges.clear();
        if let Err(e) = run.step(step).await {
            let precondition = match step {
                Step::Mcp(m) => m.precondition,
                Step::Http(h) => h.precondition,
                _ => false,
            };
            return Err(StepFailure {
                step: i,
                kind: match e.kind {
                    FailureKind::Server if precondition => FailureKind::Precondition,
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

    fn record(&mut self, raw: &RawExchange) {
        self.ctx
            .responses
            .push((raw.request.clone(), raw.response_text()));
        self.exchanges.push(raw.clone());
    }

    async fn step(&mut self, step: &Step) -> Result<(), StepError> {
        match step {
            Step::Mint(m) => self.mint(m).await,
            Step::Revoke(r) => self.revoke(r).await,
            Step::RotateKeys(r) => self.rotate(r).await,
            Step::Mcp(m) => self.mcp(m).await,
            Step::Http(h) => self.http(h).await,
            Step::SessionIds(s) => self.session_ids(s).await,
            Step::LeakScan(l) => self.leak_scan(l).await,
            Step::Fault(f) => self.fault(f).await,
            Step::Concurrent(c) => self.concurrent(c).await,
            Step::ExpireUpstreamTokens(_) => self.expire_upstream().await,
            Step::Wait(w) => {
                tokio::time::sleep(Duration::from_millis(w.millis)).await;
                Ok(())
            }
            Step::WaitJwksCooldown(_) => self.wait_jwks_cooldown().await,
            Step::Ledger(l) => self.ledger(&l.expect).await,
            Step::RestartServer(_) => match self.ctx.server.as_mut() {
                Some(server) => server
                    .restart()
                    .await
                    .map_err(|e| harness!("the server could not be restarted: {e}")),
                None => Err(harness!("only a server the suite starts can be restarted")),
            },
            Step::TokenStore(t) => self.token_store(t),
        }
    }

    async fn mint(&mut self, m: &MintStep) -> Result<(), StepError> {
        let audience = match &m.audience {
            None => Some(json!(self.render("{resource}")?)),
            Some(a) => {
                let list = a
                    .to_vec()
                    .iter()
                    .map(|x| self.render(x))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(match a {
                    crate::scenario::OneOrMany::One(_) => json!(list[0]),
                    crate::scenario::OneOrMany::Many(_) => json!(list),
                })
            }
        };
        let scope = self.render(m.scope.as_deref().unwrap_or("{auth_scope}"))?;
        let kid = match m.key {
            None => None,
            Some(staged) => Some(self.staged_kid(m.issuer, staged).await?),
        };
        let header = match self.render_json(&Value::Object(m.header.clone()))? {
            Value::Object(h) => h,
            _ => Default::default(),
        };
        let token_override = TokenOverride {
            remove_aud: m.remove_aud,
            iss: m.iss.as_deref().map(|i| self.render(i)).transpose()?,
            nbf_in_secs: m.nbf_in_secs,
            kid,
            header,
            ..Default::default()
        };
        let request = MintRequest {
            client_id: Some("mcp-conformance-client".to_owned()),
            subject: Some(m.subject.clone().unwrap_or_else(|| "alice".to_owned())),
            scope: Some(scope),
            audience,
            ttl_secs: m.ttl_secs,
            claims: m.claims.clone(),
            token_override: Some(token_override),
            signing_fault: m.signing_fault,
        };
        let minted = self
            .ctx
            .provider
            .admin()
            .mint_token(m.issuer.name(), &request)
            .await
            .map_err(|e| harness!("minting `{}` failed: {e}", m.name))?;
        self.ctx
            .book
            .add(&minted.access_token, &format!("token {}", m.name));
        self.vars
            .set(&format!("token.{}", m.name), minted.access_token);
        let subject = request.subject.unwrap_or_default();
        self.vars.set(&format!("subject.{}", m.name), subject);
        Ok(())
    }

    /// The `kid` of the issuer's staged key of that algorithm: published,
    /// and not the one that signs by default.
    async fn staged_kid(&self, issuer: IssuerRole, staged: StagedKey) -> Result<String, StepError> {
        let keys = self
            .ctx
            .provider
            .admin()
            .keys(issuer.name())
            .await
            .map_err(|e| harness!("cannot read the {} issuer's keys: {e}", issuer.name()))?;
        keys.published
            .iter()
            .find(|k| k.alg == staged.algorithm() && k.kid != keys.active_kid)
            .map(|k| k.kid.clone())
            .ok_or_else(|| {
                harness!(
                    "the {} issuer publishes no staged {} key (a standalone --provider needs `staged_keys = [\"RS256\", \"ES256\"]` on it)",
                    issuer.name(),
                    staged.algorithm()
                )
            })
    }

    /// Sleeps until the server may refetch the trusted issuer's JWKS under
    /// the cooldown its profile states: that long after its last JWKS
    /// request, whether in this scenario (the ledger) or before the last
    /// reset (noted by the run).
    async fn wait_jwks_cooldown(&mut self) -> Result<(), StepError> {
        let cooldown = Duration::from_secs(self.ctx.profile.auth.jwks_refetch_cooldown_secs);
        let in_scenario = self
            .ctx
            .provider
            .ledger_at(IssuerRole::Trusted, mock_provider::Endpoint::Jwks, None)
            .await
            .map_err(|e| harness!("cannot read the provider's ledger: {e}"))?
            .iter()
            .map(|e| e.time_ms)
            .max();
        let Some(last) = in_scenario.max(self.ctx.last_jwks_fetch_ms) else {
            // The server never fetched the JWKS: nothing to wait for.
            return Ok(());
        };
        // A little more than the cooldown: clocks are read in milliseconds
        // on both sides, and a cooldown is "at least", not "exactly".
        let until = Duration::from_millis(last) + cooldown + Duration::from_millis(250);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        if until > now {
            tokio::time::sleep(until - now).await;
        }
        Ok(())
    }

    async fn revoke(&mut self, r: &RevokeStep) -> Result<(), StepError> {
        let token = self
            .vars
            .get(&format!("token.{}", r.token))
            .ok_or_else(|| harness!("token `{}` was not minted", r.token))?
            .to_owned();
        let outcome = self
            .ctx
            .provider
            .admin()
            .revoke(
                r.issuer.name(),
                &RevokeRequest {
                    token: Some(token),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| harness!("revoking `{}` failed: {e}", r.token))?;
        if !outcome.access_token_revoked {
            return Err(harness!(
                "the provider did not revoke `{}` as an access token",
                r.token
            ));
        }
        Ok(())
    }

    async fn rotate(&mut self, r: &RotateKeysStep) -> Result<(), StepError> {
        self.ctx
            .provider
            .admin()
            .rotate_keys_to(
                r.issuer.name(),
                &RotateKeys {
                    grace_secs: r.grace_secs,
                    algorithm: r.algorithm,
                },
            )
            .await
            .map(|_| ())
            .map_err(|e| harness!("key rotation failed: {e}"))
    }

    fn authorization(&self, m: &McpStep) -> Result<Option<String>, StepError> {
        if let Some(t) = &m.token {
            let token = self
                .vars
                .get(&format!("token.{t}"))
                .ok_or_else(|| harness!("token `{t}` was not minted"))?;
            return Ok(Some(format!("Bearer {token}")));
        }
        m.authorization
            .as_deref()
            .map(|a| self.render(a))
            .transpose()
    }

    fn message(&self, m: &McpStep) -> Result<Value, StepError> {
        let client = &self.ctx.client;
        let tool_call = |name: &str, args: &serde_json::Map<String, Value>| {
            client.request("tools/call", Some(json!({"name": name, "arguments": args})))
        };
        Ok(match m.call {
            McpCall::Initialize => client.initialize_message(),
            McpCall::ToolsList => client.request("tools/list", None),
            McpCall::Ping => client.request("ping", None),
            McpCall::ToolsCall => tool_call(m.tool.as_deref().unwrap_or(""), &m.arguments),
            McpCall::Permission => {
                let p = self.ctx.profile.permission.as_ref().ok_or_else(|| {
                    harness!("`permission` call without a [permission] profile section")
                })?;
                tool_call(&p.tool, &p.arguments)
            }
            McpCall::Upstream => {
                let u = self.ctx.profile.upstream.as_ref().ok_or_else(|| {
                    harness!("`upstream` call without an [upstream] profile section")
                })?;
                tool_call(&u.tool, &u.arguments)
            }
        })
    }

    /// An MCP step; with `within_introspection_cache`, repeated until its
    /// expectation holds or the profile's declared introspection cache time
    /// has passed (a cache may lawfully answer for that long), and judged on
    /// the last attempt, whose exchanges are the evidence.
    async fn mcp(&mut self, m: &McpStep) -> Result<(), StepError> {
        if !m.within_introspection_cache {
            return self.mcp_once(m).await;
        }
        let window = Duration::from_secs(self.ctx.profile.auth.introspection_cache_secs);
        let started = Instant::now();
        loop {
            let mark = self.exchanges.len();
            let error = match self.mcp_once(m).await {
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
            self.exchanges.truncate(mark);
            tokio::time::sleep(CACHE_RETRY_INTERVAL.min(window - elapsed)).await;
        }
    }

    async fn mcp_once(&mut self, m: &McpStep) -> Result<(), StepError> {
        let authorization = self.authorization(m)?;
        let query: Vec<(String, String)> = m
            .query
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.render(v)?)))
            .collect::<Result<_, StepError>>()?;
        let client = self.ctx.client.clone();
        let answer = if m.call == McpCall::Initialize {
            let (answer, session) = client.handshake(authorization.as_deref(), &query).await;
            self.record(&answer.raw);
            if let Some(name) = &m.save_session {
                match session {
                    Some(s) => {
                        // `{session.NAME}` for raw requests (an http DELETE).
                        self.vars.set(&format!("session.{name}"), s.clone());
                        self.sessions.insert(name.clone(), s);
                    }
                    None if (200..300).contains(&answer.status()) => {
                        return Err(StepError::from(
                            "the server answered initialize without an Mcp-Session-Id header"
                                .to_owned(),
                        ));
                    }
                    None => {}
                }
            }
            answer
        } else {
            let session = match &m.session {
                Some(name) => self.sessions.get(name).cloned(),
                None => {
                    // A fresh session with the same credentials first.
                    let (hello, session) = client.handshake(authorization.as_deref(), &query).await;
                    self.record(&hello.raw);
                    if !(200..300).contains(&hello.status()) {
                        return self.judge(m, &hello).await;
                    }
                    session
                }
            };
            let message = self.message(m)?;
            let answer = client
                .send(&McpRequest {
                    message,
                    authorization,
                    query,
                    session,
                    protocol_header: true,
                })
                .await;
            self.record(&answer.raw);
            answer
        };
        self.judge(m, &answer).await
    }

    async fn judge(&mut self, m: &McpStep, answer: &Answer) -> Result<(), StepError> {
        expectation::check(&m.expect, answer, &self.vars, self.ctx.client.http()).await?;
        if m.expect.says_reauth_required {
            let hints = self
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

    async fn http(&mut self, h: &HttpStep) -> Result<(), StepError> {
        let url = self.render(&h.url)?;
        let method = reqwest::Method::from_bytes(h.method.as_bytes())
            .map_err(|_| harness!("`{}` is not an HTTP method", h.method))?;
        let mut raw = RawExchange {
            request: format!("{method} {url}"),
            ..Default::default()
        };
        let mut req = self.ctx.client.http().request(method, &url);
        for (k, v) in &h.headers {
            let v = self.render(v)?;
            raw.request_headers.push((k.clone(), v.clone()));
            req = req.header(k, v);
        }
        if let Some(b) = &h.body {
            req = req.body(self.render(b)?);
        }
        if let Some(j) = &h.json {
            if !h
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
            {
                raw.request_headers
                    .push(("content-type".into(), "application/json".into()));
                req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
            }
            req = req.body(self.render_json(j)?.to_string());
        }
        match req.send().await {
            Err(e) => raw.error = Some(e.to_string()),
            Ok(r) => {
                raw.status = Some(r.status().as_u16());
                raw.response_headers = crate::evidence::header_pairs(r.headers());
                raw.body = r.text().await.unwrap_or_default();
            }
        }
        self.record(&raw);
        let jsonrpc = serde_json::from_str(&raw.body).ok();
        let answer = Answer { raw, jsonrpc };
        Ok(expectation::check(&h.expect, &answer, &self.vars, self.ctx.client.http()).await?)
    }

    async fn session_ids(&mut self, s: &SessionIdsStep) -> Result<(), StepError> {
        self.mint(&MintStep {
            name: "__session_probe".to_owned(),
            issuer: Default::default(),
            audience: None,
            remove_aud: false,
            iss: None,
            scope: None,
            subject: None,
            ttl_secs: None,
            nbf_in_secs: None,
            signing_fault: None,
            key: None,
            claims: Default::default(),
            header: Default::default(),
        })
        .await?;
        let token = self
            .vars
            .get("token.__session_probe")
            .map(|t| format!("Bearer {t}"));
        let client = self.ctx.client.clone();
        let mut ids = Vec::new();
        for _ in 0..s.count {
            let (answer, session) = client.handshake(token.as_deref(), &[]).await;
            self.record(&answer.raw);
            match session {
                Some(id) => ids.push(id),
                None => {
                    return Err(server!(
                        "initialize with a valid token answered {} without an Mcp-Session-Id",
                        answer.status()
                    ));
                }
            }
        }
        Ok(expectation::judge_session_ids(&ids, s.min_length)?)
    }

    fn upstream_client(&self) -> Result<String, StepError> {
        self.ctx
            .upstream_client
            .clone()
            .ok_or_else(|| harness!("needs an [upstream] profile section"))
    }

    async fn fault(&mut self, f: &FaultStep) -> Result<(), StepError> {
        let client = match f.issuer {
            IssuerRole::Upstream => self.upstream_client()?,
            _ => String::new(),
        };
        let rule = f.rule(&client).map_err(|e| harness!("fault rule: {e}"))?;
        self.ctx
            .provider
            .admin()
            .add_fault(&rule)
            .await
            .map(|_| ())
            .map_err(|e| harness!("the provider refused the fault rule: {e}"))
    }

    async fn concurrent(&mut self, c: &ConcurrentStep) -> Result<(), StepError> {
        let names: Vec<String> = c.token.iter().chain(&c.tokens).cloned().collect();
        let client = self.ctx.client.clone();
        // Per token: its step, its authorization, its session, and the
        // variables its answers are checked with.
        let mut per_token = Vec::new();
        for name in &names {
            let step = McpStep {
                call: c.call,
                tool: None,
                arguments: Default::default(),
                token: Some(name.clone()),
                authorization: None,
                query: Default::default(),
                session: None,
                save_session: None,
                within_introspection_cache: false,
                precondition: false,
                expect: c.expect.clone(),
            };
            let authorization = self.authorization(&step)?;
            let mut vars = self.vars.clone();
            if let Some(subject) = self.vars.get(&format!("subject.{name}")) {
                vars.set("call.subject", subject.to_owned());
            }
            // Initialize requests need no session: they are the calls.
            let session = if c.call == McpCall::Initialize {
                None
            } else {
                let (hello, session) = client.handshake(authorization.as_deref(), &[]).await;
                self.record(&hello.raw);
                if !(200..300).contains(&hello.status()) {
                    return Ok(expectation::check(&c.expect, &hello, &vars, client.http()).await?);
                }
                session
            };
            per_token.push((step, authorization, session, vars));
        }
        let mut calls = Vec::new();
        for i in 0..c.count {
            let (step, authorization, session, _) = &per_token[i % per_token.len()];
            let req = McpRequest {
                message: self.message(step)?,
                authorization: authorization.clone(),
                query: Vec::new(),
                session: session.clone(),
                protocol_header: c.call != McpCall::Initialize,
            };
            let client = client.clone();
            calls.push(tokio::spawn(async move { client.send(&req).await }));
        }
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.map_err(|e| harness!("{e}"))?);
        }
        for a in &answers {
            self.record(&a.raw);
        }
        for (i, a) in answers.iter().enumerate() {
            let vars = &per_token[i % per_token.len()].3;
            let token = &names[i % names.len()];
            expectation::check(&c.expect, a, vars, client.http())
                .await
                .map_err(|e| {
                    if names.len() > 1 {
                        format!("call {} of {} (token `{token}`): {e}", i + 1, c.count)
                    } else {
                        format!("call {} of {}: {e}", i + 1, c.count)
                    }
                })?;
        }
        Ok(())
    }

    fn token_store(&mut self, t: &crate::scenario::TokenStoreStep) -> Result<(), StepError> {
        let dir = self
            .ctx
            .token_store
            .clone()
            .ok_or_else(|| harness!("needs `[upstream] token_store = true`"))?;
        let mode = |p: &std::path::Path| -> Result<u32, String> {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(p)
                    .map(|m| m.permissions().mode() & 0o777)
                    .map_err(|e| format!("{}: {e}", p.display()))
            }
            #[cfg(not(unix))]
            {
                let _ = p;
                Ok(0)
            }
        };
        if !dir.is_dir() {
            return Err(server!(
                "the server did not create MCP_TOKEN_STORE_DIR ({}): the suite hands over a path that does not exist yet",
                dir.display()
            ));
        }
        let mut files = 0;
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let m = mode(&d)?;
            if m & !t.max_dir_mode != 0 {
                return Err(server!(
                    "token store directory {} has mode {m:o}; at most {:o} (owner only)",
                    d.display(),
                    t.max_dir_mode
                ));
            }
            for e in std::fs::read_dir(&d)
                .map_err(|e| format!("{}: {e}", d.display()))?
                .flatten()
            {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files += 1;
                    let m = mode(&p)?;
                    if m & !t.max_file_mode != 0 {
                        return Err(server!(
                            "token file {} has mode {m:o}; at most {:o} (owner read/write only)",
                            p.display(),
                            t.max_file_mode
                        ));
                    }
                }
            }
        }
        if files == 0 {
            return Err(server!(
                "the server wrote no token file into MCP_TOKEN_STORE_DIR ({})",
                dir.display()
            ));
        }
        Ok(())
    }

    async fn expire_upstream(&mut self) -> Result<(), StepError> {
        let client = self.upstream_client()?;
        self.ctx
            .provider
            .admin()
            .expire_access_tokens("upstream", &client)
            .await
            .map(|_| ())
            .map_err(|e| harness!("{e}"))
    }

    async fn ledger(&mut self, expect: &LedgerExpect) -> Result<(), StepError> {
        let jwks = self.jwks_requests_since_mark().await?;
        if let Some(n) = expect.max_jwks_requests
            && jwks > n
        {
            return Err(server!(
                "expected at most {n} request(s) for the issuer's JWKS: the provider saw {jwks}"
            ));
        }
        if let Some(n) = expect.max_other_jwks_requests {
            let other = self
                .ledger_count(IssuerRole::Other, mock_provider::Endpoint::Jwks)
                .await?;
            if other > n {
                return Err(server!(
                    "expected at most {n} request(s) for the JWKS of an issuer the server does not trust (a jku or x5u header followed): the provider saw {other}"
                ));
            }
        }
        let jwks_only = LedgerExpect {
            max_jwks_requests: None,
            max_other_jwks_requests: None,
            ..expect.clone()
        } == LedgerExpect::default();
        if jwks_only {
            return Ok(());
        }
        self.upstream_ledger(expect).await
    }

    /// Requests at an issuer's endpoint since the scenario's start (the
    /// provider is reset before each scenario).
    async fn ledger_count(
        &self,
        issuer: IssuerRole,
        endpoint: mock_provider::Endpoint,
    ) -> Result<u64, StepError> {
        let entries = self
            .ctx
            .provider
            .ledger_at(issuer, endpoint, None)
            .await
            .map_err(|e| harness!("cannot read the provider's ledger: {e}"))?;
        Ok(entries.len() as u64)
    }

    /// Requests for the trusted issuer's JWKS since the previous `ledger`
    /// step (or the scenario's start); moves the mark to now.
    async fn jwks_requests_since_mark(&mut self) -> Result<u64, StepError> {
        use mock_provider::ledger::LedgerFilter;
        let admin = self.ctx.provider.admin();
        let latest = admin
            .ledger(&LedgerFilter {
                limit: Some(1),
                ..Default::default()
            })
            .await
            .map_err(|e| harness!("{e}"))?
            .last()
            .map(|e| e.seq);
        let jwks = self
            .ctx
            .provider
            .ledger_at(
                IssuerRole::Trusted,
                mock_provider::Endpoint::Jwks,
                self.ledger_mark,
            )
            .await
            .map_err(|e| harness!("{e}"))?
            .iter()
            .filter(|e| latest.is_some_and(|l| e.seq <= l))
            .count();
        self.ledger_mark = latest.or(self.ledger_mark);
        Ok(jwks as u64)
    }

    async fn upstream_ledger(&mut self, expect: &LedgerExpect) -> Result<(), StepError> {
        let client = self.upstream_client()?;
        let admin = self.ctx.provider.admin();
        let counters = admin.counters().await.map_err(|e| harness!("{e}"))?;
        let c = counters
            .get("upstream")
            .and_then(|m| m.get(&client))
            .cloned()
            .unwrap_or_default();
        let seen = format!(
            "the provider saw {} refresh request(s), {} refresh grant(s), {} reuse(s) of a consumed refresh token, {} invalid_grant answer(s), {} upstream API request(s)",
            c.refresh_requests,
            c.refresh_grants,
            c.reuse_detected,
            c.invalid_grant,
            c.upstream_requests
        );
        if let Some(n) = expect.refresh_grants
            && c.refresh_grants != n
        {
            return Err(server!("expected exactly {n} refresh grant(s): {seen}"));
        }
        if let Some(n) = expect.max_refresh_requests
            && c.refresh_requests > n
        {
            return Err(server!("expected at most {n} refresh request(s): {seen}"));
        }
        if let Some(n) = expect.reuse_detected
            && c.reuse_detected != n
        {
            return Err(server!(
                "expected {n} reuse(s) of a consumed refresh token: {seen}"
            ));
        }
        if let Some(n) = expect.min_upstream_requests
            && c.upstream_requests < n
        {
            return Err(server!(
                "expected at least {n} upstream API request(s): {seen}"
            ));
        }
        if let Some(n) = expect.max_upstream_requests
            && c.upstream_requests > n
        {
            return Err(server!(
                "expected at most {n} upstream API request(s): {seen}"
            ));
        }
        if expect.upstream_tokens_are_the_servers {
            let entries = self
                .ctx
                .provider
                .ledger_at(
                    IssuerRole::Upstream,
                    mock_provider::Endpoint::Upstream,
                    None,
                )
                .await
                .map_err(|e| harness!("{e}"))?;
            let upstream_issuer = self
                .vars
                .get("upstream_issuer")
                .unwrap_or_default()
                .to_owned();
            if entries.is_empty() {
                return Err(StepError::from(
                    "the server never called the upstream API".to_owned(),
                ));
            }
            for e in entries {
                let Some(o) = e.upstream else { continue };
                if o.token_issuer.as_deref() != Some(upstream_issuer.as_str())
                    || o.token_client_id.as_deref() != Some(client.as_str())
                {
                    return Err(server!(
                        "the upstream API received a token issued by {} to client {}, not the server's own token from {upstream_issuer} (client {client})",
                        o.token_issuer.as_deref().unwrap_or("nobody known"),
                        o.token_client_id.as_deref().unwrap_or("unknown")
                    ));
                }
            }
        }
        Ok(())
    }

    /// The fingerprints of the refresh tokens the provider issued since the
    /// scenario began (rotation hands the server new ones the suite never
    /// sees; the ledger keeps their fingerprints).
    async fn issued_refresh_tokens(&self) -> Result<BTreeSet<String>, StepError> {
        let entries = self
            .ctx
            .provider
            .admin()
            .ledger(&mock_provider::ledger::LedgerFilter::default())
            .await
            .map_err(|e| harness!("{e}"))?;
        Ok(entries
            .into_iter()
            .filter_map(|e| e.issued_refresh_token)
            .collect())
    }

    async fn leak_scan(&mut self, l: &LeakScanStep) -> Result<(), StepError> {
        let issued = self.issued_refresh_tokens().await?;
        let book = &self.ctx.book;
        // Upstream access tokens never pass through the suite's hands: they
        // are recognised by their issuer.
        let upstream_issuer = self
            .vars
            .get("upstream_issuer")
            .unwrap_or_default()
            .to_owned();
        match l.scope {
            LeakScope::Responses => {
                let mut found = Vec::new();
                for (request, text) in &self.ctx.responses {
                    let mut labels = book.found_in(text);
                    if upstream_tokens_in(text, &upstream_issuer) > 0 {
                        labels.push("an upstream access token".to_owned());
                    }
                    if !issued_tokens_in(text, &issued).is_empty() {
                        labels.push("a refresh token the provider issued".to_owned());
                    }
                    if !labels.is_empty() {
                        found.push(format!(
                            "{} in the answer to {}",
                            labels.join(", "),
                            book.redact(request)
                        ));
                    }
                }
                if found.is_empty() {
                    Ok(())
                } else {
                    found.truncate(5);
                    Err(server!(
                        "secrets handed out during the run came back in responses: {}",
                        found.join("; ")
                    ))
                }
            }
            LeakScope::Logs => {
                let Some(server) = self.ctx.server.as_ref() else {
                    return Err(harness!(
                        "the server's logs are only read when the suite starts it"
                    ));
                };
                // Secrets the suite itself put in a URL's query.
                let mut in_urls: BTreeSet<&str> = BTreeSet::new();
                for (request, _) in &self.ctx.responses {
                    let line = request.split_whitespace().nth(1).unwrap_or("");
                    if let Some((_, query)) = line.split_once('?') {
                        in_urls.extend(book.values_in(query));
                    }
                }
                let logs = server.logs();
                let mut labels: Vec<String> = Vec::new();
                let mut example = None;
                for line in logs.lines() {
                    let secrets = book.values_in(line);
                    let issued_here = issued_tokens_in(line, &issued);
                    let upstream_here = upstream_tokens_in(line, &upstream_issuer);
                    if secrets.is_empty() && issued_here.is_empty() && upstream_here == 0 {
                        continue;
                    }
                    // The line prints a URL the suite sent: every secret in
                    // it is one the suite put in a query, after a `?`.
                    let echo = issued_here.is_empty()
                        && upstream_here == 0
                        && secrets.iter().all(|v| {
                            in_urls.contains(v)
                                && line.find(v).is_some_and(|at| line[..at].contains('?'))
                        });
                    if echo != l.url_echoes {
                        continue;
                    }
                    for label in book.found_in(line) {
                        if !labels.contains(&label) {
                            labels.push(label);
                        }
                    }
                    if upstream_here > 0 && !labels.iter().any(|x| x == "an upstream access token")
                    {
                        labels.push("an upstream access token".to_owned());
                    }
                    if !issued_here.is_empty()
                        && !labels
                            .iter()
                            .any(|x| x == "a refresh token the provider issued")
                    {
                        labels.push("a refresh token the provider issued".to_owned());
                    }
                    example.get_or_insert_with(|| redact_issued(&book.redact(line), &issued));
                }
                if labels.is_empty() {
                    Ok(())
                } else {
                    let what = if l.url_echoes {
                        "the server's output prints request URLs the suite sent with a token in the query, token included"
                    } else {
                        "the server's output contains"
                    };
                    Err(server!(
                        "{what}: {} (e.g. `{}`)",
                        labels.join(", "),
                        example
                            .unwrap_or_default()
                            .chars()
                            .take(200)
                            .collect::<String>()
                    ))
                }
            }
        }
    }
}

/// The words of `text` that could be tokens.
fn token_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')))
        .map(|w| w.trim_matches('.'))
        .filter(|w| w.len() >= 16)
}

/// The words of `text` whose fingerprint (mock-provider's `sha256:` and 12
/// hex digits) is one of `fingerprints`.
fn issued_tokens_in<'a>(text: &'a str, fingerprints: &BTreeSet<String>) -> Vec<&'a str> {
    if fingerprints.is_empty() {
        return Vec::new();
    }
    token_words(text)
        .filter(|w| fingerprints.contains(&mock_provider::secret::TokenHash::of(w).fingerprint()))
        .collect()
}

/// `text` with every token of `fingerprints` replaced by its fingerprint.
fn redact_issued(text: &str, fingerprints: &BTreeSet<String>) -> String {
    let mut out = text.to_owned();
    for w in issued_tokens_in(text, fingerprints) {
        out = out.replace(
            w,
            &format!(
                "[refresh token {}]",
                mock_provider::secret::TokenHash::of(w).fingerprint()
            ),
        );
    }
    out
}

/// How many JWTs issued by `issuer` appear in `text`.
fn upstream_tokens_in(text: &str, issuer: &str) -> usize {
    use base64::Engine as _;
    if issuer.is_empty() {
        return 0;
    }
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .filter(|w| w.len() > 40 && w.matches('.').count() == 2)
        .filter(|w| {
            w.split('.')
                .nth(1)
                .and_then(|p| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|claims| claims.get("iss").and_then(Value::as_str) == Some(issuer))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_found_by_fingerprint_and_redacted() {
        let token = "rt_Zx9-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
        let fp = mock_provider::secret::TokenHash::of(token).fingerprint();
        let issued: BTreeSet<String> = [fp.clone()].into();
        let line = format!("INFO upstream refresh response refresh_token={token}.");
        assert_eq!(issued_tokens_in(&line, &issued), vec![token]);
        assert_eq!(
            redact_issued(&line, &issued),
            format!("INFO upstream refresh response refresh_token=[refresh token {fp}].")
        );
        assert!(issued_tokens_in(&line, &BTreeSet::new()).is_empty());
        assert!(issued_tokens_in("refresh_token=sha256:0123456789ab", &issued).is_empty());
    }
}
