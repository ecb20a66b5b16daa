//! Property test: whatever is thrown at the provider's endpoints (arbitrary
//! bytes, structured `k=v&k=v` forms with real and garbage values, broken
//! percent-escapes, duplicates, odd `Authorization` headers), it never
//! answers 5xx, and every refusal speaks the error vocabulary of RFC 6749,
//! RFC 7009, RFC 7591 and RFC 8707.
//!
//! One provider serves every case: it runs on a multi-thread tokio runtime
//! kept in a `OnceLock`, and each case `block_on`s its request.

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use mock_provider::MockProvider;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use reqwest::StatusCode;
use reqwest::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION, WWW_AUTHENTICATE,
};
use serde_json::{Map, Value};
use support::{APP, GRACE_APP, POST_APP, PUBLIC_APP, REDIRECT, RESOURCE, REUSABLE_APP};
use url::Url;

/// Cases per endpoint.
const CASES: u32 = 200;

/// Parameter names the form strategies draw from.
const PARAM_NAMES: &[&str] = &[
    "grant_type",
    "code",
    "refresh_token",
    "client_id",
    "client_secret",
    "redirect_uri",
    "code_verifier",
    "scope",
    "resource",
    "token",
    "token_type_hint",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "state",
    "login_hint",
];

/// Raw (already "encoded") fragments: broken and tricky percent-escapes
/// and separators.
const ESCAPES: &[&str] = &[
    "%FF",
    "%00",
    "%zz",
    "%",
    "%2",
    "%E2%9C",
    "%C3%28",
    "%ED%A0%80",
    "%C0%AF",
    "+",
    "%2B",
    "%26",
    "%3D",
    "&",
    "=",
    "&&",
    "%0A",
    "%0D%0A",
];

/// RFC 6749 5.2, plus RFC 8707 2 `invalid_target`: the token endpoint.
const TOKEN_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
];

/// RFC 6749 4.1.2.1, plus RFC 8707 `invalid_target`: authorization
/// redirects.
const AUTHORIZE_ERRORS: &[&str] = &[
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "invalid_target",
];

/// RFC 7662 2.3: introspection uses the RFC 6749 5.2 codes.
const INTROSPECT_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// RFC 7009 2.2.1: the RFC 6749 5.2 codes plus `unsupported_token_type`.
const REVOKE_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "unsupported_token_type",
];

/// RFC 7591 3.2.2.
const REGISTER_ERRORS: &[&str] = &[
    "invalid_redirect_uri",
    "invalid_client_metadata",
    "invalid_software_statement",
    "unapproved_software_statement",
];

/// The provider every case talks to, and values that get a request past
/// the first checks.
struct Harness {
    runtime: tokio::runtime::Runtime,
    _provider: MockProvider,
    issuer: String,
    http: reqwest::Client,
    /// Valid-looking parameter values, decoded.
    values: Vec<String>,
    /// PKCE pair of `code`.
    verifier: String,
    challenge: String,
    /// An unredeemed authorization code for `APP`.
    code: String,
    access_token: String,
    refresh_token: String,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let (provider, issuer, http, code, verifier, tokens) = runtime.block_on(async {
            let provider = support::start_provider().await;
            let issuer = provider.issuer_url("default").unwrap();
            let http = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let (code, verifier) = support::authorization_code(&http, &issuer, APP.0, &[]).await;
            let tokens = support::code_flow_tokens(&http, &issuer, &[("resource", RESOURCE)]).await;
            (provider, issuer, http, code, verifier, tokens)
        });
        let challenge = mock_provider::s256_challenge(&verifier);
        let access_token = tokens.str("access_token").to_owned();
        let refresh_token = tokens.str("refresh_token").to_owned();
        let mut values: Vec<String> = [
            APP.0,
            APP.1,
            POST_APP.0,
            POST_APP.1,
            PUBLIC_APP,
            REUSABLE_APP.0,
            REUSABLE_APP.1,
            GRACE_APP.0,
            GRACE_APP.1,
            "no-such-client",
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
            "code",
            "token",
            "code id_token",
            "S256",
            "plain",
            "s256",
            REDIRECT,
            "http://127.0.0.1:40000/callback",
            // Plain http on a public host: refused before any fetch when
            // used as a client ID metadata document URL.
            "http://evil.example/callback",
            RESOURCE,
            "http://127.0.0.1:9999/mcp#frag",
            "/relative",
            "mcp:tools",
            "mcp:tools mcp:admin",
            "offline_access",
            "no:such",
            "a\"b",
            "access_token",
            "bob",
            "xyz",
        ]
        .map(String::from)
        .to_vec();
        values.extend([
            code.clone(),
            verifier.clone(),
            challenge.clone(),
            access_token.clone(),
            refresh_token.clone(),
        ]);
        Harness {
            runtime,
            _provider: provider,
            issuer,
            http,
            values,
            verifier,
            challenge,
            code,
            access_token,
            refresh_token,
        }
    })
}

