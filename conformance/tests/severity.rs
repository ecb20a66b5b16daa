//! "Give the check the severity that the rule's own keyword gives it, never
//! more" (../shared/DESIGN.md, Verdict discipline). For every built-in
//! scenario and every spec version it runs under, a MUST or SHOULD verdict
//! must rest on a `[[spec]]` whose `binding`:
//!
//! - is words of its `rule` (a substring),
//! - carries an RFC 2119 keyword at least as strong as the severity (in
//!   capitals, as whole words),
//! - has a subject, the words before that keyword, that names the server
//!   (see [`SUBJECTS`]), and
//! - comes from a document that applies to that version (see
//!   [`applies_to`]).
//!
//! BEST_PRACTICE needs no binding: it never fails a run.

use conformance::SpecVersion;
use conformance::scenario::{self, Requirement, Scenario, Severity, SpecRef};

/// Keywords that make a rule a MUST, longest first so `MUST NOT` is found
/// before `MUST`.
const MUST_KEYWORDS: &[&str] = &["MUST NOT", "SHALL NOT", "REQUIRED", "MUST", "SHALL"];
/// Keywords that make a rule a SHOULD.
const SHOULD_KEYWORDS: &[&str] = &["NOT RECOMMENDED", "SHOULD NOT", "RECOMMENDED", "SHOULD"];

/// How a binding's subject may name the server under test. Kept small on
/// purpose; each entry is the way one of the cited documents names it:
///
/// - `MCP servers`, `MCP Servers`, `A MCP server`, `the MCP server`: the MCP
///   authorization spec and its Security Best Practices;
/// - `Servers`, `servers`, `the server`: the same documents where the
///   subject is already clear (Error Handling, Runtime Insufficient Scope
///   Errors), never a bare "server" that could be another party;
/// - `The resource server`, `the resource server`, `Resource servers`:
///   OAuth 2.1, RFC 6750, RFC 9068 (an MCP server is an OAuth resource
///   server);
/// - `Clients and servers`: MCP Token Theft, binding both;
/// - `The client`, `the client`: RFC 6749's client, which is what the MCP
///   server is towards its upstream API in the upstream families (never
///   `MCP clients`, which is someone else);
/// - `Applications`: RFC 8725 (JWT best current practices), whose rules bind
///   the applications that consume JWTs, the server among them.
const SUBJECTS: &[&str] = &[
    "MCP servers",
    "MCP Servers",
    "A MCP server",
    "the MCP server",
    "Servers",
    "servers",
    "the server",
    "The resource server",
    "the resource server",
    "Resource servers",
    "Clients and servers",
    "The client",
    "the client",
    "Applications",
];

/// Whether `word` occurs in `text` at `at` as a whole word.
fn whole_word_at(text: &str, at: usize, word: &str) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at + word.len()..].chars().next();
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '_');
    boundary(before) && boundary(after)
}

