//! Deliberately odd MCP servers that are right about auth: the suite judges
//! them on their auth behaviour alone, whatever their transport quirks.
//!
//! Each server is a `wiremock` mock on 127.0.0.1 that answers 401 with a
//! `Bearer resource_metadata=...` challenge unless the request carries a
//! bearer token, and answers MCP otherwise, in one odd way:
//!
//! - CRLF line ends in its SSE events;
//! - a comment, a notification and a request to the client before the answer;
//! - a slow answer whose `data` spans lines and is followed by more events;
//! - odd headers: a mixed-case `Content-Type` with a charset, and a 500 for
//!   any request with a header outside what the transport needs (what a
//!   strict gateway does), so a stray header from the suite would show.
//!
//! A mock cannot verify a JWT, so it only checks that a token is there and
//! looks like one; that is why only `token.valid` and `token.missing` are
//! run, whose verdicts depend on nothing more. A variant with a real auth bug
//! (no token, no problem) must fail `token.missing`, so these tests can fail.
//!
//! A stream that stays open cannot be built with wiremock (it sends whole
//! bodies), so the last tests use a hand-written server on a raw socket.

use std::time::{Duration, Instant};

use conformance::mcp_client::{McpClient, McpRequest};
use conformance::runner::{RunOptions, run_embedded};
use conformance::{SpecVersion, TargetProfile, Verdict};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Long enough for the slow server, short enough to fail fast on a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the slow server takes to answer.
const SLOW: Duration = Duration::from_millis(400);

/// The transport quirk of a server.
#[derive(Debug, Clone, Copy)]
enum Oddity {
    /// SSE events with CRLF line ends, a notification first.
    CrlfEvents,
    /// A comment, a notification and a server request before the answer.
    NotificationFirst,
    /// A delayed answer, `data` over several lines, more events after it.
    SlowStream,
    /// Mixed-case `Content-Type` with parameters, extra response headers, and
    /// a 500 for a request with a header the transport does not need.
    OddHeaders,
}

const ALL: [Oddity; 4] = [
    Oddity::CrlfEvents,
    Oddity::NotificationFirst,
    Oddity::SlowStream,
    Oddity::OddHeaders,
];

/// Request headers a Streamable HTTP client needs, plus HTTP's own.
const EXPECTED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "accept",
    "authorization",
    "mcp-protocol-version",
    "mcp-session-id",
];

/// One odd server's behaviour.
struct OddServer {
    oddity: Oddity,
    /// The `resource_metadata` URL of its challenge.
    metadata: String,
    /// The auth bug: a request without `Authorization` gets through.
    lets_missing_token_in: bool,
}

impl OddServer {
    fn authorized(&self, req: &Request) -> bool {
        let Some(value) = req.headers.get("authorization") else {
            return self.lets_missing_token_in;
        };
        // Cannot verify a signature: a bearer token shaped like a JWT.
        value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| t.split('.').count() == 3 && t.split('.').all(|p| !p.is_empty()))
    }

    fn challenge(&self) -> ResponseTemplate {
        ResponseTemplate::new(401)
            .insert_header(
                "WWW-Authenticate",
                format!("Bearer resource_metadata=\"{}\"", self.metadata),
            )
            .set_body_json(json!({"error": "unauthorized"}))
    }

    /// The JSON-RPC result for `method`, if it is one this server knows.
    fn result(method: &str) -> Option<Value> {
        match method {
            "initialize" => Some(json!({
                "protocolVersion": SpecVersion::DEFAULT.as_str(),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "odd", "version": "0"},
            })),
            "tools/list" => Some(json!({"tools": [{
                "name": "echo",
                "inputSchema": {"type": "object"},
            }]})),
            "ping" => Some(json!({})),
            _ => None,
        }
    }

    /// The SSE body carrying `answer`, framed the odd way.
    fn events(&self, answer: &Value) -> String {
        let notification = json!({
            "jsonrpc": "2.0",
            "method": "notifications/message",
            "params": {"level": "info", "data": "working on it"},
        });
        match self.oddity {
            Oddity::CrlfEvents => format!(
                "event: message\r\ndata: {notification}\r\n\r\nevent: message\r\nid: 1\r\ndata: {answer}\r\n\r\n"
            ),
            Oddity::NotificationFirst => {
                let request = json!({"jsonrpc": "2.0", "id": "s-1", "method": "roots/list"});
                format!(
                    ": stream opened\n\nevent: message\ndata: {notification}\n\nevent: message\ndata: {request}\n\nevent: message\ndata: {answer}\n\n"
                )
            }
            Oddity::SlowStream => {
                let data: String = serde_json::to_string_pretty(answer)
                    .unwrap_or_default()
                    .lines()
                    .map(|l| format!("data: {l}\n"))
                    .collect();
                format!(
                    "retry: 1000\n\n{data}\nevent: message\ndata: {notification}\n\n: keep-alive\n\n"
                )
            }
            Oddity::OddHeaders => format!("data: {answer}\n\n"),
        }
    }
}

