//! The real `mcp-auth-conformance` binary on bad input: every usage or
//! configuration error exits 2 with a message naming the file and the field,
//! before anything is started or contacted; and `list`, `--version` and the
//! help texts.
//!
//! The binary runs in the workspace root on the committed files under
//! `conformance/tests/fixtures/cli/`, so messages carry stable relative paths.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const FIXTURES: &str = "conformance/tests/fixtures/cli";
/// A valid profile for a server nobody listens for (port 9, discard).
const UNREACHABLE: &str = "conformance/tests/fixtures/cli/unreachable_profile.toml";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp-auth-conformance"));
    cmd.args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .env_remove("MOCK_PROVIDER_ADMIN_SECRET")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run mcp-auth-conformance");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Runs the binary, checks it exits 2 with nothing on stdout and an error
/// naming every one of `mentions`, and returns the transcript to snapshot.
fn usage_error(args: &[&str], mentions: &[&str]) -> String {
    let out = cli(args, &[]);
    let shown = format!(
        "$ mcp-auth-conformance {}\nexit code: {}\n{}",
        args.join(" "),
        out.code
            .map_or("none (killed by a signal)".to_owned(), |c| c.to_string()),
        out.stderr
    );
    assert_eq!(out.code, Some(2), "{shown}");
    assert_eq!(out.stdout, "", "{shown}");
    assert!(out.stderr.starts_with("error: "), "{shown}");
    for m in mentions {
        assert!(out.stderr.contains(m), "`{m}` not in:\n{shown}");
    }
    shown
}

fn fixture(rel: &str) -> String {
    let path = format!("{FIXTURES}/{rel}");
    assert!(
        workspace_root().join(&path).exists() || rel.contains("no_such"),
        "{path}"
    );
    path
}

#[test]
fn missing_profile() {
    let profile = fixture("bad/no_such_profile.toml");
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", &profile],
        &["cannot read profile", &profile]
    ));
}

#[test]
fn profile_with_an_unknown_field() {
    let profile = fixture("bad/profile_unknown_field.toml");
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", &profile],
        &[&profile, "line 3, column 1", "unknown field `comand`"]
    ));
}

#[test]
fn profile_with_a_url_that_is_not_one() {
    let profile = fixture("bad/profile_bad_url.toml");
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", &profile],
        &[&profile, "server.url", "`nope`"]
    ));
}

#[test]
fn profile_port_without_command() {
    let profile = fixture("bad/profile_port_without_command.toml");
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", &profile],
        &[&profile, "server.url", "`{port}` needs `command`"]
    ));
}

#[test]
fn profile_with_an_unknown_validation_mode() {
    let profile = fixture("bad/profile_unknown_validation.toml");
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", &profile],
        &[&profile, "line 5", "auth.validation", "`opaque`"]
    ));
}

#[test]
fn profile_with_an_introspection_cache_too_long() {
    let profile = fixture("bad/profile_introspection_cache_too_long.toml");
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", &profile],
        &[&profile, "auth.introspection_cache_secs", "0-60"]
    ));
}

#[test]
fn scenario_with_a_syntax_error() {
    let dir = fixture("bad/scenarios_syntax_error");
    let file = format!("{dir}/syntax_error.toml");
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", UNREACHABLE, "--scenarios", &dir],
        &[&file, "line 13, column"]
    ));
    // `list` loads the same way.
    let listed = usage_error(&["list", "--scenarios", &dir], &[&file]);
    assert!(listed.contains("line 13, column"), "{listed}");
}

#[test]
fn scenario_step_with_an_unknown_field() {
    let dir = fixture("bad/scenarios_unknown_step_field");
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", UNREACHABLE, "--scenarios", &dir],
        &[
            &format!("{dir}/unknown_step_field.toml"),
            "unknown field `ttl_sec`",
            "`ttl_secs`"
        ]
    ));
}

