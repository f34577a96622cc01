//! The closed-state sliding window, split into stripes so that threads recording results
//! do not write one another's cache lines.
//!
//! Each thread records into its home stripe (handed out round-robin on a thread's first
//! call, the same for every breaker). A stripe holds, behind its own lock, the last `n`
//! results of its threads (a count window) or ten time buckets (a time window), with
//! running totals, and publishes those totals in atomics for the other threads'
//! evaluations. An evaluation adds up the stripes' totals: O(stripes), not O(window).
//!
//! A stripe also carries the generation of the episode its results belong to, and resets
//! itself when a result of a newer episode arrives: a transition never has to visit the
//! stripes, and results of an older episode (still published by a stripe nobody has
//! written since) are skipped by every evaluation.

use crossbeam_utils::CachePadded;

use crate::config::WindowKind;
use crate::spin::SpinLock;
use crate::sync::atomic::{AtomicU64, Ordering};

/// Calls, failures and slow calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.calls += other.calls;
        self.failures += other.failures;
        self.slow += other.slow;
    }

    fn sub(&mut self, other: Tally) {
        self.calls -= other.calls;
        self.failures -= other.failures;
        self.slow -= other.slow;
    }

    fn one(failure: bool, slow: bool) -> Tally {
        Tally {
            calls: 1,
            failures: u64::from(failure),
            slow: u64::from(slow),
        }
    }
}

/// Counters since the breaker was built, which `reset` leaves alone.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) ignored: u64,
}

/// A result, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
    Ignored,
}

/// One stripe: its window behind a lock, and what it publishes.
#[derive(Debug)]
pub(crate) struct Stripe {
    local: SpinLock<Local>,
    /// The generation `published` belongs to.
    generation: AtomicU64,
    /// The time bucket of the stripe's latest result (0 for a count window).
    epoch: AtomicU64,
    calls: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
    /// Calls refused, counted here so that a refusal writes only its thread's stripe.
    pub(crate) rejected: AtomicU64,
}

/// A stripe's window.
#[derive(Debug)]
struct Local {
    generation: u64,
    /// The time bucket of the latest result (0 for a count window).
    epoch: u64,
    tally: Tally,
    ring: Ring,
    totals: Totals,
}

#[derive(Debug)]
enum Ring {
    /// The last results, oldest at `next` once full: bit 0 failure, bit 1 slow.
    Count {
        slots: Box<[u8]>,
        next: usize,
        len: usize,
    },
    /// Bucket `e % buckets` holds epoch `e`'s results.
    Time { buckets: Box<[(u64, Tally)]> },
}

impl Local {
    fn new(window: WindowKind) -> Local {
        let ring = match window {
            WindowKind::Count(n) => Ring::Count {
                slots: vec![0; n].into_boxed_slice(),
                next: 0,
                len: 0,
            },
            WindowKind::Time { buckets, .. } => Ring::Time {
                buckets: vec![(0, Tally::default()); buckets as usize].into_boxed_slice(),
            },
        };
        Local {
            generation: 0,
            epoch: 0,
            tally: Tally::default(),
            ring,
            totals: Totals::default(),
        }
    }

    /// Empties the window for `generation`.
    fn clear(&mut self, generation: u64) {
        self.generation = generation;
        self.tally = Tally::default();
        match &mut self.ring {
            Ring::Count { next, len, .. } => {
                *next = 0;
                *len = 0;
            }
            Ring::Time { buckets } => buckets.fill((0, Tally::default())),
        }
    }

    /// Brings the window to `generation` and `epoch`: a newer generation starts empty,
    /// and buckets that left a time window are taken out of the tally.
    fn advance(&mut self, generation: u64, epoch: u64) {
        if generation != self.generation {
            self.clear(generation);
        }
        if let Ring::Time { buckets } = &mut self.ring {
            let k = buckets.len() as u64;
            if epoch > self.epoch {
                if epoch - self.epoch >= k {
                    buckets.fill((0, Tally::default()));
                    self.tally = Tally::default();
                } else {
                    for e in self.epoch + 1..=epoch {
                        let bucket = &mut buckets[(e % k) as usize];
                        self.tally.sub(bucket.1);
                        *bucket = (e, Tally::default());
                    }
                }
            }
        }
        self.epoch = self.epoch.max(epoch);
    }

