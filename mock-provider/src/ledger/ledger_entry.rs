//! What the ledger says of one answered request ([`LedgerEntry`]), what a
//! handler notes while it works ([`LedgerDraft`]), how a query narrows
//! ([`LedgerFilter`]) and the per-client counters. The public, serialized
//! side of [`crate::ledger`]; its storage is [`crate::ledger::ledger_storage`].

use serde::{Deserialize, Serialize};

use crate::clients::client_registry::{AuthMethod, GrantType};
use crate::faults::fault_plan::Endpoint;
use crate::protocol::fingerprint::Fingerprint;

/// What the mock upstream API saw in a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamObservation {
    /// Fingerprint of the bearer token presented, if any.
    pub token: Option<Fingerprint>,
    /// The token's `iss`, when it was a readable JWT.
    pub token_issuer: Option<String>,
    /// Its `aud` values.
    pub token_audience: Vec<String>,
    /// Its `client_id`.
    pub token_client_id: Option<String>,
    /// Its `sub`.
    pub token_subject: Option<String>,
    /// Why it was refused, if it was.
    pub refused_because: Option<String>,
    /// The request path under the API.
    pub path: String,
}

/// What a person decided on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentDecision {
    /// The consent page was shown; nothing decided yet.
    Shown,
    /// Approved: a code was issued for `subject`.
    Approved,
    /// Denied: `access_denied` went to the client.
    Denied,
}

/// The consent page's part in a request: the decision and the user it was
/// made for. No secrets: pending ids, CSRF tokens and codes stay out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// What happened.
    pub decision: ConsentDecision,
    /// The user chosen (approvals), or preselected (shown pages).
    pub subject: Option<String>,
}

/// One answered request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Position in the ledger, from 1.
    pub seq: u64,
    /// When it arrived, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The issuer.
    pub issuer: String,
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The client, when known (authenticated or claimed).
    pub client_id: Option<String>,
    /// How the request authenticated its client, by its shape (HTTP Basic,
    /// `client_secret` in the form, `client_id` alone), whether or not it
    /// succeeded: what tells "used client_secret_post, registered for
    /// client_secret_basic" apart from a wrong secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<AuthMethod>,
    /// The grant type, at the token endpoint.
    pub grant_type: Option<GrantType>,
    /// HTTP status answered.
    pub status: u16,
    /// `ok`, the OAuth error code, or `http_{status}`.
    pub outcome: String,
    /// The token family involved.
    pub family: Option<u64>,
    /// Fingerprint of the refresh token presented.
    pub refresh_token: Option<Fingerprint>,
    /// Fingerprint of the refresh token issued.
    pub issued_refresh_token: Option<Fingerprint>,
    /// Whether this request presented a consumed refresh token.
    pub reuse_detected: bool,
    /// At the token and authorization endpoints: the `resource` values
    /// (RFC 8707) the request carried, as sent (also when refused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    /// At the token endpoint: the `aud` of the access token issued, as the
    /// token carries it (after any `token_override`); empty when none was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// The fault rules that fired, as `kind#id`.
    pub faults: Vec<String>,
    /// Whether the request reached the endpoint's own logic. `false` when
    /// an injected error fault (`oauth_error`, `http_status`,
    /// `too_many_requests`) answered before it: nothing was issued or
    /// consumed, so a refresh token presented here is still as it was.
    /// Entries from before the field existed were all processed.
    #[serde(default = "processed_by_default")]
    pub processed: bool,
    /// Time to answer, milliseconds.
    pub latency_ms: f64,
    /// For the upstream API: what the token was.
    pub upstream: Option<UpstreamObservation>,
    /// At the authorization endpoint with interactive consent: the page
    /// shown or the decision made on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentRecord>,
    /// At the metadata endpoint: which well-known location was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoveryForm>,
    /// At the authorization endpoint: the length of the `state` the
    /// request carried (never its value); absent when it carried none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_length: Option<usize>,
    /// The `scope` the request asked for, as sent; absent when it asked
    /// for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scope: Option<String>,
    /// The scope granted: of the code (authorization endpoint) or of the
    /// access token (token endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_scope: Option<String>,
    /// The `redirect_uri` the request carried, as sent (cut, with a
    /// fingerprint, when long).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// At the authorization endpoint: the `response_mode` asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_mode: Option<String>,
}

