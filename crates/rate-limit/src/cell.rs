//! One GCRA cell: a theoretical arrival time (TAT) in one atomic word, and the two ways to
//! move it — admit now, or reserve ahead and sleep — that [`Gcra`](crate::Gcra),
//! [`LeakyBucket`](crate::LeakyBucket) and each shard of a
//! [`TokenBucket`](crate::TokenBucket) share.
//!
//! A call costing `cost` nanoseconds of TAT at time `now` fits when
//! `max(TAT, now) + cost ≤ now + tolerance`; it moves TAT there with one compare-and-swap.

use std::time::{Duration, Instant};

use patterns_core::{Backoff, CancelToken};

use crate::error::AcquireError;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::timeline::Timeline;
use crate::wait;

/// A TAT: eight bytes, unpadded, so that a keyed limiter's many cells stay small; a
/// limiter whose cells many threads write side by side pads them itself.
#[derive(Debug, Default)]
pub(crate) struct Cell {
    /// Nanoseconds on the limiter's timeline; anything at or before now means full.
    tat: AtomicU64,
}

/// Where a call would move TAT, and how long it must wait for it.
pub(crate) struct Admission {
    tat: u64,
    new_tat: u64,
    pub(crate) wait: u64,
}

impl Admission {
    /// What a call costing `cost` against `tat` at `now` would take. In 128 bits: where
    /// both sides of the comparison would saturate at `u64::MAX`, they must not compare
    /// equal and admit.
    #[inline]
    pub(crate) fn of(tat: u64, now: u64, cost: u64, tolerance: u64) -> Admission {
        let end = u128::from(tat.max(now)) + u128::from(cost);
        let limit = u128::from(now) + u128::from(tolerance);
        Admission {
            tat,
            new_tat: u64::try_from(end).unwrap_or(u64::MAX),
            wait: u64::try_from(end.saturating_sub(limit)).unwrap_or(u64::MAX),
        }
    }

    /// Where the claim ends: its TAT after it.
    pub(crate) fn end(&self) -> u64 {
        self.new_tat
    }
}

impl Cell {
    #[inline]
    pub(crate) fn load(&self) -> u64 {
        self.tat.load(Ordering::Acquire)
    }

    /// How far TAT runs ahead of `now`: the capacity in use.
    pub(crate) fn ahead(&self, now: u64) -> u64 {
        self.load().saturating_sub(now)
    }

    /// Moves TAT as `admission` says; false if another call moved it first.
    #[inline]
    pub(crate) fn claim(&self, admission: &Admission) -> bool {
        self.tat
            .compare_exchange_weak(
                admission.tat,
                admission.new_tat,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Gives back a claim of `cost` nanoseconds, ending at `end`, that will not be used:
    /// only the part still ahead of now. The part behind now has come back as refill
    /// already; giving it back too would count it twice once another call has stacked
    /// its claim on this one (review found a burst of 2 admitting 3 that way). The time
    /// is read inside the update, after every claim stacked on ours read theirs.
    pub(crate) fn release(&self, time: &Timeline, cost: u64, end: u64) {
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |tat| {
                let ahead = end.saturating_sub(time.now());
                Some(tat.saturating_sub(cost.min(ahead)))
            });
    }

    /// Admits a call costing `cost` now, or says how many nanoseconds until it would.
    #[inline]
    pub(crate) fn try_take(&self, time: &Timeline, cost: u64, tolerance: u64) -> Result<(), u64> {
        let backoff = Backoff::new();
        let mut tat = self.load();
        loop {
            let admission = Admission::of(tat, time.now(), cost, tolerance);
            if admission.wait > 0 {
                return Err(admission.wait);
            }
            if self.claim(&admission) {
                return Ok(());
            }
            backoff.spin();
            tat = self.load();
        }
    }

    /// Reserves a call costing `cost` at once, in the order calls arrive, and sleeps
    /// until its time; gives the reservation back if `cancel` fires first.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Timeout`] at once, reserving nothing, when the wait needed ends
    /// after `deadline`; [`AcquireError::Cancelled`].
    pub(crate) fn reserve(
        &self,
        time: &Timeline,
        cost: u64,
        tolerance: u64,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), AcquireError> {
        let backoff = Backoff::new();
        let (now, claimed) = loop {
            let now = time.now();
            let admission = Admission::of(self.load(), now, cost, tolerance);
            let needed = Duration::from_nanos(admission.wait);
            if deadline.is_some_and(|deadline| time.instant(now) + needed > deadline) {
                return Err(AcquireError::Timeout { needed });
            }
            if self.claim(&admission) {
                break (now, admission);
            }
            backoff.spin();
        };
        let wait = claimed.wait;
        if wait == 0 {
            return Ok(());
        }
        let ready = time.instant(now.saturating_add(wait));
        if wait::sleep_until(time.clock(), ready, cancel) {
            Ok(())
        } else {
            self.release(time, cost, claimed.end());
            Err(AcquireError::Cancelled)
        }
    }
}
