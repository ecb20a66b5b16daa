//! The consent page for people, shown by the authorization endpoint when
//! an issuer or client has interactive consent: what it shows (client name
//! and id, redirect URI, scopes, resources, issuer, the users to pick
//! from), and `POST /{issuer}/authorize/consent`, where its form goes.
//!
//! The validated request waits in [`crate::tokens::pending_authorization`]; the
//! form carries only the pending id, a CSRF token and the decision.
//! Approve issues the code through the headless path's own
//! [`issue_code`]; Deny sends `access_denied` (RFC 6749 4.1.2.1). A form
//! that fails a check gets a 400/403 page naming the problem: never a
//! redirect (the request it names cannot be trusted) and never a 5xx.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::clients::client_registry::{ClientOrigin, RegisteredClient};
use crate::config::check_subject;
use crate::endpoints::authorization_response::{issue_code, redirect_error};
use crate::endpoints::exchange::Exchange;
use crate::faults::fault_plan::Endpoint;
use crate::issuer::{Issuer, now};
use crate::ledger::{ConsentDecision, ConsentRecord};
use crate::protocol::csrf_token::{self, CsrfError, PresentedCsrf};
use crate::protocol::html_page::{document, escape, page_response, refusal_page};
use crate::protocol::oauth_error::{ErrorCode, OAuthError};
use crate::protocol::request_params::RequestParams;
use crate::provider_state::ProviderState;
use crate::tokens::authorization_code::CodeGrant;
use crate::tokens::pending_authorization::{PendingAuthorization, PendingError};

/// The path the consent form posts to, under the issuer.
pub const CONSENT_PATH: &str = "authorize/consent";

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentView<'a> {
    /// The issuer identifier.
    pub issuer_url: &'a str,
    /// The issuer's name (path segment).
    pub issuer_name: &'a str,
    /// The client's `client_name`, else its id.
    pub client_name: &'a str,
    /// The client id.
    pub client_id: &'a str,
    /// How the client came to be known.
    pub client_origin: ClientOrigin,
    /// Where the answer will go.
    pub redirect_uri: &'a str,
    /// The scopes asked for (or granted by default).
    pub scopes: Vec<&'a str>,
    /// The resources asked for (RFC 8707).
    pub resources: &'a [String],
    /// The audience tokens get when no resource is asked for.
    pub default_audience: &'a str,
    /// The users offered; `preselected` is one of them.
    pub users: Vec<String>,
    /// The user checked when the page opens.
    pub preselected: &'a str,
    /// The opaque pending-request id.
    pub pending_id: &'a str,
    /// The CSRF token.
    pub csrf: &'a str,
}

fn origin_label(origin: ClientOrigin) -> &'static str {
    match origin {
        ClientOrigin::Configured => "pre-registered in the provider's configuration",
        ClientOrigin::DynamicRegistration => "registered dynamically (RFC 7591)",
        ClientOrigin::MetadataDocument => "described by a client ID metadata document",
        ClientOrigin::Admin => "created through the admin API",
    }
}

fn list(id: &str, items: &[&str], empty: &str) -> String {
    if items.is_empty() {
        return format!("<span id=\"{id}\" class=\"muted\">{}</span>", escape(empty));
    }
    let mut out = format!("<ul id=\"{id}\">");
    for i in items {
        out.push_str(&format!("<li><code>{}</code></li>", escape(i)));
    }
    out.push_str("</ul>");
    out
}

