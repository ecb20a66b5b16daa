//! An MCP client over Streamable HTTP with full control of the headers a
//! test wants to get wrong: JSON-RPC requests with any `Authorization`,
//! query, session and protocol version; answers as JSON or SSE; a timeout
//! on every request so a hanging server fails a scenario instead of the run.

use std::time::Duration;

use serde_json::{Value, json};

use crate::evidence::RawExchange;
use crate::spec_version::SpecVersion;

static CLIENT_INFO: std::sync::LazyLock<Value> = std::sync::LazyLock::new(
    || json!({"name": "mcp-auth-conformance", "version": env!("CARGO_PKG_VERSION")}),
);

/// Longest body read from one answer.
const MAX_BODY: usize = 1024 * 1024;

/// A request to the MCP endpoint.
#[derive(Debug, Clone, Default)]
pub struct McpRequest {
    /// The JSON-RPC message.
    pub message: Value,
    /// The whole `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// `Mcp-Session-Id`.
    pub session: Option<String>,
    /// Send `MCP-Protocol-Version` (every request after initialize).
    pub protocol_header: bool,
}

/// What came back.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// Everything, for evidence and leak scans.
    pub raw: RawExchange,
    /// The JSON-RPC response, from a JSON body or an SSE event.
    pub jsonrpc: Option<Value>,
}

impl Answer {
    /// The status (0 when nothing came back).
    pub fn status(&self) -> u16 {
        self.raw.status.unwrap_or(0)
    }

    /// A response header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.raw
            .response_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The session id the server assigned.
    pub fn session_id(&self) -> Option<String> {
        self.header("mcp-session-id").map(str::to_owned)
    }
}

/// Talks to one MCP endpoint.
#[derive(Debug, Clone)]
pub struct McpClient {
    http: reqwest::Client,
    url: String,
    version: SpecVersion,
    next_id: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl McpClient {
    /// A client for `url` speaking `version`, with `timeout` per request.
    pub fn new(url: &str, version: SpecVersion, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            http,
            url: url.to_owned(),
            version,
            next_id: Default::default(),
        }
    }

    /// The HTTP client (for raw requests with the same timeout).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The spec version spoken.
    pub fn version(&self) -> SpecVersion {
        self.version
    }

