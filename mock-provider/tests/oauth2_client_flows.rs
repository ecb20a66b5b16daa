//! Full OAuth flows as a third-party client runs them: the `oauth2` crate
//! (v5) talking to a provider on a real 127.0.0.1 socket, configured only
//! from the discovered metadata (RFC 8414), with access tokens verified by
//! `jsonwebtoken` against the published JWKS (RFC 9068).
//!
//! `oauth2` is built without its reqwest feature, so [`oauth_http`] is the
//! async HTTP client it is given: a closure over reqwest that never follows
//! redirects.
//!
//! One liberty is taken: `oauth2` refuses a revocation endpoint that is not
//! `https` (RFC 7009 2), and the provider serves plain HTTP on loopback, so
//! the client is configured with the `https` form of the discovered
//! revocation endpoint and [`oauth_http`] sends `https://127.0.0.1` requests
//! as `http`.

mod support;

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mock_provider::MockProvider;
use oauth2::basic::{
    BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenIntrospectionResponse,
    BasicTokenResponse, BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, IntrospectionUrl, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl, Scope, StandardRevocableToken,
    TokenIntrospectionResponse as _, TokenResponse as _, TokenUrl,
};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use support::{APP, GRACE_APP, POST_APP, REDIRECT, RESOURCE, REUSABLE_APP};
use url::Url;

// ---- the HTTP client oauth2 uses ------------------------------------------

type HttpFuture =
    Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, reqwest::Error>> + Send>>;

/// oauth2's async HTTP client: each `http::Request<Vec<u8>>` goes out
/// through reqwest (redirects off, so a token endpoint can never bounce a
/// client elsewhere) and the answer comes back as an `http::Response`.
/// `https://127.0.0.1` is sent as `http` (see the module comment).
fn oauth_http() -> impl Fn(oauth2::HttpRequest) -> HttpFuture {
    let client = support::http();
    move |request| {
        let client = client.clone();
        Box::pin(async move {
            let mut request = reqwest::Request::try_from(request)?;
            let url = request.url_mut();
            if url.scheme() == "https" && url.host_str() == Some("127.0.0.1") {
                url.set_scheme("http").expect("https becomes http");
            }
            let response = client.execute(request).await?;
            let mut builder = oauth2::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await?.to_vec();
            Ok(builder
                .body(body)
                .expect("status and headers came from a response"))
        })
    }
}

type TokenResult =
    Result<BasicTokenResponse, RequestTokenError<reqwest::Error, BasicErrorResponse>>;

/// The `error` code of a refused request (RFC 6749 5.2); panics on success
/// or on anything that is not an OAuth error response.
fn error_code<T: std::fmt::Debug>(
    result: Result<T, RequestTokenError<reqwest::Error, BasicErrorResponse>>,
) -> BasicErrorResponseType {
    match result {
        Err(RequestTokenError::ServerResponse(e)) => e.error().clone(),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}

// ---- discovery and the oauth2 client built from it -----------------------

/// The authorization server metadata fields the tests use (RFC 8414 2).
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    registration_endpoint: Option<String>,
}

/// An `oauth2` client with authorization, token, introspection and
/// revocation endpoints set.
type OAuthClient = BasicClient<EndpointSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

/// A running provider and one of its issuers, as discovered over HTTP.
struct DiscoveredIssuer {
    _provider: MockProvider,
    metadata: Metadata,
    http: reqwest::Client,
}

