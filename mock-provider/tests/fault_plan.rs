//! The fault plan over real sockets: every fault kind, set through the
//! admin API (`AdminClient`), the Rust API (`provider.faults()`) or a
//! config file (`[[fault]]`), observed at the endpoint and in the ledger
//! (`kind#id` in `faults`, the right `outcome` and `status`).

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mock_provider::TokenHash;
use mock_provider::admin::{RotateKeys, SeedGrant, SeededGrant};
use mock_provider::faults::{
    Endpoint, FaultAction, FaultPlan, FaultRule, RequestFacts, SigningFault, TokenOverride,
};
use mock_provider::ledger::{LedgerEntry, LedgerFilter};
use mock_provider::{AdminClient, ErrorCode, GrantType, MockProvider, ProviderConfig};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::{Value, json};
use support::{APP, JsonAnswer, POST_APP, REDIRECT};

// ---- fixture and helpers --------------------------------------------------

/// A provider with issuers `default` (RS256) and `other` (ES256), a
/// redirect-less HTTP client and the admin client.
struct Fixture {
    provider: MockProvider,
    issuer: String,
    other: String,
    http: reqwest::Client,
    admin: AdminClient,
}

async fn fixture() -> Fixture {
    let provider = support::start_provider().await;
    Fixture {
        issuer: provider.issuer_url("default").unwrap(),
        other: provider.issuer_url("other").unwrap(),
        http: support::http(),
        admin: provider.admin(),
        provider,
    }
}

/// A refresh token for `client` at `default`, without a browser.
async fn seed(admin: &AdminClient, client: &str) -> SeededGrant {
    admin
        .seed_grant(
            "default",
            &SeedGrant {
                client_id: client.to_owned(),
                ..Default::default()
            },
        )
        .await
        .expect("grant seeded")
}

/// A refresh_token grant request of `APP` (client_secret_basic).
async fn refresh(f: &Fixture, refresh_token: &str) -> JsonAnswer {
    support::post_form(
        &f.http,
        &f.issuer,
        "token",
        Some(APP),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// A client_credentials grant request of `APP` at `issuer_url`.
async fn client_credentials(f: &Fixture, issuer_url: &str, scope: Option<&str>) -> JsonAnswer {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    support::post_form(&f.http, issuer_url, "token", Some(APP), &form).await
}

/// An answer whose body is kept as text (for the mangled bodies).
#[derive(Debug)]
struct RawAnswer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl RawAnswer {
    fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn raw(request: reqwest::RequestBuilder) -> RawAnswer {
    let response = request.send().await.expect("request");
    RawAnswer {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    }
}

/// A token request of `APP` at `default` whose body is kept as text.
async fn raw_token(f: &Fixture, form: &[(&str, &str)]) -> RawAnswer {
    raw(f
        .http
        .post(format!("{}/token", f.issuer))
        .header(
            reqwest::header::AUTHORIZATION,
            support::basic_header(APP.0, APP.1),
        )
        .form(form))
    .await
}

/// Ledger entries at `endpoint` (of any issuer), oldest first.
async fn ledger_at(admin: &AdminClient, endpoint: Endpoint) -> Vec<LedgerEntry> {
    admin
        .ledger(&LedgerFilter {
            endpoint: Some(endpoint),
            ..Default::default()
        })
        .await
        .expect("ledger")
}

/// The latest ledger entry matching `filter`.
async fn last_entry(admin: &AdminClient, filter: LedgerFilter) -> LedgerEntry {
    admin
        .ledger(&LedgerFilter {
            limit: Some(1),
            ..filter.clone()
        })
        .await
        .expect("ledger")
        .pop()
        .unwrap_or_else(|| panic!("no ledger entry for {filter:?}"))
}

fn token_filter() -> LedgerFilter {
    LedgerFilter {
        endpoint: Some(Endpoint::Token),
        ..Default::default()
    }
}

/// Checks a ledger entry's faults, outcome and status.
#[track_caller]
fn assert_entry(entry: &LedgerEntry, faults: &[&str], outcome: &str, status: u16) {
    assert_eq!(entry.faults, faults, "faults of {entry:?}");
    assert_eq!(entry.outcome, outcome, "outcome of {entry:?}");
    assert_eq!(entry.status, status, "status of {entry:?}");
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The protected header of a compact JWS, decoded without any checks (so
/// that `alg: none` can be read too).
fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().expect("a JWS has a header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("header is base64url");
    serde_json::from_slice(&bytes).expect("header is JSON")
}

/// Why a resource server refused a token.
#[derive(Debug)]
enum Refusal {
    /// The header did not parse (e.g. `alg: none` is no algorithm).
    Header(String),
    /// No `kid`.
    NoKid,
    /// The `kid` is not in the JWKS.
    KidNotPublished(String),
    /// `jsonwebtoken` refused it.
    Jwt(ErrorKind),
}

async fn jwks(http: &reqwest::Client, issuer_url: &str) -> JwkSet {
    http.get(format!("{issuer_url}/jwks"))
        .send()
        .await
        .expect("jwks request")
        .json()
        .await
        .expect("a JWK set")
}

fn kids(set: &JwkSet) -> Vec<String> {
    set.keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect()
}

/// Verifies with `key` the way a careful resource server does: the
/// algorithm is the one the issuer uses, never the one the token names
/// (RFC 8725 3.1), and `iss`, `aud`, `exp` are checked (RFC 9068 4).
fn decode_with(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    issuer_url: &str,
) -> Result<Value, Refusal> {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer_url]);
    validation.set_audience(&[format!("{issuer_url}/api")]);
    jsonwebtoken::decode::<Value>(token, key, &validation)
        .map(|d| d.claims)
        .map_err(|e| Refusal::Jwt(e.into_kind()))
}

/// Verifies an access token against the issuer's JWKS, fetched now.
async fn verify(
    http: &reqwest::Client,
    issuer_url: &str,
    alg: Algorithm,
    token: &str,
) -> Result<Value, Refusal> {
    let set = jwks(http, issuer_url).await;
    let header = jsonwebtoken::decode_header(token).map_err(|e| Refusal::Header(e.to_string()))?;
    let kid = header.kid.ok_or(Refusal::NoKid)?;
    let jwk = set
        .find(&kid)
        .ok_or_else(|| Refusal::KidNotPublished(kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk).expect("usable JWK");
    decode_with(token, &key, alg, issuer_url)
}

// ---- oauth_error ----------------------------------------------------------

/// RFC 6749 5.2: an injected `invalid_grant` on the refresh_token grant of
/// one client. Other grant types and other clients are unaffected; `times =
/// 2` fires exactly twice, then the real answer comes back, and the
/// refresh token was not consumed by the refused requests.
#[tokio::test]
async fn oauth_error_hits_one_grant_of_one_client_exactly_twice() {
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    let post_grant = seed(&f.admin, POST_APP.0).await;
    let id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::OauthError {
                    error: ErrorCode::InvalidGrant,
                    description: Some("forced by the test".into()),
                    status: None,
                },
            )
            .grant_type(GrantType::RefreshToken)
            .client(APP.0)
            .times(2),
        )
        .await
        .unwrap();
    let name = format!("oauth_error#{id}");

    // Another grant type of the same client.
    let cc = client_credentials(&f, &f.issuer, None).await;
    assert_eq!(cc.status, StatusCode::OK, "{cc:?}");
    // The same grant type for another client (client_secret_post).
    let other = support::post_form(
        &f.http,
        &f.issuer,
        "token",
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &post_grant.refresh_token),
            ("client_id", POST_APP.0),
            ("client_secret", POST_APP.1),
        ],
    )
    .await;
    assert_eq!(other.status, StatusCode::OK, "{other:?}");

    for left in [1, 0] {
        let refused = refresh(&f, &grant.refresh_token).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
        assert_eq!(refused.error(), Some("invalid_grant"));
        assert_eq!(refused.str("error_description"), "forced by the test");
        // RFC 6749 5.1/5.2: token endpoint answers are not cached.
        assert_eq!(refused.headers[CACHE_CONTROL], "no-store");
        let rules = f.admin.faults().await.unwrap();
        if left == 0 {
            assert!(rules.is_empty(), "a spent counted rule leaves: {rules:?}");
        } else {
            assert_eq!(rules[0].times, Some(left), "{rules:?}");
        }
    }
    // The third time the real grant runs, with the same refresh token.
    let ok = refresh(&f, &grant.refresh_token).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    assert_ne!(ok.str("refresh_token"), grant.refresh_token, "rotated");

    let entries = f
        .admin
        .ledger(&LedgerFilter {
            client_id: Some(APP.0.into()),
            grant_type: Some(GrantType::RefreshToken),
            ..token_filter()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 3, "{entries:#?}");
    assert_entry(&entries[0], &[&name], "invalid_grant", 400);
    assert_entry(&entries[1], &[&name], "invalid_grant", 400);
    assert_entry(&entries[2], &[], "ok", 200);
    let cc_entry = last_entry(
        &f.admin,
        LedgerFilter {
            grant_type: Some(GrantType::ClientCredentials),
            ..token_filter()
        },
    )
    .await;
    assert_entry(&cc_entry, &[], "ok", 200);
    let post_entry = last_entry(
        &f.admin,
        LedgerFilter {
            client_id: Some(POST_APP.0.into()),
            ..token_filter()
        },
    )
    .await;
    assert_entry(&post_entry, &[], "ok", 200);
}

/// RFC 6749 5.2: the status defaults to the one the code has (500 for
/// `server_error`, 400 for most); a rule may set another.
#[tokio::test]
async fn oauth_error_status_defaults_per_code_and_can_be_set() {
    let f = fixture().await;
    let default_id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::oauth_error(ErrorCode::ServerError),
            )
            .times(1),
        )
        .await
        .unwrap();
    let a = client_credentials(&f, &f.issuer, None).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{a:?}");
    assert_eq!(a.error(), Some("server_error"));
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(
        &e,
        &[&format!("oauth_error#{default_id}")],
        "server_error",
        500,
    );

    let custom_id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::OauthError {
                    error: ErrorCode::InvalidClient,
                    description: None,
                    status: Some(403),
                },
            )
            .times(1),
        )
        .await
        .unwrap();
    let a = client_credentials(&f, &f.issuer, None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{a:?}");
    assert_eq!(a.error(), Some("invalid_client"));
    assert!(
        a.str("error_description").contains(&custom_id.to_string()),
        "the default description names the rule: {a:?}"
    );
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(
        &e,
        &[&format!("oauth_error#{custom_id}")],
        "invalid_client",
        403,
    );
    assert_eq!(
        client_credentials(&f, &f.issuer, None).await.status,
        StatusCode::OK
    );
}