/// The consent page's HTML. Every value is escaped.
pub fn render(view: &ConsentView<'_>) -> String {
    let mut body = String::new();
    body.push_str(&format!(
        "<h1>Authorize <span id=\"client-name\">{}</span>?</h1>\n\
         <p class=\"muted\">mock-provider: a test authorization server. Nothing is remembered: \
         this page is shown for every authorization request of this client.</p>\n",
        escape(view.client_name)
    ));
    let resources: Vec<&str> = view.resources.iter().map(String::as_str).collect();
    body.push_str(&format!(
        "<dl>\n<dt>Client</dt><dd>{name} (<code id=\"client-id\">{id}</code>), {origin}</dd>\n\
         <dt>Redirect URI</dt><dd><code id=\"redirect-uri\">{redirect}</code></dd>\n\
         <dt>Scopes</dt><dd>{scopes}</dd>\n\
         <dt>Resource</dt><dd>{resources}</dd>\n\
         <dt>Issuer</dt><dd><code id=\"issuer\">{issuer}</code></dd>\n</dl>\n",
        name = escape(view.client_name),
        id = escape(view.client_id),
        origin = origin_label(view.client_origin),
        redirect = escape(view.redirect_uri),
        scopes = list("scopes", &view.scopes, "none"),
        resources = list(
            "resources",
            &resources,
            &format!(
                "none asked for (tokens get the audience {})",
                view.default_audience
            )
        ),
        issuer = escape(view.issuer_url),
    ));
    if matches!(
        view.client_origin,
        ClientOrigin::DynamicRegistration | ClientOrigin::MetadataDocument
    ) {
        // Anyone can register a client (MCP security best practices,
        // "Confused Deputy Problem"): say so next to the redirect URI.
        body.push_str(
            "<p class=\"note\" id=\"self-registered\">This client registered itself: \
             approve only if you expect the redirect URI above.</p>\n",
        );
    }
    // A relative action: the post goes to the host the browser used, where
    // the CSRF cookie was set.
    body.push_str(&format!(
        "<form method=\"post\" action=\"/{}/{CONSENT_PATH}\">\n\
         <input type=\"hidden\" name=\"pending\" value=\"{}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n\
         <fieldset id=\"users\"><legend>Sign in as</legend>\n",
        escape(view.issuer_name),
        escape(view.pending_id),
        escape(view.csrf),
    ));
    for (i, user) in view.users.iter().enumerate() {
        let checked = if user == view.preselected {
            " checked"
        } else {
            ""
        };
        body.push_str(&format!(
            "<div><label><input type=\"radio\" name=\"subject\" id=\"user-{i}\" value=\"{u}\"{checked}> {u}</label></div>\n",
            u = escape(user),
        ));
    }
    body.push_str(&format!(
        "<div><label>or another user (overrides the choice above): \
         <input type=\"text\" name=\"other_subject\" id=\"other-subject\" maxlength=\"{}\" autocomplete=\"off\"></label></div>\n\
         </fieldset>\n\
         <div class=\"buttons\">\
         <button class=\"approve\" id=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
         <button class=\"deny\" id=\"deny\" type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
         </div>\n</form>",
        crate::config::MAX_SUBJECT_LEN
    ));
    document(
        &format!("Authorize {} - mock-provider", view.client_name),
        &body,
    )
}

/// The path the consent cookies are scoped to: the issuer's authorization
/// endpoint and the consent endpoint under it, nothing else.
fn cookie_path(issuer: &Issuer) -> String {
    format!("/{}/authorize", issuer.name())
}

