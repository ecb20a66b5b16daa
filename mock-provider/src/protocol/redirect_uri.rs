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
    /// Carries a user name or password (RFC 3986 3.2.1: deprecated, and a
    /// way to make `https://good.example@evil.example/` look trusted).
    #[error("`{0}` must not contain user information (a user name or password)")]
    UserInfo(String),
}

/// Checks that `uri` may be registered as a redirect URI.
pub fn validate(uri: &str) -> Result<Url, RedirectUriError> {
    let url = Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute(uri.to_owned()))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(RedirectUriError::Fragment(uri.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::UserInfo(uri.to_owned()));
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

/// Whether a presented redirect URI matches a registered one (OAuth 2.1
/// 4.1.3: "compare ... using simple string comparison"): the same string,
/// or, when the registered one is `http` on a loopback IP literal, the same
/// string with another port (RFC 8252 7.3: "MUST allow any port to be
/// specified at the time of the request for loopback IP redirect URIs").
/// Only the port may differ, and it is compared as written: no case
/// folding, no path or host normalisation, no leading zeros.
pub fn matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Some(r), Some(p)) = (LoopbackParts::of(registered), LoopbackParts::of(presented)) else {
        return false;
    };
    r.host == p.host && r.rest == p.rest && Url::parse(presented).is_ok()
}

/// `http://` + a loopback IP literal as written + an optional port + the
/// rest, split on the raw string so nothing is normalised away.
struct LoopbackParts<'a> {
    host: &'a str,
    rest: &'a str,
}

impl<'a> LoopbackParts<'a> {
    fn of(uri: &'a str) -> Option<Self> {
        let after = uri.strip_prefix("http://")?;
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        let (host, port) = if authority.starts_with('[') {
            let close = authority.find(']')? + 1;
            let (h, tail) = authority.split_at(close);
            (h, tail)
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, &authority[h.len()..][..p.len() + 1]),
                None => (authority, ""),
            }
        };
        let loopback_literal = match host {
            "[::1]" => true,
            h => h
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback() && ip.to_string() == h),
        };
        let port_ok = match port.strip_prefix(':') {
            None => port.is_empty(),
            Some(digits) => {
                !digits.is_empty()
                    && !digits.starts_with('0')
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && digits.parse::<u16>().is_ok()
            }
        };
        (loopback_literal && port_ok).then_some(Self { host, rest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_examples() {
        assert!(validate("http://127.0.0.1:8080/callback").is_ok());
        assert!(validate("https://app.example/cb").is_ok());
        assert!(validate("http://app.example/cb").is_err());
    }

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
        assert!(matches("http://[::1]:80/cb", "http://[::1]:5000/cb"));
    }

    #[test]
    fn nothing_but_the_port_is_normalised() {
        let registered = "http://127.0.0.1:8765/cb";
        assert!(matches(registered, "http://127.0.0.1:9/cb"));
        assert!(matches(registered, "http://127.0.0.1/cb"));
        for presented in [
            "HTTP://127.0.0.1:8765/cb",
            "http://127.0.0.1:8765/x/../cb",
            "http://127.1:8765/cb",
            "http://0x7f.0.0.1:8765/cb",
            "http://2130706433:8765/cb",
            "http://127.0.0.1.:8765/cb",
            "http://127.0.0.1:08765/cb",
            "http://127.0.0.1:8765/c\tb",
            "http://127.0.0.1:8765/c\u{9}b",
            "http://127.0.0.1:8765\\cb",
            "http:127.0.0.1:9/cb",
            "http://127.0.0.1:8765/CB",
            "http://127.0.0.1:8765/cb?",
            "http://127.0.0.1:99999/cb",
            "http://127.0.0.1:/cb",
        ] {
            assert!(!matches(registered, presented), "{presented}");
        }
    }

    #[test]
    fn user_information_is_refused() {
        assert!(matches!(
            validate("https://good.example@evil.example/cb"),
            Err(RedirectUriError::UserInfo(_))
        ));
        assert!(matches!(
            validate("http://u:p@127.0.0.1/cb"),
            Err(RedirectUriError::UserInfo(_))
        ));
    }
}
