//! The consent page for people, over real sockets: what it shows (escaped),
//! approve and deny, the CSRF and single-use rules of its form, consent per
//! client, the headless default left alone, where the setting comes from
//! (issuer, client, builder, `--interactive`, admin API), the ledger
//! record, and config errors for bad values.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use mock_provider::ledger::{ConsentDecision, LedgerFilter};
use mock_provider::{ClientConfig, Consent, Endpoint, IssuerConfig, MockProvider, ProviderConfig};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use support::{
    APP, PUBLIC_APP, REDIRECT, RESOURCE, authorize, http, jwt_payload, pkce_pair, post_form,
    test_issuer,
};
use url::Url;

/// A public client with markup in its name.
const SCRIPTED: &str = "scripted-app";
const SCRIPTED_NAME: &str = "<script>alert(\"x\")</script> & Co";
/// A client that keeps headless approval on an interactive issuer.
const HEADLESS: &str = "headless-app";

fn interactive_issuer(name: &str) -> IssuerConfig {
    test_issuer(name)
        .consent(Consent::Interactive)
        .users(["alice", "bob", "carol"])
        .client(
            ClientConfig::public(SCRIPTED)
                .redirect_uri(REDIRECT)
                .client_name(SCRIPTED_NAME),
        )
        .client(
            ClientConfig::public(HEADLESS)
                .redirect_uri(REDIRECT)
                .consent(Consent::Auto),
        )
}

async fn start() -> MockProvider {
    MockProvider::builder()
        .issuer(interactive_issuer("default"))
        .issuer(test_issuer("plain"))
        .start()
        .await
        .expect("provider starts")
}

/// A consent page as a browser got it.
#[derive(Debug)]
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    pending: String,
    csrf: String,
    /// `name=value` of the CSRF cookie.
    cookie: String,
    verifier: String,
}

/// The value of the hidden input `name`.
fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden `{name}` in {body}"))
        + marker.len();
    body[start..]
        .split('"')
        .next()
        .expect("closing quote")
        .to_owned()
}

/// GETs the authorization endpoint for `client_id` and expects the page.
async fn open(issuer_url: &str, client_id: &str, extra: &[(&str, &str)]) -> Page {
    let (verifier, challenge) = pkce_pair();
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "st-123"),
    ];
    params.extend_from_slice(extra);
    let response = http()
        .get(format!("{issuer_url}/authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "expected the consent page: {body}");
    let cookie = headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a CSRF cookie")
        .to_owned();
    Page {
        status,
        pending: hidden(&body, "pending"),
        csrf: hidden(&body, "csrf"),
        headers,
        body,
        cookie,
        verifier,
    }
}

/// What the consent endpoint answered.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    location: Option<Url>,
    params: HashMap<String, String>,
    body: String,
}

async fn post(
    issuer_url: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
    extra_headers: &[(&str, &str)],
) -> Answer {
    let mut request = http()
        .post(format!("{issuer_url}/authorize/consent"))
        .form(form);
    if let Some(c) = cookie {
        request = request.header(header::COOKIE, c);
    }
    for (k, v) in extra_headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| Url::parse(v).expect("absolute Location"));
    let params = location
        .as_ref()
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    Answer {
        status,
        headers,
        location,
        params,
        body,
    }
}

