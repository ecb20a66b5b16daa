//! `kind = "ledger"`: judges the server by what the suite's provider saw:
//! refresh grants and requests of the server's upstream client, reuse of
//! consumed refresh tokens, upstream API calls and whose tokens they
//! carried, and JWKS requests (to the trusted issuer since the previous
//! `ledger` step, to an untrusted one at all).
//!
//! ```toml
//! [[step]]
//! kind = "ledger"
//! expect = { refresh_grants = 1, reuse_detected = 0 }
//! ```

use serde::{Deserialize, Serialize};

use super::{CheckError, LoadContext, ScenarioRun, StepError};
use crate::provider_link::IssuerRole;

/// What the provider's ledger must show about the server's upstream client
/// since the scenario began.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerExpect {
    /// Successful refresh_token grants, exactly.
    #[serde(default)]
    pub refresh_grants: Option<u64>,
    /// refresh_token requests, at most.
    #[serde(default)]
    pub max_refresh_requests: Option<u64>,
    /// Presentations of a consumed refresh token, exactly.
    #[serde(default)]
    pub reuse_detected: Option<u64>,
    /// Upstream API requests, at least.
    #[serde(default)]
    pub min_upstream_requests: Option<u64>,
    /// Upstream API requests, at most (a 401 loop, or an unusable token
    /// sent anyway, shows here).
    #[serde(default)]
    pub max_upstream_requests: Option<u64>,
    /// Every upstream API request carried a token the upstream issuer gave
    /// the server's own client (never a forwarded inbound token).
    #[serde(default)]
    pub upstream_tokens_are_the_servers: bool,
    /// Requests for the trusted issuer's JWKS since the previous `ledger`
    /// step (or the scenario's start), at most. Needs no `[upstream]`.
    #[serde(default)]
    pub max_jwks_requests: Option<u64>,
    /// Requests for the `other` issuer's JWKS (one the server does not
    /// trust) since the scenario's start, at most: a `jku` header followed.
    #[serde(default)]
    pub max_other_jwks_requests: Option<u64>,
}

impl LedgerExpect {
    /// Whether it asks about the server's upstream client (the counters
    /// need an `[upstream]` section); the JWKS bounds do not.
    pub fn asks_about_upstream(&self) -> bool {
        self.refresh_grants.is_some()
            || self.max_refresh_requests.is_some()
            || self.reuse_detected.is_some()
            || self.min_upstream_requests.is_some()
            || self.max_upstream_requests.is_some()
            || self.upstream_tokens_are_the_servers
    }
}

/// `kind = "ledger"`: checks the provider's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerStep {
    /// What must hold.
    pub expect: LedgerExpect,
}

impl LedgerStep {
    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let expect = &self.expect;
        let jwks = jwks_requests_since_mark(run).await?;
        if let Some(n) = expect.max_jwks_requests
            && jwks > n
        {
            return Err(server!(
                "expected at most {n} request(s) for the issuer's JWKS: the provider saw {jwks}"
            ));
        }
        if let Some(n) = expect.max_other_jwks_requests {
            let other = ledger_count(run, IssuerRole::Other, mock_provider::Endpoint::Jwks).await?;
            if other > n {
                return Err(server!(
                    "expected at most {n} request(s) for the JWKS of an issuer the server does not trust (a jku or x5u header followed): the provider saw {other}"
                ));
            }
        }
        if !expect.asks_about_upstream() {
            return Ok(());
        }
        upstream_ledger(run, expect).await
    }
}

/// Requests at an issuer's endpoint since the scenario's start.
async fn ledger_count(
    run: &ScenarioRun<'_>,
    issuer: IssuerRole,
    endpoint: mock_provider::Endpoint,
) -> Result<u64, StepError> {
    let entries = run
        .ctx
        .ledger_at(issuer, endpoint, None)
        .await
        .map_err(|e| harness!("cannot read the provider's ledger: {e}"))?;
    Ok(entries.len() as u64)
}

/// Requests for the trusted issuer's JWKS since the previous `ledger`
/// step (or the scenario's start); moves the mark to now.
async fn jwks_requests_since_mark(run: &mut ScenarioRun<'_>) -> Result<u64, StepError> {
    let latest = crate::run_context::latest_ledger_seq(&run.ctx.provider)
        .await
        .map_err(|e| harness!("{e}"))?;
    let jwks = run
        .ctx
        .ledger_at(
            IssuerRole::Trusted,
            mock_provider::Endpoint::Jwks,
            run.ledger_mark,
        )
        .await
        .map_err(|e| harness!("{e}"))?
        .iter()
        .filter(|e| latest.is_some_and(|l| e.seq <= l))
        .count();
    run.ledger_mark = latest.or(run.ledger_mark);
    Ok(jwks as u64)
}

async fn upstream_ledger(
    run: &mut ScenarioRun<'_>,
    expect: &LedgerExpect,
) -> Result<(), StepError> {
    let client = run.upstream_client()?;
    let admin = run.ctx.provider.admin();
    let counters = admin
        .counters_after(run.ctx.scenario_mark)
        .await
        .map_err(|e| harness!("{e}"))?;
    let c = counters
        .get(run.ctx.issuer_name(IssuerRole::Upstream))
        .and_then(|m| m.get(&client))
        .cloned()
        .unwrap_or_default();
    let seen = format!(
        "the provider saw {} refresh request(s), {} refresh grant(s), {} reuse(s) of a consumed refresh token, {} invalid_grant answer(s), {} upstream API request(s)",
        c.refresh_requests,
        c.refresh_grants,
        c.reuse_detected,
        c.invalid_grant,
        c.upstream_requests
    );
    if let Some(n) = expect.refresh_grants
        && c.refresh_grants != n
    {
        return Err(server!("expected exactly {n} refresh grant(s): {seen}"));
    }
    if let Some(n) = expect.max_refresh_requests
        && c.refresh_requests > n
    {
        return Err(server!("expected at most {n} refresh request(s): {seen}"));
    }
    if let Some(n) = expect.reuse_detected
        && c.reuse_detected != n
    {
        return Err(server!(
            "expected {n} reuse(s) of a consumed refresh token: {seen}"
        ));
    }
    if let Some(n) = expect.min_upstream_requests
        && c.upstream_requests < n
    {
        return Err(server!(
            "expected at least {n} upstream API request(s): {seen}"
        ));
    }
    if let Some(n) = expect.max_upstream_requests
        && c.upstream_requests > n
    {
        return Err(server!(
            "expected at most {n} upstream API request(s): {seen}"
        ));
    }
    if expect.upstream_tokens_are_the_servers {
        let entries = run
            .ctx
            .ledger_at(
                IssuerRole::Upstream,
                mock_provider::Endpoint::Upstream,
                None,
            )
            .await
            .map_err(|e| harness!("{e}"))?;
        let upstream_issuer = run
            .vars
            .get("upstream_issuer")
            .unwrap_or_default()
            .to_owned();
        if entries.is_empty() {
            return Err(StepError::server(
                "the server never called the upstream API".to_owned(),
            ));
        }
        for e in entries {
            let Some(o) = e.upstream else { continue };
            if o.token_issuer.as_deref() != Some(upstream_issuer.as_str())
                || o.token_client_id.as_deref() != Some(client.as_str())
            {
                return Err(server!(
                    "the upstream API received a token issued by {} to client {}, not the server's own token from {upstream_issuer} (client {client})",
                    o.token_issuer.as_deref().unwrap_or("nobody known"),
                    o.token_client_id.as_deref().unwrap_or("unknown")
                ));
            }
        }
    }
    Ok(())
}
