//! What one generated case does, and how cases are generated: the
//! [`Schedule`] (concurrent callers, expiry cycles, the refresh barrier,
//! a token endpoint fault and the callers' [`Pace`]) and the proptest strategy
//! [`ScheduleStrategy`] (also [`schedules()`] and `any::<Schedule>()`).
//!
//! Shrinking leads to small counterexamples: fewer callers, fewer cycles,
//! no fault before any fault, lockstep before staggered callers, the
//! barrier's smallest size and shortest timeout, and a fault as early and
//! as mild as still fails.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use proptest::arbitrary::Arbitrary;
use proptest::strategy::{BoxedStrategy, Just, NewTree, Strategy, Union, ValueTree};
use proptest::test_runner::TestRunner;

/// The most concurrent callers a schedule may have.
pub const MAX_CALLERS: usize = 64;
/// The most expiry cycles a schedule may have.
pub const MAX_CYCLES: usize = 8;
/// The widest spread of staggered callers' starts.
pub const MAX_STAGGER: Duration = Duration::from_secs(2);

/// How the callers of a cycle move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Pace {
    /// All callers take each step together (ask for a token, call the API,
    /// ask for a replacement, call again): collisions are certain and a
    /// counterexample reads the same every time.
    #[default]
    Lockstep,
    /// Caller `i` of `n` starts its whole flow `i * spread / n` after the
    /// first and then runs on its own: some callers arrive while a refresh
    /// is in flight, some after it, some after a 401 of another caller.
    Staggered {
        /// The spread of the starts.
        spread: Duration,
    },
}

impl fmt::Display for Pace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lockstep => f.write_str("in lockstep"),
            Self::Staggered { spread } => {
                write!(f, "staggered over {} ms", spread.as_millis())
            }
        }
    }
}

/// The mock provider's refresh barrier: refresh requests of the client
/// wait until `parties` of them are in flight, then go together, so a
/// manager that refreshes concurrently collides every time. A request
/// that waits `timeout` goes on alone: a correct manager's single refresh
/// is slowed by that much, no more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefreshBarrier {
    /// How many refresh requests to gather (at least 2).
    pub parties: usize,
    /// How long a request waits for the others.
    pub timeout: Duration,
}

/// A fault at the token endpoint, on the manager's refresh requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TokenFault {
    /// None: the provider behaves.
    #[default]
    None,
    /// Every refresh request is answered this much later.
    Latency {
        /// The delay in milliseconds.
        millis: u64,
    },
    /// From the refresh of this cycle on, every refresh request is answered
    /// `invalid_grant` (the grant was revoked). The case ends with that
    /// cycle: the manager must give every caller an error, make at most one
    /// refresh request, and not ask again on a further call.
    InvalidGrant {
        /// The cycle (from 1).
        cycle: usize,
    },
    /// The first refresh request of this cycle is answered 503 with
    /// `Retry-After`: no further refresh may come before it has passed;
    /// afterwards the manager must recover.
    Unavailable {
        /// The cycle (from 1).
        cycle: usize,
        /// The `Retry-After` in seconds.
        retry_after_secs: u64,
    },
}

impl TokenFault {
    /// The cycle the fault is bound to, if it is bound to one.
    pub fn cycle(&self) -> Option<usize> {
        match *self {
            Self::InvalidGrant { cycle } | Self::Unavailable { cycle, .. } => Some(cycle),
            Self::None | Self::Latency { .. } => None,
        }
    }

    /// Whether there is no fault.
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }
}

impl fmt::Display for TokenFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("no fault"),
            Self::Latency { millis } => write!(f, "token endpoint latency {millis} ms"),
            Self::InvalidGrant { cycle } => {
                write!(f, "invalid_grant from the refresh of cycle {cycle} on")
            }
            Self::Unavailable {
                cycle,
                retry_after_secs,
            } => write!(
                f,
                "503 with Retry-After: {retry_after_secs} s on the first refresh of cycle {cycle}"
            ),
        }
    }
}

/// One generated case.
///
/// Every cycle: (from the second on) the client's access tokens are
/// expired so the upstream API answers 401; then `callers` tasks each ask
/// the manager for a token, call the API with it and, on a 401, ask for a
/// replacement once and call again. Build it with [`Schedule::new`], which
/// puts the values in range (the barrier never waits for more callers than
/// there are; an `invalid_grant` case ends with its cycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Schedule {
    callers: usize,
    cycles: usize,
    barrier: RefreshBarrier,
    fault: TokenFault,
    pace: Pace,
}

