//! A fault rule ([`FaultRule`]): a matcher (endpoint, issuer, grant type,
//! client, how many times or how likely) and an action ([`FaultAction`]:
//! an OAuth error, a status, a mangled body, latency, the refresh barrier,
//! a token override, a signing fault), nested under `action` with `kind`
//! naming it. One shape for the config file, the admin API, the
//! conformance suite's `fault` step and Rust; a typo in it is refused
//! naming the field. The plan that evaluates rules is
//! [`crate::faults::fault_plan`].
//!
//! ```toml
//! endpoint = "token"
//! grant_type = "refresh_token"
//! times = 1
//! action = { kind = "oauth_error", error = "invalid_grant" }
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clients::client_registry::GrantType;
use crate::faults::signing_fault::SigningFault;
use crate::faults::token_override::TokenOverride;
use crate::protocol::oauth_error::ErrorCode;

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
// `remote = "Self"` makes the derives inherent functions, so the trait
// impls below can check what serde lets through (see `strict_action`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
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
    pub fn validate(&self) -> Result<(), InvalidFault> {
        match self {
            Self::OauthError {
                status: Some(s), ..
            } if !(400..=599).contains(s) => Err(InvalidFault::NotAnErrorStatus(*s)),
            Self::HttpStatus { status, .. } if !(400..=599).contains(status) => {
                Err(InvalidFault::HttpStatusRange(*status))
            }
            Self::Latency {
                millis,
                jitter_millis,
            } if millis.saturating_add(*jitter_millis) > 60_000 => {
                Err(InvalidFault::LatencyTooLong)
            }
            Self::RefreshBarrier { parties, .. } if *parties < 2 => {
                Err(InvalidFault::BarrierTooFewParties)
            }
            Self::RefreshBarrier { timeout_millis, .. } if *timeout_millis > 60_000 => {
                Err(InvalidFault::BarrierTimeoutTooLong)
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

impl Serialize for FaultAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FaultAction::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for FaultAction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let Value::Object(fields) = Value::deserialize(d)? else {
            return Err(D::Error::custom(
                "an action must be a table/object with a `kind`",
            ));
        };
        strict_action(fields).map_err(D::Error::custom)
    }
}

/// The action in `fields`, refusing what an internally tagged enum lets
/// through: a missing `kind` gets the list of kinds, a field the kind does
/// not have is named, and so is a field of the wrong type.
fn strict_action(fields: Map<String, Value>) -> Result<FaultAction, BadAction> {
    if !fields.contains_key("kind") {
        return Err(BadAction::NoKind);
    }
    let action = FaultAction::deserialize(Value::Object(fields.clone()))
        .map_err(|e| BadAction::Invalid(name_the_field(&fields, &e.to_string())))?;
    // Every field of an action serializes, so anything the round trip
    // lacks is a field this kind does not have.
    if let Ok(Value::Object(known)) = serde_json::to_value(&action)
        && let Some(unknown) = fields.keys().find(|k| !known.contains_key(*k))
    {
        return Err(BadAction::UnknownField {
            field: unknown.clone(),
            kind: action.name(),
        });
    }
    Ok(action)
}

/// Why an action did not read.
#[derive(Debug, thiserror::Error)]
enum BadAction {
    #[error("missing field `kind` ({})", ACTION_KINDS.join(", "))]
    NoKind,
    /// Serde's message, with the field named when serde did not.
    #[error("{0}")]
    Invalid(String),
    #[error("unknown field `{field}` for kind `{kind}`")]
    UnknownField { field: String, kind: &'static str },
}

/// The action kinds, for the message of a rule without one.
const ACTION_KINDS: &[&str] = &[
    "oauth_error",
    "http_status",
    "too_many_requests",
    "malformed_json",
    "empty_body",
    "wrong_content_type",
    "latency",
    "refresh_barrier",
    "token_override",
    "signing",
];

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

/// A rule of the plan: a matcher and an action, the same shape in TOML,
/// JSON and the conformance suite's `fault` step:
/// `{"endpoint": "token", "times": 2, "action": {"kind": "http_status", "status": 503}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Assigned when added; ignored on input.
    #[serde(default)]
    pub id: u64,
    /// Where it applies.
    pub endpoint: Endpoint,
    /// Only for this issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Only for this grant type (token endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<GrantType>,
    /// Only for this client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Fire for the next N matching requests (absent: every one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// Fire with this probability instead (0.0-1.0), drawn from `seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Seed of the rule's random draws (probability and jitter).
    #[serde(default)]
    pub seed: u64,
    /// What it does.
    pub action: FaultAction,
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
    pub fn validate(&self) -> Result<(), InvalidFault> {
        self.action.validate()?;
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(InvalidFault::ProbabilityRange(p));
        }
        if self.times == Some(0) {
            return Err(InvalidFault::ZeroTimes);
        }
        if self.action.needs_token_endpoint() && self.endpoint != Endpoint::Token {
            return Err(InvalidFault::NeedsTokenEndpoint {
                kind: self.action.name(),
                endpoint: self.endpoint,
            });
        }
        if matches!(self.action, FaultAction::RefreshBarrier { .. })
            && self
                .grant_type
                .is_some_and(|g| g != GrantType::RefreshToken)
        {
            return Err(InvalidFault::BarrierNotRefresh);
        }
        if let FaultAction::HttpStatus { status, .. } = self.action
            && status < 500
            && self.endpoint != Endpoint::Upstream
        {
            return Err(InvalidFault::ClientErrorStatus(status));
        }
        if self.endpoint == Endpoint::Authorize
            && matches!(
                self.action,
                FaultAction::MalformedJson | FaultAction::EmptyBody | FaultAction::WrongContentType
            )
        {
            return Err(InvalidFault::BodyFaultAtAuthorize(self.action.name()));
        }
        if self.grant_type.is_some() && self.endpoint != Endpoint::Token {
            return Err(InvalidFault::GrantTypeOffToken);
        }
        Ok(())
    }
}

