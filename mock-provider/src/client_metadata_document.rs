//! Client ID metadata documents (MCP authorization 2025-11-25, "Client ID
//! Metadata Documents"; draft-ietf-oauth-client-id-metadata-document): a
//! client whose `client_id` is an HTTPS URL is described by the JSON
//! document at that URL. This fetches the document and checks it.
//!
//! Loopback `http` URLs are accepted too, so tests can serve documents from
//! 127.0.0.1.

use std::time::Duration;

use url::Url;

use crate::client_registry::{AuthMethod, ClientOrigin, GrantType, RegisteredClient};
use crate::redirect_uri;
use crate::scope::ScopeSet;
use crate::token_family::RefreshPolicy;

/// The largest document read (the draft suggests servers cap it; 5 KiB is
/// its example, this is a little more lenient).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024;

/// How long a fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a URL client id could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataDocumentError {
    /// The client id URL itself is not acceptable.
    #[error("client_id `{url}` is not a valid client ID metadata document URL: {reason}")]
    BadUrl {
        /// The client id.
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// The document could not be fetched.
    #[error("client ID metadata document at `{url}` could not be fetched: {reason}")]
    Fetch {
        /// The client id.
        url: String,
        /// Why.
        reason: String,
    },
    /// The document is not acceptable.
    #[error("client ID metadata document at `{url}` is invalid: {reason}")]
    Invalid {
        /// The client id.
        url: String,
        /// Why.
        reason: String,
    },
}

/// Whether a client id looks like a metadata document URL.
pub fn looks_like_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

fn check_url(client_id: &str) -> Result<Url, MetadataDocumentError> {
    let bad = |reason| MetadataDocumentError::BadUrl {
        url: client_id.to_owned(),
        reason,
    };
    let url = Url::parse(client_id).map_err(|_| bad("not a URL"))?;
    let scheme_ok =
        url.scheme() == "https" || (url.scheme() == "http" && redirect_uri::is_loopback_host(&url));
    if !scheme_ok {
        return Err(bad("it must use https"));
    }
    if url.fragment().is_some() {
        return Err(bad("it must not have a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it must not contain credentials"));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(bad("it must have a path"));
    }
    let raw_path = client_id
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    if raw_path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(bad("it must not contain . or .. path segments"));
    }
    Ok(url)
}

/// Fetches and validates the document for `client_id`.
pub async fn fetch(
    http: &reqwest::Client,
    client_id: &str,
) -> Result<RegisteredClient, MetadataDocumentError> {
    let url = check_url(client_id)?;
    let fetch_err = |reason: String| MetadataDocumentError::Fetch {
        url: client_id.to_owned(),
        reason,
    };
    let mut response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| fetch_err(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fetch_err(format!("status {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| fetch_err(e.to_string()))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(fetch_err(format!("larger than {MAX_DOCUMENT_BYTES} bytes")));
        }
    }
    parse(client_id, &body)
}

/// Validates a fetched document.
pub fn parse(client_id: &str, body: &[u8]) -> Result<RegisteredClient, MetadataDocumentError> {
    let invalid = |reason: String| MetadataDocumentError::Invalid {
        url: client_id.to_owned(),
        reason,
    };
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid("not a JSON object".into()))?;
    let str_field = |name: &str| obj.get(name).and_then(|v| v.as_str());
    if str_field("client_id") != Some(client_id) {
        return Err(invalid(
            "its client_id must equal the URL it was fetched from".into(),
        ));
    }
    for forbidden in ["client_secret", "client_secret_expires_at"] {
        if obj.contains_key(forbidden) {
            return Err(invalid(format!("it must not contain `{forbidden}`")));
        }
    }
    let method = str_field("token_endpoint_auth_method").unwrap_or("none");
    if method != "none" {
        return Err(invalid(format!(
            "token_endpoint_auth_method `{method}` is not supported here (only `none`)"
        )));
    }
    let redirect_uris: Vec<String> = match obj.get("redirect_uris") {
        Some(serde_json::Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid("redirect_uris must be strings".into()))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid("redirect_uris must be a non-empty array".into())),
    };
    for uri in &redirect_uris {
        redirect_uri::validate(uri).map_err(|e| invalid(e.to_string()))?;
    }
    let grant_types = match obj.get("grant_types") {
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        Some(v) => {
            let list = v
                .as_array()
                .ok_or_else(|| invalid("grant_types must be an array".into()))?;
            let mut out = Vec::new();
            for g in list {
                let g: GrantType = g.as_str().unwrap_or_default().parse().map_err(invalid)?;
                if g == GrantType::ClientCredentials {
                    return Err(invalid(
                        "client_credentials needs a confidential client".into(),
                    ));
                }
                out.push(g);
            }
            out
        }
    };
    let allowed_scope = match str_field("scope") {
        Some(s) => Some(ScopeSet::parse(s).map_err(|e| invalid(e.to_string()))?),
        None => None,
    };
    Ok(RegisteredClient {
        client_id: client_id.to_owned(),
        client_secret: None,
        auth_method: AuthMethod::None,
        extra_auth_methods: Vec::new(),
        redirect_uris,
        grant_types,
        allowed_scope,
        refresh_policy: RefreshPolicy::default(),
        client_name: str_field("client_name").map(str::to_owned),
        origin: ClientOrigin::MetadataDocument,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "https://app.example/oauth/client.json";

    #[test]
    fn url_rules() {
        assert!(check_url(ID).is_ok());
        assert!(check_url("http://127.0.0.1:4000/client.json").is_ok());
        assert!(check_url("http://app.example/client.json").is_err());
        assert!(check_url("https://app.example").is_err());
        assert!(check_url("https://u:p@app.example/c").is_err());
        assert!(check_url("https://app.example/a/../c").is_err());
    }

    #[test]
    fn document_must_name_itself_and_be_public() {
        let ok = format!(r#"{{"client_id":"{ID}","redirect_uris":["http://127.0.0.1/cb"]}}"#);
        assert!(parse(ID, ok.as_bytes()).is_ok());
        let other = r#"{"client_id":"https://x/y","redirect_uris":["http://127.0.0.1/cb"]}"#;
        assert!(parse(ID, other.as_bytes()).is_err());
        let secret = format!(
            r#"{{"client_id":"{ID}","client_secret":"x","redirect_uris":["http://127.0.0.1/cb"]}}"#
        );
        assert!(parse(ID, secret.as_bytes()).is_err());
        let no_redirect = format!(r#"{{"client_id":"{ID}"}}"#);
        assert!(parse(ID, no_redirect.as_bytes()).is_err());
    }
}
