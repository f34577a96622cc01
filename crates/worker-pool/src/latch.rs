//! Counting a set of jobs down to zero: what a [`Scope`](crate::Scope) and a
//! [`Group`](crate::Group) wait on.

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Arc, Condvar, Mutex};

/// The number of unfinished jobs of a scope or group, and a wait for it to reach zero.
///
/// ## Memory ordering
///
/// A job's end (the `Release` decrement, after its closure and everything it captured
/// are dropped) happens before `wait` returns (its `Acquire` load of zero): whoever waits
/// sees every write of every job.
#[derive(Debug, Default)]
pub(crate) struct Latch {
    pending: AtomicUsize,
    lock: Mutex<()>,
    zero: Condvar,
}

impl Latch {
    /// Blocks until no job is pending.
    pub(crate) fn wait(&self) {
        if self.pending.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut guard = self.lock.lock();
        // Checked under the lock: `done` takes it before notifying, so the last job
        // cannot finish between this check and the wait without waking it.
        while self.pending.load(Ordering::Acquire) != 0 {
            guard = self.zero.wait(guard);
        }
    }

    fn done(&self) {
        if self.pending.fetch_sub(1, Ordering::Release) == 1 {
            let _guard = self.lock.lock();
            self.zero.notify_all();
        }
    }
}

/// What owns a latch: a scope's or a group's shared state.
pub(crate) trait Counted {
    fn latch(&self) -> &Latch;
}

/// One pending job of `S`: made when the job is, dropped after the job's closure is
/// (field order in the task structs sees to that), which counts it down.
#[derive(Debug)]
pub(crate) struct Pending<S: Counted>(Arc<S>);

impl<S: Counted> Pending<S> {
    pub(crate) fn new(owner: &Arc<S>) -> Pending<S> {
        owner.latch().pending.fetch_add(1, Ordering::Relaxed);
        Pending(owner.clone())
    }

    pub(crate) fn owner(&self) -> &S {
        &self.0
    }
}

impl<S: Counted> Drop for Pending<S> {
    fn drop(&mut self) {
        self.0.latch().done();
    }
}
