//! Checking a response against a step's expectations: status, the
//! `WWW-Authenticate` challenge, the JSON-RPC outcome, JSON fields, and the
//! session-id rules. Messages say what was expected and what came.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::mcp_client::Answer;
use crate::template::Vars;
use crate::www_authenticate;

/// An expected status: one code, several, or a class like `4xx`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatusSpec {
    /// Exactly this.
    Code(u16),
    /// Any of these.
    Codes(Vec<u16>),
    /// `2xx`, `4xx`...
    Class(String),
}

impl StatusSpec {
    /// Whether `status` matches.
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            Self::Code(c) => *c == status,
            Self::Codes(cs) => cs.contains(&status),
            Self::Class(c) => c
                .chars()
                .next()
                .and_then(|d| d.to_digit(10))
                .is_some_and(|d| u32::from(status / 100) == d),
        }
    }
}

impl fmt::Display for StatusSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(c) => write!(f, "{c}"),
            Self::Codes(cs) => write!(
                f,
                "one of {}",
                cs.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
            ),
            Self::Class(c) => f.write_str(c),
        }
    }
}

/// What a `WWW-Authenticate` challenge must say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeExpect {
    /// The auth scheme (compared case-insensitively).
    #[serde(default)]
    pub scheme: Option<String>,
    /// The `error` parameter.
    #[serde(default)]
    pub error: Option<String>,
    /// Parameters that must be present.
    #[serde(default)]
    pub params: Vec<String>,
    /// The `scope` parameter must contain these scopes (template).
    #[serde(default)]
    pub scope_includes: Option<String>,
    /// The `scope` parameter, if any, must name none of these (template).
    #[serde(default)]
    pub scope_excludes: Option<String>,
    /// `resource_metadata` must point at a document whose `resource` is the
    /// server's canonical URI.
    #[serde(default)]
    pub resource_metadata_resolves: bool,
}

/// Whether the JSON-RPC answer is a result or an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonRpcOutcome {
    /// A `result`.
    Result,
    /// An `error`, or a tool result with `isError: true`.
    Error,
}

/// What a response must look like.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The status.
    #[serde(default)]
    pub status: Option<StatusSpec>,
    /// The `WWW-Authenticate` challenge.
    #[serde(default)]
    pub challenge: Option<ChallengeExpect>,
    /// The JSON-RPC outcome.
    #[serde(default)]
    pub jsonrpc: Option<JsonRpcOutcome>,
    /// The JSON-RPC result's text must contain this (template).
    #[serde(default)]
    pub result_contains: Option<String>,
    /// The answer (a tool error's text or a JSON-RPC error's message) must
    /// tell the user to authorize again: it contains one of the profile's
    /// `[upstream] reauth_hints`, compared case-insensitively.
    #[serde(default)]
    pub says_reauth_required: bool,
    /// JSON pointer -> expected string value (template).
    #[serde(default)]
    pub json: BTreeMap<String, String>,
    /// JSON pointer -> a value the array there must contain (template).
    #[serde(default)]
    pub json_contains: BTreeMap<String, String>,
    /// JSON pointer -> a value the array there, if any, must not contain
    /// (template).
    #[serde(default)]
    pub json_excludes: BTreeMap<String, String>,
    /// The media type of the answer (`application/json`), compared without
    /// parameters and case.
    #[serde(default)]
    pub content_type: Option<String>,
}

/// Why an answer does not meet a step's expectation, or why the
/// expectation could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unmet {
    /// The server's answer is not what the step expects: a FAIL.
    #[error("{0}")]
    Answer(String),
    /// The expectation names a placeholder the run does not define: the
    /// scenario's problem, never the server's.
    #[error("scenario error: {0}")]
    Scenario(String),
}

fn render(vars: &Vars, t: &str) -> Result<String, Unmet> {
    vars.render(t).map_err(|e| Unmet::Scenario(e.to_string()))
}

