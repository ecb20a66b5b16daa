//! What a client's refresh tokens do when redeemed ([`RefreshPolicy`]):
//! single use with rotation (the default), reusable, or a grace period in
//! which the previous token still works. The state machine that applies it
//! is [`crate::tokens::token_family`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a client's refresh tokens do when redeemed.
///
/// ```
/// use mock_provider::RefreshPolicy;
/// assert_eq!("grace(30)".parse::<RefreshPolicy>().unwrap(), RefreshPolicy::Grace { seconds: 30 });
/// assert_eq!(RefreshPolicy::SingleUse.to_string(), "single_use");
/// assert!("sometimes".parse::<RefreshPolicy>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefreshPolicy {
    /// Rotate on every use; a second use is reuse and revokes the family.
    #[default]
    SingleUse,
    /// Never rotate; the same refresh token works until it expires.
    Reusable,
    /// Rotate, but a consumed token may be redeemed again for `seconds`
    /// after its first use (each such redemption gets a fresh token) before
    /// it counts as reuse.
    Grace {
        /// The grace period.
        seconds: u64,
    },
}

/// A refresh policy string that is none of the known forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown refresh policy `{0}`: expected `single_use`, `reusable` or `grace(SECONDS)`")]
pub struct UnknownRefreshPolicy(pub String);

impl FromStr for RefreshPolicy {
    type Err = UnknownRefreshPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "single_use" => Ok(Self::SingleUse),
            "reusable" => Ok(Self::Reusable),
            _ => s
                .strip_prefix("grace(")
                .and_then(|r| r.strip_suffix(')'))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .map(|seconds| Self::Grace { seconds })
                .ok_or_else(|| UnknownRefreshPolicy(s.to_owned())),
        }
    }
}

impl fmt::Display for RefreshPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SingleUse => f.write_str("single_use"),
            Self::Reusable => f.write_str("reusable"),
            Self::Grace { seconds } => write!(f, "grace({seconds})"),
        }
    }
}

impl Serialize for RefreshPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RefreshPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
