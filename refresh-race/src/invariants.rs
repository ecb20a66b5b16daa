//! The invariants a token manager must keep, checked from the mock
//! provider's ledger (never from the manager's word), and the
//! [`Violation`]s that say which one broke:
//!
//! - one refresh per cycle: at most one `refresh_token` request per cycle,
//!   exactly one when the access tokens had expired;
//! - single use: no refresh token presented twice to the grant logic, no
//!   reuse detected (which revokes the grant). A presentation an injected
//!   error answered before processing (`processed: false` in the ledger)
//!   consumed nothing, so presenting that token again is a legitimate
//!   retry; it still counts against the request limits;
//! - every caller ends with a token the upstream API accepted (200), as the
//!   ledger records it;
//! - `invalid_grant` is final: every caller of that cycle gets an error (in
//!   time), at most one refresh request, and a further call answers an
//!   error without a new request;
//! - `Retry-After` is honoured: no second refresh before it has passed, and
//!   the manager recovers afterwards.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use mock_provider::Fingerprint;
use mock_provider::ledger::LedgerEntry;

use crate::lockstep_callers::{Ending, human};

/// Where in a case a violation was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// A cycle (from 1).
    Cycle(usize),
    /// The further `access_token()` call after the `invalid_grant` cycle.
    FurtherCall(usize),
    /// The recovery call after the 503 cycle's `Retry-After`.
    Recovery(usize),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cycle(n) => write!(f, "cycle {n}"),
            Self::FurtherCall(n) => write!(f, "a further access_token() after cycle {n}"),
            Self::Recovery(n) => write!(f, "the recovery call after cycle {n}'s Retry-After"),
        }
    }
}

/// Which limit on refresh requests was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshLimit {
    /// One refresh serves every caller of a cycle.
    OnePerCycle,
    /// `invalid_grant` is final: no retry.
    NoRetryAfterInvalidGrant,
    /// After `invalid_grant`, a further call asks nobody.
    NoneAfterInvalidGrant,
    /// No second request before `Retry-After` has passed.
    BeforeRetryAfter {
        /// The `Retry-After`.
        secs: u64,
    },
    /// One refresh once `Retry-After` has passed.
    OneAfterRetryAfter,
}

impl RefreshLimit {
    /// How many requests are allowed.
    pub fn allowed(self) -> usize {
        match self {
            Self::NoneAfterInvalidGrant => 0,
            _ => 1,
        }
    }
}

impl fmt::Display for RefreshLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OnePerCycle => f.write_str("expected at most 1 per cycle"),
            Self::NoRetryAfterInvalidGrant => {
                f.write_str("expected at most 1: invalid_grant is final, no retry")
            }
            Self::NoneAfterInvalidGrant => f.write_str("expected none: the grant is gone"),
            Self::BeforeRetryAfter { secs } => write!(
                f,
                "before Retry-After ({secs} s) had passed; expected at most 1"
            ),
            Self::OneAfterRetryAfter => f.write_str("after Retry-After; expected at most 1"),
        }
    }
}

/// How the callers of a step should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expected {
    /// With a token the upstream API accepted.
    Accepted,
    /// With an error from the manager (the grant is gone).
    ManagerError,
    /// Either (the token endpoint was unavailable).
    AcceptedOrManagerError,
}

impl Expected {
    fn allows(self, ending: &Ending) -> bool {
        match self {
            Self::Accepted => ending.is_accepted(),
            Self::ManagerError => ending.is_manager_error(),
            Self::AcceptedOrManagerError => ending.is_accepted() || ending.is_manager_error(),
        }
    }
}

