//! The provider is strict where leniency would hide a client's bug, and its
//! ledger records what a judge of clients needs: exact redirect URIs,
//! `resource` rules, discovery forms, what an authorization request sent,
//! and the smaller gaps (response_mode, introspection rights, login_hint,
//! invalid_client, error page headers, registration with user info).
//! Every case over a real socket.

mod support;

use mock_provider::IssuerPolicy;
use mock_provider::ledger::{DiscoveryForm, LedgerEntry, LedgerFilter};
use mock_provider::{ClientConfig, Endpoint, MockProvider};
use reqwest::StatusCode;
use serde_json::json;
use support::{APP, REDIRECT, http};

async fn provider_with(policy: IssuerPolicy) -> MockProvider {
    MockProvider::builder()
        .issuer(
            support::test_issuer("default").policy(policy).client(
                ClientConfig::confidential("rs", "rs-secret")
                    .grant_types([mock_provider::GrantType::ClientCredentials]),
            ),
        )
        .start()
        .await
        .unwrap()
}

fn pkce_params<'a>(challenge: &'a str, redirect: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", APP.0),
        ("redirect_uri", redirect),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

async fn last_entry(provider: &MockProvider, endpoint: Endpoint) -> LedgerEntry {
    let filter = LedgerFilter {
        endpoint: Some(endpoint),
        ..LedgerFilter::default()
    };
    provider
        .admin()
        .ledger(&filter)
        .await
        .unwrap()
        .pop()
        .expect("an entry")
}

