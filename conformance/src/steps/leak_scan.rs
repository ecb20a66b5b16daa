//! `kind = "leak_scan"`: no secret handed out during the run (minted
//! tokens, the upstream client's secret and refresh tokens, tokens the
//! provider issued to the server, upstream access tokens recognised by
//! their issuer) appears in the server's responses or its logs.
//!
//! ```toml
//! [[step]]
//! kind = "leak_scan"
//! scope = "logs"
//! ```

use std::collections::BTreeSet;

use mock_provider::Fingerprint;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CheckError, LoadContext, ScenarioRun, StepError};

/// Where a leak scan looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakScope {
    /// Every response the server sent during the run.
    Responses,
    /// The server's captured stdout/stderr.
    Logs,
}

/// `kind = "leak_scan"`: no secret handed out during the run appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakScanStep {
    /// Where to look.
    pub scope: LeakScope,
    /// With `scope = "logs"`: judge only the lines that echo a URL the
    /// suite itself sent with a token in its query (an access log printing
    /// `transport.query_token`'s request line). Without it those lines are
    /// left out: they are a different finding from a server printing the
    /// tokens it handles.
    #[serde(default)]
    pub url_echoes: bool,
}

impl LeakScanStep {
    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let issued = issued_refresh_tokens(run).await?;
        let book = &run.ctx.book;
        // Upstream access tokens never pass through the suite's hands: they
        // are recognised by their issuer.
        // Every lane's upstream issuer: other lanes' servers wrote into the
        // logs this scan reads.
        let upstream_issuer: Vec<String> = run
            .ctx
            .provider
            .lane_upstream_issuers()
            .map(|i| i.issuer.clone())
            .collect();
        match self.scope {
            LeakScope::Responses => {
                let mut found = Vec::new();
                for (request, text) in &run.ctx.responses {
                    let mut labels = book.found_in(text);
                    if upstream_tokens_in(text, &upstream_issuer) > 0 {
                        labels.push("an upstream access token".to_owned());
                    }
                    if !issued_tokens_in(text, &issued).is_empty() {
                        labels.push("a refresh token the provider issued".to_owned());
                    }
                    if !labels.is_empty() {
                        found.push(format!(
                            "{} in the answer to {}",
                            labels.join(", "),
                            book.redact(request)
                        ));
                    }
                }
                if found.is_empty() {
                    Ok(())
                } else {
                    found.truncate(5);
                    Err(server!(
                        "secrets handed out during the run came back in responses: {}",
                        found.join("; ")
                    ))
                }
            }
            LeakScope::Logs => {
                let Some(server) = run.ctx.server.as_ref() else {
                    return Err(harness!(
                        "the server's logs are only read when the suite starts it"
                    ));
                };
                // Secrets the suite itself put in a URL's query.
                let mut in_urls: BTreeSet<&str> = BTreeSet::new();
                for (request, _) in &run.ctx.responses {
                    let line = request.split_whitespace().nth(1).unwrap_or("");
                    if let Some((_, query)) = line.split_once('?') {
                        in_urls.extend(book.values_in(query));
                    }
                }
                let mut logs = server.logs();
                for other in &run.ctx.other_lane_logs {
                    logs.push('\n');
                    logs.push_str(other);
                }
                let mut labels: Vec<String> = Vec::new();
                let mut example = None;
                for line in logs.lines() {
                    let secrets = book.values_in(line);
                    let issued_here = issued_tokens_in(line, &issued);
                    let upstream_here = upstream_tokens_in(line, &upstream_issuer);
                    if secrets.is_empty() && issued_here.is_empty() && upstream_here == 0 {
                        continue;
                    }
                    // The line prints a URL the suite sent: every secret in
                    // it is one the suite put in a query, after a `?`.
                    let echo = issued_here.is_empty()
                        && upstream_here == 0
                        && secrets.iter().all(|v| {
                            in_urls.contains(v)
                                && line.find(v).is_some_and(|at| line[..at].contains('?'))
                        });
                    if echo != self.url_echoes {
                        continue;
                    }
                    for label in book.found_in(line) {
                        if !labels.contains(&label) {
                            labels.push(label);
                        }
                    }
                    if upstream_here > 0 && !labels.iter().any(|x| x == "an upstream access token")
                    {
                        labels.push("an upstream access token".to_owned());
                    }
                    if !issued_here.is_empty()
                        && !labels
                            .iter()
                            .any(|x| x == "a refresh token the provider issued")
                    {
                        labels.push("a refresh token the provider issued".to_owned());
                    }
                    example.get_or_insert_with(|| redact_issued(&book.redact(line), &issued));
                }
                if labels.is_empty() {
                    Ok(())
                } else {
                    let what = if self.url_echoes {
                        "the server's output prints request URLs the suite sent with a token in the query, token included"
                    } else {
                        "the server's output contains"
                    };
                    Err(server!(
                        "{what}: {} (e.g. `{}`)",
                        labels.join(", "),
                        example
                            .unwrap_or_default()
                            .chars()
                            .take(200)
                            .collect::<String>()
                    ))
                }
            }
        }
    }
}

