//! The Markdown report (`--summary`, for GitHub job summaries and
//! pull-request comments) rendered from hand-built `RunReport`s, snapshotted:
//! one with a result of each verdict and stale baseline entries, one that
//! is conformant with SHOULD and expected failures. Then what a server
//! could put in a report stays text (no markup, no broken tables, no
//! escape from a code block or a `<details>`), and a report with much
//! evidence stays within a pull-request comment.

use conformance::evidence::Exchange;
use conformance::markdown_report::{self, EVIDENCE_BUDGET};
use conformance::report::ScenarioResult;
use conformance::scenario::Severity;

mod run_report_fixture;

use run_report_fixture::*;

#[test]
fn markdown_summary() {
    let report = full_report();
    let md = markdown_report::render(&report);
    insta::assert_snapshot!(md);
    check_structure(&md);
    assert!(md.starts_with("## ❌ MCP auth conformance: not conformant\n"));
    // MUST failures lead the table, SHOULD ones follow.
    let must = md.find("| `token.wrong_audience`").unwrap();
    let should = md.find("| `discovery.challenge_scope`").unwrap();
    assert!(must < should, "{md}");
    // The rule is linked when it has a link.
    assert!(md.contains("[MCP 2025-11-25 Authorization, Token Handling](https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling)"));
}

#[test]
fn markdown_summary_conformant() {
    let report = report(
        vec![
            pass(),
            fail_should(),
            expected_failure(),
            skipped(),
            not_meaningful(Severity::Should),
        ],
        &[],
    );
    assert_eq!(report.exit_code(), 0);
    let md = markdown_report::render(&report);
    insta::assert_snapshot!(md);
    check_structure(&md);
    assert!(md.starts_with("## ✅ MCP auth conformance: conformant (every MUST passed)\n"));
    assert!(!md.contains("not conformant"));
}

#[test]
fn verdict_headlines() {
    let all_pass = markdown_report::render(&report(vec![pass()], &[]));
    assert!(
        all_pass.starts_with(
            "## ✅ MCP auth conformance: conformant (every MUST passed)\n\nAgainst `http://127.0.0.1:3000/mcp` (MCP spec 2025-11-25): every MUST scenario that applies passed.\n"
        ),
        "{all_pass}"
    );
    assert!(!all_pass.contains("### Failed"), "{all_pass}");
    check_structure(&all_pass);

    // Nothing failed, but a MUST scenario could not be judged.
    let unproven =
        markdown_report::render(&report(vec![pass(), not_meaningful(Severity::Must)], &[]));
    assert!(
        unproven.starts_with(
            "## ❌ MCP auth conformance: not conformant\n\nAgainst `http://127.0.0.1:3000/mcp` (MCP spec 2025-11-25): **1 MUST scenario could not be judged** because a positive control failed.\n"
        ),
        "{unproven}"
    );
    check_structure(&unproven);

    let both = markdown_report::render(&full_report());
    assert!(
        both.contains("**1 MUST scenario failed** and **1 more could not be judged**"),
        "{both}"
    );
}

