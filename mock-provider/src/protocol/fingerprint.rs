//! A token's fingerprint: `sha256:` and the first 12 hex digits of its
//! SHA-256. Enough to correlate a ledger entry, a log line and a token a
//! client holds; far too little to recover the token. It is the one form
//! every crate of the workspace writes and reads.
//!
//! ```
//! use mock_provider::Fingerprint;
//! let fp = Fingerprint::of("a refresh token");
//! let text = fp.to_string();
//! assert!(text.starts_with("sha256:") && text.len() == 19);
//! assert_eq!(text.parse::<Fingerprint>().unwrap(), fp);
//! assert!("sha256:XYZ".parse::<Fingerprint>().is_err());
//! ```

use std::fmt::{self, Write as _};
use std::str::FromStr;

use aws_lc_rs::digest;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const PREFIX: &str = "sha256:";
/// Bytes of the digest kept: 12 hex digits.
const KEPT: usize = 6;

/// `sha256:` and 12 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; KEPT]);

impl Fingerprint {
    /// The fingerprint of a token value.
    pub fn of(value: &str) -> Self {
        Self::of_digest(digest::digest(&digest::SHA256, value.as_bytes()).as_ref())
    }

    /// The fingerprint of a SHA-256 digest already made.
    pub(crate) fn of_digest(sha256: &[u8]) -> Self {
        let mut kept = [0u8; KEPT];
        kept.copy_from_slice(&sha256[..KEPT]);
        Self(kept)
    }

    /// The 12 hex digits without `sha256:` (for names that cannot hold a
    /// colon: cookies, file names).
    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(2 * KEPT);
        for b in self.0 {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Text that is not `sha256:` and 12 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a fingerprint (`sha256:` and 12 lower-case hex digits)")]
pub struct NotAFingerprint(pub String);

impl FromStr for Fingerprint {
    type Err = NotAFingerprint;
    fn from_str(text: &str) -> Result<Self, NotAFingerprint> {
        let refuse = || NotAFingerprint(text.to_owned());
        let hex = text.strip_prefix(PREFIX).ok_or_else(refuse)?.as_bytes();
        // Lower case only, so a fingerprint renders back to the same text.
        if hex.len() != 2 * KEPT || !hex.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(refuse());
        }
        let digit = |c: u8| if c <= b'9' { c - b'0' } else { c - b'a' + 10 };
        let mut kept = [0u8; KEPT];
        for (b, pair) in kept.iter_mut().zip(hex.chunks_exact(2)) {
            *b = (digit(pair[0]) << 4) | digit(pair[1]);
        }
        Ok(Self(kept))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_parses_back() {
        let fp = Fingerprint::of("abcdef");
        assert!(!fp.to_string().contains("abcdef"));
        assert_eq!(fp.to_string().parse::<Fingerprint>(), Ok(fp));
        assert_eq!(
            serde_json::from_value::<Fingerprint>(serde_json::to_value(fp).unwrap()).unwrap(),
            fp
        );
        assert_eq!(format!("sha256:{}", fp.hex()), fp.to_string());
    }

    #[test]
    fn refuses_what_would_not_render_back() {
        for bad in [
            "sha256:00FF10A0B9C8",
            "sha256:00ff10a0b9c",
            "sha256:00ff10a0b9c8a",
            "sha256:+0ff10a0b9c8",
            "00ff10a0b9c8",
            "",
        ] {
            assert!(bad.parse::<Fingerprint>().is_err(), "{bad}");
        }
        assert!("sha256:00ff10a0b9c8".parse::<Fingerprint>().is_ok());
    }
}
