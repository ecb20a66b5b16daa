//! The `mock-provider` binary as a user runs it: `serve` prints one ready
//! line, answers on the printed URL and exits 0 on SIGTERM/SIGINT; a bad
//! configuration exits 2 naming the field and the reason.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::provider_binary::{ServeProcess, Signal};

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn mock_provider() -> Command {
    support::provider_binary::command()
}

#[tokio::test]
async fn serve_prints_ready_line_serves_metadata_and_stops_on_sigterm() {
    let mut served =
        ServeProcess::start(&["--port", "0", "--config", "fixtures/configs/example.toml"]);
    let base = served.base_url().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(
        served.ready.issuers,
        [format!("{base}/default"), format!("{base}/upstream")]
    );
    let metadata: serde_json::Value = reqwest::get(format!(
        "{base}/.well-known/oauth-authorization-server/upstream"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(metadata["issuer"], format!("{base}/upstream"));
    // The key comes from the fixture file, so its kid is stable across runs.
    let jwks: serde_json::Value = reqwest::get(format!("{base}/default/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fixture = mock_provider::SigningKey::from_pem_file(
        mock_provider::SigningAlgorithm::Rs256,
        &workspace_root().join("fixtures/keys/rs256.pem"),
    )
    .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], fixture.kid());

    served.signal(Signal::TERM);
    let status = served.wait(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_stops_on_sigint() {
    let mut served = ServeProcess::start(&["--port", "0"]);
    served.signal(Signal::INT);
    assert!(served.wait(Duration::from_secs(10)).success());
}

#[test]
fn logs_never_contain_secrets_handed_out() {
    // Drive a client_credentials grant through the binary and search its
    // log for the secret and the token.
    let served = ServeProcess::start(&["--port", "0", "--config", "fixtures/configs/example.toml"]);
    let base = served.base_url().to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let token = rt.block_on(async {
        let r: serde_json::Value = reqwest::Client::new()
            .post(format!("{base}/default/token"))
            .basic_auth("demo-client", Some("demo-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["access_token"].as_str().unwrap().to_owned()
    });
    let (_, log) = served.terminate();
    assert!(
        log.contains("token issued"),
        "expected a log line for the grant: {log}"
    );
    assert!(!log.contains("demo-secret"));
    assert!(!log.contains(&token));
}

#[test]
fn check_config_accepts_the_example() {
    let out = mock_provider()
        .args(["check-config", "fixtures/configs/example.toml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a config through `serve` and `check-config`; both must exit 2 with
/// the same message. Returns it.
fn refused(file: &str) -> String {
    let path = format!("fixtures/configs/invalid/{file}");
    let serve = mock_provider()
        .args(["serve", "--port", "0", "--config", &path])
        .output()
        .unwrap();
    assert_eq!(serve.status.code(), Some(2), "{file}");
    let check = mock_provider()
        .args(["check-config", &path])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2), "{file}");
    let message = String::from_utf8(serve.stderr).unwrap();
    assert_eq!(message, String::from_utf8(check.stderr).unwrap());
    message
}

#[test]
fn bad_config_files_exit_2_naming_the_field() {
    for file in [
        "unknown_field.toml",
        "wrong_type.toml",
        "bad_values.toml",
        "bad_refresh_policy.toml",
        "missing_key_file.toml",
        "wrong_key_type.toml",
        "bad_issuer_name.toml",
    ] {
        let message = refused(file);
        insta::assert_snapshot!(file.trim_end_matches(".toml"), message);
    }
}

#[test]
fn missing_config_file_exits_2() {
    let out = mock_provider()
        .args(["serve", "--config", "fixtures/configs/nope.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file"));
}