    /// A JSON-RPC request message with a fresh id. From 2026-07-28 on
    /// (no `initialize`: SEP-2567/2575) every request carries the client's
    /// protocol version and capabilities in `_meta`.
    pub fn request(&self, method: &str, params: Option<Value>) -> Value {
        let id = 1 + self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut m = json!({"jsonrpc": "2.0", "id": id, "method": method});
        let mut params = params.unwrap_or(Value::Null);
        if !self.version.has_initialize() {
            if !params.is_object() {
                params = json!({});
            }
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": self.version.as_str(),
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": CLIENT_INFO.clone(),
            });
        }
        if !params.is_null() {
            m["params"] = params;
        }
        m
    }

    /// The first message of a conversation: `initialize`, or from
    /// 2026-07-28 on, `server/discover`.
    pub fn initialize_message(&self) -> Value {
        if !self.version.has_initialize() {
            return self.request("server/discover", None);
        }
        self.request(
            "initialize",
            Some(json!({
                "protocolVersion": self.version.as_str(),
                "capabilities": {},
                "clientInfo": CLIENT_INFO.clone(),
            })),
        )
    }

    /// Sends a request and reads its answer.
    pub async fn send(&self, req: &McpRequest) -> Answer {
        let method = req
            .message
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let mut headers = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (
                "Accept".to_owned(),
                "application/json, text/event-stream".to_owned(),
            ),
        ];
        if req.protocol_header {
            headers.push((
                "MCP-Protocol-Version".to_owned(),
                self.version.as_str().to_owned(),
            ));
        }
        if !self.version.has_initialize() {
            // 2026-07-28 standard headers (SEP-2243) mirror the body.
            if let Some(m) = req.message.get("method").and_then(Value::as_str) {
                headers.push(("Mcp-Method".to_owned(), m.to_owned()));
            }
            if let Some(name) = req.message.pointer("/params/name").and_then(Value::as_str) {
                headers.push(("Mcp-Name".to_owned(), name.to_owned()));
            }
        }
        if let Some(s) = &req.session {
            headers.push(("Mcp-Session-Id".to_owned(), s.clone()));
        }
        if let Some(a) = &req.authorization {
            headers.push(("Authorization".to_owned(), a.clone()));
        }
        let mut url = self.url.clone();
        if !req.query.is_empty() {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&req.query)
                .finish();
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&q);
        }
        let mut raw = RawExchange {
            request: format!("POST {url} ({method})"),
            request_headers: headers.clone(),
            ..Default::default()
        };
        let mut builder = self.http.post(&url).body(req.message.to_string());
        for (k, v) in &headers {
            builder = builder.header(k, v);
        }
        let id = req.message.get("id").cloned();
        match builder.send().await {
            Err(e) => {
                raw.error = Some(describe(&e));
                Answer { raw, jsonrpc: None }
            }
            Ok(mut response) => {
                raw.status = Some(response.status().as_u16());
                raw.response_headers = crate::evidence::header_pairs(response.headers());
                let sse = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("text/event-stream"));
                let mut body = Vec::new();
                let mut jsonrpc = None;
                loop {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            body.extend_from_slice(&chunk);
                            if sse {
                                // An SSE stream may stay open: stop at our answer.
                                jsonrpc =
                                    find_sse_response(&String::from_utf8_lossy(&body), id.as_ref());
                                if jsonrpc.is_some() {
                                    break;
                                }
                            }
                            if body.len() > MAX_BODY {
                                raw.error = Some(format!("answer larger than {MAX_BODY} bytes"));
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            raw.error = Some(describe(&e));
                            break;
                        }
                    }
                }
                raw.body = String::from_utf8_lossy(&body).into_owned();
                if !sse {
                    jsonrpc = serde_json::from_slice(&body).ok();
                }
                Answer { raw, jsonrpc }
            }
        }
    }

    /// Sends a notification (no answer expected beyond a status).
    pub async fn notify(
        &self,
        method: &str,
        authorization: Option<&str>,
        session: Option<&str>,
    ) -> Answer {
        let req = McpRequest {
            message: json!({"jsonrpc": "2.0", "method": method}),
            authorization: authorization.map(str::to_owned),
            query: Vec::new(),
            session: session.map(str::to_owned),
            protocol_header: true,
        };
        self.send(&req).await
    }

    /// `initialize` then `notifications/initialized` with the same
    /// credentials. Returns the initialize answer and the session id.
    pub async fn handshake(
        &self,
        authorization: Option<&str>,
        query: &[(String, String)],
    ) -> (Answer, Option<String>) {
        let answer = self
            .send(&McpRequest {
                message: self.initialize_message(),
                authorization: authorization.map(str::to_owned),
                query: query.to_vec(),
                session: None,
                protocol_header: !self.version.has_initialize(),
            })
            .await;
        if !(200..300).contains(&answer.status()) || !self.version.has_initialize() {
            return (answer, None);
        }
        let session = answer.session_id();
        let _ = self
            .notify(
                "notifications/initialized",
                authorization,
                session.as_deref(),
            )
            .await;
        (answer, session)
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        format!("connection failed: {e}")
    } else {
        e.to_string()
    }
}

/// The JSON-RPC response with `id` among the SSE events of `text`.
fn find_sse_response(text: &str, id: Option<&Value>) -> Option<Value> {
    for event in text.split("\n\n") {
        let data: String = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|l| l.trim_start())
            .collect::<Vec<_>>()
            .join("\n");
        if let Ok(v) = serde_json::from_str::<Value>(&data)
            && (v.get("result").is_some() || v.get("error").is_some())
            && (id.is_none() || v.get("id") == id)
        {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_answer_among_sse_events() {
        let text = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n\n";
        let v = find_sse_response(text, Some(&json!(3))).unwrap();
        assert_eq!(v["id"], 3);
        assert!(find_sse_response(text, Some(&json!(4))).is_none());
    }
}
