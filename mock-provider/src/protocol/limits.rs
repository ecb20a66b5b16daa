//! Every bound on what a client can make the provider keep, in one place.
//! A test instrument runs for hours in CI and floods are part of its job,
//! so memory is bounded in bytes, not only in entries: values are capped
//! when they arrive, counts are capped where they accumulate, and what the
//! ledger keeps of an unknown value is cut to a fixed size.

/// The largest form body read (64 KiB); more is `invalid_request`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The longest value of a request parameter that names something
/// (`client_id`, `resource`, `redirect_uri`, `scope`, `state`, ...). Real
/// values are far shorter; longer ones are refused with `invalid_request`
/// before anything is looked up or recorded. Parameters that carry a token
/// or an assertion ([`is_token_parameter`]) are bounded by the body only.
pub const MAX_PARAM_BYTES: usize = 4 * 1024;

/// Parameters bounded only by [`MAX_BODY_BYTES`]: they carry tokens (a JWT
/// presented for introspection may be long) and are hashed, never stored.
pub fn is_token_parameter(name: &str) -> bool {
    name == "token" || name.ends_with("_token") || name.ends_with("assertion")
}

/// The largest dynamic registration request (RFC 7591) read.
pub const MAX_REGISTRATION_BYTES: usize = 16 * 1024;

/// The most redirect URIs one registration may list.
pub const MAX_REDIRECT_URIS: usize = 16;

/// The most clients one issuer keeps from dynamic registration; the next
/// registration is refused until a reset.
pub const MAX_DYNAMIC_CLIENTS: usize = 1000;

/// The longest `client_name` kept from a registration or metadata document.
pub const MAX_CLIENT_NAME_CHARS: usize = 200;

/// Client ID metadata documents cached per issuer.
pub const MAX_CACHED_METADATA_DOCUMENTS: usize = 256;

/// How long a used authorization code is remembered past its expiry, to
/// recognise a replay (RFC 6749 4.1.2); an unused one is forgotten when it
/// expires.
pub const USED_CODE_MEMORY_SECS: u64 = 600;

/// The longest value the ledger keeps as sent (a client id, a resource, a
/// redirect URI). A longer one is kept as its first
/// [`LEDGER_VALUE_PREFIX_CHARS`] characters, an ellipsis and its
/// fingerprint, so a query can still tell values apart.
pub const MAX_LEDGER_VALUE_BYTES: usize = 256;

/// See [`MAX_LEDGER_VALUE_BYTES`].
pub const LEDGER_VALUE_PREFIX_CHARS: usize = 64;

/// A value as the ledger keeps it: as sent when short, else cut to a
/// prefix and the fingerprint of the whole.
/// A short value is handed back as it is: no copy on the ledger's hot path.
pub fn ledger_value(value: String) -> String {
    if value.len() <= MAX_LEDGER_VALUE_BYTES {
        return value;
    }
    let prefix: String = value.chars().take(LEDGER_VALUE_PREFIX_CHARS).collect();
    format!(
        "{prefix}…{}",
        crate::protocol::secret::TokenHash::of(&value).fingerprint()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_value_examples() {
        assert_eq!(ledger_value("app".to_owned()), "app");
        let long = "x".repeat(10_000);
        let kept = ledger_value(long);
        assert!(kept.len() < 100 && kept.starts_with("xxxx") && kept.contains("…sha256:"));
    }
}