#[tokio::test]
async fn loopback_redirect_uris_match_exactly_except_the_port() {
    // Registered: http://127.0.0.1:8765/callback (support::REDIRECT).
    let provider = provider_with(IssuerPolicy::default()).await;
    let issuer = provider.issuer_url("default").unwrap();
    let (_, challenge) = support::pkce_pair();
    for variant in [
        "HTTP://127.0.0.1:8765/callback",
        "http://127.0.0.1:8765/x/../callback",
        "http://127.1:8765/callback",
        "http://0x7f.0.0.1:8765/callback",
        "http://2130706433:8765/callback",
        "http://127.0.0.1.:8765/callback",
        "http://127.0.0.1:08765/callback",
        "http://127.0.0.1:8765/call\tback",
        "http://127.0.0.1:8765\\callback",
        "http:127.0.0.1:9/callback",
        "http://127.0.0.1:8765/Callback",
        "http://localhost:8765/callback",
    ] {
        let answer = support::authorize(&http(), &issuer, &pkce_params(&challenge, variant)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{variant:?}");
        assert!(answer.location.is_none(), "{variant:?} was redirected to");
    }
    // RFC 8252 7.3: the port may differ for a loopback IP literal.
    for ok in [
        "http://127.0.0.1:8765/callback",
        "http://127.0.0.1:1234/callback",
    ] {
        let answer = support::authorize(&http(), &issuer, &pkce_params(&challenge, ok)).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{ok}: {}", answer.body);
        assert!(answer.location.unwrap().as_str().starts_with(ok));
    }
}

#[tokio::test]
async fn redirect_uris_with_user_information_cannot_be_registered() {
    let provider = provider_with(IssuerPolicy::default()).await;
    let issuer = provider.issuer_url("default").unwrap();
    for uri in [
        "https://good.example@evil.example/cb",
        "http://user:pass@127.0.0.1:9/cb",
    ] {
        let r = http()
            .post(format!("{issuer}/register"))
            .json(&json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{uri}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri}");
    }
}

#[tokio::test]
async fn the_token_redirect_uri_must_be_where_the_code_went() {
    let provider = provider_with(IssuerPolicy::default()).await;
    let issuer = provider.issuer_url("default").unwrap();
    let (verifier, challenge) = support::pkce_pair();
    // No redirect_uri in the authorization request: the code goes to the
    // one registered URI.
    let mut params = pkce_params(&challenge, REDIRECT);
    params.retain(|(k, _)| *k != "redirect_uri");
    let answer = support::authorize(&http(), &issuer, &params).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{answer:?}");
    let code = answer.params["code"].clone();
    let token = async |redirect: &str| {
        support::exchange_code(&http(), &issuer, &code, &verifier, redirect, &[]).await
    };
    let wrong = token("http://127.0.0.1:8765/elsewhere").await;
    assert_eq!(wrong.error(), Some("invalid_grant"), "{wrong:?}");
    // The refused request did not use the code up.
    let right = token(REDIRECT).await;
    assert_eq!(right.status, StatusCode::OK, "{right:?}");
}

#[tokio::test]
async fn resource_values_are_checked_and_required_under_the_policy() {
    let lenient = provider_with(IssuerPolicy::default()).await;
    let strict = provider_with(IssuerPolicy {
        require_resource: true,
        ..IssuerPolicy::default()
    })
    .await;
    let (_, challenge) = support::pkce_pair();
    for provider in [&lenient, &strict] {
        let issuer = provider.issuer_url("default").unwrap();
        for bad in [
            "mcp.example/mcp",
            "https://mcp.example/mcp#frag",
            "https://mcp.example/mcp?tenant=a",
            "javascript:alert(1)",
            "mailto:a@example.com",
        ] {
            let mut params = pkce_params(&challenge, REDIRECT);
            params.push(("resource", bad));
            let answer = support::authorize(&http(), &issuer, &params).await;
            assert_eq!(
                answer.params.get("error").map(String::as_str),
                Some("invalid_target"),
                "{bad}"
            );
            let cc = support::post_form(
                &http(),
                &issuer,
                "token",
                Some(APP),
                &[("grant_type", "client_credentials"), ("resource", bad)],
            )
            .await;
            assert_eq!(cc.error(), Some("invalid_target"), "{bad}");
        }
    }
    // Without resource: the lenient issuer gives its default audience...
    let issuer = lenient.issuer_url("default").unwrap();
    let answer = support::authorize(&http(), &issuer, &pkce_params(&challenge, REDIRECT)).await;
    assert!(answer.params.contains_key("code"), "{answer:?}");
    let entry = last_entry(&lenient, Endpoint::Authorize).await;
    assert!(entry.resource.is_empty(), "the ledger shows none was sent");
    // ...the strict one refuses both requests, at both endpoints.
    let issuer = strict.issuer_url("default").unwrap();
    let answer = support::authorize(&http(), &issuer, &pkce_params(&challenge, REDIRECT)).await;
    assert_eq!(
        answer.params.get("error").map(String::as_str),
        Some("invalid_target")
    );
    assert!(answer.params["error_description"].contains("resource"));
    let cc = support::post_form(
        &http(),
        &issuer,
        "token",
        Some(APP),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(cc.error(), Some("invalid_target"), "{cc:?}");
    let (code, verifier) =
        support::authorization_code(&http(), &issuer, APP.0, &[("resource", support::RESOURCE)])
            .await;
    let tokens = support::exchange_code(
        &http(),
        &issuer,
        &code,
        &verifier,
        REDIRECT,
        &[("resource", support::RESOURCE)],
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{tokens:?}");
    let refresh = support::post_form(
        &http(),
        &issuer,
        "token",
        Some(APP),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.str("refresh_token")),
        ],
    )
    .await;
    assert_eq!(refresh.error(), Some("invalid_target"), "{refresh:?}");
}

#[tokio::test]
async fn the_ledger_records_the_discovery_form_and_strict_serves_only_the_specified_ones() {
    let lenient = provider_with(IssuerPolicy::default()).await;
    let strict = provider_with(IssuerPolicy::default().strict()).await;
    for (provider, appended_status) in
        [(&lenient, StatusCode::OK), (&strict, StatusCode::NOT_FOUND)]
    {
        let base = provider.base_url();
        for (path, form, status) in [
            (
                "/.well-known/oauth-authorization-server/default",
                DiscoveryForm::OauthPathInserted,
                StatusCode::OK,
            ),
            (
                "/.well-known/openid-configuration/default",
                DiscoveryForm::OpenidPathInserted,
                StatusCode::OK,
            ),
            (
                "/default/.well-known/openid-configuration",
                DiscoveryForm::OpenidPathAppended,
                StatusCode::OK,
            ),
            (
                "/default/.well-known/oauth-authorization-server",
                DiscoveryForm::OauthPathAppended,
                appended_status,
            ),
        ] {
            let r = http().get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), status, "{path}");
            let entry = last_entry(provider, Endpoint::Metadata).await;
            assert_eq!(entry.discovery, Some(form), "{path}");
            assert_eq!(entry.status, status.as_u16(), "{path}");
        }
    }
}

