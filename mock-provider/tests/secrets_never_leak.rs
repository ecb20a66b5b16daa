//! No secret or token the provider hands out or is handed ever appears in
//! its log or its ledger: the real binary, at RUST_LOG=debug, through every
//! flow that moves a secret (client credentials, code + PKCE with rotation
//! and a reuse, registration, admin mint and seed, the upstream API,
//! introspection, revocation, a wrong secret). Only fingerprints
//! (`sha256:...`) may stand in for them.

mod support;

use mock_provider::admin::{MintRequest, SeedGrant};
use mock_provider::random_base64url;
use mock_provider::{AdminClient, Secret};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::provider_binary::ServeProcess;
use support::{REDIRECT, http, post_form};

const CLIENT: &str = "leak-app";

/// `mock-provider serve` on `config`, its log at debug.
fn serve(config: &std::path::Path) -> ServeProcess {
    let mut cmd = support::provider_binary::command();
    cmd.args(["serve", "--port", "0", "--config"])
        .arg(config)
        .env("RUST_LOG", "debug");
    ServeProcess::spawn(cmd)
}

/// Every value that must stay secret, with what it is.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: impl Into<String>, value: &str) {
        assert!(value.len() >= 16, "{} is too short to search for", value);
        self.0.push((what.into(), value.to_owned()));
        // A JWT's signature alone would be a leak as well.
        let parts: Vec<&str> = value.split('.').collect();
        if parts.len() == 3 && parts[2].len() >= 16 {
            self.0.push((
                format!("signature of {}", self.0.last().unwrap().0),
                parts[2].to_owned(),
            ));
        }
    }

    fn assert_absent(&self, place: &str, text: &str) {
        let leaked: Vec<&str> = self
            .0
            .iter()
            .filter(|(_, v)| text.contains(v.as_str()))
            .map(|(what, _)| what.as_str())
            .collect();
        assert!(leaked.is_empty(), "found in the {place}: {leaked:?}");
    }
}

