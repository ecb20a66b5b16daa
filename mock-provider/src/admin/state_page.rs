//! The admin state page for people: `GET /__admin/state` renders the
//! provider's state as HTML (issuers and their keys, clients, token
//! families, faults in force, the latest ledger entries, counters, pending
//! consent requests) with a Reset button, and `POST /__admin/state/reset`
//! is where that button goes: it resets the provider and redirects back
//! (303).
//!
//! Both sit behind the admin API's guard (loopback peers, or the bearer
//! secret). The reset form is also protected against cross-site requests:
//! it must carry the token embedded in the page, and a browser's `Origin` /
//! `Sec-Fetch-Site` must say the same site (RFC 6749 10.12's CSRF concern
//! applied to an admin form; a loopback-only endpoint is still reachable
//! from any web page the local browser opens).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::issuer::now;
use crate::ledger::{ConsentDecision, LedgerEntry, LedgerFilter};
use crate::protocol::csrf_token::{self, CsrfError};
use crate::protocol::html_page::{document, escape, page_response, refusal_page};
use crate::protocol::request_params::RequestParams;
use crate::provider_state::ProviderState;
use crate::tokens::token_family::RevocationCause;

/// Where the state page lives.
pub const STATE_PATH: &str = "/__admin/state";
/// Where its Reset form posts.
pub const RESET_PATH: &str = "/__admin/state/reset";
/// How many ledger entries the page shows (the latest).
pub const LEDGER_ROWS: usize = 50;
/// How many token families the page shows per issuer (the latest).
pub const FAMILY_ROWS: usize = 200;

/// `YYYY-MM-DD HH:MM:SS` (UTC) of Unix seconds: the days-to-civil
/// conversion of the proleptic Gregorian calendar.
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn opt(v: Option<&str>) -> String {
    v.map(escape)
        .unwrap_or_else(|| "<span class=\"muted\">-</span>".into())
}

fn cause(c: RevocationCause) -> &'static str {
    match c {
        RevocationCause::RefreshTokenReuse => "refresh token reuse",
        RevocationCause::AuthorizationCodeReuse => "authorization code reuse",
        RevocationCause::Requested => "requested",
    }
}

