//! One generated case, start to end: set the provider up, build the
//! user's manager from the seeded grant, then cycle by cycle expire the
//! access tokens, install the cycle's fault, run the callers (in lockstep,
//! checking the invariants from the ledger after every phase, or
//! staggered, checking after they all ended); after an
//! `invalid_grant` cycle make one further call, after a 503 cycle wait out
//! `Retry-After` and check the manager recovers. The first step that
//! breaks an invariant ends the case with its violations and evidence.
//! Every wait is bounded: callers by the call timeout, the steps by their
//! count.

use std::sync::Arc;
use std::time::Duration;

use mock_provider::ledger::LedgerEntry;

use crate::invariants::{self, Expected, RefreshLimit, Step, Violation};
use crate::ledger_evidence::{PhaseMarks, evidence};
use crate::lockstep_callers::{Lockstep, Upstream};
use crate::provider_harness::{HarnessError, ProviderHarness};
use crate::schedule::{Pace, Schedule, TokenFault};
use crate::token_source::{TokenSource, UpstreamGrant};

/// Extra wait beyond `Retry-After` before the recovery call.
const RETRY_AFTER_MARGIN: Duration = Duration::from_millis(150);

/// Why a case failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaseFailure {
    pub violations: Vec<Violation>,
    pub evidence: Vec<String>,
}

/// How a step's refresh requests are limited.
#[derive(Debug, Clone, Copy)]
enum Counting {
    /// At most the limit's allowance in the step.
    Limit(RefreshLimit),
    /// Split at the 503: at most one before `Retry-After` passed, at most
    /// one after.
    RetryAfter { secs: u64 },
}

/// One step of a case.
struct StepPlan {
    step: Step,
    label: String,
    callers: usize,
    expected: Expected,
    counting: Counting,
    /// Requests are counted from this sequence number on (the cycle's
    /// start, also for its recovery call).
    count_from: u64,
    /// Whether exactly one refresh is needed (the tokens had expired).
    must_refresh: bool,
    /// How the callers move.
    pace: Pace,
}

/// What a step needs from the case.
struct CaseContext<'a, S> {
    harness: &'a ProviderHarness,
    source: &'a Arc<S>,
    upstream: &'a Upstream,
    client_id: &'a str,
}

impl<S: TokenSource> CaseContext<'_, S> {
    fn refreshes_since(&self, seq: u64) -> Vec<LedgerEntry> {
        self.harness.refreshes(self.client_id, seq)
    }

    /// The refresh checks after a phase: single use over the case, and the
    /// step's limit.
    fn refresh_violations(&self, plan: &StepPlan, step_start: u64) -> Vec<Violation> {
        let case = self.refreshes_since(0);
        let mut out = Vec::new();
        let counted: Vec<&LedgerEntry> = case.iter().filter(|e| e.seq > plan.count_from).collect();
        match plan.counting {
            Counting::Limit(limit) => {
                out.extend(invariants::refresh_count(plan.step, &counted, limit));
            }
            Counting::RetryAfter { secs } => {
                let unavailable_at = counted
                    .iter()
                    .find(|e| e.outcome == "http_503")
                    .map(|e| e.time_ms);
                let (before, after): (Vec<&LedgerEntry>, Vec<&LedgerEntry>) =
                    counted.iter().partition(|e| {
                        unavailable_at.is_none_or(|t| e.time_ms < t.saturating_add(secs * 1000))
                    });
                out.extend(invariants::refresh_count(
                    plan.step,
                    &before,
                    RefreshLimit::BeforeRetryAfter { secs },
                ));
                out.extend(invariants::refresh_count(
                    plan.step,
                    &after,
                    RefreshLimit::OneAfterRetryAfter,
                ));
            }
        }
        out.extend(invariants::single_use(plan.step, &case, step_start));
        out
    }

    fn failure(
        &self,
        violations: Vec<Violation>,
        marks: &PhaseMarks,
        label: &str,
    ) -> Option<CaseFailure> {
        if violations.is_empty() {
            return None;
        }
        let refreshes = self.refreshes_since(0);
        let upstream = self.harness.upstream_calls(marks.start);
        Some(CaseFailure {
            violations,
            evidence: evidence(marks, &refreshes, &upstream, label),
        })
    }

    /// Runs the callers of one step in lockstep, checking after each phase.
    async fn run_step(&self, plan: StepPlan) -> Option<CaseFailure> {
        let step_start = self.harness.last_seq();
        let mut marks = PhaseMarks {
            step: plan.step.to_string(),
            start: step_start,
            phases: Vec::new(),
        };
        let mut callers = Lockstep::new(
            self.source.clone(),
            self.upstream.clone(),
            plan.label.clone(),
            plan.callers,
        );
        match plan.pace {
            Pace::Lockstep => {
                // At most four phases: token, API, replacement, API.
                for _ in 0..4 {
                    let Some(stage) = callers.step().await else {
                        break;
                    };
                    marks
                        .phases
                        .push((stage.to_string(), self.harness.last_seq()));
                    let found = self.refresh_violations(&plan, step_start);
                    if let Some(failure) = self.failure(found, &marks, &plan.label) {
                        return Some(failure);
                    }
                }
            }
            Pace::Staggered { spread } => {
                // One phase: the callers' flows overlap.
                callers.run_staggered(spread).await;
                marks.phases.push((
                    format!("staggered callers ({})", plan.pace),
                    self.harness.last_seq(),
                ));
                let found = self.refresh_violations(&plan, step_start);
                if let Some(failure) = self.failure(found, &marks, &plan.label) {
                    return Some(failure);
                }
            }
        }
        let upstream = self.harness.upstream_calls(step_start);
        let mut found =
            invariants::endings(plan.step, &callers.endings(), plan.expected, &upstream);
        if plan.must_refresh && self.refreshes_since(plan.count_from).is_empty() {
            found.push(Violation::MissingRefresh { step: plan.step });
        }
        self.failure(found, &marks, &plan.label)
    }

    /// The further call after `invalid_grant`: an error, no request.
    async fn further_call(&self, cycle: usize, timeout: Duration) -> Option<CaseFailure> {
        let step = Step::FurtherCall(cycle);
        let start = self.harness.last_seq();
        let source = self.source.clone();
        let answer = tokio::spawn(async move {
            tokio::time::timeout(timeout, source.access_token())
                .await
                .map(|r| r.is_ok())
        })
        .await
        .ok()
        .map(|r| r.map_err(|_| timeout));
        let marks = PhaseMarks {
            step: step.to_string(),
            start,
            phases: vec![("access_token()".to_owned(), self.harness.last_seq())],
        };
        let requests = self.refreshes_since(start);
        let counted: Vec<&LedgerEntry> = requests.iter().collect();
        let mut found: Vec<Violation> =
            invariants::further_call(step, answer).into_iter().collect();
        found.extend(invariants::refresh_count(
            step,
            &counted,
            RefreshLimit::NoneAfterInvalidGrant,
        ));
        self.failure(found, &marks, "-")
    }
}