/// An invariant that broke, with the ledger's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// More refresh requests than allowed.
    TooManyRefreshes {
        /// Where.
        step: Step,
        /// Refresh requests the ledger holds.
        requests: usize,
        /// How many were granted.
        granted: usize,
        /// The limit.
        limit: RefreshLimit,
    },
    /// There was no valid access token (none yet, or expired) and nobody
    /// refreshed.
    MissingRefresh {
        /// Where.
        step: Step,
    },
    /// A refresh token was presented more than once.
    PresentedTwice {
        /// Where (the second presentation).
        step: Step,
        /// Its fingerprint.
        fingerprint: Fingerprint,
        /// How often.
        times: usize,
    },
    /// The provider detected refresh token reuse and revoked the grant.
    ReuseDetected {
        /// Where.
        step: Step,
        /// The reused token's fingerprint.
        fingerprint: Option<Fingerprint>,
        /// The revoked family.
        family: Option<u64>,
    },
    /// Callers ended otherwise than expected.
    Callers {
        /// Where.
        step: Step,
        /// What was expected.
        expected: Expected,
        /// How many ended otherwise.
        unexpected: usize,
        /// Of how many.
        of: usize,
        /// Each way they ended, with how many callers ended so, sorted.
        reasons: Vec<(String, usize)>,
    },
    /// A caller saw a 200 the ledger does not hold as accepted.
    NotInLedger {
        /// Where.
        step: Step,
        /// The caller (from 1).
        caller: usize,
        /// The token's fingerprint.
        token: Fingerprint,
    },
    /// The further call after `invalid_grant` did not answer an error.
    FurtherCall {
        /// Where.
        step: Step,
        /// What it did instead.
        outcome: String,
    },
    /// The case panicked outside the manager's calls (e.g. in the
    /// factory).
    Panicked {
        /// The panic message.
        message: String,
    },
}

impl Violation {
    /// Where it was seen (`None` for a panic outside the steps).
    pub fn step(&self) -> Option<Step> {
        match self {
            Self::TooManyRefreshes { step, .. }
            | Self::MissingRefresh { step }
            | Self::PresentedTwice { step, .. }
            | Self::ReuseDetected { step, .. }
            | Self::Callers { step, .. }
            | Self::NotInLedger { step, .. }
            | Self::FurtherCall { step, .. } => Some(*step),
            Self::Panicked { .. } => None,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match self {
            Self::TooManyRefreshes {
                step,
                requests,
                granted,
                limit,
            } => write!(
                f,
                "{step}: {requests} refresh request{} ({granted} granted); {limit}",
                plural(*requests)
            ),
            Self::MissingRefresh { step } => write!(
                f,
                "{step}: no refresh request although there was no valid access token; expected exactly 1"
            ),
            Self::PresentedTwice {
                step,
                fingerprint,
                times,
            } => write!(
                f,
                "{step}: refresh token {fingerprint} presented {times} times (it is single-use)"
            ),
            Self::ReuseDetected {
                step,
                fingerprint,
                family,
            } => {
                write!(f, "{step}: reuse detected")?;
                if let Some(fp) = fingerprint {
                    write!(f, " on refresh token {fp}")?;
                }
                match family {
                    Some(family) => write!(f, "; the grant (family {family}) was revoked"),
                    None => f.write_str("; the grant was revoked"),
                }
            }
            Self::Callers {
                step,
                expected,
                unexpected,
                of,
                reasons,
            } => {
                let what = match expected {
                    Expected::Accepted => "ended without a token the upstream API accepted",
                    Expected::ManagerError => {
                        "did not end with an error from the manager (the grant is gone)"
                    }
                    Expected::AcceptedOrManagerError => {
                        "ended neither with an accepted token nor with an error from the manager"
                    }
                };
                write!(
                    f,
                    "{step}: {unexpected} of {of} caller{} {what}: ",
                    plural(*of)
                )?;
                for (i, (reason, n)) in reasons.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{reason} ({n} caller{})", plural(*n))?;
                }
                Ok(())
            }
            Self::NotInLedger {
                step,
                caller,
                token,
            } => write!(
                f,
                "{step}: caller {caller} saw a 200 for {token} that the ledger does not hold as accepted"
            ),
            Self::FurtherCall { step, outcome } => {
                write!(f, "{step} {outcome}; expected an error without a refresh")
            }
            Self::Panicked { message } => write!(f, "the case panicked: {message}"),
        }
    }
}

