//! Placeholders in scenario values: `{resource}`, `{prm_url}`,
//! `{issuer}`, `{token.NAME}`, `{repeat:X:N}`... resolved against what a run
//! knows.

use std::collections::BTreeMap;

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
        if let Some(spec) = name.strip_prefix("repeat:")
            && let Some((chunk, n)) = spec.rsplit_once(':')
            && let Ok(n) = n.parse::<usize>()
            && n <= 1_000_000
        {
            return Ok(chunk.repeat(n));
        }
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| UnknownPlaceholder(name.to_owned()))
    }
}
