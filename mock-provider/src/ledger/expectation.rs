//! Expectations on what the provider sees, in the manner of wiremock's
//! `Mock::expect`: "exactly one successful refresh for this client". An
//! expectation is a [`LedgerFilter`] and a count. The ledger tallies the
//! requests that match it from the moment it is registered (so a reset or
//! the ledger's capacity never loses one), and [`MockProvider::verify`] or
//! dropping the provider checks the tallies.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use mock_provider::{ClientConfig, Expectation, GrantType, IssuerConfig, MockProvider};
//! let provider = MockProvider::builder()
//!     .issuer(IssuerConfig::new("default").client(
//!         ClientConfig::confidential("app", "app-secret").grant_types([GrantType::ClientCredentials]),
//!     ))
//!     .start()
//!     .await
//!     .unwrap();
//! provider.expect(Expectation::token_requests("app").grant_type(GrantType::ClientCredentials).times(1));
//! reqwest::Client::new()
//!     .post(format!("{}/token", provider.issuer_url("default").unwrap()))
//!     .basic_auth("app", Some("app-secret"))
//!     .form(&[("grant_type", "client_credentials")])
//!     .send()
//!     .await
//!     .unwrap();
//! provider.verify().unwrap(); // also checked when `provider` is dropped
//! # }
//! ```
//!
//! [`MockProvider::verify`]: crate::MockProvider::verify

use std::fmt;
use std::ops::{RangeFrom, RangeInclusive, RangeToInclusive};

use crate::clients::client_registry::GrantType;
use crate::faults::fault_plan::Endpoint;
use crate::ledger::ledger_entry::LedgerFilter;

/// How many matching requests an expectation wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    min: u64,
    max: Option<u64>,
}

impl Times {
    fn allows(self, n: u64) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(max) if max == self.min => write!(f, "exactly {max}"),
            Some(max) if self.min == 0 => write!(f, "at most {max}"),
            Some(max) => write!(f, "between {} and {max}", self.min),
            None => write!(f, "at least {}", self.min),
        }
    }
}

/// `n`: exactly `n`.
impl From<u64> for Times {
    fn from(n: u64) -> Self {
        Self {
            min: n,
            max: Some(n),
        }
    }
}

/// `a..=b`: between `a` and `b`.
impl From<RangeInclusive<u64>> for Times {
    fn from(r: RangeInclusive<u64>) -> Self {
        Self {
            min: *r.start(),
            max: Some(*r.end()),
        }
    }
}

/// `a..`: at least `a`.
impl From<RangeFrom<u64>> for Times {
    fn from(r: RangeFrom<u64>) -> Self {
        Self {
            min: r.start,
            max: None,
        }
    }
}

/// `..=b`: at most `b`.
impl From<RangeToInclusive<u64>> for Times {
    fn from(r: RangeToInclusive<u64>) -> Self {
        Self {
            min: 0,
            max: Some(r.end),
        }
    }
}

/// Requests the provider must see: a ledger filter and how many.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub(crate) filter: LedgerFilter,
    pub(crate) times: Times,
    name: Option<String>,
}

impl Expectation {
    /// Requests matching `filter` (its `after_seq` and `limit` are ignored:
    /// the tally starts when the expectation is registered); at least one
    /// unless [`Expectation::times`] says otherwise.
    pub fn matching(filter: LedgerFilter) -> Self {
        Self {
            filter: LedgerFilter {
                after_seq: None,
                limit: None,
                ..filter
            },
            times: (1..).into(),
            name: None,
        }
    }

    /// Token endpoint requests by `client_id`, at any issuer, with any
    /// outcome.
    pub fn token_requests(client_id: &str) -> Self {
        Self::matching(LedgerFilter::at(Endpoint::Token).client(client_id))
    }

    /// Successful refresh grants for `client_id`: the check behind "a
    /// client refreshes once, however many callers need a token".
    pub fn refresh_grants(client_id: &str) -> Self {
        Self::token_requests(client_id)
            .grant_type(GrantType::RefreshToken)
            .outcome("ok")
    }

    /// Only at this issuer.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.filter = self.filter.issuer(issuer);
        self
    }

    /// Only this grant type.
    pub fn grant_type(mut self, grant: GrantType) -> Self {
        self.filter = self.filter.grant_type(grant);
        self
    }

    /// Only this outcome (`ok`, an error code, `http_503`...).
    pub fn outcome(mut self, outcome: &str) -> Self {
        self.filter = self.filter.outcome(outcome);
        self
    }

    /// How many: `1` (exactly), `1..=3`, `2..` or `..=1`.
    pub fn times(mut self, times: impl Into<Times>) -> Self {
        self.times = times.into();
        self
    }

    /// A name for the failure message.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How the failure message names it: its name, else its filter.
    fn label(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let f = &self.filter;
        let parts: Vec<String> = [
            f.issuer.as_ref().map(|v| format!("issuer {v}")),
            f.endpoint.map(|v| format!("endpoint {v}")),
            f.client_id.as_ref().map(|v| format!("client {v}")),
            f.grant_type.map(|v| format!("grant_type {v}")),
            f.outcome.as_ref().map(|v| format!("outcome {v}")),
            f.resource.as_ref().map(|v| format!("resource {v}")),
            f.audience.as_ref().map(|v| format!("audience {v}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            "any request".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// `Some(why)` when `seen` matching requests do not satisfy it.
    pub(crate) fn unmet(&self, seen: u64) -> Option<String> {
        (!self.times.allows(seen)).then(|| {
            format!(
                "{}: wanted {} matching request{}, saw {seen}",
                self.label(),
                self.times,
                if self.times.max == Some(1) { "" } else { "s" }
            )
        })
    }
}

/// Expectations the provider's requests did not satisfy, one line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unmet expectations:\n{}", .0.join("\n"))]
pub struct UnmetExpectations(pub Vec<String>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_like_wiremock() {
        let e = Expectation::refresh_grants("app");
        assert!(e.unmet(1).is_none() && e.unmet(5).is_none());
        assert_eq!(
            e.unmet(0).unwrap(),
            "endpoint token, client app, grant_type refresh_token, outcome ok: wanted at least 1 matching requests, saw 0"
        );
        let once = Expectation::token_requests("app")
            .times(1)
            .named("one token");
        assert_eq!(
            once.unmet(2).unwrap(),
            "one token: wanted exactly 1 matching request, saw 2"
        );
        assert!(once.unmet(1).is_none());
        let some = Expectation::matching(LedgerFilter::default()).times(2..=3);
        assert!(some.unmet(1).is_some() && some.unmet(4).is_some());
        assert!(some.unmet(2).is_none() && some.unmet(3).is_none());
        let few = Expectation::matching(LedgerFilter::default()).times(..=1);
        assert!(few.unmet(0).is_none() && few.unmet(2).is_some());
        assert!(
            few.unmet(2)
                .unwrap()
                .starts_with("any request: wanted at most 1")
        );
    }
}
