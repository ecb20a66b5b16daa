//! The concurrent callers of one cycle, moving in lockstep: every caller
//! asks the manager for a token, then every caller calls the upstream API
//! with it, then the refused ones ask for a replacement, then those call
//! the API again. Each step runs on its own task per caller (truly
//! concurrent on the harness's runtime) and is bounded by the call
//! timeout. Lockstep makes collisions certain (a racy manager refreshes
//! in the same step, held together by the provider's refresh barrier) and
//! the outcome of a case reproducible, so a counterexample shrinks and
//! reads the same every time. Staggered callers ([`Pace::Staggered`]) run
//! the same flow each on its own, starting at spread-out times, for the
//! interleavings lockstep never produces.
//!
//! [`Pace::Staggered`]: crate::schedule::Pace::Staggered

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mock_provider::{Fingerprint, TokenHash};
use url::Url;

use crate::token_source::TokenSource;

/// A step of the callers' flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// `access_token()`.
    AccessToken,
    /// The first upstream API call.
    FirstApiCall,
    /// `replace_rejected()` after a 401.
    ReplaceRejected,
    /// The upstream API call with the replacement.
    SecondApiCall,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AccessToken => "access_token()",
            Self::FirstApiCall => "the first API call",
            Self::ReplaceRejected => "replace_rejected()",
            Self::SecondApiCall => "the API call with the replacement",
        })
    }
}

/// How a caller's flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The upstream API accepted its token (200).
    Accepted {
        /// The token's fingerprint.
        token: Fingerprint,
        /// The API path of the accepted call (unique per caller and try),
        /// to find it in the ledger.
        path: String,
    },
    /// The manager answered an error.
    ManagerError {
        /// Where.
        stage: Stage,
        /// The error's `Display`.
        message: String,
    },
    /// The manager did not answer in time.
    TimedOut {
        /// Where.
        stage: Stage,
        /// The timeout.
        after: Duration,
    },
    /// The manager panicked.
    Panicked {
        /// Where.
        stage: Stage,
    },
    /// The upstream API refused the token (a 401 for the replacement, or
    /// another status).
    Refused {
        /// Which call.
        stage: Stage,
        /// The status.
        status: u16,
    },
    /// The upstream API did not answer.
    Unreachable {
        /// Which call.
        stage: Stage,
        /// Why.
        message: String,
    },
}

impl Ending {
    /// Whether the API accepted the caller's token.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted { .. })
    }

    /// Whether the manager answered an error.
    pub fn is_manager_error(&self) -> bool {
        matches!(self, Self::ManagerError { .. })
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accepted { token, .. } => write!(f, "the upstream API accepted {token}"),
            Self::ManagerError { stage, message } => write!(f, "{stage} failed: {message}"),
            Self::TimedOut { stage, after } => {
                write!(f, "{stage} did not answer within {}", human(*after))
            }
            Self::Panicked { stage } => write!(f, "{stage} panicked"),
            Self::Refused { stage, status } => {
                write!(f, "the upstream API answered {status} to {stage}")
            }
            Self::Unreachable { stage, message } => {
                write!(f, "the upstream API did not answer {stage}: {message}")
            }
        }
    }
}