// ---- http_status / too_many_requests ---------------------------------------

/// RFC 9110 15.6.1/15.6.3/15.6.4 (500, 502, 503) and 10.2.3 (Retry-After):
/// error faults replace the answer BEFORE the request is processed, so the
/// refresh token presented is not consumed and works afterwards.
#[tokio::test]
async fn http_status_faults_answer_before_processing() {
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    let presented = TokenHash::of(&grant.refresh_token).fingerprint();
    for (status, retry_after) in [(500, None), (502, Some(3)), (503, Some(7))] {
        let id = f
            .admin
            .add_fault(
                &FaultRule::new(
                    Endpoint::Token,
                    FaultAction::HttpStatus {
                        status,
                        retry_after_secs: retry_after,
                    },
                )
                .grant_type(GrantType::RefreshToken)
                .times(1),
            )
            .await
            .unwrap();
        let a = refresh(&f, &grant.refresh_token).await;
        assert_eq!(a.status.as_u16(), status, "{a:?}");
        assert_eq!(
            a.headers.get(RETRY_AFTER).map(|v| v.to_str().unwrap()),
            retry_after.map(|s| s.to_string()).as_deref(),
            "Retry-After of the {status}"
        );
        let e = last_entry(&f.admin, token_filter()).await;
        assert_entry(
            &e,
            &[&format!("http_status#{id}")],
            &format!("http_{status}"),
            status,
        );
        assert_eq!(e.client_id.as_deref(), Some(APP.0));
        assert_eq!(e.grant_type, Some(GrantType::RefreshToken));
        assert_eq!(e.issued_refresh_token, None, "nothing was issued");
        // The token presented is on record although the grant never ran.
        assert_eq!(e.refresh_token, Some(presented));
        assert!(!e.processed, "answered by the fault: {e:?}");
    }
    let ok = refresh(&f, &grant.refresh_token).await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "the token survived three injected errors: {ok:?}"
    );
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[], "ok", 200);
    assert!(!e.reuse_detected);
    assert_eq!(e.family, Some(grant.family));
    assert!(e.processed);
    assert_eq!(e.refresh_token, Some(presented));
}

/// A refresh answered by an injected `oauth_error` before processing: the
/// ledger holds the presented token's fingerprint (never its value) and
/// `processed: false`, in the typed client and in the admin API's JSON;
/// the same token presented once the rule is spent is processed.
#[tokio::test]
async fn faulted_refresh_records_the_presented_token_as_not_processed() {
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    let presented = TokenHash::of(&grant.refresh_token).fingerprint();
    let id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::oauth_error(ErrorCode::TemporarilyUnavailable),
            )
            .grant_type(GrantType::RefreshToken)
            .times(1),
        )
        .await
        .unwrap();
    let refused = refresh(&f, &grant.refresh_token).await;
    assert_eq!(
        refused.error(),
        Some("temporarily_unavailable"),
        "{refused:?}"
    );
    let ok = refresh(&f, &grant.refresh_token).await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "not consumed by the fault: {ok:?}"
    );

    let entries = f.admin.ledger(&token_filter()).await.unwrap();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let (faulted, granted) = (&entries[0], &entries[1]);
    assert_entry(
        faulted,
        &[&format!("oauth_error#{id}")],
        "temporarily_unavailable",
        refused.status.as_u16(),
    );
    assert_eq!(faulted.refresh_token, Some(presented));
    assert!(!faulted.processed);
    assert_eq!(faulted.family, None, "the token was never looked up");
    assert_eq!(granted.refresh_token, Some(presented));
    assert!(granted.processed);
    assert!(granted.issued_refresh_token.is_some());

    // The admin API's JSON: the flag is there, the token value is not.
    let raw = f
        .http
        .get(format!(
            "{}/__admin/ledger?endpoint=token",
            f.provider.base_url()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!raw.contains(&grant.refresh_token), "no token value: {raw}");
    let json: Vec<Value> = serde_json::from_str(&raw).unwrap();
    assert_eq!(json[0]["processed"], false, "{raw}");
    assert_eq!(json[0]["refresh_token"], presented.to_string(), "{raw}");
    assert_eq!(json[1]["processed"], true, "{raw}");
}

