//! `kind = "rotate_keys"`: a new signing key at an issuer, the old one kept
//! in the JWKS for `grace_secs` or dropped at once. A scenario with this
//! step runs after every other one (it changes keys the others rely on).
//!
//! ```toml
//! [[step]]
//! kind = "rotate_keys"
//! grace_secs = 0
//! ```

use mock_provider::admin::RotateKeys;
use serde::{Deserialize, Serialize};

use super::{CheckError, LoadContext, ScenarioRun, StepError};
use crate::provider_link::IssuerRole;

/// `kind = "rotate_keys"`: a new signing key at an issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeysStep {
    /// Which issuer.
    #[serde(default)]
    pub issuer: IssuerRole,
    /// Keep the old key published this long.
    #[serde(default)]
    pub grace_secs: Option<u64>,
    /// `RS256` or `ES256` (default: unchanged).
    #[serde(default)]
    pub algorithm: Option<mock_provider::SigningAlgorithm>,
}

impl RotateKeysStep {
    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        run.ctx
            .provider
            .admin()
            .rotate_keys(
                run.ctx.issuer_name(self.issuer),
                &RotateKeys {
                    grace_secs: self.grace_secs,
                    algorithm: self.algorithm,
                },
            )
            .await
            .map(|_| ())
            .map_err(|e| harness!("key rotation failed: {e}"))
    }
}
