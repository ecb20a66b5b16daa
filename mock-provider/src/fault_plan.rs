//! The fault plan: rules that make the provider misbehave on purpose, when
//! and how a test asks. A rule matches an endpoint (and optionally an
//! issuer, grant type and client) and fires for the next N matching
//! requests, always, or with a probability drawn from a fixed seed so a run
//! can be repeated exactly.
//!
//! Rules come from the config file (`[[fault]]`), the admin API and the
//! Rust library; all three use the same [`FaultRule`] shape.
//!
//! ```
//! use mock_provider::fault_plan::{Endpoint, FaultAction, FaultPlan, FaultRule, RequestFacts};
//! use mock_provider::{ErrorCode, GrantType};
//! let plan = FaultPlan::default();
//! plan.add(FaultRule::new(Endpoint::Token, FaultAction::oauth_error(ErrorCode::InvalidGrant))
//!     .grant_type(GrantType::RefreshToken)
//!     .times(2));
//! let facts = RequestFacts::new(Endpoint::Token, "default").grant_type(GrantType::RefreshToken);
//! assert!(plan.evaluate(&facts).response.is_some());
//! assert!(plan.evaluate(&facts).response.is_some());
//! assert!(plan.evaluate(&facts).response.is_none(), "fires exactly twice");
//! ```

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client_registry::GrantType;
use crate::oauth_error::ErrorCode;
pub use crate::signing_fault::SigningFault;
pub use crate::token_override::TokenOverride;

/// Where a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `/{issuer}/token`
    Token,
    /// `/{issuer}/authorize`
    Authorize,
    /// `/{issuer}/register`
    Register,
    /// `/{issuer}/introspect`
    Introspect,
    /// `/{issuer}/revoke`
    Revoke,
    /// `/{issuer}/jwks`
    Jwks,
    /// The metadata documents.
    Metadata,
    /// The mock upstream API `/{issuer}/api/...`.
    Upstream,
}

impl Endpoint {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Authorize => "authorize",
            Self::Register => "register",
            Self::Introspect => "introspect",
            Self::Revoke => "revoke",
            Self::Jwks => "jwks",
            Self::Metadata => "metadata",
            Self::Upstream => "upstream",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule does.
// A plan holds a handful of rules; boxing the token override would make
// every `FaultAction::TokenOverride(TokenOverride { .. })` in users' tests
// wordier for no measurable gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// An OAuth error response.
    OauthError {
        /// The `error` code.
        error: ErrorCode,
        /// `error_description`.
        #[serde(default)]
        description: Option<String>,
        /// HTTP status (default: the one RFC 6749 gives the code).
        #[serde(default)]
        status: Option<u16>,
    },
    /// A bare HTTP error status (500, 502, 503), optionally with
    /// `Retry-After`.
    HttpStatus {
        /// The status, 500-599.
        status: u16,
        /// `Retry-After` in seconds.
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// 429 with `Retry-After`.
    TooManyRequests {
        /// `Retry-After` in seconds.
        retry_after_secs: u64,
    },
    /// A 200 whose body is not valid JSON.
    MalformedJson,
    /// A 200 with an empty body.
    EmptyBody,
    /// A 200 with the right JSON but `Content-Type: text/html`.
    WrongContentType,
    /// Delay the answer.
    Latency {
        /// Fixed delay in milliseconds.
        #[serde(default)]
        millis: u64,
        /// Extra delay up to this many milliseconds, drawn from the rule's
        /// seed.
        #[serde(default)]
        jitter_millis: u64,
    },
    /// Hold refresh requests until `parties` of them are in flight (or
    /// `timeout_millis` passes), then let them all through at once.
    RefreshBarrier {
        /// How many requests to gather.
        parties: usize,
        /// How long to wait for them.
        #[serde(default = "default_barrier_timeout")]
        timeout_millis: u64,
    },
    /// Change the issued token.
    TokenOverride(TokenOverride),
    /// Sign the issued token wrongly.
    Signing {
        /// Which fault.
        fault: SigningFault,
    },
}

fn default_barrier_timeout() -> u64 {
    2000
}

impl FaultAction {
    /// An OAuth error with the status RFC 6749 gives it.
    pub fn oauth_error(error: ErrorCode) -> Self {
        Self::OauthError {
            error,
            description: None,
            status: None,
        }
    }

