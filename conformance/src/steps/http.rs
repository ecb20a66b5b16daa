//! `kind = "http"`: any HTTP request to the server (a discovery document,
//! a raw POST with a malformed `Authorization`, a token in the query), its
//! answer judged like an MCP call's.
//!
//! ```toml
//! [[step]]
//! kind = "http"
//! url = "{discovered_prm_url}"
//! expect = { status = 200, json = { "/resource" = "{resource}" } }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CheckError, LoadContext, ScenarioRun, StepError};
use crate::evidence::RawExchange;
use crate::expectation::{self, Expect};
use crate::mcp_client::Answer;

/// `kind = "http"`: any HTTP request to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// Method (default GET).
    #[serde(default = "default_method")]
    pub method: String,
    /// Absolute URL (template, e.g. `{prm_url}`).
    pub url: String,
    /// Headers (templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body (template).
    #[serde(default)]
    pub body: Option<String>,
    /// A JSON body (every string in it a template), sent with
    /// `Content-Type: application/json` unless `headers` name one.
    #[serde(default)]
    pub json: Option<Value>,
    /// The step only sets the scene (as for `mcp` steps): when its
    /// expectation fails the scenario is not meaningful.
    #[serde(default)]
    pub precondition: bool,
    /// What must come back.
    #[serde(default)]
    pub expect: Expect,
}

fn default_method() -> String {
    "GET".to_owned()
}

impl HttpStep {
    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        if reqwest::Method::from_bytes(self.method.as_bytes()).is_err() {
            return Err(CheckError::field(
                "method",
                format!("`{}` is not an HTTP method", self.method),
            ));
        }
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let url = run.render(&self.url)?;
        let method = reqwest::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| harness!("`{}` is not an HTTP method", self.method))?;
        let mut raw = RawExchange {
            request: format!("{method} {url}"),
            ..Default::default()
        };
        let mut req = run.ctx.client.http().request(method, &url);
        for (k, v) in &self.headers {
            let v = run.render(v)?;
            raw.request_headers.push((k.clone(), v.clone()));
            req = req.header(k, v);
        }
        if let Some(b) = &self.body {
            req = req.body(run.render(b)?);
        }
        if let Some(j) = &self.json {
            if !self
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
            {
                raw.request_headers
                    .push(("content-type".into(), "application/json".into()));
                req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
            }
            req = req.body(run.render_json(j)?.to_string());
        }
        match req.send().await {
            Err(e) => raw.error = Some(e.to_string()),
            Ok(r) => {
                raw.status = Some(r.status().as_u16());
                raw.response_headers = crate::evidence::header_pairs(r.headers());
                raw.body = r.text().await.unwrap_or_default();
            }
        }
        run.record(&raw);
        let jsonrpc = serde_json::from_str(&raw.body).ok();
        let answer = Answer { raw, jsonrpc };
        Ok(expectation::check(&self.expect, &answer, &run.vars, run.ctx.client.http()).await?)
    }
}
