//! The three reports of a run (terminal, JUnit XML, JSON) rendered from a
//! hand-built `RunReport` with one result of each verdict, snapshotted; the
//! exit code rule; and the JUnit document checked for well-formedness and
//! for the structure JUnit consumers read, with a small XML reader below.

use conformance::evidence::Exchange;
use conformance::report::RunReport;
use conformance::scenario::Severity;
use conformance::{junit, terminal_report};

mod run_report_fixture;

use run_report_fixture::*;

fn progress_lines(report: &RunReport) -> String {
    let total = report.results.len();
    report
        .results
        .iter()
        .enumerate()
        .map(|(i, r)| terminal_report::progress_line(i + 1, total, r) + "\n")
        .collect()
}

#[test]
fn terminal_report() {
    insta::assert_snapshot!(terminal_report::render(&full_report()));
}

#[test]
fn progress() {
    let report = full_report();
    insta::assert_snapshot!(progress_lines(&report));
    // The counter is padded to the width of the total.
    let line = terminal_report::progress_line(7, 123, &report.results[0]);
    assert!(
        line.starts_with("[  7/123] PASS  MUST   token.valid — "),
        "{line}"
    );
}

#[test]
fn junit_xml() {
    let report = full_report();
    let xml = junit::render(&report);
    insta::assert_snapshot!(xml);
    let root = parse_xml(&xml).unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"));
    let cases = check_junit(&root);
    let outcome = |id: &str| {
        cases
            .iter()
            .find(|c| c.name == id)
            .unwrap_or_else(|| panic!("no testcase for {id}"))
    };
    assert_eq!(cases.len(), report.results.len());
    assert_eq!(outcome("token.valid").outcome, Outcome::Passed);
    let must = outcome("token.wrong_audience");
    assert_eq!(must.classname, "mcp-auth-conformance.token");
    assert_eq!(must.name, "token.wrong_audience");
    let Outcome::Failure {
        message,
        kind,
        text,
    } = &must.outcome
    else {
        panic!("{must:?}");
    };
    // What a consumer reads back is what the report said.
    assert_eq!(message, fail_must().message.as_deref().unwrap());
    assert_eq!(kind, "MUST");
    assert!(
        text.contains("<   www-authenticate: Bearer error=\"invalid_request\", error_description=\"aud <mismatch> & more\""),
        "{text}"
    );
    assert!(text.contains("what to change: Check that aud contains this server's resource URI & nothing else <exactly>."), "{text}");
    assert!(
        text.contains("\"error_description\":\"aud <mismatch> & more\"}"),
        "{text}"
    );
    assert!(
        matches!(&outcome("discovery.challenge_scope").outcome, Outcome::Failure { kind, .. } if kind == "SHOULD")
    );
    assert_eq!(
        outcome("acme.admin_allowed").outcome,
        Outcome::Skipped(format!(
            "expected failure: {}",
            expected_failure().message.unwrap()
        ))
    );
    assert_eq!(
        outcome("permission.insufficient_scope").outcome,
        Outcome::Skipped("needs a [permission] section in the profile".to_owned())
    );
    assert!(
        matches!(&outcome("acme.admin_refused_without_scope").outcome, Outcome::Skipped(m) if m.starts_with("the positive control"))
    );
    // The suite's own problem is an <error>, never a <failure>.
    assert!(
        matches!(&outcome("race.concurrent_refresh").outcome, Outcome::Error { message, text } if message.starts_with("the provider could not be reset") && text.contains("could not be reset"))
    );
}

