//! Scenarios as data: one TOML file per scenario (id, title, family,
//! spec references, severity, steps and expectations), loaded from the
//! built-in `scenarios/` directory or from users' directories. A malformed
//! file is refused with its path, line and field.
//!
//! ```toml
//! id = "token.expired"
//! title = "An expired access token is refused"
//! family = "token"
//! severity = "MUST"
//!
//! [[spec]]
//! source = "RFC 6750"
//! section = "3.1"
//! rule = "invalid_token: the access token provided is expired, revoked, malformed, or invalid"
//!
//! [[step]]
//! kind = "mint"
//! name = "expired"
//! ttl_secs = -300
//!
//! [[step]]
//! kind = "mcp"
//! call = "tools/list"
//! token = "expired"
//! expect = { status = 401, challenge = { scheme = "Bearer", error = "invalid_token" } }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use mock_provider::signing_fault::SigningFault;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::spec_version::SpecVersion;

/// How much a rule binds the server: what the cited rule's own keyword
/// says (RFC 2119), never more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// MUST, MUST NOT, REQUIRED, SHALL: a failure fails the run.
    #[serde(rename = "MUST")]
    Must,
    /// SHOULD, RECOMMENDED: reported; fails the run only with `--strict`.
    #[serde(rename = "SHOULD")]
    Should,
    /// MAY, or a practice of the guide without a spec rule: reported,
    /// never fails the run.
    #[serde(rename = "BEST_PRACTICE")]
    BestPractice,
}

impl Severity {
    /// Every level, strongest first.
    pub const ALL: [Severity; 3] = [Self::Must, Self::Should, Self::BestPractice];

    /// The label people read.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
            Self::BestPractice => "BEST_PRACTICE",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule a scenario enforces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecRef {
    /// The document: `MCP 2025-11-25 Authorization`, `RFC 6750`...
    pub source: String,
    /// Section number or name.
    pub section: String,
    /// The rule's words.
    pub rule: String,
    /// The words of `rule` that bind the server and set the scenario's
    /// severity: a subject naming the server and an RFC 2119 keyword
    /// (`MCP servers MUST validate access tokens`). Absent on rules quoted
    /// for context only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// A link to it.
    #[serde(default)]
    pub url: Option<String>,
}

/// A profile section a scenario needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// `[permission]`
    Permission,
    /// `[upstream]`
    Upstream,
    /// A spec version with sessions.
    Sessions,
    /// The suite starts the server (it reads its logs).
    ServerLogs,
    /// `[upstream] token_store = true`.
    TokenStore,
    /// `[upstream] tenants = true`.
    Tenants,
    /// `[auth] validation = "introspection"`: the server asks the issuer
    /// (RFC 7662) whether each token is active.
    Introspection,
    /// `[auth] validation = "jwt"` (the default): the server reads the
    /// token itself; with introspection the issuer decides what a token is.
    JwtValidation,
}

/// The issuers the suite's provider runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerRole {
    /// The server's authorization server.
    #[default]
    Trusted,
    /// Another, perfectly valid issuer the server does not trust.
    Other,
    /// The issuer of the server's upstream API.
    Upstream,
}

impl IssuerRole {
    /// The issuer's name at the provider.
    pub fn name(self) -> &'static str {
        match self {
            Self::Trusted => "trusted",
            Self::Other => "other",
            Self::Upstream => "upstream",
        }
    }
}

/// One value or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    /// As a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// `kind = "mint"`: an access token from the provider's admin API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintStep {
    /// The name later steps use (`token = "name"`, `{token.name}`).
    pub name: String,
    /// Which issuer signs it.
    #[serde(default)]
    pub issuer: IssuerRole,
    /// `aud` (templates allowed; default `{resource}`).
    #[serde(default)]
    pub audience: Option<OneOrMany>,
    /// Leave `aud` out.
    #[serde(default)]
    pub remove_aud: bool,
    /// Replace `iss` (template).
    #[serde(default)]
    pub iss: Option<String>,
    /// Scope (template; default `{auth_scope}`).
    #[serde(default)]
    pub scope: Option<String>,
    /// `sub` (default `alice`).
    #[serde(default)]
    pub subject: Option<String>,
    /// Lifetime from now; negative is already expired.
    #[serde(default)]
    pub ttl_secs: Option<i64>,
    /// `nbf` this many seconds from now.
    #[serde(default)]
    pub nbf_in_secs: Option<i64>,
    /// Sign it wrongly.
    #[serde(default)]
    pub signing_fault: Option<SigningFault>,
    /// Sign it with one of the issuer's staged keys: published in its JWKS
    /// since the run began, never used to sign before (a rotation done the
    /// way issuers do it: publish first, sign later).
    #[serde(default)]
    pub key: Option<StagedKey>,
    /// Extra claims.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// Extra JOSE header parameters (`jku`, `x5u`, `jwk`, another `typ`);
    /// strings are templates.
    #[serde(default)]
    pub header: Map<String, Value>,
}