/// Single use across the whole case: a refresh token presented twice, or
/// reuse detected, in an entry after `step_start`. Only processed
/// presentations count: one a fault answered before processing (a 503
/// with `Retry-After`, say) left the token unconsumed, and retrying with
/// it is what a correct manager does.
pub(crate) fn single_use(
    step: Step,
    case_refreshes: &[LedgerEntry],
    step_start: u64,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut presented: BTreeMap<Fingerprint, (usize, u64)> = BTreeMap::new();
    for e in case_refreshes.iter().filter(|e| e.processed) {
        if let Some(fp) = e.refresh_token {
            let seen = presented.entry(fp).or_insert((0, 0));
            seen.0 += 1;
            seen.1 = seen.1.max(e.seq);
        }
    }
    // In the order of their latest presentation: the ledger's order.
    let mut twice: Vec<_> = presented
        .into_iter()
        .filter(|(_, (n, last))| *n >= 2 && *last > step_start)
        .collect();
    twice.sort_by_key(|(_, (_, last))| *last);
    for (fp, (times, _)) in twice {
        out.push(Violation::PresentedTwice {
            step,
            fingerprint: fp,
            times,
        });
    }
    if let Some(e) = case_refreshes
        .iter()
        .find(|e| e.reuse_detected && e.seq > step_start)
    {
        out.push(Violation::ReuseDetected {
            step,
            fingerprint: e.refresh_token,
            family: e.family,
        });
    }
    out
}

/// The refresh requests of a step against its limit.
pub(crate) fn refresh_count(
    step: Step,
    requests: &[&LedgerEntry],
    limit: RefreshLimit,
) -> Option<Violation> {
    (requests.len() > limit.allowed()).then(|| Violation::TooManyRefreshes {
        step,
        requests: requests.len(),
        granted: requests.iter().filter(|e| e.outcome == "ok").count(),
        limit,
    })
}

/// How the callers of a step ended, against what was expected; an
/// accepted call must be in the ledger as accepted.
pub(crate) fn endings(
    step: Step,
    endings: &[Option<Ending>],
    expected: Expected,
    upstream: &[LedgerEntry],
) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (i, ending) in endings.iter().enumerate() {
        match ending {
            Some(e) if expected.allows(e) => {
                if let Ending::Accepted { token, path } = e {
                    let confirmed = upstream.iter().any(|u| {
                        u.outcome == "ok"
                            && u.upstream
                                .as_ref()
                                .is_some_and(|o| o.path == *path && o.token == Some(*token))
                    });
                    if !confirmed {
                        out.push(Violation::NotInLedger {
                            step,
                            caller: i + 1,
                            token: *token,
                        });
                    }
                }
            }
            Some(e) => *reasons.entry(e.to_string()).or_default() += 1,
            None => *reasons.entry("did not finish".to_owned()).or_default() += 1,
        }
    }
    if !reasons.is_empty() {
        out.insert(
            0,
            Violation::Callers {
                step,
                expected,
                unexpected: reasons.values().sum(),
                of: endings.len(),
                reasons: reasons.into_iter().collect(),
            },
        );
    }
    out
}