#[test]
fn json_report() {
    let report = full_report();
    let json = serde_json::to_string_pretty(&report).unwrap();
    insta::assert_snapshot!(json);
    let back: RunReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn exit_codes() {
    // A MUST failure fails the run.
    let full = full_report();
    assert_eq!(full.exit_code(), 1);
    assert_eq!(
        full.failed_ids(),
        [
            "discovery.challenge_scope",
            "transport.body_token",
            "token.wrong_audience"
        ]
    );
    assert!(terminal_report::render(&full).ends_with("RESULT: not conformant\n"));

    // Only a SHOULD failure: conformant, and expected failures, skips and a
    // SHOULD left not meaningful do not change that.
    let should_only = report(
        vec![
            pass(),
            fail_should(),
            expected_failure(),
            skipped(),
            not_meaningful(Severity::Should),
        ],
        &[],
    );
    assert_eq!(should_only.exit_code(), 0);
    let text = terminal_report::render(&should_only);
    assert!(
        text.ends_with("RESULT: conformant (every MUST passed)\n"),
        "{text}"
    );
    assert!(text.contains("1 failed (SHOULD)"), "{text}");
    let s = should_only.summary();
    assert_eq!((s.passed, s.failed_must, s.failed_should), (1, 0, 1));
    assert_eq!(
        (s.expected_failures, s.skipped, s.not_meaningful),
        (1, 1, 1)
    );

    // Everything passed.
    assert_eq!(report(vec![pass()], &[]).exit_code(), 0);

    // A MUST scenario left unproven fails the run even though nothing failed.
    let unproven = report(vec![pass(), not_meaningful(Severity::Must)], &[]);
    assert_eq!(unproven.exit_code(), 1);
    assert!(unproven.failed_ids().is_empty());
    assert!(terminal_report::render(&unproven).ends_with("RESULT: not conformant\n"));

    // An empty run has nothing to fail.
    assert_eq!(report(Vec::new(), &[]).exit_code(), 0);

    // A best-practice failure never fails the run, not even with --strict.
    let mut advice = report(vec![pass(), fail_best_practice()], &[]);
    assert_eq!(advice.exit_code(), 0);
    advice.strict = true;
    assert_eq!(advice.exit_code(), 0);
    assert!(terminal_report::render(&advice).contains("1 failed (BEST_PRACTICE)"));

    // --strict: a SHOULD failure fails the run.
    let mut strict = report(vec![pass(), fail_should()], &[]);
    strict.strict = true;
    assert_eq!(strict.exit_code(), 1);
    assert!(terminal_report::render(&strict).ends_with(
        "RESULT: not conformant
"
    ));

    // The suite's own problem, with nothing failed: exit 2, and the result
    // line says the run is incomplete, not that the server failed.
    let errored = report(vec![pass(), error()], &[]);
    assert_eq!(errored.exit_code(), 2);
    let text = terminal_report::render(&errored);
    assert!(
        text.contains("RESULT: incomplete: 1 scenario could not be judged"),
        "{text}"
    );
    assert!(text.contains("ERROR race.concurrent_refresh"), "{text}");
    // A server failure outranks it.
    assert_eq!(report(vec![error(), fail_must()], &[]).exit_code(), 1);
}

#[test]
fn junit_escapes_markup_and_drops_what_xml_cannot_carry() {
    let hostile =
        "got <script>&amp; \"quoted\" 'single' \u{1b}[31mred\u{7}\u{0} \u{ffff}end\nsecond line";
    let mut r = fail_must();
    r.id = "token.<odd>&\"id\"".to_owned();
    r.family = "fam<&\">".to_owned();
    r.message = Some(hostile.to_owned());
    r.remedy = Some("remedy <&\">\u{2}\u{b}\u{c}\u{1f}\u{fffe}é😀".to_owned());
    r.evidence.push(Exchange {
        request: format!("POST {TARGET} (ping)"),
        request_headers: Vec::new(),
        status: None,
        response_headers: Vec::new(),
        body: String::new(),
        error: Some("timed out after 10 s <&>".to_owned()),
    });
    let mut s = skipped();
    s.message = Some("needs <&\"> \u{1}".to_owned());
    let report = report(vec![r, s], &[]);
    let xml = junit::render(&report);

    for c in xml.chars() {
        assert!(is_xml_char(c), "{c:?} in\n{xml}");
    }
    assert!(xml.contains("got &lt;script&gt;&amp;amp; &quot;quoted&quot; &apos;single&apos; [31mred end\nsecond line"), "{xml}");
    assert!(!xml.contains("<script>"), "{xml}");

    let root = parse_xml(&xml).unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"));
    let cases = check_junit(&root);
    assert_eq!(root.children[0].attr("name"), Some("fam<&\">"));
    assert_eq!(cases[0].classname, "mcp-auth-conformance.fam<&\">");
    assert_eq!(cases[0].name, "token.<odd>&\"id\"");
    let Outcome::Failure { message, text, .. } = &cases[0].outcome else {
        panic!("{:?}", cases[0]);
    };
    // Control characters are gone; an XML reader turns the newline of an
    // attribute into a space (attribute-value normalisation).
    assert_eq!(
        message,
        "got <script>&amp; \"quoted\" 'single' [31mred end second line"
    );
    assert!(
        text.starts_with("got <script>&amp; \"quoted\" 'single' [31mred end\nsecond line\n"),
        "{text}"
    );
    assert!(text.contains("what to change: remedy <&\">é😀\n"), "{text}");
    // A request that got no answer says why.
    assert!(
        text.ends_with(&format!(
            "> POST {TARGET} (ping)\n< no answer: timed out after 10 s <&>\n"
        )),
        "{text}"
    );
    assert_eq!(
        cases[1].outcome,
        Outcome::Skipped("needs <&\"> ".to_owned())
    );
}

// ---------------------------------------------------------------------------
// JUnit structure

#[derive(Debug, PartialEq)]
enum Outcome {
    Passed,
    Failure {
        message: String,
        kind: String,
        text: String,
    },
    Skipped(String),
    Error {
        message: String,
        text: String,
    },
}

#[derive(Debug)]
struct Case {
    classname: String,
    name: String,
    outcome: Outcome,
}

fn count(e: &Element, attr: &str) -> usize {
    let v = e.required(attr);
    v.parse()
        .unwrap_or_else(|_| panic!("<{}> {attr}=\"{v}\" is not a count", e.name))
}

fn seconds(e: &Element) -> f64 {
    let v = e.required("time");
    let t: f64 = v
        .parse()
        .unwrap_or_else(|_| panic!("<{}> time=\"{v}\" is not a number", e.name));
    assert!(t.is_finite() && t >= 0.0, "<{}> time=\"{v}\"", e.name);
    t
}

/// Checks `testsuites > testsuite[name,tests,failures,skipped,time] >
/// testcase[classname,name,time]` with at most one `<failure message type>`
/// or `<skipped message>` per case and counts that add up; returns the cases.
fn check_junit(root: &Element) -> Vec<Case> {
    assert_eq!(root.name, "testsuites");
    assert!(root.text.trim().is_empty(), "text in <testsuites>");
    let mut cases = Vec::new();
    let (mut tests, mut failures, mut skipped, mut errors) = (0, 0, 0, 0);
    let mut suite_names = Vec::new();
    for suite in &root.children {
        assert_eq!(suite.name, "testsuite");
        assert!(suite.text.trim().is_empty(), "text in <testsuite>");
        let name = suite.required("name");
        assert!(!name.is_empty());
        assert!(!suite_names.contains(&name), "two suites named {name}");
        suite_names.push(name);
        seconds(suite);
        let (mut f, mut s, mut e) = (0, 0, 0);
        for case in &suite.children {
            assert_eq!(case.name, "testcase");
            assert!(case.text.trim().is_empty(), "text in <testcase>");
            let classname = case.required("classname").to_owned();
            let case_name = case.required("name").to_owned();
            assert!(!classname.is_empty() && !case_name.is_empty());
            seconds(case);
            assert!(case.children.len() <= 1, "{case:?}");
            let outcome = match case.children.first() {
                None => Outcome::Passed,
                Some(c) if c.name == "failure" => {
                    f += 1;
                    assert!(c.children.is_empty());
                    Outcome::Failure {
                        message: c.required("message").to_owned(),
                        kind: c.required("type").to_owned(),
                        text: c.text.clone(),
                    }
                }
                Some(c) if c.name == "error" => {
                    e += 1;
                    assert!(c.children.is_empty());
                    Outcome::Error {
                        message: c.required("message").to_owned(),
                        text: c.text.clone(),
                    }
                }
                Some(c) if c.name == "skipped" => {
                    s += 1;
                    assert!(c.children.is_empty() && c.text.is_empty());
                    Outcome::Skipped(c.required("message").to_owned())
                }
                Some(c) => panic!("unexpected <{}> in <testcase>", c.name),
            };
            assert!(
                !cases
                    .iter()
                    .any(|x: &Case| x.classname == classname && x.name == case_name),
                "duplicate testcase {classname} {case_name}"
            );
            cases.push(Case {
                classname,
                name: case_name,
                outcome,
            });
        }
        assert_eq!(count(suite, "tests"), suite.children.len(), "{name}");
        assert_eq!(count(suite, "failures"), f, "{name}");
        assert_eq!(count(suite, "skipped"), s, "{name}");
        assert_eq!(count(suite, "errors"), e, "{name}");
        tests += suite.children.len();
        failures += f;
        skipped += s;
        errors += e;
    }
    assert_eq!(count(root, "tests"), tests);
    assert_eq!(count(root, "failures"), failures);
    assert_eq!(count(root, "skipped"), skipped);
    assert_eq!(count(root, "errors"), errors);
    seconds(root);
    cases
}

// ---------------------------------------------------------------------------
// A minimal XML reader: elements, attributes, text, the five predefined
// entities and character references, comments and CDATA; no DTDs. Enough to
// tell whether a document is well-formed and to read it back.

#[derive(Debug)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    /// The element's own text (decoded), children's text excluded.
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> &str {
        self.attr(name)
            .unwrap_or_else(|| panic!("<{}> has no {name} attribute", self.name))
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
        || ('\u{20}'..='\u{d7ff}').contains(&c)
        || ('\u{e000}'..='\u{fffd}').contains(&c)
        || c >= '\u{10000}'
}

fn is_name_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic()
        || c == '_'
        || c == ':'
        || (!first && (c.is_ascii_digit() || c == '-' || c == '.'))
}

