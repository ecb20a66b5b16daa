//! Placeholders in scenario values: `{resource}`, `{prm_url}`,
//! `{issuer}`, `{token.NAME}`, `{repeat:X:N}`... resolved against what a run
//! knows.

use std::collections::BTreeMap;

/// The placeholders every run defines (beside `{token.NAME}`,
/// `{subject.NAME}`, `{session.NAME}`, `{call.subject}` and
/// `{repeat:X:N}`, which depend on the scenario). Some are empty when the
/// profile lacks their section (`{permission_scope}` without
/// `[permission]`); scenarios that use them say `requires`.
pub const RUN_PLACEHOLDERS: &[&str] = &[
    "url",
    "resource",
    "origin",
    "prm_url",
    "prm_root_url",
    "discovered_prm_url",
    "other_resource",
    "issuer",
    "other_issuer",
    "other_jwks_uri",
    "upstream_issuer",
    "upstream_api",
    "auth_scope",
    "permission_scope",
    "full_scope",
    "spec_version",
];

/// The names of the `{...}` placeholders in `text`, in order.
///
/// ```
/// use conformance::template::placeholders;
/// assert_eq!(placeholders("{url}?x={token.a}{"), ["url", "token.a"]);
/// ```
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

/// Whether `name` is a `{repeat:X:N}` placeholder.
pub fn is_repeat(name: &str) -> bool {
    name.strip_prefix("repeat:")
        .and_then(|spec| spec.rsplit_once(':'))
        .and_then(|(_, n)| n.parse::<usize>().ok())
        .is_some_and(|n| n <= 1_000_000)
}

/// What placeholders resolve to.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

/// A placeholder nobody defined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown placeholder `{{{0}}}`")]
pub struct UnknownPlaceholder(pub String);

impl Vars {
    /// Defines a placeholder.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.insert(name.to_owned(), value.into());
    }

    /// A placeholder's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Replaces every `{name}` in `text`.
    ///
    /// ```
    /// use conformance::template::Vars;
    /// let mut v = Vars::default();
    /// v.set("resource", "http://127.0.0.1:3000/mcp");
    /// assert_eq!(v.render("aud={resource}").unwrap(), "aud=http://127.0.0.1:3000/mcp");
    /// assert_eq!(v.render("{repeat:a:3}").unwrap(), "aaa");
    /// assert!(v.render("{nope}").is_err());
    /// ```
    pub fn render(&self, text: &str) -> Result<String, UnknownPlaceholder> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let name = &after[..end];
            out.push_str(&self.resolve(name)?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn resolve(&self, name: &str) -> Result<String, UnknownPlaceholder> {
        if is_repeat(name)
            && let Some((chunk, n)) = name["repeat:".len()..].rsplit_once(':')
            && let Ok(n) = n.parse::<usize>()
        {
            return Ok(chunk.repeat(n));
        }
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| UnknownPlaceholder(name.to_owned()))
    }
}