/// `1.5 s`, `300 ms`.
pub(crate) fn human(d: Duration) -> String {
    if d.as_millis() >= 1000 && d.as_millis().is_multiple_of(100) {
        let tenths = d.as_millis() / 100;
        if tenths.is_multiple_of(10) {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[derive(Debug, Clone)]
enum CallerState {
    Start,
    HasToken { token: String, second: bool },
    Rejected { token: String },
    Done(Ending),
}

/// What the callers need besides the manager.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    pub http: reqwest::Client,
    pub api_url: Url,
    pub call_timeout: Duration,
}

/// The callers of one step of one cycle.
pub(crate) struct Lockstep<S> {
    source: Arc<S>,
    upstream: Upstream,
    label: String,
    callers: Vec<CallerState>,
}

impl<S: TokenSource> Lockstep<S> {
    /// `callers` callers at their start; `label` names the cycle in API
    /// paths (`/race/{label}/caller{i}/try{n}`).
    pub fn new(source: Arc<S>, upstream: Upstream, label: String, callers: usize) -> Self {
        Self {
            source,
            upstream,
            label,
            callers: vec![CallerState::Start; callers],
        }
    }

    /// The stage every caller still going is at; `None` when all are done.
    fn next_stage(&self) -> Option<Stage> {
        self.callers.iter().find_map(|c| match c {
            CallerState::Start => Some(Stage::AccessToken),
            CallerState::HasToken { second: false, .. } => Some(Stage::FirstApiCall),
            CallerState::Rejected { .. } => Some(Stage::ReplaceRejected),
            CallerState::HasToken { second: true, .. } => Some(Stage::SecondApiCall),
            CallerState::Done(_) => None,
        })
    }

    /// Runs the next step for every caller at it, all at once; returns the
    /// step, or `None` when every caller is done.
    pub async fn step(&mut self) -> Option<Stage> {
        let stage = self.next_stage()?;
        let mut tasks = Vec::new();
        for (i, state) in self.callers.iter().enumerate() {
            if matches!(state, CallerState::Done(_)) {
                continue;
            }
            let source = self.source.clone();
            let upstream = self.upstream.clone();
            let path = format!(
                "/race/{}/caller{}/try{}",
                self.label,
                i + 1,
                if stage == Stage::SecondApiCall { 2 } else { 1 }
            );
            let state = state.clone();
            let task = tokio::spawn(async move { advance(source, upstream, state, path).await });
            tasks.push((i, task));
        }
        for (i, task) in tasks {
            self.callers[i] = match task.await {
                Ok(next) => next,
                Err(e) if e.is_panic() => CallerState::Done(Ending::Panicked { stage }),
                Err(_) => CallerState::Done(Ending::ManagerError {
                    stage,
                    message: "the caller's task was cancelled".to_owned(),
                }),
            };
        }
        Some(stage)
    }

    /// Runs every caller's whole flow on its own task, caller `i` of `n`
    /// starting `i * spread / n` after the first.
    pub async fn run_staggered(&mut self, spread: Duration) {
        let n = self.callers.len() as u32;
        let mut tasks = Vec::new();
        for (i, state) in self.callers.iter().enumerate() {
            let source = self.source.clone();
            let upstream = self.upstream.clone();
            let label = self.label.clone();
            let mut state = state.clone();
            let delay = spread * i as u32 / n.max(1);
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                // At most four steps: token, API, replacement, API.
                for _ in 0..4 {
                    let second = matches!(state, CallerState::HasToken { second: true, .. });
                    if matches!(state, CallerState::Done(_)) {
                        break;
                    }
                    let path = format!(
                        "/race/{label}/caller{}/try{}",
                        i + 1,
                        if second { 2 } else { 1 }
                    );
                    state = advance(source.clone(), upstream.clone(), state, path).await;
                }
                state
            }));
        }
        for (i, task) in tasks.into_iter().enumerate() {
            let stage = self.stage_of(i);
            self.callers[i] = match task.await {
                Ok(end) => end,
                Err(e) if e.is_panic() => CallerState::Done(Ending::Panicked { stage }),
                Err(_) => CallerState::Done(Ending::ManagerError {
                    stage,
                    message: "the caller's task was cancelled".to_owned(),
                }),
            };
        }
    }

    /// The stage caller `i` is at (before a staggered run: the start).
    fn stage_of(&self, i: usize) -> Stage {
        match &self.callers[i] {
            CallerState::HasToken { second: false, .. } => Stage::FirstApiCall,
            CallerState::Rejected { .. } => Stage::ReplaceRejected,
            CallerState::HasToken { second: true, .. } => Stage::SecondApiCall,
            CallerState::Start | CallerState::Done(_) => Stage::AccessToken,
        }
    }

    /// How every caller ended (callers not done yet are reported as not
    /// having got past where they are).
    pub fn endings(&self) -> Vec<Option<Ending>> {
        self.callers
            .iter()
            .map(|c| match c {
                CallerState::Done(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }
}

/// One step of one caller.
async fn advance<S: TokenSource>(
    source: Arc<S>,
    upstream: Upstream,
    state: CallerState,
    path: String,
) -> CallerState {
    let timeout = upstream.call_timeout;
    let ask =
        |stage: Stage, answer: Result<Result<String, S::Error>, tokio::time::error::Elapsed>| {
            match answer {
                Ok(Ok(token)) => Ok(token),
                Ok(Err(e)) => Err(CallerState::Done(Ending::ManagerError {
                    stage,
                    message: e.to_string(),
                })),
                Err(_elapsed) => Err(CallerState::Done(Ending::TimedOut {
                    stage,
                    after: timeout,
                })),
            }
        };
    match state {
        CallerState::Start => {
            let answer = tokio::time::timeout(timeout, source.access_token()).await;
            match ask(Stage::AccessToken, answer) {
                Ok(token) => CallerState::HasToken {
                    token,
                    second: false,
                },
                Err(done) => done,
            }
        }
        CallerState::Rejected { token } => {
            let answer = tokio::time::timeout(timeout, source.replace_rejected(&token)).await;
            match ask(Stage::ReplaceRejected, answer) {
                Ok(token) => CallerState::HasToken {
                    token,
                    second: true,
                },
                Err(done) => done,
            }
        }
        CallerState::HasToken { token, second } => {
            let stage = if second {
                Stage::SecondApiCall
            } else {
                Stage::FirstApiCall
            };
            let url = format!("{}{path}", upstream.api_url.as_str().trim_end_matches('/'));
            let sent = upstream.http.get(url).bearer_auth(&token).send();
            match tokio::time::timeout(timeout, sent).await {
                Ok(Ok(response)) => match response.status().as_u16() {
                    200 => CallerState::Done(Ending::Accepted {
                        token: TokenHash::of(&token).fingerprint(),
                        path,
                    }),
                    401 if !second => CallerState::Rejected { token },
                    status => CallerState::Done(Ending::Refused { stage, status }),
                },
                Ok(Err(e)) => CallerState::Done(Ending::Unreachable {
                    stage,
                    message: e.without_url().to_string(),
                }),
                Err(_) => CallerState::Done(Ending::Unreachable {
                    stage,
                    message: format!("no answer within {}", human(timeout)),
                }),
            }
        }
        done @ CallerState::Done(_) => done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_millis(300)), "300 ms");
        assert_eq!(human(Duration::from_secs(10)), "10 s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human(Duration::from_millis(1234)), "1234 ms");
    }
}