/// A key the suite's trusted issuer publishes from the start without
/// signing with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StagedKey {
    /// An RSA key (RS256), the same algorithm as the active key.
    StagedRs256,
    /// An EC P-256 key (ES256).
    StagedEs256,
}

impl StagedKey {
    /// Its algorithm.
    pub fn algorithm(self) -> mock_provider::SigningAlgorithm {
        match self {
            Self::StagedRs256 => mock_provider::SigningAlgorithm::Rs256,
            Self::StagedEs256 => mock_provider::SigningAlgorithm::Es256,
        }
    }
}

/// `kind = "rotate_keys"`: a new signing key at an issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeysStep {
    /// Which issuer.
    #[serde(default)]
    pub issuer: IssuerRole,
    /// Keep the old key published this long.
    #[serde(default)]
    pub grace_secs: Option<u64>,
    /// `RS256` or `ES256` (default: unchanged).
    #[serde(default)]
    pub algorithm: Option<mock_provider::SigningAlgorithm>,
}

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

/// `kind = "revoke"`: the provider revokes a minted token (its admin API,
/// as if the user or an administrator had revoked it, RFC 7009).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeStep {
    /// The minted token.
    pub token: String,
    /// Which issuer (default: trusted).
    #[serde(default)]
    pub issuer: IssuerRole,
}

/// `kind = "http"`: any HTTP request to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// Method (default GET).
    #[serde(default = "default_method")]
    pub method: String,
    /// Absolute URL (template, e.g. `{prm_url}`).
    pub url: String,
    /// Headers (templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body (template).
    #[serde(default)]
    pub body: Option<String>,
    /// A JSON body (every string in it a template), sent with
    /// `Content-Type: application/json` unless `headers` name one.
    #[serde(default)]
    pub json: Option<Value>,
    /// The step only sets the scene (as for `mcp` steps): when its
    /// expectation fails the scenario is not meaningful.
    #[serde(default)]
    pub precondition: bool,
    /// What must come back.
    #[serde(default)]
    pub expect: Expect,
}

fn default_method() -> String {
    "GET".to_owned()
}

/// `kind = "session_ids"`: opens sessions and judges their ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionIdsStep {
    /// How many sessions (default 5).
    #[serde(default = "default_sessions")]
    pub count: usize,
    /// Shortest acceptable id (default 16 characters).
    #[serde(default = "default_min_length")]
    pub min_length: usize,
}

fn default_sessions() -> usize {
    5
}
fn default_min_length() -> usize {
    16
}

/// Where a leak scan looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakScope {
    /// Every response the server sent during the run.
    Responses,
    /// The server's captured stdout/stderr.
    Logs,
}

/// `kind = "leak_scan"`: no secret handed out during the run appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakScanStep {
    /// Where to look.
    pub scope: LeakScope,
    /// With `scope = "logs"`: judge only the lines that echo a URL the
    /// suite itself sent with a token in its query (an access log printing
    /// `transport.query_token`'s request line). Without it those lines are
    /// left out: they are a different finding from a server printing the
    /// tokens it handles.
    #[serde(default)]
    pub url_echoes: bool,
}

/// `kind = "fault"`: a fault rule at the suite's provider, for the rest
/// of the scenario (the provider is reset before the next one). At the
/// `upstream` issuer the rule matches the server's own upstream client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultStep {
    /// Which issuer (default: upstream).
    #[serde(default = "upstream_role")]
    pub issuer: IssuerRole,
    /// `token`, `upstream`, `jwks`... (mock-provider's fault endpoints).
    pub endpoint: String,
    /// Only for this grant type.
    #[serde(default)]
    pub grant_type: Option<String>,
    /// Fire for the next N matching requests (absent: all).
    #[serde(default)]
    pub times: Option<u64>,
    /// The action: `{ kind = "refresh_barrier", parties = 5 }` and the other
    /// fault kinds of mock-provider.
    pub action: Map<String, Value>,
}

