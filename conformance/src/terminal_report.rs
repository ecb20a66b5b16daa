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
    if matches!(r.verdict, Verdict::Skipped | Verdict::NotMeaningful)
        && let Some(m) = &r.message
    {
        let _ = write!(line, " ({m})");
    }
    line
}

/// Everything after the progress lines.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let failures: Vec<&ScenarioResult> = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::ExpectedFailure))
        .collect();
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
            let _ = writeln!(out, "  what happened: {m}");
        }
        for s in &r.spec {
            let _ = writeln!(out, "  rule: {} {}: \"{}\"", s.source, s.section, s.rule);
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
                let _ = writeln!(out, "  <   {k}: {v}");
            }
            if !e.body.is_empty() {
                let _ = writeln!(out, "  <   {}", e.body.replace('\n', " "));
            }
        }
    }
    if !report.stale_expected_failures.is_empty() {
        let _ = writeln!(
            out,
            "\nstale expected failures (they pass now, or no such scenario): {}",
            report.stale_expected_failures.join(", ")
        );
    }
    let s = report.summary();
    let _ = writeln!(
        out,
        "\n{} passed, {} failed (MUST), {} failed (SHOULD), {} expected failures, {} not meaningful, {} skipped in {:.2} s against {} (spec {})",
        s.passed,
        s.failed_must,
        s.failed_should,
        s.expected_failures,
        s.not_meaningful,
        s.skipped,
        report.duration_ms as f64 / 1000.0,
        report.target,
        report.spec_version
    );
    let _ = writeln!(
        out,
        "{}",
        if report.exit_code() == 0 {
            "RESULT: conformant (every MUST passed)"
        } else {
            "RESULT: not conformant"
        }
    );
    out
}
