//! A failing result never carries a token the suite handed out, in its
//! message or its evidence, even when the server echoes the token back.
//!
//! The server is a `wiremock` mock on 127.0.0.1: it takes a token whose
//! `aud` is its own resource (it cannot verify a signature; `token.valid`
//! passes) and refuses any other token with a Bearer challenge whose
//! `error` is the token itself, which the scenario below quotes in its
//! FAIL message ("expected error=\"invalid_token\" ..., got error=...").

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use conformance::runner::{RunOptions, run_embedded};
use conformance::{SpecVersion, TargetProfile, Verdict};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

struct EchoingServer {
    resource: String,
    metadata: String,
}

impl EchoingServer {
    /// The bearer token's `aud`, read without verifying anything.
    fn audience(token: &str) -> Option<Value> {
        let payload = token.split('.').nth(1)?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        claims.get("aud").cloned()
    }
}

impl Respond for EchoingServer {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let token = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let Some(token) = token else {
            return ResponseTemplate::new(401).insert_header(
                "WWW-Authenticate",
                format!("Bearer resource_metadata=\"{}\"", self.metadata),
            );
        };
        let ours = match Self::audience(&token) {
            Some(Value::String(a)) => a == self.resource,
            Some(Value::Array(list)) => list.iter().any(|a| a == &json!(self.resource)),
            _ => false,
        };
        if !ours {
            // The bug this test is about: the token comes back.
            return ResponseTemplate::new(401)
                .insert_header("WWW-Authenticate", format!("Bearer error=\"{token}\""))
                .set_body_string(format!("refused {token}"));
        }
        let Ok(message) = req.body_json::<Value>() else {
            return ResponseTemplate::new(400);
        };
        let Some(id) = message.get("id").cloned() else {
            return ResponseTemplate::new(202);
        };
        let result = match message.get("method").and_then(Value::as_str) {
            Some("initialize") => json!({
                "protocolVersion": SpecVersion::DEFAULT.as_str(),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "echo", "version": "0"},
            }),
            _ => json!({"tools": []}),
        };
        ResponseTemplate::new(200)
            .set_body_json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
    }
}

/// A wrong-audience token must be refused with `error="invalid_token"`.
const ECHOED: &str = r#"
id = "redaction.echoed_token"
title = "t"
family = "redaction"
severity = "MUST"

[[spec]]
source = "RFC 6750"
section = "3.1"
rule = "invalid_token"

[[step]]
kind = "mint"
name = "presented"
audience = "https://unrelated.example/api"

[[step]]
kind = "mcp"
call = "tools/list"
token = "presented"
expect = { status = 401, challenge = { scheme = "Bearer", error = "invalid_token" } }
"#;

#[tokio::test]
async fn a_token_the_server_echoes_is_redacted_in_message_and_evidence() {
    let server = MockServer::start().await;
    let resource = format!("{}/mcp", server.uri());
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", server.uri());
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-protected-resource/mcp"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"resource": resource, "authorization_servers": []})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/mcp"))
        .respond_with(EchoingServer {
            resource: resource.clone(),
            metadata,
        })
        .mount(&server)
        .await;
    let profile =
        TargetProfile::from_toml_str(&format!("[server]\nurl = \"{resource}\"\n"), "redaction.rs")
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("echoed.toml"), ECHOED).unwrap();
    let scenarios = conformance::scenario::load(&[dir.path().to_owned()]).unwrap();
    let options = RunOptions {
        only: vec!["token.valid".into(), "redaction.echoed_token".into()],
        ..Default::default()
    };
    let report = run_embedded(
        profile,
        SpecVersion::DEFAULT,
        &scenarios,
        &options,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let result = |id: &str| {
        report
            .results
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("{id} did not run: {:?}", report.results))
    };
    assert_eq!(result("token.valid").verdict, Verdict::Pass);
    let failed = result("redaction.echoed_token");
    assert_eq!(failed.verdict, Verdict::Fail, "{failed:?}");
    let message = failed.message.as_deref().unwrap_or_default();
    // The challenge is quoted, its token is not.
    assert!(message.contains("got error="), "{message}");
    assert!(message.contains("[redacted"), "{message}");
    assert!(!message.contains("eyJ"), "a JWT in the message: {message}");
    let evidence = serde_json::to_string(&failed.evidence).unwrap();
    assert!(evidence.contains("[redacted"), "{evidence}");
    assert!(
        !evidence.contains("eyJ"),
        "a JWT in the evidence: {evidence}"
    );
}
