//! Scenarios as data: one TOML file per scenario (id, title, family,
//! spec references, severity, steps and expectations), loaded from the
//! built-in `scenarios/` directory or from users' directories. A malformed
//! file is refused with its path, line and field.
//!
//! ```toml
//! id = "token.expired"
//! title = "An expired access token is refused"
//! family = "token"
//! severity = "MUST"
//!
//! [[spec]]
//! source = "RFC 6750"
//! section = "3.1"
//! rule = "invalid_token: the access token provided is expired, revoked, malformed, or invalid"
//!
//! [[step]]
//! kind = "mint"
//! name = "expired"
//! ttl_secs = -300
//!
//! [[step]]
//! kind = "mcp"
//! call = "tools/list"
//! token = "expired"
//! expect = { status = 401, challenge = { scheme = "Bearer", error = "invalid_token" } }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::expectation::{ChallengeExpect, Expect, JsonRpcOutcome, StatusSpec};
pub use crate::provider_link::IssuerRole;
use crate::spec_version::SpecVersion;
use crate::steps::{CheckError, LoadContext};
pub use crate::steps::{
    ConcurrentStep, FaultStep, HttpStep, LeakScanStep, LeakScope, LedgerExpect, LedgerStep,
    MAX_WAIT_MILLIS, McpCall, McpStep, MintStep, OneOrMany, RevokeStep, RotateKeysStep,
    SessionIdsStep, StagedKey, Step, TokenStoreStep, WaitStep,
};

/// How much a rule binds the server: what the cited rule's own keyword
/// says (RFC 2119), never more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// MUST, MUST NOT, REQUIRED, SHALL: a failure fails the run.
    #[serde(rename = "MUST")]
    Must,
    /// SHOULD, RECOMMENDED: reported; fails the run only with `--strict`.
    #[serde(rename = "SHOULD")]
    Should,
    /// MAY, or a practice of the guide without a spec rule: reported,
    /// never fails the run.
    #[serde(rename = "BEST_PRACTICE")]
    BestPractice,
}

impl Severity {
    /// Every level, strongest first.
    pub const ALL: [Severity; 3] = [Self::Must, Self::Should, Self::BestPractice];

    /// The label people read.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
            Self::BestPractice => "BEST_PRACTICE",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule a scenario enforces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecRef {
    /// The document: `MCP 2025-11-25 Authorization`, `RFC 6750`...
    pub source: String,
    /// Section number or name.
    pub section: String,
    /// The rule's words.
    pub rule: String,
    /// The words of `rule` that bind the server and set the scenario's
    /// severity: a subject naming the server and an RFC 2119 keyword
    /// (`MCP servers MUST validate access tokens`). Absent on rules quoted
    /// for context only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
    /// A link to it.
    #[serde(default)]
    pub url: Option<String>,
}

/// A profile section a scenario needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// `[permission]`
    Permission,
    /// `[upstream]`
    Upstream,
    /// A spec version with sessions.
    Sessions,
    /// The suite starts the server (it reads its logs).
    ServerLogs,
    /// `[upstream] token_store = true`.
    TokenStore,
    /// `[upstream] tenants = true`.
    Tenants,
    /// `[auth] validation = "introspection"`: the server asks the issuer
    /// (RFC 7662) whether each token is active.
    Introspection,
    /// `[auth] validation = "jwt"` (the default): the server reads the
    /// token itself; with introspection the issuer decides what a token is.
    JwtValidation,
}

/// A scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Public id: `family.name`.
    pub id: String,
    /// One line for people.
    pub title: String,
    /// The family (the id's prefix).
    pub family: String,
    /// MUST or SHOULD.
    pub severity: Severity,
    /// A different severity under some spec versions.
    #[serde(default)]
    pub severity_by_version: BTreeMap<SpecVersion, Severity>,
    /// The spec versions it applies to (default: all).
    #[serde(default = "all_versions")]
    pub versions: Vec<SpecVersion>,
    /// Profile sections it needs.
    #[serde(default)]
    pub requires: Vec<Requirement>,
    /// A positive control: others are not meaningful if it fails.
    #[serde(default)]
    pub control: bool,
    /// Controls it needs (default for non-controls: `token.valid`).
    #[serde(default)]
    pub depends_on: Option<Vec<String>>,
    /// Restart the server before it.
    #[serde(default)]
    pub fresh_server: bool,
    /// It spends the server's JWKS refetch budget (a flood of unknown
    /// `kid`s) or changes the issuer's keys: it runs after every other
    /// scenario, so no other scenario's verdict depends on a rate limit it
    /// used up. Key rotations count without saying so.
    #[serde(default)]
    pub disturbs_keys: bool,
    /// The rules it enforces.
    pub spec: Vec<SpecRef>,
    /// What it does.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
    /// What to change when it fails.
    #[serde(default)]
    pub remedy: Option<String>,
    /// Where it was read from.
    #[serde(skip)]
    pub source: String,
}

