//! An MCP client over Streamable HTTP with full control of the headers a
//! test wants to get wrong: JSON-RPC requests with any `Authorization`,
//! query, session and protocol version; answers as JSON or SSE; a timeout
//! on every request so a hanging server fails a scenario instead of the run.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use serde_json::{Value, json};
use sse_stream::{ByteStreamBody, Sse, SseStream};

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

    /// The `WWW-Authenticate` header values, in order.
    pub fn www_authenticate(&self) -> Vec<&str> {
        self.raw
            .response_headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("www-authenticate"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Bearer` challenge of the answer, if it has one.
    pub fn bearer_challenge(&self) -> Option<crate::www_authenticate::Challenge> {
        crate::www_authenticate::parse(&self.www_authenticate())
            .into_iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
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

    /// The same client speaking another spec version.
    pub fn with_version(&self, version: SpecVersion) -> Self {
        Self {
            version,
            ..self.clone()
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
                    .is_some_and(is_event_stream);
                let (body, jsonrpc) = match (sse, id) {
                    // A notification has no answer to wait for, and a
                    // stream a server opens for one may never end.
                    (true, None) => (Vec::new(), None),
                    (true, Some(id)) => {
                        read_body(&mut response, Some(SseAnswer::new(id)), &mut raw.error).await
                    }
                    (false, _) => {
                        let (body, _) = read_body(&mut response, None, &mut raw.error).await;
                        let jsonrpc = serde_json::from_slice(&body).ok();
                        (body, jsonrpc)
                    }
                };
                raw.body = String::from_utf8_lossy(&body).into_owned();
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

/// Reads a body up to [`MAX_BODY`], or with `events` until the SSE event
/// that answers the request (the stream may stay open); transport trouble
/// goes to `error`. Returns the bytes read and that answer.
async fn read_body(
    response: &mut reqwest::Response,
    mut events: Option<SseAnswer>,
    error: &mut Option<String>,
) -> (Vec<u8>, Option<Value>) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if let Some(found) = events.as_mut().and_then(|e| e.push(&chunk)) {
                    return (body, Some(found));
                }
                if body.len() > MAX_BODY {
                    *error = Some(format!("answer larger than {MAX_BODY} bytes"));
                    return (body, None);
                }
            }
            Ok(None) => return (body, events.as_mut().and_then(SseAnswer::finish)),
            Err(e) => {
                *error = Some(describe(&e));
                return (body, None);
            }
        }
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

/// Whether a `Content-Type` value is `text/event-stream` (media types are
/// case-insensitive and may carry parameters: RFC 9110 8.3.1).
fn is_event_stream(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// The bytes handed to the SSE parser, queued by [`SseAnswer::push`].
type Queue = Arc<Mutex<VecDeque<Bytes>>>;

/// The parser's input: whatever has been pushed so far.
struct Feed(Queue);

impl Stream for Feed {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Pending without a waker: the only poller is `SseAnswer::drain`,
        // which polls again after each push and never waits.
        match lock(&self.0).pop_front() {
            Some(bytes) => Poll::Ready(Some(Ok(bytes))),
            None => Poll::Pending,
        }
    }
}

fn lock(queue: &Queue) -> std::sync::MutexGuard<'_, VecDeque<Bytes>> {
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Finds the JSON-RPC response to one request in an SSE body fed chunk by
/// chunk as it arrives, since the stream may stay open after it. The
/// parsing (LF, CR and CRLF line ends, also split across chunks; multi-line
/// `data`; comments; `id`, `retry`, `event`) is `sse-stream`'s. Events that
/// are not that response are skipped: notifications, requests from the
/// server, responses to other ids, data that is not JSON.
struct SseAnswer {
    queue: Queue,
    events: Pin<Box<SseStream<ByteStreamBody<Feed, Bytes>>>>,
    id: Value,
}

impl SseAnswer {
    fn new(id: Value) -> Self {
        let queue = Queue::default();
        Self {
            events: Box::pin(SseStream::from_bytes_stream(Feed(queue.clone()))),
            queue,
            id,
        }
    }

    /// Parses the next chunk of the body; the response once it is complete.
    fn push(&mut self, chunk: &[u8]) -> Option<Value> {
        {
            let mut queue = lock(&self.queue);
            // One line per frame: sse-stream drops the rest of a frame after
            // a line it refuses, so this way a refused line costs only itself.
            for line in lines(chunk) {
                queue.push_back(Bytes::copy_from_slice(line));
            }
        }
        self.drain()
    }

    /// The body ended: an event cut off before its blank line still counts
    /// (the server has said all it will), unlike in a browser.
    fn finish(&mut self) -> Option<Value> {
        self.push(b"\n\n")
    }

    fn drain(&mut self) -> Option<Value> {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            match self.events.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(Ok(event))) => {
                    if let Some(v) = self.response(event) {
                        return Some(v);
                    }
                }
                // A line sse-stream refuses (an unknown field, no colon, a
                // repeated `event:` or `id:`): the spec says to ignore it.
                Poll::Ready(Some(Err(_))) => {}
                Poll::Ready(None) | Poll::Pending => return None,
            }
        }
    }

    fn response(&self, event: Sse) -> Option<Value> {
        let v: Value = serde_json::from_str(event.data.as_deref()?).ok()?;
        let is_response = v.get("result").is_some() || v.get("error").is_some();
        (is_response && v.get("id") == Some(&self.id)).then_some(v)
    }
}

/// `chunk` cut after each line end (CRLF, LF or a lone CR); the last piece
/// may be part of a line the next chunk finishes.
fn lines(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = chunk;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = match rest.iter().position(|b| matches!(b, b'\r' | b'\n')) {
            None => rest.len(),
            Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => i + 2,
            Some(i) => i + 1,
        };
        let (line, tail) = rest.split_at(end);
        rest = tail;
        Some(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}"#;

    /// The answer to request `id` in a body that arrives as `chunks`, with
    /// the stream left open (no `finish`).
    fn answer_in(chunks: &[&str], id: Value) -> Option<Value> {
        let mut sse = SseAnswer::new(id);
        chunks.iter().find_map(|c| sse.push(c.as_bytes()))
    }

    /// The same body cut into one-byte chunks: every line end and every
    /// CRLF pair is split somewhere.
    fn answer_bytewise(body: &str, id: Value) -> Option<Value> {
        let mut sse = SseAnswer::new(id);
        body.as_bytes().chunks(1).find_map(|c| sse.push(c))
    }

    #[test]
    fn finds_the_answer_among_sse_events() {
        let text = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}\n\n";
        let v = answer_in(&[text], json!(3)).unwrap();
        assert_eq!(v["id"], 3);
        assert!(answer_in(&[text], json!(4)).is_none());
    }

    #[test]
    fn crlf_line_ends() {
        let body = format!(
            "event: message\r\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}}\r\n\r\ndata: {ANSWER}\r\n\r\n"
        );
        assert_eq!(answer_in(&[&body], json!(3)).unwrap()["id"], 3);
        assert_eq!(answer_bytewise(&body, json!(3)).unwrap()["id"], 3);
    }

    #[test]
    fn cr_line_ends_on_a_stream_that_stays_open() {
        // The final CR ends the event at once: no waiting for a byte that
        // might have been the LF of a CRLF.
        let body = format!("data: {{\"jsonrpc\":\"2.0\",\"method\":\"n\"}}\r\rdata: {ANSWER}\r\r");
        assert_eq!(answer_in(&[&body], json!(3)).unwrap()["id"], 3);
        assert_eq!(answer_bytewise(&body, json!(3)).unwrap()["id"], 3);
    }

    #[test]
    fn mixed_line_ends() {
        let body = format!("event: message\r\ndata: {ANSWER}\n\r");
        assert_eq!(answer_bytewise(&body, json!(3)).unwrap()["id"], 3);
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        let body =
            "data: {\"jsonrpc\":\"2.0\",\ndata: \"id\":3,\ndata:\"result\":{\"text\":\"a\"}}\n\n";
        let v = answer_in(&[body], json!(3)).unwrap();
        assert_eq!(v["result"]["text"], "a");
        assert_eq!(answer_bytewise(body, json!(3)).unwrap()["id"], 3);
    }

    #[test]
    fn comments_are_skipped() {
        let body =
            format!(": keep-alive\n\n:\nevent: message\n: between fields\ndata: {ANSWER}\n\n");
        assert_eq!(answer_in(&[&body], json!(3)).unwrap()["id"], 3);
    }

    #[test]
    fn id_and_retry_fields() {
        // A `retry`-only event first; a repeated `id:` is allowed (the last
        // one counts).
        let body = format!("retry: 3000\n\nid: 41\nretry: 500\ndata: {ANSWER}\nid: 42\n\n");
        assert_eq!(answer_in(&[&body], json!(3)).unwrap()["id"], 3);
    }

    #[test]
    fn lines_the_spec_ignores_are_not_fatal() {
        // An unknown field, a line without a colon, a repeated `event:`:
        // the spec ignores or tolerates them, and so does the client.
        let body = format!("x-vendor: 1\nbogus\nevent: a\nevent: b\ndata: {ANSWER}\n\n");
        assert_eq!(answer_in(&[&body], json!(3)).unwrap()["id"], 3);
        assert_eq!(answer_bytewise(&body, json!(3)).unwrap()["id"], 3);
    }

    #[test]
    fn only_our_response_counts() {
        let body = concat!(
            // Not JSON.
            "data: hello\n\n",
            // A request from the server that reuses our id.
            "data: {\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"sampling/createMessage\"}\n\n",
            // A response to another request.
            "data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\n\n",
            // A string id is another id.
            "data: {\"jsonrpc\":\"2.0\",\"id\":\"3\",\"result\":{}}\n\n",
        );
        assert!(answer_in(&[body], json!(3)).is_none());
        let error = "data: {\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32600,\"message\":\"no\"}}\n\n";
        assert_eq!(
            answer_in(&[body, error], json!(3)).unwrap()["error"]["code"],
            -32600
        );
    }

    #[test]
    fn an_event_cut_off_by_the_end_of_the_body_still_counts() {
        let mut sse = SseAnswer::new(json!(3));
        assert!(sse.push(format!("data: {ANSWER}").as_bytes()).is_none());
        assert_eq!(sse.finish().unwrap()["id"], 3);
        let mut sse = SseAnswer::new(json!(3));
        assert!(sse.push(format!("data: {ANSWER}\r").as_bytes()).is_none());
        assert_eq!(sse.finish().unwrap()["id"], 3);
    }

    #[test]
    fn event_stream_media_type() {
        assert!(is_event_stream("text/event-stream"));
        assert!(is_event_stream("Text/Event-Stream; charset=UTF-8"));
        assert!(is_event_stream(" text/event-stream ;charset=utf-8"));
        assert!(!is_event_stream("application/json"));
        assert!(!is_event_stream("text/event-streams"));
    }

    #[test]
    fn lines_keep_their_ends() {
        let cut: Vec<&[u8]> = lines(b"a\r\nb\rc\nd").collect();
        assert_eq!(cut, [&b"a\r\n"[..], b"b\r", b"c\n", b"d"]);
    }
}
