//! `POST /__admin/reset` returns the provider to its state at start: the
//! configured faults, keys and clients, with no grants, ledger or counters.

mod support;

use mock_provider::admin::{RotateKeys, SeedGrant};
use mock_provider::faults::{Endpoint, FaultAction, FaultRule};
use mock_provider::ledger::LedgerFilter;
use mock_provider::{ClientConfig, GrantType, MockProvider, ProviderConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::admin_api::{client_credentials, introspect, jwks_kids, refresh};
use support::{APP, http, jwt_header, post_form};

#[tokio::test]
async fn reset_returns_to_the_state_at_start() {
    let mut config = ProviderConfig {
        issuers: vec![support::test_issuer("default")],
        ..Default::default()
    };
    let config_fault = FaultRule::new(
        Endpoint::Introspect,
        FaultAction::Latency {
            millis: 1,
            jitter_millis: 0,
        },
    );
    config.faults.push(config_fault.clone());
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let initial_keys = admin.keys("default").await.unwrap();
    let configured: Vec<String> = admin
        .clients("default")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(admin.faults().await.unwrap().len(), 1);

    // Change everything.
    admin
        .add_fault(&FaultRule::new(Endpoint::Jwks, FaultAction::EmptyBody))
        .await
        .unwrap();
    admin
        .create_client(
            "default",
            &ClientConfig::confidential("extra", "extra-secret")
                .grant_types([GrantType::ClientCredentials]),
        )
        .await
        .unwrap();
    let registered = http()
        .post(format!("{issuer}/register"))
        .json(&json!({"grant_types": ["client_credentials"], "client_name": "dcr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let registered: Value = registered.json().await.unwrap();
    let dcr_id = registered["client_id"].as_str().unwrap().to_owned();
    let dcr_secret = registered["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        admin.clients("default").await.unwrap().len(),
        configured.len() + 2
    );
    let seeded = admin
        .seed_grant(
            "default",
            &SeedGrant {
                client_id: APP.0.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        introspect(&issuer, &seeded.refresh_token).await["active"],
        true
    );
    admin
        .rotate_keys("default", &RotateKeys::with_grace(60))
        .await
        .unwrap();
    assert!(
        !admin
            .ledger(&LedgerFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    admin.reset().await.unwrap();

    // The ledger is empty (admin calls are not recorded).
    assert!(
        admin
            .ledger(&LedgerFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(admin.counters().await.unwrap().is_empty());
    // Faults: the configuration's, no others.
    let faults = admin.faults().await.unwrap();
    assert_eq!(faults.len(), 1);
    assert_eq!(
        FaultRule {
            id: 0,
            ..faults[0].clone()
        },
        config_fault
    );
    // Keys: the initial one, alone.
    assert_eq!(admin.keys("default").await.unwrap(), initial_keys);
    assert_eq!(jwks_kids(&issuer).await, initial_keys.published_kids);
    // Clients: configured ones kept, created and registered ones gone.
    let after: Vec<String> = admin
        .clients("default")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(after, configured);
    for (id, secret) in [
        ("extra", "extra-secret"),
        (dcr_id.as_str(), dcr_secret.as_str()),
    ] {
        let a = post_form(
            &http(),
            &issuer,
            "token",
            Some((id, secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(a.error(), Some("invalid_client"), "{id}: {a:?}");
    }
    // Grants: gone.
    let answer = refresh(&issuer, APP, &seeded.refresh_token).await;
    assert_eq!(answer.error(), Some("invalid_grant"), "{answer:?}");
    // And the provider works as at start.
    let token = client_credentials(&issuer, APP).await;
    assert_eq!(jwt_header(&token)["kid"], initial_keys.active_kid);
}
