//! The report for GitHub job summaries and pull-request comments
//! (GitHub-flavoured Markdown): the verdict first, a table of counts, the
//! failed scenarios with their rule and what to change, the evidence of
//! each failure collapsed under `<details>`, the baseline (expected
//! failures and stale entries), and what was not run.
//!
//! Everything from a scenario or a server is text, never markup: table
//! cells and list items escape Markdown punctuation, `|` and the
//! HTML-sensitive characters; HTML elements get entities; evidence sits in
//! fenced code blocks whose fence is longer than any backtick run inside.
//! The evidence is already redacted in the report. Details are left out
//! once the document nears the size of a pull-request comment (see
//! [`EVIDENCE_BUDGET`]); the table still names every failure.

use std::fmt::Write as _;

use crate::evidence::Exchange;
use crate::report::{RunReport, ScenarioResult, Verdict};
use crate::scenario::{Severity, SpecRef};

/// The `<details>` of failures (rules quoted, evidence) are written while
/// the document stays shorter than this many bytes; the rest are counted in
/// one line. GitHub takes 65,536 characters in a pull-request comment and
/// 1 MiB in a job summary; the tables after the details stay well within
/// the difference for the built-in scenarios.
pub const EVIDENCE_BUDGET: usize = 48_000;

/// Text for Markdown inline content (table cells, list items, paragraphs):
/// control characters and line breaks become spaces; `&`, `<` and `>`
/// become entities; `|` and the Markdown punctuation that could start
/// emphasis, code or a link are backslash-escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for HTML element content and attribute values.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An inline code span holding `s` verbatim (control characters aside).
fn code(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let fence = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || s.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// [`code`] for a table cell: GFM splits the row at every `|` not
/// escaped, also inside code, and reads `\|` there as `|`.
fn cell_code(s: &str) -> String {
    code(&s.replace('|', "\\|"))
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// `[text](url)` for http(s) links, the bare text otherwise.
fn link(text: &str, url: Option<&str>) -> String {
    let text = escape(text);
    let Some(url) = url.map(str::trim) else {
        return text;
    };
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return text;
    }
    let mut dest = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' => dest.push(c),
            '-' | '.' | '_' | '~' | ':' | '/' | '?' | '#' | '@' | '!' | '$' | '\'' | '*' | '+'
            | ',' | ';' | '=' | '%' => dest.push(c),
            '&' => dest.push_str("&amp;"),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(dest, "%{b:02X}");
                }
            }
        }
    }
    format!("[{text}]({dest})")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn rule_name(s: &SpecRef) -> String {
    format!("{}, {}", s.source, s.section)
}

/// The rules of a scenario, linked, one per line of a table cell.
fn rules_cell(r: &ScenarioResult) -> String {
    if r.spec.is_empty() {
        return "—".to_owned();
    }
    r.spec
        .iter()
        .map(|s| link(&rule_name(s), s.url.as_deref()))
        .collect::<Vec<_>>()
        .join("<br>")
}

fn or_dash(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.trim().is_empty() => escape(s),
        _ => "—".to_owned(),
    }
}

/// One exchange as a transcript: `>` what was sent, `<` what came back,
/// then the body.
fn transcript(e: &Exchange) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "> {}", e.request);
    for (k, v) in &e.request_headers {
        if k.eq_ignore_ascii_case("authorization") {
            let _ = writeln!(t, "> {k}: {v}");
        }
    }
    match (e.status, &e.error) {
        (Some(s), _) => {
            let _ = writeln!(t, "< {s}");
        }
        (None, Some(err)) => {
            let _ = writeln!(t, "< no answer: {err}");
        }
        (None, None) => {}
    }
    for (k, v) in &e.response_headers {
        let _ = writeln!(t, "< {k}: {v}");
    }
    if !e.body.is_empty() {
        let _ = writeln!(t, "\n{}", e.body);
    }
    // Verbatim, but without what could drive a terminal or break lines.
    t.replace("\r\n", "\n")
        .chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

/// A fenced code block holding `text` verbatim.
fn code_block(text: &str) -> String {
    let fence = "`".repeat(longest_run(text, '`').max(2) + 1);
    let text = text.trim_end_matches('\n');
    format!("{fence}text\n{text}\n{fence}\n")
}