impl Respond for OddServer {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if matches!(self.oddity, Oddity::OddHeaders)
            && let Some(odd) = req
                .headers
                .keys()
                .find(|k| !EXPECTED_HEADERS.contains(&k.as_str()))
        {
            return ResponseTemplate::new(500).set_body_string(format!("unexpected header {odd}"));
        }
        if !self.authorized(req) {
            return self.challenge();
        }
        let Ok(message) = req.body_json::<Value>() else {
            return ResponseTemplate::new(400);
        };
        let Some(id) = message.get("id").cloned() else {
            // A notification.
            return ResponseTemplate::new(202);
        };
        let method = message.get("method").and_then(Value::as_str).unwrap_or("");
        let answer = match Self::result(method) {
            Some(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            None => json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": "method not found"}}),
        };
        let mut template = ResponseTemplate::new(200).insert_header("Mcp-Session-Id", "odd-1");
        template = match self.oddity {
            Oddity::OddHeaders => template
                .insert_header("X-Accel-Buffering", "no")
                .insert_header("Cache-Control", "no-cache, no-transform")
                .set_body_raw(self.events(&answer), "Text/Event-Stream; Charset=UTF-8"),
            _ => template.set_body_raw(self.events(&answer), "text/event-stream"),
        };
        if matches!(self.oddity, Oddity::SlowStream) {
            template = template.set_delay(SLOW);
        }
        template
    }
}

/// Starts an odd server; its MCP endpoint is `{uri}/mcp`.
async fn odd_server(oddity: Oddity, lets_missing_token_in: bool) -> MockServer {
    let server = MockServer::start().await;
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", server.uri());
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-protected-resource/mcp"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resource": format!("{}/mcp", server.uri()),
            "authorization_servers": [],
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/mcp"))
        .respond_with(OddServer {
            oddity,
            metadata,
            lets_missing_token_in,
        })
        .mount(&server)
        .await;
    server
}

/// Runs `token.valid` and `token.missing` against the server at `uri`
/// through the suite's library, as the binary would with `--only`; returns
/// each scenario's verdict and message.
async fn verdicts(uri: &str) -> Vec<(String, Verdict, Option<String>)> {
    let profile = TargetProfile::from_toml_str(
        &format!("[server]\nurl = \"{uri}/mcp\"\n"),
        "odd_servers.rs",
    )
    .expect("profile");
    let scenarios = conformance::scenario::load(&[]).expect("built-in scenarios");
    let options = RunOptions {
        only: vec!["token.valid".into(), "token.missing".into()],
        ..Default::default()
    };
    let report = run_embedded(
        profile,
        SpecVersion::DEFAULT,
        &scenarios,
        &options,
        REQUEST_TIMEOUT,
    )
    .await
    .expect("run");
    report
        .results
        .into_iter()
        .map(|r| (r.id, r.verdict, r.message))
        .collect()
}

fn verdict_of<'a>(
    results: &'a [(String, Verdict, Option<String>)],
    id: &str,
) -> &'a (String, Verdict, Option<String>) {
    results
        .iter()
        .find(|(i, _, _)| i == id)
        .unwrap_or_else(|| panic!("{id} did not run: {results:?}"))
}

#[tokio::test]
async fn odd_servers_that_are_right_about_auth_pass() {
    for oddity in ALL {
        let server = odd_server(oddity, false).await;
        let results = verdicts(&server.uri()).await;
        assert_eq!(results.len(), 2, "{oddity:?}: {results:?}");
        for id in ["token.valid", "token.missing"] {
            let (_, verdict, message) = verdict_of(&results, id);
            assert_eq!(*verdict, Verdict::Pass, "{oddity:?} {id}: {message:?}");
        }
    }
}

#[tokio::test]
async fn an_odd_server_with_an_auth_bug_fails_token_missing() {
    for oddity in ALL {
        let server = odd_server(oddity, true).await;
        let results = verdicts(&server.uri()).await;
        let (_, valid, message) = verdict_of(&results, "token.valid");
        assert_eq!(*valid, Verdict::Pass, "{oddity:?}: {message:?}");
        let (_, missing, message) = verdict_of(&results, "token.missing");
        assert_eq!(*missing, Verdict::Fail, "{oddity:?}: {message:?}");
        let message = message.as_deref().unwrap_or("");
        assert!(
            message.contains("expected status 401, got 200"),
            "{oddity:?}: {message}"
        );
    }
}

/// A `tools/list` with a JWT-shaped token, straight through the client.
async fn tools_list(client: &McpClient) -> (McpRequest, conformance::mcp_client::Answer) {
    let req = McpRequest {
        message: client.request("tools/list", None),
        authorization: Some("Bearer aaa.bbb.ccc".into()),
        session: Some("odd-1".into()),
        protocol_header: true,
        ..Default::default()
    };
    let answer = client.send(&req).await;
    (req, answer)
}