/// The fingerprints of the refresh tokens the provider issued since the
/// scenario began (rotation hands the server new ones the suite never
/// sees; the ledger keeps their fingerprints).
async fn issued_refresh_tokens(run: &ScenarioRun<'_>) -> Result<BTreeSet<Fingerprint>, StepError> {
    let entries = run
        .ctx
        .provider
        .admin()
        .ledger(&mock_provider::ledger::LedgerFilter::default())
        .await
        .map_err(|e| harness!("{e}"))?;
    Ok(entries
        .into_iter()
        .filter_map(|e| e.issued_refresh_token)
        .collect())
}

/// The words of `text` that could be tokens.
fn token_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')))
        .map(|w| w.trim_matches('.'))
        .filter(|w| w.len() >= 16)
}

/// The words of `text` whose fingerprint (mock-provider's `sha256:` and 12
/// hex digits) is one of `fingerprints`.
fn issued_tokens_in<'a>(text: &'a str, fingerprints: &BTreeSet<Fingerprint>) -> Vec<&'a str> {
    if fingerprints.is_empty() {
        return Vec::new();
    }
    token_words(text)
        .filter(|w| fingerprints.contains(&mock_provider::TokenHash::of(w).fingerprint()))
        .collect()
}

/// `text` with every token of `fingerprints` replaced by its fingerprint.
fn redact_issued(text: &str, fingerprints: &BTreeSet<Fingerprint>) -> String {
    let mut out = text.to_owned();
    for w in issued_tokens_in(text, fingerprints) {
        out = out.replace(
            w,
            &format!(
                "[refresh token {}]",
                mock_provider::TokenHash::of(w).fingerprint()
            ),
        );
    }
    out
}

/// How many JWTs issued by one of `issuers` appear in `text`.
fn upstream_tokens_in(text: &str, issuers: &[String]) -> usize {
    use base64::Engine as _;
    if issuers.is_empty() {
        return 0;
    }
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .filter(|w| w.len() > 40 && w.matches('.').count() == 2)
        .filter(|w| {
            w.split('.')
                .nth(1)
                .and_then(|p| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|claims| {
                    claims
                        .get("iss")
                        .and_then(Value::as_str)
                        .is_some_and(|iss| issuers.iter().any(|i| i == iss))
                })
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_found_by_fingerprint_and_redacted() {
        let token = "rt_Zx9-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
        let fp = mock_provider::TokenHash::of(token).fingerprint();
        let issued: BTreeSet<Fingerprint> = [fp].into();
        let line = format!("INFO upstream refresh response refresh_token={token}.");
        assert_eq!(issued_tokens_in(&line, &issued), vec![token]);
        assert_eq!(
            redact_issued(&line, &issued),
            format!("INFO upstream refresh response refresh_token=[refresh token {fp}].")
        );
        assert!(issued_tokens_in(&line, &BTreeSet::new()).is_empty());
        assert!(issued_tokens_in("refresh_token=sha256:0123456789ab", &issued).is_empty());
    }
}
