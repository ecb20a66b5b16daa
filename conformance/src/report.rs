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
    /// Could not be judged because of the suite, the profile or the
    /// provider (a fault rule refused, an admin call or a reset that
    /// failed): never charged to the server.
    Error,
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
            Self::Error => "ERROR",
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
    /// Failed best-practice scenarios (MAY, or the guide's practice).
    #[serde(default)]
    pub failed_best_practice: usize,
    /// Expected failures.
    pub expected_failures: usize,
    /// Skipped.
    pub skipped: usize,
    /// Not meaningful.
    pub not_meaningful: usize,
    /// Not judged because of the suite, the profile or the provider.
    #[serde(default)]
    pub errors: usize,
}

impl Summary {
    /// Failures at any level.
    pub fn failed(&self) -> usize {
        self.failed_must + self.failed_should + self.failed_best_practice
    }
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
    /// `--strict`: SHOULD failures fail the run too.
    #[serde(default)]
    pub strict: bool,
    /// How the spec version was chosen (asked for, or negotiated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_version_source: Option<String>,
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
                (Verdict::Fail, Severity::BestPractice) => s.failed_best_practice += 1,
                (Verdict::ExpectedFailure, _) => s.expected_failures += 1,
                (Verdict::Skipped, _) => s.skipped += 1,
                (Verdict::NotMeaningful, _) => s.not_meaningful += 1,
                (Verdict::Error, _) => s.errors += 1,
            }
        }
        s
    }

    /// 0 when every MUST passed (expected failures aside) and no MUST
    /// scenario was left not meaningful; 1 otherwise. With `strict`,
    /// SHOULD scenarios count like MUST ones. 2 when nothing failed but
    /// some scenario could not be judged (an ERROR: the suite's problem,
    /// not the server's).
    pub fn exit_code_with(&self, strict: bool) -> i32 {
        let counts = |sev: Severity| sev == Severity::Must || (strict && sev == Severity::Should);
        let failed = self.results.iter().any(|r| {
            matches!(r.verdict, Verdict::Fail | Verdict::NotMeaningful) && counts(r.severity)
        });
        if failed {
            1
        } else if self.results.iter().any(|r| r.verdict == Verdict::Error) {
            2
        } else {
            0
        }
    }

    /// The exit code under the run's own `--strict` setting.
    pub fn exit_code(&self) -> i32 {
        self.exit_code_with(self.strict)
    }

    /// One line for people: what the exit code means.
    pub fn result_line(&self) -> String {
        let bar = if self.strict {
            "every MUST and SHOULD passed"
        } else {
            "every MUST passed"
        };
        match self.exit_code() {
            0 => format!("RESULT: conformant ({bar})"),
            1 => "RESULT: not conformant".to_owned(),
            _ => {
                let n = self.summary().errors;
                format!(
                    "RESULT: incomplete: {n} scenario{} could not be judged because of the suite, the profile or the provider (ERROR), and nothing failed",
                    if n == 1 { "" } else { "s" }
                )
            }
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