fn upstream_role() -> IssuerRole {
    IssuerRole::Upstream
}

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

/// What the provider's ledger must show about the server's upstream client
/// since the scenario began.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerExpect {
    /// Successful refresh_token grants, exactly.
    #[serde(default)]
    pub refresh_grants: Option<u64>,
    /// refresh_token requests, at most.
    #[serde(default)]
    pub max_refresh_requests: Option<u64>,
    /// Presentations of a consumed refresh token, exactly.
    #[serde(default)]
    pub reuse_detected: Option<u64>,
    /// Upstream API requests, at least.
    #[serde(default)]
    pub min_upstream_requests: Option<u64>,
    /// Upstream API requests, at most (a 401 loop, or an unusable token
    /// sent anyway, shows here).
    #[serde(default)]
    pub max_upstream_requests: Option<u64>,
    /// Every upstream API request carried a token the upstream issuer gave
    /// the server's own client (never a forwarded inbound token).
    #[serde(default)]
    pub upstream_tokens_are_the_servers: bool,
    /// Requests for the trusted issuer's JWKS since the previous `ledger`
    /// step (or the scenario's start), at most. Needs no `[upstream]`.
    #[serde(default)]
    pub max_jwks_requests: Option<u64>,
    /// Requests for the `other` issuer's JWKS (one the server does not
    /// trust) since the scenario's start, at most: a `jku` header followed.
    #[serde(default)]
    pub max_other_jwks_requests: Option<u64>,
}

/// `kind = "ledger"`: checks the provider's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerStep {
    /// What must hold.
    pub expect: LedgerExpect,
}

/// A step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Add a fault rule.
    Fault(FaultStep),
    /// Concurrent MCP calls.
    Concurrent(ConcurrentStep),
    /// The server's upstream access tokens stop working now.
    ExpireUpstreamTokens(NoFields),
    /// Let time pass (a `Retry-After`, a token lifetime).
    Wait(WaitStep),
    /// Wait until the server may refetch the trusted issuer's JWKS: the
    /// profile's `[auth] jwks_refetch_cooldown_secs` after the later of
    /// the scenario's start and the server's last JWKS request.
    WaitJwksCooldown(NoFields),
    /// Check the provider's ledger.
    Ledger(LedgerStep),
    /// Stop the server and start it again (same environment, same token
    /// store).
    RestartServer(NoFields),
    /// Check the token store's files.
    TokenStore(TokenStoreStep),
    /// Mint a token.
    Mint(MintStep),
    /// Revoke a minted token at the provider.
    Revoke(RevokeStep),
    /// Rotate an issuer's key.
    RotateKeys(RotateKeysStep),
    /// An MCP request.
    Mcp(McpStep),
    /// A raw HTTP request.
    Http(HttpStep),
    /// Judge session ids.
    SessionIds(SessionIdsStep),
    /// Scan for leaked secrets.
    LeakScan(LeakScanStep),
}

/// The longest a `wait` step may wait.
pub const MAX_WAIT_MILLIS: u64 = 10_000;

/// `kind = "wait"`: the suite sleeps, e.g. until a `Retry-After` has
/// passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    /// How long (1 to [`MAX_WAIT_MILLIS`]).
    pub millis: u64,
}

/// `kind = "token_store"`: the server's token files are private.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenStoreStep {
    /// Most permissive mode a file may have (default 0o600).
    #[serde(default = "file_mode")]
    pub max_file_mode: u32,
    /// Most permissive mode a directory may have (default 0o700).
    #[serde(default = "dir_mode")]
    pub max_dir_mode: u32,
}

fn file_mode() -> u32 {
    0o600
}
fn dir_mode() -> u32 {
    0o700
}

/// A step without fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// An expected status: one code, several, or a class like `4xx`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatusSpec {
    /// Exactly this.
    Code(u16),
    /// Any of these.
    Codes(Vec<u16>),
    /// `2xx`, `4xx`...
    Class(String),
}