/// RFC 6585 4: 429 Too Many Requests with Retry-After (RFC 9110 10.2.3);
/// like every error fault it happens before processing.
#[tokio::test]
async fn too_many_requests_is_429_with_retry_after() {
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    let id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::TooManyRequests {
                    retry_after_secs: 30,
                },
            )
            .times(1),
        )
        .await
        .unwrap();
    let a = refresh(&f, &grant.refresh_token).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{a:?}");
    assert_eq!(a.headers[RETRY_AFTER], "30");
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[&format!("too_many_requests#{id}")], "http_429", 429);
    assert!(!e.processed);
    assert_eq!(
        e.refresh_token,
        Some(TokenHash::of(&grant.refresh_token).fingerprint())
    );
    assert_eq!(
        refresh(&f, &grant.refresh_token).await.status,
        StatusCode::OK,
        "the refresh token was not consumed by the 429"
    );
}

// ---- body faults: malformed_json, empty_body, wrong_content_type ---------

/// A body fault mangles a PROCESSED answer: under `malformed_json` the
/// refresh grant happened and the presented refresh token is consumed, so
/// presenting it again is reuse (OAuth 2.1 4.3.1, RFC 9700 4.14.2): the
/// answer is `invalid_grant` and the whole family is revoked.
#[tokio::test]
async fn malformed_json_consumes_the_refresh_token() {
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    // A first honest refresh, so the family has a live access token.
    let first = refresh(&f, &grant.refresh_token).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let rt1 = first.str("refresh_token").to_owned();
    let at1 = first.str("access_token").to_owned();

    let id = f
        .admin
        .add_fault(&FaultRule::new(Endpoint::Token, FaultAction::MalformedJson).times(1))
        .await
        .unwrap();
    let mangled = raw_token(
        &f,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
    )
    .await;
    assert_eq!(mangled.status, StatusCode::OK, "{mangled:?}");
    assert_eq!(mangled.header(CONTENT_TYPE), Some("application/json"));
    assert!(
        serde_json::from_str::<Value>(&mangled.text).is_err(),
        "not JSON: {:?}",
        mangled.text
    );
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[&format!("malformed_json#{id}")], "ok", 200);
    assert_eq!(e.family, Some(grant.family));
    assert!(e.processed, "a body fault mangles a processed answer");
    assert!(
        e.issued_refresh_token.is_some(),
        "the grant happened: a successor was issued: {e:?}"
    );

    // rt1 was consumed: presenting it again is reuse.
    let reuse = refresh(&f, &rt1).await;
    assert_eq!(reuse.status, StatusCode::BAD_REQUEST, "{reuse:?}");
    assert_eq!(reuse.error(), Some("invalid_grant"));
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[], "invalid_grant", 400);
    assert!(e.reuse_detected, "{e:?}");
    assert_eq!(e.family, Some(grant.family));
    // ...which revoked the family: its access token is dead (RFC 7662 2.2).
    let introspection = support::post_form(
        &f.http,
        &f.issuer,
        "introspect",
        Some(APP),
        &[("token", &at1)],
    )
    .await;
    assert_eq!(introspection.status, StatusCode::OK);
    assert_eq!(introspection.body["active"], false, "{introspection:?}");
}

/// `empty_body`: a 200 with nothing in it, after the grant ran. Added
/// through the Rust API.
#[tokio::test]
async fn empty_body_is_a_processed_200_with_no_body() {
    let f = fixture().await;
    let id = f
        .provider
        .faults()
        .add(FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).times(1));
    let a = raw_token(&f, &[("grant_type", "client_credentials")]).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(a.text, "");
    assert_eq!(a.header(CONTENT_TYPE), Some("application/json"));
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[&format!("empty_body#{id}")], "ok", 200);
    assert_eq!(e.client_id.as_deref(), Some(APP.0));
    assert!(f.provider.faults().rules().is_empty());
}

/// `wrong_content_type`: the real JSON token response labelled
/// `text/html` (RFC 6749 5.1 requires `application/json`).
#[tokio::test]
async fn wrong_content_type_labels_real_json_as_html() {
    let f = fixture().await;
    let id = f
        .admin
        .add_fault(&FaultRule::new(Endpoint::Token, FaultAction::WrongContentType).times(1))
        .await
        .unwrap();
    let a = raw_token(&f, &[("grant_type", "client_credentials")]).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert!(
        a.header(CONTENT_TYPE)
            .is_some_and(|c| c.starts_with("text/html")),
        "{a:?}"
    );
    let body: Value = serde_json::from_str(&a.text).expect("still the JSON token response");
    assert!(body["access_token"].is_string(), "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[&format!("wrong_content_type#{id}")], "ok", 200);
}

// ---- latency ---------------------------------------------------------------

/// A fixed delay: the answer takes at least `millis`.
#[tokio::test]
async fn latency_delays_the_answer() {
    let f = fixture().await;
    let id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::Latency {
                    millis: 300,
                    jitter_millis: 0,
                },
            )
            .times(1),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let a = client_credentials(&f, &f.issuer, None).await;
    let took = started.elapsed();
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[&format!("latency#{id}")], "ok", 200);
    assert!(e.latency_ms >= 300.0, "{e:?}");
}

/// Jitter drawn from the rule's seed replays: two providers with the same
/// seed delay the same requests by the same amounts.
#[tokio::test]
async fn seeded_jitter_replays_on_another_provider() {
    fn rule(seed: u64) -> FaultRule {
        FaultRule {
            seed,
            ..FaultRule::new(
                Endpoint::Jwks,
                FaultAction::Latency {
                    millis: 0,
                    jitter_millis: 200,
                },
            )
        }
    }
    // What the seed draws, from a plan evaluated in-process (no clock).
    let plan = FaultPlan::default();
    plan.add(rule(7));
    let facts = RequestFacts::new(Endpoint::Jwks, "default");
    let drawn: Vec<Duration> = (0..5).map(|_| plan.evaluate(&facts).latency).collect();
    let ms = |d: &[Duration]| d.iter().map(Duration::as_millis).collect::<Vec<_>>();
    let spread = drawn
        .iter()
        .max()
        .unwrap()
        .saturating_sub(*drawn.iter().min().unwrap());
    assert!(
        spread >= Duration::from_millis(100),
        "the jitter varies from request to request: {:?}",
        ms(&drawn)
    );

    async fn delays(seed: u64) -> Vec<Duration> {
        let provider = MockProvider::start().await.unwrap();
        let admin = provider.admin();
        let id = admin.add_fault(&rule(seed)).await.unwrap();
        let http = support::http();
        let url = format!("{}/jwks", provider.issuer_url("default").unwrap());
        let mut out = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let r = http.get(&url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.bytes().await.unwrap();
            out.push(started.elapsed());
        }
        let entries = ledger_at(&admin, Endpoint::Jwks).await;
        assert_eq!(entries.len(), 5);
        for e in &entries {
            assert_entry(e, &[&format!("latency#{id}")], "ok", 200);
        }
        out
    }
    // Each of two fresh providers waits at least what the seed drew (a
    // sleep is never shorter), and not much more: only a lower bound is
    // exact under a loaded machine, so the upper one is generous. A
    // provider drawing from anything but the seed falls below some draw.
    for _ in 0..2 {
        let observed = delays(7).await;
        for (seen, want) in observed.iter().zip(&drawn) {
            assert!(
                seen >= want && *seen <= *want + Duration::from_millis(1500),
                "same seed, same delays: drawn {:?}, observed {:?}",
                ms(&drawn),
                ms(&observed)
            );
        }
    }
}

