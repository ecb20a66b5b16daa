//! The token endpoint (RFC 6749 3.2, OAuth 2.1 3.2): client authentication,
//! then the `authorization_code` (PKCE, single use), `refresh_token`
//! (rotation, reuse detection, scope may only narrow) and
//! `client_credentials` grants. Every answer carries `Cache-Control:
//! no-store` (RFC 6749 5.1).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::clients::client_registry::GrantType;
use crate::endpoints::client_auth::{self, AuthenticatedClient};
use crate::endpoints::exchange::{Exchange, no_store};
use crate::faults::fault_plan::{AppliedFaults, Endpoint};
use crate::issuer::{Issuer, now};
use crate::protocol::oauth_error::{ErrorCode, OAuthError};
use crate::protocol::pkce;
use crate::protocol::request_params::RequestParams;
use crate::protocol::resource_indicator;
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::{Secret, TokenHash};
use crate::provider_state::ProviderState;
use crate::tokens::authorization_code::CodeRedeemError;
use crate::tokens::key_set::KeySet;
use crate::tokens::token_family::{RedeemError, RevocationCause};

pub use crate::protocol::token_response::TokenResponse;

/// `POST /{issuer}/token`
pub async fn token_handler(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut ex = match Exchange::start(state, &name, Endpoint::Token) {
        Ok(ex) => ex,
        Err(not_found) => return not_found,
    };
    let params = ex.read_form(&headers, body).await;
    ex.answer(async |ex, applied| {
        let response = grant(ex, &headers, &params?, applied).await?;
        let mut r = no_store(Json(response).into_response());
        r.headers_mut()
            .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        Ok(r)
    })
    .await
}

async fn grant(
    ex: &mut Exchange,
    headers: &HeaderMap,
    params: &RequestParams,
    applied: &AppliedFaults,
) -> Result<TokenResponse, OAuthError> {
    params.reject_duplicates()?;
    let issuer = ex.issuer.clone();
    let client = client_auth::authenticate(&issuer, headers, params).await?;
    ex.draft.client_id = Some(client.client.client_id.clone());
    let grant_type = params.required("grant_type")?;
    let grant: GrantType = grant_type.parse().map_err(|_| {
        OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type `{grant_type}` is not supported"),
        )
    })?;
    if !client.client.allows(grant) {
        return Err(OAuthError::unauthorized_client(format!(
            "client `{}` is not registered for the {grant} grant",
            client.client.client_id
        )));
    }
    if let (GrantType::RefreshToken, Some((rule, parties, timeout))) = (grant, applied.barrier) {
        let outcome = ex
            .state()
            .barriers()
            .wait(
                rule,
                issuer.name(),
                &client.client.client_id,
                parties,
                timeout,
            )
            .await;
        tracing::info!(issuer = issuer.name(), client_id = %client.client.client_id, ?outcome, "refresh barrier passed");
    }
    resource_indicator::require(
        &params.all("resource"),
        issuer.settings().policy.require_resource,
    )?;
    // Before any grant is spent: a code or refresh token is never used up
    // for a token that cannot be signed.
    let keys = issuer.keys().await?;
    let response = match grant {
        GrantType::AuthorizationCode => authorization_code(ex, &keys, &client, params, applied)?,
        GrantType::RefreshToken => refresh_token(ex, &keys, &client, params, applied)?,
        GrantType::ClientCredentials => client_credentials(ex, &keys, &client, params, applied)?,
    };
    ex.draft.granted_scope = Some(response.scope.clone());
    tracing::info!(
        issuer = issuer.name(),
        client_id = %client.client.client_id,
        grant = %grant,
        "token issued"
    );
    Ok(response)
}

/// Whether the faults ask for no refresh token in the response.
fn withholds_refresh_token(applied: &AppliedFaults) -> bool {
    applied.token_overrides.iter().any(|o| o.no_refresh_token)
}

/// Builds the token response, with the faults' changes.
fn respond(
    issuer: &Issuer,
    access_token: String,
    refresh_token: Option<String>,
    scope: &ScopeSet,
    applied: &AppliedFaults,
) -> TokenResponse {
    let mut response = TokenResponse {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: Some(issuer.settings().access_token_ttl),
        refresh_token,
        scope: scope.to_string(),
    };
    for o in &applied.token_overrides {
        o.apply_to_response(&mut response);
    }
    response
}