/// Posts the page's own form with `decision` and `subject`, with the
/// headers a browser adds to a same-origin form post.
async fn decide(issuer_url: &str, page: &Page, decision: &str, subject: &str) -> Answer {
    let origin = Url::parse(issuer_url)
        .unwrap()
        .origin()
        .ascii_serialization();
    post(
        issuer_url,
        &[
            ("pending", page.pending.as_str()),
            ("csrf", page.csrf.as_str()),
            ("subject", subject),
            ("decision", decision),
        ],
        Some(&page.cookie),
        &[
            ("origin", origin.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
    )
    .await
}

/// Asserts a refusal page: `status`, HTML, no redirect, `words` named.
fn assert_refused(answer: &Answer, status: StatusCode, words: &[&str]) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert!(answer.location.is_none(), "a refusal never redirects");
    assert!(
        answer.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        answer.headers
    );
    assert_eq!(answer.headers[header::X_FRAME_OPTIONS], "DENY");
    for w in words {
        assert!(answer.body.contains(w), "`{w}` not in {}", answer.body);
    }
}

async fn token_for(
    issuer_url: &str,
    client: (&str, Option<&str>),
    code: &str,
    verifier: &str,
) -> String {
    let (id, secret) = client;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    if secret.is_none() {
        form.push(("client_id", id));
    }
    let answer = post_form(&http(), issuer_url, "token", secret.map(|s| (id, s)), &form).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    answer.str("access_token").to_owned()
}

#[tokio::test]
async fn page_shows_the_request_with_every_value_escaped() {
    let provider = start().await;
    let issuer = provider.issuer_url("default").unwrap();
    let page = open(
        &issuer,
        SCRIPTED,
        &[
            ("scope", "mcp:tools offline_access"),
            ("resource", RESOURCE),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    let h = &page.headers;
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:8765"),
        "{csp}"
    );
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    // Not `no-referrer`: browsers would then send `Origin: null` with the
    // form, which the CSRF check refuses.
    assert_eq!(h[header::REFERRER_POLICY], "same-origin");
    let set_cookie = h[header::SET_COOKIE].to_str().unwrap();
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/default/authorize",
        "Max-Age=600",
    ] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    assert!(
        set_cookie.contains(&page.csrf),
        "the cookie carries the page's token"
    );

    let body = &page.body;
    assert!(
        !body.contains("<script>"),
        "raw markup from the client: {body}"
    );
    assert!(body.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co"));
    for shown in [
        SCRIPTED,
        REDIRECT,
        "mcp:tools",
        "offline_access",
        RESOURCE,
        issuer.as_str(),
    ] {
        assert!(body.contains(shown), "`{shown}` not shown");
    }
    for user in ["alice", "bob", "carol"] {
        assert!(
            body.contains(&format!("value=\"{user}\"")),
            "{user} not offered"
        );
    }
    assert!(
        body.contains("value=\"alice\" checked"),
        "default subject preselected"
    );
    assert!(body.contains("name=\"other_subject\""));

    // The page is stable apart from the port and the random values.
    let style = &body[body.find("<style>").unwrap()..body.find("</style>").unwrap()];
    let html = body
        .replace(style, "<style>[STYLE]")
        .replace(provider.base_url(), "http://127.0.0.1:[PORT]")
        .replace(&page.pending, "[PENDING]")
        .replace(&page.csrf, "[CSRF]");
    insta::assert_snapshot!("consent_page_html", html);
}

#[tokio::test]
async fn login_hint_is_preselected_and_offered() {
    let provider = start().await;
    let issuer = provider.issuer_url("default").unwrap();
    let page = open(&issuer, APP.0, &[("login_hint", "zed")]).await;
    assert!(page.body.contains("value=\"zed\" checked"), "{}", page.body);
    assert!(!page.body.contains("value=\"alice\" checked"));
}

#[tokio::test]
async fn approve_issues_a_code_for_the_chosen_subject() {
    let provider = start().await;
    let issuer = provider.issuer_url("default").unwrap();

    let page = open(&issuer, APP.0, &[("resource", RESOURCE)]).await;
    let answer = decide(&issuer, &page, "approve", "bob").await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    let location = answer.location.as_ref().unwrap();
    assert!(location.as_str().starts_with(REDIRECT), "{location}");
    assert_eq!(answer.params["state"], "st-123");
    assert_eq!(answer.params["iss"], issuer);
    assert!(!answer.params.contains_key("error"));
    // The CSRF cookie is cleared.
    let cleared = answer.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    let token = token_for(
        &issuer,
        (APP.0, Some(APP.1)),
        &answer.params["code"],
        &page.verifier,
    )
    .await;
    let claims = jwt_payload(&token);
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["client_id"], APP.0);
    assert_eq!(claims["aud"], RESOURCE);

    // A typed user wins over the radio choice.
    let page = open(&issuer, PUBLIC_APP, &[]).await;
    let answer = post(
        &issuer,
        &[
            ("pending", page.pending.as_str()),
            ("csrf", page.csrf.as_str()),
            ("subject", "alice"),
            ("other_subject", "  dora@example.test "),
            ("decision", "approve"),
        ],
        Some(&page.cookie),
        &[],
    )
    .await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    let token = token_for(
        &issuer,
        (PUBLIC_APP, None),
        &answer.params["code"],
        &page.verifier,
    )
    .await;
    assert_eq!(jwt_payload(&token)["sub"], "dora@example.test");
}

#[tokio::test]
async fn deny_sends_access_denied_with_state_and_iss() {
    let provider = start().await;
    let issuer = provider.issuer_url("default").unwrap();
    let page = open(&issuer, APP.0, &[]).await;
    let answer = decide(&issuer, &page, "deny", "alice").await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.body);
    assert!(
        answer
            .location
            .as_ref()
            .unwrap()
            .as_str()
            .starts_with(REDIRECT)
    );
    assert_eq!(answer.params["error"], "access_denied");
    assert_eq!(answer.params["state"], "st-123");
    assert_eq!(answer.params["iss"], issuer);
    assert!(!answer.params.contains_key("code"));
}