    /// Checks values a rule cannot work with.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::OauthError {
                status: Some(s), ..
            } if !(400..=599).contains(s) => {
                Err(format!("status {s} is not an error status (400-599)"))
            }
            Self::HttpStatus { status, .. } if !(400..=599).contains(status) => {
                Err(format!("http_status must be 400-599, got {status}"))
            }
            Self::Latency {
                millis,
                jitter_millis,
            } if millis.saturating_add(*jitter_millis) > 60_000 => {
                Err("latency above 60 s would outlast any client timeout".into())
            }
            Self::RefreshBarrier { parties, .. } if *parties < 2 => {
                Err("refresh_barrier needs at least 2 parties".into())
            }
            Self::RefreshBarrier { timeout_millis, .. } if *timeout_millis > 60_000 => {
                Err("refresh_barrier timeout above 60 s".into())
            }
            _ => Ok(()),
        }
    }

    /// Whether this action only makes sense at endpoints that issue tokens.
    fn needs_token_endpoint(&self) -> bool {
        matches!(
            self,
            Self::TokenOverride(_) | Self::Signing { .. } | Self::RefreshBarrier { .. }
        )
    }

    /// A short name for ledgers and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OauthError { .. } => "oauth_error",
            Self::HttpStatus { .. } => "http_status",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::MalformedJson => "malformed_json",
            Self::EmptyBody => "empty_body",
            Self::WrongContentType => "wrong_content_type",
            Self::Latency { .. } => "latency",
            Self::RefreshBarrier { .. } => "refresh_barrier",
            Self::TokenOverride(_) => "token_override",
            Self::Signing { .. } => "signing",
        }
    }
}

/// A rule of the plan: a matcher and an action. On the wire (TOML, JSON)
/// the action's fields sit beside the matcher's, with `kind` naming it:
/// `{"endpoint": "token", "times": 2, "kind": "http_status", "status": 503}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultRule {
    /// Assigned when added; ignored on input.
    pub id: u64,
    /// Where it applies.
    pub endpoint: Endpoint,
    /// Only for this issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Only for this grant type (token endpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<GrantType>,
    /// Only for this client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Fire for the next N matching requests (absent: every one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// Fire with this probability instead (0.0-1.0), drawn from `seed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Seed of the rule's random draws (probability and jitter).
    pub seed: u64,
    /// What it does.
    #[serde(flatten)]
    pub action: FaultAction,
}

/// The matcher half of a rule, for deserializing with unknown fields
/// refused (serde cannot refuse them through `flatten`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleMatcher {
    #[serde(default)]
    id: u64,
    endpoint: Endpoint,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    grant_type: Option<GrantType>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    times: Option<u64>,
    #[serde(default)]
    probability: Option<f64>,
    #[serde(default)]
    seed: u64,
}

/// Serde cannot say which field of an internally tagged enum had the
/// wrong type; its message quotes the value, so the field is found by it.
fn name_the_field(fields: &Map<String, Value>, message: &str) -> String {
    let quoted = |v: &Value| match v {
        Value::String(s) => Some(format!("string \"{s}\"")),
        Value::Bool(b) => Some(format!("boolean `{b}`")),
        Value::Number(n) if n.is_f64() => Some(format!("floating point `{n}`")),
        Value::Number(n) => Some(format!("integer `{n}`")),
        Value::Array(_) => Some("sequence".to_owned()),
        Value::Object(_) => Some("map".to_owned()),
        Value::Null => None,
    };
    let culprit = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "kind")
        .find(|(_, v)| quoted(v).is_some_and(|q| message.contains(&format!("invalid type: {q}"))));
    match culprit {
        Some((k, _)) => format!("{k}: {message}"),
        None => message.to_owned(),
    }
}

const MATCHER_FIELDS: &[&str] = &[
    "id",
    "endpoint",
    "issuer",
    "grant_type",
    "client_id",
    "times",
    "probability",
    "seed",
];

