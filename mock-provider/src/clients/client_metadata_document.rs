//! Client ID metadata documents (MCP authorization 2025-11-25, "Client ID
//! Metadata Documents"; draft-ietf-oauth-client-id-metadata-document): a
//! client whose `client_id` is an HTTPS URL is described by the JSON
//! document at that URL. This fetches the document and checks it.
//!
//! The fetch is a request the provider makes for anyone who can reach its
//! authorization endpoint, so it is fenced ([`FetchPolicy`]): `https` only,
//! no loopback, private, link-local or metadata address (checked on the
//! literal and on every address a name resolves to, so DNS cannot smuggle
//! one in), never the provider's own `/__admin/`, a size and time cap, no
//! redirects, no proxy, and a failure that says only "could not be fetched"
//! (the detail is logged), so the endpoint is no port scanner. Tests that
//! serve documents from 127.0.0.1 turn loopback on
//! (`policy.metadata_documents_loopback`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use url::{Host, Url};

use crate::clients::client_registry::{
    AuthMethod, ClientOrigin, GrantType, RegisteredClient, Unsupported,
};
use crate::protocol::redirect_uri;
use crate::protocol::scope::ScopeSet;
use crate::tokens::token_family::RefreshPolicy;

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
    /// The document could not be fetched. The reason is for the log
    /// only: shown to the client it would map the network behind the
    /// provider.
    #[error("client ID metadata document at `{url}` could not be fetched")]
    Fetch {
        /// The client id.
        url: String,
        /// Why (not in the message).
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

/// Where documents may be fetched from: an issuer's
/// `policy.metadata_documents_loopback` and `_private`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Loopback addresses (and `http` to them) allowed.
    pub loopback: bool,
    /// Private, link-local, shared and other non-public addresses allowed.
    pub private: bool,
}

/// What kind of address a document would come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// Not routable on the internet: RFC 1918, shared (100.64/10),
    /// link-local (169.254/16 with the cloud metadata address, fe80::/10),
    /// unique local (fc00::/7), unspecified, multicast, reserved.
    Private,
    /// Anything else.
    Public,
}

/// Classifies an address; IPv4-mapped IPv6 addresses as their IPv4 one.
pub fn address_class(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                AddressClass::Loopback
            } else if v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
            {
                AddressClass::Private
            } else {
                AddressClass::Public
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return address_class(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                AddressClass::Loopback
            } else if v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x0064
                || first == 0x2001 && v6.segments()[1] == 0x0db8
            {
                AddressClass::Private
            } else {
                AddressClass::Public
            }
        }
    }
}

impl FetchPolicy {
    /// Whether a document may come from `ip`.
    pub fn allows(self, ip: IpAddr) -> bool {
        match address_class(ip) {
            AddressClass::Public => true,
            AddressClass::Loopback => self.loopback,
            AddressClass::Private => self.private,
        }
    }

    /// The HTTP client that fetches under this policy: every address a
    /// name resolves to is checked before a connection is made, no
    /// redirects, no proxy.
    pub fn http_client(self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(FETCH_TIMEOUT)
            .dns_resolver(Arc::new(FencedResolver(self)))
            .build()
            .unwrap_or_default()
    }
}

/// Resolves with the system resolver, then drops the addresses the policy
/// refuses; none left is a failure, so no connection is tried.
struct FencedResolver(FetchPolicy);

