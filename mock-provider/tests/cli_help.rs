//! The `mock-provider` help texts and version, as a user sees them: every
//! `--help` is snapshotted, so a changed flag or wording shows up in review.
//!
//! The binary runs without colour, at a fixed terminal width and without the
//! environment variables its flags read (clap prints their values in the
//! help), so the snapshots do not depend on who runs them.

use std::process::{Command, Stdio};

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn mock_provider(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mock-provider"))
        .args(args)
        .stdin(Stdio::null())
        .env_remove("MOCK_PROVIDER_CONFIG")
        .env_remove("MOCK_PROVIDER_ADMIN_SECRET")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .output()
        .expect("run mock-provider");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Runs `mock-provider <args>`, checks it succeeds quietly, returns stdout.
fn help_text(args: &[&str]) -> String {
    let out = mock_provider(args);
    let shown = format!("$ mock-provider {}", args.join(" "));
    assert_eq!(out.code, Some(0), "{shown}\n{}", out.stderr);
    assert_eq!(out.stderr, "", "{shown}");
    assert!(
        out.stdout.contains("Usage: mock-provider"),
        "{shown}\n{}",
        out.stdout
    );
    out.stdout
}

#[test]
fn help() {
    insta::assert_snapshot!("help", help_text(&["--help"]));
}

#[test]
fn serve_help() {
    insta::assert_snapshot!("serve_help", help_text(&["serve", "--help"]));
}

#[test]
fn check_config_help() {
    insta::assert_snapshot!("check_config_help", help_text(&["check-config", "--help"]));
}

#[test]
fn version() {
    for flag in ["--version", "-V"] {
        let out = mock_provider(&[flag]);
        assert_eq!(out.code, Some(0), "{flag}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{flag}");
        assert_eq!(out.stdout, "mock-provider 0.1.0\n", "{flag}");
    }
}