#[tokio::test]
async fn csrf_failures_are_refused_and_leave_the_request_waiting() {
    let provider = start().await;
    let issuer = provider.issuer_url("default").unwrap();
    let page = open(&issuer, APP.0, &[]).await;
    let other = open(&issuer, APP.0, &[]).await;
    let form = |csrf: Option<&str>| {
        let mut f = vec![
            ("pending", page.pending.clone()),
            ("subject", "alice".to_owned()),
            ("decision", "approve".to_owned()),
        ];
        if let Some(c) = csrf {
            f.push(("csrf", c.to_owned()));
        }
        f
    };
    let send = async |form: Vec<(&'static str, String)>,
                      cookie: Option<&str>,
                      headers: &[(&str, &str)]| {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post(&issuer, &form, cookie, headers).await
    };

    // Missing token.
    let a = send(form(None), Some(&page.cookie), &[]).await;
    assert_refused(&a, StatusCode::FORBIDDEN, &["no CSRF token"]);
    // Wrong token.
    let a = send(form(Some("not-the-token")), Some(&page.cookie), &[]).await;
    assert_refused(&a, StatusCode::FORBIDDEN, &["CSRF token is not the one"]);
    // The token (and cookie) of another pending request.
    let a = send(form(Some(&other.csrf)), Some(&other.cookie), &[]).await;
    assert_refused(&a, StatusCode::FORBIDDEN, &["CSRF token is not the one"]);
    // The right token, but not from the browser that loaded the page.
    let a = send(form(Some(&page.csrf)), None, &[]).await;
    assert_refused(&a, StatusCode::FORBIDDEN, &["CSRF cookie", "missing"]);
    let forged_cookie = format!("{}=forged", page.cookie.split('=').next().unwrap());
    let a = send(form(Some(&page.csrf)), Some(&forged_cookie), &[]).await;
    assert_refused(&a, StatusCode::FORBIDDEN, &["CSRF cookie does not match"]);
    // Everything right, but the browser says another site posted it.
    let a = send(
        form(Some(&page.csrf)),
        Some(&page.cookie),
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
    )
    .await;
    assert_refused(&a, StatusCode::FORBIDDEN, &["cross-site"]);
    let a = send(
        form(Some(&page.csrf)),
        Some(&page.cookie),
        &[("origin", "null")],
    )
    .await;
    assert_refused(&a, StatusCode::FORBIDDEN, &["cross-site", "Origin: null"]);

    // None of that used the request up: the real form still works, once.
    let a = decide(&issuer, &page, "approve", "carol").await;
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.body);
    assert!(a.params.contains_key("code"));
}

