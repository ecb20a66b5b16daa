//! The consent mode ([`Consent`]): headless auto-approve or an interactive
//! page, as the configuration names it; and how long a pending request may
//! wait for a person by default. The rules built from it per issuer live
//! in [`crate::config::consent_policy`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How the authorization endpoint obtains the user's approval.
///
/// ```
/// use mock_provider::Consent;
/// assert_eq!("interactive".parse::<Consent>().unwrap(), Consent::Interactive);
/// assert_eq!(Consent::default(), Consent::Auto);
/// assert!("sometimes".parse::<Consent>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Consent {
    /// Headless: approve at once for `login_hint` or the default subject.
    #[default]
    Auto,
    /// Show a consent page where a person picks the user and approves or
    /// denies.
    Interactive,
}

/// A `consent` value that is neither `auto` nor `interactive`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown consent `{0}`: expected `auto` or `interactive`")]
pub struct UnknownConsent(pub String);

impl Consent {
    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Interactive => "interactive",
        }
    }
}

impl FromStr for Consent {
    type Err = UnknownConsent;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "interactive" => Ok(Self::Interactive),
            other => Err(UnknownConsent(other.to_owned())),
        }
    }
}

impl fmt::Display for Consent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Consent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Consent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The message names the field and the accepted values; the TOML
        // error around it adds the line (like `refresh_policy`).
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How long a pending authorization request waits for a decision by
/// default (10 minutes: long enough for a person, short enough that an
/// abandoned page does not stay usable; RFC 6749 4.1.2 asks the same of
/// codes).
pub const DEFAULT_CONSENT_TTL_SECS: u64 = 600;
