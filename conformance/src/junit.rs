//! JUnit XML for CI systems: one `<testsuite>` per family, one
//! `<testcase>` per scenario; failures carry the message, the rule and the
//! evidence; skipped and not-meaningful scenarios are `<skipped>`.
//!
//! The document is built and written by `quick-junit` (nextest's JUnit data
//! model and serializer), which escapes the markup and computes the counts;
//! what XML 1.0 cannot carry is dropped before it is handed over.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::report::{RunReport, ScenarioResult, Verdict};

/// Whether XML 1.0 can carry `c` (its `Char` production, less the
/// surrogates a `char` cannot be).
fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// `s` without the characters XML 1.0 cannot carry.
fn xml_chars(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_xml_char) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

/// Text as handed to quick-junit. Its `XmlString` strips ANSI escape
/// sequences and drops C0 controls (tabs and carriage returns among them)
/// but keeps U+FFFE and U+FFFF, which XML cannot carry; and after a stray
/// ESC an unterminated sequence would swallow the rest of the text. So what
/// XML cannot carry is dropped first (ESC among it: the rest of a colour
/// code stays as text, as before), and tabs become spaces rather than
/// vanish and join the words on either side.
fn text(s: &str) -> String {
    xml_chars(s).replace('\t', " ")
}

fn seconds(ms: u64) -> Duration {
    Duration::from_millis(ms)
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

/// A failure or an error: message and type as attributes, [`details`] as
/// the element's text.
fn problem(kind: NonSuccessKind, message: &str, ty: &str, r: &ScenarioResult) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status
        .set_message(text(message))
        .set_type(text(ty))
        .set_description(text(&details(r)));
    status
}

fn skipped(message: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::skipped();
    status.set_message(text(message));
    status
}

fn test_case(r: &ScenarioResult) -> TestCase {
    let message = r.message.as_deref();
    let status = match r.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail => problem(
            NonSuccessKind::Failure,
            message.unwrap_or("failed"),
            &r.severity.to_string(),
            r,
        ),
        Verdict::Error => problem(
            NonSuccessKind::Error,
            message.unwrap_or("could not be judged"),
            "suite-error",
            r,
        ),
        Verdict::ExpectedFailure => {
            skipped(&format!("expected failure: {}", message.unwrap_or("")))
        }
        Verdict::Skipped | Verdict::NotMeaningful => skipped(message.unwrap_or("")),
    };
    let mut case = TestCase::new(text(&r.id), status);
    case.set_classname(text(&format!("mcp-auth-conformance.{}", r.family)))
        .set_time(seconds(r.duration_ms));
    case
}

/// The JUnit XML document. quick-junit counts tests, failures, errors and
/// skipped cases per suite and over the run; every verdict other than
/// pass, fail and error (skipped, not meaningful, expected failure) is a
/// skipped case.
pub fn render(report: &RunReport) -> String {
    let mut families: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for r in &report.results {
        families.entry(r.family.as_str()).or_default().push(r);
    }
    let mut junit = Report::new("mcp-auth-conformance");
    junit.set_time(seconds(report.duration_ms));
    for (family, results) in families {
        let mut suite = TestSuite::new(text(family));
        suite.set_time(seconds(results.iter().map(|r| r.duration_ms).sum()));
        suite.add_test_cases(results.into_iter().map(test_case));
        junit.add_test_suite(suite);
    }
    junit
        .to_string()
        .expect("writing a JUnit report into memory cannot fail")
}