/// Keeps the validated request and answers with the consent page, setting
/// the CSRF cookie.
pub(crate) fn show(
    provider: &ProviderState,
    issuer: &Issuer,
    client: &RegisteredClient,
    code: CodeGrant,
    redirect_uri: String,
    state: Option<String>,
) -> Response {
    let policy = provider.consent_policy(issuer.name());
    let ttl = policy.map(|p| p.pending_ttl()).unwrap_or_else(|| {
        std::time::Duration::from_secs(crate::config::consent_mode::DEFAULT_CONSENT_TTL_SECS)
    });
    let mut users = policy.map(|p| p.offered_users()).unwrap_or_default();
    let preselected = code.grant.subject.clone();
    if !users.contains(&preselected) {
        // A `login_hint` the configuration does not list: offered first.
        users.insert(0, preselected.clone());
    }
    let scopes: Vec<String> = code.grant.scope.iter().map(str::to_owned).collect();
    let resources = code.grant.resources.clone();
    let pending = PendingAuthorization {
        issuer: issuer.name().to_owned(),
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        state,
        code,
    };
    let ticket = provider.pending().insert(pending, ttl);
    let view = ConsentView {
        issuer_url: issuer.url(),
        issuer_name: issuer.name(),
        client_name: client
            .client_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(&client.client_id),
        client_id: &client.client_id,
        client_origin: client.origin,
        redirect_uri: &redirect_uri,
        scopes: scopes.iter().map(String::as_str).collect(),
        resources: &resources,
        default_audience: &issuer.settings().default_audience,
        users,
        preselected: &preselected,
        pending_id: ticket.id.expose(),
        csrf: ticket.csrf.expose(),
    };
    // The form may submit to this server only, and the answer to it may
    // redirect to the client's redirect URI only (browsers apply
    // `form-action` to the redirect after a submission).
    let redirect_origin = Url::parse(&redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .ok()
        .filter(|o| o != "null")
        .unwrap_or_default();
    let mut response = page_response(
        StatusCode::OK,
        render(&view),
        &format!("'self' {redirect_origin}"),
    );
    if let Some(cookie) = csrf_token::set_cookie(
        &csrf_token::consent_cookie_name(ticket.id.expose()),
        ticket.csrf.expose(),
        &cookie_path(issuer),
        ttl.as_secs().max(1),
        provider.is_https(),
    ) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    tracing::info!(
        issuer = issuer.name(),
        client_id = %client.client_id,
        "consent page shown"
    );
    response
}

/// Why a consent form post was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentRefusal {
    /// The form itself is unusable (missing id, unknown decision...).
    #[error("{0}")]
    BadForm(String),
    /// The pending request cannot be decided.
    #[error(transparent)]
    Pending(#[from] PendingError),
    /// The post came from another site.
    #[error(transparent)]
    CrossSite(CsrfError),
}

impl ConsentRefusal {
    /// 403 for CSRF failures (the request is forged or from the wrong
    /// browser), 400 for everything else.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::CrossSite(_) | Self::Pending(PendingError::Csrf(_)) => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for ConsentRefusal {
    fn into_response(self) -> Response {
        refusal_page(self.status(), "Consent form refused", &self.to_string())
    }
}

/// A decision the form can make.
enum Decision {
    Approve { subject: String },
    Deny,
}

/// Reads the decision and the chosen user. Done before the pending request
/// is taken, so a form the person can fix does not use it up.
fn decision(params: &RequestParams) -> Result<Decision, ConsentRefusal> {
    let bad = |e: OAuthError| ConsentRefusal::BadForm(e.description().to_owned());
    match params.required("decision").map_err(bad)? {
        "deny" => Ok(Decision::Deny),
        "approve" => {
            let typed = params
                .single("other_subject")
                .map_err(bad)?
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let subject = typed
                .or(params.single("subject").map_err(bad)?)
                .ok_or_else(|| {
                    ConsentRefusal::BadForm("choose a user to sign in as, or type one".into())
                })?;
            check_subject(subject)
                .map_err(|reason| ConsentRefusal::BadForm(format!("the user {reason}")))?;
            Ok(Decision::Approve {
                subject: subject.to_owned(),
            })
        }
        other => Err(ConsentRefusal::BadForm(format!(
            "decision `{other}` is neither `approve` nor `deny`"
        ))),
    }
}

/// `POST /{issuer}/authorize/consent`
pub async fn consent_handler(
    State(provider): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Fault rules for `authorize` were applied to the authorization request
    // that led here; the decision itself is not faulted, only recorded.
    let mut ex = match Exchange::start(provider.clone(), &name, Endpoint::Authorize) {
        Ok(ex) => ex,
        Err(not_found) => return not_found,
    };
    let issuer = ex.issuer.clone();
    let response = match decide(&provider, &issuer, &headers, body).await {
        Ok((response, pending, record)) => {
            ex.draft.client_id = Some(pending.client_id);
            if record.decision == ConsentDecision::Denied {
                ex.draft.outcome = Some(ErrorCode::AccessDenied.as_str().to_owned());
            }
            ex.draft.consent = Some(record);
            response
        }
        Err(refusal) => {
            tracing::info!(issuer = issuer.name(), reason = %refusal, "consent form refused");
            refusal.into_response()
        }
    };
    ex.finish(response)
}

async fn decide(
    provider: &ProviderState,
    issuer: &Issuer,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Response, PendingAuthorization, ConsentRecord), ConsentRefusal> {
    // RFC 6749 10.12 / RFC 9700 4.7 (CSRF): a browser's word that the post
    // came from another site is enough to refuse it.
    csrf_token::check_same_origin(headers, provider.scheme()).map_err(ConsentRefusal::CrossSite)?;
    let bad = |e: OAuthError| ConsentRefusal::BadForm(e.description().to_owned());
    let params = RequestParams::from_form_body(headers, body)
        .await
        .map_err(bad)?;
    params.reject_duplicates().map_err(bad)?;
    let pending_id = params
        .single("pending")
        .map_err(bad)?
        .ok_or_else(|| ConsentRefusal::BadForm("the form carries no consent request id".into()))?;
    let decision = decision(&params)?;
    let cookie_name = csrf_token::consent_cookie_name(pending_id);
    // RFC 6749 10.12: the token in the form must be the one issued with
    // this page, and the cookie must show the same browser loaded it. The
    // pending request is single use and holds everything that was
    // validated, so nothing in this form can change client_id,
    // redirect_uri, scope or PKCE (RFC 9700 4.7).
    let presented = PresentedCsrf {
        form: params.single("csrf").map_err(bad)?,
        cookie: csrf_token::cookie_value(headers, &cookie_name),
    };
    let pending = provider
        .pending()
        .redeem(pending_id, issuer.name(), &presented)?;
    let (mut response, record) = match decision {
        Decision::Approve { subject } => {
            let mut code = pending.code.clone();
            code.grant.subject = subject.clone();
            code.grant.auth_time = now();
            tracing::info!(issuer = issuer.name(), client_id = %pending.client_id, subject = %subject, "consent approved");
            (
                issue_code(
                    issuer,
                    code,
                    &pending.redirect_uri,
                    pending.state.as_deref(),
                ),
                ConsentRecord {
                    decision: ConsentDecision::Approved,
                    subject: Some(subject),
                },
            )
        }
        Decision::Deny => {
            tracing::info!(issuer = issuer.name(), client_id = %pending.client_id, "consent denied");
            // RFC 6749 4.1.2.1: "access_denied: The resource owner or
            // authorization server denied the request", with state and iss.
            let error = OAuthError::new(
                ErrorCode::AccessDenied,
                "the user denied the authorization request",
            );
            (
                redirect_error(
                    issuer,
                    &pending.redirect_uri,
                    pending.state.as_deref(),
                    &error,
                ),
                ConsentRecord {
                    decision: ConsentDecision::Denied,
                    subject: None,
                },
            )
        }
    };
    if let Some(clear) =
        csrf_token::clear_cookie(&cookie_name, &cookie_path(issuer), provider.is_https())
    {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    Ok((response, pending, record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_escaped() {
        let resources = vec!["https://r.example/?a=1&b=<2>".to_owned()];
        let html = render(&ConsentView {
            issuer_url: "http://127.0.0.1/i",
            issuer_name: "i",
            client_name: "<script>alert(1)</script>",
            client_id: "c\"id",
            client_origin: ClientOrigin::DynamicRegistration,
            redirect_uri: "http://127.0.0.1/cb?x='y'",
            scopes: vec!["mcp:tools"],
            resources: &resources,
            default_audience: "http://127.0.0.1/i/api",
            users: vec!["alice".into(), "<b>bob</b>".into()],
            preselected: "alice",
            pending_id: "p",
            csrf: "t",
        });
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("c&quot;id"));
        assert!(html.contains("&lt;b&gt;bob&lt;/b&gt;"));
        assert!(html.contains("a=1&amp;b=&lt;2&gt;"));
        assert!(html.contains("value=\"alice\" checked"));
    }
}
