//! The MCP specification revisions the suite knows, which decide which
//! scenarios apply and how severe each rule is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An MCP specification revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SpecVersion {
    /// 2025-06-18: authorization as resource server, RFC 9728 required.
    #[serde(rename = "2025-06-18")]
    V2025_06_18,
    /// 2025-11-25: client ID metadata documents, scope challenges.
    #[serde(rename = "2025-11-25")]
    V2025_11_25,
    /// 2026-07-28: stateless transport (no sessions).
    #[serde(rename = "2026-07-28")]
    V2026_07_28,
}

impl SpecVersion {
    /// Every revision, oldest first.
    pub const ALL: [SpecVersion; 3] = [Self::V2025_06_18, Self::V2025_11_25, Self::V2026_07_28];

    /// The revision used when none is asked for.
    pub const DEFAULT: SpecVersion = Self::V2025_11_25;

    /// The date string, also the `MCP-Protocol-Version` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// Whether the transport has sessions (`Mcp-Session-Id`).
    pub fn has_sessions(self) -> bool {
        self != Self::V2026_07_28
    }

    /// Whether a conversation starts with `initialize` (before 2026-07-28,
    /// whose requests carry their context in `_meta` instead).
    pub fn has_initialize(self) -> bool {
        self != Self::V2026_07_28
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpecVersion {
    type Err = UnknownSpecVersion;
    fn from_str(s: &str) -> Result<Self, UnknownSpecVersion> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownSpecVersion(s.to_owned()))
    }
}

/// A spec version the suite does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown spec version `{0}`: expected 2025-06-18, 2025-11-25 or 2026-07-28")]
pub struct UnknownSpecVersion(pub String);