/// The collapsible details of one failure (or expected failure).
fn details(r: &ScenarioResult) -> String {
    let mut d = String::new();
    let _ = writeln!(
        d,
        "<details>\n<summary><strong>{}</strong> <code>{}</code> [{}]: {}</summary>\n",
        r.verdict.label(),
        html(&r.id),
        r.severity,
        html(&r.title)
    );
    if let Some(m) = &r.message {
        let _ = writeln!(d, "**What happened:** {}\n", escape(m));
    }
    if !r.spec.is_empty() {
        let _ = writeln!(
            d,
            "**{}:**\n",
            if r.spec.len() == 1 { "Rule" } else { "Rules" }
        );
        for s in &r.spec {
            let _ = writeln!(
                d,
                "- {}: “{}”",
                link(&rule_name(s), s.url.as_deref()),
                escape(&s.rule)
            );
        }
        d.push('\n');
    }
    if let Some(remedy) = &r.remedy {
        let _ = writeln!(d, "**What to change:** {}\n", escape(remedy));
    }
    if !r.evidence.is_empty() {
        let _ = writeln!(
            d,
            "**Evidence** ({}, tokens redacted):\n",
            plural(r.evidence.len(), "exchange", "exchanges")
        );
    }
    for e in &r.evidence {
        d.push_str(&code_block(&transcript(e)));
        d.push('\n');
    }
    d.push_str("</details>\n\n");
    d
}

/// The headline: the verdict and why.
fn headline(report: &RunReport, out: &mut String) {
    let s = report.summary();
    let must_unproven = report
        .results
        .iter()
        .filter(|r| r.verdict == Verdict::NotMeaningful && r.severity == Severity::Must)
        .count();
    let target = format!(
        "Against {} (MCP spec {})",
        code(&report.target),
        report.spec_version
    );
    let they = |n: usize| if n == 1 { "it does" } else { "they do" };
    let code = report.exit_code();
    if code == 0 {
        let bar = if report.strict {
            "every MUST and SHOULD passed"
        } else {
            "every MUST passed"
        };
        let _ = writeln!(out, "## ✅ MCP auth conformance: conformant ({bar})\n");
        let _ = write!(out, "{target}: every MUST scenario that applies passed.");
        if s.failed_should > 0 {
            let _ = write!(
                out,
                " {} failed: worth fixing, but {} not fail the run.",
                plural(s.failed_should, "SHOULD scenario", "SHOULD scenarios"),
                they(s.failed_should)
            );
        }
        if s.failed_best_practice > 0 {
            let _ = write!(
                out,
                " {} failed: advice, never a failure of the run.",
                plural(
                    s.failed_best_practice,
                    "best-practice scenario",
                    "best-practice scenarios"
                ),
            );
        }
        if s.expected_failures > 0 {
            let _ = write!(
                out,
                " {} failed as the expected-failures file says; {} not fail the run either.",
                plural(s.expected_failures, "scenario", "scenarios"),
                they(s.expected_failures)
            );
        }
        out.push_str("\n\n");
    } else if code == 2 {
        let _ = writeln!(out, "## ⚠️ MCP auth conformance: incomplete\n");
        let _ = writeln!(
            out,
            "{target}: nothing failed, but **{} could not be judged** because of the suite, the profile or the provider (ERROR). That is not the server's doing.\n",
            plural(s.errors, "scenario", "scenarios")
        );
    } else {
        let _ = writeln!(out, "## ❌ MCP auth conformance: not conformant\n");
        let failed = if report.strict {
            s.failed_must + s.failed_should
        } else {
            s.failed_must
        };
        let kind = if report.strict {
            ("MUST/SHOULD scenario", "MUST/SHOULD scenarios")
        } else {
            ("MUST scenario", "MUST scenarios")
        };
        let why = match (failed, must_unproven) {
            (f, 0) => format!("**{} failed**", plural(f, kind.0, kind.1)),
            (0, u) => format!(
                "**{} could not be judged** because a positive control failed",
                plural(u, kind.0, kind.1)
            ),
            (f, u) => format!(
                "**{} failed** and **{u} more could not be judged** because a positive control failed",
                plural(f, kind.0, kind.1)
            ),
        };
        let _ = writeln!(out, "{target}: {why}.\n");
    }
}

fn counts(report: &RunReport, out: &mut String) {
    let s = report.summary();
    out.push_str("| result | scenarios |\n| --- | ---: |\n");
    for (label, n) in [
        ("passed", s.passed),
        ("failed (MUST)", s.failed_must),
        ("failed (SHOULD)", s.failed_should),
        ("failed (BEST_PRACTICE)", s.failed_best_practice),
        ("expected to fail", s.expected_failures),
        ("not meaningful", s.not_meaningful),
        ("skipped", s.skipped),
        ("error (suite, profile or provider)", s.errors),
    ] {
        let _ = writeln!(out, "| {label} | {n} |");
    }
    let _ = writeln!(
        out,
        "| **total** | **{}** |\n\nRun by mcp-auth-conformance {} in {:.2} s.\n",
        report.results.len(),
        escape(&report.tool_version),
        report.duration_ms as f64 / 1000.0
    );
}

