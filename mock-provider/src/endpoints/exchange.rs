//! One request/response exchange with an issuer's endpoint: the fault plan
//! is asked what to do (latency is served here), injected responses are
//! built, and the ledger entry is written when the answer leaves.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::clients::client_registry::GrantType;
use crate::endpoints::client_auth;
use crate::faults::fault_plan::{AppliedFaults, Endpoint, RequestFacts, ResponseFault};
use crate::issuer::Issuer;
use crate::ledger::LedgerDraft;
use crate::protocol::oauth_error::OAuthError;
use crate::protocol::request_params::RequestParams;
use crate::protocol::secret::TokenHash;
use crate::provider_state::ProviderState;

/// A request being answered.
pub struct Exchange {
    state: Arc<ProviderState>,
    /// The issuer.
    pub issuer: Arc<Issuer>,
    endpoint: Endpoint,
    arrived: SystemTime,
    started: Instant,
    /// What the ledger will say.
    pub draft: LedgerDraft,
}

impl Exchange {
    /// Starts an exchange.
    pub fn begin(state: Arc<ProviderState>, issuer: Arc<Issuer>, endpoint: Endpoint) -> Self {
        Self {
            state,
            issuer,
            endpoint,
            arrived: SystemTime::now(),
            started: Instant::now(),
            draft: LedgerDraft::default(),
        }
    }

    /// Starts an exchange with the issuer named in the path, or answers
    /// the 404 for an unknown one.
    #[allow(clippy::result_large_err)]
    pub fn start(
        state: Arc<ProviderState>,
        issuer: &str,
        endpoint: Endpoint,
    ) -> Result<Self, Response> {
        let issuer = state.issuer(issuer)?;
        Ok(Self::begin(state, issuer, endpoint))
    }

    /// The provider state.
    pub fn state(&self) -> &Arc<ProviderState> {
        &self.state
    }

    /// Asks the fault plan about this request (with what is known of its
    /// client and grant type) and serves the latency it decides.
    pub async fn faults(&mut self) -> AppliedFaults {
        let mut facts = RequestFacts::new(self.endpoint, self.issuer.name());
        facts.client_id = self.draft.client_id.clone();
        facts.grant_type = self.draft.grant_type;
        let applied = self.state.faults().evaluate(&facts);
        self.draft.faults = applied.names();
        if !applied.latency.is_zero() {
            tokio::time::sleep(applied.latency).await;
        }
        applied
    }

