//! The run: which scenarios apply, in which order (positive controls first,
//! the leak scans last), isolation between them (provider reset, server
//! restart when asked or after a crash), verdicts, expected failures.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::provider_link::IssuerRole;
use crate::report::{RunReport, ScenarioResult, Verdict};
use crate::run_context::{RunContext, SeedError};
use crate::scenario::{Requirement, Scenario};
use crate::schedule::{Batch, batches};
use crate::steps::{FailureKind, StepFailure, run_scenario};
use crate::target_server::TargetError;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only scenarios whose id matches one of these globs (and the
    /// controls they depend on); empty: all.
    pub only: Vec<String>,
    /// Ids the team expects to fail.
    pub expected_failures: BTreeSet<String>,
    /// SHOULD failures fail the run too (`--strict`).
    pub strict: bool,
    /// How many scenarios may run at once (0 and 1: one after another).
    pub jobs: usize,
}

/// Whether `id` matches a glob with `*` and `?`.
///
/// ```
/// use conformance::runner::glob_match;
/// assert!(glob_match("token.*", "token.expired"));
/// assert!(!glob_match("token.*", "session.reuse"));
/// assert!(glob_match("*.valid", "token.valid"));
/// ```
pub fn glob_match(pattern: &str, id: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = id.chars().collect();
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// The scenarios to run, in order.
pub fn plan<'a>(scenarios: &'a [Scenario], options: &RunOptions) -> Vec<&'a Scenario> {
    let by_id: BTreeMap<&str, &Scenario> = scenarios.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut chosen: BTreeSet<&str> = scenarios
        .iter()
        .filter(|s| options.only.is_empty() || options.only.iter().any(|g| glob_match(g, &s.id)))
        .map(|s| s.id.as_str())
        .collect();
    // Controls a chosen scenario depends on come along.
    let mut frontier: Vec<&str> = chosen.iter().copied().collect();
    while let Some(id) = frontier.pop() {
        for dep in by_id.get(id).map(|s| s.dependencies()).unwrap_or_default() {
            if let Some((k, _)) = by_id.get_key_value(dep.as_str())
                && chosen.insert(k)
            {
                frontier.push(k);
            }
        }
    }
    let mut out: Vec<&Scenario> = chosen
        .iter()
        .filter_map(|id| by_id.get(id).copied())
        .collect();
    out.sort_by_key(|s| (crate::schedule::rank(s), s.id.clone()));
    out
}