/// Why a rule that parsed cannot fire as written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidFault {
    /// `oauth_error` with a status outside 400-599.
    #[error("status {0} is not an error status (400-599)")]
    NotAnErrorStatus(u16),
    /// `http_status` outside 400-599.
    #[error("http_status must be 400-599, got {0}")]
    HttpStatusRange(u16),
    /// `http_status` 4xx away from the upstream API.
    #[error(
        "http_status {0} is for the upstream endpoint; OAuth endpoints answer 4xx with oauth_error or too_many_requests"
    )]
    ClientErrorStatus(u16),
    /// `latency` above a minute.
    #[error("latency above 60 s would outlast any client timeout")]
    LatencyTooLong,
    /// A barrier of one.
    #[error("refresh_barrier needs at least 2 parties")]
    BarrierTooFewParties,
    /// A barrier held above a minute.
    #[error("refresh_barrier timeout above 60 s")]
    BarrierTimeoutTooLong,
    /// A barrier narrowed to another grant.
    #[error("refresh_barrier only holds refresh_token requests")]
    BarrierNotRefresh,
    /// `probability` outside 0-1.
    #[error("probability must be between 0 and 1, got {0}")]
    ProbabilityRange(f64),
    /// `times = 0`.
    #[error("times must be at least 1 (leave it out to fire on every request)")]
    ZeroTimes,
    /// A token-shaping action away from the token endpoint.
    #[error("{kind} only applies to endpoint = \"token\", not \"{endpoint}\"")]
    NeedsTokenEndpoint {
        /// The action's kind.
        kind: &'static str,
        /// Where the rule was put.
        endpoint: Endpoint,
    },
    /// A mangled body at authorize, which answers with redirects.
    #[error("{0} does not apply to authorize, which answers with redirects")]
    BodyFaultAtAuthorize(&'static str),
    /// `grant_type` away from the token endpoint.
    #[error("grant_type only narrows rules at the token endpoint")]
    GrantTypeOffToken,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ACTION_KINDS` is written by hand; serde's own list of variants
    /// (in its "unknown variant" message) keeps it true.
    #[test]
    fn action_kinds_are_the_actions_variants() {
        let err = serde_json::from_value::<FaultAction>(serde_json::json!({ "kind": "nope" }))
            .unwrap_err()
            .to_string();
        let listed: Vec<&str> = err
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("no variant list in {err:?}"))
            .split(", ")
            .map(|kind| kind.trim_matches(|c: char| c == '`' || !c.is_ascii()))
            .map(|kind| kind.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_'))
            .collect();
        assert_eq!(listed, ACTION_KINDS, "from {err:?}");
    }
}
