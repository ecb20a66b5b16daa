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

pub(crate) mod expectation;
pub(crate) mod ledger_entry;
pub(crate) mod ledger_storage;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clients::client_registry::GrantType;
use crate::faults::fault_plan::Endpoint;
use crate::protocol::limits::ledger_value;

/// How many entries are kept; older ones are dropped first.
pub const LEDGER_CAPACITY: usize = 100_000;

pub(crate) use crate::ledger::ledger_entry::LedgerDraft;
pub use crate::ledger::ledger_entry::{
    ClientCounters, ConsentDecision, ConsentRecord, DiscoveryForm, LedgerEntry, LedgerFilter,
    UpstreamObservation,
};
use crate::ledger::ledger_storage::{Details, LedgerState, StoredEntry};

/// The ledger.
#[derive(Debug, Default)]
pub struct Ledger {
    inner: Mutex<LedgerState>,
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

    /// Records an answered request. Not API: the provider's exchanges
    /// write the ledger (and `tests/memory_footprint.rs` measures it).
    #[doc(hidden)]
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
        let bounded = |v: Option<String>| v.map(|v| ledger_value(v).into_boxed_str());
        let client_id = client_id.map(ledger_value);
        let resource: Vec<String> = resource.into_iter().map(ledger_value).collect();
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
                refresh_token,
                issued_refresh_token,
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
        let seq = state.next_seq;
        let LedgerState {
            entries, watches, ..
        } = &mut *state;
        for (filter, seen) in watches.iter_mut() {
            if crate::ledger::ledger_storage::accepts(filter, seq, &entry) {
                *seen += 1;
            }
        }
        entries.push_back(entry);
        if state.entries.len() > LEDGER_CAPACITY {
            state.entries.pop_front();
        }
        state.shared.sweep_if_grown();
        state.next_seq
    }

    /// Entries matching `filter`, oldest first.
    pub fn query(&self, filter: &LedgerFilter) -> Vec<LedgerEntry> {
        let state = self.lock();
        let skip = state.skip_through(filter.after_seq);
        let from = state.first_seq() + skip as u64;
        let candidates = state
            .entries
            .range(skip..)
            .enumerate()
            .map(|(i, e)| (e, from + i as u64))
            .filter(|(e, seq)| crate::ledger::ledger_storage::accepts(filter, *seq, e));
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
        self.counters_after(None)
    }

    /// Counters of the entries after `after_seq` (all with `None`): what
    /// happened since a mark, while other tests keep writing.
    pub fn counters_after(
        &self,
        after_seq: Option<u64>,
    ) -> BTreeMap<String, BTreeMap<String, ClientCounters>> {
        let state = self.lock();
        let skip = state.skip_through(after_seq);
        let mut out: BTreeMap<String, BTreeMap<String, ClientCounters>> = BTreeMap::new();
        for e in state.entries.range(skip..) {
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

    /// Starts tallying the entries that match `filter`; the tally's id.
    pub(crate) fn watch(&self, filter: LedgerFilter) -> usize {
        let mut state = self.lock();
        state.watches.push((filter, 0));
        state.watches.len() - 1
    }

    /// How many entries matched watch `id` so far.
    pub(crate) fn watched(&self, id: usize) -> u64 {
        self.lock().watches.get(id).map_or(0, |(_, seen)| *seen)
    }

    /// The latest sequence number handed out.
    pub fn last_seq(&self) -> u64 {
        self.lock().next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::client_registry::AuthMethod;

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
        // After a mark: only the second refresh (the reuse) and later.
        let since = l.counters_after(Some(1));
        let ca = &since["default"]["a"];
        assert_eq!(
            (ca.refresh_requests, ca.refresh_grants, ca.reuse_detected),
            (1, 0, 1)
        );
        assert!(
            l.counters_after(Some(4)).is_empty(),
            "nothing after the last"
        );
        assert_eq!(l.counters_after(None), counters);
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
                refresh_token: "sha256:0123456789ab".parse().ok(),
                issued_refresh_token: "sha256:abcdefabcdef".parse().ok(),
                reuse_detected: true,
                resource: vec!["https://a.example/mcp".into()],
                audience: vec!["https://a.example/mcp".into(), "https://b.example".into()],
                faults: vec!["latency#3".into()],
                answered_by_fault: true,
                outcome: Some("invalid_grant".into()),
                upstream: Some(UpstreamObservation {
                    token: "sha256:ffffffffffff".parse().ok(),
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
                    "issued_refresh_token": "sha256:abcdefabcdef",
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
                        crate::protocol::secret::TokenHash::of(&format!("http://127.0.0.1:9/{}", "x".repeat(300))).fingerprint()
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