// ---------------------------------------------------------------- strategies

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Broken escapes, optionally around a real value.
fn escape_junk() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(select(ESCAPES), 1..4),
        proptest::option::of(select(harness().values.clone())),
    )
        .prop_map(|(escapes, around)| {
            let junk = escapes.concat();
            match around {
                Some(v) => format!("{}{junk}", form_encode(&v)),
                None => junk,
            }
        })
}

/// A parameter name as it appears on the wire.
fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => select(PARAM_NAMES).prop_map(String::from),
        1 => "\\PC{0,12}".prop_map(|s| form_encode(&s)),
        1 => escape_junk(),
    ]
}

/// A parameter value as it appears on the wire.
fn param_value() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => select(harness().values.clone()).prop_map(|v| form_encode(&v)),
        2 => "\\PC{0,40}".prop_map(|s| form_encode(&s)),
        // Raw printable ASCII, separators and `%` included.
        1 => "[ -~]{0,24}",
        2 => escape_junk(),
        1 => Just(String::new()),
    ]
}

/// `name=value`, or a bare `name`.
fn form_pair() -> impl Strategy<Value = String> {
    (param_name(), proptest::option::weighted(0.9, param_value())).prop_map(|(k, v)| match v {
        Some(v) => format!("{k}={v}"),
        None => k,
    })
}

/// A known-good request for an endpoint, then some of its pairs dropped,
/// others added (duplicates included) and the order shuffled.
fn mutated_template(templates: Vec<Vec<(String, String)>>) -> BoxedStrategy<Vec<u8>> {
    select(templates)
        .prop_flat_map(|template| {
            let n = template.len();
            (
                Just(template),
                proptest::collection::vec(proptest::bool::weighted(0.85), n),
                prop_oneof![
                    3 => Just(Vec::new()),
                    1 => proptest::collection::vec(form_pair(), 1..3),
                ],
                proptest::option::weighted(0.15, 0..n.max(1)),
            )
        })
        .prop_flat_map(|(template, keep, extra, duplicate)| {
            let mut pairs: Vec<String> = template
                .iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|((k, v), _)| format!("{k}={}", form_encode(v)))
                .collect();
            if let Some((k, v)) = duplicate.and_then(|i| template.get(i)) {
                pairs.push(format!("{k}={}", form_encode(v)));
            }
            pairs.extend(extra);
            Just(pairs).prop_shuffle()
        })
        .prop_map(|pairs| pairs.join("&").into_bytes())
        .boxed()
}

/// (a) arbitrary bytes, (b) pairs built from known names and mixed
/// values, (c) a mutated valid request.
fn form_body(templates: Vec<Vec<(String, String)>>) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        2 => proptest::collection::vec(any::<u8>(), 0..200),
        3 => proptest::collection::vec(form_pair(), 0..10).prop_map(|p| p.join("&").into_bytes()),
        5 => mutated_template(templates),
    ]
    .boxed()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn token_templates() -> Vec<Vec<(String, String)>> {
    let h = harness();
    vec![
        pairs(&[
            ("grant_type", "authorization_code"),
            ("code", &h.code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &h.verifier),
        ]),
        pairs(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &h.refresh_token),
            ("scope", "mcp:tools"),
            ("resource", RESOURCE),
        ]),
        pairs(&[
            ("grant_type", "client_credentials"),
            ("scope", "mcp:tools"),
            ("resource", RESOURCE),
        ]),
        pairs(&[
            ("grant_type", "client_credentials"),
            ("client_id", POST_APP.0),
            ("client_secret", POST_APP.1),
        ]),
    ]
}

fn authorize_templates() -> Vec<Vec<(String, String)>> {
    let h = harness();
    vec![pairs(&[
        ("response_type", "code"),
        ("client_id", APP.0),
        ("redirect_uri", REDIRECT),
        ("code_challenge", &h.challenge),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
        ("scope", "mcp:tools"),
        ("resource", RESOURCE),
        ("login_hint", "bob"),
    ])]
}

