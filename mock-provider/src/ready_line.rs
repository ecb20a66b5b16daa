//! The line `mock-provider serve` prints on stdout once it answers
//! requests: `mock-provider ready at URL (issuers: A, B)`. A program that
//! starts the binary waits for it and reads the URL and the issuer
//! identifiers from it; this type writes it and reads it back, so the two
//! sides cannot drift apart.
//!
//! The line means what it says: the socket is bound, every request is
//! answered, key files are loaded, and the signal handlers are installed
//! (SIGTERM or Ctrl-C after it is a clean shutdown). Keys the provider
//! generates may still be in the making when the line appears (an RSA-2048
//! key takes 50-100 ms, the rest of a start about 5 ms): discovery,
//! authorization and registration answer at once, and whatever signs or
//! publishes a key (JWKS, tokens, introspection, revocation, the upstream
//! API, the admin API's mint and keys) waits for them. No request ever
//! sees a missing or a different key (see `issuer_keys`).
//!
//! ```
//! use mock_provider::ReadyLine;
//! let line = ReadyLine {
//!     base_url: "http://127.0.0.1:9400".into(),
//!     issuers: vec!["http://127.0.0.1:9400/default".into()],
//! };
//! let text = line.to_string();
//! assert_eq!(text, "mock-provider ready at http://127.0.0.1:9400 (issuers: http://127.0.0.1:9400/default)");
//! assert_eq!(text.parse::<ReadyLine>().unwrap(), line);
//! assert!("something else".parse::<ReadyLine>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

/// How the line begins.
pub const READY_PREFIX: &str = "mock-provider ready at ";

/// What the ready line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyLine {
    /// `http://127.0.0.1:PORT` (`https://` with TLS).
    pub base_url: String,
    /// Every issuer identifier, in the provider's order.
    pub issuers: Vec<String>,
}

/// A line that is not the ready line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not `mock-provider ready at URL (issuers: ...)`")]
pub struct NotTheReadyLine(pub String);

impl fmt::Display for ReadyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{READY_PREFIX}{} (issuers: {})",
            self.base_url,
            self.issuers.join(", ")
        )
    }
}

impl FromStr for ReadyLine {
    type Err = NotTheReadyLine;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let bad = || NotTheReadyLine(line.to_owned());
        let rest = line.trim_end().strip_prefix(READY_PREFIX).ok_or_else(bad)?;
        let (url, issuers) = rest.split_once(" (issuers: ").ok_or_else(bad)?;
        let issuers = issuers.strip_suffix(')').ok_or_else(bad)?;
        Ok(Self {
            base_url: url.to_owned(),
            issuers: issuers
                .split(", ")
                .filter(|i| !i.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}
