//! The ledger: one entry per request the provider answered (time, issuer,
//! endpoint, client, grant, outcome, token family, fingerprints of the
//! tokens involved, reuse detection, faults applied, latency) and, for the
//! mock upstream API, what the presented token was, and for the consent
//! page, the decision and the user. Queryable with filters,
//! with counters per client. Token values never enter it, only
//! fingerprints.
//!
//! Entries are kept compact (shared strings, six-byte fingerprints, rare
//! parts boxed) because the ledger holds up to [`LEDGER_CAPACITY`] of them
//! and is most of the provider's memory under load; a query builds the
//! public [`LedgerEntry`] from them, so what callers and the admin API's
//! JSON see does not depend on the storage.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::client_registry::{AuthMethod, GrantType};
use crate::fault_plan::Endpoint;
use crate::limits::ledger_value;

/// How many entries are kept; older ones are dropped first.
pub const LEDGER_CAPACITY: usize = 100_000;

/// What the mock upstream API saw in a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamObservation {
    /// Fingerprint of the bearer token presented, if any.
    pub token: Option<String>,
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
    pub refresh_token: Option<String>,
    /// Fingerprint of the refresh token issued.
    pub issued_refresh_token: Option<String>,
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
    /// fingerprint, when long: [`crate::limits::ledger_value`]).
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
    pub refresh_token: Option<String>,
    /// Issued refresh token fingerprint.
    pub issued_refresh_token: Option<String>,
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

impl LedgerFilter {
    fn accepts(&self, seq: u64, e: &StoredEntry) -> bool {
        let listed = |list: &Option<Arc<[String]>>, want: &String| {
            list.as_deref().is_some_and(|l| l.contains(want))
        };
        self.issuer.as_deref().is_none_or(|i| i == &*e.issuer)
            && self.endpoint.is_none_or(|x| x == e.endpoint)
            && self
                .client_id
                .as_deref()
                .is_none_or(|c| Some(c) == e.client_id.as_deref())
            && self.grant_type.is_none_or(|g| Some(g) == e.grant_type)
            && self.outcome.as_deref().is_none_or(|o| o == &*e.outcome)
            && self
                .resource
                .as_ref()
                .is_none_or(|r| listed(&e.resource, r))
            && self
                .audience
                .as_ref()
                .is_none_or(|a| listed(&e.audience, a))
            && self.after_seq.is_none_or(|s| seq > s)
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

/// The ledger.
#[derive(Debug, Default)]
pub struct Ledger {
    inner: Mutex<LedgerState>,
}

/// The entries, compact: up to [`LEDGER_CAPACITY`] of them are kept, so an
/// entry's size is most of the provider's memory under load (a
/// `LedgerEntry` with its `String`s took about 0.5 KiB and three
/// allocations; a [`StoredEntry`] takes 128 bytes and none for a plain
/// token request). Entries are materialised as [`LedgerEntry`] only when
/// queried, so the JSON is unchanged.
#[derive(Debug, Default)]
struct LedgerState {
    next_seq: u64,
    /// Consecutive: the last one has `next_seq`, so an entry's `seq`
    /// follows from its position and is not stored.
    entries: VecDeque<StoredEntry>,
    shared: Interner,
}

impl LedgerState {
    /// The `seq` of `entries[0]`.
    fn first_seq(&self) -> u64 {
        self.next_seq + 1 - self.entries.len() as u64
    }
}

/// One entry as kept. The strings entries repeat (issuer, client, outcome,
/// fault, resource and audience lists) are shared through the
/// [`Interner`]; what only some requests have lives in [`Details`].
#[derive(Debug)]
struct StoredEntry {
    time_ms: u64,
    latency_ms: f64,
    issuer: Arc<str>,
    client_id: Option<Arc<str>>,
    outcome: Arc<str>,
    resource: Option<Arc<[String]>>,
    audience: Option<Arc<[String]>>,
    faults: Option<Arc<[String]>>,
    details: Option<Box<Details>>,
    status: u16,
    endpoint: Endpoint,
    grant_type: Option<GrantType>,
    client_auth: Option<AuthMethod>,
    reuse_detected: bool,
    processed: bool,
}

/// The parts of an entry most requests lack (a `client_credentials` grant
/// or a JWKS fetch has none of them): boxed, so they cost a pointer when
/// absent.
#[derive(Debug)]
struct Details {
    family: Option<u64>,
    refresh_token: Option<StoredFingerprint>,
    issued_refresh_token: Option<StoredFingerprint>,
    upstream: Option<UpstreamObservation>,
    consent: Option<ConsentRecord>,
    discovery: Option<DiscoveryForm>,
    state_length: Option<usize>,
    requested_scope: Option<Box<str>>,
    granted_scope: Option<Box<str>>,
    redirect_uri: Option<Box<str>>,
    response_mode: Option<Box<str>>,
}

/// A refresh token fingerprint as kept: the six bytes behind `sha256:` and
/// 12 lower-case hex digits (what [`crate::secret::TokenHash::fingerprint`]
/// makes), rendered back to the same text. Any other text is kept as it
/// came, so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StoredFingerprint {
    Sha256([u8; 6]),
    Text(Box<str>),
}

impl StoredFingerprint {
    fn new(text: String) -> Self {
        Self::parse(&text).unwrap_or_else(|| Self::Text(text.into_boxed_str()))
    }

    fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix("sha256:")?.as_bytes();
        // Lower case only: anything else would not render back the same.
        if hex.len() != 12 || !hex.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let digit = |c: u8| if c <= b'9' { c - b'0' } else { c - b'a' + 10 };
        let mut bytes = [0u8; 6];
        for (b, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            *b = digit(pair[0]) << 4 | digit(pair[1]);
        }
        Some(Self::Sha256(bytes))
    }

    fn render(&self) -> String {
        match self {
            Self::Sha256(bytes) => {
                let mut s = String::with_capacity("sha256:".len() + 12);
                s.push_str("sha256:");
                for b in bytes {
                    let _ = write!(s, "{b:02x}");
                }
                s
            }
            Self::Text(text) => text.to_string(),
        }
    }
}

/// One copy of each string (and list of strings) the entries share: a
/// client making 20,000 requests is one `Arc<str>`, not 20,000 `String`s.
/// Values no entry refers to any more are dropped in sweeps, run when the
/// sets have doubled since the last one, so the cost per entry stays
/// constant and a stream of distinct (claimed) client ids cannot pile up
/// beyond what the entries hold.
#[derive(Debug, Default)]
struct Interner {
    strings: HashSet<Arc<str>>,
    lists: HashSet<Arc<[String]>>,
    size_after_sweep: usize,
}

impl Interner {
    /// Below this many values, no sweep: not worth it.
    const SWEEP_FLOOR: usize = 256;

    fn str(&mut self, s: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(s) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(s);
        self.strings.insert(shared.clone());
        shared
    }

    /// `None` for an empty list.
    fn list(&mut self, list: Vec<String>) -> Option<Arc<[String]>> {
        if list.is_empty() {
            return None;
        }
        if let Some(shared) = self.lists.get(list.as_slice()) {
            return Some(shared.clone());
        }
        let shared: Arc<[String]> = Arc::from(list);
        self.lists.insert(shared.clone());
        Some(shared)
    }

    fn sweep_if_grown(&mut self) {
        let size = self.strings.len() + self.lists.len();
        if size > Self::SWEEP_FLOOR.max(2 * self.size_after_sweep) {
            self.sweep();
        }
    }

    /// Drops what only the interner still holds. The ledger's lock is
    /// held, and no `Arc` leaves it (queries copy), so a count of 1 is
    /// final.
    fn sweep(&mut self) {
        self.strings.retain(|s| Arc::strong_count(s) > 1);
        self.lists.retain(|l| Arc::strong_count(l) > 1);
        self.size_after_sweep = self.strings.len() + self.lists.len();
    }
}

/// A shared list as a `Vec` (empty for none).
fn owned(list: &Option<Arc<[String]>>) -> Vec<String> {
    list.as_deref().map(<[String]>::to_vec).unwrap_or_default()
}