#[test]
fn scenario_step_presenting_an_unminted_token() {
    let dir = fixture("bad/scenarios_unminted_token");
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", UNREACHABLE, "--scenarios", &dir],
        &[
            &format!("{dir}/unminted_token.toml"),
            "step[1].token",
            "`olde`"
        ]
    ));
}

#[test]
fn scenario_reusing_a_built_in_id() {
    let dir = fixture("bad/scenarios_duplicate_id");
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", UNREACHABLE, "--scenarios", &dir],
        &[
            &format!("{dir}/duplicate_id.toml"),
            "`token.expired`",
            "scenarios/token/expired.toml"
        ]
    ));
}

#[test]
fn scenario_directory_that_does_not_exist() {
    let dir = fixture("bad/no_such_dir");
    insta::assert_snapshot!(usage_error(
        &["list", "--scenarios", &dir],
        &[&dir, "cannot read directory"]
    ));
}

#[test]
fn malformed_expected_failures_line() {
    let file = fixture("bad/expected_failures_malformed.txt");
    insta::assert_snapshot!(usage_error(
        &[
            "run",
            "--profile",
            UNREACHABLE,
            "--expected-failures",
            &file
        ],
        &[&file, "line 3", "`token expired`"]
    ));
}

#[test]
fn unknown_spec_version() {
    insta::assert_snapshot!(usage_error(
        &[
            "run",
            "--profile",
            UNREACHABLE,
            "--spec-version",
            "2024-01-01"
        ],
        &["--spec-version", "2024-01-01", "2025-11-25"]
    ));
}

#[test]
fn only_matching_nothing() {
    // Checked after the files are read and before a provider is started or
    // the server contacted.
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", UNREACHABLE, "--only", "zzz.*"],
        &["--only", "zzz.*"]
    ));
}

#[test]
fn unknown_subcommand() {
    insta::assert_snapshot!(usage_error(&["frobnicate"], &["frobnicate"]));
}

#[test]
fn unknown_flag() {
    insta::assert_snapshot!(usage_error(
        &["run", "--profile", UNREACHABLE, "--frobnicate"],
        &["--frobnicate"]
    ));
}

#[test]
fn run_without_a_profile() {
    insta::assert_snapshot!(usage_error(&["run"], &["--profile <FILE>"]));
}

#[test]
fn list_prints_the_catalogue() {
    let out = cli(&["list"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stderr, "");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.split_whitespace().next() == Some("token.valid")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.lines().count() >= 30);
}

#[test]
fn list_as_json() {
    let out = cli(&["list", "--format", "json"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let items = v.as_array().expect("a JSON array");
    assert!(items.len() >= 30, "{}", items.len());
    let valid = items
        .iter()
        .find(|i| i["id"] == "token.valid")
        .expect("token.valid");
    assert_eq!(valid["family"], "token");
    assert_eq!(valid["severity"], "MUST");
    assert_eq!(valid["control"], true);
    for i in items {
        for key in ["id", "title", "family", "severity", "versions", "spec"] {
            assert!(!i[key].is_null(), "{key} missing in {i}");
        }
    }
}

#[test]
fn version() {
    let out = cli(&["--version"], &[]);
    assert_eq!(out.code, Some(0));
    assert_eq!(
        out.stdout,
        format!("mcp-auth-conformance {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn run_help() {
    let out = cli(&["run", "--help"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn list_help() {
    let out = cli(&["list", "--help"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn help_does_not_show_the_admin_secret_from_the_environment() {
    let out = cli(
        &["run", "--help"],
        &[("MOCK_PROVIDER_ADMIN_SECRET", "s3cr3t-from-env")],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("MOCK_PROVIDER_ADMIN_SECRET"));
    assert!(!out.stdout.contains("s3cr3t-from-env"), "{}", out.stdout);
}

#[test]
fn jobs_out_of_range() {
    // Refused before the profile is read.
    let profile = fixture("bad/no_such_profile.toml");
    for jobs in ["0", "9", "many"] {
        usage_error(
            &["run", "--profile", &profile, "--jobs", jobs],
            &["--jobs", jobs],
        );
    }
}
