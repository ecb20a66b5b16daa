//! The outcome of a run: a verdict per scenario with its evidence, the
//! summary, and the exit code rule (0 only when every MUST passes, minus
//! expected failures).

use serde::{Deserialize, Serialize};

use crate::evidence::Exchange;
use crate::scenario::{Severity, SpecRef};
use crate::spec_version::SpecVersion;

/// What became of one scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The server did what the rule says.
    Pass,
    /// It did not.
    Fail,
    /// It did not, and the expected-failures file says so.
    ExpectedFailure,
    /// Not run: the profile or spec version does not call for it.
    Skipped,
    /// Not run: a positive control it depends on failed, so a refusal
    /// would prove nothing.
    NotMeaningful,
}

impl Verdict {
    /// Upper-case label for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::ExpectedFailure => "XFAIL",
            Self::Skipped => "SKIP",
            Self::NotMeaningful => "N/M",
        }
    }
}

/// One scenario's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its family.
    pub family: String,
    /// Severity under the run's spec version.
    pub severity: Severity,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it failed or was not run.
    pub message: Option<String>,
    /// What to change.
    pub remedy: Option<String>,
    /// The rules it enforces.
    pub spec: Vec<SpecRef>,
    /// The exchanges of the failing step (redacted).
    pub evidence: Vec<Exchange>,
    /// How long it took.
    pub duration_ms: u64,
}

/// Counts per verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Passed.
    pub passed: usize,
    /// Failed MUST scenarios.
    pub failed_must: usize,
    /// Failed SHOULD scenarios.
    pub failed_should: usize,
    /// Expected failures.
    pub expected_failures: usize,
    /// Skipped.
    pub skipped: usize,
    /// Not meaningful.
    pub not_meaningful: usize,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// `mcp-auth-conformance` version.
    pub tool_version: String,
    /// The spec version run against.
    pub spec_version: SpecVersion,
    /// The server's MCP endpoint.
    pub target: String,
    /// Results, in run order.
    pub results: Vec<ScenarioResult>,
    /// Expected-failure entries that did not fail (or do not exist).
    pub stale_expected_failures: Vec<String>,
    /// Wall time of the run.
    pub duration_ms: u64,
}

impl RunReport {
    /// Counts per verdict.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for r in &self.results {
            match (r.verdict, r.severity) {
                (Verdict::Pass, _) => s.passed += 1,
                (Verdict::Fail, Severity::Must) => s.failed_must += 1,
                (Verdict::Fail, Severity::Should) => s.failed_should += 1,
                (Verdict::ExpectedFailure, _) => s.expected_failures += 1,
                (Verdict::Skipped, _) => s.skipped += 1,
                (Verdict::NotMeaningful, _) => s.not_meaningful += 1,
            }
        }
        s
    }

    /// 0 when every MUST passed (expected failures aside) and no MUST
    /// scenario was left not meaningful; 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        let s = self.summary();
        let must_unproven = self
            .results
            .iter()
            .any(|r| r.verdict == Verdict::NotMeaningful && r.severity == Severity::Must);
        if s.failed_must > 0 || must_unproven {
            1
        } else {
            0
        }
    }

    /// The ids of the failed scenarios (any severity).
    pub fn failed_ids(&self) -> Vec<&str> {
        self.results
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .map(|r| r.id.as_str())
            .collect()
    }
}
