//! Evidence: what was sent and what came back for each HTTP exchange of a
//! scenario, cut short and with every known secret redacted, so a failure
//! can be understood without rerunning it.

use serde::{Deserialize, Serialize};

use crate::secret_book::SecretBook;

/// Bodies are cut to this many characters in reports.
pub const BODY_LIMIT: usize = 600;

/// Response headers worth showing.
const SHOWN_HEADERS: &[&str] = &[
    "www-authenticate",
    "content-type",
    "mcp-session-id",
    "location",
    "retry-after",
];

/// One request and its answer, as shown in reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// `POST http://127.0.0.1:3000/mcp`, with the JSON-RPC method.
    pub request: String,
    /// Request headers that matter (Authorization redacted).
    pub request_headers: Vec<(String, String)>,
    /// The status, if an answer came.
    pub status: Option<u16>,
    /// Response headers that matter.
    pub response_headers: Vec<(String, String)>,
    /// The body, cut short.
    pub body: String,
    /// Transport failure (timeout, refused connection).
    pub error: Option<String>,
}

/// The raw material of an exchange, before redaction.
#[derive(Debug, Clone, Default)]
pub struct RawExchange {
    /// Request line.
    pub request: String,
    /// Request headers sent.
    pub request_headers: Vec<(String, String)>,
    /// Status.
    pub status: Option<u16>,
    /// All response headers.
    pub response_headers: Vec<(String, String)>,
    /// Full body.
    pub body: String,
    /// Transport failure.
    pub error: Option<String>,
}

impl RawExchange {
    /// Everything the server sent, for leak scans.
    pub fn response_text(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.response_headers {
            s.push_str(k);
            s.push_str(": ");
            s.push_str(v);
            s.push('\n');
        }
        s.push_str(&self.body);
        s
    }

    /// The shareable form.
    pub fn redacted(&self, book: &SecretBook) -> Exchange {
        let mut body = book.redact(&self.body);
        if body.chars().count() > BODY_LIMIT {
            body = body.chars().take(BODY_LIMIT).collect::<String>() + "...";
        }
        Exchange {
            request: book.redact(&self.request),
            request_headers: self
                .request_headers
                .iter()
                .map(|(k, v)| (k.clone(), cut(&book.redact(v), 120)))
                .collect(),
            status: self.status,
            response_headers: self
                .response_headers
                .iter()
                .filter(|(k, _)| SHOWN_HEADERS.contains(&k.to_ascii_lowercase().as_str()))
                .map(|(k, v)| (k.clone(), book.redact(v)))
                .collect(),
            body,
            error: self.error.clone(),
        }
    }
}

/// Response headers as (name, value) pairs, values read lossily.
pub fn header_pairs(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() > n {
        s.chars().take(n).collect::<String>() + "..."
    } else {
        s.to_owned()
    }
}
