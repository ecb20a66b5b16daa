//! The server's upstream grant: its client at the suite's upstream issuer
//! and refresh tokens seeded for it, handed over as the `UPSTREAM_*`
//! environment (see the environment contract in the README).

use std::collections::BTreeMap;

use mock_provider::admin::IssuerInfo;

use crate::profile::UpstreamSection;
use crate::provider_link::ProviderLink;
use crate::secret_book::SecretBook;
use crate::target_server::TargetError;

/// The server's client id at the upstream issuer.
pub const UPSTREAM_CLIENT: &str = "mcp-server-upstream";

/// Why the server's upstream grant could not be seeded: always the suite's
/// or the provider's problem, never the server's.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The server's client at the upstream issuer could not be created.
    #[error("cannot create the server's upstream client: {0}")]
    Client(mock_provider::AdminError),
    /// A grant could not be seeded.
    #[error("cannot seed the server's upstream grant: {0}")]
    Grant(mock_provider::AdminError),
    /// The server did not come back with the new grant.
    #[error("the server could not be restarted: {0}")]
    Restart(TargetError),
}

/// Creates the server's client at the upstream issuer and seeds a grant
/// (a refresh token, no access token yet); returns the `UPSTREAM_*`
/// environment that hands it over.
pub(crate) async fn seed_upstream(
    provider: &ProviderLink,
    upstream: &IssuerInfo,
    book: &mut SecretBook,
    upstream_section: &UpstreamSection,
) -> Result<BTreeMap<String, String>, SeedError> {
    use mock_provider::admin::SeedGrant;
    use mock_provider::{AuthMethod, ClientConfig, GrantType};
    let tenants = upstream_section.tenants;
    let admin = provider.admin();
    let secret = mock_provider::random_base64url(24);
    let client = ClientConfig::confidential(UPSTREAM_CLIENT, secret.clone())
        .grant_types([GrantType::RefreshToken]);
    // Both methods unless the profile pins one: nearly every real
    // provider takes client_secret_post as well as HTTP Basic.
    let client = match upstream_section.client_auth {
        Some(method) => client.auth_method(method),
        None => client.also_accept(AuthMethod::ClientSecretPost),
    };
    admin
        .create_client(&upstream.name, &client)
        .await
        .map_err(SeedError::Client)?;
    let mut grants = BTreeMap::new();
    let users: &[&str] = if tenants {
        &["alice", "bob"]
    } else {
        &["alice"]
    };
    for user in users {
        let grant = admin
            .seed_grant(
                &upstream.name,
                &SeedGrant {
                    client_id: UPSTREAM_CLIENT.to_owned(),
                    subject: Some((*user).to_owned()),
                    scope: None,
                    resources: Vec::new(),
                },
            )
            .await
            .map_err(SeedError::Grant)?;
        book.add(
            &grant.refresh_token,
            &format!("upstream refresh token of {user}"),
        );
        grants.insert((*user).to_owned(), grant.refresh_token);
    }
    book.add(&secret, "upstream client secret");
    let mut env = BTreeMap::new();
    if tenants {
        env.insert(
            "UPSTREAM_REFRESH_TOKENS".to_owned(),
            serde_json::to_string(&grants).unwrap_or_default(),
        );
    }
    let grant_refresh_token = grants.remove("alice").unwrap_or_default();
    env.extend(BTreeMap::from([
        ("UPSTREAM_ISSUER".to_owned(), upstream.issuer.clone()),
        (
            "UPSTREAM_TOKEN_URL".to_owned(),
            upstream.token_endpoint.clone(),
        ),
        ("UPSTREAM_CLIENT_ID".to_owned(), UPSTREAM_CLIENT.to_owned()),
        ("UPSTREAM_CLIENT_SECRET".to_owned(), secret),
        ("UPSTREAM_REFRESH_TOKEN".to_owned(), grant_refresh_token),
        ("UPSTREAM_API_URL".to_owned(), upstream.upstream_api.clone()),
    ]));
    Ok(env)
}