/// Runs `schedule` with a manager from `factory`: `Ok(None)` when every
/// invariant held.
pub(crate) async fn run_case<S, F>(
    harness: &mut ProviderHarness,
    upstream: &Upstream,
    schedule: &Schedule,
    factory: &F,
) -> Result<Option<CaseFailure>, HarnessError>
where
    S: TokenSource,
    F: Fn(UpstreamGrant) -> S,
{
    let setup = harness.prepare(schedule).await?;
    let client_id = setup.client_id.clone();
    let source = Arc::new(factory(setup.grant));
    let harness: &ProviderHarness = harness;
    let cx = CaseContext {
        harness,
        source: &source,
        upstream,
        client_id: &client_id,
    };
    for cycle in 1..=schedule.cycles() {
        if cycle > 1 {
            harness.expire_access_tokens(&client_id).await?;
        }
        let fault = match schedule.fault() {
            f if f.cycle() == Some(cycle) => f,
            _ => TokenFault::None,
        };
        let (expected, counting) = match fault {
            TokenFault::InvalidGrant { .. } => {
                harness.revoke_grant(&client_id).await?;
                (
                    Expected::ManagerError,
                    Counting::Limit(RefreshLimit::NoRetryAfterInvalidGrant),
                )
            }
            TokenFault::Unavailable {
                retry_after_secs, ..
            } => {
                harness
                    .unavailable_once(&client_id, retry_after_secs)
                    .await?;
                (
                    Expected::AcceptedOrManagerError,
                    Counting::RetryAfter {
                        secs: retry_after_secs,
                    },
                )
            }
            TokenFault::None | TokenFault::Latency { .. } => (
                Expected::Accepted,
                Counting::Limit(RefreshLimit::OnePerCycle),
            ),
        };
        let cycle_start = harness.last_seq();
        let plan = StepPlan {
            step: Step::Cycle(cycle),
            label: format!("{client_id}/c{cycle}"),
            callers: schedule.callers(),
            expected,
            counting,
            count_from: cycle_start,
            must_refresh: expected == Expected::Accepted,
            pace: schedule.pace(),
        };
        if let Some(failure) = cx.run_step(plan).await {
            return Ok(Some(failure));
        }
        match fault {
            TokenFault::InvalidGrant { .. } => {
                // The grant is gone: the case ends here.
                return Ok(cx.further_call(cycle, upstream.call_timeout).await);
            }
            TokenFault::Unavailable {
                retry_after_secs, ..
            } => {
                tokio::time::sleep(Duration::from_secs(retry_after_secs) + RETRY_AFTER_MARGIN)
                    .await;
                let plan = StepPlan {
                    step: Step::Recovery(cycle),
                    label: format!("{client_id}/c{cycle}-recovery"),
                    callers: 1,
                    expected: Expected::Accepted,
                    counting: Counting::RetryAfter {
                        secs: retry_after_secs,
                    },
                    count_from: cycle_start,
                    must_refresh: false,
                    pace: Pace::Lockstep,
                };
                if let Some(failure) = cx.run_step(plan).await {
                    return Ok(Some(failure));
                }
            }
            TokenFault::None | TokenFault::Latency { .. } => {}
        }
    }
    Ok(None)
}