/// Checks `answer` against `expect`.
pub async fn check(
    expect: &Expect,
    answer: &Answer,
    vars: &Vars,
    http: &reqwest::Client,
) -> Result<(), Unmet> {
    let status = answer.status();
    if let Some(spec) = &expect.status
        && !spec.accepts(status)
    {
        return Err(Unmet::Answer(match &answer.raw.error {
            Some(e) if answer.raw.status.is_none() => {
                format!("expected status {spec}, got no answer: {e}")
            }
            _ => format!("expected status {spec}, got {status}"),
        }));
    }
    // RFC 6750 3: "If the protected resource request does not include
    // authentication credentials or does not contain an access token that
    // enables access to the protected resource, the resource server MUST
    // include the HTTP "WWW-Authenticate" response header field". Every
    // expected 401, whatever else the step checks.
    if status == 401 && expect.status.as_ref().is_some_and(|s| s.accepts(401)) {
        let bearer = answer.bearer_challenge().is_some();
        if !bearer {
            return Err(Unmet::Answer(
                "the 401 carries no WWW-Authenticate: Bearer challenge (RFC 6750 3: the resource server MUST include the WWW-Authenticate response header field)"
                    .to_owned(),
            ));
        }
    }
    if let Some(c) = &expect.challenge {
        let values = answer.www_authenticate();
        if values.is_empty() {
            return Err(Unmet::Answer(format!(
                "expected a WWW-Authenticate challenge with the {status}, got none"
            )));
        }
        let challenges = www_authenticate::parse(&values);
        let scheme = c.scheme.as_deref().unwrap_or("Bearer");
        let Some(ch) = challenges
            .iter()
            .find(|x| x.scheme.eq_ignore_ascii_case(scheme))
        else {
            return Err(Unmet::Answer(format!(
                "expected a {scheme} challenge, got `{}`",
                values.join(", ")
            )));
        };
        if let Some(error) = &c.error
            && ch.param("error") != Some(error.as_str())
        {
            return Err(Unmet::Answer(format!(
                "expected error=\"{error}\" in the challenge, got {}",
                ch.param("error")
                    .map(|e| format!("error=\"{e}\""))
                    .unwrap_or_else(|| "no error parameter".to_owned())
            )));
        }
        for p in &c.params {
            if ch.param(p).is_none() {
                return Err(Unmet::Answer(format!(
                    "the challenge `{}` lacks the `{p}` parameter",
                    values.join(", ")
                )));
            }
        }
        if let Some(wanted) = &c.scope_includes {
            let wanted = render(vars, wanted)?;
            let got: Vec<&str> = ch.param("scope").unwrap_or("").split(' ').collect();
            let missing: Vec<&str> = wanted.split(' ').filter(|w| !got.contains(w)).collect();
            if !missing.is_empty() {
                return Err(Unmet::Answer(format!(
                    "the challenge's scope should include `{}`, got {}",
                    missing.join(" "),
                    ch.param("scope")
                        .map(|s| format!("`{s}`"))
                        .unwrap_or_else(|| "no scope parameter".to_owned())
                )));
            }
        }
        if let Some(unwanted) = &c.scope_excludes {
            let unwanted = render(vars, unwanted)?;
            let got: Vec<&str> = ch.param("scope").unwrap_or("").split(' ').collect();
            if let Some(found) = unwanted.split(' ').find(|u| got.contains(u)) {
                return Err(Unmet::Answer(format!(
                    "the challenge's scope `{}` names `{found}`",
                    ch.param("scope").unwrap_or("")
                )));
            }
        }
        if c.resource_metadata_resolves {
            let Some(url) = ch.param("resource_metadata") else {
                return Err(Unmet::Answer(format!(
                    "the challenge `{}` has no resource_metadata parameter",
                    values.join(", ")
                )));
            };
            let resource = render(vars, "{resource}")?;
            let doc: Option<Value> = match http.get(url).send().await {
                Ok(r) if r.status().is_success() => r.json().await.ok(),
                _ => None,
            };
            match doc
                .as_ref()
                .and_then(|d| d.get("resource"))
                .and_then(Value::as_str)
            {
                Some(r) if r == resource => {}
                Some(r) => {
                    return Err(Unmet::Answer(format!(
                        "resource_metadata {url} describes `{r}`, not this server's `{resource}`"
                    )));
                }
                None => {
                    return Err(Unmet::Answer(format!(
                        "resource_metadata {url} does not serve a protected resource metadata document"
                    )));
                }
            }
        }
    }
    if let Some(outcome) = expect.jsonrpc {
        let Some(rpc) = &answer.jsonrpc else {
            return Err(Unmet::Answer(
                "expected a JSON-RPC answer, got none".to_owned(),
            ));
        };
        let is_error = rpc.get("error").is_some()
            || rpc
                .pointer("/result/isError")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        match (outcome, is_error) {
            (JsonRpcOutcome::Result, true) => {
                return Err(Unmet::Answer(format!(
                    "expected a JSON-RPC result, got an error: {}",
                    rpc.get("error").unwrap_or(rpc)
                )));
            }
            (JsonRpcOutcome::Error, false) => {
                return Err(Unmet::Answer(
                    "expected a JSON-RPC error, got a result".to_owned(),
                ));
            }
            _ => {}
        }
    }
    if let Some(wanted) = &expect.result_contains {
        let wanted = render(vars, wanted)?;
        let text: String = answer
            .jsonrpc
            .as_ref()
            .and_then(|r| r.pointer("/result/content"))
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        if !text.contains(&wanted) {
            return Err(Unmet::Answer(format!(
                "expected the tool result to contain `{wanted}`, got `{}`",
                cut(&text)
            )));
        }
    }
    if let Some(wanted) = &expect.content_type {
        let got = answer.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        if got.as_deref() != Some(wanted.to_ascii_lowercase().as_str()) {
            return Err(Unmet::Answer(format!(
                "expected Content-Type {wanted}, got {}",
                got.map(|g| format!("`{g}`"))
                    .unwrap_or_else(|| "none".to_owned())
            )));
        }
    }
    if !expect.json.is_empty()
        || !expect.json_contains.is_empty()
        || !expect.json_excludes.is_empty()
    {
        let doc: Value = serde_json::from_str(&answer.raw.body).map_err(|_| {
            Unmet::Answer(format!(
                "expected a JSON body, got `{}`",
                cut(&answer.raw.body)
            ))
        })?;
        for (pointer, wanted) in &expect.json {
            let wanted = render(vars, wanted)?;
            let got = doc.pointer(pointer);
            let got_text = got.map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            });
            if got_text.as_deref() != Some(wanted.as_str()) {
                return Err(Unmet::Answer(format!(
                    "expected {pointer} = `{wanted}`, got {}",
                    got_text
                        .map(|g| format!("`{g}`"))
                        .unwrap_or_else(|| "nothing".to_owned())
                )));
            }
        }
        for (pointer, wanted) in &expect.json_contains {
            let wanted = render(vars, wanted)?;
            let has = doc
                .pointer(pointer)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(wanted.as_str())));
            if !has {
                return Err(Unmet::Answer(format!(
                    "expected {pointer} to contain `{wanted}`, got {}",
                    doc.pointer(pointer)
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "nothing".to_owned())
                )));
            }
        }
        for (pointer, unwanted) in &expect.json_excludes {
            let unwanted = render(vars, unwanted)?;
            let has = doc
                .pointer(pointer)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(unwanted.as_str())));
            if has {
                return Err(Unmet::Answer(format!(
                    "expected {pointer} not to contain `{unwanted}`, got {}",
                    doc.pointer(pointer)
                        .map(|v| v.to_string())
                        .unwrap_or_default()
                )));
            }
        }
    }
    Ok(())
}

