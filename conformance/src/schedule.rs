//! Which scenarios of a plan run side by side: the plan's ranks, and the
//! batches the runner works through, from what each scenario touches
//! ([`Reach`]). One job: every scenario alone, in plan order.

use std::collections::BTreeSet;

use mock_provider::FaultAction;

use crate::scenario::Scenario;
use crate::steps::{Reach, Step};

/// Where a scenario goes in the plan. Key changes last: a server's key
/// cache may need a refetch cooldown (or a rate limit's refill) to see the
/// issuer's keys again; the flood that spends the budget first, then
/// rotations. Leak scans before them, after everything else.
pub(crate) fn rank(s: &Scenario) -> u8 {
    if s.id == crate::scenario::VALID_TOKEN_CONTROL {
        0
    } else if s.control {
        1
    } else if s.runs_with_key_changes() {
        if s.disturbs_keys { 4 } else { 5 }
    } else if s.family == "leak" {
        3
    } else {
        2
    }
}

/// A group of the plan run together (indices into the plan): one
/// scenario alone, or several in lanes side by side, and beside them, one
/// after another in the key lane, the key-changing scenarios of the end of
/// the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Batch {
    Alone(usize),
    Together { lanes: Vec<usize>, keys: Vec<usize> },
}

/// The plan cut into batches. With one job every scenario runs alone, in
/// plan order. With more, within each rank the scenarios that may share
/// the provider (their [`Reach`](crate::steps::Reach) is their lane's,
/// or their server's when every lane starts its own) and whose controls
/// ran in an earlier rank go together first; the rest follow alone, in
/// plan order. With a key lane, the key-changing scenarios (ranks 4 and 5,
/// which touch the trusted issuer and the server's JWKS cache) run in it
/// during the main rank's lanes, one after another in plan order; the key
/// lane's books join after the leak scans, as in the serial order.
pub(crate) fn batches(
    planned: &[&Scenario],
    jobs: usize,
    own_servers: bool,
    key_lane: bool,
) -> Vec<Batch> {
    if jobs <= 1 {
        return (0..planned.len()).map(Batch::Alone).collect();
    }
    // The key chain: from the first key-changing scenario on, as long as
    // each one needs no more than its own trusted issuer and depends only
    // on controls or on the chain.
    let mut keys: Vec<usize> = Vec::new();
    let has_main_rank = planned.iter().any(|s| rank(s) == 2);
    if key_lane && own_servers && has_main_rank {
        let mut chain: BTreeSet<&str> = BTreeSet::new();
        for (j, s) in planned.iter().enumerate().filter(|(_, s)| rank(s) >= 4) {
            let deps_ok = s.dependencies().iter().all(|d| {
                chain.contains(d.as_str()) || planned.iter().any(|p| p.id == *d && rank(p) <= 1)
            });
            if s.reach() > Reach::Trusted || !deps_ok {
                break;
            }
            chain.insert(s.id.as_str());
            keys.push(j);
        }
    }
    let in_key_lane: BTreeSet<usize> = keys.iter().copied().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < planned.len() {
        let r = rank(planned[i]);
        let end = (i..planned.len())
            .find(|j| rank(planned[*j]) != r)
            .unwrap_or(planned.len());
        let in_rank: BTreeSet<&str> = planned[i..end].iter().map(|s| s.id.as_str()).collect();
        let (together, alone): (Vec<usize>, Vec<usize>) = (i..end)
            .filter(|j| !in_key_lane.contains(j))
            .partition(|j| {
                let s = planned[*j];
                let reach_ok = match s.reach() {
                    Reach::Lane => true,
                    Reach::Server => own_servers,
                    Reach::Trusted | Reach::Shared => false,
                };
                reach_ok
                    && !s
                        .dependencies()
                        .iter()
                        .any(|d| in_rank.contains(d.as_str()))
            });
        // The longest waits start first, so the lanes finish together
        // (longest processing time first); ties keep plan order.
        let mut together = together;
        together.sort_by_key(|j| std::cmp::Reverse(designed_wait_ms(planned[*j])));
        // The key chain goes beside the main rank's lanes.
        let chain = if r == 2 {
            std::mem::take(&mut keys)
        } else {
            Vec::new()
        };
        match (together.len(), chain.len()) {
            (0, 0) => {}
            (1, 0) => out.push(Batch::Alone(together[0])),
            _ => out.push(Batch::Together {
                lanes: together,
                keys: chain,
            }),
        }
        out.extend(alone.into_iter().map(Batch::Alone));
        i = end;
    }
    out
}

/// How long a scenario waits by design: its `wait` steps and the timeouts
/// of its refresh barriers (a correct server waits them out).
fn designed_wait_ms(s: &Scenario) -> u64 {
    s.steps
        .iter()
        .map(|st| match st {
            Step::Wait(w) => w.millis,
            Step::Fault(f) => match f.action {
                FaultAction::RefreshBarrier { timeout_millis, .. } => timeout_millis,
                _ => 0,
            },
            _ => 0,
        })
        .sum()
}