fn parse_xml(doc: &str) -> Result<Element, String> {
    if let Some((i, c)) = doc.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        return Err(format!("{c:?} at byte {i} is not an XML 1.0 character"));
    }
    let mut r = Reader { doc, pos: 0 };
    if r.rest().starts_with("<?xml") {
        let end = r.rest().find("?>").ok_or("unterminated XML declaration")?;
        let decl = &r.rest()[..end];
        if !decl.contains("version=\"1.0\"") {
            return Err(format!("declaration without version 1.0: {decl}"));
        }
        r.pos += end + 2;
    }
    r.misc()?;
    let root = r.element()?;
    r.misc()?;
    if r.pos != doc.len() {
        return Err(format!("content after the root element at byte {}", r.pos));
    }
    Ok(root)
}

struct Reader<'a> {
    doc: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        &self.doc[self.pos..]
    }

    fn skip_ws(&mut self) -> bool {
        let n = self.rest().len()
            - self
                .rest()
                .trim_start_matches([' ', '\t', '\n', '\r'])
                .len();
        self.pos += n;
        n > 0
    }

    fn expect(&mut self, s: &str) -> Result<(), String> {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            Ok(())
        } else {
            Err(format!(
                "expected `{s}` at byte {}: {:.40?}",
                self.pos,
                self.rest()
            ))
        }
    }

    /// Whitespace and comments.
    fn misc(&mut self) -> Result<(), String> {
        loop {
            self.skip_ws();
            if self.rest().starts_with("<!--") {
                self.comment()?;
            } else {
                return Ok(());
            }
        }
    }

    fn comment(&mut self) -> Result<(), String> {
        let end = self.rest().find("-->").ok_or("unterminated comment")?;
        if self.rest()[4..end].contains("--") {
            return Err("`--` inside a comment".into());
        }
        self.pos += end + 3;
        Ok(())
    }

    fn name(&mut self) -> Result<String, String> {
        let mut end = 0;
        for (i, c) in self.rest().char_indices() {
            if !is_name_char(c, i == 0) {
                break;
            }
            end = i + c.len_utf8();
        }
        if end == 0 {
            return Err(format!(
                "expected a name at byte {}: {:.40?}",
                self.pos,
                self.rest()
            ));
        }
        let name = self.rest()[..end].to_owned();
        self.pos += end;
        Ok(name)
    }

    fn element(&mut self) -> Result<Element, String> {
        self.expect("<")?;
        let name = self.name()?;
        let mut e = Element {
            name,
            attrs: Vec::new(),
            children: Vec::new(),
            text: String::new(),
        };
        loop {
            let spaced = self.skip_ws();
            if self.rest().starts_with("/>") {
                self.pos += 2;
                return Ok(e);
            }
            if self.rest().starts_with('>') {
                self.pos += 1;
                break;
            }
            if !spaced {
                return Err(format!(
                    "attribute of <{}> not preceded by whitespace at byte {}",
                    e.name, self.pos
                ));
            }
            let key = self.name()?;
            self.skip_ws();
            self.expect("=")?;
            self.skip_ws();
            let quote = self.rest().chars().next().ok_or("unterminated start tag")?;
            if quote != '"' && quote != '\'' {
                return Err(format!("unquoted value of {key} in <{}>", e.name));
            }
            self.pos += 1;
            let end = self
                .rest()
                .find(quote)
                .ok_or("unterminated attribute value")?;
            let raw = &self.rest()[..end];
            if raw.contains('<') {
                return Err(format!("`<` in the value of {key} in <{}>", e.name));
            }
            // Attribute-value normalisation: literal whitespace becomes a space.
            let value = decode(&raw.replace(['\t', '\n', '\r'], " "))?;
            self.pos += end + 1;
            if e.attr(&key).is_some() {
                return Err(format!("duplicate attribute {key} in <{}>", e.name));
            }
            e.attrs.push((key, value));
        }
        loop {
            if self.rest().starts_with("</") {
                self.pos += 2;
                let close = self.name()?;
                if close != e.name {
                    return Err(format!("<{}> closed by </{close}>", e.name));
                }
                self.skip_ws();
                self.expect(">")?;
                return Ok(e);
            } else if self.rest().starts_with("<!--") {
                self.comment()?;
            } else if self.rest().starts_with("<![CDATA[") {
                self.pos += 9;
                let end = self.rest().find("]]>").ok_or("unterminated CDATA")?;
                e.text.push_str(&self.rest()[..end]);
                self.pos += end + 3;
            } else if self.rest().starts_with('<') {
                let child = self.element()?;
                e.children.push(child);
            } else if self.rest().is_empty() {
                return Err(format!("<{}> is never closed", e.name));
            } else {
                let end = self.rest().find('<').unwrap_or(self.rest().len());
                let raw = &self.rest()[..end];
                if raw.contains("]]>") {
                    return Err("`]]>` in text".into());
                }
                // Line-end normalisation.
                e.text
                    .push_str(&decode(&raw.replace("\r\n", "\n").replace('\r', "\n"))?);
                self.pos += end;
            }
        }
    }
}

