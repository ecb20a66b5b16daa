//! `kind = "session_ids"`: opens `count` sessions with a valid token and
//! judges their `Mcp-Session-Id`s: long enough, distinct, not guessable
//! from one another (MCP transports: "SHOULD be globally unique and
//! cryptographically secure").
//!
//! ```toml
//! [[step]]
//! kind = "session_ids"
//! count = 5
//! ```

use serde::{Deserialize, Serialize};

use super::{CheckError, LoadContext, ScenarioRun, StepError};
use crate::expectation;

/// `kind = "session_ids"`: opens sessions and judges their ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionIdsStep {
    /// How many sessions (default 5).
    #[serde(default = "default_sessions")]
    pub count: usize,
    /// Shortest acceptable id (default 16 characters).
    #[serde(default = "default_min_length")]
    pub min_length: usize,
}

fn default_sessions() -> usize {
    5
}
fn default_min_length() -> usize {
    16
}

impl SessionIdsStep {
    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        if self.count < 2 || self.count > 50 {
            return Err(CheckError::field("count", "must be 2-50"));
        }
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        super::mint::valid_token(run, "__session_probe").await?;
        let token = run
            .vars
            .get("token.__session_probe")
            .map(|t| format!("Bearer {t}"));
        let client = run.ctx.client.clone();
        let mut ids = Vec::new();
        for _ in 0..self.count {
            let (answer, session) = client.handshake(token.as_deref(), &[]).await;
            run.record(&answer.raw);
            match session {
                Some(id) => ids.push(id),
                None => {
                    return Err(server!(
                        "initialize with a valid token answered {} without an Mcp-Session-Id",
                        answer.status()
                    ));
                }
            }
        }
        Ok(expectation::judge_session_ids(&ids, self.min_length)?)
    }
}