#[test]
fn what_a_server_sends_stays_text() {
    let hostile = "got <script>alert(1)</script> | a|b `code` *bold* _em_ [click](https://evil.example) ~~gone~~ &amp; \\| \u{1b}[31mred\u{7}\nsecond line\r\n</details>";
    let mut r = fail_must();
    r.id = "token.odd|id`<b>".to_owned();
    r.title = "title with | pipe and <i>html</i> and </summary>".to_owned();
    r.message = Some(hostile.to_owned());
    r.remedy = Some("remedy | <img src=x onerror=alert(1)>".to_owned());
    r.spec.push(spec(
        "Odd [source]",
        "a|b",
        "rule with ``` fence and </details>",
        Some("https://example.com/a b|c(d)<e>&f=\"g\""),
    ));
    r.spec.push(spec(
        "Not a web link",
        "1",
        "x",
        Some("javascript:alert(1)"),
    ));
    r.evidence.push(Exchange {
        request: format!("POST {TARGET} (ping)"),
        request_headers: Vec::new(),
        status: Some(500),
        response_headers: headers(&[("content-type", "text/markdown")]),
        body: "```\n</details>\n\n# heading\n````\n<script>x</script>\u{1b}[2J".to_owned(),
        error: None,
    });
    let mut s = skipped();
    s.message = Some(hostile.to_owned());
    let md = markdown_report::render(&report(vec![r, s], &["a|b`c"]));
    check_structure(&md);

    // Outside code, every `<` is one of the report's own tags.
    for (line, in_code) in lines(&md) {
        if in_code {
            continue;
        }
        let text = without_code_spans(line);
        let mut rest = text.as_str();
        while let Some(i) = rest.find('<') {
            rest = &rest[i..];
            assert!(
                [
                    "<details>",
                    "</details>",
                    "<summary>",
                    "</summary>",
                    "<strong>",
                    "</strong>",
                    "<code>",
                    "</code>",
                    "<br>"
                ]
                .iter()
                .any(|t| rest.starts_with(t)),
                "markup in {line:?}"
            );
            rest = &rest[1..];
        }
        assert!(
            !line.contains('\u{1b}') && !line.contains('\u{7}'),
            "{line:?}"
        );
        assert!(!line.contains("[click](https"), "a live link in {line:?}");
        assert!(
            !line.contains("](javascript:"),
            "a javascript: link in {line:?}"
        );
    }
    // The message is one escaped line in the table.
    assert!(
        md.contains("| got &lt;script&gt;alert(1)&lt;/script&gt; \\| a\\|b \\`code\\` \\*bold\\* \\_em\\_ \\[click\\](https://evil.example) \\~\\~gone\\~\\~ &amp;amp; \\\\\\|  \\[31mred  second line  &lt;/details&gt; |"),
        "{md}"
    );
    // The id keeps its backtick inside a longer code span, and its pipe is
    // escaped in the table.
    assert!(md.contains("| ``token.odd\\|id`<b>``<br>"), "{md}");
    assert!(md.contains("(a typo?): ``a|b`c``\n"), "{md}");
    // The odd link is percent-encoded; the javascript: one is text.
    assert!(
        md.contains(
            "[Odd \\[source\\], a\\|b](https://example.com/a%20b%7Cc%28d%29%3Ce%3E&amp;f=%22g%22)"
        ),
        "{md}"
    );
    assert!(md.contains("<br>Not a web link, 1 |"), "{md}");
    // The body is verbatim inside a fence longer than its own.
    assert!(
        md.contains("`````text\n> POST http://127.0.0.1:3000/mcp (ping)\n< 500\n< content-type: text/markdown\n\n```\n</details>\n\n# heading\n````\n<script>x</script> [2J\n`````\n"),
        "{md}"
    );
    // The summary is HTML-escaped.
    assert!(
        md.contains("<summary><strong>FAIL</strong> <code>token.odd|id`&lt;b&gt;</code> [MUST]: title with | pipe and &lt;i&gt;html&lt;/i&gt; and &lt;/summary&gt;</summary>"),
        "{md}"
    );
}

#[test]
fn much_evidence_stays_within_a_pull_request_comment() {
    let big = "x".repeat(600);
    let results: Vec<ScenarioResult> = (0..40)
        .map(|i| {
            let mut r = fail_must();
            r.id = format!("token.case_{i}");
            for e in &mut r.evidence {
                e.body = big.clone();
            }
            let e = r.evidence[0].clone();
            r.evidence.extend([e.clone(), e]);
            r
        })
        .collect();
    let md = markdown_report::render(&report(results, &[]));
    check_structure(&md);
    assert!(md.len() < 65_536, "{} bytes", md.len());
    assert!(md.len() > EVIDENCE_BUDGET / 2, "{} bytes", md.len());
    // Every failure is in the table; the details of the first ones are
    // there, the rest are counted.
    for i in 0..40 {
        assert!(md.contains(&format!("| `token.case_{i}`<br>")), "{i}");
    }
    let shown = md.matches("<summary><strong>FAIL</strong>").count();
    assert!(shown > 0 && shown < 40, "{shown}");
    for i in 0..shown {
        assert!(md.contains(&format!("<code>token.case_{i}</code>")), "{i}");
    }
    assert!(md.contains(&"x".repeat(600)));
    assert!(
        md.contains(&format!(
            "_Details left out for {} more scenarios to keep this summary within GitHub's size limits: see the JSON or JUnit report._",
            40 - shown
        )),
        "{md}"
    );
}

