//! `kind = "wait"`: the suite sleeps, e.g. until a `Retry-After` has
//! passed or a short-lived token has expired. At most
//! [`MAX_WAIT_MILLIS`]: a scenario is never a long sleep.
//!
//! ```toml
//! [[step]]
//! kind = "wait"
//! millis = 2500
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{CheckError, LoadContext, ScenarioRun, StepError};

/// The longest a `wait` step may wait.
pub const MAX_WAIT_MILLIS: u64 = 10_000;

/// `kind = "wait"`: the suite sleeps, e.g. until a `Retry-After` has
/// passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    /// How long (1 to [`MAX_WAIT_MILLIS`]).
    pub millis: u64,
}

impl WaitStep {
    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        if self.millis == 0 || self.millis > MAX_WAIT_MILLIS {
            return Err(CheckError::field(
                "millis",
                format!("must be 1-{MAX_WAIT_MILLIS}"),
            ));
        }
        Ok(())
    }

    pub(super) async fn run(&self, _: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        tokio::time::sleep(Duration::from_millis(self.millis)).await;
        Ok(())
    }
}
