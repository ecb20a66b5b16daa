//! Every bad input to every endpoint gets the error the RFCs give it, never
//! a 5xx: the authorization endpoint (RFC 6749 4.1.2.1, RFC 7636, RFC 8707,
//! RFC 9207, RFC 8252), the token endpoint (RFC 6749 2.3, 3.2, 4.1.3, 5.2),
//! registration (RFC 7591), introspection (RFC 7662) and revocation
//! (RFC 7009). Each test talks to a real provider on 127.0.0.1.

mod support;

use mock_provider::MockProvider;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use support::{APP, AuthorizeAnswer, JsonAnswer, POST_APP, PUBLIC_APP, REDIRECT, RESOURCE};

/// A running provider, its `default` issuer URL and an HTTP client.
async fn setup() -> (MockProvider, String, reqwest::Client) {
    let provider = support::start_provider().await;
    let issuer = provider.issuer_url("default").unwrap();
    (provider, issuer, support::http())
}

/// RFC 6749 5.2: an error answer is a JSON object with a string `error`
/// and (here always) a string `error_description`, with the given status.
fn expect_error(answer: &JsonAnswer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.error(), Some(code), "{answer:?}");
    assert!(
        answer.body["error_description"].is_string(),
        "error_description missing: {answer:?}"
    );
}

/// A token endpoint error: as [`expect_error`], plus `Cache-Control:
/// no-store` (RFC 6749 5.1/5.2; OAuth 2.1 3.2.3/3.2.4).
fn expect_token_error(answer: &JsonAnswer, status: StatusCode, code: &str) {
    expect_error(answer, status, code);
    assert_eq!(
        answer
            .headers
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "token responses must not be cached: {answer:?}"
    );
}

/// RFC 6749 5.2: a failed `Authorization: Basic` is a 401 with a `Basic`
/// `WWW-Authenticate` challenge.
fn expect_basic_challenge(answer: &JsonAnswer) {
    expect_token_error(answer, StatusCode::UNAUTHORIZED, "invalid_client");
    let challenge = answer
        .headers
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no WWW-Authenticate: {answer:?}"));
    assert!(
        challenge.to_ascii_lowercase().starts_with("basic"),
        "challenge is not Basic: {challenge}"
    );
}

/// RFC 6749 4.1.2.1: the request is refused on a page, never redirected,
/// because the client or redirect URI cannot be trusted.
fn expect_error_page(answer: &AuthorizeAnswer) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
    assert!(
        answer.location.is_none(),
        "must not redirect: {:?}",
        answer.location
    );
    assert!(
        answer.body.to_ascii_lowercase().contains("<html"),
        "expected an HTML page: {}",
        answer.body
    );
}

/// RFC 6749 4.1.2.1 + RFC 9207: redirected to the client's redirect URI
/// with `error`, the request's `state` and the issuer's `iss`, no `code`.
fn expect_redirect_error(answer: &AuthorizeAnswer, issuer: &str, code: &str) {
    assert_eq!(answer.status, StatusCode::FOUND, "{answer:?}");
    let location = answer.location.as_ref().expect("Location");
    assert!(
        location.as_str().starts_with(REDIRECT),
        "redirected elsewhere: {location}"
    );
    assert_eq!(
        answer.params.get("error").map(String::as_str),
        Some(code),
        "{answer:?}"
    );
    assert_eq!(
        answer.params.get("state").map(String::as_str),
        Some("xyz"),
        "{answer:?}"
    );
    assert_eq!(
        answer.params.get("iss").map(String::as_str),
        Some(issuer),
        "{answer:?}"
    );
    assert!(!answer.params.contains_key("code"), "{answer:?}");
}

/// A well-formed authorization request for `client_id`, with PKCE S256,
/// minus the parameters named in `drop`, plus `extra`.
fn authorize_params<'a>(
    client_id: &'a str,
    challenge: &'a str,
    drop: &[&str],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut params: Vec<(&str, &str)> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
    ]
    .into_iter()
    .filter(|(k, _)| !drop.contains(k))
    .collect();
    params.extend_from_slice(extra);
    params
}