fn requested_resources(issuer: &Issuer, params: &RequestParams) -> Result<Vec<String>, OAuthError> {
    resource_indicator::validate(&params.all("resource"), &issuer.settings().resources)
}

fn authorization_code(
    ex: &mut Exchange,
    keys: &KeySet,
    client: &AuthenticatedClient,
    params: &RequestParams,
    applied: &AppliedFaults,
) -> Result<TokenResponse, OAuthError> {
    let issuer = ex.issuer.clone();
    let issuer = issuer.as_ref();
    let code = params.required("code")?;
    let verifier = params.single("code_verifier")?;
    let redirect_uri = params.single("redirect_uri")?;
    let asked = requested_resources(issuer, params)?;
    let hash = TokenHash::of(code);
    let now = now();
    let settings = issuer.settings();

    let mut grants = issuer.grants();
    let code_grant = match grants.codes.get(&hash, now) {
        Ok(c) => c.clone(),
        Err(CodeRedeemError::AlreadyUsed { family }) => {
            // RFC 6749 4.1.2: deny, and revoke what the code issued.
            if let Some(f) = family {
                grants
                    .families
                    .revoke_family(f, RevocationCause::AuthorizationCodeReuse);
            }
            return Err(OAuthError::invalid_grant(
                CodeRedeemError::AlreadyUsed { family }.to_string(),
            ));
        }
        Err(e) => return Err(OAuthError::invalid_grant(e.to_string())),
    };
    if code_grant.grant.client_id != client.client.client_id {
        return Err(OAuthError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    if let Some(expected) = &code_grant.redirect_uri
        && redirect_uri != Some(expected.as_str())
    {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the one in the authorization request (RFC 6749 4.1.3)",
        ));
    }
    // Without one in the authorization request the code went to the one
    // registered URI; a token request that names another is not the flow
    // the code came from.
    if code_grant.redirect_uri.is_none()
        && let Some(presented) = redirect_uri
        && !client.client.redirect_uris.iter().any(|r| r == presented)
    {
        return Err(OAuthError::invalid_grant(
            "redirect_uri is not the registered one the code was sent to",
        ));
    }
    let verifier = verifier.ok_or_else(|| {
        OAuthError::invalid_grant("code_verifier is required: the code was issued with PKCE")
    })?;
    if !pkce::verify(verifier, &code_grant.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge (RFC 7636 4.6)",
        ));
    }
    let audiences = resource_indicator::narrow(&code_grant.grant.resources, &asked)?;

    let grant = code_grant.grant;
    let family = grants
        .families
        .start(grant.clone(), client.client.refresh_policy);
    grants.codes.mark_used(&hash, family);
    let claims = issuer.access_token_claims(
        &grant.client_id,
        &grant.subject,
        &grant.scope,
        &audiences,
        Some(grant.auth_time),
        now,
    );
    grants.record_access_token(Some(family), &claims, now);
    let wants_refresh =
        client.client.allows(GrantType::RefreshToken) && !withholds_refresh_token(applied);
    let refresh = wants_refresh.then(|| {
        let rt = Secret::generate(32);
        grants
            .families
            .add_refresh_token(family, rt.hash(), now + settings.refresh_token_ttl);
        rt
    });
    drop(grants);
    ex.draft.family = Some(family.0);
    ex.draft.issued_refresh_token = refresh.as_ref().map(Secret::fingerprint);

    let (access, audience) = issuer.issue_access_token_with_audience(keys, &claims, applied, now);
    ex.draft.audience = audience;
    Ok(respond(
        issuer,
        access,
        refresh.map(|r| r.expose().to_owned()),
        &grant.scope,
        applied,
    ))
}

