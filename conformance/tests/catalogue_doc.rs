//! `docs/scenarios.md` is the catalogue `mcp-auth-conformance list --format
//! markdown` prints for the built-in scenarios, committed so it can be read
//! on the web. This test fails when the committed file is stale, and checks
//! what a reader relies on: every scenario cites a rule that can be looked
//! up, ids are unique, families and ids are sorted, and every table row is
//! one line with four cells.
//!
//! Regenerate the file with [`REGENERATE`] from the workspace root, or
//! `UPDATE_SCENARIO_DOC=1 cargo test -p conformance --test catalogue_doc`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use conformance::catalogue::{self, ListFormat};
use conformance::scenario::{self, Scenario, SpecRef};

/// The command that rewrites `docs/scenarios.md`.
const REGENERATE: &str =
    "cargo run -q -p conformance -- list --format markdown > docs/scenarios.md";
/// Set to rewrite `docs/scenarios.md` instead of failing.
const UPDATE_VAR: &str = "UPDATE_SCENARIO_DOC";
/// The doc, relative to the workspace root.
const DOC: &str = "docs/scenarios.md";

fn doc_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .join(DOC)
}

fn built_in() -> Vec<Scenario> {
    scenario::load(&[]).expect("the built-in scenarios load")
}

/// What `list --format markdown` prints, rendered in-process.
fn rendered() -> String {
    catalogue::render(&built_in(), ListFormat::Markdown)
}

/// Where `committed` first differs from `fresh`, for the failure message:
/// the line, the column and the text around it.
fn first_difference(committed: &str, fresh: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (committed.lines().collect(), fresh.lines().collect());
    for i in 0..old.len().max(new.len()) {
        let (o, n) = (old.get(i).copied(), new.get(i).copied());
        if o == n {
            continue;
        }
        let column = match (o, n) {
            (Some(o), Some(n)) => o.chars().zip(n.chars()).take_while(|(a, b)| a == b).count(),
            _ => 0,
        };
        let around = |line: Option<&str>| match line {
            None => "(end of file)".to_owned(),
            Some(l) => {
                let start = column.saturating_sub(40);
                let excerpt: String = l.chars().skip(start).take(100).collect();
                let cut = |yes: bool| if yes { "..." } else { "" };
                format!(
                    "{}{excerpt:?}{}",
                    cut(start > 0),
                    cut(l.chars().count() > start + 100)
                )
            }
        };
        return format!(
            "first difference at line {}, column {}:\n  committed: {}\n  generated: {}",
            i + 1,
            column + 1,
            around(o),
            around(n)
        );
    }
    "the files differ only in line endings or the final newline".to_owned()
}

#[test]
fn committed_doc_is_up_to_date() {
    let fresh = rendered();
    let path = doc_path();
    if std::env::var_os(UPDATE_VAR).is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(path.parent().unwrap()).expect("create docs/");
        // Write then rename, so a test reading the file never sees half of it.
        let tmp = path.with_extension("md.tmp");
        std::fs::write(&tmp, &fresh).expect("write docs/scenarios.md");
        std::fs::rename(&tmp, &path).expect("replace docs/scenarios.md");
        return;
    }
    let committed = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => panic!(
            "cannot read {DOC} ({e}).\nGenerate it from the workspace root with:\n    {REGENERATE}\n\
             or run: {UPDATE_VAR}=1 cargo test -p conformance --test catalogue_doc"
        ),
    };
    // A checkout with CRLF line endings is still up to date.
    let committed = committed.replace("\r\n", "\n");
    assert!(
        committed == fresh,
        "{DOC} does not match the catalogue of the built-in scenarios \
         (a scenario or catalogue.rs changed, or the file was edited by hand).\n{}\n\n\
         Regenerate it from the workspace root with:\n    {REGENERATE}\n\
         or run: {UPDATE_VAR}=1 cargo test -p conformance --test catalogue_doc\n\
         and commit the result.",
        first_difference(&committed, &fresh)
    );
}

/// `RFC 1234...`.
fn is_rfc(source: &str) -> bool {
    source
        .strip_prefix("RFC ")
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `MCP 2025-11-25 ...`: a dated revision of the MCP specification.
fn is_mcp_spec(source: &str) -> bool {
    source
        .strip_prefix("MCP ")
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(|date| {
            date.len() == 10
                && date.bytes().enumerate().all(|(i, b)| match i {
                    4 | 7 => b == b'-',
                    _ => b.is_ascii_digit(),
                })
        })
}

/// A link a reader can follow: an absolute https URL.
fn url_problem(url: &str) -> Option<String> {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => None,
        Ok(_) => Some(format!("url {url:?} is not an https link")),
        Err(e) => Some(format!("url {url:?} is not a URL: {e}")),
    }
}

/// A rule a reader can look up: a link, or an RFC or dated MCP spec.
fn citable(rule: &SpecRef) -> bool {
    rule.url
        .as_deref()
        .is_some_and(|u| url_problem(u).is_none())
        || is_rfc(&rule.source)
        || is_mcp_spec(&rule.source)
}

