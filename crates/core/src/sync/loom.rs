//! The loom backend of the facade: the same API as `std.rs`, over loom's model.

use std::fmt;
use std::sync::PoisonError;
use std::time::Duration;

pub use loom::sync::{Arc, MutexGuard, RwLockReadGuard, RwLockWriteGuard};
pub use loom::thread_local;

pub(super) mod atomic {
    pub use loom::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicU8,
        AtomicUsize, Ordering,
    };
}

pub(super) mod thread {
    pub use loom::thread::{
        current, panicking, park, spawn, yield_now, Builder, JoinHandle, Thread, ThreadId,
    };

    /// Loom has no model of time: a timed park yields to the model and returns, which is
    /// a spurious wake-up that every caller tolerates.
    pub fn park_timeout(_timeout: std::time::Duration) {
        yield_now();
    }
}

pub(super) mod hint {
    pub use loom::hint::spin_loop;
}

/// A parking spot for the thread that made it, as a loom `Notify`: unlike loom's
/// `Thread::unpark`, which also wakes a thread blocked on a mutex or a join and so aborts
/// the model (tokio-rs/loom#249), it reaches only a `park` on this parker.
#[derive(Debug, Default)]
pub struct Parker {
    notify: loom::sync::Notify,
}

impl Parker {
    /// A parker for the current thread.
    pub fn new() -> Self {
        Parker {
            notify: loom::sync::Notify::new(),
        }
    }

    /// Blocks until [`unpark`](Parker::unpark), or spuriously.
    pub fn park(&self) {
        self.notify.wait();
    }

    /// Wakes the owner, or makes its next `park` return at once.
    pub fn unpark(&self) {
        self.notify.notify();
    }
}

/// A mutual-exclusion lock whose [`lock`](Mutex::lock) ignores poisoning.
pub struct Mutex<T: ?Sized>(loom::sync::Mutex<T>);

impl<T> Mutex<T> {
    /// Creates an unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }

    /// Consumes the mutex and returns the value it held.
    pub fn into_inner(self) -> T {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Blocks until the lock is held, and returns its guard.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the lock if it is free; never blocks.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Mutable access without locking, through an exclusive borrow.
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mutex { .. }")
    }
}

/// A condition variable working with [`Mutex`]'s guards, ignoring poisoning.
#[derive(Debug, Default)]
pub struct Condvar(loom::sync::Condvar);

impl Condvar {
    /// Creates a condition variable with no waiters.
    pub fn new() -> Self {
        Condvar(loom::sync::Condvar::new())
    }

    /// Releases `guard`, waits for a notification, relocks.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }

    /// Loom has no time: this waits for a notification like [`wait`](Condvar::wait) and
    /// never reports a time-out.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, bool) {
        let (guard, result) = self
            .0
            .wait_timeout(guard, timeout)
            .unwrap_or_else(PoisonError::into_inner);
        (guard, result.timed_out())
    }

    /// Wakes one waiter.
    pub fn notify_one(&self) {
        self.0.notify_one();
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.0.notify_all();
    }
}

/// loom's `UnsafeCell`, which checks every access for data races.
pub struct UnsafeCell<T>(loom::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        UnsafeCell(loom::cell::UnsafeCell::new(value))
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }

    /// Runs `f` with a shared pointer to the contents; loom records a read.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.0.with(f)
    }

    /// Runs `f` with a mutable pointer to the contents; loom records a write.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.0.with_mut(f)
    }
}

impl<T: Default> Default for UnsafeCell<T> {
    fn default() -> Self {
        UnsafeCell::new(T::default())
    }
}

impl<T> fmt::Debug for UnsafeCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnsafeCell { .. }")
    }
}

/// A reader-writer lock whose [`read`](RwLock::read) and [`write`](RwLock::write) ignore
/// poisoning, as [`Mutex`]'s `lock` does.
#[derive(Default)]
pub struct RwLock<T: ?Sized>(loom::sync::RwLock<T>);

impl<T> RwLock<T> {
    /// Creates an unlocked lock holding `value`.
    pub fn new(value: T) -> Self {
        RwLock(loom::sync::RwLock::new(value))
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Blocks until the lock is held shared, and returns its guard.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until the lock is held alone, and returns its guard.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RwLock { .. }")
    }
}
