//! Strict parsing of `application/x-www-form-urlencoded` request parameters
//! (bodies and query strings): content type, size limit, UTF-8, and the
//! RFC 6749 3.1/3.2 rule that a parameter is never sent twice.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use percent_encoding::percent_decode;

use crate::protocol::oauth_error::OAuthError;

pub use crate::protocol::limits::MAX_BODY_BYTES;
use crate::protocol::limits::{MAX_PARAM_BYTES, is_token_parameter};

/// Parameters that RFC 8707 lets a client repeat.
const REPEATABLE: &[&str] = &["resource"];

/// The decoded parameters of one request, in order.
///
/// ```
/// use mock_provider::RequestParams;
/// let p = RequestParams::parse(b"grant_type=refresh_token&scope=a+b&resource=x&resource=y").unwrap();
/// assert_eq!(p.single("scope").unwrap(), Some("a b"));
/// assert_eq!(p.all("resource"), vec!["x", "y"]);
/// assert!(RequestParams::parse(b"scope=a&scope=b").unwrap().single("scope").is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestParams {
    pairs: Vec<(String, String)>,
}

impl RequestParams {
    /// Decodes a urlencoded string. Invalid UTF-8 after percent-decoding is
    /// an `invalid_request` naming the parameter.
    pub fn parse(input: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs = Vec::new();
        for piece in input.split(|b| *b == b'&') {
            if piece.is_empty() {
                continue;
            }
            let (name, value) = match piece.iter().position(|b| *b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            let name = decode(name)
                .map_err(|_| OAuthError::invalid_request("a parameter name is not valid UTF-8"))?;
            let value = decode(value).map_err(|_| {
                OAuthError::invalid_request(format!("parameter `{name}` is not valid UTF-8"))
            })?;
            if value.len() > MAX_PARAM_BYTES && !is_token_parameter(&name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{name}` is {} bytes long; this server accepts at most {MAX_PARAM_BYTES}",
                    value.len()
                )));
            }
            pairs.push((name, value));
        }
        Ok(Self { pairs })
    }

    /// Reads and decodes a form body: the content type must be
    /// `application/x-www-form-urlencoded` and the body at most
    /// `MAX_BODY_BYTES` (64 KiB).
    pub async fn from_form_body(headers: &HeaderMap, body: Body) -> Result<Self, OAuthError> {
        require_content_type(headers, "application/x-www-form-urlencoded")?;
        let bytes = read_body(body).await?;
        Self::parse(&bytes)
    }

    /// The value of a parameter that may appear at most once. Empty values
    /// count as absent (RFC 6749 3.1); a repeated parameter is an
    /// `invalid_request` (RFC 6749 3.1, 3.2).
    pub fn single(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = None;
        for (k, v) in &self.pairs {
            if k == name {
                if found.is_some() {
                    return Err(OAuthError::invalid_request(format!(
                        "parameter `{name}` is included more than once"
                    )));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }

    /// Like [`single`](Self::single), but absence is an `invalid_request`.
    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.single(name)?.ok_or_else(|| {
            OAuthError::invalid_request(format!("missing required parameter `{name}`"))
        })
    }

    /// Every non-empty value of a repeatable parameter.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Checks that no parameter other than the repeatable ones appears twice.
    pub fn reject_duplicates(&self) -> Result<(), OAuthError> {
        for (i, (name, _)) in self.pairs.iter().enumerate() {
            if REPEATABLE.contains(&name.as_str()) {
                continue;
            }
            if self.pairs[..i].iter().any(|(k, _)| k == name) {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{name}` is included more than once"
                )));
            }
        }
        Ok(())
    }

    /// Whether a parameter is present (even empty).
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }
}

fn decode(raw: &[u8]) -> Result<String, std::string::FromUtf8Error> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    String::from_utf8(percent_decode(&plus_as_space).collect())
}

/// Refuses a request whose `Content-Type` media type is not `expected`.
pub fn require_content_type(headers: &HeaderMap, expected: &str) -> Result<(), OAuthError> {
    let found = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match found {
        Some(media) if media == expected => Ok(()),
        Some(media) => Err(OAuthError::invalid_request(format!(
            "Content-Type must be {expected}, got `{media}`"
        ))),
        None => Err(OAuthError::invalid_request(format!(
            "Content-Type must be {expected}"
        ))),
    }
}

/// Reads a body of at most [`MAX_BODY_BYTES`].
pub async fn read_body(body: Body) -> Result<axum::body::Bytes, OAuthError> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            OAuthError::invalid_request(format!(
                "request body could not be read or is larger than {MAX_BODY_BYTES} bytes"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus() {
        let p = RequestParams::parse(b"a=x%20y+z&b=%E2%9C%93").unwrap();
        assert_eq!(p.single("a").unwrap(), Some("x y z"));
        assert_eq!(p.single("b").unwrap(), Some("\u{2713}"));
    }

    #[test]
    fn invalid_utf8_names_the_parameter() {
        let e = RequestParams::parse(b"code=%FF").unwrap_err();
        assert!(e.description().contains("`code`"), "{e}");
    }

    #[test]
    fn empty_value_is_absent() {
        let p = RequestParams::parse(b"scope=&state").unwrap();
        assert_eq!(p.single("scope").unwrap(), None);
        assert_eq!(p.single("state").unwrap(), None);
        assert!(p.required("scope").is_err());
    }

    #[test]
    fn duplicates_are_refused_except_resource() {
        let p = RequestParams::parse(b"resource=a&resource=b&x=1").unwrap();
        assert!(p.reject_duplicates().is_ok());
        let p = RequestParams::parse(b"x=1&x=2").unwrap();
        assert!(p.reject_duplicates().is_err());
    }
}
