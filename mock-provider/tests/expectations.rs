//! Expectations on what the provider sees (`MockProvider::expect`),
//! checked by `verify` and when the provider is dropped, over real
//! requests.

use mock_provider::admin::RotateKeys;
use mock_provider::{ClientConfig, Expectation, GrantType, IssuerConfig, MockProvider};

async fn provider() -> MockProvider {
    MockProvider::builder()
        .issuer(
            IssuerConfig::new("default").client(
                ClientConfig::confidential("app", "app-secret")
                    .grant_types([GrantType::ClientCredentials]),
            ),
        )
        .start()
        .await
        .unwrap()
}

/// One client_credentials request by `app`, with the right secret or not.
async fn token_request(provider: &MockProvider, secret: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/token", provider.issuer_url("default").unwrap()))
        .basic_auth("app", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_met_expectation_verifies_and_drops_quietly() {
    let provider = provider().await;
    provider.expect(
        Expectation::token_requests("app")
            .grant_type(GrantType::ClientCredentials)
            .outcome("ok")
            .times(2),
    );
    provider.expect(
        Expectation::token_requests("app")
            .outcome("invalid_client")
            .times(1),
    );
    assert_eq!(token_request(&provider, "app-secret").await, 200);
    let unmet = provider.verify().unwrap_err().to_string();
    assert!(
        unmet.contains("wanted exactly 2 matching requests, saw 1"),
        "{unmet}"
    );
    assert!(
        unmet.contains("outcome invalid_client: wanted exactly 1 matching request, saw 0"),
        "{unmet}"
    );
    assert_eq!(token_request(&provider, "app-secret").await, 200);
    assert_eq!(token_request(&provider, "wrong").await, 401);
    provider.verify().unwrap();
}

/// Like wiremock: the test that set an unmet expectation fails when its
/// provider goes.
#[tokio::test]
#[should_panic(expected = "unmet expectations:\nno refresh here: wanted exactly 0")]
async fn an_unmet_expectation_fails_the_test_when_the_provider_drops() {
    let provider = provider().await;
    provider.expect(
        Expectation::token_requests("app")
            .times(0)
            .named("no refresh here"),
    );
    assert_eq!(token_request(&provider, "app-secret").await, 200);
}

/// The tally starts when the expectation is set, and neither an admin
/// reset (which clears the ledger) nor a key rotation loses a request.
#[tokio::test]
async fn the_tally_starts_at_registration_and_survives_a_reset() {
    let provider = provider().await;
    assert_eq!(token_request(&provider, "app-secret").await, 200);
    provider.expect(Expectation::token_requests("app").times(2));
    provider.verify().unwrap_err();
    assert_eq!(token_request(&provider, "app-secret").await, 200);
    provider.admin().reset().await.unwrap();
    provider
        .admin()
        .rotate_keys("default", &RotateKeys::default())
        .await
        .unwrap();
    assert_eq!(token_request(&provider, "app-secret").await, 200);
    provider.verify().unwrap();
    // The ledger itself lost the first two.
    assert_eq!(
        provider
            .ledger()
            .query(&mock_provider::ledger::LedgerFilter {
                client_id: Some("app".into()),
                ..Default::default()
            })
            .len(),
        1
    );
}

#[tokio::test]
async fn an_expectation_can_be_narrowed_to_an_issuer() {
    let provider = provider().await;
    provider.expect(
        Expectation::token_requests("app")
            .issuer("elsewhere")
            .times(..=0),
    );
    provider.expect(
        Expectation::token_requests("app")
            .issuer("default")
            .times(1..=2),
    );
    assert_eq!(token_request(&provider, "app-secret").await, 200);
    provider.verify().unwrap();
}
