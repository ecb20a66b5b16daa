//! The mock upstream API at `{issuer}/api/...`: a protected resource that
//! accepts only live tokens of its own issuer whose `aud` is `{issuer}/api`
//! (also the default audience of tokens asked for without `resource`), and
//! answers everything else with an RFC 6750 3.1 challenge. Every request is
//! in the ledger with what the presented token was, by fingerprint only.

mod support;

use std::time::{Duration, Instant};

use mock_provider::admin::{MintRequest, RevokeRequest, SeedGrant};
use mock_provider::faults::{Endpoint, FaultAction, FaultRule, SigningFault, TokenOverride};
use mock_provider::ledger::{LedgerEntry, LedgerFilter, UpstreamObservation};
use mock_provider::{AdminClient, MockProvider};
use reqwest::StatusCode;
use serde_json::Value;
use support::{APP, POST_APP, RESOURCE, http, jwt_payload, post_form};

/// What the upstream API answered.
#[derive(Debug)]
struct ApiAnswer {
    status: StatusCode,
    challenge: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

/// `GET {url}` with the given `Authorization` header value, if any.
async fn call_api(url: &str, authorization: Option<&str>) -> ApiAnswer {
    let mut req = http().get(url);
    if let Some(a) = authorization {
        req = req.header(reqwest::header::AUTHORIZATION, a);
    }
    let r = req.send().await.unwrap();
    let header = |name: reqwest::header::HeaderName| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let challenge = header(reqwest::header::WWW_AUTHENTICATE);
    let retry_after = header(reqwest::header::RETRY_AFTER);
    let status = r.status();
    let text = r.text().await.unwrap();
    ApiAnswer {
        status,
        challenge,
        retry_after,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

/// The latest upstream entry of the ledger.
async fn last_upstream(admin: &AdminClient) -> LedgerEntry {
    let mut entries = admin
        .ledger(&LedgerFilter {
            endpoint: Some(Endpoint::Upstream),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    entries.pop().expect("an upstream ledger entry")
}

/// `sha256:` and the first 12 hex digits of the SHA-256 of the token,
/// computed here independently of the provider.
fn fingerprint(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let hex: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Asserts the observation names the token by fingerprint and nothing else
/// of its value.
fn assert_fingerprinted(seen: &UpstreamObservation, token: &str) {
    // Computed here independently: the ledger's form is a protocol.
    assert_eq!(seen.token.map(|f| f.to_string()), Some(fingerprint(token)));
    let raw = serde_json::to_string(seen).unwrap();
    assert!(!raw.contains(token), "the token itself is in the ledger");
    if let Some(signature) = token.rsplit('.').next().filter(|s| s.len() > 8) {
        assert!(!raw.contains(signature), "the signature is in the ledger");
    }
}

async fn token_at(issuer: &str, client: (&str, &str), form: &[(&str, &str)]) -> String {
    let mut form = form.to_vec();
    let basic = if client.0 == POST_APP.0 {
        form.extend([("client_id", client.0), ("client_secret", client.1)]);
        None
    } else {
        Some(client)
    };
    let a = post_form(&http(), issuer, "token", basic, &form).await;
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    a.str("access_token").to_owned()
}

/// A user token: a seeded grant refreshed by its client.
async fn user_token(admin: &AdminClient, issuer: &str, subject: &str) -> String {
    let seeded = admin
        .seed_grant(
            "default",
            &SeedGrant {
                client_id: APP.0.into(),
                subject: Some(subject.into()),
                scope: Some("mcp:tools".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    token_at(
        issuer,
        APP,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &seeded.refresh_token),
        ],
    )
    .await
}

async fn mint(admin: &AdminClient, request: MintRequest) -> String {
    admin
        .mint_token("default", &request)
        .await
        .unwrap()
        .access_token
}

#[tokio::test]
async fn tokens_for_the_api_are_accepted_and_counted_per_client() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let api = format!("{issuer}/api");

    // A user token from a seeded grant, refreshed by its client: its aud is
    // the default audience, which is the API.
    let token = user_token(&admin, &issuer, "bob").await;
    assert_eq!(jwt_payload(&token)["aud"], api);
    let answer = call_api(
        &format!("{api}/things/42"),
        Some(&format!("Bearer {token}")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.challenge, None);
    assert_eq!(answer.body["subject"], "bob");
    assert_eq!(answer.body["client_id"], APP.0);
    assert_eq!(answer.body["issuer"], issuer);
    assert_eq!(answer.body["scope"], "mcp:tools");
    assert_eq!(answer.body["path"], "/things/42");
    let entry = last_upstream(&admin).await;
    assert_eq!((entry.status, entry.outcome.as_str()), (200, "ok"));
    assert_eq!(entry.issuer, "default");
    assert_eq!(entry.client_id.as_deref(), Some(APP.0));
    let seen = entry.upstream.unwrap();
    assert_fingerprinted(&seen, &token);
    assert_eq!(seen.token_issuer.as_deref(), Some(issuer.as_str()));
    assert_eq!(seen.token_audience, [api.as_str()]);
    assert_eq!(seen.token_client_id.as_deref(), Some(APP.0));
    assert_eq!(seen.token_subject.as_deref(), Some("bob"));
    assert_eq!(seen.refused_because, None);
    assert_eq!(seen.path, "/things/42");
    // The API root answers too, and the scheme is case-insensitive (RFC 7235 2.1).
    let answer = call_api(&api, Some(&format!("bearer {token}"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(last_upstream(&admin).await.upstream.unwrap().path, "/");

    // A client_credentials token asked for without `resource`: the default
    // audience is the API, sub is the client (RFC 9068 2.2).
    let machine = token_at(&issuer, POST_APP, &[("grant_type", "client_credentials")]).await;
    let answer = call_api(&format!("{api}/me"), Some(&format!("Bearer {machine}"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["subject"], POST_APP.0);
    let seen = last_upstream(&admin).await.upstream.unwrap();
    assert_fingerprinted(&seen, &machine);
    assert_eq!(seen.token_client_id.as_deref(), Some(POST_APP.0));
    assert_eq!(seen.token_audience, [api.as_str()]);

    // An audience list naming the API among others is accepted.
    let multi = mint(
        &admin,
        MintRequest {
            audience: Some(serde_json::json!([RESOURCE, api])),
            ..Default::default()
        },
    )
    .await;
    let answer = call_api(&api, Some(&format!("Bearer {multi}"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        last_upstream(&admin).await.upstream.unwrap().token_audience,
        [RESOURCE.to_owned(), api.clone()]
    );

    // The other issuer's API accepts the other issuer's tokens.
    let other = provider.issuer_url("other").unwrap();
    let other_token = token_at(&other, APP, &[("grant_type", "client_credentials")]).await;
    let answer = call_api(
        &format!("{other}/api/x"),
        Some(&format!("Bearer {other_token}")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(last_upstream(&admin).await.issuer, "other");

    // Counters: upstream requests per issuer and client.
    let counters = admin.counters().await.unwrap();
    assert_eq!(counters["default"][APP.0].upstream_requests, 2);
    assert_eq!(counters["default"][POST_APP.0].upstream_requests, 1);
    assert_eq!(counters["default"]["admin"].upstream_requests, 1);
    assert_eq!(counters["other"][APP.0].upstream_requests, 1);
}

/// One refused request: what was sent and what must come back.
struct Case {
    name: &'static str,
    authorization: Option<String>,
    token: Option<String>,
    status: StatusCode,
    /// `None`: a bare challenge; `Some(code)`: `error="code"`.
    error: Option<&'static str>,
}

#[tokio::test]
async fn everything_else_is_refused_with_an_rfc_6750_challenge() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let api = format!("{issuer}/api");
    let realm = format!("Bearer realm=\"{api}\"");

    let bearer = |t: &str| Some(format!("Bearer {t}"));
    let with_token = |name, token: String, error| Case {
        name,
        authorization: bearer(&token),
        token: Some(token),
        status: StatusCode::UNAUTHORIZED,
        error,
    };

    let other_issuer = token_at(
        &provider.issuer_url("other").unwrap(),
        APP,
        &[("grant_type", "client_credentials")],
    )
    .await;
    // A token for an MCP server (RFC 8707), not for this API.
    let for_mcp = token_at(
        &issuer,
        APP,
        &[("grant_type", "client_credentials"), ("resource", RESOURCE)],
    )
    .await;
    assert_eq!(jwt_payload(&for_mcp)["aud"], RESOURCE);
    let expired = mint(
        &admin,
        MintRequest {
            ttl_secs: Some(-10),
            ..Default::default()
        },
    )
    .await;
    let not_yet = mint(
        &admin,
        MintRequest {
            token_override: Some(TokenOverride {
                nbf_in_secs: Some(300),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let revoked = token_at(&issuer, APP, &[("grant_type", "client_credentials")]).await;
    let out = admin
        .revoke(
            "default",
            &RevokeRequest {
                token: Some(revoked.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(out.access_token_revoked);
    let expired_early = user_token(&admin, &issuer, "carol").await;
    assert_eq!(
        call_api(&api, bearer(&expired_early).as_deref())
            .await
            .status,
        StatusCode::OK
    );
    admin.expire_access_tokens("default", APP.0).await.unwrap();
    let alg_none = mint(
        &admin,
        MintRequest {
            signing_fault: Some(SigningFault::AlgNone),
            ..Default::default()
        },
    )
    .await;
    let hs256 = mint(
        &admin,
        MintRequest {
            signing_fault: Some(SigningFault::Hs256WithPublicKey),
            ..Default::default()
        },
    )
    .await;

    let cases = vec![
        // RFC 6750 3.1: no authentication information, no error code.
        Case {
            name: "no token",
            authorization: None,
            token: None,
            status: StatusCode::UNAUTHORIZED,
            error: None,
        },
        // RFC 6750 3.1 invalid_request: a malformed request, 400.
        Case {
            name: "empty bearer",
            authorization: Some("Bearer ".into()),
            token: None,
            status: StatusCode::BAD_REQUEST,
            error: Some("invalid_request"),
        },
        Case {
            name: "bearer without a space",
            authorization: Some("Bearer".into()),
            token: None,
            status: StatusCode::BAD_REQUEST,
            error: Some("invalid_request"),
        },
        Case {
            name: "two tokens",
            authorization: Some("Bearer abc def".into()),
            token: Some("abc def".into()),
            status: StatusCode::BAD_REQUEST,
            error: Some("invalid_request"),
        },
        // RFC 6750 3.1 invalid_token: expired, revoked, malformed or
        // otherwise invalid, 401.
        with_token("garbage", "garbage".into(), Some("invalid_token")),
        with_token(
            "token of issuer `other`",
            other_issuer.clone(),
            Some("invalid_token"),
        ),
        with_token(
            "aud is an MCP resource",
            for_mcp.clone(),
            Some("invalid_token"),
        ),
        with_token("expired", expired.clone(), Some("invalid_token")),
        with_token("nbf in the future", not_yet, Some("invalid_token")),
        with_token("revoked", revoked, Some("invalid_token")),
        with_token(
            "expired early by the admin API",
            expired_early,
            Some("invalid_token"),
        ),
        with_token("alg none", alg_none, Some("invalid_token")),
        with_token("HS256 with the public key", hs256, Some("invalid_token")),
    ];

    for case in cases {
        let name = case.name;
        let answer = call_api(&format!("{api}/data"), case.authorization.as_deref()).await;
        assert_eq!(answer.status, case.status, "{name}: {answer:?}");
        let challenge = answer
            .challenge
            .clone()
            .unwrap_or_else(|| panic!("{name}: no WWW-Authenticate (RFC 6750 3)"));
        assert!(
            challenge.starts_with(&realm),
            "{name}: challenge {challenge:?}"
        );
        match case.error {
            None => {
                assert_eq!(challenge, realm, "{name}: no error info without a token");
                assert_eq!(answer.body["error"], "no_token", "{name}");
            }
            Some(code) => {
                assert!(
                    challenge.contains(&format!("error=\"{code}\"")),
                    "{name}: {challenge}"
                );
                assert!(challenge.contains("error_description=\""), "{name}");
                assert_eq!(answer.body["error"], code, "{name}");
            }
        }
        let entry = last_upstream(&admin).await;
        assert_eq!(entry.status, case.status.as_u16(), "{name}");
        assert_eq!(
            entry.outcome,
            case.error.unwrap_or("no_token"),
            "{name}: ledger outcome"
        );
        let seen = entry.upstream.unwrap();
        assert_eq!(seen.path, "/data");
        assert!(
            seen.refused_because
                .as_deref()
                .is_some_and(|r| !r.is_empty()),
            "{name}: refused_because"
        );
        match (&case.token, case.status) {
            (Some(token), StatusCode::UNAUTHORIZED) => assert_fingerprinted(&seen, token),
            (None, _) if case.error.is_none() => assert_eq!(seen.token, None, "{name}"),
            _ => {}
        }
        if let Some(token) = &case.token {
            let raw = serde_json::to_string(&seen).unwrap();
            assert!(!raw.contains(token.as_str()), "{name}: token in the ledger");
        }
    }

    // What the ledger read from the tokens (unverified, for diagnosis).
    let by_fingerprint = |token: &str| {
        let fp = fingerprint(token);
        let admin = admin.clone();
        async move {
            admin
                .ledger(&LedgerFilter {
                    endpoint: Some(Endpoint::Upstream),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_iter()
                .filter_map(|e| e.upstream)
                .rfind(|u| u.token.is_some_and(|t| t.to_string() == fp))
                .unwrap()
        }
    };
    let seen = by_fingerprint(&other_issuer).await;
    assert_eq!(
        seen.token_issuer.as_deref(),
        provider.issuer_url("other").as_deref()
    );
    assert_eq!(
        seen.token_audience,
        [format!("{}/api", provider.issuer_url("other").unwrap())]
    );
    let seen = by_fingerprint(&for_mcp).await;
    assert_eq!(seen.token_issuer.as_deref(), Some(issuer.as_str()));
    assert_eq!(seen.token_audience, [RESOURCE]);
    assert_eq!(seen.token_client_id.as_deref(), Some(APP.0));
    assert!(seen.refused_because.unwrap().contains("audience"));
    let seen = by_fingerprint(&expired).await;
    assert!(seen.refused_because.unwrap().contains("expired"));
    let seen = by_fingerprint("garbage").await;
    assert_eq!(seen.token_issuer, None);
    assert!(seen.token_audience.is_empty());

    // Every refusal counted nothing as accepted.
    assert!(
        admin
            .ledger(&LedgerFilter {
                endpoint: Some(Endpoint::Upstream),
                outcome: Some("ok".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
            == 1,
        "only the check before expire_access_tokens succeeded"
    );
}

#[tokio::test]
async fn an_unsupported_scheme_gets_a_bare_challenge() {
    // RFC 6750 3.1: "If the request lacks any authentication information
    // (e.g., the client was unaware that authentication is necessary or
    // attempted using an unsupported authentication method), the resource
    // server SHOULD NOT include an error code or other error information."
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let api = format!("{}/api", provider.issuer_url("default").unwrap());
    let answer = call_api(&api, Some("Basic YXBwOmFwcC1zZWNyZXQ=")).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(
        answer.challenge.as_deref(),
        Some(format!("Bearer realm=\"{api}\"").as_str())
    );
    let seen = last_upstream(&admin).await.upstream.unwrap();
    assert!(seen.refused_because.is_some());
    let raw = serde_json::to_string(&seen).unwrap();
    assert!(!raw.contains("YXBwOmFwcC1zZWNyZXQ="));
}

#[tokio::test]
async fn upstream_faults_apply() {
    let provider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let api = format!("{issuer}/api");
    let token = token_at(&issuer, APP, &[("grant_type", "client_credentials")]).await;
    let auth = format!("Bearer {token}");

    // 503 with Retry-After (RFC 9110 10.2.3), once.
    let id = admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Upstream,
                FaultAction::HttpStatus {
                    status: 503,
                    retry_after_secs: Some(7),
                },
            )
            .times(1),
        )
        .await
        .unwrap();
    let answer = call_api(&api, Some(&auth)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    assert_eq!(answer.retry_after.as_deref(), Some("7"));
    let entry = last_upstream(&admin).await;
    assert_eq!((entry.status, entry.outcome.as_str()), (503, "http_503"));
    assert_eq!(entry.faults, [format!("http_status#{id}")]);
    assert_fingerprinted(entry.upstream.as_ref().unwrap(), &token);
    assert_eq!(call_api(&api, Some(&auth)).await.status, StatusCode::OK);

    // 429 with Retry-After (RFC 6585 4).
    admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Upstream,
                FaultAction::TooManyRequests {
                    retry_after_secs: 2,
                },
            )
            .times(1),
        )
        .await
        .unwrap();
    let answer = call_api(&api, Some(&auth)).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.retry_after.as_deref(), Some("2"));

    // Latency, only for the named issuer.
    admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Upstream,
                FaultAction::Latency {
                    millis: 300,
                    jitter_millis: 0,
                },
            )
            .issuer("default")
            .times(1),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let answer = call_api(&api, Some(&auth)).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(answer.status, StatusCode::OK);
    let entry = last_upstream(&admin).await;
    assert!(entry.latency_ms >= 300.0, "{entry:?}");
    assert_eq!(entry.faults.len(), 1);
    assert!(entry.faults[0].starts_with("latency#"));
    // `times = 1`: the next call goes through undelayed (judged from the
    // ledger, not the clock, which a loaded machine stretches).
    assert_eq!(call_api(&api, Some(&auth)).await.status, StatusCode::OK);
    let entry = last_upstream(&admin).await;
    assert!(entry.faults.is_empty(), "{entry:?}");

    // A fault for another client does not fire for this one.
    admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Upstream,
                FaultAction::HttpStatus {
                    status: 502,
                    retry_after_secs: None,
                },
            )
            .client(POST_APP.0),
        )
        .await
        .unwrap();
    assert_eq!(call_api(&api, Some(&auth)).await.status, StatusCode::OK);
    let theirs = token_at(&issuer, POST_APP, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        call_api(&api, Some(&format!("Bearer {theirs}")))
            .await
            .status,
        StatusCode::BAD_GATEWAY
    );
    admin.clear_faults().await.unwrap();
    let counters = admin.counters().await.unwrap();
    assert_eq!(counters["default"][APP.0].upstream_requests, 6);
    assert_eq!(counters["default"][POST_APP.0].upstream_requests, 1);
}

#[tokio::test]
async fn an_injected_401_carries_a_bearer_challenge() {
    // RFC 6750 3 / RFC 9110 15.5.2: a 401 from a protected resource carries
    // a WWW-Authenticate challenge; the mock's injected one says invalid_token.
    let provider: MockProvider = support::start_provider().await;
    let admin = provider.admin();
    let issuer = provider.issuer_url("default").unwrap();
    let token = token_at(&issuer, APP, &[("grant_type", "client_credentials")]).await;
    let added = admin
        .add_fault(
            &FaultRule::new(
                Endpoint::Upstream,
                FaultAction::HttpStatus {
                    status: 401,
                    retry_after_secs: None,
                },
            )
            .times(1),
        )
        .await;
    assert!(
        added.is_ok(),
        "an http_status 401 rule at the upstream endpoint is refused: {added:?}"
    );
    let answer = call_api(&format!("{issuer}/api"), Some(&format!("Bearer {token}"))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let challenge = answer.challenge.expect("a WWW-Authenticate challenge");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(last_upstream(&admin).await.outcome, "http_401");
}