impl StoredEntry {
    fn to_entry(&self, seq: u64) -> LedgerEntry {
        let details = self.details.as_deref();
        let fingerprint = |f: Option<&StoredFingerprint>| f.map(StoredFingerprint::render);
        LedgerEntry {
            seq,
            time_ms: self.time_ms,
            issuer: self.issuer.to_string(),
            endpoint: self.endpoint,
            client_id: self.client_id.as_deref().map(str::to_owned),
            client_auth: self.client_auth,
            grant_type: self.grant_type,
            status: self.status,
            outcome: self.outcome.to_string(),
            family: details.and_then(|d| d.family),
            refresh_token: fingerprint(details.and_then(|d| d.refresh_token.as_ref())),
            issued_refresh_token: fingerprint(
                details.and_then(|d| d.issued_refresh_token.as_ref()),
            ),
            reuse_detected: self.reuse_detected,
            resource: owned(&self.resource),
            audience: owned(&self.audience),
            faults: owned(&self.faults),
            processed: self.processed,
            latency_ms: self.latency_ms,
            upstream: details.and_then(|d| d.upstream.clone()),
            consent: details.and_then(|d| d.consent.clone()),
            discovery: details.and_then(|d| d.discovery),
            state_length: details.and_then(|d| d.state_length),
            requested_scope: details.and_then(|d| d.requested_scope.as_deref().map(str::to_owned)),
            granted_scope: details.and_then(|d| d.granted_scope.as_deref().map(str::to_owned)),
            redirect_uri: details.and_then(|d| d.redirect_uri.as_deref().map(str::to_owned)),
            response_mode: details.and_then(|d| d.response_mode.as_deref().map(str::to_owned)),
        }
    }

