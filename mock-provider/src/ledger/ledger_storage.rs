//! How the ledger keeps its entries: compact ([`StoredEntry`]: shared
//! strings, six-byte fingerprints, rare parts boxed), because it holds up
//! to [`LEDGER_CAPACITY`] of them and is most of the provider's memory
//! under load. Entries become the public [`LedgerEntry`] only when queried.

use std::collections::{HashSet, VecDeque};

use std::sync::Arc;

use crate::clients::client_registry::{AuthMethod, GrantType};
use crate::faults::fault_plan::Endpoint;
use crate::ledger::ledger_entry::{
    ConsentRecord, DiscoveryForm, LedgerEntry, LedgerFilter, UpstreamObservation,
};
use crate::protocol::fingerprint::Fingerprint;

/// The entries, compact: up to [`LEDGER_CAPACITY`] of them are kept, so an
/// entry's size is most of the provider's memory under load (a
/// `LedgerEntry` with its `String`s took about 0.5 KiB and three
/// allocations; a [`StoredEntry`] takes 128 bytes and none for a plain
/// token request). Entries are materialised as [`LedgerEntry`] only when
/// queried, so the JSON is unchanged.
#[derive(Debug, Default)]
pub(crate) struct LedgerState {
    pub(crate) next_seq: u64,
    /// Consecutive: the last one has `next_seq`, so an entry's `seq`
    /// follows from its position and is not stored.
    pub(crate) entries: VecDeque<StoredEntry>,
    pub(crate) shared: Interner,
    /// Filters tallied as entries arrive, for expectations: a count that
    /// neither a reset nor the capacity takes away.
    pub(crate) watches: Vec<(LedgerFilter, u64)>,
}

impl LedgerState {
    /// The `seq` of `entries[0]`.
    pub(crate) fn first_seq(&self) -> u64 {
        self.next_seq + 1 - self.entries.len() as u64
    }

    /// How many entries come at or before `after_seq`: entries are in
    /// `seq` order, one apart, so a read after a mark skips straight past
    /// them (the refresh-race harness polls with it).
    pub(crate) fn skip_through(&self, after_seq: Option<u64>) -> usize {
        after_seq
            .map_or(0, |s| s.saturating_add(1).saturating_sub(self.first_seq()))
            .min(self.entries.len() as u64) as usize
    }
}

/// One entry as kept. The strings entries repeat (issuer, client, outcome,
/// fault, resource and audience lists) are shared through the
/// [`Interner`]; what only some requests have lives in [`Details`].
#[derive(Debug)]
pub(crate) struct StoredEntry {
    pub(crate) time_ms: u64,
    pub(crate) latency_ms: f64,
    pub(crate) issuer: Arc<str>,
    pub(crate) client_id: Option<Arc<str>>,
    pub(crate) outcome: Arc<str>,
    pub(crate) resource: Option<Arc<[String]>>,
    pub(crate) audience: Option<Arc<[String]>>,
    pub(crate) faults: Option<Arc<[String]>>,
    pub(crate) details: Option<Box<Details>>,
    pub(crate) status: u16,
    pub(crate) endpoint: Endpoint,
    pub(crate) grant_type: Option<GrantType>,
    pub(crate) client_auth: Option<AuthMethod>,
    pub(crate) reuse_detected: bool,
    pub(crate) processed: bool,
}

/// The parts of an entry most requests lack (a `client_credentials` grant
/// or a JWKS fetch has none of them): boxed, so they cost a pointer when
/// absent.
#[derive(Debug)]
pub(crate) struct Details {
    pub(crate) family: Option<u64>,
    pub(crate) refresh_token: Option<Fingerprint>,
    pub(crate) issued_refresh_token: Option<Fingerprint>,
    pub(crate) upstream: Option<UpstreamObservation>,
    pub(crate) consent: Option<ConsentRecord>,
    pub(crate) discovery: Option<DiscoveryForm>,
    pub(crate) state_length: Option<usize>,
    pub(crate) requested_scope: Option<Box<str>>,
    pub(crate) granted_scope: Option<Box<str>>,
    pub(crate) redirect_uri: Option<Box<str>>,
    pub(crate) response_mode: Option<Box<str>>,
}

/// One copy of each string (and list of strings) the entries share: a
/// client making 20,000 requests is one `Arc<str>`, not 20,000 `String`s.
/// Values no entry refers to any more are dropped in sweeps, run when the
/// sets have doubled since the last one, so the cost per entry stays
/// constant and a stream of distinct (claimed) client ids cannot pile up
/// beyond what the entries hold.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    pub(crate) strings: HashSet<Arc<str>>,
    pub(crate) lists: HashSet<Arc<[String]>>,
    pub(crate) size_after_sweep: usize,
}

impl Interner {
    /// Below this many values, no sweep: not worth it.
    const SWEEP_FLOOR: usize = 256;

    pub(crate) fn str(&mut self, s: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(s) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(s);
        self.strings.insert(shared.clone());
        shared
    }

    /// `None` for an empty list.
    pub(crate) fn list(&mut self, list: Vec<String>) -> Option<Arc<[String]>> {
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

    pub(crate) fn sweep_if_grown(&mut self) {
        let size = self.strings.len() + self.lists.len();
        if size > Self::SWEEP_FLOOR.max(2 * self.size_after_sweep) {
            self.sweep();
        }
    }

    /// Drops what only the interner still holds. The ledger's lock is
    /// held, and no `Arc` leaves it (queries copy), so a count of 1 is
    /// final.
    pub(crate) fn sweep(&mut self) {
        self.strings.retain(|s| Arc::strong_count(s) > 1);
        self.lists.retain(|l| Arc::strong_count(l) > 1);
        self.size_after_sweep = self.strings.len() + self.lists.len();
    }
}

/// A shared list as a `Vec` (empty for none).
pub(crate) fn owned(list: &Option<Arc<[String]>>) -> Vec<String> {
    list.as_deref().map(<[String]>::to_vec).unwrap_or_default()
}

impl StoredEntry {
    pub(crate) fn to_entry(&self, seq: u64) -> LedgerEntry {
        let details = self.details.as_deref();
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
            refresh_token: details.and_then(|d| d.refresh_token),
            issued_refresh_token: details.and_then(|d| d.issued_refresh_token),
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
    pub(crate) fn counted_client(&self) -> Option<&str> {
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

/// Whether `filter` wants the entry at `seq`.
pub(crate) fn accepts(filter: &LedgerFilter, seq: u64, e: &StoredEntry) -> bool {
    let this = filter;
    {
        let listed = |list: &Option<Arc<[String]>>, want: &String| {
            list.as_deref().is_some_and(|l| l.contains(want))
        };
        this.issuer.as_deref().is_none_or(|i| i == &*e.issuer)
            && this.endpoint.is_none_or(|x| x == e.endpoint)
            && this
                .client_id
                .as_deref()
                .is_none_or(|c| Some(c) == e.client_id.as_deref())
            && this.grant_type.is_none_or(|g| Some(g) == e.grant_type)
            && this.outcome.as_deref().is_none_or(|o| o == &*e.outcome)
            && this
                .resource
                .as_ref()
                .is_none_or(|r| listed(&e.resource, r))
            && this
                .audience
                .as_ref()
                .is_none_or(|a| listed(&e.audience, a))
            && this.after_seq.is_none_or(|s| seq > s)
    }
}
