//! Resetting one issuer (`POST /__admin/issuers/{issuer}/reset`): its
//! faults, clients and grants go back to the start while the other
//! issuers, and the ledger, are left as they are; so a test (or one of the
//! conformance suite's lanes) can start clean on its own issuer while
//! others are busy.

mod support;

use mock_provider::faults::{Endpoint, FaultAction, FaultRule};
use mock_provider::ledger::LedgerFilter;
use mock_provider::{AdminError, ClientConfig, GrantType};
use reqwest::StatusCode;
use support::{APP, http, post_form};

fn unavailable(issuer: &str) -> FaultRule {
    FaultRule::new(
        Endpoint::Token,
        FaultAction::HttpStatus {
            status: 503,
            retry_after_secs: None,
        },
    )
    .issuer(issuer)
}

async fn has_lane_client(admin: &mock_provider::AdminClient, issuer: &str) -> bool {
    admin
        .clients(issuer)
        .await
        .unwrap()
        .iter()
        .any(|c| c.client_id == "lane-client")
}

#[tokio::test]
async fn one_issuer_resets_while_the_other_keeps_its_state() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let names: Vec<String> = provider
        .issuers()
        .iter()
        .map(|i| i.name().to_owned())
        .collect();
    let [mine, theirs] = [names[0].as_str(), names[1].as_str()];
    for name in [mine, theirs] {
        admin.add_fault(&unavailable(name)).await.unwrap();
        admin
            .create_client(
                name,
                &ClientConfig::confidential("lane-client", "pw")
                    .grant_types([GrantType::ClientCredentials]),
            )
            .await
            .unwrap();
    }
    let token = |issuer: String| async move {
        post_form(
            &http(),
            &issuer,
            "token",
            Some(APP),
            &[("grant_type", "client_credentials")],
        )
        .await
        .status
    };
    let mine_url = provider.issuer_url(mine).unwrap();
    let theirs_url = provider.issuer_url(theirs).unwrap();
    assert_eq!(
        token(mine_url.clone()).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let ledger_before = admin.ledger(&LedgerFilter::default()).await.unwrap().len();

    admin.reset_issuer(mine).await.unwrap();

    // Mine: no fault, no created client.
    assert_eq!(token(mine_url).await, StatusCode::OK);
    assert!(!has_lane_client(&admin, mine).await);
    // Theirs: fault and client still there.
    assert_eq!(token(theirs_url).await, StatusCode::SERVICE_UNAVAILABLE);
    assert!(has_lane_client(&admin, theirs).await);
    let faults = admin.faults().await.unwrap();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0].issuer.as_deref(), Some(theirs));
    // The ledger is shared: nothing of it was cleared.
    let ledger_after = admin.ledger(&LedgerFilter::default()).await.unwrap().len();
    assert!(
        ledger_after > ledger_before,
        "{ledger_before} -> {ledger_after}"
    );
}

#[tokio::test]
async fn resetting_an_unknown_issuer_is_a_404_naming_it() {
    let provider = support::start_provider().await;
    match provider.admin().reset_issuer("nobody").await {
        Err(e @ AdminError::Refused { .. }) => {
            assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
            assert!(e.to_string().contains("nobody"), "{e}");
        }
        other => panic!("expected a 404, got {other:?}"),
    }
}
