//! Every kind of JUnit document the suite writes is valid against the
//! JUnit schema in `ci/junit.xsd` (checked by libxml2's `xmllint`), and the
//! schema is strict enough to refuse what CI systems would misread.

use conformance::evidence::Exchange;
use conformance::junit;

mod junit_validator;
mod run_report_fixture;

use run_report_fixture::*;

#[test]
fn every_verdict_renders_valid_junit() {
    junit_validator::assert_valid(&junit::render(&full_report()));
}

#[test]
fn an_empty_run_renders_valid_junit() {
    junit_validator::assert_valid(&junit::render(&report(Vec::new(), &[])));
}

#[test]
fn hostile_text_still_renders_valid_junit() {
    let mut r = fail_must();
    r.id = "token.<odd>&\"id\"\u{1}".to_owned();
    r.family = "fam<&\">\u{ffff}".to_owned();
    r.message = Some("got <script>&amp; \u{1b}[31mred\u{0} ]]> end".to_owned());
    r.evidence.push(Exchange {
        request: format!("POST {TARGET} (ping)"),
        request_headers: Vec::new(),
        status: None,
        response_headers: Vec::new(),
        body: "<![CDATA[ x ]]>".to_owned(),
        error: Some("timed out <&>".to_owned()),
    });
    let mut s = skipped();
    s.message = Some("needs <&\"> \u{1}".to_owned());
    junit_validator::assert_valid(&junit::render(&report(vec![r, s], &[])));
}

/// The schema refuses documents a CI system would misread, so a passing
/// validation above means something.
#[test]
fn the_schema_refuses_broken_reports() {
    if !junit_validator::xmllint_available() {
        return;
    }
    let good = junit::render(&full_report());
    junit_validator::validate(&good).expect("the fixture report is valid");
    let broken = [
        (
            "a test case without a name",
            good.replacen(" name=\"token.valid\"", "", 1),
        ),
        (
            "a time that is not a number",
            good.replacen("time=\"0.041\"", "time=\"fast\"", 1),
        ),
        (
            "a negative failure count",
            good.replacen("failures=\"1\"", "failures=\"-1\"", 1),
        ),
        (
            "a case both skipped and failed",
            good.replacen(
                "<testcase name=\"token.valid\" classname=\"mcp-auth-conformance.token\" time=\"0.041\"/>",
                "<testcase name=\"token.valid\" classname=\"mcp-auth-conformance.token\" time=\"0.041\"><skipped/><failure message=\"x\"/></testcase>",
                1,
            ),
        ),
        (
            "an unknown element",
            good.replacen("</testsuites>", "<verdict/></testsuites>", 1),
        ),
        (
            "two suites with one name",
            good.replacen("<testsuite name=\"token\"", "<testsuite name=\"discovery\"", 1),
        ),
        ("not XML at all", "<testsuites><testsuite".to_owned()),
    ];
    for (what, xml) in broken {
        assert_ne!(
            xml, good,
            "{what}: the fixture changed; the edit did not apply"
        );
        assert!(
            junit_validator::validate(&xml).is_err(),
            "{what}: accepted by the schema\n{xml}"
        );
    }
}