/// The first keyword of `keywords` in `text` (whole words, capitals):
/// its position and the keyword.
fn first_keyword(text: &str, keywords: &[&'static str]) -> Option<(usize, &'static str)> {
    keywords
        .iter()
        .flat_map(|k| {
            text.match_indices(k)
                .filter(|(at, _)| whole_word_at(text, *at, k))
                .map(|(at, _)| (at, *k))
                .collect::<Vec<_>>()
        })
        .min_by_key(|(at, k)| (*at, std::cmp::Reverse(k.len())))
}

/// The strongest level a binding's first keyword gives.
fn keyword_level(binding: &str) -> Option<(Severity, usize, &'static str)> {
    let must = first_keyword(binding, MUST_KEYWORDS);
    let should = first_keyword(binding, SHOULD_KEYWORDS);
    match (must, should) {
        (Some((m, k)), Some((s, _))) if m <= s => Some((Severity::Must, m, k)),
        (_, Some((s, k))) => Some((Severity::Should, s, k)),
        (Some((m, k)), None) => Some((Severity::Must, m, k)),
        (None, None) => None,
    }
}

/// Whether the words before the keyword name the server: they start with a
/// subject (`MCP servers, acting in their role...`) or end with one (`When
/// a client makes a request ..., the server`).
fn subject_names_server(before_keyword: &str) -> bool {
    let s = before_keyword.trim().trim_end_matches(',').trim();
    SUBJECTS.iter().any(|subject| {
        s == *subject
            || s.strip_prefix(subject)
                .is_some_and(|rest| rest.starts_with([' ', ',']))
            || s.strip_suffix(subject)
                .is_some_and(|rest| rest.ends_with(' '))
    })
}

/// Whether the document `source` names applies to `version`. Kept simple:
/// an MCP document (`MCP ...`) applies to the revisions whose dates its
/// source names (`MCP 2025-06-18, 2025-11-25 Security Best Practices`); an
/// MCP document naming no date (the Authentication Guide) applies to none,
/// so it never sets a MUST or SHOULD. Any other document (an RFC, OAuth
/// 2.1) applies to every revision: they all build on it.
fn applies_to(source: &str, version: SpecVersion) -> bool {
    if source.starts_with("MCP ") {
        source.contains(version.as_str())
    } else {
        true
    }
}

/// Why `rule` does not set `needed` under `version`, or `None` when it does.
fn binding_problem(rule: &SpecRef, needed: Severity, version: SpecVersion) -> Option<String> {
    let Some(binding) = &rule.binding else {
        return Some("no binding".to_owned());
    };
    if !rule.rule.contains(binding.as_str()) {
        return Some(format!("binding {binding:?} is not words of its rule"));
    }
    let Some((level, at, keyword)) = keyword_level(binding) else {
        return Some(format!("binding {binding:?} carries no RFC 2119 keyword"));
    };
    if level > needed {
        return Some(format!(
            "binding {binding:?} says {keyword}, weaker than {needed}"
        ));
    }
    if !subject_names_server(&binding[..at]) {
        return Some(format!(
            "binding {binding:?}: the subject before {keyword} ({:?}) does not name the server (one of {SUBJECTS:?})",
            binding[..at].trim()
        ));
    }
    if !applies_to(&rule.source, version) {
        return Some(format!(
            "binding {binding:?} comes from {:?}, which does not apply to {version}",
            rule.source
        ));
    }
    None
}

/// The versions `s` really runs under.
fn runs_under(s: &Scenario) -> Vec<SpecVersion> {
    s.versions
        .iter()
        .copied()
        .filter(|v| !s.requires.contains(&Requirement::Sessions) || v.has_sessions())
        .collect()
}

fn problems(scenarios: &[Scenario]) -> Vec<String> {
    let mut out = Vec::new();
    for s in scenarios {
        for version in runs_under(s) {
            let needed = s.severity_for(version);
            if needed == Severity::BestPractice {
                continue;
            }
            let why: Vec<String> = s
                .spec
                .iter()
                .filter(|r| r.binding.is_some())
                .filter_map(|r| {
                    binding_problem(r, needed, version).map(|p| format!("{}: {p}", r.source))
                })
                .collect();
            let bound = s
                .spec
                .iter()
                .any(|r| binding_problem(r, needed, version).is_none());
            if !bound {
                out.push(format!(
                    "{} under {version} is {needed} but no [[spec]] binds the server at that level for that version{}",
                    s.id,
                    if why.is_empty() {
                        " (no [[spec]] has a binding)".to_owned()
                    } else {
                        format!(":\n    {}", why.join("\n    "))
                    }
                ));
            }
        }
    }
    out
}

#[test]
fn every_must_and_should_rests_on_a_binding_rule() {
    let scenarios = scenario::load(&[]).expect("the built-in scenarios load");
    let problems = problems(&scenarios);
    assert!(
        problems.is_empty(),
        "{} scenario/version pairs claim more than their rules say:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn rule(source: &str, text: &str, binding: &str) -> SpecRef {
    SpecRef {
        source: source.to_owned(),
        section: "1".to_owned(),
        rule: text.to_owned(),
        binding: Some(binding.to_owned()),
        url: None,
    }
}

#[test]
fn the_check_reads_keywords_subjects_and_versions() {
    let v = SpecVersion::V2025_11_25;
    let old = SpecVersion::V2025_06_18;
    let must = rule(
        "MCP 2025-11-25 Authorization",
        "MCP servers MUST validate access tokens. Clients MAY retry.",
        "MCP servers MUST validate access tokens.",
    );
    assert_eq!(binding_problem(&must, Severity::Must, v), None);
    assert_eq!(binding_problem(&must, Severity::Should, v), None);
    assert!(
        binding_problem(&must, Severity::Must, old)
            .unwrap()
            .contains("does not apply")
    );
    let should = rule(
        "RFC 6750",
        "the server SHOULD respond with 403",
        "the server SHOULD respond with 403",
    );
    assert!(
        binding_problem(&should, Severity::Must, v)
            .unwrap()
            .contains("weaker")
    );
    assert_eq!(binding_problem(&should, Severity::Should, old), None);
    let client = rule(
        "RFC 6750",
        "MCP clients MUST use the header",
        "MCP clients MUST use the header",
    );
    assert!(
        binding_problem(&client, Severity::Must, v)
            .unwrap()
            .contains("subject")
    );
    let not_quoted = rule("RFC 6750", "Servers MUST x", "Servers MUST y");
    assert!(
        binding_problem(&not_quoted, Severity::Must, v)
            .unwrap()
            .contains("not words")
    );
    let may = rule(
        "RFC 6750",
        "Resource servers MAY support this method.",
        "Resource servers MAY support this method.",
    );
    assert!(
        binding_problem(&may, Severity::Should, v)
            .unwrap()
            .contains("no RFC 2119")
    );
    // Whole words only: "MUSTard" is no keyword.
    assert_eq!(keyword_level("servers MUSTard"), None);
    assert_eq!(
        keyword_level("x MUST NOT y").map(|(_, _, k)| k),
        Some("MUST NOT")
    );
    assert!(subject_names_server(
        "When a client makes a request, the server "
    ));
    assert!(subject_names_server(
        "MCP servers, acting in their role as an OAuth 2.1 resource server, "
    ));
    assert!(!subject_names_server("MCP clients deployed to a server "));
    assert!(!applies_to("MCP Authentication Guide", v));
    assert!(applies_to(
        "MCP 2025-06-18, 2025-11-25, 2026-07-28 Authorization",
        old
    ));
}
