//! The admin state page for people, over real sockets: what it shows
//! (issuers and keys, clients, token families, faults, the ledger with
//! fingerprints only, counters), escaping, the admin guard, and its Reset
//! form: it resets with the page's token from the same site and is refused
//! (403, nothing reset) without it or from another site.

mod support;

use mock_provider::admin::SeedGrant;
use mock_provider::faults::{Endpoint, FaultAction, FaultRule};
use mock_provider::ledger::LedgerFilter;
use mock_provider::{ClientConfig, MockProvider, ProviderConfig};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use support::{APP, REDIRECT, code_flow_tokens, http, post_form, start_provider};

/// A request header, name and value.
type Header<'a> = (&'a str, &'a str);

async fn get_page(provider: &MockProvider) -> (StatusCode, HeaderMap, String) {
    let r = http()
        .get(format!("{}/__admin/state", provider.base_url()))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

/// The Reset form's token, from the page.
fn reset_token(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

async fn post_reset(
    provider: &MockProvider,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let form: Vec<(&str, &str)> = token.map(|t| ("csrf", t)).into_iter().collect();
    let mut request = http()
        .post(format!("{}/__admin/state/reset", provider.base_url()))
        .form(&form);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let h = r.headers().clone();
    (status, h, r.text().await.unwrap())
}

fn slowdown() -> FaultRule {
    FaultRule::new(
        Endpoint::Token,
        FaultAction::Latency {
            millis: 1,
            jitter_millis: 0,
        },
    )
    .client("marker-client")
}

/// A provider with a family that rotated once, a seeded grant, a fault, and
/// a client whose name has markup.
async fn busy_provider() -> (MockProvider, String, String) {
    let provider = start_provider().await;
    let issuer = provider.issuer_url("default").unwrap();
    let h = http();
    let tokens = code_flow_tokens(&h, &issuer, &[("login_hint", "bob")]).await;
    let refresh = tokens.str("refresh_token").to_owned();
    let rotated = post_form(
        &h,
        &issuer,
        "token",
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    let admin = provider.admin();
    admin
        .seed_grant(
            "default",
            &SeedGrant {
                client_id: APP.0.into(),
                subject: Some("seeded-user".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    admin.add_fault(&slowdown()).await.unwrap();
    admin
        .create_client(
            "default",
            &ClientConfig::public("marked-up")
                .redirect_uri(REDIRECT)
                .client_name("<img src=x onerror=alert(1)>"),
        )
        .await
        .unwrap();
    (provider, refresh, rotated.str("refresh_token").to_owned())
}

#[tokio::test]
async fn the_page_shows_issuers_clients_families_faults_ledger_and_counters() {
    let (provider, refresh, rotated) = busy_provider().await;
    // The page shows keys without waiting for them; these exist by now.
    for issuer in provider.issuers() {
        issuer.keys().await.unwrap();
    }
    let (status, headers, page) = get_page(&provider).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");

    // Issuers with their keys.
    for issuer in provider.issuers() {
        let kid = issuer.keys().await.unwrap().active().kid().to_owned();
        assert!(page.contains(&kid), "kid of {} missing", issuer.name());
    }
    assert!(page.contains("RS256") && page.contains("ES256"));
    // Clients, escaped.
    assert!(page.contains("<code>app</code>"));
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(
        !page.contains("<img"),
        "markup from a client reached the page"
    );
    // The family of the code flow: user bob, rotated once; and the seeded one.
    let families = &page[page.find("id=\"families\"").expect("families table")..];
    let families = &families[..families.find("</table>").unwrap()];
    let bob_row = families
        .split("<tr>")
        .find(|row| row.contains("<td>bob</td>"))
        .unwrap_or_else(|| panic!("no family of bob in {families}"));
    let cells: Vec<&str> = bob_row
        .split("<td>")
        .skip(1)
        .map(|c| c.split("</td>").next().unwrap())
        .collect();
    // issuer, family, client, subject, scope, created, rotations, live
    // refresh tokens, access tokens, revoked
    assert_eq!(cells[0], "default", "{bob_row}");
    assert_eq!(cells[2], "<code>app</code>", "{bob_row}");
    assert_eq!(cells[6], "1", "one rotation: {bob_row}");
    assert_eq!(cells[7], "1", "one live refresh token: {bob_row}");
    assert_eq!(cells[8], "2", "two access tokens: {bob_row}");
    assert_eq!(cells[9], "no", "not revoked: {bob_row}");
    assert!(families.contains("seeded-user"));
    // The fault in force.
    let faults = &page[page.find("id=\"faults\"").expect("faults table")..];
    assert!(faults.contains("latency") && faults.contains("marker-client"));
    // Ledger (fingerprints only) and counters.
    assert!(page.contains("id=\"ledger\""));
    assert!(page.contains("sha256:"), "fingerprints shown");
    assert!(
        !page.contains(&refresh) && !page.contains(&rotated),
        "a token value reached the page"
    );
    assert!(page.contains("id=\"counters\""));
}

#[tokio::test]
async fn reset_form_with_the_token_resets_and_redirects_back() {
    let (provider, refresh, _) = busy_provider().await;
    let (_, _, page) = get_page(&provider).await;
    let token = reset_token(&page);
    let own_origin = provider.base_url().to_owned();
    let (status, headers, body) = post_reset(
        &provider,
        Some(&token),
        &[
            ("origin", own_origin.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(headers[header::LOCATION], "/__admin/state");

    let admin = provider.admin();
    assert!(admin.faults().await.unwrap().is_empty());
    assert!(
        admin
            .ledger(&LedgerFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !admin
            .clients("default")
            .await
            .unwrap()
            .iter()
            .any(|c| c.client_id == "marked-up")
    );
    let issuer = provider.issuer_url("default").unwrap();
    let after = post_form(
        &http(),
        &issuer,
        "token",
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(after.error(), Some("invalid_grant"), "grants are gone");
    let (_, _, page) = get_page(&provider).await;
    assert!(page.contains("no token families"));
    // A non-browser client (no Origin) with the token may reset too.
    let (status, _, _) = post_reset(&provider, Some(&token), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn reset_without_the_token_or_from_another_site_is_refused() {
    let (provider, _, _) = busy_provider().await;
    let (_, _, page) = get_page(&provider).await;
    let token = reset_token(&page);
    let cross_site = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    let own_origin = provider.base_url().to_owned();
    let same_site = [
        ("origin", own_origin.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    // (token, headers, what the refusal names)
    let cases: Vec<(Option<&str>, &[Header], &str)> = vec![
        (None, &cross_site, "cross-site"),
        (Some(&token), &cross_site, "cross-site"),
        (Some(&token), &[("origin", "null")], "cross-site"),
        (
            Some(&token),
            &[("sec-fetch-site", "same-site")],
            "cross-site",
        ),
        (None, &same_site, "no CSRF token"),
        (Some("guessed"), &same_site, "not the one issued"),
        (None, &[], "no CSRF token"),
    ];
    for (token, headers, words) in cases {
        let (status, h, body) = post_reset(&provider, token, headers).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{token:?} {headers:?}: {body}"
        );
        assert!(h.get(header::LOCATION).is_none());
        assert!(body.contains(words), "`{words}` not in {body}");
    }
    // Nothing was reset.
    let admin = provider.admin();
    assert_eq!(admin.faults().await.unwrap().len(), 1);
    assert!(
        !admin
            .ledger(&LedgerFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_page_obeys_the_admin_guard() {
    let config = ProviderConfig::from_toml_str("[admin]\nsecret = \"let-me-in\"\n").unwrap();
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let url = format!("{}/__admin/state", provider.base_url());
    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http()
        .get(&url)
        .bearer_auth("let-me-in")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let token = reset_token(&page);
    // The Reset form is behind the same guard.
    let r = http()
        .post(format!("{}/__admin/state/reset", provider.base_url()))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Admin API off: no page.
    let config = ProviderConfig::from_toml_str("[admin]\nenabled = false\n").unwrap();
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let r = http()
        .get(format!("{}/__admin/state", provider.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