/// Resolves entity and character references; a bare `&` is an error.
fn decode(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let end = rest
            .find(';')
            .filter(|&e| e <= 10)
            .ok_or_else(|| format!("bare `&` before {rest:.20?}"))?;
        let reference = &rest[..end];
        let c = match reference {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            r if r.starts_with("#x") => u32::from_str_radix(&r[2..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad reference &{r};"))?,
            r if r.starts_with('#') => r[1..]
                .parse()
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad reference &{r};"))?,
            r => return Err(format!("unknown entity &{r};")),
        };
        if !is_xml_char(c) {
            return Err(format!("&{reference}; is not an XML 1.0 character"));
        }
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[test]
fn the_xml_reader_refuses_what_is_not_well_formed() {
    for bad in [
        "<a>",
        "<a></b>",
        "<a b=\"1\" b=\"2\"/>",
        "<a b=1/>",
        "<a b=\"<\"/>",
        "<a>&</a>",
        "<a>&nbsp;</a>",
        "<a>&#1;</a>",
        "<a>\u{1}</a>",
        "<a>\u{ffff}</a>",
        "<a/><b/>",
        "<a b=\"1\"c=\"2\"/>",
        "<a>]]></a>",
        "text<a/>",
    ] {
        assert!(parse_xml(bad).is_err(), "accepted {bad:?}");
    }
    let e = parse_xml(
        "<?xml version=\"1.0\"?>\n<!-- c --><a x='1 &amp;\n2'>t&lt;<b/><![CDATA[<&>]]>&#x41;&#66;</a>\n",
    )
    .unwrap();
    assert_eq!(e.attr("x"), Some("1 & 2"));
    assert_eq!(e.text, "t<<&>AB");
    assert_eq!(e.children.len(), 1);
}
