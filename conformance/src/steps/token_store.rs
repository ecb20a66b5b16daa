//! `kind = "token_store"`: the server's token files (under the
//! `MCP_TOKEN_STORE_DIR` the suite hands it) are private: no file more
//! permissive than 0600, no directory more than 0700, and at least one
//! file written.
//!
//! ```toml
//! [[step]]
//! kind = "token_store"
//! ```

use serde::{Deserialize, Serialize};

use super::{CheckError, LoadContext, ScenarioRun, StepError};

/// `kind = "token_store"`: the server's token files are private.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenStoreStep {
    /// Most permissive mode a file may have (default 0o600).
    #[serde(default = "file_mode")]
    pub max_file_mode: u32,
    /// Most permissive mode a directory may have (default 0o700).
    #[serde(default = "dir_mode")]
    pub max_dir_mode: u32,
}

fn file_mode() -> u32 {
    0o600
}
fn dir_mode() -> u32 {
    0o700
}

impl TokenStoreStep {
    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let dir = run
            .ctx
            .token_store
            .clone()
            .ok_or_else(|| harness!("needs `[upstream] token_store = true`"))?;
        // An unreadable file or folder inside the server's own store is the
        // server's failure.
        let mode = |p: &std::path::Path| -> Result<u32, StepError> {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(p)
                    .map(|m| m.permissions().mode() & 0o777)
                    .map_err(|e| server!("{}: {e}", p.display()))
            }
            #[cfg(not(unix))]
            {
                let _ = p;
                Ok(0)
            }
        };
        if !dir.is_dir() {
            return Err(server!(
                "the server did not create MCP_TOKEN_STORE_DIR ({}): the suite hands over a path that does not exist yet",
                dir.display()
            ));
        }
        let mut files = 0;
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let m = mode(&d)?;
            if m & !self.max_dir_mode != 0 {
                return Err(server!(
                    "token store directory {} has mode {m:o}; at most {:o} (owner only)",
                    d.display(),
                    self.max_dir_mode
                ));
            }
            for e in std::fs::read_dir(&d)
                .map_err(|e| server!("{}: {e}", d.display()))?
                .flatten()
            {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files += 1;
                    let m = mode(&p)?;
                    if m & !self.max_file_mode != 0 {
                        return Err(server!(
                            "token file {} has mode {m:o}; at most {:o} (owner read/write only)",
                            p.display(),
                            self.max_file_mode
                        ));
                    }
                }
            }
        }
        if files == 0 {
            return Err(server!(
                "the server wrote no token file into MCP_TOKEN_STORE_DIR ({})",
                dir.display()
            ));
        }
        Ok(())
    }
}
