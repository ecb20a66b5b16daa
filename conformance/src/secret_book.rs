//! Every secret the suite hands out or sees during a run (minted tokens,
//! client secrets, refresh tokens), so evidence can be redacted before it
//! is shown and leak scans know what to look for.

/// Known secret values with the label that replaces them.
#[derive(Debug, Clone, Default)]
pub struct SecretBook {
    entries: Vec<(String, String)>,
}

impl SecretBook {
    /// Remembers a secret; values shorter than 8 characters are ignored
    /// (they would match everywhere and redact nothing real).
    pub fn add(&mut self, value: &str, label: &str) {
        if value.len() >= 8 && !self.entries.iter().any(|(v, _)| v == value) {
            self.entries.push((value.to_owned(), label.to_owned()));
            // Longest first so a secret containing another is replaced whole.
            self.entries.sort_by_key(|e| std::cmp::Reverse(e.0.len()));
        }
    }

    /// Takes in every secret another book holds (a closed lane's).
    pub fn absorb(&mut self, other: SecretBook) {
        for (value, label) in other.entries {
            self.add(&value, &label);
        }
    }

    /// `text` with every known secret replaced by `[redacted: label]`.
    ///
    /// ```
    /// use conformance::secret_book::SecretBook;
    /// let mut book = SecretBook::default();
    /// book.add("eyJhbGciOi.secret.part", "token valid");
    /// assert_eq!(book.redact("Bearer eyJhbGciOi.secret.part"), "Bearer [redacted: token valid]");
    /// ```
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (value, label) in &self.entries {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &format!("[redacted: {label}]"));
            }
        }
        out
    }

    /// The labels of the secrets found in `text`.
    pub fn found_in(&self, text: &str) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(v, _)| text.contains(v.as_str()))
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// The secret values found in `text`.
    pub fn values_in<'a>(&'a self, text: &str) -> Vec<&'a str> {
        self.entries
            .iter()
            .filter(|(v, _)| text.contains(v.as_str()))
            .map(|(v, _)| v.as_str())
            .collect()
    }

    /// How many secrets are known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