fn skip_reason(ctx: &RunContext, s: &Scenario) -> Option<String> {
    if !s.versions.contains(&ctx.version) {
        return Some(format!(
            "applies to spec versions {}",
            s.versions
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for r in &s.requires {
        let missing = match r {
            Requirement::Permission => ctx
                .profile
                .permission
                .is_none()
                .then_some("a [permission] section in the profile"),
            Requirement::Upstream => ctx
                .profile
                .upstream
                .is_none()
                .then_some("an [upstream] section in the profile"),
            Requirement::Sessions => {
                (!ctx.version.has_sessions()).then_some("a spec version with sessions")
            }
            Requirement::ServerLogs => ctx
                .server
                .is_none()
                .then_some("a server the suite starts (server.command), to read its output"),
            Requirement::TokenStore => (ctx.token_store.is_none() || ctx.server.is_none())
                .then_some("`[upstream] token_store = true` and a server the suite starts"),
            Requirement::Tenants => (!ctx.profile.upstream.as_ref().is_some_and(|u| u.tenants))
                .then_some("`[upstream] tenants = true`"),
            Requirement::Introspection => (ctx.profile.auth.validation
                != crate::profile::TokenValidation::Introspection)
                .then_some(
                    "a server that introspects tokens (RFC 7662): `[auth] validation = \"introspection\"`",
                ),
            Requirement::JwtValidation => (ctx.profile.auth.validation
                != crate::profile::TokenValidation::Jwt)
                .then_some(
                    "a server that validates JWTs itself (`[auth] validation = \"jwt\"`): with introspection the issuer says what a token is",
                ),
        };
        if let Some(m) = missing {
            return Some(format!("needs {m}"));
        }
    }
    None
}

/// How a scenario gets its clean slate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slate {
    /// The whole provider reset: the scenario runs alone.
    Provider,
    /// Only the issuers the lane has to itself reset: other lanes are
    /// busy.
    Lane,
}

/// A clean slate before a scenario: the provider reset (or, in a lane, the
/// issuers the lane has to itself), the ledger's mark (what the scenario's
/// ledger reads start after: as with a reset, the server's restart and
/// reseeding below count), a fresh upstream grant (the reset took the old
/// one), the server restarted when asked or after a crash. A failure here
/// is the suite's, never the server's.
async fn prepare_scenario(
    ctx: &mut RunContext,
    s: &Scenario,
    slate: Slate,
) -> Result<(), SlateError> {
    ctx.note_jwks_fetches().await.map_err(SlateError::Ledger)?;
    match slate {
        Slate::Provider => {
            ctx.provider
                .admin()
                .reset()
                .await
                .map_err(SlateError::Reset)?;
        }
        Slate::Lane => {
            for issuer in ctx.own_issuers() {
                ctx.provider
                    .admin()
                    .reset_issuer(&issuer)
                    .await
                    .map_err(|source| SlateError::IssuerReset { issuer, source })?;
            }
        }
    }
    ctx.mark_scenario_start()
        .await
        .map_err(SlateError::Ledger)?;
    if s.requires.contains(&Requirement::Upstream) {
        ctx.reseed_upstream().await.map_err(SlateError::Seed)?;
    } else if let Some(server) = ctx.server.as_mut()
        && (s.fresh_server || !server.is_running())
    {
        server.restart().await.map_err(SlateError::Restart)?;
    }
    Ok(())
}

/// Why the slate could not be cleaned before a scenario: the suite's
/// problem, an ERROR, never the server's FAIL.
#[derive(Debug, thiserror::Error)]
enum SlateError {
    #[error("the provider's ledger could not be read: {0}")]
    Ledger(mock_provider::AdminError),
    #[error("the provider could not be reset before this scenario: {0}")]
    Reset(mock_provider::AdminError),
    #[error("the issuer {issuer} could not be reset: {source}")]
    IssuerReset {
        issuer: String,
        source: mock_provider::AdminError,
    },
    #[error("the server's upstream grant could not be seeded: {0}")]
    Seed(SeedError),
    #[error("the server could not be restarted: {0}")]
    Restart(TargetError),
}

/// One whole run with the embedded provider, as `mcp-auth-conformance run
/// --spec-version VERSION` does it without printing: the provider started
/// for the profile, the server started when the profile says how, the plan
/// run, the server stopped.
pub async fn run_embedded(
    profile: crate::profile::TargetProfile,
    version: crate::spec_version::SpecVersion,
    scenarios: &[Scenario],
    options: &RunOptions,
    request_timeout: std::time::Duration,
) -> Result<RunReport, crate::run_context::SetupError> {
    let provider = crate::provider_link::ProviderLink::for_profile(&profile, false).await?;
    let mut ctx = RunContext::prepare(profile, version, provider, request_timeout).await?;
    let report = run(&mut ctx, scenarios, options, |_, _, _| {}).await;
    ctx.shutdown().await;
    Ok(report)
}

/// Judges one scenario on a lane: skipped, not meaningful, or run.
async fn judge(
    ctx: &mut RunContext,
    s: &Scenario,
    options: &RunOptions,
    verdicts: &BTreeMap<String, Verdict>,
    slate: Slate,
) -> ScenarioResult {
    let t0 = Instant::now();
    let severity = s.severity_for(ctx.version);
    let mut result = ScenarioResult {
        id: s.id.clone(),
        title: s.title.clone(),
        family: s.family.clone(),
        severity,
        verdict: Verdict::Pass,
        message: None,
        remedy: s.remedy.clone(),
        spec: s.spec.clone(),
        evidence: Vec::new(),
        duration_ms: 0,
    };
    let failed_control = s
        .dependencies()
        .into_iter()
        .find_map(|d| match verdicts.get(&d) {
            Some(
                v @ (Verdict::Fail
                | Verdict::ExpectedFailure
                | Verdict::NotMeaningful
                | Verdict::Error),
            ) => Some((d, *v)),
            _ => None,
        });
    if let Some(reason) = skip_reason(ctx, s) {
        result.verdict = Verdict::Skipped;
        result.message = Some(reason);
    } else if let Some((control, Verdict::Error)) = failed_control {
        // The suite could not judge the control: nor can it judge this.
        result.verdict = Verdict::Error;
        result.message = Some(format!(
            "the positive control {control} could not be judged (ERROR), so neither can this"
        ));
    } else if let Some((control, _)) = failed_control {
        result.verdict = Verdict::NotMeaningful;
        result.message = Some(format!(
            "the positive control {control} failed, so a refusal here would prove nothing"
        ));
    } else {
        let outcome = match prepare_scenario(ctx, s, slate).await {
            Err(e) => Err(StepFailure {
                step: 0,
                kind: FailureKind::Harness,
                message: e.to_string(),
                evidence: Vec::new(),
            }),
            Ok(()) => run_scenario(ctx, &s.steps).await,
        };
        if let Err(f) = outcome {
            judge_failure(ctx, s, options, f, &mut result).await;
        }
    }
    result.duration_ms = t0.elapsed().as_millis() as u64;
    result
}

/// A failed scenario's verdict and message: the server's FAIL, the
/// suite's ERROR, or not meaningful.
async fn judge_failure(
    ctx: &mut RunContext,
    s: &Scenario,
    options: &RunOptions,
    f: StepFailure,
    result: &mut ScenarioResult,
) {
    let crashed = ctx.server.as_mut().is_some_and(|srv| !srv.is_running());
    let message = match f.kind {
        FailureKind::Harness if f.evidence.is_empty() && f.step == 0 => f.message.clone(),
        _ => format!("step[{}]: {}", f.step, f.message),
    };
    result.verdict = match f.kind {
        FailureKind::Harness => Verdict::Error,
        FailureKind::Precondition => Verdict::NotMeaningful,
        FailureKind::Server if options.expected_failures.contains(&s.id) => {
            Verdict::ExpectedFailure
        }
        FailureKind::Server => Verdict::Fail,
    };
    let hint = if f.kind == FailureKind::Server && s.requires.contains(&Requirement::Upstream) {
        ctx.upstream_client_auth_hint().await
    } else {
        None
    };
    let message = match hint {
        Some(h) => format!("{message} ({h})"),
        None => message,
    };
    // A 400 without a Bearer challenge to a valid token is about the
    // request, not the token: most often a protocol version the server
    // does not speak. That is no finding about its auth: ERROR, said
    // plainly, and everything that depends on the control with it.
    let protocol = s.id == crate::scenario::VALID_TOKEN_CONTROL
        && f.kind == FailureKind::Server
        && f.evidence.iter().any(|e| {
            e.status == Some(400)
                && !e.response_headers.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("www-authenticate")
                        && v.trim_start().to_ascii_lowercase().starts_with("bearer")
                })
        });
    if protocol {
        result.verdict = Verdict::Error;
    }
    let message = if protocol {
        result.remedy = Some(format!(
            "Check that the server speaks MCP {v}: the suite sent MCP-Protocol-Version {v}. Without --spec-version the suite negotiates the newest version both sides speak.",
            v = ctx.version
        ));
        format!(
            "{message}: a 400 to a valid token is not about the token; the server may not speak MCP {} (the suite's MCP-Protocol-Version)",
            ctx.version
        )
    } else {
        message
    };
    let message = match f.kind {
        FailureKind::Precondition => format!(
            "{message}: the server never reached the state this rule is about, so the scenario proves nothing"
        ),
        _ if crashed => format!("{message} (the server exited during this scenario)"),
        _ => message,
    };
    // Redacted here, once, message and evidence alike: a message may quote
    // what the server sent back, and a server may echo a token.
    result.message = Some(ctx.book.redact(&message));
    result.evidence = f.evidence.iter().map(|e| e.redacted(&ctx.book)).collect();
}

