//! Error faults (`oauth_error`, `http_status`, `too_many_requests`) answer
//! before the request is processed, for the issuer, grant type and client a
//! rule names, on every endpoint, `times` times, as the ledger records.

mod support;

use mock_provider::faults::{Endpoint, FaultAction, FaultRule};
use mock_provider::ledger::LedgerFilter;
use mock_provider::{ErrorCode, GrantType, TokenHash};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, RETRY_AFTER};
use serde_json::{Value, json};
use support::fault_fixture::{
    assert_entry, assert_last, client_credentials, fixture, ledger_at, raw, refresh, seed,
    token_filter,
};
use support::{APP, POST_APP, REDIRECT};

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
        .add_fault(
            FaultRule::new(
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
        .await;
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
    assert_last(
        &f.admin,
        token_filter().grant_type(GrantType::ClientCredentials),
        &[],
        "ok",
        200,
    )
    .await;
    assert_last(&f.admin, token_filter().client(POST_APP.0), &[], "ok", 200).await;
}

/// RFC 6749 5.2: the status defaults to the one the code has (500 for
/// `server_error`, 400 for most); a rule may set another.
#[tokio::test]
async fn oauth_error_status_defaults_per_code_and_can_be_set() {
    let f = fixture().await;
    let default_id = f
        .add_fault(
            FaultRule::new(
                Endpoint::Token,
                FaultAction::oauth_error(ErrorCode::ServerError),
            )
            .times(1),
        )
        .await;
    let a = client_credentials(&f, &f.issuer, None).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{a:?}");
    assert_eq!(a.error(), Some("server_error"));
    assert_last(
        &f.admin,
        token_filter(),
        &[&format!("oauth_error#{default_id}")],
        "server_error",
        500,
    )
    .await;

    let custom_id = f
        .add_fault(
            FaultRule::new(
                Endpoint::Token,
                FaultAction::OauthError {
                    error: ErrorCode::InvalidClient,
                    description: None,
                    status: Some(403),
                },
            )
            .times(1),
        )
        .await;
    let a = client_credentials(&f, &f.issuer, None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{a:?}");
    assert_eq!(a.error(), Some("invalid_client"));
    assert!(
        a.str("error_description").contains(&custom_id.to_string()),
        "the default description names the rule: {a:?}"
    );
    assert_last(
        &f.admin,
        token_filter(),
        &[&format!("oauth_error#{custom_id}")],
        "invalid_client",
        403,
    )
    .await;
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
            .add_fault(
                FaultRule::new(
                    Endpoint::Token,
                    FaultAction::HttpStatus {
                        status,
                        retry_after_secs: retry_after,
                    },
                )
                .grant_type(GrantType::RefreshToken)
                .times(1),
            )
            .await;
        let a = refresh(&f, &grant.refresh_token).await;
        assert_eq!(a.status.as_u16(), status, "{a:?}");
        assert_eq!(
            a.headers.get(RETRY_AFTER).map(|v| v.to_str().unwrap()),
            retry_after.map(|s| s.to_string()).as_deref(),
            "Retry-After of the {status}"
        );
        let e = assert_last(
            &f.admin,
            token_filter(),
            &[&format!("http_status#{id}")],
            &format!("http_{status}"),
            status,
        )
        .await;
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
    let e = assert_last(&f.admin, token_filter(), &[], "ok", 200).await;
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
        .add_fault(
            FaultRule::new(
                Endpoint::Token,
                FaultAction::oauth_error(ErrorCode::TemporarilyUnavailable),
            )
            .grant_type(GrantType::RefreshToken)
            .times(1),
        )
        .await;
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
        .add_fault(
            FaultRule::new(
                Endpoint::Token,
                FaultAction::TooManyRequests {
                    retry_after_secs: 30,
                },
            )
            .times(1),
        )
        .await;
    let a = refresh(&f, &grant.refresh_token).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{a:?}");
    assert_eq!(a.headers[RETRY_AFTER], "30");
    let e = assert_last(
        &f.admin,
        token_filter(),
        &[&format!("too_many_requests#{id}")],
        "http_429",
        429,
    )
    .await;
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

// ---- matchers: issuer, endpoints -------------------------------------------

/// A rule for issuer `default` leaves issuer `other` alone.
#[tokio::test]
async fn issuer_filter_leaves_other_issuers_alone() {
    let f = fixture().await;
    let id = f
        .add_fault(
            FaultRule::new(
                Endpoint::Token,
                FaultAction::HttpStatus {
                    status: 503,
                    retry_after_secs: None,
                },
            )
            .issuer("default"),
        )
        .await;
    let other = client_credentials(&f, &f.other, None).await;
    assert_eq!(other.status, StatusCode::OK, "{other:?}");
    let default = client_credentials(&f, &f.issuer, None).await;
    assert_eq!(default.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_last(&f.admin, token_filter().issuer("other"), &[], "ok", 200).await;
    assert_last(
        &f.admin,
        token_filter().issuer("default"),
        &[&format!("http_status#{id}")],
        "http_503",
        503,
    )
    .await;
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
            .add_fault(
                FaultRule::new(
                    endpoint,
                    FaultAction::HttpStatus {
                        status: 503,
                        retry_after_secs: Some(5),
                    },
                )
                .times(1),
            )
            .await;
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
        .add_fault(
            FaultRule::new(
                Endpoint::Authorize,
                FaultAction::OauthError {
                    error: ErrorCode::AccessDenied,
                    description: Some("the user said no".into()),
                    status: None,
                },
            )
            .times(1),
        )
        .await;
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