fn token_lookup_templates() -> Vec<Vec<(String, String)>> {
    let h = harness();
    vec![
        pairs(&[
            ("token", &h.access_token),
            ("token_type_hint", "access_token"),
        ]),
        pairs(&[
            ("token", &h.refresh_token),
            ("token_type_hint", "refresh_token"),
        ]),
        pairs(&[
            ("token", &h.access_token),
            ("client_id", POST_APP.0),
            ("client_secret", POST_APP.1),
        ]),
    ]
}

/// An `Authorization` header value: none, valid Basic, wrong secret,
/// unknown client, Basic with broken contents, another scheme, or bytes.
fn authorization() -> impl Strategy<Value = Option<Vec<u8>>> {
    let valid = select(vec![APP, APP, APP, POST_APP, REUSABLE_APP, GRACE_APP]);
    let ids = select(vec![APP.0, POST_APP.0, PUBLIC_APP, "no-such-client"]);
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    prop_oneof![
        4 => Just(None),
        4 => valid.prop_map(|(id, secret)| Some(support::basic_header(id, secret).into_bytes())),
        1 => (ids, "\\PC{0,12}")
            .prop_map(|(id, secret)| Some(support::basic_header(id, &secret).into_bytes())),
        1 => proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(move |raw| Some(format!("Basic {}", b64(&raw)).into_bytes())),
        1 => select(vec!["app:%FF", "app", ":", "%zz:%zz", "app:app-secret:extra"])
            .prop_map(move |raw| Some(format!("Basic {}", b64(raw.as_bytes())).into_bytes())),
        1 => select(vec!["Bearer abc", "Basic", "Basic ", "basic YXBwOmFwcC1zZWNyZXQ=", "Digest x"])
            .prop_map(|v| Some(v.as_bytes().to_vec())),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Some),
    ]
}

/// The form `Content-Type`, now and then a wrong or odd one.
fn form_content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        12 => Just(Some("application/x-www-form-urlencoded")),
        1 => select(vec![
            None,
            Some("application/json"),
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            Some("APPLICATION/X-WWW-FORM-URLENCODED"),
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
        ]),
    ]
}

/// A body for the registration endpoint: arbitrary bytes, or JSON objects
/// mixing registration fields with odd values.
fn registration_body() -> BoxedStrategy<Vec<u8>> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        select(vec![
            REDIRECT,
            "http://evil.example/cb",
            "https://app.example/cb#frag",
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "code",
            "token",
            "none",
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "mcp:tools",
            "no:such",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("\\PC{0,8}", inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    let key = prop_oneof![
        4 => select(vec![
            "redirect_uris",
            "grant_types",
            "response_types",
            "token_endpoint_auth_method",
            "scope",
            "client_name",
            "client_uri",
            "contacts",
        ])
        .prop_map(String::from),
        1 => "\\PC{0,10}",
    ];
    let object = proptest::collection::vec((key.clone(), value.clone()), 0..6)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()).to_string());
    // A valid registration with up to two fields replaced or added.
    let valid = (
        select(vec!["none", "client_secret_basic", "client_secret_post"]),
        select(vec![
            vec!["authorization_code"],
            vec!["authorization_code", "refresh_token"],
        ]),
        proptest::collection::vec((key, value), 0..3),
    )
        .prop_map(|(method, grants, changes)| {
            let mut doc = serde_json::json!({
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": method,
                "grant_types": grants,
                "response_types": ["code"],
                "scope": "mcp:tools",
                "client_name": "proptest",
            });
            for (k, v) in changes {
                doc[k] = v;
            }
            doc.to_string()
        });
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        2 => object.prop_map(String::into_bytes),
        2 => valid.prop_map(String::into_bytes),
    ]
    .boxed()
}

// ------------------------------------------------------------------ requests

/// What came back, read in full.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Header bytes made acceptable to `HeaderValue` (no control characters).
fn header_value(raw: &[u8]) -> HeaderValue {
    let cleaned: Vec<u8> = raw
        .iter()
        .map(|b| {
            if (*b >= 0x20 && *b != 0x7F) || *b == b'\t' {
                *b
            } else {
                b'?'
            }
        })
        .collect();
    HeaderValue::from_bytes(&cleaned).expect("cleaned header value")
}

async fn send(request: reqwest::RequestBuilder) -> Result<Answer, TestCaseError> {
    let response = request
        .send()
        .await
        .map_err(|e| TestCaseError::fail(format!("transport error: {e}")))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| TestCaseError::fail(format!("body error: {e}")))?
        .to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

