//! A fault rule ([`FaultRule`]): a matcher (endpoint, issuer, grant type,
//! client, how many times or how likely) and an action ([`FaultAction`]:
//! an OAuth error, a status, a mangled body, latency, the refresh barrier,
//! a token override, a signing fault). One shape for the config file, the
//! admin API and Rust; a typo in it is refused naming the field. The plan
//! that evaluates rules is [`crate::fault_plan`].

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client_registry::GrantType;
use crate::oauth_error::ErrorCode;
use crate::signing_fault::SigningFault;
use crate::token_override::TokenOverride;

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