#[tokio::test]
async fn the_ledger_records_what_an_authorization_request_sent() {
    let provider = provider_with(IssuerPolicy::default()).await;
    let issuer = provider.issuer_url("default").unwrap();
    let (_, challenge) = support::pkce_pair();
    let mut params = pkce_params(&challenge, REDIRECT);
    params.extend([
        ("state", "s-123456"),
        ("scope", "mcp:tools"),
        ("resource", support::RESOURCE),
        ("response_mode", "query"),
    ]);
    let answer = support::authorize(&http(), &issuer, &params).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    let e = last_entry(&provider, Endpoint::Authorize).await;
    assert_eq!(e.state_length, Some(8));
    assert_eq!(e.requested_scope.as_deref(), Some("mcp:tools"));
    assert_eq!(e.granted_scope.as_deref(), Some("mcp:tools"));
    assert_eq!(e.redirect_uri.as_deref(), Some(REDIRECT));
    assert_eq!(e.response_mode.as_deref(), Some("query"));
    assert_eq!(e.resource, vec![support::RESOURCE]);
    let json = serde_json::to_string(&e).unwrap();
    assert!(
        !json.contains("s-123456"),
        "the state value is never kept: {json}"
    );

    // Without state or scope: the ledger says so, and the grant is what
    // the client may have (every scope), unless default_scopes is set.
    let answer = support::authorize(&http(), &issuer, &pkce_params(&challenge, REDIRECT)).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    let e = last_entry(&provider, Endpoint::Authorize).await;
    assert_eq!(e.state_length, None);
    assert_eq!(e.requested_scope, None);
    assert!(e.granted_scope.unwrap().contains("mcp:admin"));

    let defaults = provider_with(IssuerPolicy {
        default_scopes: Some(vec!["mcp:tools".into()]),
        ..IssuerPolicy::default()
    })
    .await;
    let issuer = defaults.issuer_url("default").unwrap();
    let tokens = support::code_flow_tokens(&http(), &issuer, &[]).await;
    assert_eq!(tokens.str("scope"), "mcp:tools");
    let e = last_entry(&defaults, Endpoint::Token).await;
    assert_eq!(e.requested_scope, None);
    assert_eq!(e.granted_scope.as_deref(), Some("mcp:tools"));
    assert_eq!(e.redirect_uri.as_deref(), Some(REDIRECT));
}

#[tokio::test]
async fn unsupported_response_modes_are_refused() {
    let provider = provider_with(IssuerPolicy::default()).await;
    let issuer = provider.issuer_url("default").unwrap();
    let (_, challenge) = support::pkce_pair();
    for mode in ["fragment", "form_post", "query.jwt"] {
        let mut params = pkce_params(&challenge, REDIRECT);
        params.push(("response_mode", mode));
        let answer = support::authorize(&http(), &issuer, &params).await;
        assert_eq!(
            answer.params.get("error").map(String::as_str),
            Some("invalid_request"),
            "{mode}"
        );
        assert!(!answer.params.contains_key("code"), "{mode}");
        let e = last_entry(&provider, Endpoint::Authorize).await;
        assert_eq!(e.response_mode.as_deref(), Some(mode));
    }
}

