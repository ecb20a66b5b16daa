//! HTTPS: a client that trusts only the provider's generated CA reaches it;
//! one that does not trust it fails. In-process, through the binary's
//! `--tls --ca-out`, and with a user-supplied certificate.

mod support;

use mock_provider::MockProvider;

fn trusting(ca_pem: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap()
}

async fn metadata_status(client: &reqwest::Client, base: &str) -> Result<u16, reqwest::Error> {
    client
        .get(format!(
            "{base}/.well-known/oauth-authorization-server/default"
        ))
        .send()
        .await
        .map(|r| r.status().as_u16())
}

#[tokio::test]
async fn in_process_https_is_trusted_only_through_its_ca() {
    let provider = MockProvider::builder().tls().start().await.unwrap();
    let base = provider.base_url().to_owned();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let ca = provider.ca_pem().expect("generated CA");

    assert_eq!(metadata_status(&trusting(ca), &base).await.unwrap(), 200);
    // The issuer identifier and endpoints are https too.
    let metadata: serde_json::Value = trusting(ca)
        .get(format!(
            "{base}/.well-known/oauth-authorization-server/default"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["token_endpoint"], format!("{base}/default/token"));

    // The certificate names localhost too.
    let localhost = base.replace("127.0.0.1", "localhost");
    assert_eq!(
        metadata_status(&trusting(ca), &localhost).await.unwrap(),
        200
    );

    // Without the CA: a TLS failure, not an answer.
    let err = metadata_status(&reqwest::Client::new(), &base)
        .await
        .unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    // And another CA does not help.
    let other = MockProvider::builder().tls().start().await.unwrap();
    assert!(
        metadata_status(&trusting(other.ca_pem().unwrap()), &base)
            .await
            .is_err()
    );
    // The provider's own admin client reaches it over HTTPS.
    let issuers = provider.admin().issuers().await.expect("admin over TLS");
    assert_eq!(issuers[0].issuer, format!("{base}/default"));
    let token = provider
        .admin()
        .mint_token("default", &Default::default())
        .await
        .expect("a mint over TLS");
    assert!(!token.access_token.is_empty());
}

#[tokio::test]
async fn binary_writes_the_ca_it_serves_with() {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let mut cmd = support::provider_binary::command();
    cmd.args(["serve", "--port", "0", "--tls", "--ca-out"])
        .arg(&ca_path);
    let served = support::provider_binary::ServeProcess::spawn(cmd);
    let base = served.base_url().to_owned();
    assert!(base.starts_with("https://"), "{base}");
    let ca = std::fs::read_to_string(&ca_path).unwrap();
    // No private key was written next to it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let status = metadata_status(&trusting(&ca), &base).await;
    let untrusted = metadata_status(&reqwest::Client::new(), &base).await;
    drop(served);
    assert_eq!(status.unwrap(), 200);
    assert!(untrusted.is_err());
}

#[tokio::test]
async fn user_supplied_certificate_is_served() {
    // A CA and leaf made here stand in for the user's own.
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), leaf_key.serialize_pem()).unwrap();
    let config = mock_provider::ProviderConfig::from_toml_str(&format!(
        "[tls]\nenabled = true\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    ))
    .unwrap();
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    assert!(provider.ca_pem().is_none(), "nothing was generated");
    let status = metadata_status(&trusting(&ca.pem()), provider.base_url()).await;
    assert_eq!(status.unwrap(), 200);
}

#[tokio::test]
async fn unusable_certificate_files_are_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    let config = mock_provider::ProviderConfig::from_toml_str(&format!(
        "[tls]\nenabled = true\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    ))
    .unwrap();
    let err = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tls:"), "{err}");
}