async fn post(
    endpoint: &str,
    content_type: Option<&str>,
    authorization: Option<&[u8]>,
    body: Vec<u8>,
) -> Result<Answer, TestCaseError> {
    let h = harness();
    let mut request = h.http.post(format!("{}/{endpoint}", h.issuer)).body(body);
    if let Some(ct) = content_type {
        request = request.header(CONTENT_TYPE, ct);
    }
    if let Some(raw) = authorization {
        request = request.header(AUTHORIZATION, header_value(raw));
    }
    send(request).await
}

/// Bytes as a URI query: the query characters of RFC 3986 3.4 (and `%`,
/// so broken escapes survive) raw, everything else percent-encoded.
fn as_query(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(b) {
            out.push(*b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// -------------------------------------------------------------------- checks

/// Never a 5xx: a malformed request is the client's fault (RFC 6749 5.2,
/// RFC 9110 15.5).
fn check_not_server_error(answer: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(
        answer.status.as_u16() < 500,
        "server error: {} {}",
        answer.status,
        answer.text()
    );
    Ok(())
}

/// A 4xx (other than 404) is a JSON object whose `error` is one of `known`
/// (RFC 6749 5.2, RFC 7009 2.2.1, RFC 7591 3.2.2, RFC 8707 2).
fn check_json_error(answer: &Answer, known: &[&str]) -> Result<Option<String>, TestCaseError> {
    if !answer.status.is_client_error() || answer.status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let body: Value = serde_json::from_slice(&answer.body).map_err(|e| {
        TestCaseError::fail(format!(
            "{} body is not JSON ({e}): {}",
            answer.status,
            answer.text()
        ))
    })?;
    let error = body["error"].as_str().unwrap_or_default().to_owned();
    prop_assert!(
        known.contains(&error.as_str()),
        "unexpected error `{}` ({}): {}",
        error,
        answer.status,
        body
    );
    prop_assert!(
        body.get("error_description").is_none_or(|d| d.is_string()),
        "error_description is not a string: {}",
        body
    );
    Ok(Some(error))
}

/// Token, introspection and revocation answers.
fn check_form_endpoint(
    endpoint: &str,
    known: &[&str],
    sent_authorization: bool,
    answer: &Answer,
) -> Result<(), TestCaseError> {
    check_not_server_error(answer)?;
    let error = check_json_error(answer, known)?;
    if let Some(error) = &error {
        // RFC 6749 5.2: 401 is for invalid_client only; a failed
        // Authorization header gets 401 and a WWW-Authenticate challenge.
        if answer.status == StatusCode::UNAUTHORIZED {
            prop_assert_eq!(error.as_str(), "invalid_client");
        }
        if error == "invalid_client" && sent_authorization {
            prop_assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
            let challenge = answer.header(WWW_AUTHENTICATE).unwrap_or_default();
            prop_assert!(
                challenge.to_ascii_lowercase().starts_with("basic"),
                "missing Basic challenge: {:?}",
                answer
            );
        }
    }
    if endpoint == "token" {
        // RFC 6749 5.1 (OAuth 2.1 3.2.3): token responses are not cached.
        prop_assert_eq!(answer.header(CACHE_CONTROL), Some("no-store"));
    }
    if answer.status.is_success() {
        prop_assert_eq!(answer.status, StatusCode::OK);
        match endpoint {
            "token" => {
                // RFC 6749 5.1.
                let body: Value = serde_json::from_slice(&answer.body)
                    .map_err(|e| TestCaseError::fail(format!("token body: {e}")))?;
                prop_assert!(body["access_token"].is_string(), "{}", body);
                prop_assert_eq!(body["token_type"].as_str(), Some("Bearer"));
            }
            "introspect" => {
                // RFC 7662 2.2: `active` is required.
                let body: Value = serde_json::from_slice(&answer.body)
                    .map_err(|e| TestCaseError::fail(format!("introspection body: {e}")))?;
                prop_assert!(body["active"].is_boolean(), "{}", body);
            }
            _ => {}
        }
    } else {
        prop_assert!(
            answer.status.is_client_error(),
            "unexpected status {}",
            answer.status
        );
    }
    Ok(())
}

/// Authorization endpoint answers: an HTML error page (RFC 6749 4.1.2.1:
/// bad client or redirect URI) or a redirect to the registered callback
/// carrying `code` or a known `error`, and always `iss` (RFC 9207 2).
fn check_authorize(answer: &Answer) -> Result<(), TestCaseError> {
    check_not_server_error(answer)?;
    match answer.status {
        StatusCode::BAD_REQUEST => {
            prop_assert!(
                answer.header(LOCATION).is_none(),
                "an error page must not redirect"
            );
            let content_type = answer.header(CONTENT_TYPE).unwrap_or_default();
            prop_assert!(
                content_type.starts_with("text/html"),
                "error page is {}",
                content_type
            );
        }
        StatusCode::FOUND => {
            let location = answer.header(LOCATION).unwrap_or_default();
            let url = Url::parse(location)
                .map_err(|e| TestCaseError::fail(format!("Location `{location}`: {e}")))?;
            // RFC 6749 3.1.2.4: only to a registered redirect URI (here
            // REDIRECT, any loopback port per RFC 8252 7.3).
            prop_assert_eq!(url.scheme(), "http");
            prop_assert_eq!(url.host_str(), Some("127.0.0.1"));
            prop_assert_eq!(url.path(), "/callback");
            let params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let get = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            prop_assert_eq!(get("iss"), Some(harness().issuer.as_str()));
            match get("error") {
                Some(error) => prop_assert!(
                    AUTHORIZE_ERRORS.contains(&error),
                    "unexpected authorization error `{}`",
                    error
                ),
                None => prop_assert!(get("code").is_some(), "neither code nor error: {}", url),
            }
        }
        other => prop_assert!(false, "unexpected authorize status {}", other),
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    }
}

// -------------------------------------------------------------------- tests

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_endpoint_answers_malformed_forms_with_rfc6749_errors(
        body in form_body(token_templates()),
        content_type in form_content_type(),
        authorization in authorization(),
    ) {
        harness().runtime.block_on(async {
            let answer = post("token", content_type, authorization.as_deref(), body).await?;
            check_form_endpoint("token", TOKEN_ERRORS, authorization.is_some(), &answer)
        })?;
    }

    #[test]
    fn authorize_get_answers_malformed_queries_with_page_or_redirect(
        query in form_body(authorize_templates()),
    ) {
        harness().runtime.block_on(async {
            let h = harness();
            let url = format!("{}/authorize?{}", h.issuer, as_query(&query));
            let answer = send(h.http.get(url)).await?;
            check_authorize(&answer)
        })?;
    }

    #[test]
    fn authorize_post_answers_malformed_forms_with_page_or_redirect(
        body in form_body(authorize_templates()),
        content_type in form_content_type(),
    ) {
        harness().runtime.block_on(async {
            let answer = post("authorize", content_type, None, body).await?;
            check_authorize(&answer)
        })?;
    }

    #[test]
    fn register_endpoint_answers_malformed_json_with_rfc7591_errors(
        body in registration_body(),
    ) {
        harness().runtime.block_on(async {
            let answer = post("register", Some("application/json"), None, body).await?;
            check_not_server_error(&answer)?;
            check_json_error(&answer, REGISTER_ERRORS)?;
            if answer.status.is_success() {
                // RFC 7591 3.2.1: 201 Created with the client_id.
                prop_assert_eq!(answer.status, StatusCode::CREATED);
                let body: Value = serde_json::from_slice(&answer.body)
                    .map_err(|e| TestCaseError::fail(format!("registration body: {e}")))?;
                prop_assert!(body["client_id"].is_string(), "{}", body);
            } else {
                prop_assert!(answer.status.is_client_error(), "status {}", answer.status);
            }
            Ok(())
        })?;
    }

    #[test]
    fn introspect_endpoint_answers_malformed_forms_with_rfc6749_errors(
        body in form_body(token_lookup_templates()),
        content_type in form_content_type(),
        authorization in authorization(),
    ) {
        harness().runtime.block_on(async {
            let answer = post("introspect", content_type, authorization.as_deref(), body).await?;
            check_form_endpoint("introspect", INTROSPECT_ERRORS, authorization.is_some(), &answer)
        })?;
    }

    #[test]
    fn revoke_endpoint_answers_malformed_forms_with_rfc7009_errors(
        body in form_body(token_lookup_templates()),
        content_type in form_content_type(),
        authorization in authorization(),
    ) {
        harness().runtime.block_on(async {
            let answer = post("revoke", content_type, authorization.as_deref(), body).await?;
            check_form_endpoint("revoke", REVOKE_ERRORS, authorization.is_some(), &answer)
        })?;
    }
}