/// Starts the test provider and reads the metadata of issuer `name` from its
/// RFC 8414 3 well-known URL.
async fn start_and_discover(name: &str) -> DiscoveredIssuer {
    let provider = support::start_provider().await;
    let http = support::http();
    let url = format!(
        "{}/.well-known/oauth-authorization-server/{name}",
        provider.base_url()
    );
    let metadata = get_json(&http, &url).await;
    DiscoveredIssuer {
        _provider: provider,
        metadata: serde_json::from_value(metadata).expect("metadata has every endpoint"),
        http,
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let response = http.get(url).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    response.json().await.expect("JSON body")
}

/// The registered claims of an access token (RFC 9068 2.2).
#[derive(Debug, Deserialize)]
struct AccessClaims {
    iss: String,
    sub: String,
    aud: Value,
    exp: u64,
    iat: u64,
    jti: String,
    client_id: String,
    scope: String,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn scopes(list: &[&str]) -> Vec<Scope> {
    list.iter().map(|s| Scope::new((*s).to_owned())).collect()
}

/// A granted scope as a set: its order means nothing (RFC 6749 3.3).
fn scope_set(granted: Option<&Vec<Scope>>) -> BTreeSet<String> {
    granted
        .expect("a scope")
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn set_of(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl DiscoveredIssuer {
    /// An oauth2 client for `client_id` whose endpoints all come from the
    /// metadata; Basic authentication when there is a secret.
    fn client(&self, client_id: &str, secret: Option<&str>) -> OAuthClient {
        let m = &self.metadata;
        // oauth2 only revokes over https; oauth_http() maps it back.
        let mut revocation = Url::parse(&m.revocation_endpoint).unwrap();
        revocation.set_scheme("https").unwrap();
        let client = BasicClient::new(ClientId::new(client_id.to_owned()))
            .set_auth_uri(AuthUrl::new(m.authorization_endpoint.clone()).unwrap())
            .set_token_uri(TokenUrl::new(m.token_endpoint.clone()).unwrap())
            .set_introspection_url(IntrospectionUrl::new(m.introspection_endpoint.clone()).unwrap())
            .set_revocation_url(RevocationUrl::from_url(revocation))
            .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
        match secret {
            Some(s) => client.set_client_secret(ClientSecret::new(s.to_owned())),
            None => client,
        }
    }

    /// Runs the authorization request of `client` (PKCE S256, `resource`,
    /// `scope`) without following the redirect, checks the response's
    /// `state` (RFC 6749 4.1.2) and `iss` (RFC 9207 2), and returns the code
    /// and its verifier.
    async fn authorize(
        &self,
        client: &OAuthClient,
        scope: &[&str],
    ) -> (AuthorizationCode, PkceCodeVerifier) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes(scope))
            .set_pkce_challenge(challenge)
            .add_extra_param("resource", RESOURCE)
            .url();
        let response = self.http.get(url.as_str()).send().await.expect("authorize");
        assert_eq!(response.status(), StatusCode::FOUND, "{response:?}");
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| Url::parse(v).expect("absolute Location"))
            .expect("a Location header");
        assert_eq!(
            &location[..url::Position::AfterPath],
            REDIRECT,
            "redirected to the registered redirect URI"
        );
        let param = |name: &str| {
            location
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("no `{name}` in {location}"))
        };
        assert_eq!(&param("state"), csrf.secret(), "state is echoed");
        assert_eq!(param("iss"), self.metadata.issuer, "RFC 9207 iss");
        (AuthorizationCode::new(param("code")), verifier)
    }

    /// Exchanges a code at the token endpoint (RFC 6749 4.1.3, RFC 7636 4.5).
    async fn exchange(
        &self,
        client: &OAuthClient,
        code: AuthorizationCode,
        verifier: PkceCodeVerifier,
    ) -> TokenResult {
        client
            .exchange_code(code)
            .set_pkce_verifier(verifier)
            .add_extra_param("resource", RESOURCE)
            .request_async(&oauth_http())
            .await
    }

    /// Authorization code + PKCE for `client`, expected to succeed.
    async fn code_flow(&self, client: &OAuthClient, scope: &[&str]) -> BasicTokenResponse {
        let (code, verifier) = self.authorize(client, scope).await;
        self.exchange(client, code, verifier)
            .await
            .expect("code exchange")
    }

    /// A refresh token request (RFC 6749 6), optionally asking for `scope`.
    async fn refresh(
        &self,
        client: &OAuthClient,
        token: &RefreshToken,
        scope: &[&str],
    ) -> TokenResult {
        client
            .exchange_refresh_token(token)
            .add_scopes(scopes(scope))
            .request_async(&oauth_http())
            .await
    }

    /// Introspects any token (RFC 7662 2.1) as `client`.
    async fn introspect(
        &self,
        client: &OAuthClient,
        token: &str,
        hint: &'static str,
    ) -> BasicTokenIntrospectionResponse {
        let token = AccessToken::new(token.to_owned());
        client
            .introspect(&token)
            .set_token_type_hint(hint)
            .request_async(&oauth_http())
            .await
            .expect("introspection answers")
    }

    async fn access_token_active(&self, client: &OAuthClient, token: &AccessToken) -> bool {
        self.introspect(client, token.secret(), "access_token")
            .await
            .active()
    }

    async fn refresh_token_active(&self, client: &OAuthClient, token: &RefreshToken) -> bool {
        self.introspect(client, token.secret(), "refresh_token")
            .await
            .active()
    }

    async fn revoke(&self, client: &OAuthClient, token: StandardRevocableToken) {
        client
            .revoke_token(token)
            .expect("revocation URL is set")
            .request_async(&oauth_http())
            .await
            .expect("revocation succeeds");
    }

    /// Verifies an access token with `jsonwebtoken` against the JWKS at
    /// `jwks_uri` (RFC 9068 4): `typ`, `alg`, a published `kid`, signature,
    /// `iss`, `aud`, `exp`, and every RFC 9068 2.2 claim present.
    async fn verify_access_token(
        &self,
        token: &AccessToken,
        alg: Algorithm,
        audience: &str,
    ) -> AccessClaims {
        let header = jsonwebtoken::decode_header(token.secret()).expect("a JWS header");
        assert_eq!(header.typ.as_deref(), Some("at+jwt"), "RFC 9068 2.1 typ");
        assert_eq!(header.alg, alg);
        let kid = header.kid.expect("a kid");
        let jwks: JwkSet =
            serde_json::from_value(get_json(&self.http, &self.metadata.jwks_uri).await)
                .expect("a JWK set");
        let jwk = jwks
            .find(&kid)
            .unwrap_or_else(|| panic!("kid `{kid}` is not in the JWKS"));
        let key = DecodingKey::from_jwk(jwk).expect("usable JWK");
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.metadata.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
        let claims = jsonwebtoken::decode::<AccessClaims>(token.secret(), &key, &validation)
            .expect("the access token verifies")
            .claims;
        assert_eq!(claims.iss, self.metadata.issuer);
        assert!(!claims.jti.is_empty());
        let now = now();
        assert!(
            claims.iat <= now + 1 && claims.iat + 60 >= now,
            "iat is now"
        );
        assert!(claims.exp > claims.iat);
        claims
    }
}

