//! `kind = "fault"`: a fault rule at the suite's provider for the rest of
//! the scenario (the provider is reset before the next one): errors, 5xx,
//! latency, the refresh barrier, token overrides. At the `upstream` issuer
//! the rule matches the server's own upstream client. The rule is built
//! and checked when the scenario loads, so a typo in it is a load error
//! naming the file, never a FAIL charged to the server.
//!
//! ```toml
//! [[step]]
//! kind = "fault"
//! issuer = "upstream"
//! endpoint = "token"
//! grant_type = "refresh_token"
//! action = { kind = "refresh_barrier", parties = 5, timeout_ms = 1500 }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    pub endpoint: String,
    /// Only for this grant type.
    #[serde(default)]
    pub grant_type: Option<String>,
    /// Fire for the next N matching requests (absent: all).
    #[serde(default)]
    pub times: Option<u64>,
    /// The action: `{ kind = "refresh_barrier", parties = 5 }` and the other
    /// fault kinds of mock-provider.
    pub action: Map<String, Value>,
}

impl FaultStep {
    /// The provider's fault rule for this step, at the issuer named
    /// `issuer` (the role's issuer in the step's lane); at the upstream
    /// issuer it matches the server's own upstream client,
    /// `upstream_client`.
    pub fn rule(
        &self,
        issuer: &str,
        upstream_client: &str,
    ) -> Result<mock_provider::FaultRule, serde_json::Error> {
        let mut rule = self.action.clone();
        rule.insert("endpoint".into(), serde_json::json!(self.endpoint));
        rule.insert("issuer".into(), serde_json::json!(issuer));
        if let Some(g) = &self.grant_type {
            rule.insert("grant_type".into(), serde_json::json!(g));
        }
        if let Some(t) = self.times {
            rule.insert("times".into(), serde_json::json!(t));
        }
        if self.issuer == IssuerRole::Upstream {
            rule.insert("client_id".into(), serde_json::json!(upstream_client));
        }
        serde_json::from_value(Value::Object(rule))
    }

    pub(super) fn check(&self, _: &mut LoadContext) -> Result<(), CheckError> {
        self.rule(self.issuer.name(), "mcp-server-upstream")
            .map(|_| ())
            .map_err(|e| CheckError::step(format!("fault rule: {e}")))
    }

    pub(super) async fn run(&self, run: &mut ScenarioRun<'_>) -> Result<(), StepError> {
        let client = match self.issuer {
            IssuerRole::Upstream => run.upstream_client()?,
            _ => String::new(),
        };
        let rule = self
            .rule(run.ctx.issuer_name(self.issuer), &client)
            .map_err(|e| harness!("fault rule: {e}"))?;
        run.ctx
            .provider
            .admin()
            .add_fault(&rule)
            .await
            .map(|_| ())
            .map_err(|e| harness!("the provider refused the fault rule: {e}"))
    }
}
