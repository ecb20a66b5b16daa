//! `kind = "wait_jwks_cooldown"`: waits until the server may refetch the
//! trusted issuer's JWKS under the cooldown its profile states (`[auth]
//! jwks_refetch_cooldown_secs`): that long after its last JWKS request,
//! whether in this scenario (the ledger) or before the last reset (noted by
//! the run). A JWKS refetch cooldown is a real-world default, not a flaw.
//!
//! ```toml
//! [[step]]
//! kind = "wait_jwks_cooldown"
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{CheckError, LoadContext, ScenarioRun, StepError};
use crate::provider_link::IssuerRole;

/// `kind = "wait_jwks_cooldown"` (no fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitJwksCooldownStep {}

impl WaitJwksCooldownStep {
    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let cooldown = Duration::from_secs(run.ctx.profile.auth.jwks_refetch_cooldown_secs);
        let in_scenario = run
            .ctx
            .ledger_at(IssuerRole::Trusted, mock_provider::Endpoint::Jwks, None)
            .await
            .map_err(|e| harness!("cannot read the provider's ledger: {e}"))?
            .iter()
            .map(|e| e.time_ms)
            .max();
        let Some(last) = in_scenario.max(run.ctx.last_jwks_fetch_ms) else {
            // The server never fetched the JWKS: nothing to wait for.
            return Ok(());
        };
        // A little more than the cooldown: clocks are read in milliseconds
        // on both sides, and a cooldown is "at least", not "exactly".
        let until = Duration::from_millis(last) + cooldown + Duration::from_millis(250);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        if until > now {
            tokio::time::sleep(until - now).await;
        }
        Ok(())
    }
}
