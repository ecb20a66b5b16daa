//! The one in-process mock provider a run uses, and what a case asks of
//! it: a reset, a fresh confidential client with single-use rotating
//! refresh tokens and a seeded grant, the refresh barrier and the token
//! endpoint faults, expiring the client's access tokens, and reading the
//! ledger (the judge of every invariant). Also the harness's own errors,
//! [`HarnessError`]: problems of the harness, never of the manager.

use std::future::Future;
use std::time::Duration;

use mock_provider::admin::SeedGrant;
use mock_provider::faults::{Endpoint, FaultAction, FaultRule};
use mock_provider::ledger::{LedgerEntry, LedgerFilter};
use mock_provider::{
    AdminClient, AdminError, ClientConfig, ErrorCode, GrantType, IssuerConfig, MockProvider,
    ProviderConfig, RefreshPolicy, SigningAlgorithm, StartError,
};
use url::Url;

use crate::schedule::{Schedule, TokenFault};
use crate::token_source::UpstreamGrant;

/// The issuer the cases run at.
pub(crate) const ISSUER: &str = "upstream";

/// How long one admin call may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the harness could not do its part (not a finding about the
/// manager).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// `run()` was called from inside a tokio runtime.
    #[error(
        "RaceCheck::run builds its own tokio runtime: call it from a plain #[test] fn, not from inside a runtime (#[tokio::test])"
    )]
    InsideRuntime,
    /// The runtime could not be built.
    #[error("cannot build the tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    /// The mock provider did not start.
    #[error("the mock provider did not start: {0}")]
    Start(#[from] StartError),
    /// An admin call failed.
    #[error("mock provider admin call `{what}` failed: {source}")]
    Admin {
        /// Which call.
        what: &'static str,
        /// Why.
        #[source]
        source: AdminError,
    },
    /// An admin call did not answer.
    #[error("mock provider admin call `{what}` did not answer within 10 s")]
    AdminTimeout {
        /// Which call.
        what: &'static str,
    },
    /// The provider described itself with a URL that does not parse.
    #[error("the mock provider's {what} is not a URL: {reason}")]
    Url {
        /// Which URL.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// What a case starts from.
#[derive(Debug, Clone)]
pub(crate) struct CaseSetup {
    /// The grant handed to the factory.
    pub grant: UpstreamGrant,
    /// The case's client.
    pub client_id: String,
}

/// The provider and its admin client.
#[derive(Debug)]
pub(crate) struct ProviderHarness {
    provider: MockProvider,
    admin: AdminClient,
    issuer: Url,
    token_url: Url,
    api_url: Url,
    cases: u64,
}

fn parse(what: &'static str, text: &str) -> Result<Url, HarnessError> {
    Url::parse(text).map_err(|e| HarnessError::Url {
        what,
        reason: e.to_string(),
    })
}

async fn admin_call<T>(
    what: &'static str,
    call: impl Future<Output = Result<T, AdminError>>,
) -> Result<T, HarnessError> {
    match tokio::time::timeout(ADMIN_TIMEOUT, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(HarnessError::Admin { what, source }),
        Err(_) => Err(HarnessError::AdminTimeout { what }),
    }
}

/// A rule for the case client's refresh requests.
fn refresh_rule(client_id: &str, action: FaultAction) -> FaultRule {
    FaultRule::new(Endpoint::Token, action)
        .issuer(ISSUER)
        .grant_type(GrantType::RefreshToken)
        .client(client_id)
}

impl ProviderHarness {
    /// Starts the provider: one ES256 issuer, on a free port of 127.0.0.1.
    pub async fn start() -> Result<Self, HarnessError> {
        let config = ProviderConfig {
            issuers: vec![IssuerConfig::new(ISSUER).signing_algorithm(SigningAlgorithm::Es256)],
            ..ProviderConfig::default()
        };
        let provider = MockProvider::builder().config(config).start().await?;
        let admin = provider.admin();
        let info = admin_call("issuers", admin.issuers())
            .await?
            .into_iter()
            .find(|i| i.name == ISSUER)
            .ok_or(HarnessError::Url {
                what: "issuer list",
                reason: format!("it has no issuer named `{ISSUER}`"),
            })?;
        Ok(Self {
            issuer: parse("issuer", &info.issuer)?,
            token_url: parse("token endpoint", &info.token_endpoint)?,
            api_url: parse("upstream API", &info.upstream_api)?,
            provider,
            admin,
            cases: 0,
        })
    }

    /// The upstream API.
    pub fn api_url(&self) -> &Url {
        &self.api_url
    }

    /// Resets the provider, creates the case's client (its own id, so a
    /// straggling request of an earlier case never counts in this one),
    /// seeds its grant and installs the barrier and a latency fault.
    pub async fn prepare(&mut self, schedule: &Schedule) -> Result<CaseSetup, HarnessError> {
        self.cases += 1;
        admin_call("reset", self.admin.reset()).await?;
        let client_id = format!("race-client-{}", self.cases);
        let client_secret = mock_provider::random_base64url(24);
        let client = ClientConfig::confidential(client_id.clone(), client_secret.clone())
            .grant_types([GrantType::RefreshToken])
            .refresh_policy(RefreshPolicy::SingleUse);
        admin_call("create client", self.admin.create_client(ISSUER, &client)).await?;
        let seeded = admin_call(
            "seed grant",
            self.admin.seed_grant(
                ISSUER,
                &SeedGrant {
                    client_id: client_id.clone(),
                    ..SeedGrant::default()
                },
            ),
        )
        .await?;
        let barrier = schedule.barrier();
        self.add_fault(refresh_rule(
            &client_id,
            FaultAction::RefreshBarrier {
                parties: barrier.parties,
                timeout_millis: u64::try_from(barrier.timeout.as_millis()).unwrap_or(u64::MAX),
            },
        ))
        .await?;
        if let TokenFault::Latency { millis } = schedule.fault() {
            self.add_fault(refresh_rule(
                &client_id,
                FaultAction::Latency {
                    millis,
                    jitter_millis: 0,
                },
            ))
            .await?;
        }
        Ok(CaseSetup {
            grant: UpstreamGrant {
                issuer: self.issuer.clone(),
                token_url: self.token_url.clone(),
                client_id: client_id.clone(),
                client_secret,
                refresh_token: seeded.refresh_token,
                api_url: self.api_url.clone(),
            },
            client_id,
        })
    }

    /// From now on every refresh request of the client is `invalid_grant`.
    pub async fn revoke_grant(&self, client_id: &str) -> Result<(), HarnessError> {
        self.add_fault(refresh_rule(
            client_id,
            FaultAction::OauthError {
                error: ErrorCode::InvalidGrant,
                description: Some("the grant has been revoked (refresh-race fault)".to_owned()),
                status: None,
            },
        ))
        .await
        .map(|_| ())
    }

    /// The client's next refresh request is a 503 with `Retry-After`.
    pub async fn unavailable_once(
        &self,
        client_id: &str,
        retry_after_secs: u64,
    ) -> Result<(), HarnessError> {
        self.add_fault(
            refresh_rule(
                client_id,
                FaultAction::HttpStatus {
                    status: 503,
                    retry_after_secs: Some(retry_after_secs),
                },
            )
            .times(1),
        )
        .await
        .map(|_| ())
    }

    async fn add_fault(&self, rule: FaultRule) -> Result<u64, HarnessError> {
        admin_call("add fault", self.admin.add_fault(&rule)).await
    }

    /// The client's access tokens stop working now.
    pub async fn expire_access_tokens(&self, client_id: &str) -> Result<usize, HarnessError> {
        admin_call(
            "expire access tokens",
            self.admin.expire_access_tokens(ISSUER, client_id),
        )
        .await
    }

    /// The latest ledger sequence number.
    pub fn last_seq(&self) -> u64 {
        self.provider.ledger().last_seq()
    }

    /// The client's refresh_token requests at the token endpoint after
    /// `after_seq`, oldest first.
    pub fn refreshes(&self, client_id: &str, after_seq: u64) -> Vec<LedgerEntry> {
        self.provider.ledger().query(&LedgerFilter {
            issuer: Some(ISSUER.to_owned()),
            endpoint: Some(Endpoint::Token),
            client_id: Some(client_id.to_owned()),
            grant_type: Some(GrantType::RefreshToken),
            after_seq: Some(after_seq),
            ..LedgerFilter::default()
        })
    }

    /// Upstream API requests after `after_seq` (every one: a caller may
    /// present something that is not the client's token at all).
    pub fn upstream_calls(&self, after_seq: u64) -> Vec<LedgerEntry> {
        self.provider.ledger().query(&LedgerFilter {
            issuer: Some(ISSUER.to_owned()),
            endpoint: Some(Endpoint::Upstream),
            after_seq: Some(after_seq),
            ..LedgerFilter::default()
        })
    }
}
