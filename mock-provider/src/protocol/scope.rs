//! OAuth scopes (RFC 6749 3.3): parsing a space-delimited scope string,
//! checking its characters, and the subset rules that keep a refresh or a
//! client from widening what was granted.

use std::collections::BTreeSet;
use std::fmt;

/// A set of scope tokens. Order on the wire is not significant (RFC 6749
/// 3.3); this keeps them sorted so output is stable.
///
/// ```
/// use mock_provider::ScopeSet;
/// let granted = ScopeSet::parse("mcp:tools mcp:admin").unwrap();
/// let asked = ScopeSet::parse("mcp:tools").unwrap();
/// assert!(asked.is_subset(&granted));
/// assert_eq!(granted.to_string(), "mcp:admin mcp:tools");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<String>);

/// A scope string that breaks RFC 6749 3.3's grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope token `{0}` has a character RFC 6749 3.3 does not allow")]
pub struct InvalidScope(pub String);

impl ScopeSet {
    /// Parses a space-delimited scope string; runs of spaces are tolerated.
    pub fn parse(s: &str) -> Result<Self, InvalidScope> {
        let mut set = BTreeSet::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            let ok = token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !ok {
                return Err(InvalidScope(token.to_owned()));
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// A set from tokens already known to be valid.
    pub fn from_tokens<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Self {
        Self(tokens.into_iter().map(Into::into).collect())
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Tokens of `self` that are not in `other`.
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.difference(&other.0).cloned().collect())
    }

    /// Tokens in both.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a token is in the set.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// The tokens, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for t in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(t)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_quote_and_backslash() {
        assert!(ScopeSet::parse("a\"b").is_err());
        assert!(ScopeSet::parse("a\\b").is_err());
        assert!(ScopeSet::parse("caf\u{e9}").is_err());
    }

    #[test]
    fn difference_names_the_extra_tokens() {
        let a = ScopeSet::parse("x y z").unwrap();
        let b = ScopeSet::parse("x").unwrap();
        assert_eq!(a.difference(&b).to_string(), "y z");
    }
}