fn refresh_token(
    ex: &mut Exchange,
    keys: &KeySet,
    client: &AuthenticatedClient,
    params: &RequestParams,
    applied: &AppliedFaults,
) -> Result<TokenResponse, OAuthError> {
    let issuer = ex.issuer.clone();
    let issuer = issuer.as_ref();
    // Its fingerprint is in the draft already (Exchange::read_form).
    let presented = params.required("refresh_token")?;
    let asked_scope = params
        .single("scope")?
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
    let asked_resources = requested_resources(issuer, params)?;
    let hash = TokenHash::of(presented);
    let now = now();
    let settings = issuer.settings();
    let successor = Secret::generate(32);

    // RFC 6749 6: the scope may narrow, never widen; RFC 8707 2.2 likewise
    // for resources. Checked before redeeming so that a bad request does
    // not consume a good token.
    let narrow =
        |granted: &ScopeSet, resources: &[String]| -> Result<(ScopeSet, Vec<String>), OAuthError> {
            let scope = match &asked_scope {
                Some(s) if !s.is_subset(granted) => {
                    return Err(OAuthError::invalid_scope(format!(
                        "scope `{}` exceeds the original grant",
                        s.difference(granted)
                    )));
                }
                Some(s) => s.clone(),
                None => granted.clone(),
            };
            Ok((
                scope,
                resource_indicator::narrow(resources, &asked_resources)?,
            ))
        };

    let mut grants = issuer.grants();
    if let Some(grant) = grants
        .families
        .redeemable_grant(&hash, &client.client.client_id, now)
    {
        narrow(&grant.scope, &grant.resources)?;
    }
    // A provider that sends no new refresh token did not rotate: the
    // client keeps the one it has (RFC 6749 6).
    let rotation = (!withholds_refresh_token(applied))
        .then(|| (successor.hash(), now + settings.refresh_token_ttl));
    let redemption = grants
        .families
        .redeem(&hash, &client.client.client_id, now, rotation);
    let redemption = match redemption {
        Ok(r) => r,
        Err(e) => {
            match e {
                RedeemError::Reused(family) => {
                    ex.draft.reuse_detected = true;
                    ex.draft.family = Some(family.0);
                    tracing::warn!(issuer = issuer.name(), %family, refresh_token = %hash.fingerprint(), "refresh token reuse: family revoked");
                }
                RedeemError::FamilyRevoked(family) => ex.draft.family = Some(family.0),
                _ => {}
            }
            return Err(OAuthError::invalid_grant(e.to_string()));
        }
    };
    ex.draft.family = Some(redemption.family.0);
    let (scope, audiences) = narrow(&redemption.grant.scope, &redemption.grant.resources)?;
    let claims = issuer.access_token_claims(
        &redemption.grant.client_id,
        &redemption.grant.subject,
        &scope,
        &audiences,
        Some(redemption.grant.auth_time),
        now,
    );
    grants.record_access_token(Some(redemption.family), &claims, now);
    drop(grants);

    let (access, audience) = issuer.issue_access_token_with_audience(keys, &claims, applied, now);
    ex.draft.audience = audience;
    let refresh = if redemption.rotated {
        ex.draft.issued_refresh_token = Some(successor.fingerprint());
        Some(successor.expose().to_owned())
    } else if withholds_refresh_token(applied) {
        None
    } else {
        Some(presented.to_owned())
    };
    Ok(respond(issuer, access, refresh, &scope, applied))
}

fn client_credentials(
    ex: &mut Exchange,
    keys: &KeySet,
    client: &AuthenticatedClient,
    params: &RequestParams,
    applied: &AppliedFaults,
) -> Result<TokenResponse, OAuthError> {
    let issuer = ex.issuer.clone();
    if !client.method.is_confidential() {
        return Err(OAuthError::unauthorized_client(
            "client_credentials needs a confidential client (RFC 6749 4.4)",
        ));
    }
    let scope = issuer.grantable_scope(&client.client, params.single("scope")?)?;
    let audiences = requested_resources(&issuer, params)?;
    let c = &client.client;
    let now = now();
    // RFC 9068 2.2: with no user, `sub` is the client.
    let claims =
        issuer.access_token_claims(&c.client_id, &c.client_id, &scope, &audiences, None, now);
    issuer.grants().record_access_token(None, &claims, now);
    let (access, audience) = issuer.issue_access_token_with_audience(keys, &claims, applied, now);
    ex.draft.audience = audience;
    // RFC 6749 4.4.3: no refresh token.
    Ok(respond(&issuer, access, None, &scope, applied))
}