impl<'de> Deserialize<'de> for FaultRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let Value::Object(all) = Value::deserialize(d)? else {
            return Err(D::Error::custom("a fault rule must be a table/object"));
        };
        let (matcher, action): (Map<String, Value>, Map<String, Value>) = all
            .into_iter()
            .partition(|(k, _)| MATCHER_FIELDS.contains(&k.as_str()));
        if !action.contains_key("kind") {
            return Err(D::Error::custom(
                "missing field `kind` (oauth_error, http_status, too_many_requests, malformed_json, empty_body, wrong_content_type, latency, refresh_barrier, token_override, signing)",
            ));
        }
        let with_path = |e: serde_path_to_error::Error<serde_json::Error>| {
            let path = e.path().to_string();
            if path == "." {
                D::Error::custom(e.into_inner())
            } else {
                D::Error::custom(format!("{path}: {}", e.into_inner()))
            }
        };
        let m: RuleMatcher =
            serde_path_to_error::deserialize(Value::Object(matcher)).map_err(with_path)?;
        let parsed: FaultAction = serde_json::from_value(Value::Object(action.clone()))
            .map_err(|e| D::Error::custom(name_the_field(&action, &e.to_string())))?;
        // Internally tagged enums let unknown keys through; every field of
        // an action serializes, so anything the round trip lacks is unknown.
        if let Ok(Value::Object(known)) = serde_json::to_value(&parsed)
            && let Some(unknown) = action.keys().find(|k| !known.contains_key(*k))
        {
            return Err(D::Error::custom(format!(
                "unknown field `{unknown}` for kind `{}`",
                parsed.name()
            )));
        }
        let action = parsed;
        Ok(FaultRule {
            id: m.id,
            endpoint: m.endpoint,
            issuer: m.issuer,
            grant_type: m.grant_type,
            client_id: m.client_id,
            times: m.times,
            probability: m.probability,
            seed: m.seed,
            action,
        })
    }
}

impl FaultRule {
    /// A rule firing on every matching request.
    pub fn new(endpoint: Endpoint, action: FaultAction) -> Self {
        Self {
            id: 0,
            endpoint,
            issuer: None,
            grant_type: None,
            client_id: None,
            times: None,
            probability: None,
            seed: 0,
            action,
        }
    }

    /// Only for this issuer.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }
    /// Only for this grant type.
    pub fn grant_type(mut self, grant: GrantType) -> Self {
        self.grant_type = Some(grant);
        self
    }
    /// Only for this client.
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }
    /// Fire for the next `n` matching requests.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }
    /// Fire with probability `p`, drawn from `seed`.
    pub fn probability(mut self, p: f64, seed: u64) -> Self {
        self.probability = Some(p);
        self.seed = seed;
        self
    }

    /// Checks that the rule can fire as written.
    pub fn validate(&self) -> Result<(), String> {
        self.action.validate()?;
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("probability must be between 0 and 1, got {p}"));
        }
        if self.times == Some(0) {
            return Err("times must be at least 1 (leave it out to fire on every request)".into());
        }
        if self.action.needs_token_endpoint() && self.endpoint != Endpoint::Token {
            return Err(format!(
                "{} only applies to endpoint = \"token\", not \"{}\"",
                self.action.name(),
                self.endpoint
            ));
        }
        if matches!(self.action, FaultAction::RefreshBarrier { .. })
            && self
                .grant_type
                .is_some_and(|g| g != GrantType::RefreshToken)
        {
            return Err("refresh_barrier only holds refresh_token requests".into());
        }
        if let FaultAction::HttpStatus { status, .. } = self.action
            && status < 500
            && self.endpoint != Endpoint::Upstream
        {
            return Err(format!(
                "http_status {status} is for the upstream endpoint; OAuth endpoints answer 4xx with oauth_error or too_many_requests"
            ));
        }
        if self.endpoint == Endpoint::Authorize
            && matches!(
                self.action,
                FaultAction::MalformedJson | FaultAction::EmptyBody | FaultAction::WrongContentType
            )
        {
            return Err(format!(
                "{} does not apply to authorize, which answers with redirects",
                self.action.name()
            ));
        }
        if self.grant_type.is_some() && self.endpoint != Endpoint::Token {
            return Err("grant_type only narrows rules at the token endpoint".into());
        }
        Ok(())
    }
}