/// Redeems a code for `APP` at the token endpoint.
async fn redeem(
    http: &reqwest::Client,
    issuer: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> JsonAnswer {
    let mut full = vec![("grant_type", "authorization_code")];
    full.extend_from_slice(form);
    support::post_form(http, issuer, "token", basic, &full).await
}

// ---------------------------------------------------------------- authorize

#[tokio::test]
async fn authorize_unknown_client_gets_an_error_page() {
    let (_p, issuer, http) = setup().await;
    let (_, challenge) = support::pkce_pair();
    let answer = support::authorize(
        &http,
        &issuer,
        &authorize_params("no-such-client", &challenge, &[], &[]),
    )
    .await;
    // RFC 6749 4.1.2.1: an invalid client_id must not be redirected.
    expect_error_page(&answer);
}

#[tokio::test]
async fn authorize_unregistered_redirect_uri_is_never_redirected() {
    let (_p, issuer, http) = setup().await;
    let (_, challenge) = support::pkce_pair();
    for bad in [
        "https://evil.example/callback",
        "http://127.0.0.1:8765/callback/",
        "http://127.0.0.1:8765/other",
        // A name is not a loopback IP literal (RFC 8252 8.3): exact match.
        "http://localhost:8765/callback",
        "http://127.0.0.1:8765/callback?extra=1",
        "not a uri",
    ] {
        let params = authorize_params(
            PUBLIC_APP,
            &challenge,
            &["redirect_uri"],
            &[("redirect_uri", bad)],
        );
        let answer = support::authorize(&http, &issuer, &params).await;
        // RFC 6749 4.1.2.1 / 3.1.2.4: never redirect to an unverified URI.
        expect_error_page(&answer);
    }
}

#[tokio::test]
async fn authorize_without_redirect_uri_uses_the_only_registered_one() {
    let (_p, issuer, http) = setup().await;
    let (verifier, challenge) = support::pkce_pair();
    let answer = support::authorize(
        &http,
        &issuer,
        &authorize_params(APP.0, &challenge, &["redirect_uri"], &[]),
    )
    .await;
    // RFC 6749 3.1.2.3: optional when exactly one URI is registered.
    assert_eq!(answer.status, StatusCode::FOUND, "{answer:?}");
    let location = answer.location.as_ref().unwrap();
    assert!(location.as_str().starts_with(REDIRECT), "{location}");
    let code = answer.params.get("code").expect("code").clone();
    // RFC 6749 4.1.3: redirect_uri is only required at the token endpoint
    // if the authorization request had one.
    let token = redeem(
        &http,
        &issuer,
        &[("code", &code), ("code_verifier", &verifier)],
        Some(APP),
    )
    .await;
    assert_eq!(token.status, StatusCode::OK, "{token:?}");
}

#[tokio::test]
async fn authorize_response_type_token_is_unsupported_response_type() {
    let (_p, issuer, http) = setup().await;
    let (_, challenge) = support::pkce_pair();
    let answer = support::authorize(
        &http,
        &issuer,
        &authorize_params(
            APP.0,
            &challenge,
            &["response_type"],
            &[("response_type", "token")],
        ),
    )
    .await;
    // OAuth 2.1 drops the implicit grant: RFC 6749 4.1.2.1
    // unsupported_response_type, with state and iss (RFC 9207).
    expect_redirect_error(&answer, &issuer, "unsupported_response_type");
}

#[tokio::test]
async fn authorize_pkce_problems_are_invalid_request() {
    let (_p, issuer, http) = setup().await;
    let (_, challenge) = support::pkce_pair();
    let cases: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "missing code_challenge (OAuth 2.1 4.1.1)",
            authorize_params(APP.0, &challenge, &["code_challenge"], &[]),
        ),
        (
            "plain method (OAuth 2.1 4.1.1: S256 only)",
            authorize_params(
                APP.0,
                &challenge,
                &["code_challenge_method"],
                &[("code_challenge_method", "plain")],
            ),
        ),
        (
            "missing method, which RFC 7636 4.3 defaults to plain",
            authorize_params(APP.0, &challenge, &["code_challenge_method"], &[]),
        ),
        (
            "malformed challenge (RFC 7636 4.2)",
            authorize_params(APP.0, "too-short", &[], &[]),
        ),
    ];
    for (what, params) in cases {
        let answer = support::authorize(&http, &issuer, &params).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{what}: {answer:?}");
        expect_redirect_error(&answer, &issuer, "invalid_request");
    }
}

