//! A scenario the suite cannot run is ERROR, never FAIL: the server did
//! nothing wrong. The run exits 2 when nothing else failed, the JUnit
//! report carries an `<error>`, and the terminal report says the run is
//! incomplete. What can be caught when the scenario is loaded (a fault
//! rule the provider would refuse, a placeholder nobody defines) is a load
//! error naming the step instead.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-auth-conformance");

/// A scenario that asks to restart a server the suite did not start: it
/// cannot run against a profile without `command`.
const RESTARTS: &str = r#"
[[step]]
kind = "restart_server"

[[step]]
kind = "mcp"
call = "tools/list"
expect = { status = 401 }
"#;

/// A fault rule whose endpoint is a typo.
const BROKEN_FAULT: &str = r#"
[[step]]
kind = "fault"
issuer = "upstream"
endpoint = "tokne"
action = { kind = "latency", millis = 10 }
"#;

/// A scenario file: `id`'s header, then `steps`.
fn scenario(id: &str, steps: &str) -> String {
    format!(
        "id = \"harness.{id}\"\ntitle = \"t\"\nfamily = \"harness\"\nseverity = \"MUST\"\n\n[[spec]]\nsource = \"RFC 6750\"\nsection = \"3\"\nrule = \"a rule\"\n{steps}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scenario_the_suite_cannot_run_is_an_error_and_exits_2() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(OnlyOneVersion)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    std::fs::write(
        scenarios.join("restarts.toml"),
        scenario("restart_unstarted", RESTARTS),
    )
    .unwrap();
    let profile = dir.path().join("profile.toml");
    std::fs::write(
        &profile,
        format!("[server]\nurl = \"{}/mcp\"\n", server.uri()),
    )
    .unwrap();
    let junit = dir.path().join("report.xml");
    let json = dir.path().join("report.json");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .arg("run")
            .arg("--profile")
            .arg(&profile)
            .arg("--scenarios")
            .arg(&scenarios)
            .args(["--only", "harness.*", "--spec-version", "2025-11-25"])
            .arg("--junit")
            .arg(&junit)
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let transcript = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{transcript}");
    assert!(
        stdout.contains("ERROR harness.restart_unstarted"),
        "{transcript}"
    );
    assert!(stdout.contains("RESULT: incomplete"), "{transcript}");

    let report: conformance::RunReport =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let broken = report
        .results
        .iter()
        .find(|r| r.id == "harness.restart_unstarted")
        .unwrap();
    assert_eq!(broken.verdict, conformance::Verdict::Error);
    assert!(
        broken
            .message
            .as_deref()
            .unwrap_or("")
            .contains("only a server the suite starts can be restarted"),
        "the message names what is wrong: {:?}",
        broken.message
    );
    // The positive control ran and passed: only the broken scenario errs.
    assert!(
        report
            .results
            .iter()
            .any(|r| r.id == "token.valid" && r.verdict == conformance::Verdict::Pass)
    );

    let xml = std::fs::read_to_string(dir.path().join("report.xml")).unwrap();
    assert!(xml.contains("<error message="), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
}

/// `mcp-auth-conformance list` over a directory holding `text` as `file`:
/// it must refuse to load it (exit 2); returns what it said.
fn load_error(file: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file), text).unwrap();
    let out = Command::new(BIN)
        .args(["list", "--scenarios"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn a_fault_endpoint_typo_is_a_load_error_naming_the_field() {
    let stderr = load_error("broken_fault.toml", &scenario("broken_fault", BROKEN_FAULT));
    assert!(stderr.contains("broken_fault.toml"), "{stderr}");
    assert!(
        stderr.contains("endpoint: unknown variant `tokne`"),
        "{stderr}"
    );
}

/// The action is mock-provider's own type: a field the kind does not have,
/// or a kind that does not exist, is refused at load naming it.
#[test]
fn a_fault_action_typo_is_a_load_error_naming_the_field() {
    for (action, named) in [
        (
            "{ kind = \"latency\", milis = 10 }",
            "unknown field `milis`",
        ),
        ("{ kind = \"latncy\", millis = 10 }", "latncy"),
        ("{ kind = \"http_status\", status = \"503\" }", "status"),
        ("{ millis = 10 }", "missing field `kind`"),
    ] {
        let text = scenario(
            "action_typo",
            &BROKEN_FAULT
                .replace("tokne", "token")
                .replace("{ kind = \"latency\", millis = 10 }", action),
        );
        let stderr = load_error("action_typo.toml", &text);
        assert!(stderr.contains("action_typo.toml"), "{stderr}");
        assert!(stderr.contains(named), "{action}: {stderr}");
        assert!(stderr.contains("action"), "{action}: {stderr}");
    }
}

#[test]
fn a_fault_rule_the_provider_would_refuse_is_a_load_error_naming_the_step() {
    let text = scenario(
        "unfireable_fault",
        &BROKEN_FAULT.replace("tokne", "token").replace(
            "{ kind = \"latency\", millis = 10 }",
            "{ kind = \"refresh_barrier\", parties = 1 }",
        ),
    );
    let stderr = load_error("unfireable_fault.toml", &text);
    assert!(stderr.contains("unfireable_fault.toml"), "{stderr}");
    assert!(
        stderr.contains("step[0]: fault rule: refresh_barrier needs at least 2 parties"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_placeholder_is_a_load_error_naming_the_step() {
    let text = scenario("typo", RESTARTS)
        .replace("[[step]]\nkind = \"restart_server\"\n", "")
        .replace(
            "call = \"tools/list\"",
            "call = \"tools/list\"\nauthorization = \"Bearer {token.nope}\"",
        );
    let stderr = load_error("typo.toml", &text);
    assert!(
        stderr.contains("step[0]: unknown placeholder `{token.nope}`"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_step_kind_is_a_load_error_naming_the_kind() {
    let text = scenario("kind_typo", RESTARTS)
        .replace("kind = \"restart_server\"", "kind = \"restart_sever\"");
    let stderr = load_error("kind_typo.toml", &text);
    assert!(stderr.contains("kind_typo.toml"), "{stderr}");
    assert!(stderr.contains("restart_sever"), "{stderr}");
    assert!(
        stderr.contains("restart_server"),
        "the known kinds are listed: {stderr}"
    );
}

#[test]
fn an_http_method_typo_is_a_load_error_naming_the_field() {
    let text = scenario(
        "method_typo",
        "\n[[step]]\nkind = \"http\"\nmethod = \"GE T\"\nurl = \"{prm_url}\"\n",
    );
    let stderr = load_error("method_typo.toml", &text);
    assert!(stderr.contains("method_typo.toml"), "{stderr}");
    assert!(
        stderr.contains("step[0].method: `GE T` is not an HTTP method"),
        "{stderr}"
    );
}

#[test]
fn a_fault_step_must_name_its_issuer() {
    let text = scenario(
        "fault_issuer",
        &BROKEN_FAULT
            .replace("issuer = \"upstream\"\n", "")
            .replace("tokne", "token"),
    );
    let stderr = load_error("fault_issuer.toml", &text);
    assert!(stderr.contains("fault_issuer.toml"), "{stderr}");
    assert!(stderr.contains("missing field `issuer`"), "{stderr}");
}

/// A server that speaks 2025-11-25 only: a request in any other protocol
/// version gets 400 (no challenge), as the TypeScript SDK 1.x answers.
struct OnlyOneVersion;

impl wiremock::Respond for OnlyOneVersion {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        use serde_json::{Value, json};
        use wiremock::ResponseTemplate;
        if !req.headers.contains_key("authorization") {
            return ResponseTemplate::new(401).insert_header("WWW-Authenticate", "Bearer");
        }
        let message: Value = req.body_json().unwrap_or(Value::Null);
        let method = message.get("method").and_then(Value::as_str).unwrap_or("");
        let version = req
            .headers
            .get("mcp-protocol-version")
            .and_then(|v| v.to_str().ok());
        if method == "server/discover" || version.is_some_and(|v| v != "2025-11-25") {
            return ResponseTemplate::new(400).set_body_json(json!({
                "jsonrpc": "2.0", "id": null,
                "error": {"code": -32000, "message": "Bad Request: Unsupported protocol version"}
            }));
        }
        let Some(id) = message.get("id").cloned() else {
            return ResponseTemplate::new(202);
        };
        let result = if method == "initialize" {
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "one", "version": "1"}})
        } else {
            json!({"tools": []})
        };
        ResponseTemplate::new(200)
            .insert_header("Mcp-Session-Id", "one-1")
            .set_body_json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
    }
}

#[tokio::test]
async fn a_protocol_version_the_server_does_not_speak_is_an_error_said_plainly() {
    use conformance::runner::{RunOptions, run_embedded};
    use conformance::{SpecVersion, TargetProfile, Verdict};
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(OnlyOneVersion)
        .mount(&server)
        .await;
    let profile = TargetProfile::from_toml_str(
        &format!("[server]\nurl = \"{}/mcp\"\n", server.uri()),
        "harness_errors.rs",
    )
    .unwrap();
    let scenarios = conformance::scenario::load(&[]).unwrap();
    let options = RunOptions {
        only: vec!["token.valid".into(), "token.expired".into()],
        ..Default::default()
    };
    let run = |version| {
        run_embedded(
            profile.clone(),
            version,
            &scenarios,
            &options,
            std::time::Duration::from_secs(5),
        )
    };
    let report = run(SpecVersion::V2026_07_28).await.unwrap();
    let valid = report
        .results
        .iter()
        .find(|r| r.id == "token.valid")
        .unwrap();
    assert_eq!(valid.verdict, Verdict::Error, "{valid:?}");
    let message = valid.message.as_deref().unwrap_or("");
    assert!(
        message.contains("may not speak MCP 2026-07-28"),
        "{message}"
    );
    assert!(
        valid
            .remedy
            .as_deref()
            .unwrap_or("")
            .contains("MCP-Protocol-Version"),
        "{valid:?}"
    );
    let expired = report
        .results
        .iter()
        .find(|r| r.id == "token.expired")
        .unwrap();
    assert_eq!(expired.verdict, Verdict::Error, "{expired:?}");
    assert_eq!(report.exit_code(), 2);

    // The version it speaks: the control passes.
    let report = run(SpecVersion::V2025_11_25).await.unwrap();
    let valid = report
        .results
        .iter()
        .find(|r| r.id == "token.valid")
        .unwrap();
    assert_eq!(valid.verdict, Verdict::Pass, "{valid:?}");
}
