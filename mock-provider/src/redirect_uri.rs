//! Redirect URIs: which ones may be registered (https, or http on a loopback
//! host: the MCP authorization spec's "localhost URLs or HTTPS URLs", OAuth
//! 2.1 2.3.1) and how a presented one is matched against the registered ones
//! (exact string match, OAuth 2.1 4.1.3, except that a loopback IP literal
//! may use any port, RFC 8252 7.3).

use url::{Host, Url};

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    /// Not an absolute URI.
    #[error("`{0}` is not an absolute URI")]
    NotAbsolute(String),
    /// Has a fragment (RFC 6749 3.1.2).
    #[error("`{0}` has a fragment, which RFC 6749 3.1.2 forbids")]
    Fragment(String),
    /// Neither https nor http on a loopback host.
    #[error("`{0}` must use https, or http on localhost/127.0.0.1/[::1]")]
    InsecureScheme(String),
}

/// Checks that `uri` may be registered as a redirect URI.
///
/// ```
/// use mock_provider::redirect_uri::validate;
/// assert!(validate("http://127.0.0.1:8080/callback").is_ok());
/// assert!(validate("https://app.example/cb").is_ok());
/// assert!(validate("http://app.example/cb").is_err());
/// ```
pub fn validate(uri: &str) -> Result<Url, RedirectUriError> {
    let url = Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute(uri.to_owned()))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(RedirectUriError::Fragment(uri.to_owned()));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(&url) => Ok(url),
        _ => Err(RedirectUriError::InsecureScheme(uri.to_owned())),
    }
}

/// Whether the URL's host is `localhost` or a loopback IP literal.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn is_loopback_ip_literal(url: &Url) -> bool {
    matches!(url.host(), Some(Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(Host::Ipv6(ip)) if ip.is_loopback())
}

/// Whether a presented redirect URI matches a registered one: the same
/// string, or for an `http` loopback IP literal the same URI with any port
/// (RFC 8252 7.3).
pub fn matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(mut r), Ok(mut p)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    if r.scheme() != "http" || !is_loopback_ip_literal(&r) || !is_loopback_ip_literal(&p) {
        return false;
    }
    // Ports are the only thing allowed to differ.
    let _ = r.set_port(None);
    let _ = p.set_port(None);
    r == p && r.as_str().len() == p.as_str().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_fragments_and_plain_http() {
        assert!(matches!(
            validate("https://a.example/cb#x"),
            Err(RedirectUriError::Fragment(_))
        ));
        assert!(matches!(
            validate("http://evil.example/cb"),
            Err(RedirectUriError::InsecureScheme(_))
        ));
        assert!(matches!(
            validate("custom:/cb"),
            Err(RedirectUriError::InsecureScheme(_))
        ));
        assert!(matches!(
            validate("/relative"),
            Err(RedirectUriError::NotAbsolute(_))
        ));
        assert!(validate("http://localhost:3000/cb").is_ok());
        assert!(validate("http://[::1]/cb").is_ok());
    }

    #[test]
    fn matching_is_exact_but_loopback_ports_may_vary() {
        assert!(matches("https://a.example/cb", "https://a.example/cb"));
        assert!(!matches("https://a.example/cb", "https://a.example/cb/"));
        assert!(!matches("https://a.example/cb", "https://a.example:444/cb"));
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:53211/cb"));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:53211/other"
        ));
        // `localhost` is a name, not a literal: RFC 8252 8.3 discourages it, exact match applies.
        assert!(!matches("http://localhost/cb", "http://localhost:5000/cb"));
    }
}