#[tokio::test]
async fn the_client_reads_each_odd_answer() {
    for oddity in ALL {
        let server = odd_server(oddity, false).await;
        let url = format!("{}/mcp", server.uri());
        let client = McpClient::new(&url, SpecVersion::DEFAULT, REQUEST_TIMEOUT);
        let (req, answer) = tools_list(&client).await;
        assert_eq!(answer.status(), 200, "{oddity:?}: {:?}", answer.raw);
        assert_eq!(answer.raw.error, None, "{oddity:?}");
        let jsonrpc = answer
            .jsonrpc
            .unwrap_or_else(|| panic!("{oddity:?}: no answer in {:?}", answer.raw.body));
        assert_eq!(jsonrpc["id"], req.message["id"], "{oddity:?}");
        assert_eq!(jsonrpc["result"]["tools"][0]["name"], "echo", "{oddity:?}");
        // The evidence keeps the body as it came.
        assert!(answer.raw.body.contains("\"echo\""), "{oddity:?}");
        // And without a token, the challenge.
        let refused = client
            .send(&McpRequest {
                authorization: None,
                ..req
            })
            .await;
        assert_eq!(refused.status(), 401, "{oddity:?}");
        assert!(
            refused
                .header("www-authenticate")
                .is_some_and(|c| c.contains("resource_metadata=")),
            "{oddity:?}"
        );
    }
}

#[tokio::test]
async fn the_slow_server_is_slow_and_the_strict_server_is_strict() {
    // The oddities are live, so the passes above mean something.
    let slow = odd_server(Oddity::SlowStream, false).await;
    let client = McpClient::new(
        &format!("{}/mcp", slow.uri()),
        SpecVersion::DEFAULT,
        REQUEST_TIMEOUT,
    );
    let started = Instant::now();
    let (_, answer) = tools_list(&client).await;
    assert!(answer.jsonrpc.is_some());
    assert!(started.elapsed() >= SLOW, "{:?}", started.elapsed());

    let strict = odd_server(Oddity::OddHeaders, false).await;
    let client = McpClient::new(
        &format!("{}/mcp", strict.uri()),
        SpecVersion::DEFAULT,
        REQUEST_TIMEOUT,
    );
    let odd = client
        .http()
        .post(format!("{}/mcp", strict.uri()))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .header("Authorization", "Bearer aaa.bbb.ccc")
        .header("X-Debug", "1")
        .body(client.request("tools/list", None).to_string())
        .send()
        .await
        .expect("strict server answers");
    assert_eq!(odd.status().as_u16(), 500);
    let (_, answer) = tools_list(&client).await;
    assert_eq!(answer.status(), 200, "{}", answer.raw.body);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|c| c.starts_with("Text/Event-Stream"))
    );
}

/// A one-connection HTTP/1.1 server that answers with `events` as an SSE
/// stream and then keeps the connection open without a word more.
async fn open_stream_server(events: String) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/mcp", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        // The request's head and body are not needed: read what came.
        let mut buf = [0u8; 8192];
        let _ = socket.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
        let chunk = format!("{:x}\r\n{events}\r\n", events.len());
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(chunk.as_bytes()).await;
        // Open, silent, until the test ends.
        tokio::time::sleep(Duration::from_secs(600)).await;
    });
    (url, task)
}

#[tokio::test]
async fn an_answer_on_a_stream_that_stays_open_returns_at_once() {
    let client_timeout = Duration::from_secs(30);
    // Request ids start at 1.
    let events = ": hello\r\rdata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\r\rdata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[]}}\r\r".to_owned();
    let (url, server) = open_stream_server(events).await;
    let client = McpClient::new(&url, SpecVersion::DEFAULT, client_timeout);
    let started = Instant::now();
    let answer = client
        .send(&McpRequest {
            message: client.request("tools/list", None),
            ..Default::default()
        })
        .await;
    server.abort();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited for the stream to end"
    );
    assert_eq!(answer.raw.error, None);
    assert_eq!(answer.jsonrpc.expect("answer")["id"], 1);
}

#[tokio::test]
async fn a_notification_does_not_wait_on_a_stream_that_stays_open() {
    let client_timeout = Duration::from_secs(30);
    let (url, server) = open_stream_server(": nothing to say\n\n".to_owned()).await;
    let client = McpClient::new(&url, SpecVersion::DEFAULT, client_timeout);
    let started = Instant::now();
    let answer = client.notify("notifications/initialized", None, None).await;
    server.abort();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited for the stream to end"
    );
    assert_eq!(answer.status(), 200);
    assert!(answer.jsonrpc.is_none());
}
