//! The ledger: one entry per request the provider answered (time, issuer,
//! endpoint, client, grant, outcome, token family, fingerprints of the
//! tokens involved, reuse detection, faults applied, latency) and, for the
//! mock upstream API, what the presented token was, and for the consent
//! page, the decision and the user. Queryable with filters,
//! with counters per client. Token values never enter it, only
//! fingerprints.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::client_registry::GrantType;
use crate::fault_plan::Endpoint;

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
    /// The fault rules that fired, as `kind#id`.
    pub faults: Vec<String>,
    /// Time to answer, milliseconds.
    pub latency_ms: f64,
    /// For the upstream API: what the token was.
    pub upstream: Option<UpstreamObservation>,
    /// At the authorization endpoint with interactive consent: the page
    /// shown or the decision made on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentRecord>,
}

/// What a handler learns while it works; becomes a [`LedgerEntry`].
#[derive(Debug, Clone, Default)]
pub struct LedgerDraft {
    /// The client.
    pub client_id: Option<String>,
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
    /// Faults fired.
    pub faults: Vec<String>,
    /// Outcome, if the handler knows better than the status.
    pub outcome: Option<String>,
    /// Upstream observation.
    pub upstream: Option<UpstreamObservation>,
    /// Consent page shown or decided.
    pub consent: Option<ConsentRecord>,
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
    /// Only entries with `seq` greater than this.
    #[serde(default)]
    pub after_seq: Option<u64>,
    /// At most this many (the latest ones).
    #[serde(default)]
    pub limit: Option<usize>,
}

impl LedgerFilter {
    fn accepts(&self, e: &LedgerEntry) -> bool {
        self.issuer.as_ref().is_none_or(|i| *i == e.issuer)
            && self.endpoint.is_none_or(|x| x == e.endpoint)
            && self
                .client_id
                .as_ref()
                .is_none_or(|c| Some(c) == e.client_id.as_ref())
            && self.grant_type.is_none_or(|g| Some(g) == e.grant_type)
            && self.outcome.as_ref().is_none_or(|o| *o == e.outcome)
            && self.after_seq.is_none_or(|s| e.seq > s)
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

#[derive(Debug, Default)]
struct LedgerState {
    next_seq: u64,
    entries: VecDeque<LedgerEntry>,
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
        let outcome = draft.outcome.unwrap_or_else(|| {
            if status < 400 {
                "ok".to_owned()
            } else {
                format!("http_{status}")
            }
        });
        let mut state = self.lock();
        state.next_seq += 1;
        let seq = state.next_seq;
        state.entries.push_back(LedgerEntry {
            seq,
            time_ms: unix_ms(arrived),
            issuer: issuer.to_owned(),
            endpoint,
            client_id: draft.client_id,
            grant_type: draft.grant_type,
            status,
            outcome,
            family: draft.family,
            refresh_token: draft.refresh_token,
            issued_refresh_token: draft.issued_refresh_token,
            reuse_detected: draft.reuse_detected,
            faults: draft.faults,
            latency_ms: latency.as_secs_f64() * 1000.0,
            upstream: draft.upstream,
            consent: draft.consent,
        });
        if state.entries.len() > LEDGER_CAPACITY {
            state.entries.pop_front();
        }
        seq
    }

    /// Entries matching `filter`, oldest first.
    pub fn query(&self, filter: &LedgerFilter) -> Vec<LedgerEntry> {
        let state = self.lock();
        let mut out: Vec<LedgerEntry> = state
            .entries
            .iter()
            .filter(|e| filter.accepts(e))
            .cloned()
            .collect();
        if let Some(limit) = filter.limit
            && out.len() > limit
        {
            out.drain(..out.len() - limit);
        }
        out
    }

    /// Counters per issuer, then per client.
    pub fn counters(&self) -> BTreeMap<String, BTreeMap<String, ClientCounters>> {
        let state = self.lock();
        let mut out: BTreeMap<String, BTreeMap<String, ClientCounters>> = BTreeMap::new();
        for e in &state.entries {
            let client = match (&e.client_id, &e.upstream) {
                (Some(c), _) => c.clone(),
                (None, Some(u)) => match &u.token_client_id {
                    Some(c) => c.clone(),
                    None => continue,
                },
                _ => continue,
            };
            let c = out
                .entry(e.issuer.clone())
                .or_default()
                .entry(client)
                .or_default();
            c.requests += 1;
            if e.grant_type == Some(GrantType::RefreshToken) {
                c.refresh_requests += 1;
                if e.outcome == "ok" {
                    c.refresh_grants += 1;
                }
            }
            if e.reuse_detected {
                c.reuse_detected += 1;
            }
            if e.outcome == "invalid_grant" {
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
        self.lock().entries.clear();
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
}