// ---------------------------------------------------------------------------
// Structure

/// The lines of a document, each with whether it is inside a fenced code
/// block (fence lines included).
fn lines(md: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut fence: Option<usize> = None;
    for line in md.lines() {
        let ticks = line.chars().take_while(|&c| c == '`').count();
        match fence {
            None if ticks >= 3 => {
                fence = Some(ticks);
                out.push((line, true));
            }
            Some(n) if ticks >= n && line[ticks..].trim().is_empty() => {
                fence = None;
                out.push((line, true));
            }
            Some(_) => out.push((line, true)),
            None => out.push((line, false)),
        }
    }
    assert!(fence.is_none(), "a code block is never closed:\n{md}");
    out
}

/// A line without its inline code spans (which show their content
/// literally): a backtick run opens one, the next run of the same length
/// closes it.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let run_at = |i: usize| chars[i..].iter().take_while(|&&c| c == '`').count();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            out.push(chars[i]);
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let n = run_at(i);
        let mut j = i + n;
        let close = loop {
            if j >= chars.len() {
                break None;
            }
            if chars[j] == '`' {
                let m = run_at(j);
                if m == n {
                    break Some(j);
                }
                j += m;
            } else {
                j += 1;
            }
        };
        match close {
            Some(j) => {
                out.push_str("`code`");
                i = j + n;
            }
            None => {
                out.extend(&chars[i..i + n]);
                i += n;
            }
        }
    }
    out
}

/// Unescaped `|` in a table row.
fn cells(row: &str) -> usize {
    let mut n = 0;
    let mut escaped = false;
    for c in row.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => n += 1,
            _ => escaped = false,
        }
    }
    n
}

/// Fences close; `<details>` and `</details>` pair up outside code, each
/// on a line of its own, with a blank line after the summary (so Markdown
/// inside is rendered) and before the close; every table row has as many
/// cells as its header.
fn check_structure(md: &str) {
    let all = lines(md);
    let mut open = 0usize;
    let mut columns: Option<usize> = None;
    for (i, (line, in_code)) in all.iter().enumerate() {
        if *in_code {
            columns = None;
            continue;
        }
        if line.contains("<details>") {
            assert_eq!(*line, "<details>", "line {i}");
            assert!(all[i + 1].0.starts_with("<summary>") && all[i + 1].0.ends_with("</summary>"));
            assert_eq!(all[i + 2].0, "", "no blank line after the summary at {i}");
            open += 1;
        }
        if line.contains("</details>") {
            assert_eq!(*line, "</details>", "line {i}");
            assert_eq!(all[i - 1].0, "", "no blank line before </details> at {i}");
            assert!(open > 0, "</details> without <details> at line {i}");
            open -= 1;
        }
        if line.starts_with('|') {
            let n = cells(line);
            match columns {
                None => columns = Some(n),
                Some(c) => assert_eq!(n, c, "row {i} has {n} separators, header {c}: {line}"),
            }
            assert!(line.ends_with('|') && !line.ends_with("\\|"), "{line}");
        } else {
            columns = None;
        }
    }
    assert_eq!(open, 0, "unclosed <details>");
    assert!(!md.ends_with("\n\n") && md.ends_with('\n'));
}