#[tokio::test]
async fn authorize_duplicated_scope_is_invalid_request() {
    let (_p, issuer, http) = setup().await;
    let (_, challenge) = support::pkce_pair();
    let answer = support::authorize(
        &http,
        &issuer,
        &authorize_params(
            APP.0,
            &challenge,
            &[],
            &[("scope", "mcp:tools"), ("scope", "mcp:admin")],
        ),
    )
    .await;
    // RFC 6749 3.1: parameters must not be included more than once.
    expect_redirect_error(&answer, &issuer, "invalid_request");
}

#[tokio::test]
async fn authorize_unknown_scope_is_invalid_scope() {
    let (_p, issuer, http) = setup().await;
    let (_, challenge) = support::pkce_pair();
    let answer = support::authorize(
        &http,
        &issuer,
        &authorize_params(APP.0, &challenge, &[], &[("scope", "mcp:tools no:such")]),
    )
    .await;
    // RFC 6749 4.1.2.1: unknown scope is invalid_scope.
    expect_redirect_error(&answer, &issuer, "invalid_scope");
}

#[tokio::test]
async fn authorize_bad_resource_is_invalid_target() {
    let (_p, issuer, http) = setup().await;
    let (_, challenge) = support::pkce_pair();
    for bad in ["http://127.0.0.1:9999/mcp#frag", "/mcp", "mcp.example"] {
        let answer = support::authorize(
            &http,
            &issuer,
            &authorize_params(APP.0, &challenge, &[], &[("resource", bad)]),
        )
        .await;
        // RFC 8707 2: an absolute URI without a fragment, else invalid_target.
        expect_redirect_error(&answer, &issuer, "invalid_target");
    }
}

#[tokio::test]
async fn authorize_login_hint_picks_the_token_subject() {
    let (_p, issuer, http) = setup().await;
    let tokens = support::code_flow_tokens(&http, &issuer, &[("login_hint", "bob")]).await;
    assert_eq!(
        support::jwt_payload(tokens.str("access_token"))["sub"],
        "bob"
    );
    // Without a hint the configured default user is approved.
    let tokens = support::code_flow_tokens(&http, &issuer, &[]).await;
    assert_eq!(
        support::jwt_payload(tokens.str("access_token"))["sub"],
        "alice"
    );
}

#[tokio::test]
async fn authorize_redirects_always_carry_iss() {
    let (_p, issuer, http) = setup().await;
    let (_, challenge) = support::pkce_pair();
    let success = support::authorize(
        &http,
        &issuer,
        &authorize_params(APP.0, &challenge, &[], &[]),
    )
    .await;
    let refused = support::authorize(
        &http,
        &issuer,
        &authorize_params(APP.0, &challenge, &[], &[("scope", "nope")]),
    )
    .await;
    for answer in [success, refused] {
        assert_eq!(answer.status, StatusCode::FOUND, "{answer:?}");
        // RFC 9207 2: iss in every authorization response, success or error.
        assert_eq!(
            answer.params.get("iss").map(String::as_str),
            Some(issuer.as_str()),
            "{answer:?}"
        );
    }
}

