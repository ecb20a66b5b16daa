//! Parsing `WWW-Authenticate` challenges (RFC 9110 11.6.1): a scheme and
//! `name=value` parameters, values as tokens or quoted strings; several
//! challenges may share one header.

/// One challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, as sent.
    pub scheme: String,
    /// Parameters, names lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Every challenge in the given header values.
///
/// ```
/// use conformance::www_authenticate::parse;
/// let c = parse(&[r#"Bearer error="invalid_token", resource_metadata="https://x/.well-known/oauth-protected-resource""#]);
/// assert_eq!(c[0].scheme, "Bearer");
/// assert_eq!(c[0].param("error"), Some("invalid_token"));
/// ```
pub fn parse(values: &[&str]) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        parse_one(value, &mut out);
    }
    out
}

fn parse_one(value: &str, out: &mut Vec<Challenge>) {
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && (chars[*i] == ' ' || chars[*i] == '\t' || chars[*i] == ',') {
            *i += 1;
        }
    };
    let read_token = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && !matches!(chars[*i], ' ' | '\t' | ',' | '=' | '"') {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            break;
        }
        let word = read_token(&mut i);
        if word.is_empty() {
            i += 1;
            continue;
        }
        // Look past spaces: `=` means a parameter of the current challenge.
        let mut j = i;
        while j < chars.len() && (chars[j] == ' ' || chars[j] == '\t') {
            j += 1;
        }
        if j < chars.len() && chars[j] == '=' && !out.is_empty() && !word.ends_with('=') {
            i = j + 1;
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                i += 1;
            }
            let value = if i < chars.len() && chars[i] == '"' {
                i += 1;
                let mut v = String::new();
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    v.push(chars[i]);
                    i += 1;
                }
                i += 1;
                v
            } else {
                read_token(&mut i)
            };
            if let Some(c) = out.last_mut() {
                c.params.push((word.to_ascii_lowercase(), value));
            }
        } else {
            out.push(Challenge {
                scheme: word,
                params: Vec::new(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_challenges_and_token_values() {
        let c = parse(&[r#"Basic realm="a", Bearer scope="x y", error=invalid_token"#]);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].param("realm"), Some("a"));
        assert_eq!(c[1].scheme, "Bearer");
        assert_eq!(c[1].param("scope"), Some("x y"));
        assert_eq!(c[1].param("error"), Some("invalid_token"));
    }

    #[test]
    fn bare_scheme() {
        let c = parse(&["Bearer"]);
        assert_eq!(c.len(), 1);
        assert!(c[0].params.is_empty());
    }
}
