//! Where the suite looks for Protected Resource Metadata: where the server
//! says it is (the `resource_metadata` of its 401 challenge), else the RFC
//! 9728 well-known URL. MCP 2025-11-25 lets a server use either mechanism,
//! so a server that serves its metadata only at the URL its challenge names
//! passes the discovery scenarios, and one that announces nothing and
//! serves nothing at the well-known URL fails them.
//!
//! The servers are wiremock mocks: right about auth as far as these
//! scenarios look (401 with a Bearer challenge without a token, an MCP
//! answer with one), different only in where their metadata is.

use std::time::Duration;

use conformance::provider_link::ProviderLink;
use conformance::run_context::RunContext;
use conformance::runner::{RunOptions, run};
use conformance::scenario::IssuerRole;
use conformance::{SpecVersion, TargetProfile, Verdict};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers MCP requests with a bearer token; challenges the others.
struct McpEndpoint {
    /// The challenge's `resource_metadata`, if it has one.
    announces: Option<String>,
}

impl Respond for McpEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let bearer = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer ") && v.split('.').count() == 3);
        if !bearer {
            let challenge = match &self.announces {
                Some(url) => format!("Bearer resource_metadata=\"{url}\""),
                None => "Bearer realm=\"mcp\"".to_owned(),
            };
            return ResponseTemplate::new(401).insert_header("WWW-Authenticate", challenge);
        }
        let Ok(message) = req.body_json::<Value>() else {
            return ResponseTemplate::new(400);
        };
        let Some(id) = message.get("id").cloned() else {
            return ResponseTemplate::new(202);
        };
        let result = match message.get("method").and_then(Value::as_str) {
            Some("initialize") => json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "prm-discovery", "version": "1"}
            }),
            _ => json!({"tools": []}),
        };
        ResponseTemplate::new(200)
            .insert_header("Mcp-Session-Id", "prm-1")
            .set_body_json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
    }
}

/// The discovery scenarios' verdicts against a server that serves its
/// metadata at `metadata_path` (if any) and names it in its challenge when
/// `announce`.
async fn discovery_verdicts(
    metadata_path: Option<&str>,
    announce: bool,
) -> Vec<(String, Verdict, Option<String>)> {
    let provider = ProviderLink::embedded(&[]).await.expect("provider");
    let issuer = provider.issuer(IssuerRole::Trusted).issuer.clone();
    let server = MockServer::start().await;
    if let Some(p) = metadata_path {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "resource": format!("{}/mcp", server.uri()),
                "authorization_servers": [issuer],
                "scopes_supported": ["mcp:tools"],
            })))
            .mount(&server)
            .await;
    }
    let announces = (announce && metadata_path.is_some())
        .then(|| format!("{}{}", server.uri(), metadata_path.unwrap_or_default()));
    Mock::given(method("POST"))
        .and(path("/mcp"))
        .respond_with(McpEndpoint { announces })
        .mount(&server)
        .await;
    let profile = TargetProfile::from_toml_str(
        &format!("[server]\nurl = \"{}/mcp\"\n", server.uri()),
        "prm_discovery.rs",
    )
    .expect("profile");
    let mut ctx = RunContext::prepare(
        profile,
        SpecVersion::DEFAULT,
        provider,
        Duration::from_secs(5),
    )
    .await
    .expect("run context");
    let scenarios = conformance::scenario::load(&[]).expect("built-in scenarios");
    let options = RunOptions {
        only: vec![
            "discovery.prm_served".into(),
            "discovery.prm_content".into(),
            "discovery.prm_content_type".into(),
        ],
        ..Default::default()
    };
    let report = run(&mut ctx, &scenarios, &options, |_, _, _| {}).await;
    ctx.shutdown().await;
    report
        .results
        .into_iter()
        .filter(|r| r.id.starts_with("discovery."))
        .map(|r| (r.id, r.verdict, r.message))
        .collect()
}

#[tokio::test]
async fn metadata_at_the_url_the_challenge_names_passes() {
    let results = discovery_verdicts(Some("/meta/prm.json"), true).await;
    assert_eq!(results.len(), 3, "{results:?}");
    for (id, verdict, message) in &results {
        assert_eq!(*verdict, Verdict::Pass, "{id}: {message:?}");
    }
}

#[tokio::test]
async fn metadata_at_the_well_known_url_passes_without_an_announcement() {
    let results =
        discovery_verdicts(Some("/.well-known/oauth-protected-resource/mcp"), false).await;
    for (id, verdict, message) in &results {
        assert_eq!(*verdict, Verdict::Pass, "{id}: {message:?}");
    }
}

#[tokio::test]
async fn metadata_nobody_can_find_fails() {
    // Served at a private path the challenge does not name: neither
    // mechanism leads to it.
    let results = discovery_verdicts(Some("/meta/prm.json"), false).await;
    for (id, verdict, message) in &results {
        // The content type of a document that is not there is no finding
        // of its own: prm_served has it.
        let want = if id == "discovery.prm_content_type" {
            Verdict::NotMeaningful
        } else {
            Verdict::Fail
        };
        assert_eq!(*verdict, want, "{id}: {message:?}");
    }
}