    fn push(&mut self, failure: bool, slow: bool) {
        let one = Tally::one(failure, slow);
        match &mut self.ring {
            Ring::Count { slots, next, len } => {
                let full = *len == slots.len();
                let slot = &mut slots[*next];
                if full {
                    let old = *slot;
                    self.tally.sub(Tally::one(old & 1 != 0, old & 2 != 0));
                } else {
                    *len += 1;
                }
                *slot = u8::from(failure) | u8::from(slow) << 1;
                *next += 1;
                if *next == slots.len() {
                    *next = 0;
                }
            }
            Ring::Time { buckets } => {
                let k = buckets.len() as u64;
                let bucket = &mut buckets[(self.epoch % k) as usize];
                bucket.0 = self.epoch;
                bucket.1.add(one);
            }
        }
        self.tally.add(one);
    }
}

impl Stripe {
    pub(crate) fn new(window: WindowKind) -> CachePadded<Stripe> {
        CachePadded::new(Stripe {
            local: SpinLock::new(Local::new(window)),
            generation: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        })
    }

    /// Counts `outcome` in the totals; then, if `current()` (read under the stripe's lock)
    /// is still `word`, the permit's episode, adds the result to the window of
    /// `generation` at `epoch` and returns the stripe's tally. `None` when the result was
    /// ignored or belongs to an episode that has ended.
    #[inline]
    pub(crate) fn record(
        &self,
        outcome: Outcome,
        slow: bool,
        episode: (u64, u64),
        epoch: u64,
        current: impl FnOnce() -> u64,
    ) -> Option<Tally> {
        let (word, generation) = episode;
        self.local.with(|local| {
            match outcome {
                Outcome::Success => local.totals.successes += 1,
                Outcome::Failure => local.totals.failures += 1,
                Outcome::Ignored => {
                    local.totals.ignored += 1;
                    return None;
                }
            }
            if current() != word {
                return None;
            }
            local.advance(generation, epoch);
            local.push(outcome == Outcome::Failure, slow);
            self.publish(local);
            Some(local.tally)
        })
    }

    /// Counts `outcome` in the totals only (a half-open trial's result, which the
    /// half-open episode tallies itself).
    pub(crate) fn count(&self, outcome: Outcome) {
        self.local.with(|local| match outcome {
            Outcome::Success => local.totals.successes += 1,
            Outcome::Failure => local.totals.failures += 1,
            Outcome::Ignored => local.totals.ignored += 1,
        });
    }

    fn publish(&self, local: &Local) {
        // Relaxed: readers combine stripes into an estimate; nothing is published
        // through these values but the numbers themselves.
        self.generation.store(local.generation, Ordering::Relaxed);
        self.epoch.store(local.epoch, Ordering::Relaxed);
        self.calls.store(local.tally.calls, Ordering::Relaxed);
        self.failures.store(local.tally.failures, Ordering::Relaxed);
        self.slow.store(local.tally.slow, Ordering::Relaxed);
    }

    /// What this stripe holds of `generation`'s window at `epoch`, seen from another
    /// thread. A time window's stripe not written since an earlier epoch is brought up
    /// to date first, if its lock is free (if not, its owner is recording and will).
    pub(crate) fn tally(&self, generation: u64, epoch: u64, window: WindowKind) -> Tally {
        if self.generation.load(Ordering::Relaxed) != generation {
            return Tally::default();
        }
        if let WindowKind::Time { buckets, .. } = window {
            let last = self.epoch.load(Ordering::Relaxed);
            if last + buckets <= epoch {
                return Tally::default();
            }
            if last < epoch {
                let aged = self.local.try_with(|local| {
                    if local.generation != generation {
                        return Tally::default();
                    }
                    local.advance(generation, epoch);
                    self.publish(local);
                    local.tally
                });
                if let Some(tally) = aged {
                    return tally;
                }
            }
        }
        Tally {
            calls: self.calls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            slow: self.slow.load(Ordering::Relaxed),
        }
    }

