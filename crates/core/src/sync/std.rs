//! The `std` backend of the facade.

use std::fmt;
use std::sync::PoisonError;
use std::time::Duration;

pub use std::sync::{Arc, MutexGuard, RwLockReadGuard, RwLockWriteGuard};
pub use std::thread_local;

pub(super) mod atomic {
    pub use std::sync::atomic::{
        fence, AtomicBool, AtomicI64, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicU8,
        AtomicUsize, Ordering,
    };
}

pub(super) mod thread {
    pub use std::thread::{
        current, panicking, park, park_timeout, spawn, yield_now, Builder, JoinHandle, Thread,
        ThreadId,
    };
}

pub(super) mod hint {
    pub use std::hint::spin_loop;
}

/// A parking spot for the thread that made it: `std`'s park token of that thread.
#[derive(Debug)]
pub struct Parker {
    thread: std::thread::Thread,
}

impl Parker {
    /// A parker for the current thread.
    pub fn new() -> Self {
        Parker {
            thread: std::thread::current(),
        }
    }

    /// Blocks until [`unpark`](Parker::unpark) (or any unpark of the owning thread), or
    /// spuriously. Called by the owning thread only.
    pub fn park(&self) {
        debug_assert_eq!(std::thread::current().id(), self.thread.id());
        std::thread::park();
    }

    /// Wakes the owner, or makes its next `park` return at once.
    pub fn unpark(&self) {
        self.thread.unpark();
    }
}

impl Default for Parker {
    fn default() -> Self {
        Parker::new()
    }
}

/// A mutual-exclusion lock whose [`lock`](Mutex::lock) ignores poisoning.
#[derive(Default)]
pub struct Mutex<T: ?Sized>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    /// Creates an unlocked mutex holding `value`.
    pub const fn new(value: T) -> Self {
        Mutex(std::sync::Mutex::new(value))
    }

    /// Consumes the mutex and returns the value it held.
    pub fn into_inner(self) -> T {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
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

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A condition variable working with [`Mutex`]'s guards, ignoring poisoning.
#[derive(Debug, Default)]
pub struct Condvar(std::sync::Condvar);

impl Condvar {
    /// Creates a condition variable with no waiters.
    pub const fn new() -> Self {
        Condvar(std::sync::Condvar::new())
    }

    /// Releases `guard`, waits for a notification (or a spurious wake-up), relocks.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }

    /// As [`wait`](Condvar::wait), giving up after `timeout`; the flag is true on time-out.
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

/// `std::cell::UnsafeCell` with loom's closure-based access.
#[derive(Default)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }

    /// Runs `f` with a shared pointer to the contents. Dereferencing it is the caller's
    /// promise that no `with_mut` access overlaps.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a mutable pointer to the contents. Dereferencing it is the caller's
    /// promise that no other access overlaps.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
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
pub struct RwLock<T: ?Sized>(std::sync::RwLock<T>);

impl<T> RwLock<T> {
    /// Creates an unlocked lock holding `value`.
    pub fn new(value: T) -> Self {
        RwLock(std::sync::RwLock::new(value))
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
