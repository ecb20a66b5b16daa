//! The library API as a Rust test uses it: start, several issuers, builder
//! replacement of the default issuer, stop on drop.

use mock_provider::{ClientConfig, GrantType, IssuerConfig, MockProvider, SigningAlgorithm};

#[tokio::test]
async fn default_provider_serves_one_issuer_on_loopback() {
    let provider = MockProvider::start().await.unwrap();
    assert!(provider.addr().ip().is_loopback());
    let issuers: Vec<String> = provider
        .issuers()
        .iter()
        .map(|i| i.name().to_owned())
        .collect();
    assert_eq!(issuers, ["default"]);
    let index: serde_json::Value = reqwest::get(provider.base_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        index["issuers"][0]["issuer"],
        provider.issuer_url("default").unwrap()
    );
}

#[tokio::test]
async fn builder_replaces_and_adds_issuers() {
    let provider = MockProvider::builder()
        .issuer(IssuerConfig::new("default").default_subject("bob"))
        .issuer(IssuerConfig::new("es").signing_algorithm(SigningAlgorithm::Es256))
        .client(
            "es",
            ClientConfig::confidential("svc", "pw").grant_types([GrantType::ClientCredentials]),
        )
        .start()
        .await
        .unwrap();
    assert_eq!(provider.issuers().len(), 2);
    assert_eq!(
        provider
            .issuer("default")
            .unwrap()
            .settings()
            .default_subject,
        "bob"
    );
    let jwks: serde_json::Value =
        reqwest::get(format!("{}/jwks", provider.issuer_url("es").unwrap()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    assert_eq!(jwks["keys"][0]["crv"], "P-256");
}

#[tokio::test]
async fn invalid_builder_config_is_a_typed_error() {
    let err = MockProvider::builder()
        .client(
            "default",
            ClientConfig::public("web").grant_types([GrantType::ClientCredentials]),
        )
        .start()
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("issuer[0].client[0].grant_types"),
        "{message}"
    );
    assert!(matches!(err, mock_provider::StartError::Config(_)));
}

#[tokio::test]
async fn dropping_the_provider_stops_it() {
    let provider = MockProvider::start().await.unwrap();
    let url = format!("{}/default/jwks", provider.base_url());
    assert!(reqwest::get(&url).await.unwrap().status().is_success());
    drop(provider);
    // The listener is gone: connecting fails instead of hanging.
    let mut refused = false;
    for _ in 0..50 {
        if reqwest::Client::new()
            .get(&url)
            .timeout(std::time::Duration::from_millis(500))
            .send()
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused, "provider still answers after drop");
}

#[tokio::test]
async fn the_issuers_asked_for_are_the_issuers_served() {
    // Without `issuer`, the implicit `default`.
    let plain = MockProvider::start().await.unwrap();
    assert!(plain.issuer_url("default").is_some());
    // With it, exactly those: no `default` beside them.
    let chosen = MockProvider::builder()
        .issuer(mock_provider::IssuerConfig::new("tenant-a"))
        .issuer(mock_provider::IssuerConfig::new("tenant-b"))
        .start()
        .await
        .unwrap();
    let mut names: Vec<String> = chosen
        .issuers()
        .iter()
        .map(|i| i.name().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["tenant-a", "tenant-b"]);
    assert!(chosen.issuer_url("default").is_none());
}

/// Keys are generated after the start returns (RSA-2048 takes 50-100 ms):
/// requests sent the moment the provider is up wait for them, and every
/// token they get carries a key the JWKS publishes and verifies with it.
#[tokio::test]
async fn requests_at_start_wait_for_generated_keys_and_never_see_another() {
    let provider = MockProvider::builder()
        .issuer(
            IssuerConfig::new("default")
                .staged_key(SigningAlgorithm::Rs256)
                .client(
                    ClientConfig::confidential("svc", "pw")
                        .grant_types([GrantType::ClientCredentials]),
                ),
        )
        .start()
        .await
        .unwrap();
    let issuer = provider.issuer_url("default").unwrap();
    let http = reqwest::Client::new();
    let token = |http: reqwest::Client, issuer: String| async move {
        let r = http
            .post(format!("{issuer}/token"))
            .basic_auth("svc", Some("pw"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    let jwks = async {
        let r = http.get(format!("{issuer}/jwks")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json::<serde_json::Value>().await.unwrap()
    };
    let metadata = async {
        http.get(format!(
            "{}/.well-known/oauth-authorization-server/default",
            provider.base_url()
        ))
        .send()
        .await
        .unwrap()
        .status()
    };
    let requests: Vec<_> = (0..8)
        .map(|_| tokio::spawn(token(http.clone(), issuer.clone())))
        .collect();
    let (jwks, metadata) = tokio::join!(jwks, metadata);
    let mut tokens = Vec::new();
    for r in requests {
        tokens.push(r.await.unwrap());
    }
    assert_eq!(metadata, 200);
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(published.len(), 2, "the active key and the staged one");
    let keys = provider.issuer("default").unwrap().keys().await.unwrap();
    assert_eq!(published[0], keys.active().kid());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for t in &tokens {
        let header = mock_provider::DecodedJws::parse(t).unwrap().header;
        assert_eq!(header["kid"], published[0], "signed with the active key");
        assert!(
            mock_provider::AccessTokenClaims::verify(t, &keys, now).is_some(),
            "verifies with the published keys"
        );
    }
}