impl StatusSpec {
    /// Whether `status` matches.
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            Self::Code(c) => *c == status,
            Self::Codes(cs) => cs.contains(&status),
            Self::Class(c) => c
                .chars()
                .next()
                .and_then(|d| d.to_digit(10))
                .is_some_and(|d| u32::from(status / 100) == d),
        }
    }
}

impl fmt::Display for StatusSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(c) => write!(f, "{c}"),
            Self::Codes(cs) => write!(
                f,
                "one of {}",
                cs.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
            ),
            Self::Class(c) => f.write_str(c),
        }
    }
}

/// What a `WWW-Authenticate` challenge must say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeExpect {
    /// The auth scheme (compared case-insensitively).
    #[serde(default)]
    pub scheme: Option<String>,
    /// The `error` parameter.
    #[serde(default)]
    pub error: Option<String>,
    /// Parameters that must be present.
    #[serde(default)]
    pub params: Vec<String>,
    /// The `scope` parameter must contain these scopes (template).
    #[serde(default)]
    pub scope_includes: Option<String>,
    /// The `scope` parameter, if any, must name none of these (template).
    #[serde(default)]
    pub scope_excludes: Option<String>,
    /// `resource_metadata` must point at a document whose `resource` is the
    /// server's canonical URI.
    #[serde(default)]
    pub resource_metadata_resolves: bool,
}

/// Whether the JSON-RPC answer is a result or an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonRpcOutcome {
    /// A `result`.
    Result,
    /// An `error`, or a tool result with `isError: true`.
    Error,
}

/// What a response must look like.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The status.
    #[serde(default)]
    pub status: Option<StatusSpec>,
    /// The `WWW-Authenticate` challenge.
    #[serde(default)]
    pub challenge: Option<ChallengeExpect>,
    /// The JSON-RPC outcome.
    #[serde(default)]
    pub jsonrpc: Option<JsonRpcOutcome>,
    /// The JSON-RPC result's text must contain this (template).
    #[serde(default)]
    pub result_contains: Option<String>,
    /// The answer (a tool error's text or a JSON-RPC error's message) must
    /// tell the user to authorize again: it contains one of the profile's
    /// `[upstream] reauth_hints`, compared case-insensitively.
    #[serde(default)]
    pub says_reauth_required: bool,
    /// JSON pointer -> expected string value (template).
    #[serde(default)]
    pub json: BTreeMap<String, String>,
    /// JSON pointer -> a value the array there must contain (template).
    #[serde(default)]
    pub json_contains: BTreeMap<String, String>,
    /// JSON pointer -> a value the array there, if any, must not contain
    /// (template).
    #[serde(default)]
    pub json_excludes: BTreeMap<String, String>,
    /// The media type of the answer (`application/json`), compared without
    /// parameters and case.
    #[serde(default)]
    pub content_type: Option<String>,
}

/// A scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Public id: `family.name`.
    pub id: String,
    /// One line for people.
    pub title: String,
    /// The family (the id's prefix).
    pub family: String,
    /// MUST or SHOULD.
    pub severity: Severity,
    /// A different severity under some spec versions.
    #[serde(default)]
    pub severity_by_version: BTreeMap<SpecVersion, Severity>,
    /// The spec versions it applies to (default: all).
    #[serde(default = "all_versions")]
    pub versions: Vec<SpecVersion>,
    /// Profile sections it needs.
    #[serde(default)]
    pub requires: Vec<Requirement>,
    /// A positive control: others are not meaningful if it fails.
    #[serde(default)]
    pub control: bool,
    /// Controls it needs (default for non-controls: `token.valid`).
    #[serde(default)]
    pub depends_on: Option<Vec<String>>,
    /// Restart the server before it.
    #[serde(default)]
    pub fresh_server: bool,
    /// It spends the server's JWKS refetch budget (a flood of unknown
    /// `kid`s) or changes the issuer's keys: it runs after every other
    /// scenario, so no other scenario's verdict depends on a rate limit it
    /// used up. Key rotations count without saying so.
    #[serde(default)]
    pub disturbs_keys: bool,
    /// The rules it enforces.
    pub spec: Vec<SpecRef>,
    /// What it does.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
    /// What to change when it fails.
    #[serde(default)]
    pub remedy: Option<String>,
    /// Where it was read from.
    #[serde(skip)]
    pub source: String,
}

