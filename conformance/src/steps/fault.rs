//! `kind = "fault"`: a fault rule at the suite's provider for the rest of
//! the scenario (the provider is reset before the next one): errors, 5xx,
//! latency, the refresh barrier, token overrides. At the `upstream` issuer
//! the rule matches the server's own upstream client. The step is
//! mock-provider's fault rule (the same `endpoint`, `grant_type`, `times`
//! and `action` as its config file and admin API), with the issuer named by
//! role; a typo in it, or a rule that cannot fire, is a load error naming
//! the file and field, never a FAIL charged to the server.
//!
//! ```toml
//! [[step]]
//! kind = "fault"
//! issuer = "upstream"
//! endpoint = "token"
//! grant_type = "refresh_token"
//! action = { kind = "refresh_barrier", parties = 5, timeout_millis = 1500 }
//! ```

use mock_provider::{Endpoint, FaultAction, FaultRule, GrantType};
use serde::{Deserialize, Serialize};

use super::{CheckError, LoadContext, ScenarioRun, StepError};
use crate::provider_link::IssuerRole;

/// `kind = "fault"`: a fault rule at the suite's provider, for the rest
/// of the scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultStep {
    /// Which issuer: said every time (`upstream` for the server's upstream
    /// calls, `trusted` for its own authorization server).
    pub issuer: IssuerRole,
    /// `token`, `upstream`, `jwks`... (mock-provider's fault endpoints).
    pub endpoint: Endpoint,
    /// Only for this grant type.
    #[serde(default)]
    pub grant_type: Option<GrantType>,
    /// Fire for the next N matching requests (absent: all).
    #[serde(default)]
    pub times: Option<u64>,
    /// The action: `{ kind = "refresh_barrier", parties = 5 }` and the other
    /// fault kinds of mock-provider.
    pub action: FaultAction,
}

impl FaultStep {
    /// The provider's fault rule for this step, at the issuer named
    /// `issuer` (the role's issuer in the step's lane); at the upstream
    /// issuer it matches the server's own upstream client,
    /// `upstream_client`.
    pub fn rule(&self, issuer: &str, upstream_client: &str) -> FaultRule {
        let mut rule = FaultRule::new(self.endpoint, self.action.clone()).issuer(issuer);
        rule.grant_type = self.grant_type;
        rule.times = self.times;
        if self.issuer == IssuerRole::Upstream {
            rule = rule.client(upstream_client);
        }
        rule
    }

    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        self.rule(self.issuer.name(), crate::upstream_grant::UPSTREAM_CLIENT)
            .validate()
            .map_err(|e| CheckError::step(format!("fault rule: {e}")))
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let client = match self.issuer {
            IssuerRole::Upstream => run.upstream_client()?,
            _ => String::new(),
        };
        let rule = self.rule(run.ctx.issuer_name(self.issuer), &client);
        run.ctx
            .provider
            .admin()
            .add_fault(&rule)
            .await
            .map(|_| ())
            .map_err(|e| harness!("the provider refused the fault rule: {e}"))
    }
}