fn failure_table(results: &[&ScenarioResult], out: &mut String) {
    out.push_str(
        "| scenario | severity | what happened | rule | what to change |\n| --- | --- | --- | --- | --- |\n",
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {}<br>{} | {} | {} | {} | {} |",
            cell_code(&r.id),
            escape(&r.title),
            r.severity,
            or_dash(r.message.as_deref()),
            rules_cell(r),
            or_dash(r.remedy.as_deref())
        );
    }
    out.push('\n');
}

/// Writes the details of each result while the document stays within
/// [`EVIDENCE_BUDGET`]; says how many were left out.
fn all_details(results: &[&ScenarioResult], out: &mut String) {
    let mut left_out = 0;
    for r in results {
        let d = details(r);
        if left_out == 0 && out.len() + d.len() <= EVIDENCE_BUDGET {
            out.push_str(&d);
        } else {
            left_out += 1;
        }
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "_Details left out for {left_out} more {} to keep this summary within GitHub's size limits: see the JSON or JUnit report._\n",
            if left_out == 1 {
                "scenario"
            } else {
                "scenarios"
            }
        );
    }
}

fn brief_list(results: &[&ScenarioResult], with_severity: bool, out: &mut String) {
    for r in results {
        let _ = write!(out, "- {}", code(&r.id));
        if with_severity {
            let _ = write!(out, " ({})", r.severity);
        }
        match r.message.as_deref() {
            Some(m) if !m.trim().is_empty() => {
                let _ = writeln!(out, ": {}", escape(m));
            }
            _ => out.push('\n'),
        }
    }
    out.push('\n');
}

/// The Markdown document.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    headline(report, &mut out);
    counts(report, &mut out);

    let by = |v: Verdict| -> Vec<&ScenarioResult> {
        report.results.iter().filter(|r| r.verdict == v).collect()
    };
    // MUST failures first, then SHOULD; run order otherwise.
    let mut failed = by(Verdict::Fail);
    failed.sort_by_key(|r| r.severity);
    let expected = by(Verdict::ExpectedFailure);
    let not_meaningful = by(Verdict::NotMeaningful);
    let errors = by(Verdict::Error);
    let skipped = by(Verdict::Skipped);
    let passed = by(Verdict::Pass);

    if !failed.is_empty() {
        let _ = writeln!(out, "### Failed scenarios\n");
        failure_table(&failed, &mut out);
        all_details(&failed, &mut out);
    }

    let (passing_now, unknown): (Vec<&String>, Vec<&String>) = report
        .stale_expected_failures
        .iter()
        .partition(|id| report.results.iter().any(|r| &r.id == *id));
    if !expected.is_empty() || !passing_now.is_empty() || !unknown.is_empty() {
        let _ = writeln!(out, "### Baseline (expected failures)\n");
    }
    if !expected.is_empty() {
        let _ = writeln!(
            out,
            "{} as the expected-failures file says; {} not fail the run.\n",
            plural(expected.len(), "scenario failed", "scenarios failed"),
            if expected.len() == 1 {
                "it does"
            } else {
                "they do"
            }
        );
        out.push_str("| scenario | severity | what happened |\n| --- | --- | --- |\n");
        for r in &expected {
            let _ = writeln!(
                out,
                "| {}<br>{} | {} | {} |",
                cell_code(&r.id),
                escape(&r.title),
                r.severity,
                or_dash(r.message.as_deref())
            );
        }
        out.push('\n');
        all_details(&expected, &mut out);
    }
    let ids = |v: &[&String]| v.iter().map(|s| code(s)).collect::<Vec<_>>().join(", ");
    if !passing_now.is_empty() {
        let _ = writeln!(
            out,
            "**Expected to fail, but passed:** {}. Remove them from the expected-failures file, so the baseline only shrinks.\n",
            ids(&passing_now)
        );
    }
    if !unknown.is_empty() {
        let _ = writeln!(
            out,
            "**In the expected-failures file, but no scenario has this id** (a typo?): {}\n",
            ids(&unknown)
        );
    }

    if !errors.is_empty() {
        let _ = writeln!(
            out,
            "### Errors ({})\n\nNot judged, because of the suite, the profile or the provider (never charged to the server):\n",
            errors.len()
        );
        brief_list(&errors, true, &mut out);
    }
    if !not_meaningful.is_empty() {
        let _ = writeln!(
            out,
            "### Not meaningful ({})\n\nNot judged, because a positive control they depend on failed:\n",
            not_meaningful.len()
        );
        brief_list(&not_meaningful, true, &mut out);
    }
    if !skipped.is_empty() {
        let _ = writeln!(
            out,
            "### Skipped ({})\n\nNot called for by the profile or the spec version:\n",
            skipped.len()
        );
        brief_list(&skipped, false, &mut out);
    }
    if !passed.is_empty() {
        let _ = writeln!(
            out,
            "<details>\n<summary>Passed ({})</summary>\n\n{}\n\n</details>",
            passed.len(),
            passed
                .iter()
                .map(|r| code(&r.id))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}