/// Which well-known location a metadata request used. RFC 8414 3.1 puts
/// the suffix before the issuer's path; the MCP authorization spec
/// (2025-11-25) has clients try that, then OpenID discovery with the
/// suffix inserted, then appended. The appended RFC 8414 form is a common
/// client mistake, served unless the issuer is strict about discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryForm {
    /// `/.well-known/oauth-authorization-server/{issuer}` (RFC 8414 3.1).
    OauthPathInserted,
    /// `/.well-known/openid-configuration/{issuer}`.
    OpenidPathInserted,
    /// `/{issuer}/.well-known/openid-configuration` (OpenID Connect
    /// Discovery 1.0 4).
    OpenidPathAppended,
    /// `/{issuer}/.well-known/oauth-authorization-server`: no spec's form.
    OauthPathAppended,
}

impl DiscoveryForm {
    /// Whether RFC 8414 or the MCP authorization spec names this location.
    pub fn is_specified(self) -> bool {
        self != Self::OauthPathAppended
    }
}

fn processed_by_default() -> bool {
    true
}

/// What a handler learns while it works; becomes a [`LedgerEntry`].
#[derive(Debug, Clone, Default)]
pub struct LedgerDraft {
    /// The client.
    pub client_id: Option<String>,
    /// The client authentication the request presented.
    pub client_auth: Option<AuthMethod>,
    /// The grant type.
    pub grant_type: Option<GrantType>,
    /// The family.
    pub family: Option<u64>,
    /// Presented refresh token fingerprint.
    pub refresh_token: Option<Fingerprint>,
    /// Issued refresh token fingerprint.
    pub issued_refresh_token: Option<Fingerprint>,
    /// Reuse seen.
    pub reuse_detected: bool,
    /// `resource` values asked for.
    pub resource: Vec<String>,
    /// `aud` of the access token issued.
    pub audience: Vec<String>,
    /// Faults fired.
    pub faults: Vec<String>,
    /// An injected error fault answered in place of the endpoint's logic.
    pub answered_by_fault: bool,
    /// Outcome, if the handler knows better than the status.
    pub outcome: Option<String>,
    /// Upstream observation.
    pub upstream: Option<UpstreamObservation>,
    /// Consent page shown or decided.
    pub consent: Option<ConsentRecord>,
    /// The well-known location asked.
    pub discovery: Option<DiscoveryForm>,
    /// Length of the `state` sent.
    pub state_length: Option<usize>,
    /// `scope` asked for.
    pub requested_scope: Option<String>,
    /// Scope granted.
    pub granted_scope: Option<String>,
    /// `redirect_uri` as sent.
    pub redirect_uri: Option<String>,
    /// `response_mode` asked for.
    pub response_mode: Option<String>,
}

/// Which entries a query wants. Every field narrows; none means all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerFilter {
    /// Only this issuer.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Only this endpoint.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// Only this client.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Only this grant type.
    #[serde(default)]
    pub grant_type: Option<GrantType>,
    /// Only this outcome (`ok`, an error code, `http_503`...).
    #[serde(default)]
    pub outcome: Option<String>,
    /// Only entries that asked for this `resource`.
    #[serde(default)]
    pub resource: Option<String>,
    /// Only entries that issued an access token with this audience.
    #[serde(default)]
    pub audience: Option<String>,
    /// Only entries with `seq` greater than this.
    #[serde(default)]
    pub after_seq: Option<u64>,
    /// At most this many (the latest ones).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Narrowing a filter one field at a time:
/// `LedgerFilter::at(Endpoint::Token).client("app").outcome("ok")`.
impl LedgerFilter {
    /// Entries of this endpoint.
    pub fn at(endpoint: Endpoint) -> Self {
        Self {
            endpoint: Some(endpoint),
            ..Self::default()
        }
    }

    /// Only at this issuer.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    /// Only this client.
    pub fn client(mut self, client_id: &str) -> Self {
        self.client_id = Some(client_id.to_owned());
        self
    }

    /// Only this grant type.
    pub fn grant_type(mut self, grant: GrantType) -> Self {
        self.grant_type = Some(grant);
        self
    }

    /// Only this outcome (`ok`, an error code, `http_503`...).
    pub fn outcome(mut self, outcome: &str) -> Self {
        self.outcome = Some(outcome.to_owned());
        self
    }
}

/// Counters of one client at one issuer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCounters {
    /// Requests seen.
    pub requests: u64,
    /// refresh_token grant requests.
    pub refresh_requests: u64,
    /// Successful refresh_token grants.
    pub refresh_grants: u64,
    /// Requests that presented a consumed refresh token.
    pub reuse_detected: u64,
    /// `invalid_grant` answers.
    pub invalid_grant: u64,
    /// Upstream API requests with a token of this client.
    pub upstream_requests: u64,
}