fn all_versions() -> Vec<SpecVersion> {
    SpecVersion::ALL.to_vec()
}

/// The global positive control.
pub const VALID_TOKEN_CONTROL: &str = "token.valid";

impl Scenario {
    /// The severity under `version`.
    pub fn severity_for(&self, version: SpecVersion) -> Severity {
        self.severity_by_version
            .get(&version)
            .copied()
            .unwrap_or(self.severity)
    }

    /// Whether it runs with the scenarios that disturb the server's key
    /// cache, after all the others.
    pub fn runs_with_key_changes(&self) -> bool {
        self.disturbs_keys
            || self
                .steps
                .iter()
                .any(|st| matches!(st, Step::RotateKeys(_)))
    }

    /// What it touches: the widest reach of its steps, and its server's
    /// process and upstream grant when it restarts the server or needs
    /// the upstream (each is reset or reseeded before it runs).
    pub fn reach(&self) -> crate::steps::Reach {
        use crate::steps::Reach;
        let own_server = self.fresh_server
            || self.requires.iter().any(|r| {
                matches!(
                    r,
                    Requirement::Upstream | Requirement::TokenStore | Requirement::Tenants
                )
            });
        let floor = if own_server {
            Reach::Server
        } else {
            Reach::Lane
        };
        let floor = if self.family == "leak" {
            Reach::Shared
        } else if self.runs_with_key_changes() {
            Reach::Trusted
        } else {
            floor
        };
        self.steps.iter().map(Step::reach).fold(floor, Ord::max)
    }

    /// The controls it depends on.
    pub fn dependencies(&self) -> Vec<String> {
        match &self.depends_on {
            Some(d) => d.clone(),
            None if self.control => Vec::new(),
            None => vec![VALID_TOKEN_CONTROL.to_owned()],
        }
    }

    /// Parses one scenario file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let mut s: Scenario = toml::from_str(text).map_err(|e| ScenarioError {
            file: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        s.source = origin.to_owned();
        s.check().map_err(|problem| ScenarioError {
            file: origin.to_owned(),
            message: problem.to_string(),
        })?;
        Ok(s)
    }

    fn check(&self) -> Result<(), ScenarioProblem> {
        let valid_id = self.id.split_once('.').is_some_and(|(f, n)| {
            !f.is_empty()
                && !n.is_empty()
                && self
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        });
        if !valid_id {
            return Err(ScenarioProblem::Id(self.id.clone()));
        }
        if !self.id.starts_with(&format!("{}.", self.family)) {
            return Err(ScenarioProblem::Family {
                family: self.family.clone(),
                id: self.id.clone(),
            });
        }
        if self.spec.is_empty() {
            return Err(ScenarioProblem::NoRule);
        }
        if self.steps.is_empty() {
            return Err(ScenarioProblem::NoStep);
        }
        if self.versions.is_empty() {
            return Err(ScenarioProblem::NoVersion);
        }
        let mut load = LoadContext::default();
        for (index, step) in self.steps.iter().enumerate() {
            step.check(&mut load)
                .map_err(|source| ScenarioProblem::Step { index, source })?;
        }
        Ok(())
    }
}

/// What is wrong with a scenario that parsed, naming the field.
#[derive(Debug, thiserror::Error)]
enum ScenarioProblem {
    #[error("id: `{0}` must be `family.name` in lowercase letters, digits and _")]
    Id(String),
    #[error("family: `{family}` must be the prefix of id `{id}`")]
    Family { family: String, id: String },
    #[error("spec: a scenario must cite at least one rule")]
    NoRule,
    #[error("step: a scenario needs at least one step")]
    NoStep,
    #[error("versions: must name at least one spec version")]
    NoVersion,
    #[error("step[{index}]{source}")]
    Step { index: usize, source: CheckError },
}

/// A scenario file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scenarios: {file}: {message}")]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// What is wrong (with line and column for syntax errors).
    pub message: String,
}

/// The built-in scenarios, embedded at build time.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_scenarios.rs"));
}