async fn upstream(api: &str, token: &str) -> StatusCode {
    http()
        .get(format!("{api}/resource"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_or_token_reaches_the_log_or_the_ledger() {
    let client_secret = format!("client-secret-{}", random_base64url(24));
    let admin_secret = format!("admin-secret-{}", random_base64url(24));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("provider.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[admin]
secret = "{admin_secret}"

[[issuer]]
name = "default"

[[issuer.client]]
client_id = "{CLIENT}"
client_secret = "{client_secret}"
redirect_uris = ["{REDIRECT}"]
grant_types = ["authorization_code", "refresh_token", "client_credentials"]
"#
        ),
    )
    .unwrap();
    let served = serve(&config);
    let base = served.base_url().to_owned();
    let issuer = format!("{base}/default");
    let api = format!("{issuer}/api");
    let creds = (CLIENT, client_secret.as_str());
    let admin = AdminClient::new(&base).with_secret(Secret::new(admin_secret.clone()));
    let mut secrets = Secrets::default();
    secrets.add("client secret", &client_secret);
    secrets.add("admin secret", &admin_secret);

    // client_credentials.
    let cc = post_form(
        &http(),
        &issuer,
        "token",
        Some(creds),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(cc.status, StatusCode::OK, "{cc:?}");
    let cc_token = cc.str("access_token").to_owned();
    secrets.add("client_credentials access token", &cc_token);

    // A wrong secret: refused, and not logged either.
    let wrong = format!("wrong-secret-{}", random_base64url(24));
    secrets.add("wrong client secret", &wrong);
    let refused = post_form(
        &http(),
        &issuer,
        "token",
        Some((CLIENT, &wrong)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(refused.error(), Some("invalid_client"));

    // Code + PKCE, then rotation, then a reuse (RFC 9700 4.14.2).
    let (code, verifier) = support::authorization_code(&http(), &issuer, CLIENT, &[]).await;
    secrets.add("authorization code", &code);
    secrets.add("PKCE verifier", &verifier);
    let tokens = post_form(
        &http(),
        &issuer,
        "token",
        Some(creds),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{tokens:?}");
    let code_access = tokens.str("access_token").to_owned();
    let r1 = tokens.str("refresh_token").to_owned();
    secrets.add("code flow access token", &code_access);
    secrets.add("first refresh token", &r1);
    // A second code flow so a live family remains after the reuse.
    let (code2, verifier2) = support::authorization_code(&http(), &issuer, CLIENT, &[]).await;
    secrets.add("second authorization code", &code2);
    secrets.add("second PKCE verifier", &verifier2);
    let tokens2 = post_form(
        &http(),
        &issuer,
        "token",
        Some(creds),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier2),
        ],
    )
    .await;
    assert_eq!(tokens2.status, StatusCode::OK, "{tokens2:?}");
    secrets.add("second code flow access token", tokens2.str("access_token"));
    secrets.add(
        "second code flow refresh token",
        tokens2.str("refresh_token"),
    );
    let rotated = post_form(
        &http(),
        &issuer,
        "token",
        Some(creds),
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    let refreshed_access = rotated.str("access_token").to_owned();
    let r2 = rotated.str("refresh_token").to_owned();
    assert_ne!(r1, r2);
    secrets.add("refreshed access token", &refreshed_access);
    secrets.add("rotated refresh token", &r2);
    let reuse = post_form(
        &http(),
        &issuer,
        "token",
        Some(creds),
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(reuse.error(), Some("invalid_grant"), "{reuse:?}");

    // The code again, after all that: refused (RFC 6749 4.1.2).
    let replay = post_form(
        &http(),
        &issuer,
        "token",
        Some(creds),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(replay.error(), Some("invalid_grant"));
    // Dynamic registration (RFC 7591), and the registered client at work.
    let registered: Value = http()
        .post(format!("{issuer}/register"))
        .json(&json!({
            "client_name": "leak test",
            "grant_types": ["client_credentials"],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dcr_id = registered["client_id"].as_str().unwrap().to_owned();
    let dcr_secret = registered["client_secret"].as_str().unwrap().to_owned();
    secrets.add("registered client secret", &dcr_secret);
    let dcr = post_form(
        &http(),
        &issuer,
        "token",
        Some((&dcr_id, &dcr_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(dcr.status, StatusCode::OK, "{dcr:?}");
    let dcr_token = dcr.str("access_token").to_owned();
    secrets.add("registered client's access token", &dcr_token);

    // The admin API: a minted token and a seeded grant, refreshed.
    let minted = admin
        .mint_token("default", &MintRequest::default())
        .await
        .unwrap()
        .access_token;
    secrets.add("minted access token", &minted);
    let seeded = admin
        .seed_grant(
            "default",
            &SeedGrant {
                client_id: CLIENT.into(),
                subject: Some("bob".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    secrets.add("seeded refresh token", &seeded.refresh_token);
    let from_seed = post_form(
        &http(),
        &issuer,
        "token",
        Some(creds),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &seeded.refresh_token),
        ],
    )
    .await;
    assert_eq!(from_seed.status, StatusCode::OK, "{from_seed:?}");
    let seed_access = from_seed.str("access_token").to_owned();
    secrets.add("seeded grant's access token", &seed_access);
    secrets.add(
        "seeded grant's rotated refresh token",
        from_seed.str("refresh_token"),
    );

    // The upstream API, with good and refused tokens.
    assert_eq!(upstream(&api, &cc_token).await, StatusCode::OK);
    assert_eq!(upstream(&api, &minted).await, StatusCode::OK);
    assert_eq!(upstream(&api, &dcr_token).await, StatusCode::OK);
    assert_eq!(upstream(&api, &seed_access).await, StatusCode::OK);
    // Revoked with its family by the reuse.
    assert_eq!(
        upstream(&api, &refreshed_access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(upstream(&api, &r2).await, StatusCode::UNAUTHORIZED);

    // Introspection and revocation (RFC 7662, RFC 7009) see tokens too.
    let doc = post_form(
        &http(),
        &issuer,
        "introspect",
        Some(creds),
        &[("token", &seed_access)],
    )
    .await;
    assert_eq!(doc.body["active"], true, "{doc:?}");
    let revoked = post_form(
        &http(),
        &issuer,
        "revoke",
        Some(creds),
        &[("token", &cc_token)],
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK, "{revoked:?}");
    assert_eq!(upstream(&api, &cc_token).await, StatusCode::UNAUTHORIZED);

    // The whole ledger and the counters, as JSON from the admin API.
    let fetch = |path: &str| {
        let url = format!("{base}/__admin/{path}");
        let secret = admin_secret.clone();
        async move {
            let r = http().get(url).bearer_auth(secret).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };
    let ledger = fetch("ledger").await;
    let counters = fetch("ledger/counters").await;
    let entries: Vec<Value> = serde_json::from_str(&ledger).unwrap();
    assert!(entries.len() >= 20, "{} entries", entries.len());
    let counters_json: Value = serde_json::from_str(&counters).unwrap();
    assert_eq!(counters_json["default"][CLIENT]["reuse_detected"], 1);

    let (status, log) = served.terminate();
    assert!(status.success(), "{status:?}");

    // Non-empty, and using fingerprints where a token is meant.
    assert!(ledger.contains("\"sha256:"), "{ledger}");
    assert!(log.contains("sha256:"), "{log}");
    assert!(log.contains("refresh token reuse"), "{log}");
    assert!(log.contains("token issued"), "{log}");
    assert!(log.contains("client registered"), "{log}");
    assert!(
        log.lines().count() >= 10,
        "the log has {} lines",
        log.lines().count()
    );

    secrets.assert_absent("ledger", &ledger);
    secrets.assert_absent("counters", &counters);
    secrets.assert_absent("log", &log);
}