fn all_versions() -> Vec<SpecVersion> {
    SpecVersion::ALL.to_vec()
}

/// The global positive control.
pub const VALID_TOKEN_CONTROL: &str = "token.valid";

impl Scenario {
    /// The severity under `version`.
    pub fn severity_for(&self, version: SpecVersion) -> Severity {
        self.severity_by_version
            .get(&version)
            .copied()
            .unwrap_or(self.severity)
    }

    /// Whether it runs with the scenarios that disturb the server's key
    /// cache, after all the others.
    pub fn runs_with_key_changes(&self) -> bool {
        self.disturbs_keys
            || self
                .steps
                .iter()
                .any(|st| matches!(st, Step::RotateKeys(_)))
    }

    /// The controls it depends on.
    pub fn dependencies(&self) -> Vec<String> {
        match &self.depends_on {
            Some(d) => d.clone(),
            None if self.control => Vec::new(),
            None => vec![VALID_TOKEN_CONTROL.to_owned()],
        }
    }

    /// Parses one scenario file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let mut s: Scenario = toml::from_str(text).map_err(|e| ScenarioError {
            file: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        s.source = origin.to_owned();
        s.check().map_err(|message| ScenarioError {
            file: origin.to_owned(),
            message,
        })?;
        Ok(s)
    }

    fn check(&self) -> Result<(), String> {
        let valid_id = self.id.split_once('.').is_some_and(|(f, n)| {
            !f.is_empty()
                && !n.is_empty()
                && self
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        });
        if !valid_id {
            return Err(format!(
                "id: `{}` must be `family.name` in lowercase letters, digits and _",
                self.id
            ));
        }
        if !self.id.starts_with(&format!("{}.", self.family)) {
            return Err(format!(
                "family: `{}` must be the prefix of id `{}`",
                self.family, self.id
            ));
        }
        if self.spec.is_empty() {
            return Err("spec: a scenario must cite at least one rule".into());
        }
        if self.steps.is_empty() {
            return Err("step: a scenario needs at least one step".into());
        }
        if self.versions.is_empty() {
            return Err("versions: must name at least one spec version".into());
        }
        let mut tokens = BTreeSet::new();
        let mut sessions = BTreeSet::new();
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Mint(m) if !tokens.insert(m.name.clone()) => {
                    return Err(format!(
                        "step[{i}].name: token `{}` is minted twice",
                        m.name
                    ));
                }
                Step::Mcp(m) => {
                    if let Some(t) = &m.token
                        && !tokens.contains(t)
                    {
                        return Err(format!(
                            "step[{i}].token: `{t}` is not minted by an earlier step"
                        ));
                    }
                    if m.token.is_some() && m.authorization.is_some() {
                        return Err(format!(
                            "step[{i}]: give `token` or `authorization`, not both"
                        ));
                    }
                    if m.call == McpCall::ToolsCall && m.tool.is_none() {
                        return Err(format!("step[{i}].tool: tools/call needs a tool"));
                    }
                    if let Some(s) = &m.session
                        && !sessions.contains(s)
                    {
                        return Err(format!(
                            "step[{i}].session: `{s}` is not saved by an earlier initialize"
                        ));
                    }
                    if let Some(s) = &m.save_session {
                        if m.call != McpCall::Initialize {
                            return Err(format!(
                                "step[{i}].save_session: only an initialize opens a session"
                            ));
                        }
                        sessions.insert(s.clone());
                    }
                }
                Step::Revoke(r) if !tokens.contains(&r.token) => {
                    return Err(format!(
                        "step[{i}].token: `{}` is not minted by an earlier step",
                        r.token
                    ));
                }
                Step::Concurrent(c) if c.count < 2 || c.count > 50 => {
                    return Err(format!("step[{i}].count: must be 2-50"));
                }
                Step::Concurrent(c) if c.token.is_some() != c.tokens.is_empty() => {
                    return Err(format!("step[{i}]: give `token` or `tokens`, one of them"));
                }
                Step::Concurrent(c) => {
                    if let Some(t) = c
                        .token
                        .iter()
                        .chain(&c.tokens)
                        .find(|t| !tokens.contains(*t))
                    {
                        return Err(format!(
                            "step[{i}].token: `{t}` is not minted by an earlier step"
                        ));
                    }
                }
                Step::SessionIds(s) if s.count < 2 || s.count > 50 => {
                    return Err(format!("step[{i}].count: must be 2-50"));
                }
                Step::Wait(w) if w.millis == 0 || w.millis > MAX_WAIT_MILLIS => {
                    return Err(format!("step[{i}].millis: must be 1-{MAX_WAIT_MILLIS}"));
                }
                Step::Fault(f) => {
                    f.rule("mcp-server-upstream")
                        .map_err(|e| format!("step[{i}]: fault rule: {e}"))?;
                }
                Step::Http(h) if reqwest::Method::from_bytes(h.method.as_bytes()).is_err() => {
                    return Err(format!(
                        "step[{i}].method: `{}` is not an HTTP method",
                        h.method
                    ));
                }
                _ => {}
            }
            if let Some(spec) = step.expect().and_then(|e| e.status.as_ref())
                && let StatusSpec::Class(c) = spec
                && !matches!(c.as_str(), "1xx" | "2xx" | "3xx" | "4xx" | "5xx")
            {
                return Err(format!(
                    "step[{i}].expect.status: `{c}` is not a status class (1xx-5xx) or a code"
                ));
            }
            // Every `{...}` in the step's strings must be a placeholder the
            // run or an earlier step defines: a typo is a load error, not a
            // FAIL charged to the server.
            let minted_so_far = |name: &str| tokens.contains(name);
            let mut strings = Vec::new();
            collect_strings(
                &serde_json::to_value(step).unwrap_or(Value::Null),
                &mut strings,
            );
            for text in strings {
                for name in crate::template::placeholders(&text) {
                    let known = crate::template::RUN_PLACEHOLDERS.contains(&name)
                        || crate::template::is_repeat(name)
                        || name == "call.subject"
                        || name
                            .strip_prefix("token.")
                            .or_else(|| name.strip_prefix("subject."))
                            .is_some_and(minted_so_far)
                        || name
                            .strip_prefix("session.")
                            .is_some_and(|s| sessions.contains(s));
                    if !known {
                        return Err(format!(
                            "step[{i}]: unknown placeholder `{{{name}}}` (known: {}, token.NAME and subject.NAME of a token minted earlier, session.NAME of a session saved earlier, call.subject, repeat:X:N)",
                            crate::template::RUN_PLACEHOLDERS.join(", ")
                        ));
                    }
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

impl Step {
    /// What the step expects of an answer, if it judges one.
    pub fn expect(&self) -> Option<&Expect> {
        match self {
            Self::Mcp(m) => Some(&m.expect),
            Self::Http(h) => Some(&h.expect),
            Self::Concurrent(c) => Some(&c.expect),
            _ => None,
        }
    }
}

impl FaultStep {
    /// The provider's fault rule for this step; at the upstream issuer it
    /// matches the server's own upstream client, `upstream_client`.
    pub fn rule(
        &self,
        upstream_client: &str,
    ) -> Result<mock_provider::FaultRule, serde_json::Error> {
        let mut rule = self.action.clone();
        rule.insert("endpoint".into(), serde_json::json!(self.endpoint));
        rule.insert("issuer".into(), serde_json::json!(self.issuer.name()));
        if let Some(g) = &self.grant_type {
            rule.insert("grant_type".into(), serde_json::json!(g));
        }
        if let Some(t) = self.times {
            rule.insert("times".into(), serde_json::json!(t));
        }
        if self.issuer == IssuerRole::Upstream {
            rule.insert("client_id".into(), serde_json::json!(upstream_client));
        }
        serde_json::from_value(Value::Object(rule))
    }
}

/// A scenario file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenarios: {file}: {message}")]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// What is wrong (with line and column for syntax errors).
    pub message: String,
}

/// The built-in scenarios, embedded at build time.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_scenarios.rs"));
}