    /// Reads a form body, noting the client it claims to be and its grant
    /// type (what the fault plan matches on, before authentication runs)
    /// and, at the token endpoint, the `resource` values and the presented
    /// refresh token's fingerprint.
    pub async fn read_form(
        &mut self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<RequestParams, OAuthError> {
        let params = RequestParams::from_form_body(headers, body).await?;
        self.draft.client_id = client_auth::claimed_client_id(headers, &params);
        self.draft.client_auth = client_auth::presented_auth_method(headers, &params);
        self.draft.grant_type = params
            .single("grant_type")
            .ok()
            .flatten()
            .and_then(|g| g.parse().ok());
        // Noted now, not when the grant runs: a fault may answer before it
        // does, and a client retrying with a stale token must still show.
        if self.endpoint == Endpoint::Token {
            let single = |name| params.single(name).ok().flatten().map(str::to_owned);
            self.draft.requested_scope = single("scope");
            self.draft.redirect_uri = single("redirect_uri");
            self.draft.resource = params
                .all("resource")
                .into_iter()
                .map(str::to_owned)
                .collect();
            if self.draft.grant_type == Some(GrantType::RefreshToken) {
                self.draft.refresh_token = params
                    .single("refresh_token")
                    .ok()
                    .flatten()
                    .map(|t| TokenHash::of(t).fingerprint());
            }
        }
        Ok(params)
    }

    /// Runs the fault plan, then `process` unless an error fault replaces
    /// it, applies body faults to what `process` answered, and records the
    /// ledger entry.
    pub async fn answer(
        mut self,
        process: impl AsyncFnOnce(&mut Exchange, &AppliedFaults) -> Result<Response, OAuthError>,
    ) -> Response {
        let applied = self.faults().await;
        let response = match applied.response.as_ref() {
            Some(fault) if replaces_processing(fault) => {
                self.draft.outcome = Some(fault_outcome(fault));
                self.draft.answered_by_fault = true;
                error_response(fault, self.endpoint)
            }
            body_fault => match process(&mut self, &applied).await {
                Ok(r) => match body_fault {
                    Some(fault) => mangle(r, fault),
                    None => r,
                },
                Err(e) => {
                    tracing::info!(issuer = self.issuer.name(), endpoint = %self.endpoint, error = %e.code(), description = e.description(), "request refused");
                    self.fail(e)
                }
            },
        };
        self.finish(response)
    }

    /// Answers with an OAuth error (recorded as its code).
    pub fn fail(&mut self, error: OAuthError) -> Response {
        self.draft.outcome = Some(error.code().as_str().to_owned());
        error.into_response()
    }

    /// Writes the ledger entry and lets the response go.
    pub fn finish(self, response: Response) -> Response {
        self.state.ledger().record(
            self.issuer.name(),
            self.endpoint,
            self.arrived,
            self.started.elapsed(),
            response.status().as_u16(),
            self.draft,
        );
        response
    }
}

/// Marks an answer that carries tokens or secrets as not to be cached
/// (RFC 6749 5.1).
pub fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The ledger outcome of an injected error.
pub fn fault_outcome(fault: &ResponseFault) -> String {
    match fault {
        ResponseFault::OauthError { error, .. } => error.as_str().to_owned(),
        ResponseFault::Status { status, .. } => format!("http_{status}"),
        _ => "ok".to_owned(),
    }
}

/// Whether a response fault replaces the answer before the request is
/// processed (errors: nothing happened) rather than after (a mangled body:
/// the grant happened, the client never sees it right).
pub fn replaces_processing(fault: &ResponseFault) -> bool {
    matches!(
        fault,
        ResponseFault::OauthError { .. } | ResponseFault::Status { .. }
    )
}

/// The answer for an error fault.
pub fn error_response(fault: &ResponseFault, endpoint: Endpoint) -> Response {
    match fault {
        ResponseFault::OauthError {
            error,
            description,
            status,
        } => {
            let mut e = OAuthError::new(*error, description.clone());
            if let Some(s) = status.and_then(|s| StatusCode::from_u16(s).ok()) {
                e = e.with_status(s);
            }
            // RFC 9110 15.5.2: a 401 carries a challenge; RFC 6749 5.2 names
            // Basic for client authentication, RFC 6750 3 Bearer for APIs.
            if e.status() == 401 {
                e = e.with_www_authenticate(if endpoint == Endpoint::Upstream {
                    format!("Bearer error=\"{}\"", error.as_str())
                } else {
                    "Basic realm=\"mock-provider\"".to_owned()
                });
            }
            e.into_response()
        }
        ResponseFault::Status {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = (status, "injected fault").into_response();
            if let Some(secs) = retry_after_secs {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            if status == StatusCode::UNAUTHORIZED && endpoint == Endpoint::Upstream {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer error=\"invalid_token\", error_description=\"injected fault\"",
                    ),
                );
            }
            r
        }
        other => mangle(StatusCode::OK.into_response(), other),
    }
}

/// Applies a body fault to a real answer.
pub fn mangle(mut response: Response, fault: &ResponseFault) -> Response {
    let json = HeaderValue::from_static("application/json");
    match fault {
        ResponseFault::MalformedJson => {
            response.headers_mut().insert(header::CONTENT_TYPE, json);
            response.headers_mut().remove(header::CONTENT_LENGTH);
            *response.body_mut() = Body::from("{\"access_token\": \"eyJ");
            response
        }
        ResponseFault::EmptyBody => {
            response.headers_mut().insert(header::CONTENT_TYPE, json);
            response.headers_mut().remove(header::CONTENT_LENGTH);
            *response.body_mut() = Body::empty();
            response
        }
        ResponseFault::WrongContentType => {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        _ => response,
    }
}