#[tokio::test]
async fn pending_ids_are_single_use() {
    let provider = start().await;
    let issuer = provider.issuer_url("default").unwrap();
    let page = open(&issuer, APP.0, &[]).await;
    assert_eq!(
        decide(&issuer, &page, "approve", "alice").await.status,
        StatusCode::FOUND
    );
    let replay = decide(&issuer, &page, "approve", "alice").await;
    assert_refused(&replay, StatusCode::BAD_REQUEST, &["already answered"]);
    let replay = decide(&issuer, &page, "deny", "alice").await;
    assert_refused(&replay, StatusCode::BAD_REQUEST, &["already answered"]);
}

#[tokio::test]
async fn expired_pending_requests_are_refused() {
    let provider = MockProvider::builder()
        .issuer(interactive_issuer("default").consent_ttl_secs(1))
        .start()
        .await
        .unwrap();
    let issuer = provider.issuer_url("default").unwrap();
    let page = open(&issuer, APP.0, &[]).await;
    assert!(
        page.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=1")
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let a = decide(&issuer, &page, "approve", "alice").await;
    assert_refused(&a, StatusCode::BAD_REQUEST, &["expired"]);
}

#[tokio::test]
async fn malformed_forms_get_a_400_page_naming_the_problem() {
    let provider = start().await;
    let issuer = provider.issuer_url("default").unwrap();
    let page = open(&issuer, APP.0, &[]).await;
    let c = Some(page.cookie.as_str());
    let p = page.pending.as_str();
    let t = page.csrf.as_str();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("csrf", t), ("decision", "approve"), ("subject", "a")],
            "no consent request id",
        ),
        (
            vec![("pending", "made-up"), ("csrf", t), ("decision", "deny")],
            "unknown",
        ),
        (
            vec![("pending", p), ("csrf", t), ("subject", "a")],
            "`decision`",
        ),
        (
            vec![("pending", p), ("csrf", t), ("decision", "maybe")],
            "neither `approve` nor `deny`",
        ),
        (
            vec![("pending", p), ("csrf", t), ("decision", "approve")],
            "choose a user",
        ),
        (
            vec![
                ("pending", p),
                ("csrf", t),
                ("decision", "approve"),
                ("other_subject", "a\u{7}b"),
            ],
            "control characters",
        ),
        (
            vec![
                ("pending", p),
                ("pending", p),
                ("csrf", t),
                ("decision", "deny"),
            ],
            "more than once",
        ),
    ];
    for (form, words) in cases {
        let a = post(&issuer, &form, c, &[]).await;
        assert_refused(&a, StatusCode::BAD_REQUEST, &[words]);
    }
    // Not a form at all.
    let r = http()
        .post(format!("{issuer}/authorize/consent"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // An unknown issuer is the usual 404.
    let r = http()
        .post(format!("{}/nope/authorize/consent", provider.base_url()))
        .form(&[("decision", "deny")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // After all that the page still works.
    assert_eq!(
        decide(&issuer, &page, "deny", "").await.status,
        StatusCode::FOUND
    );
}

#[tokio::test]
async fn consent_for_one_client_never_carries_over_to_another() {
    let provider = start().await;
    let issuer = provider.issuer_url("default").unwrap();
    let a = open(&issuer, APP.0, &[]).await;
    assert_eq!(
        decide(&issuer, &a, "approve", "alice").await.status,
        StatusCode::FOUND
    );
    // Client B, same browser (cookie of A's page sent along): the page again.
    let response = http()
        .get(format!("{issuer}/authorize"))
        .header(header::COOKIE, &a.cookie)
        .query(&[
            ("response_type", "code"),
            ("client_id", PUBLIC_APP),
            ("redirect_uri", REDIRECT),
            ("code_challenge", pkce_pair().1.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "client B must see the page"
    );
    let body = response.text().await.unwrap();
    assert!(body.contains(PUBLIC_APP));
    // And client A asks every time too.
    open(&issuer, APP.0, &[]).await;
    // A pending request of client B cannot be decided at another issuer.
    let b = open(&issuer, PUBLIC_APP, &[]).await;
    let other_issuer = provider.issuer_url("plain").unwrap();
    let answer = decide(&other_issuer, &b, "approve", "alice").await;
    assert_refused(&answer, StatusCode::BAD_REQUEST, &["unknown"]);
}

#[tokio::test]
async fn request_errors_behave_as_without_the_page() {
    let provider = start().await;
    let issuer = provider.issuer_url("default").unwrap();
    let (_, challenge) = pkce_pair();
    // Unknown client and unregistered redirect URI: a 400 page, no redirect.
    let a = authorize(
        &http(),
        &issuer,
        &[
            ("response_type", "code"),
            ("client_id", "nobody"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.location.is_none());
    let a = authorize(
        &http(),
        &issuer,
        &[
            ("response_type", "code"),
            ("client_id", APP.0),
            ("redirect_uri", "http://127.0.0.1:8765/elsewhere"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    // Everything else goes to the redirect URI before any page.
    let a = authorize(
        &http(),
        &issuer,
        &[
            ("response_type", "code"),
            ("client_id", APP.0),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::FOUND);
    assert_eq!(a.params["error"], "invalid_request");
    assert_eq!(a.params["state"], "s");
    let a = authorize(
        &http(),
        &issuer,
        &[
            ("response_type", "code"),
            ("client_id", APP.0),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("scope", "mcp:everything"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::FOUND);
    assert_eq!(a.params["error"], "invalid_scope");
}

#[tokio::test]
async fn the_setting_comes_from_issuer_client_builder_and_admin_api() {
    let provider = start().await;
    let interactive = provider.issuer_url("default").unwrap();
    let plain = provider.issuer_url("plain").unwrap();
    let h = http();
    // Headless by default, and for a client that says so.
    let (code, _) = support::authorization_code(&h, &plain, APP.0, &[]).await;
    assert!(!code.is_empty());
    let (code, _) = support::authorization_code(&h, &interactive, HEADLESS, &[]).await;
    assert!(!code.is_empty());
    // A client that asks for the page on a headless issuer.
    let provider2 = MockProvider::builder()
        .issuer(
            test_issuer("default").client(
                ClientConfig::public("asks")
                    .redirect_uri(REDIRECT)
                    .consent(Consent::Interactive),
            ),
        )
        .start()
        .await
        .unwrap();
    let issuer2 = provider2.issuer_url("default").unwrap();
    open(&issuer2, "asks", &[]).await;
    let (code, _) = support::authorization_code(&h, &issuer2, APP.0, &[]).await;
    assert!(!code.is_empty());
    // The admin API can create such a client too.
    provider2
        .admin()
        .create_client(
            "default",
            &ClientConfig::public("admin-made")
                .redirect_uri(REDIRECT)
                .consent(Consent::Interactive),
        )
        .await
        .unwrap();
    open(&issuer2, "admin-made", &[]).await;
    // The builder switch turns it on everywhere.
    let provider3 = MockProvider::builder()
        .issuer(test_issuer("a"))
        .issuer(test_issuer("b"))
        .interactive_consent()
        .start()
        .await
        .unwrap();
    for name in ["a", "b"] {
        open(&provider3.issuer_url(name).unwrap(), APP.0, &[]).await;
    }
}

#[tokio::test]
async fn the_ledger_records_the_decision_without_secrets() {
    let provider = start().await;
    let issuer = provider.issuer_url("default").unwrap();
    let approved = open(&issuer, APP.0, &[]).await;
    let answer = decide(&issuer, &approved, "approve", "bob").await;
    let code = answer.params["code"].clone();
    let denied = open(&issuer, PUBLIC_APP, &[]).await;
    decide(&issuer, &denied, "deny", "alice").await;

    let entries = provider
        .admin()
        .ledger(&LedgerFilter {
            endpoint: Some(Endpoint::Authorize),
            ..Default::default()
        })
        .await
        .unwrap();
    let decisions: Vec<_> = entries
        .iter()
        .filter_map(|e| {
            e.consent.as_ref().map(|c| {
                (
                    e.client_id.clone().unwrap(),
                    c.decision,
                    c.subject.clone(),
                    e.outcome.clone(),
                )
            })
        })
        .collect();
    assert_eq!(
        decisions,
        vec![
            (
                APP.0.to_owned(),
                ConsentDecision::Shown,
                Some("alice".to_owned()),
                "ok".to_owned()
            ),
            (
                APP.0.to_owned(),
                ConsentDecision::Approved,
                Some("bob".to_owned()),
                "ok".to_owned()
            ),
            (
                PUBLIC_APP.to_owned(),
                ConsentDecision::Shown,
                Some("alice".to_owned()),
                "ok".to_owned()
            ),
            (
                PUBLIC_APP.to_owned(),
                ConsentDecision::Denied,
                None,
                "access_denied".to_owned()
            ),
        ]
    );
    let json = serde_json::to_string(&entries).unwrap();
    for secret in [
        &code,
        &approved.pending,
        &approved.csrf,
        &denied.pending,
        &denied.csrf,
    ] {
        assert!(
            !json.contains(secret.as_str()),
            "a secret reached the ledger"
        );
    }
}

#[tokio::test]
async fn serve_interactive_flag_shows_the_page() {
    let served = support::provider_binary::ServeProcess::start(&["--port", "0", "--interactive"]);
    let base = served.base_url().to_owned();
    // Register a client dynamically and ask: the page, not a code.
    let registered: serde_json::Value = http()
        .post(format!("{base}/default/register"))
        .json(&serde_json::json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "client_name": "Dynamic <b>client</b>",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let page = open(&format!("{base}/default"), &client_id, &[]).await;
    assert!(
        page.body.contains("Dynamic &lt;b&gt;client&lt;/b&gt;"),
        "{}",
        page.body
    );
    assert!(page.body.contains("registered dynamically"));
    assert!(page.body.contains("This client registered itself"));
    drop(served);
}

#[test]
fn bad_consent_values_are_config_errors_naming_the_field() {
    let issuer_level =
        ProviderConfig::from_toml_str("[[issuer]]\nname = \"default\"\nconsent = \"sometimes\"\n")
            .unwrap_err();
    insta::assert_snapshot!("bad_issuer_consent", issuer_level.to_string());
    let client_level = ProviderConfig::from_toml_str(
        "[[issuer]]\nname = \"default\"\n\n[[issuer.client]]\nclient_id = \"c\"\n\
         redirect_uris = [\"http://127.0.0.1/cb\"]\nconsent = \"ask\"\n",
    )
    .unwrap_err();
    insta::assert_snapshot!("bad_client_consent", client_level.to_string());
    let values = ProviderConfig::from_toml_str(
        "[[issuer]]\nname = \"default\"\nconsent = \"interactive\"\n\
         users = [\"alice\", \"\", \"alice\"]\nconsent_ttl_secs = 0\n",
    )
    .unwrap_err();
    insta::assert_snapshot!("bad_consent_values", values.to_string());
    // The good values parse.
    let ok = ProviderConfig::from_toml_str(
        "[[issuer]]\nname = \"default\"\nconsent = \"interactive\"\nusers = [\"bob\"]\n\n\
         [[issuer.client]]\nclient_id = \"c\"\nredirect_uris = [\"http://127.0.0.1/cb\"]\nconsent = \"auto\"\n",
    )
    .unwrap();
    assert_eq!(ok.issuers[0].consent, Consent::Interactive);
    assert_eq!(ok.issuers[0].clients[0].consent, Some(Consent::Auto));
}