/// Loads the built-in scenarios and every `*.toml` under `dirs`; ids must
/// be unique.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<Scenario>, ScenarioError> {
    let mut out = Vec::new();
    for (path, text) in embedded::EMBEDDED {
        out.push(Scenario::parse(text, &format!("scenarios/{path}"))?);
    }
    for dir in dirs {
        let mut files = Vec::new();
        collect(dir, &mut files).map_err(|e| ScenarioError {
            file: dir.display().to_string(),
            message: format!("cannot read directory: {e}"),
        })?;
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| ScenarioError {
                file: f.display().to_string(),
                message: e.to_string(),
            })?;
            out.push(Scenario::parse(&text, &f.display().to_string())?);
        }
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for s in &out {
        if let Some(first) = seen.insert(&s.id, &s.source) {
            return Err(ScenarioError {
                file: s.source.clone(),
                message: format!("id: `{}` is already defined in {first}", s.id),
            });
        }
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "token.expired"
title = "t"
family = "token"
severity = "MUST"
[[spec]]
source = "RFC 6750"
section = "3.1"
rule = "r"
[[step]]
kind = "mint"
name = "old"
ttl_secs = -60
[[step]]
kind = "mcp"
call = "tools/list"
token = "old"
expect = { status = 401, challenge = { scheme = "Bearer", error = "invalid_token" } }
"#;

    #[test]
    fn a_good_scenario_parses() {
        let s = Scenario::parse(GOOD, "x.toml").unwrap();
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.dependencies(), vec!["token.valid"]);
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = Scenario::parse(
            &GOOD.replace("token = \"old\"", "token = \"olde\""),
            "x.toml",
        )
        .unwrap_err();
        assert_eq!(e.file, "x.toml");
        assert!(e.message.contains("step[1].token"), "{e}");
        let e = Scenario::parse(&GOOD.replace("ttl_secs", "ttl_sec"), "x.toml").unwrap_err();
        assert!(e.message.contains("ttl_sec"), "{e}");
        let e = Scenario::parse(
            &GOOD.replace("kind = \"mint\"", "kind = \"mnit\""),
            "x.toml",
        )
        .unwrap_err();
        assert!(e.message.contains("mnit"), "{e}");
        let e = Scenario::parse(
            &GOOD.replace("family = \"token\"", "family = \"tokens\""),
            "x.toml",
        )
        .unwrap_err();
        assert!(e.message.contains("family"), "{e}");
    }

    #[test]
    fn a_revoke_step_needs_a_minted_token() {
        let revoke = |token: &str| {
            GOOD.replace(
                "[[step]]\nkind = \"mcp\"",
                &format!("[[step]]\nkind = \"revoke\"\ntoken = \"{token}\"\n[[step]]\nkind = \"mcp\"\nwithin_introspection_cache = true"),
            )
        };
        let s = Scenario::parse(&revoke("old"), "x.toml").unwrap();
        assert!(
            matches!(&s.steps[1], Step::Revoke(r) if r.token == "old" && r.issuer == IssuerRole::Trusted)
        );
        assert!(matches!(&s.steps[2], Step::Mcp(m) if m.within_introspection_cache));
        let e = Scenario::parse(&revoke("nope"), "x.toml").unwrap_err();
        assert!(e.message.contains("step[1].token: `nope`"), "{e}");
    }

    #[test]
    fn a_wait_step_is_bounded() {
        let wait = |millis: u64| {
            GOOD.replace(
                "[[step]]\nkind = \"mcp\"",
                &format!("[[step]]\nkind = \"wait\"\nmillis = {millis}\n[[step]]\nkind = \"mcp\""),
            )
        };
        let s = Scenario::parse(&wait(1200), "x.toml").unwrap();
        assert!(matches!(&s.steps[1], Step::Wait(w) if w.millis == 1200));
        for bad in [0, MAX_WAIT_MILLIS + 1] {
            let e = Scenario::parse(&wait(bad), "x.toml").unwrap_err();
            assert!(e.message.contains("step[1].millis"), "{e}");
        }
    }

    #[test]
    fn status_classes() {
        assert!(StatusSpec::Class("4xx".into()).accepts(403));
        assert!(!StatusSpec::Class("4xx".into()).accepts(500));
        assert!(StatusSpec::Codes(vec![400, 401]).accepts(401));
    }

    #[test]
    fn every_built_in_scenario_loads() {
        let all = load(&[]).unwrap();
        assert!(all.len() >= 30, "{}", all.len());
        assert!(all.iter().any(|s| s.id == VALID_TOKEN_CONTROL && s.control));
    }
}