/// Loads the built-in scenarios and every `*.toml` under `dirs`; ids must
/// be unique.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<Scenario>, ScenarioError> {
    let mut out = Vec::new();
    for (path, text) in embedded::EMBEDDED {
        out.push(Scenario::parse(text, &format!("scenarios/{path}"))?);
    }
    for dir in dirs {
        let mut files = Vec::new();
        collect(dir, &mut files).map_err(|e| ScenarioError {
            file: dir.display().to_string(),
            message: format!("cannot read directory: {e}"),
        })?;
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| ScenarioError {
                file: f.display().to_string(),
                message: e.to_string(),
            })?;
            out.push(Scenario::parse(&text, &f.display().to_string())?);
        }
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for s in &out {
        if let Some(first) = seen.insert(&s.id, &s.source) {
            return Err(ScenarioError {
                file: s.source.clone(),
                message: format!("id: `{}` is already defined in {first}", s.id),
            });
        }
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "token.expired"
title = "t"
family = "token"
severity = "MUST"
[[spec]]
source = "RFC 6750"
section = "3.1"
rule = "r"
[[step]]
kind = "mint"
name = "old"
ttl_secs = -60
[[step]]
kind = "mcp"
call = "tools/list"
token = "old"
expect = { status = 401, challenge = { scheme = "Bearer", error = "invalid_token" } }
"#;

    #[test]
    fn a_good_scenario_parses() {
        let s = Scenario::parse(GOOD, "x.toml").unwrap();
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.dependencies(), vec!["token.valid"]);
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = Scenario::parse(
            &GOOD.replace("token = \"old\"", "token = \"olde\""),
            "x.toml",
        )
        .unwrap_err();
        assert_eq!(e.file, "x.toml");
        assert!(e.message.contains("step[1].token"), "{e}");
        let e = Scenario::parse(&GOOD.replace("ttl_secs", "ttl_sec"), "x.toml").unwrap_err();
        assert!(e.message.contains("ttl_sec"), "{e}");
        let e = Scenario::parse(
            &GOOD.replace("kind = \"mint\"", "kind = \"mnit\""),
            "x.toml",
        )
        .unwrap_err();
        assert!(e.message.contains("mnit"), "{e}");
        let e = Scenario::parse(
            &GOOD.replace("family = \"token\"", "family = \"tokens\""),
            "x.toml",
        )
        .unwrap_err();
        assert!(e.message.contains("family"), "{e}");
    }

    #[test]
    fn a_revoke_step_needs_a_minted_token() {
        let revoke = |token: &str| {
            GOOD.replace(
                "[[step]]\nkind = \"mcp\"",
                &format!("[[step]]\nkind = \"revoke\"\ntoken = \"{token}\"\n[[step]]\nkind = \"mcp\"\nwithin_introspection_cache = true"),
            )
        };
        let s = Scenario::parse(&revoke("old"), "x.toml").unwrap();
        assert!(
            matches!(&s.steps[1], Step::Revoke(r) if r.token == "old" && r.issuer == IssuerRole::Trusted)
        );
        assert!(matches!(&s.steps[2], Step::Mcp(m) if m.within_introspection_cache));
        let e = Scenario::parse(&revoke("nope"), "x.toml").unwrap_err();
        assert!(e.message.contains("step[1].token: `nope`"), "{e}");
    }

    #[test]
    fn a_wait_step_is_bounded() {
        let wait = |millis: u64| {
            GOOD.replace(
                "[[step]]\nkind = \"mcp\"",
                &format!("[[step]]\nkind = \"wait\"\nmillis = {millis}\n[[step]]\nkind = \"mcp\""),
            )
        };
        let s = Scenario::parse(&wait(1200), "x.toml").unwrap();
        assert!(matches!(&s.steps[1], Step::Wait(w) if w.millis == 1200));
        for bad in [0, MAX_WAIT_MILLIS + 1] {
            let e = Scenario::parse(&wait(bad), "x.toml").unwrap_err();
            assert!(e.message.contains("step[1].millis"), "{e}");
        }
    }

    #[test]
    fn status_classes() {
        assert!(StatusSpec::Class("4xx".into()).accepts(403));
        assert!(!StatusSpec::Class("4xx".into()).accepts(500));
        assert!(StatusSpec::Codes(vec![400, 401]).accepts(401));
    }

    #[test]
    fn every_built_in_scenario_loads() {
        let all = load(&[]).unwrap();
        assert!(all.len() >= 30, "{}", all.len());
        assert!(all.iter().any(|s| s.id == VALID_TOKEN_CONTROL && s.control));
    }
}
