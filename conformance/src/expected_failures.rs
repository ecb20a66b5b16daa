//! The expected-failures baseline: scenario ids a team knows its server
//! fails today, so the suite can gate CI while they fix them one by one.
//! One id per line; `#` starts a comment.
//!
//! ```text
//! # until we validate aud (JIRA-123)
//! token.wrong_audience
//! passthrough.token_for_other_resource
//! ```

use std::collections::BTreeSet;
use std::path::Path;

/// A baseline file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Unreadable.
    #[error("cannot read expected-failures file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line that is not an id.
    #[error("expected-failures file {path}, line {line}: `{text}` is not a scenario id")]
    Malformed {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// The text.
        text: String,
    },
}

/// Reads a baseline file.
pub fn load(path: &Path) -> Result<BTreeSet<String>, BaselineError> {
    let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses baseline text.
pub fn parse(text: &str, origin: &str) -> Result<BTreeSet<String>, BaselineError> {
    let mut out = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let id = line.split('#').next().unwrap_or("").trim();
        if id.is_empty() {
            continue;
        }
        let ok = id.contains('.')
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if !ok {
            return Err(BaselineError::Malformed {
                path: origin.to_owned(),
                line: i + 1,
                text: id.to_owned(),
            });
        }
        out.insert(id.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_blank_lines() {
        let ids = parse("# x\n\ntoken.expired # later\n  leak.logs\n", "f").unwrap();
        assert_eq!(ids.len(), 2);
        let e = parse("token expired\n", "f").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
