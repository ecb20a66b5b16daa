//! Why a step did not pass, and whose problem that is: the server's (FAIL),
//! the suite's (ERROR) or a precondition the server never reached (not
//! meaningful). Steps build them with the `server!` and `harness!` macros of
//! [`crate::steps`].

use crate::evidence::RawExchange;

/// Whose problem a step's failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The server did not do what the step expects: FAIL.
    Server,
    /// The suite, the profile or the provider could not run the step
    /// (a fault rule refused, an admin call that failed): ERROR.
    Harness,
    /// A `precondition` step's expectation did not hold: the server never
    /// got into the state the rule is about, so the scenario proves
    /// nothing (not meaningful).
    Precondition,
}

/// Why a step did not pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// Whose problem it is.
    pub kind: FailureKind,
    /// What went wrong.
    pub message: String,
}

impl StepError {
    /// What the server did wrong, in words: a FAIL. Said explicitly (there
    /// is no `From<String>`), so a stray `?` can never charge the server.
    pub fn server(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Server,
            message: message.into(),
        }
    }

    /// The suite's own problem.
    pub fn harness(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Harness,
            message: message.into(),
        }
    }
}

/// An unmet expectation is the server's failure; an unreadable one the
/// suite's.
impl From<crate::expectation::Unmet> for StepError {
    fn from(unmet: crate::expectation::Unmet) -> Self {
        use crate::expectation::Unmet;
        match unmet {
            Unmet::Answer(message) => Self {
                kind: FailureKind::Server,
                message,
            },
            Unmet::Scenario(_) => Self::harness(unmet.to_string()),
        }
    }
}

/// Why a scenario did not pass.
#[derive(Debug, Clone)]
pub struct StepFailure {
    /// Which step (from 0).
    pub step: usize,
    /// Whose problem it is.
    pub kind: FailureKind,
    /// What went wrong.
    pub message: String,
    /// The exchanges of that step.
    pub evidence: Vec<RawExchange>,
}