// ---- discovery -----------------------------------------------------------

/// RFC 8414 3 (path-inserted well-known URL) and OpenID Connect Discovery 4
/// (appended) serve the same document; RFC 8414 3.3: its `issuer` is the
/// issuer identifier; OAuth 2.1 / RFC 9207: S256 only and `iss` in
/// authorization responses; RFC 7517: the JWKS holds the signing key.
#[tokio::test]
async fn discovery_documents_agree_and_jwks_has_the_signing_key() {
    let provider = support::start_provider().await;
    let http = support::http();
    let issuer_url = provider.issuer_url("default").unwrap();
    let rfc8414 = get_json(
        &http,
        &format!(
            "{}/.well-known/oauth-authorization-server/default",
            provider.base_url()
        ),
    )
    .await;
    let openid = get_json(
        &http,
        &format!("{issuer_url}/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(rfc8414, openid);
    assert_eq!(rfc8414["issuer"], issuer_url.as_str());
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "introspection_endpoint",
        "revocation_endpoint",
        "registration_endpoint",
    ] {
        let url = rfc8414[endpoint]
            .as_str()
            .unwrap_or_else(|| panic!("no {endpoint}"));
        Url::parse(url).unwrap_or_else(|e| panic!("{endpoint} `{url}`: {e}"));
    }
    assert_eq!(
        rfc8414["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        rfc8414["authorization_response_iss_parameter_supported"],
        true
    );

    // A token from the discovered token endpoint verifies with the JWKS
    // from the discovered jwks_uri.
    let issuer = DiscoveredIssuer {
        metadata: serde_json::from_value(rfc8414).unwrap(),
        _provider: provider,
        http,
    };
    let app = issuer.client(APP.0, Some(APP.1));
    let token = app
        .exchange_client_credentials()
        .request_async(&oauth_http())
        .await
        .expect("client credentials");
    let claims = issuer
        .verify_access_token(
            token.access_token(),
            Algorithm::RS256,
            &format!("{issuer_url}/api"),
        )
        .await;
    assert_eq!(claims.client_id, APP.0);
}

// ---- dynamic registration + code flow ------------------------------------

/// RFC 7591 3: register a public client, then run authorization code with
/// PKCE (RFC 7636, S256) and a resource indicator (RFC 8707) with it, and
/// verify the RFC 9068 access token signed with `alg`.
async fn registered_public_client_code_flow(issuer_name: &str, alg: Algorithm) {
    let issuer = start_and_discover(issuer_name).await;
    let registration = issuer
        .http
        .post(
            issuer
                .metadata
                .registration_endpoint
                .as_deref()
                .expect("registration_endpoint"),
        )
        .json(&serde_json::json!({
            "client_name": "oauth2-rs test client",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(registration.status(), StatusCode::CREATED, "RFC 7591 3.2.1");
    let registered: Value = registration.json().await.unwrap();
    let client_id = registered["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned();
    assert!(
        registered.get("client_secret").is_none(),
        "a public client has no secret: {registered}"
    );
    assert_eq!(registered["token_endpoint_auth_method"], "none");
    assert_eq!(registered["redirect_uris"], serde_json::json!([REDIRECT]));
    assert_eq!(
        registered["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );

    let client = issuer.client(&client_id, None);
    let tokens = issuer.code_flow(&client, &["mcp:tools"]).await;
    assert_eq!(tokens.token_type(), &BasicTokenType::Bearer, "RFC 6749 5.1");
    assert!(tokens.expires_in().is_some(), "RFC 6749 5.1 expires_in");
    assert_eq!(scope_set(tokens.scopes()), set_of(&["mcp:tools"]));
    assert!(
        tokens.refresh_token().is_some(),
        "registered for refresh_token"
    );
    let claims = issuer
        .verify_access_token(tokens.access_token(), alg, RESOURCE)
        .await;
    assert_eq!(claims.aud, RESOURCE, "RFC 8707: aud is the resource");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.client_id, client_id);
    assert_eq!(claims.scope, "mcp:tools");
}

#[tokio::test]
async fn registered_public_client_gets_rs256_token_with_code_and_pkce() {
    registered_public_client_code_flow("default", Algorithm::RS256).await;
}

#[tokio::test]
async fn registered_public_client_gets_es256_token_with_code_and_pkce() {
    registered_public_client_code_flow("other", Algorithm::ES256).await;
}

// ---- refresh tokens --------------------------------------------------------

/// OAuth 2.1 4.3.1 / RFC 9700 4.14.2: refresh tokens rotate; presenting a
/// consumed one is `invalid_grant` and revokes the whole family, including
/// the newest refresh token and every access token.
#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let issuer = start_and_discover("default").await;
    let app = issuer.client(APP.0, Some(APP.1));
    assert!(matches!(app.auth_type(), AuthType::BasicAuth));
    let first = issuer.code_flow(&app, &["mcp:tools"]).await;
    let old = first.refresh_token().expect("refresh token").clone();

    let second = issuer.refresh(&app, &old, &[]).await.expect("refresh");
    let newer = second
        .refresh_token()
        .expect("rotated refresh token")
        .clone();
    assert_ne!(newer.secret(), old.secret(), "a new refresh token");
    assert_eq!(scope_set(second.scopes()), set_of(&["mcp:tools"]));

    let third = issuer
        .refresh(&app, &newer, &[])
        .await
        .expect("the new one works");
    let newest = third.refresh_token().expect("rotated again").clone();
    assert!(issuer.access_token_active(&app, first.access_token()).await);

    assert_eq!(
        error_code(issuer.refresh(&app, &old, &[]).await),
        BasicErrorResponseType::InvalidGrant,
        "a consumed refresh token"
    );
    assert_eq!(
        error_code(issuer.refresh(&app, &newest, &[]).await),
        BasicErrorResponseType::InvalidGrant,
        "the family was revoked by the reuse"
    );
    for tokens in [&first, &second, &third] {
        assert!(
            !issuer
                .access_token_active(&app, tokens.access_token())
                .await
        );
    }
}

/// RFC 6749 6: a refresh request may ask for fewer scopes than granted,
/// never more (`invalid_scope`); a refused request does not consume the
/// refresh token.
#[tokio::test]
async fn refresh_may_narrow_scope_but_not_widen_it() {
    let issuer = start_and_discover("default").await;
    let app = issuer.client(APP.0, Some(APP.1));
    let granted = issuer.code_flow(&app, &["mcp:tools", "mcp:admin"]).await;
    assert_eq!(
        scope_set(granted.scopes()),
        set_of(&["mcp:tools", "mcp:admin"])
    );

    let narrowed = issuer
        .refresh(&app, granted.refresh_token().unwrap(), &["mcp:tools"])
        .await
        .expect("narrowing");
    assert_eq!(scope_set(narrowed.scopes()), set_of(&["mcp:tools"]));
    let claims = issuer
        .verify_access_token(narrowed.access_token(), Algorithm::RS256, RESOURCE)
        .await;
    assert_eq!(claims.scope, "mcp:tools");

    let refresh = narrowed.refresh_token().unwrap();
    assert_eq!(
        error_code(
            issuer
                .refresh(&app, refresh, &["mcp:tools", "offline_access"])
                .await
        ),
        BasicErrorResponseType::InvalidScope
    );
    let after = issuer
        .refresh(&app, refresh, &[])
        .await
        .expect("the refused request did not consume the token");
    // Omitting scope means the originally granted scope (RFC 6749 6).
    assert_eq!(
        scope_set(after.scopes()),
        set_of(&["mcp:tools", "mcp:admin"])
    );
}

// ---- client credentials and client authentication ------------------------

/// RFC 6749 4.4: client credentials, no refresh token (4.4.3); RFC 9068
/// 2.2: `sub` is the client; RFC 8707: `resource` becomes `aud`.
#[tokio::test]
async fn client_credentials_token_is_for_the_client_itself() {
    let issuer = start_and_discover("default").await;
    let app = issuer.client(APP.0, Some(APP.1));
    let token = app
        .exchange_client_credentials()
        .add_scope(Scope::new("mcp:tools".to_owned()))
        .add_extra_param("resource", RESOURCE)
        .request_async(&oauth_http())
        .await
        .expect("client credentials");
    assert!(token.refresh_token().is_none(), "RFC 6749 4.4.3");
    assert_eq!(scope_set(token.scopes()), set_of(&["mcp:tools"]));
    let claims = issuer
        .verify_access_token(token.access_token(), Algorithm::RS256, RESOURCE)
        .await;
    assert_eq!(claims.sub, APP.0);
    assert_eq!(claims.client_id, APP.0);
    assert_eq!(claims.aud, RESOURCE);
    assert_eq!(claims.scope, "mcp:tools");
}

/// RFC 6749 2.3.1: a client registered for `client_secret_post` sends its
/// secret in the body; the same credentials over HTTP Basic are refused
/// with 401 `invalid_client` and a `WWW-Authenticate` challenge (5.2).
#[tokio::test]
async fn client_secret_post_client_must_not_use_basic() {
    let issuer = start_and_discover("default").await;
    let post_app = issuer
        .client(POST_APP.0, Some(POST_APP.1))
        .set_auth_type(AuthType::RequestBody);
    let token = post_app
        .exchange_client_credentials()
        .request_async(&oauth_http())
        .await
        .expect("client_secret_post works");
    assert!(!token.access_token().secret().is_empty());

    let basic = issuer.client(POST_APP.0, Some(POST_APP.1));
    assert!(matches!(basic.auth_type(), AuthType::BasicAuth));
    // Records what the server answered, for the status and challenge.
    let seen: Arc<Mutex<Option<oauth2::HttpResponse>>> = Arc::default();
    let inner = oauth_http();
    let recording = |request| {
        let sent = inner(request);
        let seen = seen.clone();
        async move {
            let response = sent.await?;
            *seen.lock().unwrap() = Some(response.clone());
            Ok::<_, reqwest::Error>(response)
        }
    };
    let refused = basic
        .exchange_client_credentials()
        .request_async(&recording)
        .await;
    assert_eq!(error_code(refused), BasicErrorResponseType::InvalidClient);
    let response = seen.lock().unwrap().take().expect("a response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .expect("a WWW-Authenticate challenge");
    assert!(challenge.starts_with("Basic"), "{challenge}");
}

// ---- introspection and revocation ----------------------------------------

/// RFC 7662 2.2: an active access token is described (scope, client_id,
/// sub, exp, ...); an unknown string is just `active: false`; a refresh
/// token is active until rotation consumes it.
#[tokio::test]
async fn introspection_reports_active_and_inactive_tokens() {
    let issuer = start_and_discover("default").await;
    let app = issuer.client(APP.0, Some(APP.1));
    let tokens = issuer.code_flow(&app, &["mcp:tools"]).await;

    let active = issuer
        .introspect(&app, tokens.access_token().secret(), "access_token")
        .await;
    assert!(active.active());
    assert_eq!(scope_set(active.scopes()), set_of(&["mcp:tools"]));
    assert_eq!(active.client_id().map(|c| c.as_str()), Some(APP.0));
    assert_eq!(active.sub(), Some("alice"));
    assert_eq!(active.iss(), Some(issuer.metadata.issuer.as_str()));
    assert_eq!(active.aud(), Some(&vec![RESOURCE.to_owned()]));
    let exp = active.exp().expect("exp").timestamp();
    assert!(exp > i64::try_from(now()).unwrap(), "exp is in the future");

    let garbage = issuer.introspect(&app, "not-a-token", "access_token").await;
    assert!(!garbage.active());
    assert!(garbage.scopes().is_none() && garbage.client_id().is_none() && garbage.sub().is_none());

    let refresh = tokens.refresh_token().unwrap();
    let before = issuer
        .introspect(&app, refresh.secret(), "refresh_token")
        .await;
    assert!(before.active());
    assert_eq!(before.client_id().map(|c| c.as_str()), Some(APP.0));
    assert_eq!(scope_set(before.scopes()), set_of(&["mcp:tools"]));
    let rotated = issuer.refresh(&app, refresh, &[]).await.expect("refresh");
    assert!(
        !issuer.refresh_token_active(&app, refresh).await,
        "consumed by rotation"
    );
    assert!(
        issuer
            .refresh_token_active(&app, rotated.refresh_token().unwrap())
            .await
    );
}

/// RFC 7009 2.1: revoking a refresh token also invalidates the access
/// tokens of the same grant; the refresh token no longer works
/// (`invalid_grant`, RFC 6749 5.2).
#[tokio::test]
async fn revoking_refresh_token_revokes_its_family() {
    let issuer = start_and_discover("default").await;
    let app = issuer.client(APP.0, Some(APP.1));
    let first = issuer.code_flow(&app, &["mcp:tools"]).await;
    let second = issuer
        .refresh(&app, first.refresh_token().unwrap(), &[])
        .await
        .expect("refresh");
    let refresh = second.refresh_token().unwrap().clone();

    issuer
        .revoke(&app, StandardRevocableToken::RefreshToken(refresh.clone()))
        .await;
    assert!(!issuer.refresh_token_active(&app, &refresh).await);
    assert!(!issuer.access_token_active(&app, first.access_token()).await);
    assert!(
        !issuer
            .access_token_active(&app, second.access_token())
            .await
    );
    assert_eq!(
        error_code(issuer.refresh(&app, &refresh, &[]).await),
        BasicErrorResponseType::InvalidGrant
    );
}

/// RFC 7009 2.1: revoking an access token revokes it; the refresh token of
/// the same grant may stay valid (revoking it too is a MAY), and this
/// provider keeps it.
#[tokio::test]
async fn revoking_access_token_keeps_the_refresh_token() {
    let issuer = start_and_discover("default").await;
    let app = issuer.client(APP.0, Some(APP.1));
    let tokens = issuer.code_flow(&app, &["mcp:tools"]).await;
    assert!(
        issuer
            .access_token_active(&app, tokens.access_token())
            .await
    );

    issuer
        .revoke(
            &app,
            StandardRevocableToken::AccessToken(tokens.access_token().clone()),
        )
        .await;
    assert!(
        !issuer
            .access_token_active(&app, tokens.access_token())
            .await
    );
    let refreshed = issuer
        .refresh(&app, tokens.refresh_token().unwrap(), &[])
        .await
        .expect("the refresh token still works");
    assert!(
        issuer
            .access_token_active(&app, refreshed.access_token())
            .await
    );
}

// ---- refresh policies ------------------------------------------------------

/// OAuth 2.1 4.3.1 lets a server keep refresh tokens for confidential
/// clients: under the reusable policy the same token comes back and keeps
/// working.
#[tokio::test]
async fn reusable_refresh_token_keeps_working() {
    let issuer = start_and_discover("default").await;
    let app = issuer.client(REUSABLE_APP.0, Some(REUSABLE_APP.1));
    let tokens = issuer.code_flow(&app, &["mcp:tools"]).await;
    let refresh = tokens.refresh_token().unwrap();
    let mut access_tokens = HashSet::from([tokens.access_token().secret().clone()]);
    for round in 1..=3 {
        let again = issuer
            .refresh(&app, refresh, &[])
            .await
            .unwrap_or_else(|e| panic!("refresh {round}: {e:?}"));
        assert_eq!(
            again.refresh_token().map(RefreshToken::secret),
            Some(refresh.secret()),
            "refresh {round}: the same refresh token"
        );
        access_tokens.insert(again.access_token().secret().clone());
    }
    assert_eq!(access_tokens.len(), 4, "a new access token each time");
}

/// RFC 9700 4.14.2 reuse detection, with a grace period for clients that
/// lose a response: a consumed token works again within 2 s, after that
/// its reuse is `invalid_grant` and revokes the family.
#[tokio::test]
async fn grace_period_allows_reuse_then_expires() {
    let issuer = start_and_discover("default").await;
    let app = issuer.client(GRACE_APP.0, Some(GRACE_APP.1));
    let tokens = issuer.code_flow(&app, &["mcp:tools"]).await;
    let original = tokens.refresh_token().unwrap();

    let rotated = issuer
        .refresh(&app, original, &[])
        .await
        .expect("first use");
    assert_ne!(rotated.refresh_token().unwrap().secret(), original.secret());
    let retried = issuer
        .refresh(&app, original, &[])
        .await
        .expect("reuse within the grace period");
    let latest = retried.refresh_token().unwrap();
    assert_ne!(latest.secret(), original.secret());

    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        error_code(issuer.refresh(&app, original, &[]).await),
        BasicErrorResponseType::InvalidGrant,
        "reuse after the grace period"
    );
    assert_eq!(
        error_code(issuer.refresh(&app, latest, &[]).await),
        BasicErrorResponseType::InvalidGrant,
        "the reuse revoked the family"
    );
}

// ---- authorization code reuse ---------------------------------------------

/// RFC 6749 4.1.2 (and 10.5): a code is single use; a second redemption
/// is refused and the tokens the first one issued are revoked.
#[tokio::test]
async fn authorization_code_reuse_revokes_issued_tokens() {
    let issuer = start_and_discover("default").await;
    let app = issuer.client(APP.0, Some(APP.1));
    let (code, verifier) = issuer.authorize(&app, &["mcp:tools"]).await;
    let verifier_again = PkceCodeVerifier::new(verifier.secret().clone());

    let first = issuer
        .exchange(&app, code.clone(), verifier)
        .await
        .expect("first redemption");
    assert_eq!(
        error_code(issuer.exchange(&app, code, verifier_again).await),
        BasicErrorResponseType::InvalidGrant
    );
    assert_eq!(
        error_code(
            issuer
                .refresh(&app, first.refresh_token().unwrap(), &[])
                .await
        ),
        BasicErrorResponseType::InvalidGrant,
        "the refresh token from the first redemption is revoked"
    );
    assert!(!issuer.access_token_active(&app, first.access_token()).await);
}