impl Schedule {
    /// A schedule; values are put in range: callers 1..=[`MAX_CALLERS`],
    /// cycles 1..=[`MAX_CYCLES`], barrier parties 2..=max(2, callers), a
    /// fault's cycle at most `cycles` (an `invalid_grant` fault's cycle is
    /// the last), `Retry-After` 1..=60 s, latency at most 10 s.
    pub fn new(callers: usize, cycles: usize, barrier: RefreshBarrier, fault: TokenFault) -> Self {
        let callers = callers.clamp(1, MAX_CALLERS);
        let mut cycles = cycles.clamp(1, MAX_CYCLES);
        let fault = match fault {
            TokenFault::None => TokenFault::None,
            TokenFault::Latency { millis } => TokenFault::Latency {
                millis: millis.min(10_000),
            },
            TokenFault::InvalidGrant { cycle } => {
                let cycle = cycle.clamp(1, cycles);
                cycles = cycle;
                TokenFault::InvalidGrant { cycle }
            }
            TokenFault::Unavailable {
                cycle,
                retry_after_secs,
            } => TokenFault::Unavailable {
                cycle: cycle.clamp(1, cycles),
                retry_after_secs: retry_after_secs.clamp(1, 60),
            },
        };
        let barrier = RefreshBarrier {
            parties: barrier.parties.min(callers).max(2),
            timeout: barrier
                .timeout
                .clamp(Duration::from_millis(10), Duration::from_secs(60)),
        };
        Self {
            callers,
            cycles,
            barrier,
            fault,
            pace: Pace::Lockstep,
        }
    }

    /// The same schedule with the callers moving at `pace` (lockstep by
    /// default); a staggered spread is cut to [`MAX_STAGGER`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use refresh_race::{Pace, RefreshBarrier, Schedule, TokenFault};
    ///
    /// let barrier = RefreshBarrier { parties: 2, timeout: Duration::from_millis(150) };
    /// let s = Schedule::new(4, 1, barrier, TokenFault::None)
    ///     .paced(Pace::Staggered { spread: Duration::from_millis(80) });
    /// assert_eq!(
    ///     s.to_string(),
    ///     "4 callers staggered over 80 ms, 1 cycle, no fault (refresh barrier: 2 parties, 150 ms)"
    /// );
    /// ```
    pub fn paced(mut self, pace: Pace) -> Self {
        self.pace = match pace {
            Pace::Lockstep => Pace::Lockstep,
            Pace::Staggered { spread } => Pace::Staggered {
                spread: spread.min(MAX_STAGGER),
            },
        };
        self
    }

    /// How the callers move.
    pub fn pace(&self) -> Pace {
        self.pace
    }

    /// Concurrent callers per cycle.
    pub fn callers(&self) -> usize {
        self.callers
    }

    /// Expiry cycles.
    pub fn cycles(&self) -> usize {
        self.cycles
    }

    /// The refresh barrier.
    pub fn barrier(&self) -> RefreshBarrier {
        self.barrier
    }

    /// The token endpoint fault.
    pub fn fault(&self) -> TokenFault {
        self.fault
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        write!(f, "{} caller{}", self.callers, plural(self.callers))?;
        if let Pace::Staggered { .. } = self.pace {
            write!(f, " {}", self.pace)?;
        }
        write!(
            f,
            ", {} cycle{}, {} (refresh barrier: {} parties, {} ms)",
            self.cycles,
            plural(self.cycles),
            self.fault,
            self.barrier.parties,
            self.barrier.timeout.as_millis()
        )
    }
}

/// How often each kind of fault is drawn (relative weights; 0 leaves a
/// kind out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultWeights {
    /// No fault.
    pub none: u32,
    /// [`TokenFault::Latency`].
    pub latency: u32,
    /// [`TokenFault::InvalidGrant`].
    pub invalid_grant: u32,
    /// [`TokenFault::Unavailable`] (each such case waits out its
    /// `Retry-After`, so it is drawn least).
    pub unavailable: u32,
}

impl Default for FaultWeights {
    fn default() -> Self {
        Self {
            none: 3,
            latency: 2,
            invalid_grant: 2,
            unavailable: 1,
        }
    }
}

impl FaultWeights {
    /// Never a fault.
    pub fn none() -> Self {
        Self {
            none: 1,
            latency: 0,
            invalid_grant: 0,
            unavailable: 0,
        }
    }
}

/// The strategy generating [`Schedule`]s, with its ranges adjustable.
///
/// Defaults: 1..=16 callers, 1..=3 cycles, barrier of 2..=4 parties with a
/// 150..=300 ms timeout, latency 20..=400 ms, `Retry-After: 1`, faults
/// weighted by [`FaultWeights::default`].
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// use refresh_race::{FaultWeights, ScheduleStrategy};
///
/// let strategy = ScheduleStrategy::default().callers(2..=4).faults(FaultWeights::none());
/// let schedule = strategy.new_tree(&mut TestRunner::deterministic()).unwrap().current();
/// assert!((2..=4).contains(&schedule.callers()));
/// assert!(schedule.fault().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleStrategy {
    callers: RangeInclusive<usize>,
    cycles: RangeInclusive<usize>,
    barrier_parties: RangeInclusive<usize>,
    barrier_timeout_ms: RangeInclusive<u64>,
    latency_ms: RangeInclusive<u64>,
    retry_after_secs: u64,
    faults: FaultWeights,
    stagger_ms: Option<RangeInclusive<u64>>,
}