/// Judges `indices` one after another on `ctx`, each alone (a provider
/// reset first) and seeing the verdicts of those before it.
async fn run_alone(
    ctx: &mut RunContext,
    planned: &[&Scenario],
    indices: &[usize],
    options: &RunOptions,
    verdicts: &BTreeMap<String, Verdict>,
    slots: &mut [Option<ScenarioResult>],
) {
    let mut seen = verdicts.clone();
    for &i in indices {
        let r = judge(ctx, planned[i], options, &seen, Slate::Provider).await;
        seen.insert(r.id.clone(), r.verdict);
        slots[i] = Some(r);
    }
}

/// Takes the verdicts of the results so far and hands `progress` the
/// ones now complete in plan order.
fn record(
    verdicts: &mut BTreeMap<String, Verdict>,
    slots: &[Option<ScenarioResult>],
    emitted: &mut usize,
    total: usize,
    progress: &mut impl FnMut(usize, usize, &ScenarioResult),
) {
    for r in slots.iter().flatten() {
        verdicts.entry(r.id.clone()).or_insert(r.verdict);
    }
    while let Some(Some(r)) = slots.get(*emitted) {
        *emitted += 1;
        progress(*emitted, total, r);
    }
}

/// Runs the plan; `progress` sees each result, in plan order. With
/// `options.jobs` above one, scenarios that cannot disturb each other run
/// side by side in lanes (see [`RunContext::open_lane`]); verdicts and the
/// report's order are the same as with one job.
pub async fn run(
    ctx: &mut RunContext,
    scenarios: &[Scenario],
    options: &RunOptions,
    mut progress: impl FnMut(usize, usize, &ScenarioResult),
) -> RunReport {
    let started = Instant::now();
    let planned = plan(scenarios, options);
    let total = planned.len();
    let jobs = options.jobs.clamp(1, ctx.provider.lanes());
    let own_servers = ctx.server.is_some();
    let schedule = batches(&planned, jobs, own_servers, ctx.provider.has_key_lane());
    let last_together = schedule
        .iter()
        .rposition(|b| matches!(b, Batch::Together { .. }));
    let mut lanes: Vec<RunContext> = Vec::new();
    // The key lane, once opened; its books join at the end.
    let mut key_lane: Option<RunContext> = None;
    // Lane 0 is `ctx`; a lane that failed to open leaves its number unused.
    let mut next_lane = 1;
    let mut verdicts: BTreeMap<String, Verdict> = BTreeMap::new();
    let mut slots: Vec<Option<ScenarioResult>> = vec![None; total];
    let mut emitted = 0;
    for (b, batch) in schedule.into_iter().enumerate() {
        match batch {
            Batch::Alone(i) => {
                slots[i] = Some(judge(ctx, planned[i], options, &verdicts, Slate::Provider).await);
            }
            Batch::Together {
                lanes: members,
                keys,
            } => {
                // Lanes open together (each starts a server).
                let wanted = jobs.min(members.len()).saturating_sub(1 + lanes.len());
                let first = next_lane;
                next_lane += wanted;
                let opening = (first..first + wanted).map(|n| {
                    ctx.open_lane(crate::run_context::LaneIssuers {
                        upstream: crate::provider_link::lane_upstream_issuer(n),
                        trusted: IssuerRole::Trusted.name().to_owned(),
                    })
                });
                let key_lane_wanted = !keys.is_empty() && key_lane.is_none();
                let key_upstream = crate::provider_link::lane_upstream_issuer(next_lane);
                if key_lane_wanted {
                    next_lane += 1;
                }
                let opening_key_lane = async {
                    match key_lane_wanted {
                        true => Some(
                            ctx.open_lane(crate::run_context::LaneIssuers {
                                upstream: key_upstream,
                                trusted: crate::provider_link::KEY_LANE_TRUSTED.to_owned(),
                            })
                            .await,
                        ),
                        false => None,
                    }
                };
                let (opened_lanes, opened_key_lane) =
                    tokio::join!(futures_util::future::join_all(opening), opening_key_lane);
                match opened_key_lane {
                    Some(Ok(lane)) => key_lane = Some(lane),
                    Some(Err(e)) => eprintln!(
                        "warning: the key lane could not be opened ({e}): its scenarios run alone after the others in this batch"
                    ),
                    None => {}
                }
                for opened in opened_lanes {
                    match opened {
                        Ok(lane) => lanes.push(lane),
                        // Fewer lanes: the batch still runs, more slowly.
                        Err(e) => eprintln!(
                            "warning: a lane could not be opened ({e}): fewer scenarios run at once"
                        ),
                    }
                }
                // Every lane starts from a clean provider; without one, the
                // batch runs alone, each scenario resetting (or ERROR).
                let reset = match ctx.note_jwks_fetches().await {
                    Ok(()) => ctx.provider.admin().reset().await,
                    Err(e) => Err(e),
                };
                if let Err(e) = reset {
                    eprintln!(
                        "warning: the provider could not be reset ({e}): this batch runs one scenario at a time"
                    );
                    let mut alone = members;
                    alone.extend(keys);
                    alone.sort_unstable();
                    run_alone(ctx, &planned, &alone, options, &verdicts, &mut slots).await;
                } else {
                    let queue = std::sync::Mutex::new(
                        members
                            .into_iter()
                            .collect::<std::collections::VecDeque<_>>(),
                    );
                    let done = std::sync::Mutex::new(Vec::new());
                    let snapshot = &verdicts;
                    let workers = std::iter::once(&mut *ctx)
                        .chain(lanes.iter_mut())
                        .map(|lane| {
                            let (queue, done, planned) = (&queue, &done, &planned);
                            async move {
                                loop {
                                    let next =
                                        queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                                    let Some(i) = next else { break };
                                    let r = judge(lane, planned[i], options, snapshot, Slate::Lane)
                                        .await;
                                    done.lock().unwrap_or_else(|p| p.into_inner()).push((i, r));
                                }
                            }
                        });
                    // The key chain, one after another in its lane (or, without
                    // one, after the lanes, alone), each seeing the verdicts of
                    // the chain before it.
                    let key_chain = async {
                        let Some(lane) = key_lane.as_mut() else {
                            return Vec::new();
                        };
                        let mut seen = snapshot.clone();
                        let mut out = Vec::new();
                        for i in &keys {
                            let r = judge(lane, planned[*i], options, &seen, Slate::Lane).await;
                            seen.insert(r.id.clone(), r.verdict);
                            out.push((*i, r));
                        }
                        out
                    };
                    let (_, chain_results) =
                        tokio::join!(futures_util::future::join_all(workers), key_chain);
                    let ran_chain = !chain_results.is_empty() || keys.is_empty();
                    for (i, r) in done
                        .into_inner()
                        .unwrap_or_else(|p| p.into_inner())
                        .into_iter()
                        .chain(chain_results)
                    {
                        slots[i] = Some(r);
                    }
                    if !ran_chain {
                        for r in slots.iter().flatten() {
                            verdicts.entry(r.id.clone()).or_insert(r.verdict);
                        }
                        run_alone(ctx, &planned, &keys, options, &verdicts, &mut slots).await;
                    }
                }
            }
        }
        record(&mut verdicts, &slots, &mut emitted, total, &mut progress);
        // What the lanes saw joins this lane's books before the leak scans.
        if Some(b) == last_together {
            for lane in lanes.drain(..) {
                ctx.close_lane(lane).await;
            }
        }
    }
    if let Some(lane) = key_lane {
        ctx.close_lane(lane).await;
    }
    let results: Vec<ScenarioResult> = slots.into_iter().flatten().collect();
    let known: BTreeSet<&str> = scenarios.iter().map(|s| s.id.as_str()).collect();
    let stale = options
        .expected_failures
        .iter()
        .filter(|id| {
            !known.contains(id.as_str()) || verdicts.get(*id).is_some_and(|v| *v == Verdict::Pass)
        })
        .cloned()
        .collect();
    RunReport {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        spec_version: ctx.version,
        target: ctx.url.clone(),
        results,
        stale_expected_failures: stale,
        duration_ms: started.elapsed().as_millis() as u64,
        strict: options.strict,
        spec_version_source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::Reach;

    fn built_in() -> Vec<Scenario> {
        crate::scenario::load(&[]).expect("the built-in scenarios load")
    }

    #[test]
    fn one_job_runs_the_plan_in_order_alone() {
        let scenarios = built_in();
        let planned = plan(&scenarios, &RunOptions::default());
        let cut = batches(&planned, 1, true, true);
        assert_eq!(
            cut,
            (0..planned.len()).map(Batch::Alone).collect::<Vec<_>>()
        );
    }

    #[test]
    fn lanes_group_only_what_cannot_disturb_each_other_after_its_controls() {
        let scenarios = built_in();
        let planned = plan(&scenarios, &RunOptions::default());
        for (own_servers, key_lane) in [(true, true), (true, false), (false, true)] {
            let cut = batches(&planned, 4, own_servers, key_lane);
            let mut seen = vec![0; planned.len()];
            let mut done: BTreeSet<&str> = BTreeSet::new();
            let mut together = 0;
            for batch in &cut {
                let members = match batch {
                    Batch::Alone(i) => vec![*i],
                    Batch::Together { lanes, keys } => {
                        together += lanes.len();
                        for i in lanes {
                            let reach = planned[*i].reach();
                            assert!(
                                reach == Reach::Lane || (own_servers && reach == Reach::Server),
                                "{} ({reach:?}) runs beside others (own servers: {own_servers})",
                                planned[*i].id
                            );
                        }
                        assert!(
                            keys.is_empty() || (own_servers && key_lane),
                            "a key chain without a key lane"
                        );
                        // The chain runs in order: each may depend on the
                        // ones before it.
                        let mut chain_done = done.clone();
                        for i in keys {
                            let s = planned[*i];
                            assert!(s.reach() <= Reach::Trusted, "{} in the key lane", s.id);
                            for dep in s.dependencies() {
                                assert!(
                                    chain_done.contains(dep.as_str()),
                                    "{} runs before its control {dep}",
                                    s.id
                                );
                            }
                            chain_done.insert(s.id.as_str());
                            seen[*i] += 1;
                        }
                        lanes.clone()
                    }
                };
                for i in &members {
                    seen[*i] += 1;
                    for dep in planned[*i].dependencies() {
                        assert!(
                            done.contains(dep.as_str()),
                            "{} runs before (or beside) its control {dep}",
                            planned[*i].id
                        );
                    }
                }
                if let Batch::Together { keys, .. } = batch {
                    done.extend(keys.iter().map(|i| planned[*i].id.as_str()));
                }
                done.extend(members.iter().map(|i| planned[*i].id.as_str()));
            }
            assert!(seen.iter().all(|n| *n == 1), "every scenario runs once");
            assert!(together > 10, "lanes take most scenarios: {together}");
        }
    }

    #[test]
    fn shared_state_keeps_a_scenario_alone() {
        let scenarios = built_in();
        let reach = |id: &str| scenarios.iter().find(|s| s.id == id).unwrap().reach();
        // Rotates the trusted issuer's keys: the key lane's own.
        assert_eq!(reach("token.unknown_kid_refetched"), Reach::Trusted);
        // Reads every lane's logs.
        assert_eq!(reach("leak.logs"), Reach::Shared);
        // Its own upstream issuer and server.
        assert_eq!(reach("race.concurrent_refresh"), Reach::Server);
        // Requests and its own tokens only.
        assert_eq!(reach("token.expired"), Reach::Lane);
    }
}