#[tokio::test]
async fn authorize_loopback_redirect_may_change_port_but_token_must_repeat_it() {
    let (_p, issuer, http) = setup().await;
    let other_port = "http://127.0.0.1:40000/callback";
    let (verifier, challenge) = support::pkce_pair();
    let answer = support::authorize(
        &http,
        &issuer,
        &authorize_params(
            APP.0,
            &challenge,
            &["redirect_uri"],
            &[("redirect_uri", other_port)],
        ),
    )
    .await;
    // RFC 8252 7.3: any port on a loopback IP literal is accepted, and the
    // answer goes to the URI presented.
    assert_eq!(answer.status, StatusCode::FOUND, "{answer:?}");
    let location = answer.location.as_ref().unwrap();
    assert!(location.as_str().starts_with(other_port), "{location}");
    let code = answer.params.get("code").expect("code").clone();

    // RFC 6749 4.1.3: the token request must repeat the identical value.
    let registered = redeem(
        &http,
        &issuer,
        &[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some(APP),
    )
    .await;
    expect_token_error(&registered, StatusCode::BAD_REQUEST, "invalid_grant");
    let presented = redeem(
        &http,
        &issuer,
        &[
            ("code", &code),
            ("redirect_uri", other_port),
            ("code_verifier", &verifier),
        ],
        Some(APP),
    )
    .await;
    assert_eq!(presented.status, StatusCode::OK, "{presented:?}");
}

// -------------------------------------------------------------------- token

#[tokio::test]
async fn token_json_content_type_is_invalid_request() {
    let (_p, issuer, http) = setup().await;
    let basic = support::basic_header(APP.0, APP.1);
    let answer = support::post_raw(
        &http,
        &issuer,
        "token",
        Some("application/json"),
        Some(&basic),
        json!({"grant_type": "client_credentials"}).to_string(),
    )
    .await;
    // RFC 6749 3.2: the body is application/x-www-form-urlencoded.
    expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    let missing = support::post_raw(
        &http,
        &issuer,
        "token",
        None,
        Some(&basic),
        "grant_type=client_credentials",
    )
    .await;
    expect_token_error(&missing, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn token_body_over_64_kib_is_invalid_request() {
    let (_p, issuer, http) = setup().await;
    let mut body = b"grant_type=client_credentials&state=".to_vec();
    body.resize(64 * 1024 + 1024, b'a');
    let answer = support::post_raw(
        &http,
        &issuer,
        "token",
        Some("application/x-www-form-urlencoded"),
        Some(&support::basic_header(APP.0, APP.1)),
        body,
    )
    .await;
    // An oversized request is a malformed request (RFC 6749 5.2
    // invalid_request), not 413 and not a 5xx.
    expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn token_invalid_utf8_is_invalid_request() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_raw(
        &http,
        &issuer,
        "token",
        Some("application/x-www-form-urlencoded"),
        Some(&support::basic_header(APP.0, APP.1)),
        "grant_type=authorization_code&code=%FF",
    )
    .await;
    // RFC 6749 B: parameters are UTF-8 before percent-encoding.
    expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn token_duplicated_grant_type_is_invalid_request() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(
        &http,
        &issuer,
        "token",
        Some(APP),
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    // RFC 6749 3.2: parameters must not be included more than once.
    expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn token_unknown_grant_type_is_unsupported_grant_type() {
    let (_p, issuer, http) = setup().await;
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "nonsense",
    ] {
        let answer =
            support::post_form(&http, &issuer, "token", Some(APP), &[("grant_type", grant)]).await;
        // RFC 6749 5.2; OAuth 2.1 removed the password grant.
        expect_token_error(&answer, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
}

#[tokio::test]
async fn token_missing_grant_type_is_invalid_request() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(
        &http,
        &issuer,
        "token",
        Some(APP),
        &[("scope", "mcp:tools")],
    )
    .await;
    // RFC 6749 5.2: a missing required parameter is invalid_request.
    expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn token_failed_basic_auth_is_401_with_basic_challenge() {
    let (_p, issuer, http) = setup().await;
    let form = "grant_type=client_credentials";
    for authorization in [
        support::basic_header("no-such-client", "whatever"),
        support::basic_header(APP.0, "wrong-secret"),
        // post-app is registered for client_secret_post.
        support::basic_header(POST_APP.0, POST_APP.1),
        "Basic !!!not-base64!!!".to_owned(),
        "Bearer some-token".to_owned(),
    ] {
        let answer = support::post_raw(
            &http,
            &issuer,
            "token",
            Some("application/x-www-form-urlencoded"),
            Some(&authorization),
            form,
        )
        .await;
        // RFC 6749 5.2: 401 and WWW-Authenticate when the client used the
        // Authorization header.
        expect_basic_challenge(&answer);
    }
}

#[tokio::test]
async fn token_wrong_secret_via_client_secret_post_is_401() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(
        &http,
        &issuer,
        "token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", POST_APP.0),
            ("client_secret", "wrong-secret"),
        ],
    )
    .await;
    // RFC 6749 5.2: client authentication failed.
    expect_token_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn token_unknown_client_via_client_secret_post_is_401() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(
        &http,
        &issuer,
        "token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "no-such-client"),
            ("client_secret", "whatever"),
        ],
    )
    .await;
    // RFC 6749 5.2: unknown client.
    expect_token_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn token_basic_plus_client_secret_in_body_is_invalid_request() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(
        &http,
        &issuer,
        "token",
        Some(APP),
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", APP.1),
        ],
    )
    .await;
    // RFC 6749 2.3: a client must not use more than one method per request.
    expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn token_public_client_cannot_use_client_credentials() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(
        &http,
        &issuer,
        "token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", PUBLIC_APP),
        ],
    )
    .await;
    // RFC 6749 4.4: client_credentials is for confidential clients only.
    expect_token_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
}

