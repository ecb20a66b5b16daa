//! `kind = "mint"`: an access token from the provider's admin API, signed
//! by one of the suite's issuers, with whatever is wrong with it that the
//! scenario asks for (audience, issuer, lifetime, `nbf`, signature, key,
//! claims, JOSE header). Later steps send it by name (`token = "NAME"`,
//! `{token.NAME}`, `{subject.NAME}`).
//!
//! ```toml
//! [[step]]
//! kind = "mint"
//! name = "expired"
//! ttl_secs = -3600
//! ```

use mock_provider::admin::MintRequest;
use mock_provider::faults::SigningFault;
use mock_provider::faults::TokenOverride;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{CheckError, LoadContext, ScenarioRun, StepError};
use crate::provider_link::IssuerRole;

/// `kind = "mint"`: an access token from the provider's admin API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintStep {
    /// The name later steps use (`token = "name"`, `{token.name}`).
    pub name: String,
    /// Which issuer signs it.
    #[serde(default)]
    pub issuer: IssuerRole,
    /// `aud` (templates allowed; default `{resource}`).
    #[serde(default)]
    pub audience: Option<OneOrMany>,
    /// Leave `aud` out.
    #[serde(default)]
    pub remove_aud: bool,
    /// Replace `iss` (template).
    #[serde(default)]
    pub iss: Option<String>,
    /// Scope (template; default `{auth_scope}`).
    #[serde(default)]
    pub scope: Option<String>,
    /// `sub` (default `alice`).
    #[serde(default)]
    pub subject: Option<String>,
    /// Lifetime from now; negative is already expired.
    #[serde(default)]
    pub ttl_secs: Option<i64>,
    /// `nbf` this many seconds from now.
    #[serde(default)]
    pub nbf_in_secs: Option<i64>,
    /// Sign it wrongly.
    #[serde(default)]
    pub signing_fault: Option<SigningFault>,
    /// Sign it with one of the issuer's staged keys: published in its JWKS
    /// since the run began, never used to sign before (a rotation done the
    /// way issuers do it: publish first, sign later).
    #[serde(default)]
    pub key: Option<StagedKey>,
    /// Extra claims.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// Extra JOSE header parameters (`jku`, `x5u`, `jwk`, another `typ`);
    /// strings are templates.
    #[serde(default)]
    pub header: Map<String, Value>,
}

/// One value or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    /// As a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// A key the suite's trusted issuer publishes from the start without
/// signing with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StagedKey {
    /// An RSA key (RS256), the same algorithm as the active key.
    StagedRs256,
    /// An EC P-256 key (ES256).
    StagedEs256,
}

impl StagedKey {
    /// Its algorithm.
    pub fn algorithm(self) -> mock_provider::SigningAlgorithm {
        match self {
            Self::StagedRs256 => mock_provider::SigningAlgorithm::Rs256,
            Self::StagedEs256 => mock_provider::SigningAlgorithm::Es256,
        }
    }
}

impl MintStep {
    pub(super) fn check(&self, load: &mut LoadContext) -> Result<(), CheckError> {
        if !load.tokens.insert(self.name.clone()) {
            return Err(CheckError::field(
                "name",
                format!("token `{}` is minted twice", self.name),
            ));
        }
        Ok(())
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let audience = match &self.audience {
            None => Some(json!(run.render("{resource}")?)),
            Some(a) => {
                let list = a
                    .to_vec()
                    .iter()
                    .map(|x| run.render(x))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(match a {
                    OneOrMany::One(_) => json!(list[0]),
                    OneOrMany::Many(_) => json!(list),
                })
            }
        };
        let scope = run.render(self.scope.as_deref().unwrap_or("{auth_scope}"))?;
        let kid = match self.key {
            None => None,
            Some(staged) => Some(staged_kid(run, self.issuer, staged).await?),
        };
        let header = match run.render_json(&Value::Object(self.header.clone()))? {
            Value::Object(h) => h,
            _ => Default::default(),
        };
        let token_override = TokenOverride {
            remove_aud: self.remove_aud,
            iss: self.iss.as_deref().map(|i| run.render(i)).transpose()?,
            nbf_in_secs: self.nbf_in_secs,
            kid,
            header,
            ..Default::default()
        };
        let request = MintRequest {
            client_id: Some(CLIENT_ID.to_owned()),
            subject: Some(self.subject.clone().unwrap_or_else(|| SUBJECT.to_owned())),
            scope: Some(scope),
            audience,
            ttl_secs: self.ttl_secs,
            claims: self.claims.clone(),
            token_override: Some(token_override),
            signing_fault: self.signing_fault,
        };
        mint(run, self.issuer, &self.name, request).await
    }
}

/// The client minted tokens are issued to.
const CLIENT_ID: &str = "mcp-conformance-client";
/// Their default `sub`.
const SUBJECT: &str = "alice";

/// A valid token from the trusted issuer for the server's resource and
/// scope, saved as `name` (what other steps need before they can start).
pub(super) async fn valid_token(run: &mut ScenarioRun<'_>, name: &str) -> Result<(), StepError> {
    let request = MintRequest {
        client_id: Some(CLIENT_ID.to_owned()),
        subject: Some(SUBJECT.to_owned()),
        scope: Some(run.render("{auth_scope}")?),
        audience: Some(json!(run.render("{resource}")?)),
        ..Default::default()
    };
    mint(run, IssuerRole::Trusted, name, request).await
}

/// Mints `request` at `issuer` and saves the token as `name`.
async fn mint(
    run: &mut ScenarioRun<'_>,
    issuer: IssuerRole,
    name: &str,
    request: MintRequest,
) -> Result<(), StepError> {
    let minted = run
        .ctx
        .provider
        .admin()
        .mint_token(run.ctx.issuer_name(issuer), &request)
        .await
        .map_err(|e| harness!("minting `{name}` failed: {e}"))?;
    run.ctx
        .book
        .add(&minted.access_token, &format!("token {name}"));
    run.vars.set(&format!("token.{name}"), minted.access_token);
    let subject = request.subject.unwrap_or_default();
    run.vars.set(&format!("subject.{name}"), subject);
    Ok(())
}

/// The `kid` of the issuer's staged key of that algorithm: published,
/// and not the one that signs by default.
async fn staged_kid(
    run: &ScenarioRun<'_>,
    issuer: IssuerRole,
    staged: StagedKey,
) -> Result<String, StepError> {
    let keys = run
        .ctx
        .provider
        .admin()
        .keys(run.ctx.issuer_name(issuer))
        .await
        .map_err(|e| harness!("cannot read the {} issuer's keys: {e}", issuer.name()))?;
    keys.published
        .iter()
        .find(|k| k.alg == staged.algorithm() && k.kid != keys.active_kid)
        .map(|k| k.kid.clone())
        .ok_or_else(|| {
            harness!(
                "the {} issuer publishes no staged {} key (a standalone --provider needs `staged_keys = [\"RS256\", \"ES256\"]` on it)",
                issuer.name(),
                staged.algorithm()
            )
        })
}