/// The further call after `invalid_grant`: it must answer an error.
pub(crate) fn further_call(
    step: Step,
    answer: Option<Result<bool, Duration>>,
) -> Option<Violation> {
    let outcome = match answer {
        // Ok(true): a token; Ok(false): an error.
        Some(Ok(false)) => return None,
        Some(Ok(true)) => "returned a token".to_owned(),
        Some(Err(after)) => format!("did not answer within {}", human(after)),
        None => "panicked".to_owned(),
    };
    Some(Violation::FurtherCall { step, outcome })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refresh entry, built the way the admin API would send it (so new
    /// ledger fields with defaults do not break the test).
    fn entry(seq: u64, presented: &str, outcome: &str, reuse: bool) -> LedgerEntry {
        serde_json::from_value(serde_json::json!({
            "seq": seq,
            "time_ms": 0,
            "issuer": "upstream",
            "endpoint": "token",
            "client_id": "c",
            "grant_type": "refresh_token",
            "status": if outcome == "ok" { 200 } else { 400 },
            "outcome": outcome,
            "family": 1,
            "refresh_token": presented,
            "reuse_detected": reuse,
            "faults": [],
            "latency_ms": 0.0,
        }))
        .unwrap()
    }

    #[test]
    fn reuse_and_double_presentation_are_named() {
        let ledger = [
            entry(1, "sha256:aaaaaaaaaaaa", "ok", false),
            entry(2, "sha256:aaaaaaaaaaaa", "invalid_grant", true),
        ];
        let found = single_use(Step::Cycle(1), &ledger, 0);
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "cycle 1: refresh token sha256:aaaaaaaaaaaa presented 2 times (it is single-use)",
                "cycle 1: reuse detected on refresh token sha256:aaaaaaaaaaaa; the grant (family 1) was revoked",
            ]
        );
        assert!(single_use(Step::Cycle(2), &ledger, 2).is_empty());
        let refs: Vec<&LedgerEntry> = ledger.iter().collect();
        assert_eq!(
            refresh_count(Step::Cycle(1), &refs, RefreshLimit::OnePerCycle)
                .unwrap()
                .to_string(),
            "cycle 1: 2 refresh requests (1 granted); expected at most 1 per cycle"
        );
    }

    /// A correct manager after a 503 with `Retry-After`: the same
    /// never-consumed token twice, once answered by the fault, once
    /// granted. Not a double presentation; still two requests.
    #[test]
    fn a_presentation_answered_by_a_fault_is_not_a_second_use() {
        let mut unavailable = entry(1, "sha256:aaaaaaaaaaaa", "http_503", false);
        unavailable.processed = false;
        unavailable.faults = vec!["http_status#4".to_owned()];
        let ledger = [unavailable, entry(2, "sha256:aaaaaaaaaaaa", "ok", false)];
        assert!(single_use(Step::Recovery(1), &ledger, 0).is_empty());
        let refs: Vec<&LedgerEntry> = ledger.iter().collect();
        assert_eq!(
            refresh_count(Step::Cycle(1), &refs, RefreshLimit::OnePerCycle)
                .unwrap()
                .to_string(),
            "cycle 1: 2 refresh requests (1 granted); expected at most 1 per cycle"
        );
        // Two processed presentations after the faulted one still count.
        let mut twice = ledger.to_vec();
        twice.push(entry(3, "sha256:aaaaaaaaaaaa", "invalid_grant", true));
        let found = single_use(Step::Cycle(2), &twice, 2);
        assert_eq!(
            found[0].to_string(),
            "cycle 2: refresh token sha256:aaaaaaaaaaaa presented 2 times (it is single-use)"
        );
    }

    #[test]
    fn caller_endings_are_grouped() {
        use crate::lockstep_callers::Stage;
        let failed = Some(Ending::ManagerError {
            stage: Stage::AccessToken,
            message: "gone".into(),
        });
        let late = Some(Ending::TimedOut {
            stage: Stage::ReplaceRejected,
            after: Duration::from_secs(10),
        });
        let found = endings(
            Step::Cycle(2),
            &[failed.clone(), late, failed],
            Expected::Accepted,
            &[],
        );
        assert_eq!(
            found[0].to_string(),
            "cycle 2: 3 of 3 callers ended without a token the upstream API accepted: access_token() failed: gone (2 callers); replace_rejected() did not answer within 10 s (1 caller)"
        );
    }
}
