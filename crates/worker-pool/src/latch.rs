//! Counting a set of jobs down: what a [`Scope`](crate::Scope) and a
//! [`Group`](crate::Group) wait on.

use core::ops::Deref;

use crate::sync::atomic::{fence, AtomicUsize, Ordering};
use crate::sync::{Condvar, Mutex};

/// The unfinished jobs of a scope or group, plus one for its owner until the owner
/// waits, and the flag that the count reached zero.
///
/// Counting the owner (as rayon's scope latch does) makes zero final: it cannot be
/// reached while the owner may still add jobs, so the last job to end can set `done`
/// once and for all. That lets a job hold its scope's state by reference rather than
/// by `Arc` — no reference-count traffic per job on the line the count lives on — for
/// `wait` returns only after the last job has set `done` under the lock and let go of
/// it; from then on no job touches the latch.
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

    /// The owner stops adding jobs and blocks until every job has ended.
    pub(crate) fn wait(&self) {
        self.count_down();
        let mut done = self.done.lock();
        while !*done {
            done = self.all_done.wait(done);
        }
    }

    fn count_down(&self) {
        if self.pending.fetch_sub(1, Ordering::Release) == 1 {
            fence(Ordering::Acquire);
            let mut done = self.done.lock();
            *done = true;
            self.all_done.notify_all();
        }
    }
}

/// What owns a latch: a scope's or a group's shared state.
pub(crate) trait Counted {
    fn latch(&self) -> &Latch;
}

/// One pending job, holding its owner's state through `P` (a reference for a scope,
/// whose jobs cannot outlive it; an `Arc` for a group, which may be dropped first).
/// Made when the job is; dropped after the job's closure is (field order in the task
/// structs sees to that), which counts it down.
#[derive(Debug)]
pub(crate) struct Pending<P: Deref>(P)
where
    P::Target: Counted;

impl<P: Deref> Pending<P>
where
    P::Target: Counted,
{
    pub(crate) fn new(owner: P) -> Pending<P> {
        owner.latch().pending.fetch_add(1, Ordering::Relaxed);
        Pending(owner)
    }

    pub(crate) fn owner(&self) -> &P::Target {
        &self.0
    }
}

impl<P: Deref> Drop for Pending<P>
where
    P::Target: Counted,
{
    fn drop(&mut self) {
        self.0.latch().count_down();
    }
}
