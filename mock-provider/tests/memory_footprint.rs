//! What the provider keeps per request and per live token, measured with a
//! counting global allocator (this test binary only): the ledger keeps up
//! to 100,000 entries and every access token is recorded until it expires,
//! so these two sizes set the provider's memory under load (BENCHMARKS.md,
//! "Memory per token"). Bounds are generous against the current figures
//! and well under the old ones, so a regression to a `String` per field
//! shows.

use std::time::{Duration, SystemTime};

use mock_provider::GrantType;
use mock_provider::faults::Endpoint;
use mock_provider::internals::LedgerDraft;
use mock_provider::internals::TokenFamilies;
use mock_provider::ledger::{Ledger, LedgerFilter};
use mock_provider::random_base64url;

#[path = "support/counting_allocator.rs"]
mod counting_allocator;
use counting_allocator::live;

/// The benchmark's ES256 burst.
const TOKENS: usize = 20_000;

/// Per item, what `grow` left alive.
fn per_item(grow: impl FnOnce()) -> (f64, f64) {
    let (bytes, allocations) = live();
    grow();
    let (bytes_after, allocations_after) = live();
    (
        (bytes_after - bytes) as f64 / TOKENS as f64,
        (allocations_after - allocations) as f64 / TOKENS as f64,
    )
}

/// One test, so that no other test allocates while it counts.
#[test]
fn a_token_request_costs_a_ledger_entry_and_an_access_record_without_allocations() {
    // What the benchmark's client_credentials requests leave in the ledger.
    let ledger = Ledger::default();
    let audience = "http://127.0.0.1:9400/es/api".to_owned();
    let (entry_bytes, entry_allocations) = per_item(|| {
        for _ in 0..TOKENS {
            ledger.record(
                "es",
                Endpoint::Token,
                SystemTime::now(),
                Duration::from_micros(300),
                200,
                LedgerDraft {
                    client_id: Some("bench".into()),
                    grant_type: Some(GrantType::ClientCredentials),
                    audience: vec![audience.clone()],
                    ..Default::default()
                },
            );
        }
    });
    // And what a live access token leaves in the grant state.
    let mut families = TokenFamilies::new();
    let (record_bytes, record_allocations) = per_item(|| {
        for _ in 0..TOKENS {
            let jti = random_base64url(16);
            families.add_access_token(None, &jti, "bench", "bench", u64::MAX);
        }
    });
    eprintln!(
        "ledger entry: {entry_bytes:.0} bytes, {entry_allocations:.3} allocations; \
         access record: {record_bytes:.0} bytes, {record_allocations:.3} allocations"
    );
    // Bytes include the spare capacity of the deque and the hash map
    // (20,000 in room for 32,768): 128 and 72 bytes a slot now; a
    // `LedgerEntry` of `String`s was 729 bytes and 3 allocations per
    // entry, a record 204 bytes and 3 allocations per token.
    assert!(entry_bytes < 260.0, "{entry_bytes} bytes per ledger entry");
    assert!(entry_allocations < 0.01, "{entry_allocations} per entry");
    assert!(
        record_bytes < 160.0,
        "{record_bytes} bytes per access record"
    );
    assert!(record_allocations < 0.01, "{record_allocations} per record");

    // Nothing was lost on the way: the entry reads back in full.
    let last = ledger.query(&LedgerFilter {
        limit: Some(1),
        ..Default::default()
    });
    assert_eq!(last[0].seq, TOKENS as u64);
    assert_eq!(last[0].client_id.as_deref(), Some("bench"));
    assert_eq!(last[0].outcome, "ok");
    assert_eq!(last[0].audience, [audience]);
    assert_eq!(families.expire_access_tokens_of_client("bench"), TOKENS);
}
