//! JUnit XML for CI systems: one `<testsuite>` per family, one
//! `<testcase>` per scenario; failures carry the message, the rule and the
//! evidence; skipped and not-meaningful scenarios are `<skipped>`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::{RunReport, ScenarioResult, Verdict};

/// Escapes text for XML content and attributes, dropping characters XML
/// 1.0 cannot carry.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn details(r: &ScenarioResult) -> String {
    let mut t = String::new();
    if let Some(m) = &r.message {
        let _ = writeln!(t, "{m}");
    }
    for s in &r.spec {
        let _ = writeln!(t, "rule: {}, {}: \"{}\"", s.source, s.section, s.rule);
        if let Some(u) = &s.url {
            let _ = writeln!(t, "      {u}");
        }
    }
    if let Some(remedy) = &r.remedy {
        let _ = writeln!(t, "what to change: {remedy}");
    }
    for e in &r.evidence {
        let _ = writeln!(t, "> {}", e.request);
        match (e.status, &e.error) {
            (Some(s), _) => {
                let _ = writeln!(t, "< {s}");
            }
            (None, Some(err)) => {
                let _ = writeln!(t, "< no answer: {err}");
            }
            _ => {}
        }
        for (k, v) in &e.response_headers {
            let _ = writeln!(t, "<   {k}: {v}");
        }
        if !e.body.is_empty() {
            let _ = writeln!(t, "<   {}", e.body);
        }
    }
    t
}

/// The JUnit XML document.
pub fn render(report: &RunReport) -> String {
    let mut families: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for r in &report.results {
        families.entry(r.family.as_str()).or_default().push(r);
    }
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let s = report.summary();
    let _ = writeln!(
        x,
        "<testsuites name=\"mcp-auth-conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        report.results.len(),
        s.failed(),
        s.errors,
        s.skipped + s.not_meaningful + s.expected_failures,
        report.duration_ms as f64 / 1000.0
    );
    for (family, results) in families {
        let failures = results
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .count();
        let errors = results
            .iter()
            .filter(|r| r.verdict == Verdict::Error)
            .count();
        let skipped = results
            .iter()
            .filter(|r| !matches!(r.verdict, Verdict::Pass | Verdict::Fail | Verdict::Error))
            .count();
        let time: u64 = results.iter().map(|r| r.duration_ms).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">",
            escape(family),
            results.len(),
            time as f64 / 1000.0
        );
        for r in results {
            let _ = write!(
                x,
                "    <testcase classname=\"mcp-auth-conformance.{}\" name=\"{}\" time=\"{:.3}\"",
                escape(&r.family),
                escape(&r.id),
                r.duration_ms as f64 / 1000.0
            );
            match r.verdict {
                Verdict::Pass => x.push_str("/>\n"),
                Verdict::Fail => {
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                        escape(r.message.as_deref().unwrap_or("failed")),
                        r.severity,
                        escape(&details(r))
                    );
                }
                Verdict::Error => {
                    let _ = writeln!(
                        x,
                        ">\n      <error message=\"{}\" type=\"suite-error\">{}</error>\n    </testcase>",
                        escape(r.message.as_deref().unwrap_or("could not be judged")),
                        escape(&details(r))
                    );
                }
                other => {
                    let why = match other {
                        Verdict::ExpectedFailure => {
                            format!("expected failure: {}", r.message.as_deref().unwrap_or(""))
                        }
                        _ => r.message.clone().unwrap_or_default(),
                    };
                    let _ = writeln!(
                        x,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(&why)
                    );
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}