    /// The client the entry counts for: the one known, or at the upstream
    /// API the one the token was issued to.
    fn counted_client(&self) -> Option<&str> {
        self.client_id.as_deref().or_else(|| {
            self.details
                .as_ref()?
                .upstream
                .as_ref()?
                .token_client_id
                .as_deref()
        })
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Ledger {
    fn lock(&self) -> std::sync::MutexGuard<'_, LedgerState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an answered request.
    pub fn record(
        &self,
        issuer: &str,
        endpoint: Endpoint,
        arrived: SystemTime,
        latency: Duration,
        status: u16,
        draft: LedgerDraft,
    ) -> u64 {
        let LedgerDraft {
            client_id,
            client_auth,
            grant_type,
            family,
            refresh_token,
            issued_refresh_token,
            reuse_detected,
            resource,
            audience,
            faults,
            answered_by_fault,
            outcome,
            upstream,
            consent,
            discovery,
            state_length,
            requested_scope,
            granted_scope,
            redirect_uri,
            response_mode,
        } = draft;
        // Bounded in bytes: what a client sent is kept whole only when short.
        let bounded = |v: Option<String>| v.map(|v| ledger_value(&v).into_boxed_str());
        let client_id = client_id.map(|c| ledger_value(&c));
        let resource: Vec<String> = resource.iter().map(|r| ledger_value(r)).collect();
        let outcome = outcome.map(Cow::Owned).unwrap_or_else(|| {
            if status < 400 {
                Cow::Borrowed("ok")
            } else {
                Cow::Owned(format!("http_{status}"))
            }
        });
        let has_details = family.is_some()
            || refresh_token.is_some()
            || issued_refresh_token.is_some()
            || upstream.is_some()
            || consent.is_some()
            || discovery.is_some()
            || state_length.is_some()
            || requested_scope.is_some()
            || granted_scope.is_some()
            || redirect_uri.is_some()
            || response_mode.is_some();
        let details = has_details.then(|| {
            Box::new(Details {
                family,
                refresh_token: refresh_token.map(StoredFingerprint::new),
                issued_refresh_token: issued_refresh_token.map(StoredFingerprint::new),
                upstream,
                consent,
                discovery,
                state_length,
                requested_scope: bounded(requested_scope),
                granted_scope: bounded(granted_scope),
                redirect_uri: bounded(redirect_uri),
                response_mode: bounded(response_mode),
            })
        });
        let mut state = self.lock();
        let shared = &mut state.shared;
        let entry = StoredEntry {
            time_ms: unix_ms(arrived),
            latency_ms: latency.as_secs_f64() * 1000.0,
            issuer: shared.str(issuer),
            client_id: client_id.as_deref().map(|c| shared.str(c)),
            outcome: shared.str(&outcome),
            resource: shared.list(resource),
            audience: shared.list(audience),
            faults: shared.list(faults),
            details,
            status,
            endpoint,
            grant_type,
            client_auth,
            reuse_detected,
            processed: !answered_by_fault,
        };
        state.next_seq += 1;
        state.entries.push_back(entry);
        if state.entries.len() > LEDGER_CAPACITY {
            state.entries.pop_front();
        }
        state.shared.sweep_if_grown();
        state.next_seq
    }

    /// Entries matching `filter`, oldest first.
    pub fn query(&self, filter: &LedgerFilter) -> Vec<LedgerEntry> {
        let state = self.lock();
        let first = state.first_seq();
        // Entries are in `seq` order, one apart: skip straight past
        // `after_seq` (the refresh-race harness polls with it).
        let skip = filter
            .after_seq
            .map_or(0, |s| s.saturating_add(1).saturating_sub(first))
            .min(state.entries.len() as u64) as usize;
        let from = first + skip as u64;
        let candidates = state
            .entries
            .range(skip..)
            .enumerate()
            .map(|(i, e)| (e, from + i as u64))
            .filter(|(e, seq)| filter.accepts(*seq, e));
        // The latest `limit`, read from the end so that the rest are never
        // materialised.
        match filter.limit {
            Some(limit) => {
                let mut latest: Vec<LedgerEntry> = candidates
                    .rev()
                    .take(limit)
                    .map(|(e, seq)| e.to_entry(seq))
                    .collect();
                latest.reverse();
                latest
            }
            None => candidates.map(|(e, seq)| e.to_entry(seq)).collect(),
        }
    }

    /// Counters per issuer, then per client.
    pub fn counters(&self) -> BTreeMap<String, BTreeMap<String, ClientCounters>> {
        let state = self.lock();
        let mut out: BTreeMap<String, BTreeMap<String, ClientCounters>> = BTreeMap::new();
        for e in &state.entries {
            let Some(client) = e.counted_client() else {
                continue;
            };
            let c = out
                .entry(e.issuer.to_string())
                .or_default()
                .entry(client.to_owned())
                .or_default();
            c.requests += 1;
            if e.grant_type == Some(GrantType::RefreshToken) {
                c.refresh_requests += 1;
                if &*e.outcome == "ok" {
                    c.refresh_grants += 1;
                }
            }
            if e.reuse_detected {
                c.reuse_detected += 1;
            }
            if &*e.outcome == "invalid_grant" {
                c.invalid_grant += 1;
            }
            if e.endpoint == Endpoint::Upstream {
                c.upstream_requests += 1;
            }
        }
        out
    }

    /// Forgets everything (sequence numbers keep counting).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.shared.sweep();
    }

    /// The latest sequence number handed out.
    pub fn last_seq(&self) -> u64 {
        self.lock().next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(client: &str, grant: Option<GrantType>, outcome: &str) -> LedgerDraft {
        LedgerDraft {
            client_id: Some(client.to_owned()),
            grant_type: grant,
            outcome: Some(outcome.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn filters_and_counters() {
        let l = Ledger::default();
        let now = SystemTime::now();
        let d = Duration::from_millis(1);
        l.record(
            "default",
            Endpoint::Token,
            now,
            d,
            200,
            draft("a", Some(GrantType::RefreshToken), "ok"),
        );
        l.record(
            "default",
            Endpoint::Token,
            now,
            d,
            400,
            LedgerDraft {
                reuse_detected: true,
                ..draft("a", Some(GrantType::RefreshToken), "invalid_grant")
            },
        );
        l.record(
            "default",
            Endpoint::Token,
            now,
            d,
            200,
            draft("b", Some(GrantType::ClientCredentials), "ok"),
        );
        l.record("other", Endpoint::Jwks, now, d, 200, LedgerDraft::default());
        let a = l.query(&LedgerFilter {
            client_id: Some("a".into()),
            ..Default::default()
        });
        assert_eq!(a.len(), 2);
        let last = l.query(&LedgerFilter {
            limit: Some(1),
            ..Default::default()
        });
        assert_eq!(last[0].endpoint, Endpoint::Jwks);
        let after = l.query(&LedgerFilter {
            after_seq: Some(3),
            ..Default::default()
        });
        assert_eq!(after.len(), 1);
        let counters = l.counters();
        let ca = &counters["default"]["a"];
        assert_eq!(
            (
                ca.refresh_requests,
                ca.refresh_grants,
                ca.reuse_detected,
                ca.invalid_grant
            ),
            (2, 1, 1, 1)
        );
        assert_eq!(counters["default"]["b"].refresh_requests, 0);
    }

    /// Every field survives the compact storage, and the JSON the admin API
    /// sends is exactly this (key order included).
    #[test]
    fn an_entry_reads_back_in_full_with_the_same_json() {
        let l = Ledger::default();
        l.record(
            "default",
            Endpoint::Jwks,
            UNIX_EPOCH,
            Duration::ZERO,
            200,
            LedgerDraft::default(),
        );
        let arrived = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        l.record(
            "default",
            Endpoint::Token,
            arrived,
            Duration::from_micros(1_250),
            400,
            LedgerDraft {
                client_id: Some("app".into()),
                client_auth: Some(AuthMethod::ClientSecretPost),
                grant_type: Some(GrantType::RefreshToken),
                family: Some(7),
                refresh_token: Some("sha256:0123456789ab".into()),
                issued_refresh_token: Some("not-a-fingerprint".into()),
                reuse_detected: true,
                resource: vec!["https://a.example/mcp".into()],
                audience: vec!["https://a.example/mcp".into(), "https://b.example".into()],
                faults: vec!["latency#3".into()],
                answered_by_fault: true,
                outcome: Some("invalid_grant".into()),
                upstream: Some(UpstreamObservation {
                    token: Some("sha256:ffffffffffff".into()),
                    token_audience: vec!["x".into()],
                    path: "/p".into(),
                    ..Default::default()
                }),
                consent: Some(ConsentRecord {
                    decision: ConsentDecision::Denied,
                    subject: Some("alice".into()),
                }),
                discovery: Some(DiscoveryForm::OpenidPathAppended),
                state_length: Some(43),
                requested_scope: Some("mcp:tools".into()),
                granted_scope: Some("mcp:tools".into()),
                redirect_uri: Some(format!("http://127.0.0.1:9/{}", "x".repeat(300))),
                response_mode: Some("query".into()),
            },
        );
        let entries = l.query(&LedgerFilter::default());
        let json = serde_json::to_value(&entries).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {
                    "seq": 1, "time_ms": 0, "issuer": "default", "endpoint": "jwks",
                    "client_id": null, "grant_type": null, "status": 200, "outcome": "ok",
                    "family": null, "refresh_token": null, "issued_refresh_token": null,
                    "reuse_detected": false, "faults": [], "processed": true,
                    "latency_ms": 0.0, "upstream": null
                },
                {
                    "seq": 2, "time_ms": 1_700_000_000_123_u64, "issuer": "default",
                    "endpoint": "token", "client_id": "app",
                    "client_auth": "client_secret_post", "grant_type": "refresh_token",
                    "status": 400, "outcome": "invalid_grant", "family": 7,
                    "refresh_token": "sha256:0123456789ab",
                    "issued_refresh_token": "not-a-fingerprint",
                    "reuse_detected": true,
                    "resource": ["https://a.example/mcp"],
                    "audience": ["https://a.example/mcp", "https://b.example"],
                    "faults": ["latency#3"], "processed": false, "latency_ms": 1.25,
                    "upstream": {
                        "token": "sha256:ffffffffffff", "token_issuer": null,
                        "token_audience": ["x"], "token_client_id": null,
                        "token_subject": null, "refused_because": null, "path": "/p"
                    },
                    "consent": {"decision": "denied", "subject": "alice"},
                    "discovery": "openid_path_appended", "state_length": 43,
                    "requested_scope": "mcp:tools", "granted_scope": "mcp:tools",
                    "redirect_uri": format!(
                        "http://127.0.0.1:9/{}…{}",
                        "x".repeat(45),
                        crate::secret::TokenHash::of(&format!("http://127.0.0.1:9/{}", "x".repeat(300))).fingerprint()
                    ),
                    "response_mode": "query"
                }
            ])
        );
        // Key order, from the text (a `Value` map sorts its keys).
        let text = serde_json::to_string(&entries[1]).unwrap();
        let mut keys: Vec<(usize, &str)> = json[1]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (text.find(&format!("\"{k}\":")).unwrap(), k.as_str()))
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys.into_iter().map(|(_, k)| k).collect::<Vec<_>>(),
            [
                "seq",
                "time_ms",
                "issuer",
                "endpoint",
                "client_id",
                "client_auth",
                "grant_type",
                "status",
                "outcome",
                "family",
                "refresh_token",
                "issued_refresh_token",
                "reuse_detected",
                "resource",
                "audience",
                "faults",
                "processed",
                "latency_ms",
                "upstream",
                "consent",
                "discovery",
                "state_length",
                "requested_scope",
                "granted_scope",
                "redirect_uri",
                "response_mode"
            ]
        );
        // Round trip through JSON, as the admin client reads it.
        let back: Vec<LedgerEntry> = serde_json::from_value(json).unwrap();
        assert_eq!(back, entries);
    }

