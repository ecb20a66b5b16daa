//! Dynamic client registration (RFC 7591): validates the client metadata
//! (redirect URIs https or loopback, grant and response types consistent,
//! a supported authentication method, known scopes), creates the client and
//! answers 201 with its id, secret and registered metadata.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::clients::client_registry::{
    AuthMethod, ClientOrigin, GrantType, RegisteredClient, Unsupported,
};
use crate::endpoints::exchange::{Exchange, no_store};
use crate::faults::fault_plan::Endpoint;
use crate::issuer::now;
use crate::protocol::limits::{
    MAX_CLIENT_NAME_CHARS, MAX_DYNAMIC_CLIENTS, MAX_REDIRECT_URIS, MAX_REGISTRATION_BYTES,
};
use crate::protocol::oauth_error::{ErrorCode, OAuthError};
use crate::protocol::redirect_uri;
use crate::protocol::request_params::{read_body, require_content_type};
use crate::protocol::scope::ScopeSet;
use crate::protocol::secret::{Secret, random_base64url};
use crate::provider_state::ProviderState;
use crate::tokens::token_family::RefreshPolicy;

/// Metadata fields echoed back as registered (RFC 7591 2).
const ECHOED: &[&str] = &[
    "client_name",
    "client_uri",
    "logo_uri",
    "contacts",
    "tos_uri",
    "policy_uri",
    "software_id",
    "software_version",
];

fn metadata_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn redirect_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

/// `POST /{issuer}/register`
pub async fn register_handler(
    State(state): State<Arc<ProviderState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let issuer = match state.issuer(&name) {
        Ok(i) if i.settings().dynamic_registration => i,
        Ok(_) => {
            return crate::provider_state::not_found(
                "dynamic client registration is off for this issuer",
            );
        }
        Err(not_found) => return not_found,
    };
    let ex = Exchange::begin(state, issuer, Endpoint::Register);
    ex.answer(async |ex, _| {
        let doc = register(ex, &headers, body).await?;
        let r = no_store((StatusCode::CREATED, Json(doc)).into_response());
        Ok(r)
    })
    .await
}

fn string_list(obj: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| metadata_error(format!("`{field}` must be an array of strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(metadata_error(format!(
            "`{field}` must be an array of strings"
        ))),
    }
}