// ---- probability -----------------------------------------------------------

/// A rule with a probability fires by draws from its seed: the same seed on
/// two fresh providers gives the same fire/no-fire sequence; another seed
/// gives another one.
#[tokio::test]
async fn seeded_probability_replays_exactly() {
    async fn pattern(seed: u64) -> String {
        let provider = MockProvider::start().await.unwrap();
        let admin = provider.admin();
        let id = admin
            .add_fault(
                &FaultRule::new(
                    Endpoint::Jwks,
                    FaultAction::HttpStatus {
                        status: 503,
                        retry_after_secs: None,
                    },
                )
                .probability(0.5, seed),
            )
            .await
            .unwrap();
        let http = support::http();
        let url = format!("{}/jwks", provider.issuer_url("default").unwrap());
        let mut out = String::new();
        for _ in 0..40 {
            let status = http.get(&url).send().await.unwrap().status();
            out.push(match status {
                StatusCode::SERVICE_UNAVAILABLE => 'X',
                StatusCode::OK => '.',
                other => panic!("unexpected {other}"),
            });
        }
        let entries = ledger_at(&admin, Endpoint::Jwks).await;
        let logged: String = entries
            .iter()
            .map(|e| {
                if e.faults == [format!("http_status#{id}")] {
                    assert_entry(e, &[&format!("http_status#{id}")], "http_503", 503);
                    'X'
                } else {
                    assert_entry(e, &[], "ok", 200);
                    '.'
                }
            })
            .collect();
        assert_eq!(logged, out, "the ledger tells the same story");
        out
    }
    let a = pattern(7).await;
    let b = pattern(7).await;
    let c = pattern(8).await;
    assert_eq!(a, b, "same seed, same sequence");
    assert_ne!(a, c, "another seed, another sequence");
    let fired = a.chars().filter(|c| *c == 'X').count();
    assert!((5..=35).contains(&fired), "p = 0.5 over 40 draws: {a}");
}

// ---- refresh_barrier -------------------------------------------------------

/// The barrier holds 5 concurrent refreshes with the same refresh token and
/// releases them together: exactly one wins, the other four present a
/// consumed token, which is reuse (OAuth 2.1 4.3.1, RFC 9700 4.14.2) and
/// revokes the family, the winner's new refresh token included.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_barrier_makes_five_refreshes_collide() {
    const K: usize = 5;
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    let id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::RefreshBarrier {
                    parties: K,
                    timeout_millis: 5000,
                },
            )
            .client(APP.0)
            .times(K as u64),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let handles: Vec<_> = (0..K)
        .map(|_| {
            let http = f.http.clone();
            let issuer = f.issuer.clone();
            let rt = grant.refresh_token.clone();
            tokio::spawn(async move {
                support::post_form(
                    &http,
                    &issuer,
                    "token",
                    Some(APP),
                    &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                )
                .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for h in handles {
        answers.push(h.await.unwrap());
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "released when the fifth arrived, not by the timeout: {:?}",
        started.elapsed()
    );
    let winners: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .collect();
    let losers = answers
        .iter()
        .filter(|a| a.status == StatusCode::BAD_REQUEST && a.error() == Some("invalid_grant"))
        .count();
    assert_eq!(winners.len(), 1, "{answers:#?}");
    assert_eq!(losers, K - 1, "{answers:#?}");

    let entries = f
        .admin
        .ledger(&LedgerFilter {
            client_id: Some(APP.0.into()),
            ..token_filter()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), K);
    let name = format!("refresh_barrier#{id}");
    assert!(
        entries.iter().all(|e| e.faults == [name.clone()]),
        "{entries:#?}"
    );
    assert!(entries.iter().all(|e| e.family == Some(grant.family)));
    assert_eq!(entries.iter().filter(|e| e.outcome == "ok").count(), 1);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.outcome == "invalid_grant" && e.status == 400)
            .count(),
        K - 1
    );

    // The family is revoked: the winner's successor token is dead too.
    assert!(f.admin.faults().await.unwrap().is_empty(), "rule spent");
    let after = refresh(&f, winners[0].str("refresh_token")).await;
    assert_eq!(after.error(), Some("invalid_grant"), "{after:?}");
    let introspection = support::post_form(
        &f.http,
        &f.issuer,
        "introspect",
        Some(APP),
        &[("token", winners[0].str("access_token"))],
    )
    .await;
    assert_eq!(introspection.body["active"], false);

    // Every loser presented a consumed refresh token: each is reuse (the
    // ledger's `reuse_detected` means "presented a consumed refresh
    // token"), not only the first one to arrive after the winner.
    let reused: Vec<_> = entries.iter().filter(|e| e.reuse_detected).collect();
    assert_eq!(
        reused.len(),
        K - 1,
        "every loser presented a consumed token: {entries:#?}"
    );
    assert!(reused.iter().all(|e| e.outcome == "invalid_grant"));
}

/// A refresh request alone at a barrier goes on when the barrier times out.
#[tokio::test]
async fn refresh_barrier_lets_a_lone_request_through_after_the_timeout() {
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    let id = f
        .admin
        .add_fault(&FaultRule::new(
            Endpoint::Token,
            FaultAction::RefreshBarrier {
                parties: 2,
                timeout_millis: 300,
            },
        ))
        .await
        .unwrap();
    let started = Instant::now();
    let a = refresh(&f, &grant.refresh_token).await;
    let took = started.elapsed();
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[&format!("refresh_barrier#{id}")], "ok", 200);
    assert!(e.latency_ms >= 300.0, "{e:?}");
    assert!(!e.reuse_detected);
}

// ---- token_override --------------------------------------------------------

/// Adds a one-shot override, runs a client_credentials grant and returns
/// the token response and the access token's payload, having checked the
/// ledger entry.
async fn overridden(f: &Fixture, o: TokenOverride, scope: Option<&str>) -> (JsonAnswer, Value) {
    let id = f
        .admin
        .add_fault(&FaultRule::new(Endpoint::Token, FaultAction::TokenOverride(o)).times(1))
        .await
        .unwrap();
    let a = client_credentials(f, &f.issuer, scope).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[&format!("token_override#{id}")], "ok", 200);
    let payload = support::jwt_payload(a.str("access_token"));
    (a, payload)
}