    /// The stripe's window for `generation` at `epoch`, exactly (under its lock).
    pub(crate) fn exact_tally(&self, generation: u64, epoch: u64) -> Tally {
        self.local.with(|local| {
            if local.generation != generation {
                return Tally::default();
            }
            local.advance(generation, epoch);
            self.publish(local);
            local.tally
        })
    }

    /// The counters since the breaker was built.
    pub(crate) fn totals(&self) -> Totals {
        self.local.with(|local| local.totals)
    }

    /// Bytes this stripe owns beyond its own struct: the ring.
    pub(crate) fn heap_bytes(window: WindowKind) -> usize {
        match window {
            WindowKind::Count(n) => n,
            WindowKind::Time { buckets, .. } => {
                buckets as usize * std::mem::size_of::<(u64, Tally)>()
            }
        }
    }
}

/// The calling thread's home stripe index, before it is reduced to a breaker's stripe
/// count.
#[inline]
pub(crate) fn home_index() -> usize {
    #[cfg(loom)]
    {
        // The model thread's index in its execution (0 for the model's main thread, then
        // 1, 2, … in spawn order), which loom's `ThreadId` prints: the same thread gets
        // the same stripe in every execution of a model, so a model built with
        // `stripes(n)` spreads its threads over stripes deterministically. A global
        // counter would not be: its value would carry over from one execution to the
        // next. (Breakers under loom default to one stripe; see `default_stripes`.)
        let id = format!("{:?}", crate::sync::thread::current().id());
        id.trim_start_matches("ThreadId(")
            .trim_end_matches(')')
            .parse::<usize>()
            .map_or(0, |id| id % crate::config::MAX_STRIPES)
    }
    #[cfg(not(loom))]
    {
        // A hint only, never a synchronization: which stripe a thread records into changes
        // how much it contends, not what is recorded. So a plain std counter, outside the
        // facade, and a `const` thread-local.
        // tidy: allow(std-path): a counter handing out hints, which loom need not follow.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        crate::sync::thread_local! {
            static HOME: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
        }
        HOME.with(|home| match home.get() {
            usize::MAX => {
                let index = NEXT.fetch_add(1, Ordering::Relaxed) % crate::config::MAX_STRIPES;
                home.set(index);
                index
            }
            index => index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_ring_keeps_the_last_n() {
        let mut local = Local::new(WindowKind::Count(3));
        local.advance(1, 0);
        for (failure, slow) in [(true, false), (true, true), (false, false), (false, true)] {
            local.push(failure, slow);
        }
        // The first (a failure) left: one failure, two slow, three calls.
        assert_eq!(
            local.tally,
            Tally {
                calls: 3,
                failures: 1,
                slow: 2
            }
        );
        local.advance(2, 0);
        assert_eq!(local.tally, Tally::default());
    }

    #[test]
    fn time_buckets_leave_after_the_window() {
        let mut local = Local::new(WindowKind::Time {
            bucket_nanos: 1,
            buckets: 4,
        });
        local.advance(1, 0);
        local.push(true, false);
        local.advance(1, 2);
        local.push(false, false);
        assert_eq!(local.tally.calls, 2);
        local.advance(1, 3);
        assert_eq!(local.tally.calls, 2);
        local.advance(1, 4); // epoch 0 leaves
        assert_eq!(
            local.tally,
            Tally {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
        local.advance(1, 100);
        assert_eq!(local.tally, Tally::default());
    }
}