/// What is known about a request when the plan is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The issuer name.
    pub issuer: String,
    /// The grant type, at the token endpoint.
    pub grant_type: Option<GrantType>,
    /// The client, when known.
    pub client_id: Option<String>,
}

impl RequestFacts {
    /// Facts for an endpoint of an issuer.
    pub fn new(endpoint: Endpoint, issuer: &str) -> Self {
        Self {
            endpoint,
            issuer: issuer.to_owned(),
            grant_type: None,
            client_id: None,
        }
    }
    /// With a grant type.
    pub fn grant_type(mut self, g: GrantType) -> Self {
        self.grant_type = Some(g);
        self
    }
    /// With a client.
    pub fn client(mut self, c: impl Into<String>) -> Self {
        self.client_id = Some(c.into());
        self
    }
}

/// A response replaced by a fault.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseFault {
    /// OAuth error JSON.
    OauthError {
        /// Code.
        error: ErrorCode,
        /// Description.
        description: String,
        /// Status.
        status: Option<u16>,
    },
    /// A bare status.
    Status {
        /// Status.
        status: u16,
        /// Retry-After.
        retry_after_secs: Option<u64>,
    },
    /// 200 with invalid JSON.
    MalformedJson,
    /// 200 with nothing.
    EmptyBody,
    /// 200 JSON labelled text/html.
    WrongContentType,
}

/// Everything the plan decided for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppliedFaults {
    /// Total delay before answering.
    pub latency: Duration,
    /// A response to send instead of the real one (first matching rule).
    pub response: Option<ResponseFault>,
    /// Token changes (every matching rule, in order).
    pub token_overrides: Vec<TokenOverride>,
    /// A signing fault (first matching rule).
    pub signing: Option<SigningFault>,
    /// A barrier to wait at: (rule id, parties, timeout).
    pub barrier: Option<(u64, usize, Duration)>,
    /// The ids and kinds of the rules that fired.
    pub fired: Vec<(u64, &'static str)>,
}

impl AppliedFaults {
    /// Whether nothing fired.
    pub fn is_empty(&self) -> bool {
        self.fired.is_empty()
    }

    /// The names of the rules that fired, for the ledger.
    pub fn names(&self) -> Vec<String> {
        self.fired
            .iter()
            .map(|(id, kind)| format!("{kind}#{id}"))
            .collect()
    }
}

/// SplitMix64: a tiny, well-mixed PRNG so seeded rules replay exactly
/// without a dependency.
#[derive(Debug, Clone)]
struct SeededRandom(u64);

impl SeededRandom {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Debug)]
struct LiveRule {
    rule: FaultRule,
    remaining: Option<u64>,
    random: SeededRandom,
}

/// The rules in force. Evaluation is atomic: a counted rule fires exactly
/// `times` times however many requests race for it.
#[derive(Debug, Default)]
pub struct FaultPlan {
    inner: Mutex<PlanState>,
}

#[derive(Debug, Default)]
struct PlanState {
    next_id: u64,
    rules: Vec<LiveRule>,
}

impl FaultPlan {
    /// Adds a rule (validate it first); returns its id.
    pub fn add(&self, mut rule: FaultRule) -> u64 {
        let mut state = self.lock();
        state.next_id += 1;
        rule.id = state.next_id;
        let live = LiveRule {
            remaining: rule.times,
            random: SeededRandom(rule.seed),
            rule,
        };
        let id = live.rule.id;
        state.rules.push(live);
        id
    }

