//! Taking the jobs that will never run out of the queue (Java's `purge`): cancelled
//! through their handle or their group, or past their deadline.
//!
//! A priority queue is a locked map, from which `purge` removes them in place. The FIFO
//! queue is a lock-free ring, which can give up only its oldest jobs: so `purge` takes
//! them all out, skips the doomed ones, and keeps the others here, in [`Kept`], in their
//! order. Workers take the kept jobs before any job of the ring, all of which are newer:
//! so the order of the queue stands.
//!
//! ## Nothing is stranded
//!
//! The jobs `purge` holds are in no queue until it puts them into [`Kept`]. It holds
//! `Kept`'s lock from before it takes them out of the ring until they are in, so that
//! whoever must see every job locks it too, and so waits for the purge: a worker's last
//! look before it exits and `shutdown_now`'s drain (both after the ring was closed, and
//! so found empty by the purge if it locks `Kept` after them). An idle worker sleeps on
//! the ring, which sees nothing of a job put into `Kept`: `purge` wakes it as a push onto
//! a worker's own queue does (see [`local`](crate::local)'s *Waking idle workers*), and
//! the sleeper looks into `Kept` after it counted itself among the sleepers.

use std::collections::VecDeque;

use crate::job::Job;
use crate::pool::Shared;
use crate::queue::Queue;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{Mutex, MutexGuard};

/// The jobs `purge` took out of the FIFO queue and did not drop, oldest first: ahead of
/// the queue, for the workers to take first.
#[derive(Debug)]
pub(crate) struct Kept {
    jobs: Mutex<VecDeque<Job>>,
    /// `jobs.len()`, written under the lock, read without it: a worker looks into `jobs`
    /// (and takes the lock) only when it is not 0.
    len: AtomicUsize,
}

impl Kept {
    pub(crate) fn new() -> Kept {
        Kept {
            jobs: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// The oldest kept job, if the count says there may be one. Without the lock: a
    /// worker's look on its way to the ring, which an idle worker repeats after it counted
    /// itself among the sleepers (see the module).
    pub(crate) fn take_if_any(&self) -> Option<Job> {
        if self.len() == 0 {
            return None;
        }
        self.take()
    }

    /// The oldest kept job, waiting for a purge under way: a worker's last look.
    pub(crate) fn take(&self) -> Option<Job> {
        self.lock().pop_front()
    }

    /// The kept jobs, locked: no purge puts any in while the guard lives.
    pub(crate) fn lock(&self) -> KeptGuard<'_> {
        KeptGuard {
            jobs: self.jobs.lock(),
            len: &self.len,
        }
    }
}

/// The locked kept jobs; sets [`Kept::len`] when it goes, before it unlocks.
pub(crate) struct KeptGuard<'a> {
    jobs: MutexGuard<'a, VecDeque<Job>>,
    len: &'a AtomicUsize,
}

impl core::ops::Deref for KeptGuard<'_> {
    type Target = VecDeque<Job>;

    fn deref(&self) -> &VecDeque<Job> {
        &self.jobs
    }
}

impl core::ops::DerefMut for KeptGuard<'_> {
    fn deref_mut(&mut self) -> &mut VecDeque<Job> {
        &mut self.jobs
    }
}

impl Drop for KeptGuard<'_> {
    fn drop(&mut self) {
        self.len.store(self.jobs.len(), Ordering::Relaxed);
    }
}

impl core::fmt::Debug for KeptGuard<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeptGuard")
            .field("len", &self.jobs.len())
            .finish()
    }
}

impl Shared {
    /// Takes every doomed job out of the shared queue and skips it here; returns how many.
    pub(crate) fn purge(&self) -> usize {
        let doomed = match &self.queue {
            Queue::Priority(queue) => queue.remove_doomed(),
            Queue::Fifo { .. } => self.purge_fifo(),
        };
        let purged = doomed.len();
        for job in doomed {
            // A doomed job only skips itself (dropping its captures, resolving a group);
            // it counts as what doomed it, unless withdrawn, which counted already.
            let outcome = self.run(job, None);
            self.counts.ended_elsewhere(&outcome);
        }
        purged
    }

    /// The FIFO half of [`purge`](Shared::purge): returns the doomed jobs, and keeps the
    /// others in [`Kept`], in their order. The kept jobs stay at most `queue_capacity`: so
    /// a purge adds at most that many to what waits beside the ring.
    fn purge_fifo(&self) -> Vec<Job> {
        let locals = &self.locals;
        let mut doomed = Vec::new();
        let mut kept = locals.kept.lock();
        // The jobs kept before are older than any in the ring.
        let before: Vec<Job> = kept.drain(..).collect();
        for job in before {
            if job.doomed() {
                doomed.push(job);
            } else {
                kept.push_back(job);
            }
        }
        let room = self.config.queue_capacity.saturating_sub(kept.len());
        let mut taken = Vec::new();
        // Empty or closed: nothing to take, and nothing will come (closed) or whatever
        // comes is newer than what is kept.
        let _ = self.queue.try_pop_many(&mut taken, room);
        for job in taken {
            if job.doomed() {
                doomed.push(job);
            } else {
                kept.push_back(job);
            }
        }
        let any_kept = !kept.is_empty();
        drop(kept);
        if any_kept {
            locals.announce();
        }
        doomed
    }
}