impl reqwest::dns::Resolve for FencedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    format!("`{host}` resolves to no address documents may come from").into(),
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn check_url(client_id: &str, policy: FetchPolicy) -> Result<Url, MetadataDocumentError> {
    let bad = |reason| MetadataDocumentError::BadUrl {
        url: client_id.to_owned(),
        reason,
    };
    let url = Url::parse(client_id).map_err(|_| bad("not a URL"))?;
    let loopback_name = redirect_uri::is_loopback_host(&url);
    let scheme_ok =
        url.scheme() == "https" || (url.scheme() == "http" && policy.loopback && loopback_name);
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
    let decoded_path = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
    if decoded_path.to_ascii_lowercase().starts_with("/__admin") {
        return Err(bad("it must not point at the provider's admin API"));
    }
    let literal = match url.host() {
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = literal
        && !policy.allows(ip)
    {
        return Err(bad(
            "it points at a loopback, private or link-local address, which this issuer does not fetch from",
        ));
    }
    if literal.is_none() && loopback_name && !policy.loopback {
        return Err(bad(
            "it points at a loopback host, which this issuer does not fetch from",
        ));
    }
    Ok(url)
}

/// Fetches and validates the document for `client_id` with `http` (made
/// by [`FetchPolicy::http_client`] for the same policy).
pub async fn fetch(
    http: &reqwest::Client,
    policy: FetchPolicy,
    client_id: &str,
) -> Result<RegisteredClient, MetadataDocumentError> {
    let url = check_url(client_id, policy)?;
    let fetch_err = |reason: String| {
        tracing::info!(client_id, %reason, "client ID metadata document not fetched");
        MetadataDocumentError::Fetch {
            url: client_id.to_owned(),
            reason,
        }
    };
    let mut response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(FETCH_TIMEOUT)
        .send()
        .await
        .map_err(|e| fetch_err(format!("{e:#}")))?;
    if !response.status().is_success() {
        return Err(fetch_err(format!("status {}", response.status())));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(fetch_err(format!("larger than {MAX_DOCUMENT_BYTES} bytes")));
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
                let g: GrantType = g
                    .as_str()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e: Unsupported| invalid(e.to_string()))?;
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
        client_name: str_field("client_name").map(|n| {
            n.chars()
                .take(crate::protocol::limits::MAX_CLIENT_NAME_CHARS)
                .collect()
        }),
        origin: ClientOrigin::MetadataDocument,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "https://app.example/oauth/client.json";

    #[test]
    fn url_rules() {
        let strict = FetchPolicy::default();
        let loopback = FetchPolicy {
            loopback: true,
            private: false,
        };
        assert!(check_url(ID, strict).is_ok());
        assert!(check_url("http://127.0.0.1:4000/client.json", strict).is_err());
        assert!(check_url("https://127.0.0.1:4000/client.json", strict).is_err());
        assert!(check_url("http://localhost:4000/client.json", strict).is_err());
        assert!(check_url("http://127.0.0.1:4000/client.json", loopback).is_ok());
        assert!(check_url("http://127.0.0.1:4000/__admin/ledger", loopback).is_err());
        assert!(check_url("http://127.0.0.1:4000/%5F%5Fadmin/ledger", loopback).is_err());
        assert!(check_url("https://10.1.2.3/c.json", loopback).is_err());
        assert!(check_url("https://169.254.169.254/latest/meta-data", loopback).is_err());
        assert!(check_url("https://[fd00:ec2::254]/c.json", loopback).is_err());
        assert!(check_url("https://[::ffff:10.0.0.1]/c.json", loopback).is_err());
        assert!(check_url("http://app.example/client.json", loopback).is_err());
        assert!(check_url("https://app.example", strict).is_err());
        assert!(check_url("https://u:p@app.example/c", strict).is_err());
        assert!(check_url("https://app.example/a/../c", strict).is_err());
    }

    #[test]
    fn addresses_are_classified() {
        for (ip, class) in [
            ("127.0.0.2", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("10.0.0.1", AddressClass::Private),
            ("172.16.5.4", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::Private),
            ("169.254.169.254", AddressClass::Private),
            ("0.0.0.0", AddressClass::Private),
            ("fe80::1", AddressClass::Private),
            ("fd00:ec2::254", AddressClass::Private),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("93.184.216.34", AddressClass::Public),
            ("2606:4700::1111", AddressClass::Public),
        ] {
            assert_eq!(address_class(ip.parse().unwrap()), class, "{ip}");
        }
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
