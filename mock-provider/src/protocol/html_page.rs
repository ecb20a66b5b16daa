//! The provider's server-rendered HTML pages for people (the consent page,
//! the admin state page, refusal pages): escaping of every value put into
//! them, the shared page shell with its inline style, and the headers every
//! page carries (no caching, no framing, a strict content security policy).
//!
//! There is no template engine: pages are written with `format!`/`push_str`
//! and every value that did not come from this crate's own literals goes
//! through [`escape`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML element content and quoted attribute values:
/// `&`, `<`, `>`, `"` and `'` become character references (html-escape's
/// quoted-attribute encoding; `'` is written `&#x27;`).
pub fn escape(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

/// The inline style every page shares (the CSP allows inline styles only;
/// no scripts, no external resources).
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%;font-size:.85rem}\
th,td{border:1px solid #ccc;padding:.25rem .4rem;text-align:left;vertical-align:top}\
th{background:#f2f2f2}code{font-size:.85rem;word-break:break-all}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}dd{margin:0}\
fieldset{border:1px solid #ccc;margin:1rem 0}.buttons{display:flex;gap:1rem}\
button{font-size:1rem;padding:.4rem 1.2rem}button.approve{background:#1f6f3f;color:#fff;border:0}\
button.deny{background:#8b1e1e;color:#fff;border:0}.muted{color:#666}.note{background:#fff6d6;padding:.5rem}";

/// A whole document: `title` and `body_html` (already escaped HTML).
pub fn document(title: &str, body_html: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body>\n{body_html}\n</body></html>\n",
        escape(title)
    )
}

/// A page response with the headers every page carries. `form_action` is
/// the CSP `form-action` source list: where the page's forms may submit to
/// *and* where the answers to them may redirect (browsers apply
/// `form-action` to the redirects that follow a submission).
pub fn page_response(status: StatusCode, html: String, form_action: &str) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    // Pages hold single-use ids and CSRF tokens: never cached (RFC 9111 5.2.2.5).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Clickjacking (RFC 6749 10.13, RFC 9700 4.16): a page with Approve and
    // Reset buttons must not be framed by another site. X-Frame-Options for
    // old browsers, CSP frame-ancestors for the rest.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    // The authorization request's URL (state, challenge) is not to leak to
    // another site. Not `no-referrer`: under it browsers send `Origin:
    // null` with the page's own form posts, which the CSRF check (rightly)
    // refuses.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A refusal page: `status` (a 4xx), a heading and the reason, with no
/// redirect (used where redirecting would be wrong, RFC 6749 4.1.2.1).
pub fn refusal_page(status: StatusCode, heading: &str, reason: &str) -> Response {
    let body = format!(
        "<h1>{}</h1>\n<p id=\"reason\">{}</p>",
        escape(heading),
        escape(reason)
    );
    page_response(status, document(heading, &body), "'none'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_examples() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#x27;b&#x27;&lt;/script&gt;"
        );
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#x27;");
        assert_eq!(escape("plain ✓"), "plain ✓");
    }

    #[test]
    fn pages_cannot_be_framed() {
        let r = refusal_page(StatusCode::FORBIDDEN, "No", "<x>");
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
}
