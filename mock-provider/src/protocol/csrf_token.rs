//! Cross-site request forgery defences of the HTML forms (RFC 6749 10.12,
//! RFC 9700 4.7): the per-request token a form carries in a hidden field,
//! the cookie that binds it to the browser that loaded the page
//! (`HttpOnly`, `SameSite=Strict`, scoped to one path), the check of both,
//! and the `Origin` / `Sec-Fetch-Site` check of a form post.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::protocol::secret::{Secret, TokenHash};

/// Why a form post failed the CSRF checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrfError {
    /// No token in the form.
    #[error("the form carries no CSRF token")]
    MissingFormToken,
    /// A token, but not the one issued with this page.
    #[error("the form's CSRF token is not the one issued with this page")]
    WrongFormToken,
    /// The cookie set with the page is not in the request: the form was
    /// posted by another browser, or by another site (`SameSite=Strict`).
    #[error(
        "the CSRF cookie set with this page is missing: the form must be posted from the browser (and site) that loaded it"
    )]
    MissingCookie,
    /// A cookie of that name, but not the page's token.
    #[error("the CSRF cookie does not match this page's token")]
    WrongCookie,
    /// `Origin` or `Sec-Fetch-Site` says the post came from another site.
    #[error("cross-site form post refused ({0})")]
    CrossSite(String),
}

/// The CSRF values a consent form post presents.
#[derive(Debug, Clone, Copy)]
pub struct PresentedCsrf<'a> {
    /// The hidden form field.
    pub form: Option<&'a str>,
    /// The cookie set with the page.
    pub cookie: Option<&'a str>,
}

impl PresentedCsrf<'_> {
    /// Both the form field and the cookie must be `expected`, compared in
    /// constant time. The form field alone would be enough against a site
    /// that cannot read the page; the cookie also stops a post built from a
    /// page someone else loaded (consent CSRF: an attacker starts a request
    /// for their own client and has the victim's browser submit it).
    pub fn check(&self, expected: &Secret) -> Result<(), CsrfError> {
        check_form_token(expected, self.form)?;
        match self.cookie {
            None => Err(CsrfError::MissingCookie),
            Some(c) if expected.matches(c) => Ok(()),
            Some(_) => Err(CsrfError::WrongCookie),
        }
    }
}

/// Checks a form's hidden token against the one issued.
pub fn check_form_token(expected: &Secret, presented: Option<&str>) -> Result<(), CsrfError> {
    match presented {
        None => Err(CsrfError::MissingFormToken),
        Some(p) if expected.matches(p) => Ok(()),
        Some(_) => Err(CsrfError::WrongFormToken),
    }
}

/// The name of the cookie holding a consent page's token: one per pending
/// request (derived from a hash of its id, so the name reveals nothing), so
/// several consent pages can be open in one browser at once.
pub fn consent_cookie_name(pending_id: &str) -> String {
    format!(
        "mp_consent_{}",
        TokenHash::of(pending_id).fingerprint().hex()
    )
}

/// A `Set-Cookie` value: `HttpOnly` (no script reads it), `SameSite=Strict`
/// (never sent with a request another site starts), scoped to `path` and
/// living `max_age_secs`; `Secure` when the provider serves HTTPS.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age_secs: u64,
    secure: bool,
) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear_cookie(name: &str, path: &str, secure: bool) -> Option<HeaderValue> {
    set_cookie(name, "", path, 0, secure)
}

/// The value of the cookie `name` in the request's `Cookie` headers.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Refuses a form post a browser says came from another site: a
/// `Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin` other
/// than this server's (`scheme://Host`). Requests without either header
/// (not from a browser) pass; they still need the form token.
pub fn check_same_origin(headers: &HeaderMap, scheme: &str) -> Result<(), CsrfError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    check_same_origin_at(headers, scheme, host)
}

/// [`check_same_origin`] with the request's host given (HTTP/2 carries it
/// in `:authority`, not in a `Host` header).
pub fn check_same_origin_at(
    headers: &HeaderMap,
    scheme: &str,
    host: Option<&str>,
) -> Result<(), CsrfError> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if !matches!(site, "same-origin" | "none") {
            return Err(CsrfError::CrossSite(format!("Sec-Fetch-Site: {site}")));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = host.unwrap_or("");
        let own = format!("{scheme}://{host}");
        if host.is_empty() || !origin.eq_ignore_ascii_case(&own) {
            return Err(CsrfError::CrossSite(format!("Origin: {origin}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_and_cookie_must_both_match() {
        let t = Secret::new("token");
        let ok = PresentedCsrf {
            form: Some("token"),
            cookie: Some("token"),
        };
        assert_eq!(ok.check(&t), Ok(()));
        let no_cookie = PresentedCsrf { cookie: None, ..ok };
        assert_eq!(no_cookie.check(&t), Err(CsrfError::MissingCookie));
        let wrong_form = PresentedCsrf {
            form: Some("x"),
            ..ok
        };
        assert_eq!(wrong_form.check(&t), Err(CsrfError::WrongFormToken));
    }

    #[test]
    fn reads_cookies_and_origins() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; mp_x=tok"));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9400"));
        assert_eq!(cookie_value(&h, "mp_x"), Some("tok"));
        assert_eq!(cookie_value(&h, "b"), None);
        assert!(check_same_origin(&h, "http").is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:9400"),
        );
        assert!(check_same_origin(&h, "http").is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(check_same_origin(&h, "http").is_err());
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(check_same_origin(&h, "http").is_err());
    }
}
