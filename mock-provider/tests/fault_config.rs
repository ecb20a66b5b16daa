//! Where fault rules come from and which are refused: `[[fault]]` rules in
//! a config file are in force from the start, and bad rules are refused
//! naming the rule, from a file, the builder or the admin API.

mod support;

use mock_provider::faults::{Endpoint, FaultAction, FaultRule, SigningFault};
use mock_provider::{MockProvider, ProviderConfig};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::{Value, json};
use support::APP;
use support::fault_fixture::{assert_entry, assert_last, fixture, ledger_at, raw, token_filter};

// ---- rules from a config file ----------------------------------------------

const CONFIG: &str = r#"
[[issuer]]
name = "default"

[[issuer.client]]
client_id = "app"
client_secret = "app-secret"
grant_types = ["client_credentials"]

[[fault]]
endpoint = "jwks"
times = 1
action = { kind = "http_status", status = 503, retry_after_secs = 2 }

[[fault]]
endpoint = "token"
client_id = "app"
action = { kind = "token_override", aud = "https://config.example/api" }
"#;

/// `[[fault]]` rules in the config file are in force from the start (and
/// again after a reset).
#[tokio::test]
async fn config_file_faults_are_in_force_from_the_start() {
    let config = ProviderConfig::from_toml_str(CONFIG).expect("valid config");
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let admin = provider.admin();
    let http = support::http();
    let issuer = provider.issuer_url("default").unwrap();
    assert_eq!(admin.faults().await.unwrap().len(), 2);

    let jwks_url = format!("{issuer}/jwks");
    let first = raw(http.get(&jwks_url)).await;
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(first.header(RETRY_AFTER), Some("2"));
    assert_eq!(raw(http.get(&jwks_url)).await.status, StatusCode::OK);
    let entries = ledger_at(&admin, Endpoint::Jwks).await;
    assert_entry(&entries[0], &["http_status#1"], "http_503", 503);
    assert_entry(&entries[1], &[], "ok", 200);

    let a = support::post_form(
        &http,
        &issuer,
        "token",
        Some(APP),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(
        support::jwt_payload(a.str("access_token"))["aud"],
        "https://config.example/api"
    );
    assert_last(&admin, token_filter(), &["token_override#2"], "ok", 200).await;

    // The spent rule comes back with a reset.
    assert_eq!(admin.faults().await.unwrap().len(), 1);
    admin.reset().await.unwrap();
    let rules = admin.faults().await.unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!(rules[0].endpoint, Endpoint::Jwks);
    assert_eq!(rules[0].times, Some(1));
}

/// A bad `[[fault]]` is refused naming `fault[N]` and the reason, both
/// from the file and from a config built in Rust.
#[test]
fn bad_config_faults_are_refused_naming_the_rule() {
    let base = "[[issuer]]\nname = \"default\"\n";
    for (rule, reason) in [
        (
            "endpoint = \"token\"\naction = { kind = \"http_status\", status = 404 }",
            "is for the upstream endpoint",
        ),
        (
            "endpoint = \"jwks\"\naction = { kind = \"signing\", fault = \"alg_none\" }",
            "only applies to endpoint = \"token\"",
        ),
        (
            "endpoint = \"token\"\nprobability = 1.5\naction = { kind = \"empty_body\" }",
            "probability",
        ),
        (
            "endpoint = \"token\"\naction = { kind = \"refresh_barrier\", parties = 1 }",
            "at least 2 parties",
        ),
    ] {
        let text = format!("{base}\n[[fault]]\n{rule}\n");
        let Err(err) = ProviderConfig::from_toml_str(&text) else {
            panic!("refused: {rule}");
        };
        let err = err.to_string();
        assert!(err.contains("fault[0]"), "{err}");
        assert!(err.contains(reason), "{err}");
    }
    let err = ProviderConfig::from_toml_str(&format!(
        "{base}\n[[fault]]\nendpoint = \"token\"\nissuer = \"nowhere\"\naction = {{ kind = \"empty_body\" }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("fault[0].issuer"), "{err}");
    assert!(err.contains("nowhere"), "{err}");
    // Unknown fields and kinds are parse errors naming them.
    for (rule, named) in [
        (
            "endpoint = \"token\"\ntmes = 2\naction = { kind = \"empty_body\" }",
            "tmes",
        ),
        (
            "endpoint = \"token\"\naction = { kind = \"explode\" }",
            "explode",
        ),
        (
            "endpoint = \"token\"\naction = { kind = \"http_status\", status = 503, retry = 1 }",
            "retry",
        ),
    ] {
        let err = ProviderConfig::from_toml_str(&format!("{base}\n[[fault]]\n{rule}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(named), "{err}");
    }
}

/// The builder validates a config built in Rust the same way.
#[tokio::test]
async fn builder_refuses_a_bad_fault_rule() {
    let config = ProviderConfig {
        faults: vec![
            FaultRule::new(Endpoint::Token, FaultAction::EmptyBody),
            FaultRule::new(
                Endpoint::Token,
                FaultAction::HttpStatus {
                    status: 404,
                    retry_after_secs: None,
                },
            ),
        ],
        ..Default::default()
    };
    let err = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("fault[1]"), "{err}");
    assert!(!err.contains("fault[0]"), "{err}");
}

// ---- bad rules via the admin API -------------------------------------------

/// The error description of an admin refusal, having checked it is a 400.
fn refusal_description(err: mock_provider::AdminError) -> String {
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST), "{err}");
    let mock_provider::AdminError::Refused { body, .. } = err else {
        unreachable!()
    };
    let body: Value = serde_json::from_str(&body).expect("a JSON refusal");
    assert_eq!(body["error"], "invalid_request");
    body["error_description"].as_str().unwrap().to_owned()
}

/// Bad rules are refused with 400 naming the problem, and the plan is left
/// as it was (all or none, even for a batch with one bad rule).
#[tokio::test]
async fn bad_rules_via_admin_are_refused_and_change_nothing() {
    let f = fixture().await;
    f.add_fault(FaultRule::new(Endpoint::Jwks, FaultAction::EmptyBody).times(3))
        .await;
    let before = f.admin.faults().await.unwrap();
    assert_eq!(before.len(), 1);

    // Rules the typed client cannot even express.
    for (body, named) in [
        (
            json!({"endpoint": "token", "action": {"kind": "explode"}}),
            "explode",
        ),
        (
            json!({"endpoint": "token", "action": {"kind": "empty_body"}, "tmes": 2}),
            "tmes",
        ),
        (json!({"endpoint": "token", "times": 1}), "action"),
    ] {
        let a = support::post_raw(
            &f.http,
            &format!("{}/__admin", f.provider.base_url()),
            "faults",
            Some("application/json"),
            None,
            body.to_string(),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {a:?}");
        assert!(
            a.str("error_description").contains(named),
            "{body}: {:?}",
            a.body
        );
    }

    let http_404 = FaultRule::new(
        Endpoint::Token,
        FaultAction::HttpStatus {
            status: 404,
            retry_after_secs: None,
        },
    );
    for (rule, named) in [
        (
            FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).probability(1.5, 1),
            "probability must be between 0 and 1",
        ),
        (
            FaultRule::new(
                Endpoint::Jwks,
                FaultAction::Signing {
                    fault: SigningFault::AlgNone,
                },
            ),
            "signing only applies to endpoint = \"token\"",
        ),
        (http_404.clone(), "is for the upstream endpoint"),
        (
            FaultRule::new(
                Endpoint::Token,
                FaultAction::RefreshBarrier {
                    parties: 1,
                    timeout_millis: 100,
                },
            ),
            "at least 2 parties",
        ),
        (
            FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).issuer("nowhere"),
            "fault[0].issuer: no issuer named `nowhere`",
        ),
    ] {
        let err = f.admin.add_fault(&rule).await.expect_err("refused");
        let description = refusal_description(err);
        assert!(description.contains(named), "{rule:?}: {description}");
    }
    // A batch with one bad rule adds none.
    let err = f
        .admin
        .add_faults(&[
            FaultRule::new(Endpoint::Token, FaultAction::EmptyBody),
            http_404,
        ])
        .await
        .expect_err("refused");
    assert!(refusal_description(err).starts_with("fault[1]:"));

    assert_eq!(f.admin.faults().await.unwrap(), before, "plan unchanged");
}