/// Token overrides change the access token's claims (RFC 9068 2.2, RFC
/// 7519 4.1) and the token response (RFC 6749 5.1) exactly as asked.
#[tokio::test]
async fn token_override_changes_each_field() {
    let f = fixture().await;
    let default_aud = format!("{}/api", f.issuer);
    let honest = client_credentials(&f, &f.issuer, None).await;
    let honest_payload = support::jwt_payload(honest.str("access_token"));
    assert_eq!(honest_payload["aud"], default_aud.as_str());
    assert_eq!(honest.body["expires_in"], 3600);

    // aud: a string.
    let (_, p) = overridden(
        &f,
        TokenOverride {
            aud: Some(json!("https://elsewhere.example/api")),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["aud"], "https://elsewhere.example/api");
    // aud: an array.
    let (_, p) = overridden(
        &f,
        TokenOverride {
            aud: Some(json!(["https://a.example", "https://b.example"])),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["aud"], json!(["https://a.example", "https://b.example"]));
    // remove_aud.
    let (_, p) = overridden(
        &f,
        TokenOverride {
            remove_aud: true,
            ..Default::default()
        },
        None,
    )
    .await;
    assert!(p.get("aud").is_none(), "{p}");
    // iss.
    let (_, p) = overridden(
        &f,
        TokenOverride {
            iss: Some("https://evil.example".into()),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["iss"], "https://evil.example");
    // ttl_secs negative: already expired, expires_in 0.
    let (a, p) = overridden(
        &f,
        TokenOverride {
            ttl_secs: Some(-60),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["exp"].as_u64().unwrap() + 60, p["iat"].as_u64().unwrap());
    assert!(p["exp"].as_u64().unwrap() < now(), "exp in the past: {p}");
    assert_eq!(a.body["expires_in"], 0);
    // ttl_secs short.
    let (a, p) = overridden(
        &f,
        TokenOverride {
            ttl_secs: Some(5),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["exp"].as_u64().unwrap(), p["iat"].as_u64().unwrap() + 5);
    assert_eq!(a.body["expires_in"], 5);
    // nbf_in_secs.
    let (_, p) = overridden(
        &f,
        TokenOverride {
            nbf_in_secs: Some(300),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["nbf"].as_u64().unwrap(), p["iat"].as_u64().unwrap() + 300);
    // iat_in_secs: iat moves, exp stays (issued now with the 3600 s ttl).
    let (_, p) = overridden(
        &f,
        TokenOverride {
            iat_in_secs: Some(600),
            ..Default::default()
        },
        None,
    )
    .await;
    let issued = p["exp"].as_u64().unwrap() - 3600;
    assert_eq!(p["iat"].as_u64().unwrap(), issued + 600);
    assert!(
        p["iat"].as_u64().unwrap() > now() + 500,
        "iat in the future"
    );
    // scope: fewer than asked, in the claim and the response.
    let (a, p) = overridden(
        &f,
        TokenOverride {
            scope: Some("mcp:tools".into()),
            ..Default::default()
        },
        Some("mcp:tools mcp:admin"),
    )
    .await;
    assert_eq!(p["scope"], "mcp:tools");
    assert_eq!(a.body["scope"], "mcp:tools");
    // no_expires_in.
    let (a, p) = overridden(
        &f,
        TokenOverride {
            no_expires_in: true,
            ..Default::default()
        },
        None,
    )
    .await;
    assert!(a.body.get("expires_in").is_none(), "{:?}", a.body);
    assert!(p["exp"].is_u64(), "the JWT still expires");
    // token_type.
    let (a, _) = overridden(
        &f,
        TokenOverride {
            token_type: Some("mac".into()),
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(a.body["token_type"], "mac");
    // extra_claims: added, and a registered one replaced.
    let mut extra = serde_json::Map::new();
    extra.insert("tenant".into(), json!("acme"));
    extra.insert("roles".into(), json!(["reader"]));
    extra.insert("sub".into(), json!("mallory"));
    let (_, p) = overridden(
        &f,
        TokenOverride {
            extra_claims: extra,
            ..Default::default()
        },
        None,
    )
    .await;
    assert_eq!(p["tenant"], "acme");
    assert_eq!(p["roles"], json!(["reader"]));
    assert_eq!(p["sub"], "mallory");

    // Every rule was one-shot: the next token is honest again.
    let after = client_credentials(&f, &f.issuer, None).await;
    let p = support::jwt_payload(after.str("access_token"));
    assert_eq!(p["aud"], default_aud.as_str());
    assert_eq!(after.body["token_type"], "Bearer");
}

/// `no_refresh_token`: the refresh grant answers without a refresh token
/// and nothing rotated, so the client keeps using the one it has (RFC 6749
/// 6: the server MAY issue a new refresh token).
#[tokio::test]
async fn no_refresh_token_leaves_the_old_refresh_token_working() {
    let f = fixture().await;
    let grant = seed(&f.admin, APP.0).await;
    let id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::TokenOverride(TokenOverride {
                    no_refresh_token: true,
                    ..Default::default()
                }),
            )
            .grant_type(GrantType::RefreshToken)
            .times(1),
        )
        .await
        .unwrap();
    let a = refresh(&f, &grant.refresh_token).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert!(a.body.get("refresh_token").is_none(), "{:?}", a.body);
    assert!(a.body["access_token"].is_string());
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[&format!("token_override#{id}")], "ok", 200);
    assert_eq!(e.issued_refresh_token, None);

    let again = refresh(&f, &grant.refresh_token).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "not rotated, not reused: {again:?}"
    );
    assert_ne!(again.str("refresh_token"), grant.refresh_token);
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[], "ok", 200);
    assert!(!e.reuse_detected);
}

// ---- signing ---------------------------------------------------------------

/// RFC 8725 3.1-3.2, RFC 9068 4: each signing fault yields a token that a
/// resource server verifying against the issuer's JWKS refuses, while an
/// honest token of the same issuer verifies. Both key types (RS256, ES256).
#[tokio::test]
async fn signing_faults_fail_verification_against_the_jwks() {
    let f = fixture().await;
    for (name, url, alg) in [
        ("default", f.issuer.clone(), Algorithm::RS256),
        ("other", f.other.clone(), Algorithm::ES256),
    ] {
        let active_kid = f.admin.keys(name).await.unwrap().active_kid;
        let honest = client_credentials(&f, &url, None).await;
        let claims = verify(&f.http, &url, alg, honest.str("access_token"))
            .await
            .unwrap_or_else(|r| panic!("{name}: the honest token verifies: {r:?}"));
        assert_eq!(claims["client_id"], APP.0);

        for fault in [
            SigningFault::UnknownKid,
            SigningFault::BadSignature,
            SigningFault::AlgNone,
            SigningFault::Hs256WithPublicKey,
            SigningFault::RotatedOutKey,
        ] {
            let id = f
                .admin
                .add_fault(
                    &FaultRule::new(Endpoint::Token, FaultAction::Signing { fault })
                        .issuer(name)
                        .times(1),
                )
                .await
                .unwrap();
            let a = client_credentials(&f, &url, None).await;
            assert_eq!(a.status, StatusCode::OK, "{name} {fault:?}: {a:?}");
            let token = a.str("access_token");
            let e = last_entry(
                &f.admin,
                LedgerFilter {
                    issuer: Some(name.into()),
                    ..token_filter()
                },
            )
            .await;
            assert_entry(&e, &[&format!("signing#{id}")], "ok", 200);
            // The claims are the honest ones; only the signature lies.
            assert_eq!(support::jwt_payload(token)["iss"], url.as_str());
            let header = jwt_header(token);
            let Err(refusal) = verify(&f.http, &url, alg, token).await else {
                panic!("{name}: a {fault:?} token must not verify");
            };
            match fault {
                SigningFault::UnknownKid | SigningFault::RotatedOutKey => {
                    // Never rotated: the rotated-out key is one never
                    // published either.
                    assert_eq!(header["alg"], format!("{alg:?}"), "{header}");
                    assert_ne!(header["kid"], active_kid.as_str());
                    assert!(
                        matches!(&refusal, Refusal::KidNotPublished(kid) if header["kid"] == kid.as_str()),
                        "{fault:?}: {refusal:?}"
                    );
                }
                SigningFault::BadSignature => {
                    assert_eq!(header["kid"], active_kid.as_str());
                    assert!(
                        matches!(refusal, Refusal::Jwt(ErrorKind::InvalidSignature)),
                        "{refusal:?}"
                    );
                }
                SigningFault::AlgNone => {
                    assert_eq!(header["alg"], "none", "{header}");
                    assert!(token.ends_with('.'), "empty signature: {token}");
                    assert_eq!(token.split('.').count(), 3);
                    assert!(
                        matches!(&refusal, Refusal::Header(why) if why.contains("none")),
                        "{refusal:?}"
                    );
                }
                SigningFault::Hs256WithPublicKey => {
                    assert_eq!(header["alg"], "HS256", "{header}");
                    assert_eq!(header["kid"], active_kid.as_str());
                    // Refused: the issuer's algorithm is asymmetric.
                    assert!(
                        matches!(refusal, Refusal::Jwt(ErrorKind::InvalidAlgorithm)),
                        "{refusal:?}"
                    );
                    // ...yet it is a real confusion token: HMAC keyed with
                    // the public key PEM verifies it.
                    let pem = f
                        .provider
                        .issuer(name)
                        .unwrap()
                        .keys()
                        .await
                        .unwrap()
                        .active()
                        .public_key_pem();
                    let hmac = DecodingKey::from_secret(pem.as_bytes());
                    decode_with(token, &hmac, Algorithm::HS256, &url)
                        .unwrap_or_else(|r| panic!("HMAC with the PEM verifies: {r:?}"));
                }
            }
        }
    }
}

// ---- key rotation ----------------------------------------------------------

/// RFC 7517 / RFC 8414 `jwks_uri`: after a rotation with a grace period the
/// JWKS holds both keys, tokens signed before still verify, new tokens
/// carry the new kid; when the grace ends the old key leaves the JWKS.
#[tokio::test]
async fn rotation_with_grace_keeps_the_old_key_until_it_ends() {
    let f = fixture().await;
    let before = client_credentials(&f, &f.issuer, None).await;
    let old_token = before.str("access_token").to_owned();
    let old_kid = jwt_header(&old_token)["kid"].as_str().unwrap().to_owned();

    let keys = f
        .admin
        .rotate_keys("default", &RotateKeys::with_grace(2))
        .await
        .unwrap();
    assert_ne!(keys.active_kid, old_kid);
    let new_kid = keys.active_kid.clone();
    assert_eq!(keys.published_kids, [new_kid.clone(), old_kid.clone()]);
    let set = kids(&jwks(&f.http, &f.issuer).await);
    assert!(set.contains(&old_kid) && set.contains(&new_kid), "{set:?}");
    verify(&f.http, &f.issuer, Algorithm::RS256, &old_token)
        .await
        .expect("a token signed before the rotation still verifies");

    let after = client_credentials(&f, &f.issuer, None).await;
    let new_token = after.str("access_token").to_owned();
    assert_eq!(jwt_header(&new_token)["kid"], new_kid.as_str());
    verify(&f.http, &f.issuer, Algorithm::RS256, &new_token)
        .await
        .expect("a new token verifies");

    // The provider's clock ticks in whole seconds and rounds the end of a
    // grace period up (never shorter than asked): a 2 s grace ends within 3 s.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let set = kids(&jwks(&f.http, &f.issuer).await);
    assert_eq!(set, [new_kid.as_str()], "the grace period is over");
    assert_eq!(
        f.admin.keys("default").await.unwrap().published_kids,
        [new_kid]
    );
    assert!(matches!(
        verify(&f.http, &f.issuer, Algorithm::RS256, &old_token).await,
        Err(Refusal::KidNotPublished(kid)) if kid == old_kid
    ));
    verify(&f.http, &f.issuer, Algorithm::RS256, &new_token)
        .await
        .expect("the new token still verifies");
}

/// The grace period runs from the rotation, not from the start of the
/// wall-clock second it happened in: 1.5 s after a rotation with
/// `grace_secs = 2` the old key is still published (RFC 7517 key rollover;
/// the admin API documents "keep the old key in the JWKS this long").
#[tokio::test]
async fn rotation_grace_lasts_the_whole_period() {
    let f = fixture().await;
    let old_kid = f.admin.keys("other").await.unwrap().active_kid;
    // Rotate late in a wall-clock second (ES256 keys are made at once), so
    // that a clock truncated to seconds would end the grace early.
    loop {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_millis();
        if (800..850).contains(&ms) {
            break;
        }
        let wait = if ms < 800 { 800 - ms } else { 1800 - ms };
        tokio::time::sleep(Duration::from_millis(u64::from(wait))).await;
    }
    let asked = Instant::now();
    let keys = f
        .admin
        .rotate_keys("other", &RotateKeys::with_grace(2))
        .await
        .unwrap();
    assert!(keys.published_kids.contains(&old_kid), "{keys:?}");
    tokio::time::sleep_until((asked + Duration::from_millis(1500)).into()).await;
    let published = kids(&jwks(&f.http, &f.other).await);
    let elapsed = asked.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(
        published.contains(&old_kid),
        "{elapsed:?} after a rotation with a 2 s grace the old key `{old_kid}` is gone: {published:?}"
    );
}

/// A rotation without grace drops the old key at once; `signing:
/// rotated_out_key` then signs with exactly that old key (RFC 8725 3.2:
/// a resource server must not accept it).
#[tokio::test]
async fn rotation_without_grace_drops_the_old_key_and_rotated_out_key_uses_it() {
    let f = fixture().await;
    let before = client_credentials(&f, &f.issuer, None).await;
    let old_token = before.str("access_token").to_owned();
    let old_kid = jwt_header(&old_token)["kid"].as_str().unwrap().to_owned();
    let old_jwk: Jwk = jwks(&f.http, &f.issuer)
        .await
        .find(&old_kid)
        .cloned()
        .expect("the old key is published");

    let keys = f
        .admin
        .rotate_keys("default", &RotateKeys::default())
        .await
        .unwrap();
    assert_eq!(keys.published_kids, [keys.active_kid.as_str()]);
    assert_eq!(
        kids(&jwks(&f.http, &f.issuer).await),
        [keys.active_kid.as_str()]
    );
    assert!(matches!(
        verify(&f.http, &f.issuer, Algorithm::RS256, &old_token).await,
        Err(Refusal::KidNotPublished(kid)) if kid == old_kid
    ));

    let id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::Signing {
                    fault: SigningFault::RotatedOutKey,
                },
            )
            .times(1),
        )
        .await
        .unwrap();
    let a = client_credentials(&f, &f.issuer, None).await;
    let token = a.str("access_token");
    assert_eq!(jwt_header(token)["kid"], old_kid.as_str());
    assert!(matches!(
        verify(&f.http, &f.issuer, Algorithm::RS256, token).await,
        Err(Refusal::KidNotPublished(kid)) if kid == old_kid
    ));
    // Signed by the old key indeed: its saved public JWK verifies it.
    let key = DecodingKey::from_jwk(&old_jwk).unwrap();
    decode_with(token, &key, Algorithm::RS256, &f.issuer).expect("signed by the rotated-out key");
    let e = last_entry(&f.admin, token_filter()).await;
    assert_entry(&e, &[&format!("signing#{id}")], "ok", 200);
}

// ---- matchers: issuer, endpoints -------------------------------------------

/// A rule for issuer `default` leaves issuer `other` alone.
#[tokio::test]
async fn issuer_filter_leaves_other_issuers_alone() {
    let f = fixture().await;
    let id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Token,
                FaultAction::HttpStatus {
                    status: 503,
                    retry_after_secs: None,
                },
            )
            .issuer("default"),
        )
        .await
        .unwrap();
    let other = client_credentials(&f, &f.other, None).await;
    assert_eq!(other.status, StatusCode::OK, "{other:?}");
    let default = client_credentials(&f, &f.issuer, None).await;
    assert_eq!(default.status, StatusCode::SERVICE_UNAVAILABLE);
    let e = last_entry(
        &f.admin,
        LedgerFilter {
            issuer: Some("other".into()),
            ..token_filter()
        },
    )
    .await;
    assert_entry(&e, &[], "ok", 200);
    let e = last_entry(
        &f.admin,
        LedgerFilter {
            issuer: Some("default".into()),
            ..token_filter()
        },
    )
    .await;
    assert_entry(&e, &[&format!("http_status#{id}")], "http_503", 503);
}

