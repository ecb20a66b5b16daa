//! The fault plan: rules that make the provider misbehave on purpose, when
//! and how a test asks. A rule matches an endpoint (and optionally an
//! issuer, grant type and client) and fires for the next N matching
//! requests, always, or with a probability drawn from a fixed seed so a run
//! can be repeated exactly.
//!
//! Rules come from the config file (`[[fault]]`), the admin API and the
//! Rust library; all three use the same [`FaultRule`] shape.

use std::sync::Mutex;
use std::time::Duration;

use crate::clients::client_registry::GrantType;
pub use crate::faults::signing_fault::SigningFault;
pub use crate::faults::token_override::TokenOverride;
use crate::protocol::oauth_error::ErrorCode;

pub use crate::faults::fault_rule::{Endpoint, FaultAction, FaultRule, InvalidFault};

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

    /// Removes every rule that names `issuer`.
    pub fn clear_issuer(&self, issuer: &str) {
        self.lock()
            .rules
            .retain(|r| r.rule.issuer.as_deref() != Some(issuer));
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

    #[test]
    fn a_rule_with_times_fires_that_many_times() {
        let plan = FaultPlan::default();
        plan.add(
            FaultRule::new(
                Endpoint::Token,
                FaultAction::oauth_error(ErrorCode::InvalidGrant),
            )
            .grant_type(GrantType::RefreshToken)
            .times(2),
        );
        let facts =
            RequestFacts::new(Endpoint::Token, "default").grant_type(GrantType::RefreshToken);
        assert!(plan.evaluate(&facts).response.is_some());
        assert!(plan.evaluate(&facts).response.is_some());
        assert!(
            plan.evaluate(&facts).response.is_none(),
            "fires exactly twice"
        );
    }

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
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("endpoint = \"token\"")
        );
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
            action = { kind = "oauth_error", error = "invalid_grant" }
            "#,
        )
        .unwrap();
        assert_eq!(toml_rule.times, Some(3));
        let json_rule: FaultRule = serde_json::from_str(
            r#"{"endpoint":"token","action":{"kind":"token_override","aud":"https://other","no_refresh_token":true}}"#,
        )
        .unwrap();
        assert!(
            matches!(json_rule.action, FaultAction::TokenOverride(ref o) if o.no_refresh_token)
        );
        let err = serde_json::from_str::<FaultRule>(
            r#"{"endpoint":"token","action":{"kind":"explode"}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("explode"), "{err}");
        let err = serde_json::from_str::<FaultRule>(
            r#"{"endpoint":"token","action":{"kind":"empty_body"},"tmes":2}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("tmes"), "{err}");
        let err = serde_json::from_str::<FaultRule>(
            r#"{"endpoint":"token","action":{"kind":"oauth_error","error":"bad_code"}}"#,
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
