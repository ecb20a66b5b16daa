//! The token domain: signing keys and the published key set, JWS and
//! access tokens, authorization codes, and the clock-free token-family
//! state machine that rotates refresh tokens and detects reuse.

pub(crate) mod access_token;
pub(crate) mod authorization_code;
pub(crate) mod issuer_keys;
pub(crate) mod jws;
pub(crate) mod key_set;
pub(crate) mod pending_authorization;
pub(crate) mod refresh_policy;
pub(crate) mod signing_key;
pub(crate) mod token_family;