/// RFC 9110 15.6.4: every endpoint can be made to answer 503 with
/// Retry-After, once; the next request gets the real answer.
#[tokio::test]
async fn every_endpoint_answers_an_injected_503() {
    let f = fixture().await;
    let base = f.provider.base_url().to_owned();
    let (_, challenge) = support::pkce_pair();
    let authorize_query = [
        ("response_type", "code"),
        ("client_id", APP.0),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
    ];
    let basic = support::basic_header(APP.0, APP.1);
    let request = |endpoint: Endpoint| -> reqwest::RequestBuilder {
        let http = &f.http;
        match endpoint {
            Endpoint::Jwks => http.get(format!("{}/jwks", f.issuer)),
            Endpoint::Metadata => http.get(format!(
                "{base}/.well-known/oauth-authorization-server/default"
            )),
            Endpoint::Introspect => http
                .post(format!("{}/introspect", f.issuer))
                .header(reqwest::header::AUTHORIZATION, &basic)
                .form(&[("token", "not-a-token")]),
            Endpoint::Revoke => http
                .post(format!("{}/revoke", f.issuer))
                .header(reqwest::header::AUTHORIZATION, &basic)
                .form(&[("token", "not-a-token")]),
            Endpoint::Register => http
                .post(format!("{}/register", f.issuer))
                .json(&json!({"redirect_uris": [REDIRECT], "client_name": "faulty"})),
            Endpoint::Authorize => http
                .get(format!("{}/authorize", f.issuer))
                .query(&authorize_query),
            Endpoint::Upstream => http.get(format!("{}/api/things", f.issuer)),
            Endpoint::Token => unreachable!(),
        }
    };
    for (endpoint, real) in [
        (Endpoint::Jwks, StatusCode::OK),
        (Endpoint::Metadata, StatusCode::OK),
        (Endpoint::Introspect, StatusCode::OK),
        (Endpoint::Revoke, StatusCode::OK),
        (Endpoint::Register, StatusCode::CREATED),
        (Endpoint::Authorize, StatusCode::FOUND),
        (Endpoint::Upstream, StatusCode::UNAUTHORIZED),
    ] {
        let id = f
            .admin
            .add_fault(
                &FaultRule::new(
                    endpoint,
                    FaultAction::HttpStatus {
                        status: 503,
                        retry_after_secs: Some(5),
                    },
                )
                .times(1),
            )
            .await
            .unwrap();
        let injected = raw(request(endpoint)).await;
        assert_eq!(
            injected.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{endpoint}: {injected:?}"
        );
        assert_eq!(injected.header(RETRY_AFTER), Some("5"), "{endpoint}");
        let real_answer = raw(request(endpoint)).await;
        assert_eq!(real_answer.status, real, "{endpoint}: {real_answer:?}");

        let entries = ledger_at(&f.admin, endpoint).await;
        assert_eq!(entries.len(), 2, "{endpoint}: {entries:#?}");
        assert_entry(
            &entries[0],
            &[&format!("http_status#{id}")],
            "http_503",
            503,
        );
        assert!(entries[1].faults.is_empty(), "{endpoint}: {:?}", entries[1]);
        assert_eq!(entries[1].status, real.as_u16());
    }
}

