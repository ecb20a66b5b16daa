//! Why a configuration cannot be used: every problem found, each with the
//! field (`issuer[0].client[1].redirect_uris[0]`) and the reason; or the
//! file's read or parse error with line and column.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Where: `issuer[0].client[1].redirect_uris[0]`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, a wrong type, or an unknown field.
    #[error("config file {path} is not valid:\n{message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Parsed, but some values are unusable.
    #[error("invalid configuration{}:\n{}", origin_suffix(.origin), render_problems(.problems))]
    Invalid {
        /// The file, if there is one.
        origin: Option<PathBuf>,
        /// Every problem found.
        problems: Vec<ConfigProblem>,
    },
}

fn origin_suffix(origin: &Option<PathBuf>) -> String {
    origin
        .as_ref()
        .map(|p| format!(" in {}", p.display()))
        .unwrap_or_default()
}

fn render_problems(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
