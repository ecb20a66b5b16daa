//! A hand-built `RunReport` with one result of each verdict and stale
//! baseline entries, with fixed durations and versions so renderings are
//! stable: what the report-rendering tests share.
#![allow(dead_code)]

use conformance::SpecVersion;
use conformance::evidence::Exchange;
use conformance::report::{RunReport, ScenarioResult, Verdict};
use conformance::scenario::{Severity, SpecRef};

pub const TARGET: &str = "http://127.0.0.1:3000/mcp";

pub fn spec(source: &str, section: &str, rule: &str, url: Option<&str>) -> SpecRef {
    SpecRef {
        binding: None,
        source: source.to_owned(),
        section: section.to_owned(),
        rule: rule.to_owned(),
        url: url.map(str::to_owned),
    }
}

pub fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A result with no message, remedy, rule or evidence.
pub fn result(
    id: &str,
    title: &str,
    severity: Severity,
    verdict: Verdict,
    ms: u64,
) -> ScenarioResult {
    ScenarioResult {
        id: id.to_owned(),
        title: title.to_owned(),
        family: id.split('.').next().unwrap().to_owned(),
        severity,
        verdict,
        message: None,
        remedy: None,
        spec: Vec::new(),
        evidence: Vec::new(),
        duration_ms: ms,
    }
}

pub fn report(results: Vec<ScenarioResult>, stale: &[&str]) -> RunReport {
    RunReport {
        tool_version: "test".to_owned(),
        spec_version: SpecVersion::V2025_11_25,
        target: TARGET.to_owned(),
        results,
        stale_expected_failures: stale.iter().map(|s| (*s).to_owned()).collect(),
        duration_ms: 4321,
        strict: false,
        spec_version_source: None,
    }
}

pub fn pass() -> ScenarioResult {
    let mut r = result(
        "token.valid",
        "A valid access token for this server is accepted (positive control)",
        Severity::Must,
        Verdict::Pass,
        41,
    );
    r.remedy = Some("Accept RFC 9068 JWT access tokens from the trusted issuer.".to_owned());
    r
}

pub fn fail_must() -> ScenarioResult {
    let mut r = result(
        "token.wrong_audience",
        "A token for another resource is refused",
        Severity::Must,
        Verdict::Fail,
        187,
    );
    r.message = Some(
        "step 2: expected error=\"invalid_token\" in the challenge, got error=\"invalid_request\""
            .to_owned(),
    );
    r.remedy = Some(
        "Check that aud contains this server's resource URI & nothing else <exactly>.".to_owned(),
    );
    r.spec = vec![
        spec(
            "MCP 2025-11-25 Authorization",
            "Token Handling",
            "MCP servers MUST validate that access tokens were issued specifically for them as the intended audience.",
            Some(
                "https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#token-handling",
            ),
        ),
        spec(
            "RFC 8707",
            "2",
            "The resource server MUST audience-restrict the tokens it accepts.",
            None,
        ),
    ];
    r.evidence = vec![Exchange {
        request: format!("POST {TARGET} (tools/list)"),
        request_headers: headers(&[
            ("Accept", "application/json, text/event-stream"),
            ("Authorization", "Bearer [redacted: token other_resource]"),
        ]),
        status: Some(401),
        response_headers: headers(&[
            (
                "www-authenticate",
                "Bearer error=\"invalid_request\", error_description=\"aud <mismatch> & more\", resource_metadata=\"http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp\"",
            ),
            ("content-type", "application/json"),
        ]),
        body: "{\"error\":\"invalid_request\",\n \"error_description\":\"aud <mismatch> & more\"}"
            .to_owned(),
        error: None,
    }];
    r
}

pub fn fail_should() -> ScenarioResult {
    let mut r = result(
        "discovery.challenge_scope",
        "A 401 challenge names the scopes the request needs",
        Severity::Should,
        Verdict::Fail,
        23,
    );
    r.message = Some(
        "step 1: the challenge's scope should include `mcp:tools`, got no scope parameter"
            .to_owned(),
    );
    r.remedy = Some("Add scope=\"<required scopes>\" to the Bearer challenge.".to_owned());
    r.spec = vec![spec(
        "MCP 2025-11-25 Authorization",
        "Protected Resource Metadata Discovery Requirements",
        "MCP servers SHOULD include a scope parameter in the WWW-Authenticate header.",
        None,
    )];
    r.evidence = vec![Exchange {
        request: format!("POST {TARGET} (initialize)"),
        request_headers: headers(&[("Accept", "application/json, text/event-stream")]),
        status: Some(401),
        response_headers: headers(&[("WWW-Authenticate", "Bearer realm=\"mcp\"")]),
        body: String::new(),
        error: None,
    }];
    r
}

pub fn expected_failure() -> ScenarioResult {
    let mut r = result(
        "acme.admin_allowed",
        "The admin tool works with the admin scope (positive control)",
        Severity::Must,
        Verdict::ExpectedFailure,
        2004,
    );
    r.message = Some(
        "step 2: expected status 2xx, got no answer: connection refused (the server exited during this scenario)"
            .to_owned(),
    );
    r.spec = vec![spec("ACME policy", "4.2", "Admins can reset.", None)];
    r.evidence = vec![Exchange {
        request: format!("POST {TARGET} (tools/call admin_reset)"),
        request_headers: headers(&[("Authorization", "Bearer [redacted: token admin]")]),
        status: None,
        response_headers: Vec::new(),
        body: String::new(),
        error: Some("connection refused".to_owned()),
    }];
    r
}

pub fn skipped() -> ScenarioResult {
    let mut r = result(
        "permission.insufficient_scope",
        "A token without the scope a tool needs is refused with 403 insufficient_scope",
        Severity::Must,
        Verdict::Skipped,
        0,
    );
    r.message = Some("needs a [permission] section in the profile".to_owned());
    r
}

pub fn not_meaningful(severity: Severity) -> ScenarioResult {
    let mut r = result(
        "acme.admin_refused_without_scope",
        "The admin tool is refused without the admin scope",
        severity,
        Verdict::NotMeaningful,
        0,
    );
    r.message = Some(
        "the positive control acme.admin_allowed failed, so a refusal here would prove nothing"
            .to_owned(),
    );
    r
}

pub fn fail_best_practice() -> ScenarioResult {
    let mut r = result(
        "transport.body_token",
        "A token in the request body does not authenticate",
        Severity::BestPractice,
        Verdict::Fail,
        12,
    );
    r.message = Some("step[1]: expected status 401, got 200".to_owned());
    r
}

pub fn error() -> ScenarioResult {
    let mut r = result(
        "race.concurrent_refresh",
        "Five concurrent calls that need a fresh upstream token all succeed, with no refresh token reused",
        Severity::Must,
        Verdict::Error,
        3,
    );
    r.message = Some(
        "the provider could not be reset before this scenario: the admin API answered 503"
            .to_owned(),
    );
    r
}

/// One result of each verdict, in run order, and a stale expected failure.
pub fn full_report() -> RunReport {
    report(
        vec![
            pass(),
            expected_failure(),
            fail_should(),
            fail_best_practice(),
            skipped(),
            fail_must(),
            not_meaningful(Severity::Must),
            error(),
        ],
        &["token.missing_aud", "token.valid"],
    )
}
