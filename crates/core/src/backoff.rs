//! Exponential back-off for spin loops, which yields to loom under the model.

use core::cell::Cell;
use core::fmt;

use crate::sync::{hint, thread};

/// Doublings of the spin count before [`Backoff::snooze`] starts yielding the CPU
/// (crossbeam's): 127 spins in all.
const SPIN_LIMIT: u32 = 6;
/// The same for [`Backoff::brief`] (parking_lot's `SpinWait`): 15 spins in all.
const BRIEF_SPIN_LIMIT: u32 = 3;
/// Steps after which [`Backoff::is_completed`] advises parking instead of trying again.
const YIELD_LIMIT: u32 = 10;

/// Exponential back-off for a thread waiting on another: spin, then yield, then park.
///
/// The recipe every blocking operation of the workspace follows is: try; on failure
/// [`snooze`](Backoff::snooze) and try again until [`is_completed`](Backoff::is_completed)
/// says that more spinning is wasted CPU; then register for a wake-up and park.
/// [`spin`](Backoff::spin) is for retrying a lost compare-and-swap, where the other thread
/// is making progress and yielding would only slow things down.
///
/// All spinning goes through [`sync::hint::spin_loop`](crate::sync::hint::spin_loop), which
/// under loom yields to the model checker rather than burning a branch budget.
///
/// # Examples
///
/// ```
/// use patterns_core::Backoff;
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let ready = AtomicBool::new(true);
/// let backoff = Backoff::new();
/// while !ready.load(Ordering::Acquire) {
///     if backoff.is_completed() {
///         break; // park here instead, after registering for a wake-up
///     }
///     backoff.snooze();
/// }
/// ```
pub struct Backoff {
    step: Cell<u32>,
    /// The last step that spins; later ones yield.
    spin_limit: u32,
}

impl Backoff {
    /// A fresh back-off, at its shortest step.
    #[must_use]
    #[inline]
    pub const fn new() -> Self {
        Backoff {
            step: Cell::new(0),
            spin_limit: SPIN_LIMIT,
        }
    }

    /// A back-off that spins for less before it yields: for a waiter whose peer may need
    /// this very CPU to make progress, as when more threads than cores are busy. It
    /// advises parking after as many steps as [`new`](Backoff::new)'s.
    #[must_use]
    #[inline]
    pub const fn brief() -> Self {
        Backoff {
            step: Cell::new(0),
            spin_limit: BRIEF_SPIN_LIMIT,
        }
    }

    /// Goes back to the shortest step, after progress was made.
    #[inline]
    pub fn reset(&self) {
        self.step.set(0);
    }

    /// Backs off in a compare-and-swap retry loop: spins only, never yields.
    #[inline]
    pub fn spin(&self) {
        let step = self.step.get().min(self.spin_limit);
        Self::spin_for(step);
        if self.step.get() <= self.spin_limit {
            self.step.set(self.step.get() + 1);
        }
    }

    /// Backs off while waiting for another thread: spins at first, then yields the CPU.
    #[inline]
    pub fn snooze(&self) {
        let step = self.step.get();
        if step <= self.spin_limit && !cfg!(loom) {
            Self::spin_for(step);
        } else {
            thread::yield_now();
        }
        if step <= YIELD_LIMIT {
            self.step.set(step + 1);
        }
    }

    /// True once backing off more is wasted CPU: the waiter should park.
    ///
    /// Under loom it is true from the start, unless a model asks for spinning with
    /// `with_loom_spins` (a function of loom builds only). Spinning before parking is only an
    /// optimization, while every retry it adds multiplies the interleavings loom must
    /// explore and spends the preemption budget that the races around parking need.
    #[must_use]
    #[inline]
    pub fn is_completed(&self) -> bool {
        #[cfg(loom)]
        return self.step.get() >= loom_spins::steps();
        #[cfg(not(loom))]
        return self.step.get() > YIELD_LIMIT;
    }

    #[inline]
    fn spin_for(step: u32) {
        // Under loom each hint is a yield to the model: one stands for the whole burst.
        let spins = if cfg!(loom) { 1 } else { 1u32 << step };
        for _ in 0..spins {
            hint::spin_loop();
        }
    }
}

/// Under loom: how many steps a [`Backoff`] takes before it advises parking.
#[cfg(loom)]
mod loom_spins {
    use core::cell::Cell;

    // A `std` thread local on purpose: loom runs every thread of a model as a coroutine
    // on the thread that called `loom::model`, so all of them see the value that thread
    // set, while tests running in parallel each have their own.
    std::thread_local! { // tidy: allow(std-path): one value for a whole model, see above
        static STEPS: Cell<u32> = const { Cell::new(0) };
    }

    pub(super) fn steps() -> u32 {
        STEPS.with(Cell::get)
    }

    /// Resets the bound when the model is done, also if it panicked.
    struct Restore(u32);

    impl Drop for Restore {
        fn drop(&mut self) {
            STEPS.with(|steps| steps.set(self.0));
        }
    }

    /// See [`crate::with_loom_spins`].
    pub fn with_loom_spins<R>(steps: u32, model: impl FnOnce() -> R) -> R {
        let _restore = Restore(STEPS.with(|current| current.replace(steps)));
        model()
    }
}

/// Runs `model` (a call of `loom::model`) with every [`Backoff`] advising to park only
/// after `steps` of spinning or snoozing, instead of at once.
///
/// Loom builds only. A back-off is complete from its first step under loom, so the code
/// a blocking operation runs while it spins — and the bugs it may hold — would never be
/// explored; a model of that code asks for a step or two (each adds interleavings).
///
/// ```ignore
/// patterns_core::with_loom_spins(2, || loom::model(|| { /* … */ }));
/// ```
#[cfg(loom)]
pub use loom_spins::with_loom_spins;

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backoff")
            .field("step", &self.step.get())
            .field("is_completed", &self.is_completed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snooze_completes_after_the_yield_limit() {
        let backoff = Backoff::new();
        let mut snoozes = 0;
        while !backoff.is_completed() {
            backoff.snooze();
            snoozes += 1;
        }
        assert_eq!(snoozes, YIELD_LIMIT + 1);
        backoff.reset();
        assert!(!backoff.is_completed());
    }

    #[test]
    fn a_brief_backoff_yields_sooner_and_completes_as_late() {
        let (brief, long) = (Backoff::brief(), Backoff::new());
        let mut snoozes = 0;
        while !brief.is_completed() {
            assert_eq!(long.is_completed(), brief.is_completed());
            brief.snooze();
            long.snooze();
            snoozes += 1;
        }
        assert_eq!(snoozes, YIELD_LIMIT + 1);
        assert!(long.is_completed());
        assert!(brief.spin_limit < long.spin_limit);
    }

    #[test]
    fn spin_alone_never_advises_parking() {
        let backoff = Backoff::new();
        for _ in 0..100 {
            backoff.spin();
        }
        assert!(!backoff.is_completed());
    }
}