    #[test]
    fn fingerprints_are_kept_in_six_bytes_and_render_back() {
        let fp = "sha256:00ff10a0b9c8";
        assert_eq!(
            StoredFingerprint::parse(fp),
            Some(StoredFingerprint::Sha256([
                0x00, 0xff, 0x10, 0xa0, 0xb9, 0xc8
            ]))
        );
        assert_eq!(StoredFingerprint::new(fp.into()).render(), fp);
        for other in [
            "sha256:00FF10A0B9C8",
            "sha256:00ff10a0b9c",
            "sha256:+0ff10a0b9c8",
            "x",
        ] {
            assert_eq!(StoredFingerprint::new(other.into()).render(), other);
            assert!(StoredFingerprint::parse(other).is_none(), "{other}");
        }
    }

    /// What BENCHMARKS.md's figures rest on: a stored entry is 128 bytes
    /// (a `LedgerEntry` is several times that).
    #[test]
    fn a_stored_entry_stays_small() {
        assert!(std::mem::size_of::<StoredEntry>() <= 128);
        assert!(std::mem::size_of::<LedgerEntry>() > 3 * std::mem::size_of::<StoredEntry>());
    }

    #[test]
    fn shared_strings_go_when_no_entry_holds_them() {
        let l = Ledger::default();
        let now = SystemTime::now();
        for i in 0..1000 {
            let d = draft(&format!("client-{i}"), None, "ok");
            l.record("default", Endpoint::Token, now, Duration::ZERO, 200, d);
        }
        assert!(l.lock().shared.strings.len() >= 1000);
        l.clear();
        assert!(l.lock().shared.strings.is_empty());
        // Sequence numbers go on; `after_seq` and `limit` still line up.
        for _ in 0..3 {
            l.record(
                "default",
                Endpoint::Jwks,
                now,
                Duration::ZERO,
                200,
                LedgerDraft::default(),
            );
        }
        let seqs = |f: LedgerFilter| l.query(&f).iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(seqs(LedgerFilter::default()), [1001, 1002, 1003]);
        let after = |s: u64| LedgerFilter {
            after_seq: Some(s),
            ..Default::default()
        };
        assert_eq!(seqs(after(5)), [1001, 1002, 1003]);
        assert_eq!(seqs(after(1001)), [1002, 1003]);
        assert_eq!(seqs(after(1003)), Vec::<u64>::new());
        assert_eq!(
            seqs(LedgerFilter {
                limit: Some(2),
                ..after(1000)
            }),
            [1002, 1003]
        );
    }
}
