//! A scenario the suite cannot run (here: a fault rule the provider's
//! fault plan refuses) is ERROR, never FAIL: the server did nothing wrong.
//! The run exits 2 when nothing else failed, the JUnit report carries an
//! `<error>`, and the terminal report says the run is incomplete.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-auth-conformance");

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The reference profile with the reference server's absolute path.
fn reference_profile(dir: &Path) -> PathBuf {
    let server = Path::new(BIN)
        .parent()
        .unwrap()
        .join(format!("reference-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        server.is_file(),
        "{} is missing: build it first: cargo build -p reference-server",
        server.display()
    );
    let text =
        std::fs::read_to_string(workspace_root().join("fixtures/profiles/reference.toml")).unwrap();
    let mut profile: toml::Table = text.parse().unwrap();
    profile
        .get_mut("server")
        .and_then(toml::Value::as_table_mut)
        .unwrap()
        .insert(
            "command".to_owned(),
            toml::Value::Array(vec![toml::Value::String(server.display().to_string())]),
        );
    let path = dir.join("profile.toml");
    std::fs::write(&path, toml::to_string(&profile).unwrap()).unwrap();
    path
}

const BROKEN_FAULT: &str = r#"
id = "harness.broken_fault"
title = "A scenario whose fault rule names an endpoint the provider does not have"
family = "harness"
severity = "MUST"
requires = ["upstream"]
depends_on = ["token.valid"]

[[spec]]
source = "RFC 6750"
section = "3"
rule = "a rule"

[[step]]
kind = "fault"
endpoint = "tokne"
action = { kind = "latency", millis = 10 }

[[step]]
kind = "mcp"
call = "tools/list"
expect = { status = 401 }
"#;

#[test]
fn a_scenario_the_suite_cannot_run_is_an_error_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir(&scenarios).unwrap();
    std::fs::write(scenarios.join("broken_fault.toml"), BROKEN_FAULT).unwrap();
    let junit = dir.path().join("report.xml");
    let json = dir.path().join("report.json");
    let out = Command::new(BIN)
        .arg("run")
        .arg("--profile")
        .arg(reference_profile(dir.path()))
        .arg("--scenarios")
        .arg(&scenarios)
        .args(["--only", "harness.*"])
        .arg("--junit")
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let transcript = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{transcript}");
    assert!(
        stdout.contains("ERROR harness.broken_fault"),
        "{transcript}"
    );
    assert!(stdout.contains("RESULT: incomplete"), "{transcript}");

    let report: conformance::RunReport =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let broken = report
        .results
        .iter()
        .find(|r| r.id == "harness.broken_fault")
        .unwrap();
    assert_eq!(broken.verdict, conformance::Verdict::Error);
    assert!(
        broken.message.as_deref().unwrap_or("").contains("tokne"),
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

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<error message="), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
}
