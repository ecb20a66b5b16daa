//! `kind = "revoke"`: the provider revokes a minted token, as if the user
//! or an administrator had (RFC 7009), so a later step can show whether
//! the server notices (it can only through introspection).
//!
//! ```toml
//! [[step]]
//! kind = "revoke"
//! token = "valid"
//! ```

use mock_provider::admin::RevokeRequest;
use serde::{Deserialize, Serialize};

use super::{CheckError, LoadContext, ScenarioRun, StepError};
use crate::provider_link::IssuerRole;

/// `kind = "revoke"`: the provider revokes a minted token (its admin API,
/// as if the user or an administrator had revoked it, RFC 7009).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeStep {
    /// The minted token.
    pub token: String,
    /// Which issuer (default: trusted).
    #[serde(default)]
    pub issuer: IssuerRole,
}

impl RevokeStep {
    pub(super) fn check(&self, load: &mut LoadContext) -> Result<(), CheckError> {
        load.minted("token", &self.token)
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let token = run
            .vars
            .get(&format!("token.{}", self.token))
            .ok_or_else(|| harness!("token `{}` was not minted", self.token))?
            .to_owned();
        let outcome = run
            .ctx
            .provider
            .admin()
            .revoke(
                run.ctx.issuer_name(self.issuer),
                &RevokeRequest {
                    token: Some(token),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| harness!("revoking `{}` failed: {e}", self.token))?;
        if !outcome.access_token_revoked {
            return Err(harness!(
                "the provider did not revoke `{}` as an access token",
                self.token
            ));
        }
        Ok(())
    }
}
