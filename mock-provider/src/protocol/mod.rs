//! OAuth's vocabulary, shared by every part: error codes, scopes, redirect
//! URIs, resource indicators, request parameters, size limits, secrets and
//! their fingerprints, PKCE, and the HTML and token-response shapes.

pub(crate) mod csrf_token;
pub(crate) mod fingerprint;
pub(crate) mod html_page;
pub(crate) mod limits;
pub(crate) mod oauth_error;
pub(crate) mod pkce;
pub(crate) mod redirect_uri;
pub(crate) mod request_params;
pub(crate) mod resource_indicator;
pub(crate) mod scope;
pub(crate) mod secret;
pub(crate) mod token_response;
