//! `kind = "expire_upstream_tokens"`: the access tokens the upstream
//! issuer gave the server's own client stop working now (its refresh
//! tokens still work), so the server's next upstream call meets a 401.
//!
//! ```toml
//! [[step]]
//! kind = "expire_upstream_tokens"
//! ```

use serde::{Deserialize, Serialize};

use super::{CheckError, LoadContext, ScenarioRun, StepError};
use crate::provider_link::IssuerRole;

/// `kind = "expire_upstream_tokens"` (no fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpireUpstreamTokensStep {}

impl ExpireUpstreamTokensStep {
    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let client = run.upstream_client()?;
        run.ctx
            .provider
            .admin()
            .expire_access_tokens(run.ctx.issuer_name(IssuerRole::Upstream), &client)
            .await
            .map(|_| ())
            .map_err(|e| harness!("{e}"))
    }
}
