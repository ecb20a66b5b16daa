//! The report people read in a terminal: one progress line per scenario as
//! it finishes, then every failure with its rule and evidence, then the
//! summary.

use std::fmt::Write as _;

use crate::report::{RunReport, ScenarioResult, Verdict};

/// The progress line of one finished scenario.
pub fn progress_line(done: usize, total: usize, r: &ScenarioResult) -> String {
    let width = total.to_string().len();
    let mut line = format!(
        "[{done:>width$}/{total}] {:<5} {:<6} {} — {}",
        r.verdict.label(),
        r.severity.to_string(),
        r.id,
        r.title
    );
    if matches!(
        r.verdict,
        Verdict::Skipped | Verdict::NotMeaningful | Verdict::Error
    ) && let Some(m) = &r.message
    {
        let _ = write!(line, " ({m})");
    }
    line
}

/// Server-provided text without control characters, so a server cannot
/// drive the terminal (ANSI escapes) through a report.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Everything after the progress lines.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    // What decides the result first: MUST failures, then SHOULD, then the
    // expected ones.
    let mut failures: Vec<&ScenarioResult> = report
        .results
        .iter()
        .filter(|r| {
            matches!(
                r.verdict,
                Verdict::Fail | Verdict::ExpectedFailure | Verdict::Error
            )
        })
        .collect();
    // The suite's own errors last: they say nothing about the server.
    failures.sort_by_key(|r| {
        (
            r.verdict == Verdict::Error,
            r.verdict == Verdict::ExpectedFailure,
            r.severity,
        )
    });
    for r in &failures {
        let _ = writeln!(
            out,
            "\n{} {} [{}] {}",
            r.verdict.label(),
            r.id,
            r.severity,
            r.title
        );
        if let Some(m) = &r.message {
            let _ = writeln!(out, "  what happened: {}", printable(m));
        }
        for s in &r.spec {
            let _ = writeln!(out, "  rule: {}, {}: \"{}\"", s.source, s.section, s.rule);
            if let Some(u) = &s.url {
                let _ = writeln!(out, "        {u}");
            }
        }
        if let Some(remedy) = &r.remedy {
            let _ = writeln!(out, "  what to change: {remedy}");
        }
        for e in &r.evidence {
            let _ = writeln!(out, "  > {}", e.request);
            for (k, v) in &e.request_headers {
                if k.eq_ignore_ascii_case("authorization") {
                    let _ = writeln!(out, "  >   {k}: {v}");
                }
            }
            match (e.status, &e.error) {
                (Some(s), _) => {
                    let _ = writeln!(out, "  < {s}");
                }
                (None, Some(err)) => {
                    let _ = writeln!(out, "  < no answer: {err}");
                }
                _ => {}
            }
            for (k, v) in &e.response_headers {
                let _ = writeln!(out, "  <   {k}: {}", printable(v));
            }
            if !e.body.is_empty() {
                let _ = writeln!(out, "  <   {}", printable(&e.body));
            }
        }
    }
    let (passing, unknown): (Vec<&String>, Vec<&String>) = report
        .stale_expected_failures
        .iter()
        .partition(|id| report.results.iter().any(|r| &r.id == *id));
    let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    if !passing.is_empty() {
        let _ = writeln!(
            out,
            "\nexpected failures that pass now (remove them from the baseline): {}",
            join(&passing)
        );
    }
    if !unknown.is_empty() {
        let _ = writeln!(
            out,
            "\nexpected failures that name no scenario (a typo?): {}",
            join(&unknown)
        );
    }
    let s = report.summary();
    let _ = writeln!(
        out,
        "\n{} passed, {} failed (MUST), {} failed (SHOULD), {} failed (BEST_PRACTICE), {} expected to fail, {} not meaningful, {} skipped, {} error in {:.2} s against {} (spec {})",
        s.passed,
        s.failed_must,
        s.failed_should,
        s.failed_best_practice,
        s.expected_failures,
        s.not_meaningful,
        s.skipped,
        s.errors,
        report.duration_ms as f64 / 1000.0,
        report.target,
        match &report.spec_version_source {
            Some(how) => format!("{}, {how}", report.spec_version),
            None => report.spec_version.to_string(),
        }
    );
    let _ = writeln!(out, "{}", report.result_line());
    out
}
