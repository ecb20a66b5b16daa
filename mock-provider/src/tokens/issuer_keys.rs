//! An issuer's keys over time: made at start, rotated, put back by a reset.
//!
//! Generating an RSA-2048 key takes 50-100 ms, ten times the rest of a
//! start, so a start does not wait for it: the provider listens, writes its
//! ready line and serves discovery, authorization and registration at once,
//! while keys are generated on a blocking thread. Whatever signs or
//! publishes a key (the JWKS, the token endpoint, introspection,
//! revocation, the upstream API, the admin API's mint, keys and rotate)
//! waits for them through [`IssuerKeys::current`]. Nothing can see a
//! missing or a wrong key: there is no key to read before the set exists.
//! Keys read from a `key_file` are loaded before the start returns, so a
//! bad file is a start error, as before.

use std::sync::Arc;

use tokio::sync::watch;

use crate::protocol::oauth_error::{ErrorCode, OAuthError};
use crate::tokens::key_set::KeySet;
use crate::tokens::signing_key::KeyError;

/// The issuer's signing keys could not be made (key generation failed).
/// Never a client's fault: requests that need a key answer 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the issuer's signing keys could not be generated: {0}")]
pub struct KeysUnavailable(String);

impl From<KeysUnavailable> for OAuthError {
    fn from(e: KeysUnavailable) -> Self {
        OAuthError::new(ErrorCode::ServerError, e.to_string())
    }
}

#[derive(Debug, Clone)]
enum State {
    /// Being generated.
    Pending,
    Ready {
        current: Arc<KeySet>,
        /// What a reset goes back to.
        initial: Arc<KeySet>,
    },
    Failed(KeysUnavailable),
}

/// The keys of one issuer, perhaps still being generated.
#[derive(Debug)]
pub(crate) struct IssuerKeys {
    state: watch::Sender<State>,
}

impl IssuerKeys {
    /// Keys that are there from the start.
    pub(crate) fn ready(keys: KeySet) -> Self {
        let keys = Arc::new(keys);
        Self {
            state: watch::Sender::new(State::Ready {
                current: keys.clone(),
                initial: keys,
            }),
        }
    }

    /// Keys still to come: hand them over with [`IssuerKeys::settle`].
    pub(crate) fn pending() -> Self {
        Self {
            state: watch::Sender::new(State::Pending),
        }
    }

    /// The generated keys (or why there are none) arrive; whoever waits
    /// in [`IssuerKeys::current`] goes on.
    pub(crate) fn settle(&self, keys: Result<KeySet, KeyError>) {
        let next = match keys {
            Ok(keys) => {
                let keys = Arc::new(keys);
                State::Ready {
                    current: keys.clone(),
                    initial: keys,
                }
            }
            Err(e) => State::Failed(KeysUnavailable(e.to_string())),
        };
        self.state.send_replace(next);
    }

    /// The current keys, once they exist.
    pub(crate) async fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        if let Some(done) = Self::settled(&self.state.borrow()) {
            return done;
        }
        let mut rx = self.state.subscribe();
        // The sender lives in `self`, so the channel cannot close while
        // this borrow of `self` waits.
        let waited = rx.wait_for(|s| !matches!(s, State::Pending)).await;
        match waited {
            // `wait_for` hands back only a state its predicate accepted.
            Ok(state) => Self::settled(&state)
                .unwrap_or_else(|| Err(KeysUnavailable("the keys were still pending".into()))),
            Err(_) => Err(KeysUnavailable("the issuer was shut down".into())),
        }
    }

    /// The current keys if they exist now (pages that show, not sign).
    pub(crate) fn now(&self) -> Option<Arc<KeySet>> {
        Self::settled(&self.state.borrow()).and_then(Result::ok)
    }

    fn settled(state: &State) -> Option<Result<Arc<KeySet>, KeysUnavailable>> {
        match state {
            State::Pending => None,
            State::Ready { current, .. } => Some(Ok(current.clone())),
            State::Failed(e) => Some(Err(e.clone())),
        }
    }

    /// Replaces the current keys with what `next` makes of them, once they
    /// exist; returns the new set.
    pub(crate) async fn replace(
        &self,
        next: impl FnOnce(&KeySet) -> KeySet,
    ) -> Result<Arc<KeySet>, KeysUnavailable> {
        self.current().await?;
        let mut out = None;
        self.state.send_modify(|s| {
            if let State::Ready { current, .. } = s {
                *current = Arc::new(next(current));
                out = Some(current.clone());
            }
        });
        out.ok_or_else(|| KeysUnavailable("the keys changed state during a rotation".into()))
    }

    /// Back to the keys made at start. Keys still being generated are
    /// already those.
    pub(crate) fn reset(&self) {
        self.state.send_if_modified(|s| match s {
            State::Ready { current, initial } if !Arc::ptr_eq(current, initial) => {
                *current = initial.clone();
                true
            }
            _ => false,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::tokens::signing_key::{SigningAlgorithm, SigningKey};

    fn set() -> KeySet {
        KeySet::new(SigningKey::generate(SigningAlgorithm::Es256).unwrap())
    }

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[tokio::test]
    async fn a_request_for_pending_keys_waits_and_gets_the_generated_set() {
        let keys = IssuerKeys::pending();
        assert!(keys.now().is_none());
        let mut waiting = pin!(keys.current());
        assert!(
            poll_once(waiting.as_mut()).is_pending(),
            "no key before the set exists"
        );
        let made = set();
        let kid = made.active().kid().to_owned();
        keys.settle(Ok(made));
        match poll_once(waiting.as_mut()) {
            Poll::Ready(Ok(got)) => assert_eq!(got.active().kid(), kid),
            other => panic!("expected the generated keys, got {other:?}"),
        }
        assert_eq!(keys.now().unwrap().active().kid(), kid);
    }

    #[tokio::test]
    async fn a_failed_generation_is_an_error_not_a_hang() {
        let keys = IssuerKeys::pending();
        let mut waiting = pin!(keys.current());
        assert!(poll_once(waiting.as_mut()).is_pending());
        keys.settle(Err(KeyError::Generate));
        match poll_once(waiting.as_mut()) {
            Poll::Ready(Err(e)) => assert!(e.to_string().contains("key generation failed"), "{e}"),
            other => panic!("expected an error, got {other:?}"),
        }
        let oauth: OAuthError = keys.current().await.unwrap_err().into();
        assert_eq!(oauth.status(), 500);
    }

    #[tokio::test]
    async fn a_rotation_waits_for_the_keys_and_a_reset_goes_back() {
        let keys = IssuerKeys::pending();
        let first = set();
        let first_kid = first.active().kid().to_owned();
        let next = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let next_kid = next.kid().to_owned();
        let mut rotating = pin!(keys.replace(|k| k.rotated(next, None, 0)));
        assert!(poll_once(rotating.as_mut()).is_pending());
        keys.settle(Ok(first));
        match poll_once(rotating.as_mut()) {
            Poll::Ready(Ok(got)) => assert_eq!(got.active().kid(), next_kid),
            other => panic!("expected the rotated set, got {other:?}"),
        }
        keys.reset();
        assert_eq!(keys.current().await.unwrap().active().kid(), first_kid);
    }
}
