//! The admin API is safe from web pages the operator opens: cross-site
//! posts, non-JSON posts and requests under a foreign `Host` (DNS
//! rebinding) are refused on every route, reads included, and change
//! nothing. Over real sockets, with the bodies a browser would send.

mod support;

use mock_provider::ledger::LedgerFilter;
use mock_provider::{MockProvider, ProviderConfig};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HOST, ORIGIN};
use serde_json::{Value, json};
use support::http;

/// The state-changing requests a page would try, as (path, JSON body).
fn attacks() -> Vec<(&'static str, Value)> {
    vec![
        (
            "faults",
            json!({"endpoint": "token", "action": {"kind": "oauth_error", "error": "invalid_grant"}}),
        ),
        (
            "issuers/default/clients",
            json!({"client_id": "evil", "client_secret": "known", "redirect_uris": ["https://evil.example/cb"]}),
        ),
        ("issuers/default/tokens", json!({"subject": "victim"})),
        ("reset", json!({})),
    ]
}

async fn post(
    base: &str,
    path: &str,
    body: &Value,
    content_type: &str,
    extra: &[(reqwest::header::HeaderName, &str)],
) -> (StatusCode, Value) {
    let mut req = http()
        .post(format!("{base}/__admin/{path}"))
        .header(CONTENT_TYPE, content_type)
        .body(body.to_string());
    for (name, value) in extra {
        req = req.header(name.clone(), *value);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Nothing the refused requests tried is there: no fault, no `evil`
/// client, no admin mint in the ledger, and the token grant made before
/// is still in the ledger (no reset).
async fn assert_untouched(provider: &MockProvider) {
    let admin = provider.admin();
    assert!(
        admin.faults().await.unwrap().is_empty(),
        "a fault was added"
    );
    let clients = admin.clients("default").await.unwrap();
    assert!(clients.iter().all(|c| c.client_id != "evil"), "{clients:?}");
    let ledger = admin.ledger(&LedgerFilter::default()).await.unwrap();
    assert_eq!(ledger.len(), 1, "the ledger changed: {ledger:?}");
}

async fn provider_with_one_grant() -> MockProvider {
    let provider = support::start_provider().await;
    let issuer = provider.issuer_url("default").unwrap();
    let a = support::post_form(
        &http(),
        &issuer,
        "token",
        Some(support::APP),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    provider
}

#[tokio::test]
async fn cross_site_text_plain_posts_are_refused() {
    let provider = provider_with_one_grant().await;
    let base = provider.base_url();
    for (path, body) in attacks() {
        // What a cross-site `fetch(.., {mode: "no-cors"})` or form sends.
        let (status, answer) = post(
            base,
            path,
            &body,
            "text/plain",
            &[(ORIGIN, "https://evil.example")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert!(
            answer["error_description"]
                .as_str()
                .unwrap()
                .contains("cross-site"),
            "{answer}"
        );
        // The same with `Sec-Fetch-Site` only (a browser that sends it).
        let (status, _) = post(
            base,
            path,
            &body,
            "text/plain",
            &[(
                reqwest::header::HeaderName::from_static("sec-fetch-site"),
                "cross-site",
            )],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        // A cross-site page may even declare JSON (after a preflight the
        // provider never grants): still refused by its Origin.
        let (status, _) = post(
            base,
            path,
            &body,
            "application/json",
            &[(ORIGIN, "http://127.0.0.1.evil.example")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_untouched(&provider).await;
}

#[tokio::test]
async fn posts_not_declared_json_are_refused() {
    let provider = provider_with_one_grant().await;
    let base = provider.base_url();
    for (path, body) in attacks() {
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let (status, answer) = post(base, path, &body, content_type, &[]).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type}: {answer}"
            );
            assert_eq!(answer["error"], "unsupported_media_type");
        }
        let r = http()
            .post(format!("{base}/__admin/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path}");
    }
    assert_untouched(&provider).await;
    // Declared JSON, from the provider's own origin: accepted.
    let own_origin = base.to_owned();
    let (status, answer) = post(
        base,
        "issuers/default/tokens",
        &json!({"subject": "me"}),
        "application/json",
        &[(ORIGIN, own_origin.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn foreign_host_is_refused_on_reads_and_writes() {
    let provider = provider_with_one_grant().await;
    let base = provider.base_url();
    // DNS rebinding: the page's own name now points at 127.0.0.1.
    for path in ["ledger", "issuers", "faults", "ledger/counters", "state"] {
        let r = http()
            .get(format!("{base}/__admin/{path}"))
            .header(HOST, "attacker.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let text = r.text().await.unwrap();
        assert!(text.contains("attacker.example"), "{text}");
        assert!(!text.contains("sha256:"), "nothing of the ledger: {text}");
    }
    for (path, body) in attacks() {
        let (status, _) = post(
            base,
            path,
            &body,
            "application/json",
            &[(HOST, "attacker.example:9400")],
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_untouched(&provider).await;
    // Loopback names pass.
    let port = url::Url::parse(base).unwrap().port().unwrap();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "localhost".to_owned(),
    ] {
        let r = http()
            .get(format!("{base}/__admin/issuers"))
            .header(HOST, host.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn configured_hosts_are_answered() {
    let config = ProviderConfig::from_toml_str(
        "port = 0\n[admin]\nallowed_hosts = [\"mock.ci.internal\"]\n",
    )
    .unwrap();
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let get = |host: &'static str| {
        let url = format!("{}/__admin/issuers", provider.base_url());
        async move {
            http()
                .get(url)
                .header(HOST, host)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(get("mock.ci.internal:9400").await, StatusCode::OK);
    assert_eq!(get("MOCK.ci.internal").await, StatusCode::OK);
    assert_eq!(get("other.ci.internal").await, StatusCode::FORBIDDEN);
}