/// RFC 6749 4.1.2.1 and RFC 9207 2: an injected OAuth error at the
/// authorization endpoint goes back to the client's redirect URI with
/// `error`, `state` and `iss`, and no code.
#[tokio::test]
async fn authorize_oauth_error_redirects_to_the_client() {
    let f = fixture().await;
    let id = f
        .admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Authorize,
                FaultAction::OauthError {
                    error: ErrorCode::AccessDenied,
                    description: Some("the user said no".into()),
                    status: None,
                },
            )
            .times(1),
        )
        .await
        .unwrap();
    let (_, challenge) = support::pkce_pair();
    let answer = support::authorize(
        &f.http,
        &f.issuer,
        &[
            ("response_type", "code"),
            ("client_id", APP.0),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "st-123"),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::FOUND, "{answer:?}");
    let location = answer.location.as_ref().unwrap();
    assert!(location.as_str().starts_with(REDIRECT), "{location}");
    assert_eq!(answer.params["error"], "access_denied");
    assert_eq!(answer.params["error_description"], "the user said no");
    assert_eq!(answer.params["state"], "st-123");
    assert_eq!(answer.params["iss"], f.issuer);
    assert!(!answer.params.contains_key("code"));
    let entries = ledger_at(&f.admin, Endpoint::Authorize).await;
    assert_eq!(entries.len(), 1);
    assert_entry(
        &entries[0],
        &[&format!("oauth_error#{id}")],
        "access_denied",
        302,
    );
    assert_eq!(entries[0].client_id.as_deref(), Some(APP.0));
    // Spent: the next authorization request gets a code.
    support::authorization_code(&f.http, &f.issuer, APP.0, &[]).await;
}

// ---- rules from a config file ----------------------------------------------

const CONFIG: &str = r#"
[[issuer]]
name = "default"

[[issuer.client]]
client_id = "app"
client_secret = "app-secret"
grant_types = ["client_credentials"]

[[fault]]
endpoint = "jwks"
times = 1
action = { kind = "http_status", status = 503, retry_after_secs = 2 }

[[fault]]
endpoint = "token"
client_id = "app"
action = { kind = "token_override", aud = "https://config.example/api" }
"#;