impl Default for ScheduleStrategy {
    fn default() -> Self {
        Self {
            callers: 1..=16,
            cycles: 1..=3,
            barrier_parties: 2..=4,
            barrier_timeout_ms: 150..=300,
            latency_ms: 20..=400,
            retry_after_secs: 1,
            faults: FaultWeights::default(),
            stagger_ms: Some(10..=120),
        }
    }
}

fn checked<T: PartialOrd + fmt::Debug + Copy>(
    what: &str,
    range: RangeInclusive<T>,
    min: T,
    max: T,
) -> RangeInclusive<T> {
    assert!(
        range.start() <= range.end() && *range.start() >= min && *range.end() <= max,
        "ScheduleStrategy: {what} must be a non-empty range within {min:?}..={max:?}, got {range:?}"
    );
    range
}

impl ScheduleStrategy {
    /// Concurrent callers per cycle (within 1..=[`MAX_CALLERS`]).
    ///
    /// # Panics
    /// On an empty range or one outside those bounds (as below).
    pub fn callers(mut self, range: RangeInclusive<usize>) -> Self {
        self.callers = checked("callers", range, 1, MAX_CALLERS);
        self
    }

    /// Expiry cycles (within 1..=[`MAX_CYCLES`]).
    pub fn cycles(mut self, range: RangeInclusive<usize>) -> Self {
        self.cycles = checked("cycles", range, 1, MAX_CYCLES);
        self
    }

    /// Refresh barrier parties (within 2..=[`MAX_CALLERS`]; a schedule
    /// never waits for more than its callers).
    pub fn barrier_parties(mut self, range: RangeInclusive<usize>) -> Self {
        self.barrier_parties = checked("barrier parties", range, 2, MAX_CALLERS);
        self
    }

    /// Refresh barrier timeout in milliseconds (within 10..=60000). Keep
    /// it short: a correct manager's lone refresh waits this long per
    /// cycle.
    pub fn barrier_timeout_ms(mut self, range: RangeInclusive<u64>) -> Self {
        self.barrier_timeout_ms = checked("barrier timeout", range, 10, 60_000);
        self
    }

    /// Token endpoint latency in milliseconds, when that fault is drawn
    /// (within 0..=10000).
    pub fn latency_ms(mut self, range: RangeInclusive<u64>) -> Self {
        self.latency_ms = checked("latency", range, 0, 10_000);
        self
    }

    /// `Retry-After` of the 503 fault, in seconds (1..=60).
    pub fn retry_after_secs(mut self, secs: u64) -> Self {
        self.retry_after_secs = *checked("retry_after_secs", secs..=secs, 1, 60).start();
        self
    }

    /// How often each fault kind is drawn.
    pub fn faults(mut self, weights: FaultWeights) -> Self {
        self.faults = weights;
        self
    }

    /// Staggered callers too, their starts spread over a span drawn from
    /// `range` (milliseconds, within 1..=2000); half the cases stay in
    /// lockstep. The default is 10..=120 ms.
    pub fn staggered(mut self, range: RangeInclusive<u64>) -> Self {
        let max = MAX_STAGGER.as_millis() as u64;
        self.stagger_ms = Some(checked("stagger", range, 1, max));
        self
    }

    /// Lockstep callers only.
    pub fn lockstep_only(mut self) -> Self {
        self.stagger_ms = None;
        self
    }

    fn pace_strategy(&self) -> BoxedStrategy<Pace> {
        match self.stagger_ms.clone() {
            // Union shrinks towards its first alternative: lockstep.
            Some(range) => Union::new([
                Just(Pace::Lockstep).boxed(),
                range
                    .prop_map(|ms| Pace::Staggered {
                        spread: Duration::from_millis(ms),
                    })
                    .boxed(),
            ])
            .boxed(),
            None => Just(Pace::Lockstep).boxed(),
        }
    }