fn cut(s: &str) -> String {
    s.chars().take(120).collect()
}

/// What an MCP answer says to people: a tool result's text items and a
/// JSON-RPC error's message.
fn said(answer: &Answer) -> String {
    let Some(rpc) = &answer.jsonrpc else {
        return String::new();
    };
    let mut parts: Vec<&str> = rpc
        .pointer("/result/content")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if let Some(m) = rpc.pointer("/error/message").and_then(Value::as_str) {
        parts.push(m);
    }
    parts.join("\n")
}

/// The answer tells the user to authorize again: it contains one of
/// `hints`, compared case-insensitively.
pub fn says_reauth_required(answer: &Answer, hints: &[String]) -> Result<(), Unmet> {
    let text = said(answer);
    let lower = text.to_lowercase();
    if hints.iter().any(|h| lower.contains(&h.to_lowercase())) {
        return Ok(());
    }
    Err(Unmet::Answer(format!(
        "expected the answer to say that re-authentication is required (one of {}), got `{}`",
        hints
            .iter()
            .map(|h| format!("`{h}`"))
            .collect::<Vec<_>>()
            .join(", "),
        cut(&text)
    )))
}

/// MCP Streamable HTTP, session management: ids must be globally unique
/// and cryptographically secure, of visible ASCII (0x21-0x7E).
pub fn judge_session_ids(ids: &[String], min_length: usize) -> Result<(), Unmet> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != ids.len() {
        return Err(Unmet::Answer(format!("session ids repeat: {ids:?}")));
    }
    if let Some(short) = ids.iter().find(|i| i.len() < min_length) {
        return Err(Unmet::Answer(format!(
            "session id `{short}` is {} characters; at least {min_length} expected of a secure random id",
            short.len()
        )));
    }
    if let Some(bad) = ids
        .iter()
        .find(|i| !i.bytes().all(|b| (0x21..=0x7e).contains(&b)))
    {
        return Err(Unmet::Answer(format!(
            "session id `{bad}` has characters outside visible ASCII"
        )));
    }
    // Predictable: the same text around a number that counts up.
    let numbers: Vec<Option<u128>> = ids
        .iter()
        .map(|i| {
            let digits: String = i.chars().rev().take_while(char::is_ascii_digit).collect();
            let prefix = &i[..i.len() - digits.len()];
            (!digits.is_empty() && ids.iter().all(|o| o.starts_with(prefix)))
                .then(|| digits.chars().rev().collect::<String>().parse().ok())
                .flatten()
        })
        .collect();
    if numbers.iter().all(Option::is_some) {
        let n: Vec<u128> = numbers.into_iter().flatten().collect();
        if n.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] < 1000) {
            return Err(Unmet::Answer(format!(
                "session ids count up and can be guessed: {ids:?}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_rules() {
        let random = [
            "3f1c2a9e-7b4d-4c8e-9a1f-0d6e5b4c3a01".to_owned(),
            "b07d91c2-55aa-4e1f-8c3b-7e2f9d1a6c57".to_owned(),
        ];
        assert!(judge_session_ids(&random, 16).is_ok());
        let seq: Vec<String> = (1..=5).map(|i| format!("session-{i}")).collect();
        assert!(
            judge_session_ids(&seq, 4)
                .unwrap_err()
                .to_string()
                .contains("count up")
        );
        assert!(
            judge_session_ids(&seq, 16)
                .unwrap_err()
                .to_string()
                .contains("characters")
        );
        assert!(judge_session_ids(&["a".repeat(20), "a".repeat(20)], 16).is_err());
    }

    fn answer(rpc: Value) -> Answer {
        Answer {
            raw: Default::default(),
            jsonrpc: Some(rpc),
        }
    }

    #[test]
    fn reauth_is_found_in_tool_errors_and_jsonrpc_errors() {
        let hints = vec!["re-auth".to_owned(), "sign in".to_owned()];
        let tool_error = answer(serde_json::json!({"result": {"isError": true,
            "content": [{"type": "text", "text": "Upstream grant lost: RE-AUTHENTICATION required"}]}}));
        assert!(says_reauth_required(&tool_error, &hints).is_ok());
        let rpc_error = answer(
            serde_json::json!({"error": {"code": -32000, "message": "Please sign in again"}}),
        );
        assert!(says_reauth_required(&rpc_error, &hints).is_ok());
        let generic = answer(serde_json::json!({"result": {"isError": true,
            "content": [{"type": "text", "text": "internal error"}]}}));
        let e = says_reauth_required(&generic, &hints)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`re-auth`") && e.contains("internal error"),
            "{e}"
        );
    }
}
