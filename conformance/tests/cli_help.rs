//! The top-level `mcp-auth-conformance --help` and `--version`, as a user
//! sees them (`run --help` and `list --help` are snapshotted in
//! `cli_errors.rs`).
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

fn conformance(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-auth-conformance"))
        .args(args)
        .stdin(Stdio::null())
        .env_remove("MOCK_PROVIDER_CONFIG")
        .env_remove("MOCK_PROVIDER_ADMIN_SECRET")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .output()
        .expect("run mcp-auth-conformance");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

#[test]
fn help() {
    let out = conformance(&["--help"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stderr, "");
    insta::assert_snapshot!("help", out.stdout);
}

#[test]
fn version() {
    for flag in ["--version", "-V"] {
        let out = conformance(&[flag]);
        assert_eq!(out.code, Some(0), "{flag}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{flag}");
        assert_eq!(out.stdout, "mcp-auth-conformance 0.1.0\n", "{flag}");
    }
}
