//! Counting a set of jobs down: what a [`Scope`](crate::Scope) and a
//! [`Group`](crate::Group) wait on.

use crate::sync::atomic::{fence, AtomicUsize, Ordering};
use crate::sync::{Arc, Condvar, Mutex};

/// The unfinished jobs of a scope or group, plus one for its owner until the owner
/// waits, and the flag that the count reached zero.
///
/// Counting the owner (as rayon's scope latch does) makes zero final: it cannot be
/// reached while the owner may still add jobs, so the last job to end can set `done`
/// once and for all.
///
/// ## Lifetime
///
/// A scope's latch lives on the stack of the scope's caller, and [`wait`](Latch::wait)
/// returning is what lets that frame end: so a job holds its count as a raw pointer
/// (the scope's `Count`), never a reference, and giving it up ([`count_down`](Latch::count_down)) is the job's
/// last touch of the latch. A reference held across the decrement — in an argument of
/// a frame still running, say a `&ScopeState` inside a by-value task — would outlive
/// the memory it points to (Miri reports it as the deallocation of a protected
/// borrow). The last job sets `done` under the lock and unlocks as its last step;
/// `wait` returns only after taking the lock and seeing `done`, so the memory is freed
/// only once that unlock has released it (std's `Mutex`, like rayon's `LockLatch` on
/// it, allows a mutex to be freed by the next thread to lock it).
///
/// ## Memory ordering
///
/// Each job's end (its `Release` decrement, after its closure and everything it
/// captured were dropped) is acquired by the last decrement (`Acquire` fence), which
/// sets `done` under the lock that `wait` takes: the owner sees every job's writes.
#[derive(Debug)]
pub(crate) struct Latch {
    pending: AtomicUsize,
    done: Mutex<bool>,
    all_done: Condvar,
}

impl Latch {
    pub(crate) fn new() -> Latch {
        Latch {
            pending: AtomicUsize::new(1),
            done: Mutex::new(false),
            all_done: Condvar::new(),
        }
    }

    /// Counts one more job, whose end gives the count up.
    pub(crate) fn add(&self) {
        self.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts not given up yet, the owner's included.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// The owner stops adding jobs and blocks until every job has ended.
    pub(crate) fn wait(&self) {
        // SAFETY: the owner's own count, given up once; the latch is the owner's, alive
        // for this whole call.
        unsafe { Latch::count_down(self) };
        let mut done = self.done.lock();
        while !*done {
            done = self.all_done.wait(done);
        }
    }

    /// Gives up one count; the last sets `done` and wakes the owner.
    ///
    /// # Safety
    ///
    /// `this` points to a live latch on which the caller holds a count (the owner's, or
    /// one from [`add`](Latch::add)) that it gives up here, once. From the decrement on
    /// the latch may be freed: the caller must not touch it after this call, nor hold a
    /// reference to it (or to anything the owner frees with it) across it.
    pub(crate) unsafe fn count_down(this: *const Latch) {
        // SAFETY: the caller's count keeps the latch alive until this decrement.
        let pending = unsafe { &(*this).pending };
        if pending.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: that was the last count: the owner waits in `wait`, which returns only
        // after it has seen `done` under the lock, so the latch lives until the guard
        // below unlocks — the last thing this call does.
        let latch = unsafe { &*this };
        let mut done = latch.done.lock();
        *done = true;
        latch.all_done.notify_all();
    }
}

/// What owns a latch in shared ownership: a [`Group`](crate::Group)'s state, which its
/// jobs may outlive.
pub(crate) trait Counted {
    fn latch(&self) -> &Latch;
}

/// One pending job of a group, counted from its creation to its drop, which comes after
/// the job's closure is dropped (field order in the task struct sees to that). The `Arc`
/// keeps the latch alive past the count-down.
#[derive(Debug)]
pub(crate) struct Pending<T: Counted>(Arc<T>);

impl<T: Counted> Pending<T> {
    pub(crate) fn new(owner: Arc<T>) -> Pending<T> {
        owner.latch().add();
        Pending(owner)
    }

    pub(crate) fn owner(&self) -> &T {
        &self.0
    }
}

impl<T: Counted> Drop for Pending<T> {
    fn drop(&mut self) {
        // SAFETY: the count was taken in `new` and is given up once, here; `self.0` owns
        // the latch's memory, which outlives this call.
        unsafe { Latch::count_down(self.0.latch()) }
    }
}