    fn fault_strategy(&self) -> BoxedStrategy<TokenFault> {
        let w = self.faults;
        let max_cycle = *self.cycles.end();
        let retry_after_secs = self.retry_after_secs;
        // Union shrinks towards earlier alternatives: no fault first.
        let mut options: Vec<(u32, BoxedStrategy<TokenFault>)> = Vec::new();
        if w.none > 0 {
            options.push((w.none, Just(TokenFault::None).boxed()));
        }
        if w.latency > 0 {
            options.push((
                w.latency,
                self.latency_ms
                    .clone()
                    .prop_map(|millis| TokenFault::Latency { millis })
                    .boxed(),
            ));
        }
        if w.invalid_grant > 0 {
            options.push((
                w.invalid_grant,
                (1..=max_cycle)
                    .prop_map(|cycle| TokenFault::InvalidGrant { cycle })
                    .boxed(),
            ));
        }
        if w.unavailable > 0 {
            options.push((
                w.unavailable,
                (1..=max_cycle)
                    .prop_map(move |cycle| TokenFault::Unavailable {
                        cycle,
                        retry_after_secs,
                    })
                    .boxed(),
            ));
        }
        if options.is_empty() {
            return Just(TokenFault::None).boxed();
        }
        Union::new_weighted(options).boxed()
    }

    /// The strategy as a boxed proptest strategy.
    pub fn boxed_strategy(&self) -> BoxedStrategy<Schedule> {
        (
            self.callers.clone(),
            self.cycles.clone(),
            self.fault_strategy(),
            self.barrier_parties.clone(),
            self.barrier_timeout_ms.clone(),
            self.pace_strategy(),
        )
            .prop_map(|(callers, cycles, fault, parties, timeout_ms, pace)| {
                Schedule::new(
                    callers,
                    cycles,
                    RefreshBarrier {
                        parties,
                        timeout: Duration::from_millis(timeout_ms),
                    },
                    fault,
                )
                .paced(pace)
            })
            .boxed()
    }
}

impl Strategy for ScheduleStrategy {
    type Tree = Box<dyn ValueTree<Value = Schedule>>;
    type Value = Schedule;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        self.boxed_strategy().new_tree(runner)
    }
}

/// The default schedule strategy.
pub fn schedules() -> ScheduleStrategy {
    ScheduleStrategy::default()
}

impl Arbitrary for Schedule {
    type Parameters = ();
    type Strategy = ScheduleStrategy;

    fn arbitrary_with(_: ()) -> ScheduleStrategy {
        ScheduleStrategy::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn barrier(parties: usize, ms: u64) -> RefreshBarrier {
        RefreshBarrier {
            parties,
            timeout: Duration::from_millis(ms),
        }
    }

    #[test]
    fn new_puts_values_in_range() {
        let s = Schedule::new(1, 3, barrier(4, 150), TokenFault::InvalidGrant { cycle: 2 });
        assert_eq!(s.barrier().parties, 2);
        assert_eq!(s.cycles(), 2, "an invalid_grant case ends with its cycle");
        let s = Schedule::new(
            5,
            2,
            barrier(3, 150),
            TokenFault::Unavailable {
                cycle: 3,
                retry_after_secs: 0,
            },
        );
        assert_eq!(
            s.fault(),
            TokenFault::Unavailable {
                cycle: 2,
                retry_after_secs: 1
            }
        );
        assert_eq!(s.barrier().parties, 3);
        assert_eq!(
            s.to_string(),
            "5 callers, 2 cycles, 503 with Retry-After: 1 s on the first refresh of cycle 2 (refresh barrier: 3 parties, 150 ms)"
        );
    }

    /// Shrinking a schedule that fails whenever it has two callers ends at
    /// the smallest such schedule.
    #[test]
    fn shrinks_to_the_smallest_failing_schedule() {
        let mut runner = TestRunner::deterministic();
        let strategy = schedules();
        let mut failing = None;
        for _ in 0..100 {
            let tree = strategy.new_tree(&mut runner).unwrap();
            let s = tree.current();
            if s.callers() >= 2 && s.cycles() >= 2 && !s.fault().is_none() {
                failing = Some(tree);
                break;
            }
        }
        let mut tree = failing.expect("a schedule with a fault");
        let fails = |s: &Schedule| s.callers() >= 2;
        // proptest's own shrink loop.
        let mut last_failure = tree.current();
        if tree.simplify() {
            for _ in 0..1000 {
                let s = tree.current();
                if fails(&s) {
                    last_failure = s;
                    if !tree.simplify() {
                        break;
                    }
                } else if !tree.complicate() {
                    break;
                }
            }
        }
        let s = last_failure;
        assert_eq!(s, Schedule::new(2, 1, barrier(2, 150), TokenFault::None));
    }

    proptest! {
        #[test]
        fn generated_schedules_are_in_range(s in any::<Schedule>()) {
            prop_assert!((1..=16).contains(&s.callers()));
            prop_assert!((1..=3).contains(&s.cycles()));
            prop_assert!(s.barrier().parties >= 2 && s.barrier().parties <= s.callers().max(2));
            prop_assert!(s.fault().cycle().is_none_or(|c| c <= s.cycles()));
            if let Pace::Staggered { spread } = s.pace() {
                prop_assert!((10..=120).contains(&spread.as_millis()));
            }
        }
    }
}