fn table(out: &mut String, id: &str, headings: &[&str], rows: &[Vec<String>], empty: &str) {
    if rows.is_empty() {
        let _ = writeln!(out, "<p id=\"{id}\" class=\"muted\">{}</p>", escape(empty));
        return;
    }
    let _ = write!(out, "<table id=\"{id}\"><tr>");
    for h in headings {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn code(s: &str) -> String {
    format!("<code>{}</code>", escape(s))
}

fn ledger_row(e: &LedgerEntry) -> Vec<String> {
    let consent = e.consent.as_ref().map(|c| {
        let what = match c.decision {
            ConsentDecision::Shown => "page shown",
            ConsentDecision::Approved => "approved",
            ConsentDecision::Denied => "denied",
        };
        match &c.subject {
            Some(s) => format!("{what} ({s})"),
            None => what.to_owned(),
        }
    });
    vec![
        e.seq.to_string(),
        escape(&format!(
            "{}.{:03}",
            utc(e.time_ms / 1000),
            e.time_ms % 1000
        )),
        escape(&e.issuer),
        escape(e.endpoint.as_str()),
        opt(e.client_id.as_deref()),
        opt(e.grant_type.map(|g| g.as_str())),
        e.status.to_string(),
        escape(&e.outcome),
        opt(e.family.map(|f| f.to_string()).as_deref()),
        opt(e.refresh_token.map(|f| f.to_string()).as_deref()),
        opt(e.issued_refresh_token.map(|f| f.to_string()).as_deref()),
        if e.reuse_detected {
            "yes".into()
        } else {
            String::new()
        },
        escape(&e.faults.join(", ")),
        opt(consent.as_deref()),
        format!("{:.1}", e.latency_ms),
    ]
}

/// The page's HTML.
pub fn render(provider: &ProviderState) -> String {
    let now = now();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<h1>mock-provider state</h1>\n<p>Base URL <code id=\"base-url\">{}</code>; \
         {} consent request(s) waiting; ledger at entry {}.</p>",
        escape(provider.base_url()),
        provider.pending().waiting(),
        provider.ledger().last_seq()
    );
    let _ = writeln!(
        out,
        "<form method=\"post\" action=\"{RESET_PATH}\" id=\"reset-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button class=\"deny\" id=\"reset\" type=\"submit\">Reset</button> \
         <span class=\"muted\">back to the start: configured faults, clients and keys; \
         no grants; empty ledger</span></form>",
        escape(provider.admin_form_token().expose())
    );

    out.push_str("<h2>Issuers</h2>\n");
    let mut rows = Vec::new();
    for issuer in provider.issuers().values() {
        // The page shows, never waits: keys still being generated show as
        // such.
        let (active, jwks) = match issuer.keys_now() {
            Some(keys) => (keys.active().kid().to_owned(), keys.jwks(now)),
            None => (
                "(being generated)".to_owned(),
                serde_json::json!({"keys": []}),
            ),
        };
        let mut key_list = String::from("<ul>");
        for k in jwks["keys"].as_array().into_iter().flatten() {
            let kid = k["kid"].as_str().unwrap_or("");
            let alg = k["alg"].as_str().unwrap_or("");
            let _ = write!(
                key_list,
                "<li><code>{}</code> {}{}</li>",
                escape(kid),
                escape(alg),
                if kid == active { " (signing)" } else { "" }
            );
        }
        key_list.push_str("</ul>");
        let (consent, users) = provider
            .consent_policy(issuer.name())
            .map(|p| (p.issuer_mode().as_str(), p.offered_users().join(", ")))
            .unwrap_or(("auto", String::new()));
        rows.push(vec![
            escape(issuer.name()),
            code(issuer.url()),
            key_list,
            escape(consent),
            escape(&users),
        ]);
    }
    table(
        &mut out,
        "issuers",
        &[
            "name",
            "issuer",
            "keys (kid, alg)",
            "consent",
            "users offered",
        ],
        &rows,
        "no issuers",
    );

    out.push_str("<h2>Clients</h2>\n");
    for issuer in provider.issuers().values() {
        let _ = writeln!(out, "<h3>{}</h3>", escape(issuer.name()));
        let rows: Vec<Vec<String>> = issuer
            .clients()
            .iter()
            .map(|c| {
                let consent = provider
                    .consent_policy(issuer.name())
                    .map(|p| p.mode_for(&c.client_id).as_str())
                    .unwrap_or("auto");
                let origin = serde_json::to_value(c.origin)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                vec![
                    code(&c.client_id),
                    opt(c.client_name.as_deref()),
                    escape(&origin),
                    escape(c.auth_method.as_str()),
                    escape(
                        &c.grant_types
                            .iter()
                            .map(|g| g.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    c.redirect_uris
                        .iter()
                        .map(|u| code(u))
                        .collect::<Vec<_>>()
                        .join("<br>"),
                    escape(&c.refresh_policy.to_string()),
                    escape(consent),
                ]
            })
            .collect();
        table(
            &mut out,
            &format!("clients-{}", issuer.name()),
            &[
                "client_id",
                "name",
                "origin",
                "auth",
                "grants",
                "redirect URIs",
                "refresh",
                "consent",
            ],
            &rows,
            "no clients",
        );
    }

    out.push_str("<h2>Token families</h2>\n");
    let mut rows = Vec::new();
    for issuer in provider.issuers().values() {
        let (summaries, active): (Vec<_>, Vec<_>) = {
            let grants = issuer.grants();
            let s = grants.families.summaries();
            let a = s
                .iter()
                .map(|f| grants.families.active_refresh_tokens(f.id, now))
                .collect();
            (s, a)
        };
        for (f, active) in summaries.iter().zip(active).rev().take(FAMILY_ROWS) {
            rows.push(vec![
                escape(issuer.name()),
                escape(&f.id.to_string()),
                code(&f.grant.client_id),
                escape(&f.grant.subject),
                escape(&f.grant.scope.to_string()),
                escape(&utc(f.grant.auth_time)),
                f.rotations().to_string(),
                active.to_string(),
                f.access_tokens.to_string(),
                match f.revoked {
                    Some(c) => format!("yes: {}", cause(c)),
                    None => "no".into(),
                },
            ]);
        }
    }
    table(
        &mut out,
        "families",
        &[
            "issuer",
            "family",
            "client",
            "subject",
            "scope",
            "created (UTC)",
            "rotations",
            "live refresh tokens",
            "access tokens",
            "revoked",
        ],
        &rows,
        "no token families",
    );

    out.push_str("<h2>Faults in force</h2>\n");
    let rows: Vec<Vec<String>> = provider
        .faults()
        .rules()
        .iter()
        .map(|r| {
            // The kind has its own column.
            let detail = serde_json::to_value(&r.action)
                .ok()
                .map(|v| match v {
                    Value::Object(mut m) => {
                        m.remove("kind");
                        Value::Object(m).to_string()
                    }
                    other => other.to_string(),
                })
                .unwrap_or_default();
            vec![
                r.id.to_string(),
                escape(r.action.name()),
                escape(r.endpoint.as_str()),
                opt(r.issuer.as_deref()),
                opt(r.client_id.as_deref()),
                opt(r.grant_type.map(|g| g.as_str())),
                opt(r.times.map(|t| t.to_string()).as_deref()),
                opt(r.probability.map(|p| p.to_string()).as_deref()),
                code(&detail),
            ]
        })
        .collect();
    table(
        &mut out,
        "faults",
        &[
            "id",
            "kind",
            "endpoint",
            "issuer",
            "client",
            "grant",
            "times left",
            "probability",
            "details",
        ],
        &rows,
        "no faults in force",
    );

    let _ = writeln!(
        out,
        "<h2>Ledger (latest {LEDGER_ROWS}, newest first)</h2>\n\
         <p class=\"muted\">Tokens appear only as fingerprints.</p>"
    );
    let entries = provider.ledger().query(&LedgerFilter {
        limit: Some(LEDGER_ROWS),
        ..Default::default()
    });
    let rows: Vec<Vec<String>> = entries.iter().rev().map(ledger_row).collect();
    table(
        &mut out,
        "ledger",
        &[
            "seq",
            "time (UTC)",
            "issuer",
            "endpoint",
            "client",
            "grant",
            "status",
            "outcome",
            "family",
            "refresh token",
            "issued refresh token",
            "reuse",
            "faults",
            "consent",
            "ms",
        ],
        &rows,
        "the ledger is empty",
    );

    out.push_str("<h2>Counters</h2>\n");
    let mut rows = Vec::new();
    for (issuer, clients) in provider.ledger().counters() {
        for (client, c) in clients {
            rows.push(vec![
                escape(&issuer),
                code(&client),
                c.requests.to_string(),
                c.refresh_requests.to_string(),
                c.refresh_grants.to_string(),
                c.reuse_detected.to_string(),
                c.invalid_grant.to_string(),
                c.upstream_requests.to_string(),
            ]);
        }
    }
    table(
        &mut out,
        "counters",
        &[
            "issuer",
            "client",
            "requests",
            "refresh requests",
            "refresh grants",
            "reuse detected",
            "invalid_grant",
            "upstream requests",
        ],
        &rows,
        "no counters yet",
    );
    document("mock-provider state", &out)
}

/// `GET /__admin/state`
pub async fn state_page(State(provider): State<Arc<ProviderState>>) -> Response {
    page_response(StatusCode::OK, render(&provider), "'self'")
}

/// Why the Reset form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResetRefusal {
    /// Not a form body.
    #[error("{0}")]
    BadForm(String),
    /// Cross-site, or without the page's token.
    #[error(transparent)]
    Csrf(#[from] CsrfError),
}

impl IntoResponse for ResetRefusal {
    fn into_response(self) -> Response {
        let status = match self {
            Self::BadForm(_) => StatusCode::BAD_REQUEST,
            Self::Csrf(_) => StatusCode::FORBIDDEN,
        };
        refusal_page(status, "Reset refused", &self.to_string())
    }
}

/// `POST /__admin/state/reset`: the state page's Reset button.
pub async fn reset_form(
    State(provider): State<Arc<ProviderState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match check_reset(&provider, &headers, body).await {
        Ok(()) => {
            provider.reset();
            tracing::info!("provider reset from the state page");
            // RFC 9110 15.4.4: 303 turns the POST into a GET of the page,
            // so reloading it does not post the form again.
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static(STATE_PATH));
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(refusal) => {
            tracing::info!(reason = %refusal, "state page reset refused");
            refusal.into_response()
        }
    }
}

async fn check_reset(
    provider: &ProviderState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), ResetRefusal> {
    // The browser's own word first: a post another site started is refused
    // whatever it carries.
    csrf_token::check_same_origin(headers, provider.scheme())?;
    let params = RequestParams::from_form_body(headers, body)
        .await
        .map_err(|e| ResetRefusal::BadForm(e.description().to_owned()))?;
    let presented = params
        .single("csrf")
        .map_err(|e| ResetRefusal::BadForm(e.description().to_owned()))?;
    csrf_token::check_form_token(provider.admin_form_token(), presented)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20");
    }
}