#[test]
fn every_scenario_cites_a_rule_one_can_look_up() {
    let scenarios = built_in();
    assert!(!scenarios.is_empty(), "no built-in scenarios");
    let mut problems = Vec::new();
    for s in &scenarios {
        if s.spec.is_empty() {
            problems.push(format!("{} ({}): cites no rule", s.id, s.source));
        } else if !s.spec.iter().any(citable) {
            problems.push(format!(
                "{} ({}): no rule has an https url or an RFC/MCP <date> source",
                s.id, s.source
            ));
        }
        for r in &s.spec {
            for (field, value) in [
                ("source", &r.source),
                ("section", &r.section),
                ("rule", &r.rule),
            ] {
                if value.trim().is_empty() {
                    problems.push(format!(
                        "{} ({}): a [[spec]] has an empty {field}",
                        s.id, s.source
                    ));
                }
            }
            if let Some(p) = r.url.as_deref().and_then(url_problem) {
                problems.push(format!("{} ({}): {p}", s.id, s.source));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `(family, ids in the order they appear)` for every `## family` section.
fn sections(markdown: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in markdown.lines() {
        if let Some(family) = line.strip_prefix("## ") {
            out.push((family.trim().to_owned(), Vec::new()));
        } else if let Some(rest) = line.strip_prefix("| [`") {
            let id = rest.split('`').next().unwrap_or_default().to_owned();
            out.last_mut()
                .unwrap_or_else(|| panic!("a scenario row before any family heading: {line}"))
                .1
                .push(id);
        }
    }
    out
}

#[test]
fn doc_lists_every_scenario_once_sorted_by_family_then_id() {
    // The rendered text is what the committed doc holds once
    // `committed_doc_is_up_to_date` passes.
    let scenarios = built_in();
    let sections = sections(&rendered());
    let families: Vec<&str> = sections.iter().map(|(f, _)| f.as_str()).collect();
    assert!(
        families.windows(2).all(|w| w[0] < w[1]),
        "family sections are not sorted, or a family appears twice: {families:?}"
    );

    let by_id: BTreeMap<&str, &Scenario> = scenarios.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut seen = BTreeSet::new();
    for (family, ids) in &sections {
        assert!(
            !ids.is_empty(),
            "family {family} has a heading but no scenario"
        );
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "ids in family {family} are not sorted: {ids:?}"
        );
        for id in ids {
            assert!(seen.insert(id.as_str()), "{id} appears more than once");
            let s = by_id
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{id} is in the doc but not in the catalogue"));
            assert_eq!(&s.family, family, "{id} is listed under the wrong family");
        }
    }
    let missing: Vec<&&str> = by_id.keys().filter(|id| !seen.contains(**id)).collect();
    assert!(missing.is_empty(), "missing from the doc: {missing:?}");
    assert_eq!(
        by_id.len(),
        scenarios.len(),
        "duplicate ids in the catalogue"
    );
}

/// The `|` that separate cells (not `\|` inside one).
fn cell_separators(line: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => count += 1,
            _ => escaped = false,
        }
    }
    count
}

/// Why `markdown` would not render as one table row per scenario.
fn table_problems(markdown: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut in_table = false;
    let mut rows = 0;
    for (i, line) in markdown.lines().enumerate() {
        if line.trim().is_empty() {
            in_table = false;
        } else if line.starts_with('|') {
            in_table = true;
            rows += 1;
            if !line.ends_with(" |") || cell_separators(line) != 6 {
                problems.push(format!(
                    "line {}: a table row must have exactly 5 cells \
                     (escape `|` inside a cell as `\\|`): {line}",
                    i + 1
                ));
            }
        } else if in_table {
            problems.push(format!(
                "line {}: a table cell spans lines (a newline in a title or rule?): {line}",
                i + 1
            ));
        }
    }
    if rows == 0 {
        problems.push("no table".to_owned());
    }
    problems
}

#[test]
fn every_table_row_is_one_line_with_five_cells() {
    let problems = table_problems(&rendered());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_table_check_catches_stray_pipes_and_newlines() {
    let good = "| a | b | c \\| d | e | f |\n| --- | --- | --- | --- | --- |\n";
    assert_eq!(table_problems(good), Vec::<String>::new());
    let pipe = "| a | b | c | d | e | f |\n";
    assert_eq!(table_problems(pipe).len(), 1, "{:?}", table_problems(pipe));
    let newline = "| a | b\nc | d | e | f |\n";
    assert_eq!(
        table_problems(newline).len(),
        2,
        "{:?}",
        table_problems(newline)
    );
}

#[test]
fn the_citation_check_wants_a_link_or_a_known_source() {
    let rule = |source: &str, url: Option<&str>| SpecRef {
        binding: None,
        source: source.to_owned(),
        section: "1".to_owned(),
        rule: "a rule".to_owned(),
        url: url.map(str::to_owned),
    };
    assert!(citable(&rule("RFC 6750", None)));
    assert!(citable(&rule("MCP 2025-11-25 Authorization", None)));
    assert!(citable(&rule("A blog", Some("https://example.com/post"))));
    assert!(!citable(&rule("MCP Authentication Guide", None)));
    assert!(!citable(&rule("RFC", None)));
    assert!(!citable(&rule("A blog", Some("http://example.com/post"))));
    assert!(!citable(&rule("A blog", Some("example.com/post"))));
}
