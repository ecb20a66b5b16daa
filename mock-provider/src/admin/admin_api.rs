//! The admin API under `/__admin/`: what a test uses to steer the
//! provider. Mint any token, create and list clients, seed a grant (a
//! refresh token without a browser), add and clear faults, rotate keys,
//! revoke by token, user or client, expire a client's access tokens now,
//! read the ledger, reset. Guarded by [`crate::admin::admin_guard`]: loopback
//! peers (or the bearer secret), this provider's `Host`, no cross-site
//! request, JSON bodies. Requests and answers are JSON; the types here are shared
//! with [`crate::admin::admin_client::AdminClient`]. The same guard covers the
//! HTML state page for people ([`crate::admin::state_page`]).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::clients::client_registry::{ClientOrigin, GrantType};
use crate::config::ClientConfig;
use crate::faults::fault_plan::{AppliedFaults, FaultRule};
use crate::faults::token_override::TokenOverride;
use crate::issuer::{Issuer, now};
use crate::ledger::{LedgerEntry, LedgerFilter};
use crate::protocol::resource_indicator;
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::{Secret, TokenHash};
use crate::provider_state::ProviderState;
use crate::tokens::access_token::AccessTokenClaims;
use crate::tokens::issuer_keys::KeysUnavailable;
use crate::tokens::key_set::KeySet;
use crate::tokens::signing_key::SigningKey;
use crate::tokens::token_family::Grant;

pub use crate::admin::admin_types::*;

/// An admin API refusal.
#[derive(Debug)]
struct AdminRefusal(StatusCode, String);

impl IntoResponse for AdminRefusal {
    fn into_response(self) -> Response {
        let error = match self.0 {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::CONFLICT => "conflict",
            StatusCode::INTERNAL_SERVER_ERROR => "server_error",
            _ => "invalid_request",
        };
        (
            self.0,
            Json(json!({"error": error, "error_description": self.1})),
        )
            .into_response()
    }
}