    /// Removes a rule; whether it existed.
    pub fn remove(&self, id: u64) -> bool {
        let mut state = self.lock();
        let before = state.rules.len();
        state.rules.retain(|r| r.rule.id != id);
        state.rules.len() != before
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// The rules in force, with `times` showing what is left.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock()
            .rules
            .iter()
            .map(|r| FaultRule {
                times: r.remaining,
                ..r.rule.clone()
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PlanState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides what happens to a request. Exhausted counted rules are
    /// dropped.
    pub fn evaluate(&self, facts: &RequestFacts) -> AppliedFaults {
        let mut out = AppliedFaults::default();
        let mut state = self.lock();
        for live in state.rules.iter_mut() {
            let r = &live.rule;
            let matches = r.endpoint == facts.endpoint
                && r.issuer.as_ref().is_none_or(|i| *i == facts.issuer)
                && r.grant_type.is_none_or(|g| Some(g) == facts.grant_type)
                && r.client_id
                    .as_ref()
                    .is_none_or(|c| Some(c) == facts.client_id.as_ref());
            if !matches || live.remaining == Some(0) {
                continue;
            }
            if let Some(p) = r.probability
                && live.random.next_f64() >= p
            {
                continue;
            }
            // A response fault only fires when no earlier one did, so a
            // counted rule is not spent on a request it did not shape.
            let fires = match &r.action {
                FaultAction::OauthError {
                    error,
                    description,
                    status,
                } => out.response.is_none().then(|| {
                    out.response = Some(ResponseFault::OauthError {
                        error: *error,
                        description: description
                            .clone()
                            .unwrap_or_else(|| format!("injected by fault rule {}", r.id)),
                        status: *status,
                    });
                }),
                FaultAction::HttpStatus {
                    status,
                    retry_after_secs,
                } => out.response.is_none().then(|| {
                    out.response = Some(ResponseFault::Status {
                        status: *status,
                        retry_after_secs: *retry_after_secs,
                    });
                }),
                FaultAction::TooManyRequests { retry_after_secs } => {
                    out.response.is_none().then(|| {
                        out.response = Some(ResponseFault::Status {
                            status: 429,
                            retry_after_secs: Some(*retry_after_secs),
                        });
                    })
                }
                FaultAction::MalformedJson => out
                    .response
                    .is_none()
                    .then(|| out.response = Some(ResponseFault::MalformedJson)),
                FaultAction::EmptyBody => out
                    .response
                    .is_none()
                    .then(|| out.response = Some(ResponseFault::EmptyBody)),
                FaultAction::WrongContentType => out
                    .response
                    .is_none()
                    .then(|| out.response = Some(ResponseFault::WrongContentType)),
                FaultAction::Latency {
                    millis,
                    jitter_millis,
                } => {
                    let jitter = if *jitter_millis > 0 {
                        live.random.next_u64() % (jitter_millis + 1)
                    } else {
                        0
                    };
                    out.latency += Duration::from_millis(millis + jitter);
                    Some(())
                }
                FaultAction::RefreshBarrier {
                    parties,
                    timeout_millis,
                } => (facts.grant_type == Some(GrantType::RefreshToken) && out.barrier.is_none())
                    .then(|| {
                        out.barrier =
                            Some((r.id, *parties, Duration::from_millis(*timeout_millis)));
                    }),
                FaultAction::TokenOverride(o) => {
                    out.token_overrides.push(o.clone());
                    Some(())
                }
                FaultAction::Signing { fault } => {
                    out.signing.is_none().then(|| out.signing = Some(*fault))
                }
            };
            if fires.is_some() {
                out.fired.push((r.id, r.action.name()));
                if let Some(n) = live.remaining.as_mut() {
                    *n -= 1;
                }
            }
        }
        state.rules.retain(|r| r.remaining != Some(0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use proptest::prelude::*;

    fn facts() -> RequestFacts {
        RequestFacts::new(Endpoint::Token, "default")
            .grant_type(GrantType::RefreshToken)
            .client("c")
    }

    #[test]
    fn filters_narrow_the_match() {
        let plan = FaultPlan::default();
        plan.add(FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).client("other"));
        plan.add(FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).issuer("x"));
        plan.add(
            FaultRule::new(Endpoint::Token, FaultAction::EmptyBody)
                .grant_type(GrantType::ClientCredentials),
        );
        plan.add(FaultRule::new(Endpoint::Jwks, FaultAction::EmptyBody));
        assert!(plan.evaluate(&facts()).is_empty());
        plan.add(FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).client("c"));
        assert_eq!(
            plan.evaluate(&facts()).response,
            Some(ResponseFault::EmptyBody)
        );
    }

    #[test]
    fn latency_adds_up_and_first_response_wins() {
        let plan = FaultPlan::default();
        let latency = FaultAction::Latency {
            millis: 10,
            jitter_millis: 0,
        };
        plan.add(FaultRule::new(Endpoint::Token, latency.clone()));
        plan.add(FaultRule::new(Endpoint::Token, latency));
        plan.add(FaultRule::new(Endpoint::Token, FaultAction::MalformedJson).times(1));
        plan.add(FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).times(1));
        let a = plan.evaluate(&facts());
        assert_eq!(a.latency, Duration::from_millis(20));
        assert_eq!(a.response, Some(ResponseFault::MalformedJson));
        // The second counted rule was not spent: it fires next time.
        assert_eq!(
            plan.evaluate(&facts()).response,
            Some(ResponseFault::EmptyBody)
        );
        assert_eq!(plan.evaluate(&facts()).response, None);
    }

    #[test]
    fn validation_names_the_problem() {
        let bad = FaultRule::new(
            Endpoint::Jwks,
            FaultAction::Signing {
                fault: SigningFault::AlgNone,
            },
        );
        assert!(bad.validate().unwrap_err().contains("endpoint = \"token\""));
        let bad = FaultRule::new(
            Endpoint::Token,
            FaultAction::HttpStatus {
                status: 404,
                retry_after_secs: None,
            },
        );
        assert!(bad.validate().is_err());
        let bad = FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).probability(1.5, 1);
        assert!(bad.validate().is_err());
    }

    #[test]
    fn rules_parse_from_toml_and_json() {
        let toml_rule: FaultRule = toml::from_str(
            r#"
            endpoint = "token"
            grant_type = "refresh_token"
            times = 3
            kind = "oauth_error"
            error = "invalid_grant"
            "#,
        )
        .unwrap();
        assert_eq!(toml_rule.times, Some(3));
        let json_rule: FaultRule = serde_json::from_str(
            r#"{"endpoint":"token","kind":"token_override","aud":"https://other","no_refresh_token":true}"#,
        )
        .unwrap();
        assert!(
            matches!(json_rule.action, FaultAction::TokenOverride(ref o) if o.no_refresh_token)
        );
        let err = serde_json::from_str::<FaultRule>(r#"{"endpoint":"token","kind":"explode"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("explode"), "{err}");
        let err = serde_json::from_str::<FaultRule>(
            r#"{"endpoint":"token","kind":"empty_body","tmes":2}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("tmes"), "{err}");
        let err = serde_json::from_str::<FaultRule>(
            r#"{"endpoint":"token","kind":"oauth_error","error":"bad_code"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("bad_code"), "{err}");
    }

    proptest! {
        /// A seeded probabilistic plan fires identically on two runs.
        #[test]
        fn seeded_probability_replays_exactly(seed in any::<u64>(), p in 0.0f64..=1.0, n in 1usize..200) {
            let run = || {
                let plan = FaultPlan::default();
                plan.add(FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).probability(p, seed));
                plan.add(FaultRule::new(Endpoint::Token, FaultAction::Latency { millis: 0, jitter_millis: 50 }).probability(1.0, seed ^ 7));
                (0..n).map(|_| {
                    let a = plan.evaluate(&facts());
                    (a.response.is_some(), a.latency)
                }).collect::<Vec<_>>()
            };
            prop_assert_eq!(run(), run());
        }

        /// A counted rule fires exactly N times under concurrency.
        #[test]
        fn counted_rules_fire_exactly_n_times(n in 1u64..50, threads in 2usize..8, per_thread in 1usize..40) {
            let plan = Arc::new(FaultPlan::default());
            plan.add(FaultRule::new(Endpoint::Token, FaultAction::oauth_error(ErrorCode::InvalidGrant)).times(n));
            let barrier = Arc::new(std::sync::Barrier::new(threads));
            let handles: Vec<_> = (0..threads).map(|_| {
                let plan = plan.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..per_thread).filter(|_| plan.evaluate(&facts()).response.is_some()).count()
                })
            }).collect();
            let fired: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
            prop_assert_eq!(fired as u64, n.min((threads * per_thread) as u64));
        }
    }
}
