//! What the fault plan tests (`fault_*.rs`) share: a provider with two
//! issuers and the admin client, refresh grants seeded without a browser,
//! token requests of `APP`, answers kept as text, and ledger checks
//! (`kind#id` in `faults`, the `outcome` and the `status`).

use mock_provider::admin::{SeedGrant, SeededGrant};
use mock_provider::faults::{Endpoint, FaultRule};
use mock_provider::ledger::{LedgerEntry, LedgerFilter};
use mock_provider::{AdminClient, MockProvider};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::{APP, JsonAnswer};

/// A provider with issuers `default` (RS256) and `other` (ES256), a
/// redirect-less HTTP client and the admin client.
pub struct Fixture {
    pub provider: MockProvider,
    pub issuer: String,
    pub other: String,
    pub http: reqwest::Client,
    pub admin: AdminClient,
}

impl Fixture {
    /// Adds `rule` through the admin API; its id.
    pub async fn add_fault(&self, rule: FaultRule) -> u64 {
        self.admin.add_fault(&rule).await.expect("fault rule added")
    }
}

pub async fn fixture() -> Fixture {
    let provider = super::start_provider().await;
    Fixture {
        issuer: provider.issuer_url("default").unwrap(),
        other: provider.issuer_url("other").unwrap(),
        http: super::http(),
        admin: provider.admin(),
        provider,
    }
}

/// A refresh token for `client` at `default`, without a browser.
pub async fn seed(admin: &AdminClient, client: &str) -> SeededGrant {
    admin
        .seed_grant(
            "default",
            &SeedGrant {
                client_id: client.to_owned(),
                ..Default::default()
            },
        )
        .await
        .expect("grant seeded")
}

/// A refresh_token grant request of `APP` (client_secret_basic).
pub async fn refresh(f: &Fixture, refresh_token: &str) -> JsonAnswer {
    super::post_form(
        &f.http,
        &f.issuer,
        "token",
        Some(APP),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// A client_credentials grant request of `APP` at `issuer_url`.
pub async fn client_credentials(f: &Fixture, issuer_url: &str, scope: Option<&str>) -> JsonAnswer {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    super::post_form(&f.http, issuer_url, "token", Some(APP), &form).await
}

/// An answer whose body is kept as text (for the mangled bodies).
#[derive(Debug)]
pub struct RawAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl RawAnswer {
    pub fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn raw(request: reqwest::RequestBuilder) -> RawAnswer {
    let response = request.send().await.expect("request");
    RawAnswer {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    }
}

/// Ledger entries at `endpoint` (of any issuer), oldest first.
pub async fn ledger_at(admin: &AdminClient, endpoint: Endpoint) -> Vec<LedgerEntry> {
    admin
        .ledger(&LedgerFilter {
            endpoint: Some(endpoint),
            ..Default::default()
        })
        .await
        .expect("ledger")
}

/// The latest ledger entry matching `filter`.
pub async fn last_entry(admin: &AdminClient, filter: LedgerFilter) -> LedgerEntry {
    admin
        .ledger(&LedgerFilter {
            limit: Some(1),
            ..filter.clone()
        })
        .await
        .expect("ledger")
        .pop()
        .unwrap_or_else(|| panic!("no ledger entry for {filter:?}"))
}

pub fn token_filter() -> LedgerFilter {
    LedgerFilter::at(Endpoint::Token)
}

/// Checks a ledger entry's faults, outcome and status.
#[track_caller]
pub fn assert_entry(entry: &LedgerEntry, faults: &[&str], outcome: &str, status: u16) {
    assert_eq!(entry.faults, faults, "faults of {entry:?}");
    assert_eq!(entry.outcome, outcome, "outcome of {entry:?}");
    assert_eq!(entry.status, status, "status of {entry:?}");
}

/// The latest entry matching `filter`, checked as [`assert_entry`] does.
pub async fn assert_last(
    admin: &AdminClient,
    filter: LedgerFilter,
    faults: &[&str],
    outcome: &str,
    status: u16,
) -> LedgerEntry {
    let entry = last_entry(admin, filter).await;
    assert_entry(&entry, faults, outcome, status);
    entry
}
