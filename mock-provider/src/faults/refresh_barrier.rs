//! The refresh barrier: holds refresh requests of one client until a set
//! number of them are in flight, then releases them together, so a client
//! that refreshes concurrently collides every time instead of sometimes. A
//! request that waits longer than the timeout goes on alone.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

/// What happened at the barrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierOutcome {
    /// Released with the others; the number released together.
    Released(usize),
    /// Nobody else came in time.
    TimedOut,
}

#[derive(Debug)]
struct Gate {
    waiting: usize,
    generation: u64,
    released: watch::Sender<u64>,
}

/// Barriers by (rule id, issuer, client).
#[derive(Debug, Default)]
pub struct RefreshBarriers {
    gates: Mutex<HashMap<(u64, String, String), Gate>>,
}

impl RefreshBarriers {
    /// Waits until `parties` requests with the same key are here, or
    /// `timeout` passes.
    pub async fn wait(
        &self,
        rule: u64,
        issuer: &str,
        client_id: &str,
        parties: usize,
        timeout: Duration,
    ) -> BarrierOutcome {
        let key = (rule, issuer.to_owned(), client_id.to_owned());
        let (mut rx, my_generation) = {
            let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            let gate = gates.entry(key.clone()).or_insert_with(|| Gate {
                waiting: 0,
                generation: 0,
                released: watch::channel(0).0,
            });
            gate.waiting += 1;
            if gate.waiting >= parties {
                let n = gate.waiting;
                gate.waiting = 0;
                gate.generation += 1;
                gate.released.send_replace(gate.generation);
                return BarrierOutcome::Released(n);
            }
            (gate.released.subscribe(), gate.generation)
        };
        let released = tokio::time::timeout(timeout, async {
            while *rx.borrow_and_update() == my_generation {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        match released {
            Ok(()) => BarrierOutcome::Released(parties),
            Err(_) => {
                let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
                match gates.get_mut(&key) {
                    // Released in the meantime: count as released.
                    Some(g) if g.generation != my_generation => BarrierOutcome::Released(parties),
                    Some(g) => {
                        g.waiting = g.waiting.saturating_sub(1);
                        BarrierOutcome::TimedOut
                    }
                    None => BarrierOutcome::TimedOut,
                }
            }
        }
    }

    /// Forgets every gate (waiters time out on their own).
    pub fn clear(&self) {
        self.gates.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn releases_k_together_and_times_out_alone() {
        let b = Arc::new(RefreshBarriers::default());
        let t = Duration::from_secs(5);
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let b = b.clone();
                tokio::spawn(async move { b.wait(1, "i", "c", 3, t).await })
            })
            .collect();
        for h in handles {
            assert!(matches!(h.await.unwrap(), BarrierOutcome::Released(_)));
        }
        let alone = b.wait(1, "i", "c", 3, Duration::from_millis(50)).await;
        assert_eq!(alone, BarrierOutcome::TimedOut);
        // A timed-out waiter does not count towards the next batch.
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                tokio::spawn(
                    async move { b.wait(1, "i", "c", 3, Duration::from_millis(100)).await },
                )
            })
            .collect();
        for h in handles {
            assert_eq!(h.await.unwrap(), BarrierOutcome::TimedOut);
        }
    }
}