async fn register(ex: &mut Exchange, headers: &HeaderMap, body: Body) -> Result<Value, OAuthError> {
    let issuer = ex.issuer.clone();
    require_content_type(headers, "application/json")
        .map_err(|e| metadata_error(e.description().to_owned()))?;
    let bytes = read_body(body)
        .await
        .map_err(|e| metadata_error(e.description().to_owned()))?;
    if bytes.len() > MAX_REGISTRATION_BYTES {
        return Err(metadata_error(format!(
            "the registration is {} bytes; this server reads at most {MAX_REGISTRATION_BYTES}",
            bytes.len()
        )));
    }

    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| metadata_error(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(obj) = doc else {
        return Err(metadata_error("the body must be a JSON object"));
    };

    let redirect_uris = string_list(&obj, "redirect_uris")?.unwrap_or_default();
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(redirect_error(format!(
            "{} redirect_uris; this server registers at most {MAX_REDIRECT_URIS}",
            redirect_uris.len()
        )));
    }
    for uri in &redirect_uris {
        redirect_uri::validate(uri).map_err(|e| redirect_error(e.to_string()))?;
    }
    let method: AuthMethod = match obj.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => AuthMethod::ClientSecretBasic, // RFC 7591 2 default
        Some(Value::String(s)) => s
            .parse()
            .map_err(|e: Unsupported| metadata_error(e.to_string()))?,
        Some(_) => {
            return Err(metadata_error(
                "`token_endpoint_auth_method` must be a string",
            ));
        }
    };
    let grant_types: Vec<GrantType> = string_list(&obj, "grant_types")?
        .unwrap_or_else(|| vec!["authorization_code".to_owned()])
        .iter()
        .map(|g| {
            g.parse::<GrantType>()
                .map_err(|e| metadata_error(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    if grant_types.is_empty() {
        return Err(metadata_error("`grant_types` must not be empty"));
    }
    // RFC 7591 2 defaults response_types to ["code"]; a client that asks
    // for no authorization_code grant (machine to machine) gets none, so
    // its registration is not refused for a default it never chose.
    let has_code_grant = grant_types.contains(&GrantType::AuthorizationCode);
    let response_types = string_list(&obj, "response_types")?.unwrap_or_else(|| {
        if has_code_grant {
            vec!["code".to_owned()]
        } else {
            Vec::new()
        }
    });
    if let Some(other) = response_types.iter().find(|r| *r != "code") {
        return Err(metadata_error(format!(
            "response type `{other}` is not supported; only `code`"
        )));
    }
    // RFC 7591 2.1: grant_types and response_types must agree.
    if has_code_grant != response_types.iter().any(|r| r == "code") {
        return Err(metadata_error(
            "grant_types and response_types disagree: authorization_code goes with the `code` response type (RFC 7591 2.1)",
        ));
    }
    if has_code_grant && redirect_uris.is_empty() {
        return Err(redirect_error(
            "redirect_uris is required for the authorization_code grant",
        ));
    }
    if grant_types.contains(&GrantType::ClientCredentials) && !method.is_confidential() {
        return Err(metadata_error(
            "client_credentials needs a confidential client, not token_endpoint_auth_method `none`",
        ));
    }
    let allowed_scope = match obj.get("scope") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let s = ScopeSet::parse(s).map_err(|e| metadata_error(e.to_string()))?;
            let unknown = s.difference(&issuer.supported_scopes());
            if !unknown.is_empty() {
                return Err(metadata_error(format!(
                    "scope `{unknown}` is not supported by this issuer"
                )));
            }
            Some(s)
        }
        Some(_) => return Err(metadata_error("`scope` must be a space-delimited string")),
    };
    let client_name = obj
        .get("client_name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if client_name
        .as_deref()
        .is_some_and(|n| n.chars().count() > MAX_CLIENT_NAME_CHARS)
    {
        return Err(metadata_error(format!(
            "client_name is longer than {MAX_CLIENT_NAME_CHARS} characters"
        )));
    }

    let client_id = random_base64url(16);
    let secret = method.is_confidential().then(|| Secret::generate(32));
    let client = RegisteredClient {
        client_id: client_id.clone(),
        client_secret: secret.clone(),
        auth_method: method,
        extra_auth_methods: Vec::new(),
        redirect_uris: redirect_uris.clone(),
        grant_types: grant_types.clone(),
        allowed_scope: allowed_scope.clone(),
        refresh_policy: RefreshPolicy::default(),
        client_name,
        origin: ClientOrigin::DynamicRegistration,
    };
    if issuer
        .register_dynamic_client(client, MAX_DYNAMIC_CLIENTS)
        .is_none()
    {
        return Err(metadata_error(format!(
            "this issuer already holds {MAX_DYNAMIC_CLIENTS} dynamically registered clients, the provider's cap; reset it (POST /__admin/reset) to register more"
        )));
    }
    ex.draft.client_id = Some(client_id.clone());
    tracing::info!(issuer = issuer.name(), %client_id, method = %method, "client registered");

    let mut out = Map::new();
    out.insert("client_id".into(), json!(client_id));
    if let Some(s) = &secret {
        out.insert("client_secret".into(), json!(s.expose()));
        out.insert("client_secret_expires_at".into(), json!(0));
    }
    out.insert("client_id_issued_at".into(), json!(now()));
    out.insert("redirect_uris".into(), json!(redirect_uris));
    out.insert("token_endpoint_auth_method".into(), json!(method.as_str()));
    out.insert(
        "grant_types".into(),
        json!(grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>()),
    );
    out.insert("response_types".into(), json!(response_types));
    if let Some(s) = allowed_scope {
        out.insert("scope".into(), json!(s.to_string()));
    }
    for field in ECHOED {
        if let Some(v) = obj.get(*field) {
            out.insert((*field).to_owned(), v.clone());
        }
    }
    Ok(Value::Object(out))
}