/// `[[fault]]` rules in the config file are in force from the start (and
/// again after a reset).
#[tokio::test]
async fn config_file_faults_are_in_force_from_the_start() {
    let config = ProviderConfig::from_toml_str(CONFIG).expect("valid config");
    let provider = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let admin = provider.admin();
    let http = support::http();
    let issuer = provider.issuer_url("default").unwrap();
    assert_eq!(admin.faults().await.unwrap().len(), 2);

    let jwks_url = format!("{issuer}/jwks");
    let first = raw(http.get(&jwks_url)).await;
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(first.header(RETRY_AFTER), Some("2"));
    assert_eq!(raw(http.get(&jwks_url)).await.status, StatusCode::OK);
    let entries = ledger_at(&admin, Endpoint::Jwks).await;
    assert_entry(&entries[0], &["http_status#1"], "http_503", 503);
    assert_entry(&entries[1], &[], "ok", 200);

    let a = support::post_form(
        &http,
        &issuer,
        "token",
        Some(APP),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    assert_eq!(
        support::jwt_payload(a.str("access_token"))["aud"],
        "https://config.example/api"
    );
    let e = last_entry(&admin, token_filter()).await;
    assert_entry(&e, &["token_override#2"], "ok", 200);

    // The spent rule comes back with a reset.
    assert_eq!(admin.faults().await.unwrap().len(), 1);
    admin.reset().await.unwrap();
    let rules = admin.faults().await.unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!(rules[0].endpoint, Endpoint::Jwks);
    assert_eq!(rules[0].times, Some(1));
}

/// A bad `[[fault]]` is refused naming `fault[N]` and the reason, both
/// from the file and from a config built in Rust.
#[test]
fn bad_config_faults_are_refused_naming_the_rule() {
    let base = "[[issuer]]\nname = \"default\"\n";
    for (rule, reason) in [
        (
            "endpoint = \"token\"\naction = { kind = \"http_status\", status = 404 }",
            "is for the upstream endpoint",
        ),
        (
            "endpoint = \"jwks\"\naction = { kind = \"signing\", fault = \"alg_none\" }",
            "only applies to endpoint = \"token\"",
        ),
        (
            "endpoint = \"token\"\nprobability = 1.5\naction = { kind = \"empty_body\" }",
            "probability",
        ),
        (
            "endpoint = \"token\"\naction = { kind = \"refresh_barrier\", parties = 1 }",
            "at least 2 parties",
        ),
    ] {
        let text = format!("{base}\n[[fault]]\n{rule}\n");
        let Err(err) = ProviderConfig::from_toml_str(&text) else {
            panic!("refused: {rule}");
        };
        let err = err.to_string();
        assert!(err.contains("fault[0]"), "{err}");
        assert!(err.contains(reason), "{err}");
    }
    let err = ProviderConfig::from_toml_str(&format!(
        "{base}\n[[fault]]\nendpoint = \"token\"\nissuer = \"nowhere\"\naction = {{ kind = \"empty_body\" }}\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("fault[0].issuer"), "{err}");
    assert!(err.contains("nowhere"), "{err}");
    // Unknown fields and kinds are parse errors naming them.
    for (rule, named) in [
        (
            "endpoint = \"token\"\ntmes = 2\naction = { kind = \"empty_body\" }",
            "tmes",
        ),
        (
            "endpoint = \"token\"\naction = { kind = \"explode\" }",
            "explode",
        ),
        (
            "endpoint = \"token\"\naction = { kind = \"http_status\", status = 503, retry = 1 }",
            "retry",
        ),
    ] {
        let err = ProviderConfig::from_toml_str(&format!("{base}\n[[fault]]\n{rule}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(named), "{err}");
    }
}

/// The builder validates a config built in Rust the same way.
#[tokio::test]
async fn builder_refuses_a_bad_fault_rule() {
    let config = ProviderConfig {
        faults: vec![
            FaultRule::new(Endpoint::Token, FaultAction::EmptyBody),
            FaultRule::new(
                Endpoint::Token,
                FaultAction::HttpStatus {
                    status: 404,
                    retry_after_secs: None,
                },
            ),
        ],
        ..Default::default()
    };
    let err = MockProvider::builder()
        .config(config)
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("fault[1]"), "{err}");
    assert!(!err.contains("fault[0]"), "{err}");
}

// ---- bad rules via the admin API -------------------------------------------

/// The error description of an admin refusal, having checked it is a 400.
fn refusal_description(err: mock_provider::AdminError) -> String {
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST), "{err}");
    let mock_provider::AdminError::Refused { body, .. } = err else {
        unreachable!()
    };
    let body: Value = serde_json::from_str(&body).expect("a JSON refusal");
    assert_eq!(body["error"], "invalid_request");
    body["error_description"].as_str().unwrap().to_owned()
}

/// Bad rules are refused with 400 naming the problem, and the plan is left
/// as it was (all or none, even for a batch with one bad rule).
#[tokio::test]
async fn bad_rules_via_admin_are_refused_and_change_nothing() {
    let f = fixture().await;
    f.admin
        .add_fault(&FaultRule::new(Endpoint::Jwks, FaultAction::EmptyBody).times(3))
        .await
        .unwrap();
    let before = f.admin.faults().await.unwrap();
    assert_eq!(before.len(), 1);

    // Rules the typed client cannot even express.
    for (body, named) in [
        (
            json!({"endpoint": "token", "action": {"kind": "explode"}}),
            "explode",
        ),
        (
            json!({"endpoint": "token", "action": {"kind": "empty_body"}, "tmes": 2}),
            "tmes",
        ),
        (json!({"endpoint": "token", "times": 1}), "action"),
    ] {
        let a = support::post_raw(
            &f.http,
            &format!("{}/__admin", f.provider.base_url()),
            "faults",
            Some("application/json"),
            None,
            body.to_string(),
        )
        .await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {a:?}");
        assert!(
            a.str("error_description").contains(named),
            "{body}: {:?}",
            a.body
        );
    }

    let http_404 = FaultRule::new(
        Endpoint::Token,
        FaultAction::HttpStatus {
            status: 404,
            retry_after_secs: None,
        },
    );
    for (rule, named) in [
        (
            FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).probability(1.5, 1),
            "probability must be between 0 and 1",
        ),
        (
            FaultRule::new(
                Endpoint::Jwks,
                FaultAction::Signing {
                    fault: SigningFault::AlgNone,
                },
            ),
            "signing only applies to endpoint = \"token\"",
        ),
        (http_404.clone(), "is for the upstream endpoint"),
        (
            FaultRule::new(
                Endpoint::Token,
                FaultAction::RefreshBarrier {
                    parties: 1,
                    timeout_millis: 100,
                },
            ),
            "at least 2 parties",
        ),
        (
            FaultRule::new(Endpoint::Token, FaultAction::EmptyBody).issuer("nowhere"),
            "fault[0].issuer: no issuer named `nowhere`",
        ),
    ] {
        let err = f.admin.add_fault(&rule).await.expect_err("refused");
        let description = refusal_description(err);
        assert!(description.contains(named), "{rule:?}: {description}");
    }
    // A batch with one bad rule adds none.
    let err = f
        .admin
        .add_faults(&[
            FaultRule::new(Endpoint::Token, FaultAction::EmptyBody),
            http_404,
        ])
        .await
        .expect_err("refused");
    assert!(refusal_description(err).starts_with("fault[1]:"));

    assert_eq!(f.admin.faults().await.unwrap(), before, "plan unchanged");
}
