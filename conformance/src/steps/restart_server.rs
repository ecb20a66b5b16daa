//! `kind = "restart_server"`: stops the server the suite started and starts
//! it again, with the same environment and the same token store, so a
//! later step shows what survived (a rotated refresh token must).
//!
//! ```toml
//! [[step]]
//! kind = "restart_server"
//! ```

use serde::{Deserialize, Serialize};

use super::{CheckError, LoadContext, ScenarioRun, StepError};

/// `kind = "restart_server"` (no fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartServerStep {}

impl RestartServerStep {
    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        match run.ctx.server.as_mut() {
            Some(server) => server
                .restart()
                .await
                .map_err(|e| harness!("the server could not be restarted: {e}")),
            None => Err(harness!("only a server the suite starts can be restarted")),
        }
    }
}