#[tokio::test]
async fn introspection_can_be_limited_to_resource_servers() {
    let provider = provider_with(IssuerPolicy {
        introspection_clients: vec!["rs".into()],
        ..IssuerPolicy::default()
    })
    .await;
    let issuer = provider.issuer_url("default").unwrap();
    let token = support::post_form(
        &http(),
        &issuer,
        "token",
        Some(APP),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let token = token.str("access_token").to_owned();
    let as_app = support::post_form(
        &http(),
        &issuer,
        "introspect",
        Some(APP),
        &[("token", &token)],
    )
    .await;
    assert_eq!(as_app.status, StatusCode::FORBIDDEN, "{as_app:?}");
    assert_eq!(as_app.error(), Some("unauthorized_client"));
    let as_rs = support::post_form(
        &http(),
        &issuer,
        "introspect",
        Some(("rs", "rs-secret")),
        &[("token", &token)],
    )
    .await;
    assert_eq!(as_rs.status, StatusCode::OK);
    assert_eq!(as_rs.body["active"], true);
}

#[tokio::test]
async fn login_hints_with_control_characters_never_become_subjects() {
    let provider = provider_with(IssuerPolicy::default()).await;
    let issuer = provider.issuer_url("default").unwrap();
    let (_, challenge) = support::pkce_pair();
    for hint in ["alice\r\nadmin: true", "bob\u{0}", &"x".repeat(300)] {
        let mut params = pkce_params(&challenge, REDIRECT);
        params.push(("login_hint", hint));
        let answer = support::authorize(&http(), &issuer, &params).await;
        assert_eq!(
            answer.params.get("error").map(String::as_str),
            Some("invalid_request"),
            "{hint:?}"
        );
        assert!(!answer.params.contains_key("code"));
    }
}

#[tokio::test]
async fn invalid_client_is_one_answer_with_a_challenge() {
    let provider = provider_with(IssuerPolicy::default()).await;
    let issuer = provider.issuer_url("default").unwrap();
    let cc = [("grant_type", "client_credentials")];
    // client_secret_post for a client_secret_basic client, an unknown
    // client, a wrong secret, and a public client id alone.
    let attempts = [
        vec![("client_id", APP.0), ("client_secret", APP.1)],
        vec![("client_id", "nobody"), ("client_secret", "x")],
        vec![
            ("client_id", support::POST_APP.0),
            ("client_secret", "wrong"),
        ],
        vec![("client_id", APP.0)],
    ];
    let mut descriptions = Vec::new();
    for extra in attempts {
        let mut form = cc.to_vec();
        form.extend(extra);
        let a = support::post_form(&http(), &issuer, "token", None, &form).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{a:?}");
        assert_eq!(a.error(), Some("invalid_client"));
        let challenge = a.headers[reqwest::header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(challenge.starts_with("Basic "), "{challenge}");
        let d = a.str("error_description").to_owned();
        assert!(
            !d.contains("client_secret_basic") && !d.contains("registered"),
            "{d}"
        );
        descriptions.push(d);
    }
    descriptions.dedup();
    assert_eq!(
        descriptions.len(),
        1,
        "one description for every cause: {descriptions:?}"
    );
    // The ledger still tells the operator which method was presented.
    let e = last_entry(&provider, Endpoint::Token).await;
    assert_eq!(e.client_auth, Some(mock_provider::AuthMethod::None));
}

#[tokio::test]
async fn the_authorize_error_page_carries_the_page_headers() {
    let provider = provider_with(IssuerPolicy::default()).await;
    let issuer = provider.issuer_url("default").unwrap();
    let r = http()
        .get(format!(
            "{issuer}/authorize?client_id=nobody&response_type=code"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let h = r.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(h["cache-control"], "no-store");
}