#[tokio::test]
async fn token_basic_client_using_client_secret_post_is_401() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(
        &http,
        &issuer,
        "token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP.0),
            ("client_secret", APP.1),
        ],
    )
    .await;
    // RFC 7591 2: a client authenticates with its registered method only.
    expect_token_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn token_bad_or_missing_pkce_verifier_is_invalid_grant() {
    let (_p, issuer, http) = setup().await;
    let (code, verifier) = support::authorization_code(&http, &issuer, APP.0, &[]).await;
    let (other_verifier, _) = support::pkce_pair();
    for form in [
        vec![
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", other_verifier.as_str()),
        ],
        vec![("code", code.as_str()), ("redirect_uri", REDIRECT)],
        vec![
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "short"),
        ],
    ] {
        let answer = redeem(&http, &issuer, &form, Some(APP)).await;
        // RFC 7636 4.6: a verifier that does not match is invalid_grant;
        // OAuth 2.1 4.1.3: so is a missing one for a PKCE code.
        expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    }
    // The failures above did not spend the code.
    let ok = redeem(
        &http,
        &issuer,
        &[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some(APP),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
}

#[tokio::test]
async fn token_redirect_uri_mismatch_is_invalid_grant() {
    let (_p, issuer, http) = setup().await;
    let (code, verifier) = support::authorization_code(&http, &issuer, APP.0, &[]).await;
    for form in [
        vec![
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:8765/other"),
            ("code_verifier", verifier.as_str()),
        ],
        // RFC 6749 4.1.3: required when the authorization request had one.
        vec![
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
        ],
    ] {
        let answer = redeem(&http, &issuer, &form, Some(APP)).await;
        // RFC 6749 4.1.3 / 5.2: invalid_grant.
        expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    }
}

#[tokio::test]
async fn token_code_of_another_client_is_invalid_grant() {
    let (_p, issuer, http) = setup().await;
    let (code, verifier) = support::authorization_code(&http, &issuer, PUBLIC_APP, &[]).await;
    let answer = redeem(
        &http,
        &issuer,
        &[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some(APP),
    )
    .await;
    // RFC 6749 4.1.3: the code must have been issued to this client.
    expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn token_unknown_code_is_invalid_grant() {
    let (_p, issuer, http) = setup().await;
    let (verifier, _) = support::pkce_pair();
    let answer = redeem(
        &http,
        &issuer,
        &[
            ("code", "expired-or-never-issued-code"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        Some(APP),
    )
    .await;
    // RFC 6749 5.2: an invalid, expired or unknown code is invalid_grant.
    expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn token_resource_outside_the_grant_is_invalid_target() {
    let (_p, issuer, http) = setup().await;
    let (code, verifier) =
        support::authorization_code(&http, &issuer, APP.0, &[("resource", RESOURCE)]).await;
    let answer = redeem(
        &http,
        &issuer,
        &[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("resource", "http://127.0.0.1:9999/elsewhere"),
        ],
        Some(APP),
    )
    .await;
    // RFC 8707 2.2: the token request may only narrow the resources.
    expect_token_error(&answer, StatusCode::BAD_REQUEST, "invalid_target");
}

#[tokio::test]
async fn error_descriptions_use_only_the_rfc6749_character_set() {
    let (_p, issuer, http) = setup().await;
    let (_, challenge) = support::pkce_pair();
    // RFC 6749 4.1.2.1 and 5.2: error_description MUST NOT include
    // characters outside %x20-21 / %x23-5B / %x5D-7E, even when the
    // offending input is echoed back.
    let allowed = |s: &str| {
        s.chars()
            .all(|c| matches!(c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    };
    let token_answers = [
        support::post_form(
            &http,
            &issuer,
            "token",
            Some(APP),
            &[("grant_type", "caf\u{e9}\"\\")],
        )
        .await,
        support::post_form(
            &http,
            &issuer,
            "token",
            Some(APP),
            &[("grant_type", "client_credentials"), ("scope", "a\"b")],
        )
        .await,
    ];
    let mut descriptions: Vec<String> = token_answers
        .iter()
        .map(|a| a.str("error_description").to_owned())
        .collect();
    let redirected = support::authorize(
        &http,
        &issuer,
        &authorize_params(
            APP.0,
            &challenge,
            &["response_type"],
            &[("response_type", "t\u{f6}ken\"")],
        ),
    )
    .await;
    descriptions.push(
        redirected
            .params
            .get("error_description")
            .expect("error_description")
            .clone(),
    );
    let offending: Vec<&String> = descriptions.iter().filter(|d| !allowed(d)).collect();
    assert!(
        offending.is_empty(),
        "error_description outside the RFC 6749 character set: {offending:?}"
    );
}

// ------------------------------------------------------------- registration

/// POSTs a registration request body with `Content-Type: application/json`.
async fn register(http: &reqwest::Client, issuer: &str, body: impl Into<Vec<u8>>) -> JsonAnswer {
    support::post_raw(
        http,
        issuer,
        "register",
        Some("application/json"),
        None,
        body,
    )
    .await
}

#[tokio::test]
async fn register_non_json_is_invalid_client_metadata() {
    let (_p, issuer, http) = setup().await;
    for body in ["not json", "[1, 2]", "\"string\"", ""] {
        let answer = register(&http, &issuer, body).await;
        // RFC 7591 3.2.2: unusable metadata is invalid_client_metadata.
        expect_error(&answer, StatusCode::BAD_REQUEST, "invalid_client_metadata");
    }
    let form = support::post_raw(
        &http,
        &issuer,
        "register",
        Some("application/x-www-form-urlencoded"),
        None,
        "redirect_uris=x",
    )
    .await;
    // RFC 7591 3.1: the request is a JSON document.
    expect_error(&form, StatusCode::BAD_REQUEST, "invalid_client_metadata");
}

#[tokio::test]
async fn register_bad_redirect_uris_are_invalid_redirect_uri() {
    let (_p, issuer, http) = setup().await;
    for bad in [
        // OAuth 2.1 2.3.1 / MCP: https, or http on loopback only.
        "http://app.example/callback",
        // RFC 6749 3.1.2: no fragment.
        "https://app.example/callback#frag",
        "http://127.0.0.1:8765/callback#",
        // Absolute URIs only.
        "/callback",
    ] {
        let answer = register(
            &http,
            &issuer,
            json!({"redirect_uris": [bad], "token_endpoint_auth_method": "none"}).to_string(),
        )
        .await;
        // RFC 7591 3.2.2: invalid_redirect_uri.
        expect_error(&answer, StatusCode::BAD_REQUEST, "invalid_redirect_uri");
    }
}

#[tokio::test]
async fn register_inconsistent_or_unsupported_metadata_is_invalid_client_metadata() {
    let (_p, issuer, http) = setup().await;
    let cases = [
        (
            "unknown auth method",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "bogus"}),
        ),
        (
            "unsupported auth method",
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
        ),
        (
            "client_credentials for a public client (RFC 6749 4.4)",
            json!({
                "grant_types": ["client_credentials"],
                "response_types": [],
                "token_endpoint_auth_method": "none",
            }),
        ),
        (
            "implicit response type (OAuth 2.1 removes it)",
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
        ),
        (
            "grant_types not an array of strings",
            json!({"redirect_uris": [REDIRECT], "grant_types": "authorization_code"}),
        ),
        (
            "unknown scope",
            json!({"redirect_uris": [REDIRECT], "scope": "mcp:tools no:such"}),
        ),
    ];
    for (what, doc) in cases {
        let answer = register(&http, &issuer, doc.to_string()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{what}: {answer:?}");
        // RFC 7591 3.2.2: invalid_client_metadata.
        expect_error(&answer, StatusCode::BAD_REQUEST, "invalid_client_metadata");
    }
}

#[tokio::test]
async fn register_confidential_client_gets_201_with_secret_and_echoed_metadata() {
    let (_p, issuer, http) = setup().await;
    let answer = register(
        &http,
        &issuer,
        json!({
            "redirect_uris": [REDIRECT],
            "client_name": "Registered app",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "mcp:tools",
            "token_endpoint_auth_method": "client_secret_basic",
        })
        .to_string(),
    )
    .await;
    // RFC 7591 3.2.1: 201, client_id, the secret, and the metadata as
    // registered.
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    assert!(!answer.str("client_id").is_empty());
    assert!(!answer.str("client_secret").is_empty());
    // RFC 7591 3.2.1: required when a client_secret is issued.
    assert!(answer.body["client_secret_expires_at"].is_number());
    assert_eq!(answer.body["redirect_uris"], json!([REDIRECT]));
    assert_eq!(answer.str("client_name"), "Registered app");
    assert_eq!(
        answer.body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(answer.body["response_types"], json!(["code"]));
    assert_eq!(answer.str("scope"), "mcp:tools");
    assert_eq!(
        answer.str("token_endpoint_auth_method"),
        "client_secret_basic"
    );

    // The credentials work: client_credentials is not registered, so the
    // client is known but unauthorized for it (RFC 6749 5.2).
    let id = answer.str("client_id");
    let secret = answer.str("client_secret");
    let token = support::post_form(
        &http,
        &issuer,
        "token",
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    expect_token_error(&token, StatusCode::BAD_REQUEST, "unauthorized_client");
}

#[tokio::test]
async fn register_public_client_gets_201_without_secret() {
    let (_p, issuer, http) = setup().await;
    let answer = register(
        &http,
        &issuer,
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}).to_string(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    // RFC 7591 3.2.1: no secret for a public client.
    assert!(answer.body.get("client_secret").is_none(), "{answer:?}");
    assert_eq!(answer.str("token_endpoint_auth_method"), "none");
    // RFC 7591 2: defaults are authorization_code and code.
    assert_eq!(answer.body["grant_types"], json!(["authorization_code"]));
    assert_eq!(answer.body["response_types"], json!(["code"]));
    // The new client can start a code flow.
    let (code, _) = support::authorization_code(&http, &issuer, answer.str("client_id"), &[]).await;
    assert!(!code.is_empty());
}

// ------------------------------------------------------------ introspection

#[tokio::test]
async fn introspect_by_public_client_is_401_invalid_client() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(
        &http,
        &issuer,
        "introspect",
        None,
        &[("token", "anything"), ("client_id", PUBLIC_APP)],
    )
    .await;
    // RFC 7662 2.1: the endpoint requires client authentication.
    expect_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn introspect_without_client_auth_is_401_invalid_client() {
    let (_p, issuer, http) = setup().await;
    let answer =
        support::post_form(&http, &issuer, "introspect", None, &[("token", "anything")]).await;
    // RFC 7662 2.1 / RFC 6749 5.2.
    expect_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn introspect_without_token_is_invalid_request() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(&http, &issuer, "introspect", Some(APP), &[]).await;
    // RFC 7662 2.1: `token` is required.
    expect_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}

// --------------------------------------------------------------- revocation

#[tokio::test]
async fn revoke_without_token_is_invalid_request() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(
        &http,
        &issuer,
        "revoke",
        Some(APP),
        &[("token_type_hint", "refresh_token")],
    )
    .await;
    // RFC 7009 2.1: `token` is required.
    expect_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn revoke_unknown_token_is_200() {
    let (_p, issuer, http) = setup().await;
    let answer = support::post_form(
        &http,
        &issuer,
        "revoke",
        Some(APP),
        &[
            ("token", "never-issued"),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    // RFC 7009 2.2: invalid tokens do not cause an error.
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}

#[tokio::test]
async fn revoking_another_clients_refresh_token_is_refused_and_it_keeps_working() {
    let (_p, issuer, http) = setup().await;
    let tokens = support::code_flow_tokens(&http, &issuer, &[]).await;
    let refresh = tokens.str("refresh_token");
    let answer = support::post_form(
        &http,
        &issuer,
        "revoke",
        None,
        &[
            ("token", refresh),
            ("client_id", POST_APP.0),
            ("client_secret", POST_APP.1),
        ],
    )
    .await;
    // RFC 7009 2.1: the token must have been issued to the requester.
    expect_error(&answer, StatusCode::BAD_REQUEST, "unauthorized_client");
    let refreshed = support::post_form(
        &http,
        &issuer,
        "token",
        Some(APP),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
}

// ---------------------------------------------------------------- not found

#[tokio::test]
async fn unknown_issuer_is_404_json() {
    let (provider, _issuer, http) = setup().await;
    let base = provider.base_url();
    let requests = [
        http.get(format!("{base}/nope/authorize")),
        http.post(format!("{base}/nope/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials"),
        http.post(format!("{base}/nope/register"))
            .header("content-type", "application/json")
            .body("{}"),
        http.post(format!("{base}/nope/introspect")),
        http.post(format!("{base}/nope/revoke")),
        http.get(format!("{base}/nope/jwks")),
        http.get(format!(
            "{base}/.well-known/oauth-authorization-server/nope"
        )),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let url = response.url().clone();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{url}");
        let body: Value = response.json().await.expect("JSON 404 body");
        assert!(body["error"].is_string(), "{url}: {body}");
    }
}

#[tokio::test]
async fn unknown_path_is_404() {
    let (provider, issuer, http) = setup().await;
    for url in [
        format!("{issuer}/nothing-here"),
        format!("{}/a/b/c/d", provider.base_url()),
    ] {
        let response = http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{url}");
    }
}

/// RFC 7591 2.1: a machine-to-machine client that asks for no
/// authorization_code grant is not refused over the `code` response type it
/// never asked for.
#[tokio::test]
async fn register_client_credentials_only_client_without_response_types() {
    let provider = support::start_provider().await;
    let issuer = provider.issuer_url("default").unwrap();
    let http = support::http();
    let response = http
        .post(format!("{issuer}/register"))
        .json(&serde_json::json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["response_types"], serde_json::json!([]));
    let id = body["client_id"].as_str().unwrap();
    let secret = body["client_secret"].as_str().unwrap();
    let token = support::post_form(
        &http,
        &issuer,
        "token",
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(token.status, reqwest::StatusCode::OK, "{token:?}");
}