impl From<KeysUnavailable> for AdminRefusal {
    fn from(e: KeysUnavailable) -> Self {
        AdminRefusal(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

fn bad(msg: impl Into<String>) -> AdminRefusal {
    AdminRefusal(StatusCode::BAD_REQUEST, msg.into())
}

type AdminResult<T> = Result<T, AdminRefusal>;

fn parse<T: DeserializeOwned>(body: &Bytes) -> AdminResult<T> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|e| refused_at("invalid request body", None, e))
}

/// `what: place: why`, the place being the field's path (under `at`, when
/// given), or `what: why` when there is neither.
fn refused_at(
    what: &str,
    at: Option<&str>,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> AdminRefusal {
    let path = e.path().to_string();
    let place = match (at, path.as_str()) {
        (None, ".") => None,
        (None, path) => Some(path.to_owned()),
        (Some(at), ".") => Some(at.to_owned()),
        (Some(at), path) => Some(format!("{at}.{path}")),
    };
    match place {
        Some(place) => bad(format!("{what}: {place}: {}", e.inner())),
        None => bad(format!("{what}: {}", e.inner())),
    }
}

fn issuer_of(state: &ProviderState, name: &str) -> AdminResult<Arc<Issuer>> {
    state
        .issuers()
        .get(name)
        .cloned()
        .ok_or_else(|| AdminRefusal(StatusCode::NOT_FOUND, format!("no issuer named `{name}`")))
}

/// The admin routes, guarded.
pub fn routes(state: Arc<ProviderState>) -> Router<Arc<ProviderState>> {
    Router::new()
        .route("/__admin/issuers", get(list_issuers))
        .route(
            "/__admin/issuers/{issuer}/clients",
            get(list_clients).post(create_client),
        )
        .route("/__admin/issuers/{issuer}/tokens", post(mint))
        .route("/__admin/issuers/{issuer}/grants", post(seed_grant))
        .route("/__admin/issuers/{issuer}/keys", get(keys))
        .route("/__admin/issuers/{issuer}/keys/rotate", post(rotate))
        .route("/__admin/issuers/{issuer}/revoke", post(revoke))
        .route("/__admin/issuers/{issuer}/reset", post(reset_issuer))
        .route(
            "/__admin/issuers/{issuer}/expire-access-tokens",
            post(expire),
        )
        .route(
            "/__admin/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .route("/__admin/faults/{id}", delete(remove_fault))
        .route("/__admin/ledger", get(ledger))
        .route("/__admin/ledger/counters", get(counters))
        .route("/__admin/reset", post(reset))
        .route(
            crate::admin::state_page::STATE_PATH,
            get(crate::admin::state_page::state_page),
        )
        .route(
            crate::admin::state_page::RESET_PATH,
            post(crate::admin::state_page::reset_form),
        )
        .route(
            "/__admin/{*rest}",
            any(|| async { AdminRefusal(StatusCode::NOT_FOUND, "no such admin endpoint".into()) }),
        )
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::admin::admin_guard::guard,
        ))
}

async fn list_issuers(
    State(state): State<Arc<ProviderState>>,
) -> AdminResult<Json<Vec<IssuerInfo>>> {
    let mut out = Vec::new();
    for i in state.issuers().values() {
        let keys = i.keys().await?;
        out.push(IssuerInfo {
            name: i.name().to_owned(),
            issuer: i.url().to_owned(),
            metadata_url: format!(
                "{}/.well-known/oauth-authorization-server/{}",
                state.base_url(),
                i.name()
            ),
            token_endpoint: i.endpoint("token"),
            jwks_uri: i.endpoint("jwks"),
            upstream_api: i.upstream_audience(),
            signing_algorithm: keys.alg().as_str().to_owned(),
            active_kid: keys.active().kid().to_owned(),
        });
    }
    Ok(Json(out))
}

async fn list_clients(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
) -> AdminResult<Json<Vec<ClientInfo>>> {
    let issuer = issuer_of(&state, &name)?;
    Ok(Json(
        issuer
            .clients()
            .iter()
            .map(|c| ClientInfo::from(c.as_ref()))
            .collect(),
    ))
}

async fn create_client(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<(StatusCode, Json<ClientInfo>)> {
    let issuer = issuer_of(&state, &name)?;
    let config: ClientConfig = parse(&body)?;
    let problems = config.problems(&issuer.supported_scopes());
    if let Some(p) = problems.first() {
        return Err(bad(p.to_string()));
    }
    if issuer.client(&config.client_id).is_some() {
        return Err(AdminRefusal(
            StatusCode::CONFLICT,
            format!("client `{}` already exists", config.client_id),
        ));
    }
    let mut registered = config.to_registered();
    registered.origin = ClientOrigin::Admin;
    let client = issuer.register_client(registered);
    if let Some(policy) = state.consent_policy(issuer.name()) {
        policy.set_admin_client(&client.client_id, config.consent);
    }
    Ok((StatusCode::CREATED, Json(ClientInfo::from(client.as_ref()))))
}

async fn mint(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<Json<MintedToken>> {
    let issuer = issuer_of(&state, &name)?;
    let req: MintRequest = parse(&body)?;
    let scope = ScopeSet::parse(req.scope.as_deref().unwrap_or(""))
        .map_err(|e| bad(format!("scope: {e}")))?;
    if let Some(aud) = &req.audience
        && !(aud.is_string()
            || aud
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string)))
    {
        return Err(bad("audience must be a string or an array of strings"));
    }
    let now = now();
    let client_id = req.client_id.unwrap_or_else(|| "admin".to_owned());
    let subject = req
        .subject
        .unwrap_or_else(|| issuer.settings().default_subject.clone());
    let claims = issuer.access_token_claims(&client_id, &subject, &scope, &[], None, now);
    let requested = TokenOverride {
        aud: req.audience,
        ttl_secs: req.ttl_secs,
        extra_claims: req.claims,
        ..Default::default()
    };
    let keys = issuer.keys().await?;
    if let Some(kid) = req.token_override.as_ref().and_then(|o| o.kid.as_deref())
        && keys.find(kid, now).is_none()
    {
        return Err(bad(format!(
            "override.kid: `{kid}` is not a key issuer `{name}` publishes now"
        )));
    }
    let mut faults = AppliedFaults {
        signing: req.signing_fault,
        ..Default::default()
    };
    faults.token_overrides.push(requested);
    faults.token_overrides.extend(req.token_override);
    issuer.grants().record_access_token(None, &claims, now);
    let access_token = issuer.issue_access_token(&keys, &claims, &faults, now);
    let payload = crate::tokens::jws::DecodedJws::parse(&access_token)
        .map(|j| j.payload)
        .unwrap_or(Value::Null);
    Ok(Json(MintedToken {
        access_token,
        claims: payload,
    }))
}

async fn seed_grant(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<(StatusCode, Json<SeededGrant>)> {
    let issuer = issuer_of(&state, &name)?;
    let req: SeedGrant = parse(&body)?;
    let client = issuer.client(&req.client_id).ok_or_else(|| {
        bad(format!(
            "client_id: no client `{}` at this issuer",
            req.client_id
        ))
    })?;
    if !client.allows(GrantType::RefreshToken) {
        return Err(bad(format!(
            "client_id: client `{}` is not registered for the refresh_token grant",
            req.client_id
        )));
    }
    let scope = issuer
        .grantable_scope(&client, req.scope.as_deref())
        .map_err(|e| bad(format!("scope: {}", e.description())))?;
    let resources: Vec<&str> = req.resources.iter().map(String::as_str).collect();
    let resources = resource_indicator::validate(&resources, &issuer.settings().resources)
        .map_err(|e| bad(format!("resources: {}", e.description())))?;
    let subject = req
        .subject
        .unwrap_or_else(|| issuer.settings().default_subject.clone());
    let now = now();
    let refresh = Secret::generate(32);
    let expires_at = now + issuer.settings().refresh_token_ttl;
    let mut grants = issuer.grants();
    let family = grants.families.start(
        Grant {
            client_id: client.client_id.clone(),
            subject: subject.clone(),
            scope: scope.clone(),
            resources: resources.clone(),
            auth_time: now,
        },
        client.refresh_policy,
    );
    grants
        .families
        .add_refresh_token(family, refresh.hash(), expires_at);
    drop(grants);
    Ok((
        StatusCode::CREATED,
        Json(SeededGrant {
            refresh_token: refresh.expose().to_owned(),
            family: family.0,
            client_id: client.client_id.clone(),
            subject,
            scope: scope.to_string(),
            resources,
            expires_at,
        }),
    ))
}

fn keys_info(keys: &KeySet) -> KeysInfo {
    let now = now();
    KeysInfo {
        active_kid: keys.active().kid().to_owned(),
        published_kids: keys.published_kids(now),
        published: keys
            .published_kids(now)
            .into_iter()
            .filter_map(|kid| {
                keys.find(&kid, now)
                    .map(|k| PublishedKey { alg: k.alg(), kid })
            })
            .collect(),
    }
}

async fn keys(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
) -> AdminResult<Json<KeysInfo>> {
    let issuer = issuer_of(&state, &name)?;
    Ok(Json(keys_info(&*issuer.keys().await?)))
}

async fn rotate(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<Json<KeysInfo>> {
    let issuer = issuer_of(&state, &name)?;
    let req: RotateKeys = parse(&body)?;
    let alg = match req.algorithm {
        Some(alg) => alg,
        None => issuer.keys().await?.alg(),
    };
    // RSA generation takes tens of milliseconds: off the async threads.
    let next = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
        .await
        .map_err(|e| bad(format!("key generation failed: {e}")))?
        .map_err(|e| bad(format!("key generation failed: {e}")))?;
    let keys = issuer.rotate_keys(next, req.grace_secs).await?;
    tracing::info!(issuer = issuer.name(), grace_secs = ?req.grace_secs, "signing key rotated");
    Ok(Json(keys_info(&keys)))
}

async fn revoke(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<Json<RevokeOutcome>> {
    let issuer = issuer_of(&state, &name)?;
    let req: RevokeRequest = parse(&body)?;
    let given = [
        req.token.is_some(),
        req.subject.is_some(),
        req.client_id.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if given != 1 {
        return Err(bad("give exactly one of `token`, `subject` or `client_id`"));
    }
    let now = now();
    let mut outcome = RevokeOutcome {
        families_revoked: 0,
        access_token_revoked: false,
    };
    if let Some(token) = &req.token {
        if let Some(claims) = AccessTokenClaims::verify(token, &*issuer.keys().await?, now) {
            issuer
                .grants()
                .families
                .revoke_access_token(&claims.jti, claims.exp);
            outcome.access_token_revoked = true;
        } else if issuer
            .grants()
            .families
            .revoke_refresh_token(&TokenHash::of(token))
            .is_some()
        {
            outcome.families_revoked = 1;
        } else {
            return Err(AdminRefusal(
                StatusCode::NOT_FOUND,
                "token: not a token of this issuer".into(),
            ));
        }
    } else if let Some(subject) = &req.subject {
        outcome.families_revoked = issuer.grants().families.revoke_subject(subject);
    } else if let Some(client_id) = &req.client_id {
        outcome.families_revoked = issuer.grants().families.revoke_client(client_id);
    }
    Ok(Json(outcome))
}

async fn expire(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    body: Bytes,
) -> AdminResult<Json<ExpireOutcome>> {
    let issuer = issuer_of(&state, &name)?;
    let req: ExpireRequest = parse(&body)?;
    let expired = issuer
        .grants()
        .families
        .expire_access_tokens_of_client(&req.client_id);
    Ok(Json(ExpireOutcome { expired }))
}

async fn list_faults(State(state): State<Arc<ProviderState>>) -> Json<Vec<FaultRule>> {
    Json(state.faults().rules())
}

/// One rule or an array of rules; all are checked before any is added.
async fn add_faults(
    State(state): State<Arc<ProviderState>>,
    body: Bytes,
) -> AdminResult<(StatusCode, Json<FaultsAdded>)> {
    let rules = match parse(&body)? {
        Value::Array(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, v)| fault_rule(v, &format!("fault[{i}]")))
            .collect::<AdminResult<Vec<_>>>()?,
        one => vec![fault_rule(one, "fault")?],
    };
    for (i, rule) in rules.iter().enumerate() {
        rule.validate()
            .map_err(|reason| bad(format!("fault[{i}]: {reason}")))?;
        if let Some(name) = &rule.issuer {
            issuer_of(&state, name)
                .map_err(|_| bad(format!("fault[{i}].issuer: no issuer named `{name}`")))?;
        }
    }
    let ids = rules.into_iter().map(|r| state.faults().add(r)).collect();
    Ok((StatusCode::CREATED, Json(FaultsAdded { ids })))
}

/// One rule of an add-faults body; a refusal names the field's path.
fn fault_rule(value: Value, at: &str) -> AdminResult<FaultRule> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| refused_at("invalid fault rule", Some(at), e))
}

async fn clear_faults(State(state): State<Arc<ProviderState>>) -> StatusCode {
    state.faults().clear();
    StatusCode::NO_CONTENT
}

async fn remove_fault(
    State(state): State<Arc<ProviderState>>,
    Path(id): Path<String>,
) -> AdminResult<StatusCode> {
    let id: u64 = id
        .parse()
        .map_err(|_| bad(format!("`{id}` is not a fault rule id")))?;
    if state.faults().remove(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AdminRefusal(
            StatusCode::NOT_FOUND,
            format!("no fault rule {id}"),
        ))
    }
}

async fn ledger(
    State(state): State<Arc<ProviderState>>,
    RawQuery(query): RawQuery,
) -> AdminResult<Json<Vec<LedgerEntry>>> {
    let filter: LedgerFilter = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| bad(format!("invalid ledger filter: {e}")))?;
    Ok(Json(state.ledger().query(&filter)))
}

/// `?after_seq=N`: only what the ledger recorded after entry `N`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CountersQuery {
    after_seq: Option<u64>,
}

async fn counters(
    State(state): State<Arc<ProviderState>>,
    RawQuery(query): RawQuery,
) -> AdminResult<Json<Counters>> {
    let query: CountersQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| bad(format!("invalid counters query: {e}")))?;
    Ok(Json(state.ledger().counters_after(query.after_seq)))
}

async fn reset_issuer(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
) -> AdminResult<StatusCode> {
    match state.reset_issuer(&name) {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(AdminRefusal(
            StatusCode::NOT_FOUND,
            format!("no issuer named `{name}`"),
        )),
    }
}

async fn reset(State(state): State<Arc<ProviderState>>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}
