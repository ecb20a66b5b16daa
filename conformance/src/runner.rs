//! The run: which scenarios apply, in which order (positive controls first,
//! the leak scans last), isolation between them (provider reset, server
//! restart when asked or after a crash), verdicts, expected failures.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::report::{RunReport, ScenarioResult, Verdict};
use crate::run_context::RunContext;
use crate::scenario::{Requirement, Scenario};
use crate::steps::{FailureKind, StepFailure, run_scenario};

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
    out.sort_by_key(|s| {
        // Key changes last: a server's key cache may need a refetch
        // cooldown (or a rate limit's refill) to see the issuer's keys
        // again; the flood that spends the budget first, then rotations.
        let rank = if s.id == crate::scenario::VALID_TOKEN_CONTROL {
            0
        } else if s.control {
            1
        } else if s.runs_with_key_changes() {
            if s.disturbs_keys { 4 } else { 5 }
        } else if s.family == "leak" {
            3
        } else {
            2
        };
        (rank, s.id.clone())
    });
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

/// A clean slate before a scenario: the provider reset, a fresh upstream
/// grant (the reset took the old one), the server restarted when asked or
/// after a crash. A failure here is the suite's, never the server's.
async fn prepare_scenario(ctx: &mut RunContext, s: &Scenario) -> Result<(), String> {
    ctx.note_jwks_fetches()
        .await
        .map_err(|e| format!("the provider's ledger could not be read: {e}"))?;
    ctx.provider
        .admin()
        .reset()
        .await
        .map_err(|e| format!("the provider could not be reset before this scenario: {e}"))?;
    if s.requires.contains(&Requirement::Upstream) {
        ctx.reseed_upstream()
            .await
            .map_err(|e| format!("the server's upstream grant could not be seeded: {e}"))?;
    } else if let Some(server) = ctx.server.as_mut()
        && (s.fresh_server || !server.is_running())
    {
        server
            .restart()
            .await
            .map_err(|e| format!("the server could not be restarted: {e}"))?;
    }
    Ok(())
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

/// Runs the plan; `progress` sees each result as it comes.
pub async fn run(
    ctx: &mut RunContext,
    scenarios: &[Scenario],
    options: &RunOptions,
    mut progress: impl FnMut(usize, usize, &ScenarioResult),
) -> RunReport {
    let started = Instant::now();
    let planned = plan(scenarios, options);
    let total = planned.len();
    let mut verdicts: BTreeMap<String, Verdict> = BTreeMap::new();
    let mut results = Vec::new();
    for (i, s) in planned.iter().enumerate() {
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
            let outcome = match prepare_scenario(ctx, s).await {
                Err(message) => Err(StepFailure {
                    step: 0,
                    kind: FailureKind::Harness,
                    message,
                    evidence: Vec::new(),
                }),
                Ok(()) => run_scenario(ctx, &s.steps).await,
            };
            if let Err(f) = outcome {
                let crashed = ctx.server.as_mut().is_some_and(|srv| !srv.is_running());
                let message = match f.kind {
                    FailureKind::Harness if f.evidence.is_empty() && f.step == 0 => f.message,
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
                let hint = if f.kind == FailureKind::Server
                    && s.requires.contains(&Requirement::Upstream)
                {
                    ctx.upstream_client_auth_hint().await
                } else {
                    None
                };
                let message = match hint {
                    Some(h) => format!("{message} ({h})"),
                    None => message,
                };
                // A 400 without a Bearer challenge to a valid token is about
                // the request, not the token: most often a protocol version
                // the server does not speak. That is no finding about its
                // auth: ERROR, said plainly, and everything that depends on
                // the control with it.
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
                result.message = Some(match f.kind {
                    FailureKind::Precondition => format!(
                        "{message}: the server never reached the state this rule is about, so the scenario proves nothing"
                    ),
                    _ if crashed => format!("{message} (the server exited during this scenario)"),
                    _ => message,
                });
                result.evidence = f.evidence.iter().map(|e| e.redacted(&ctx.book)).collect();
            }
        }
        result.duration_ms = t0.elapsed().as_millis() as u64;
        verdicts.insert(s.id.clone(), result.verdict);
        progress(i + 1, total, &result);
        results.push(result);
    }
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
