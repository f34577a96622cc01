//! The stripes' lock: a test-and-test-and-set spin lock, closure-scoped.
//!
//! A stripe's lock is taken on every recorded result, almost always uncontended (a thread
//! records into its own stripe): here one compare-and-swap to take it and a plain release
//! store to give it back, where `std`'s mutex pays a second atomic read-modify-write to
//! release. The critical sections are a few dozen instructions of the crate's own code,
//! never a user's; a waiter spins briefly, then yields ([`Backoff`]), which also yields to
//! loom under the model.

use patterns_core::Backoff;

use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::UnsafeCell;

/// A value behind a spin lock, reached only inside [`with`](SpinLock::with).
#[derive(Debug)]
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only while `locked` is held (taken with Acquire, given back
// with Release), so by one thread at a time, as with a `Mutex<T>`: `T: Send` suffices.
unsafe impl<T: Send> Sync for SpinLock<T> {}

/// Gives the lock back when the closure returns or unwinds.
struct Unlock<'a>(&'a AtomicBool);

impl Drop for Unlock<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<T> SpinLock<T> {
    pub(crate) fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` on the value, holding the lock.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        self.locked_with(f)
    }

    /// Runs `f` on the value if the lock is free; `None` if it is held.
    #[inline]
    pub(crate) fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        Some(self.locked_with(f))
    }

    #[cold]
    fn lock_contended(&self) {
        let backoff = Backoff::new();
        loop {
            while self.locked.load(Ordering::Relaxed) {
                backoff.snooze();
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Runs `f` with the lock held by the caller, and gives it back.
    #[inline]
    fn locked_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let _unlock = Unlock(&self.locked);
        // SAFETY: the caller holds the lock (taken with Acquire above), so no other thread
        // reaches the value until `_unlock` gives it back with Release; the reference does
        // not outlive the closure. Loom checks the accesses (`with_mut`) in the models of
        // tests/loom.rs.
        self.value.with_mut(|value| f(unsafe { &mut *value }))
    }
}
