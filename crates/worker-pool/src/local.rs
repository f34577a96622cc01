//! Each worker's own queue: for the jobs its running job submits (rayon's rule, and Java's
//! `ForkJoinPool`'s), and for the rest of the batch it took from the shared queue. Idle
//! workers steal from it.
//!
//! Why: a job that submits jobs — a scope's submitter, a divide-and-conquer step — would
//! otherwise write the shared queue's tail once per job, against every other submitter,
//! and could block its own worker on a full queue (with every worker blocked so, the pool
//! would deadlock). A push onto its own queue writes no shared line, and never waits. And
//! a worker that takes a batch from the shared queue pays one compare-and-swap on its
//! head line for many jobs.
//!
//! ## Waking idle workers
//!
//! Idle workers sleep on the shared queue, which sees nothing of a push onto a worker's
//! own queue. So an idle worker first counts itself in `sleepers`, then looks at every
//! worker's queue once more, then sleeps; a push first pushes, then reads `sleepers`. With
//! a `SeqCst` fence between the two steps on each side (Dekker's pattern), one of them
//! sees the other: the idle worker finds the job, or the pusher finds a sleeper and sends
//! it a nudge, which wakes it to steal. A sleeper waits on the shared queue and on the
//! nudges' own channel at once (a [`Select`]), so a nudge is never a job: it takes no
//! place in the shared queue and no count in the stats. One nudge is in flight at a
//! time (`nudging`). A worker that steals passes the word on the same way, so wake-ups
//! spread as the work does: a thief takes at most half a queue, and the rest may need
//! another.
//!
//! ## Closing
//!
//! Once the pool is closed no job enters an own queue: a push, and a batch taken from the
//! shared queue, first flag the worker as `moving`, then (after a fence) look whether the
//! pool is closed, and refuse or take a single job if it is. Whoever must see every queued
//! job after the close — `shutdown_now`'s drain, a worker's last look before it exits —
//! closes (or sees the close) first, then waits for each worker's flag to clear before it
//! looks at its queue (Dekker's pattern again). So a job is refused, or seen.

use core::cell::Cell;
use core::ptr;
use std::time::Instant;

use bounded_buffer::{Receiver, Select, Sender};
use crossbeam_utils::CachePadded;
use patterns_core::Backoff;

use crate::deque::{Steal, Stealer, Worker};
use crate::job::Job;
use crate::pool::Shared;
use crate::purge::Kept;
use crate::queue::{PopError, Queue};
use crate::stats::WorkerStats;
use crate::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex, MutexGuard};
use crate::worker;

/// The most jobs a worker takes from the shared queue at once. 16 took 15% more time per
/// tiny job than 64 with four submitters; 256 only 5% less, and a worker that holds more
/// jobs back starts more of them out of order.
const MAX_BATCH: usize = 64;

/// The pool's side of one worker's own queue.
#[derive(Debug)]
struct Entry {
    stealer: Stealer<Job>,
    /// Set while the worker pushes onto its queue (a job's submission, or the rest of a
    /// batch): see the module's *Closing*.
    moving: Arc<AtomicBool>,
}

/// A worker's own queue, as [`Locals::register`] hands it to the worker.
#[derive(Debug)]
pub(crate) struct OwnQueue {
    queue: Worker<Job>,
    moving: Arc<AtomicBool>,
}

/// The pool's side of the workers' own queues.
#[derive(Debug)]
pub(crate) struct Locals {
    /// Whether workers keep their own queues: not with priorities, whose order is global.
    enabled: bool,
    /// The jobs a worker takes from the shared queue at once: at most half the queue's
    /// capacity shared out among the most workers the pool may have, so that the jobs
    /// taken but not started never outnumber half the capacity.
    batch: usize,
    /// Each live worker's queue, by worker index.
    entries: Mutex<Vec<Option<Entry>>>,
    /// Set by the first push onto a worker's own queue: until then no idle worker need
    /// look for jobs to steal (nor take the lock of `entries`).
    used: AtomicBool,
    /// Workers that are idle: about to sleep on the shared queue, or asleep on it.
    sleepers: CachePadded<AtomicUsize>,
    /// A nudge is on its way to a sleeper, not yet taken.
    nudging: AtomicBool,
    /// The nudges' channel, of capacity 1: `nudging` lets one in at a time.
    nudge_tx: Sender<()>,
    nudge_rx: Receiver<()>,
    /// The jobs `purge` kept, ahead of the shared queue (see [`purge`](crate::purge)).
    pub(crate) kept: Kept,
}

impl Locals {
    pub(crate) fn new(enabled: bool, capacity: usize, max_workers: usize) -> Locals {
        let (nudge_tx, nudge_rx) = bounded_buffer::channel(1);
        Locals {
            enabled,
            batch: (capacity / max_workers.saturating_mul(2)).clamp(1, MAX_BATCH),
            entries: Mutex::new(Vec::new()),
            used: AtomicBool::new(false),
            sleepers: CachePadded::new(AtomicUsize::new(0)),
            nudging: AtomicBool::new(false),
            nudge_tx,
            nudge_rx,
            kept: Kept::new(),
        }
    }

    /// A queue for a new worker `index`, registered. Called under the crew's lock, as is
    /// [`unregister`](Locals::unregister), so that an index is reused only once its
    /// previous worker is gone.
    pub(crate) fn register(&self, index: usize) -> OwnQueue {
        let own = OwnQueue {
            queue: Worker::new_fifo(),
            moving: Arc::new(AtomicBool::new(false)),
        };
        let mut entries = self.entries.lock();
        if entries.len() <= index {
            entries.resize_with(index + 1, || None);
        }
        entries[index] = Some(Entry {
            stealer: own.queue.stealer(),
            moving: Arc::clone(&own.moving),
        });
        own
    }

    /// Worker `index` exits; its queue is empty (it exits only when idle).
    pub(crate) fn unregister(&self, index: usize) {
        self.entries.lock()[index] = None;
    }

    /// The jobs in the workers' own queues, and those `purge` kept.
    pub(crate) fn len(&self) -> usize {
        let entries = self.entries.lock();
        let own: usize = entries
            .iter()
            .flatten()
            .map(|entry| entry.stealer.len())
            .sum();
        own + self.kept.len()
    }

    /// The entries, once every push under way when the pool closed has ended: from then
    /// on they hold every job that will ever be in an own queue. The caller closed the
    /// pool, or saw it closed.
    fn settled(&self) -> MutexGuard<'_, Vec<Option<Entry>>> {
        // Between the close (or the sight of it) and the looks at `moving`.
        fence(Ordering::SeqCst);
        let entries = self.entries.lock();
        for entry in entries.iter().flatten() {
            let backoff = Backoff::new();
            while entry.moving.load(Ordering::Acquire) {
                backoff.snooze();
            }
        }
        entries
    }

    /// Takes every job that has not started from the workers' own queues, then those
    /// `purge` kept, then the shared queue's: what `shutdown_now` hands back, in the
    /// order they were taken from the shared queue. The pool is closed.
    pub(crate) fn drain(&self, shared: &Queue) -> Vec<Job> {
        let mut jobs = Vec::new();
        let entries = self.settled();
        for entry in entries.iter().flatten() {
            while let Some(job) = steal_one(&entry.stealer) {
                jobs.push(job);
            }
        }
        // Locked across the drain of the shared queue, so that no purge takes jobs out
        // of it meanwhile to keep them after this look (see `purge`).
        let mut kept = self.kept.lock();
        jobs.extend(kept.drain(..));
        jobs.extend(shared.drain());
        drop(kept);
        drop(entries);
        jobs
    }

    /// After jobs landed in an own queue or in [`Kept`]: nudges a sleeping worker, if
    /// there is one and no nudge is on its way yet.
    pub(crate) fn announce(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) == 0 || self.nudging.swap(true, Ordering::SeqCst) {
            return;
        }
        // Never full (`nudging` admits one nudge at a time) nor closed (the pool holds
        // both ends).
        let sent = self.nudge_tx.try_send(());
        debug_assert!(sent.is_ok(), "{sent:?}");
    }

    /// A sleeper took the nudge: the next push may send another. The fence orders this
    /// before the sleeper's look at the queues (see the module).
    fn nudged(&self) {
        self.nudging.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }
}

/// Takes the oldest job of a queue that is not the caller's own.
fn steal_one(stealer: &Stealer<Job>) -> Option<Job> {
    loop {
        match stealer.steal() {
            Steal::Success(job) => return Some(job),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

/// A worker's side: its own queue, and what it needs to run a job.
pub(crate) struct Local<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) index: usize,
    pub(crate) stats: &'a WorkerStats,
    queue: Worker<Job>,
    /// This worker's flag in its [`Entry`].
    moving: Arc<AtomicBool>,
    /// The buffer a batch is taken into, kept for the next.
    batch: Cell<Vec<Job>>,
}

crate::sync::thread_local! {
    /// The [`Local`] of the worker running on this thread, type-erased; null on a thread
    /// that is not a worker. Set for the whole of the worker's loop by [`Local::enter`].
    #[allow(clippy::missing_const_for_thread_local)] // loom's macro takes no `const {}`
    static CURRENT: Cell<*const ()> = Cell::new(ptr::null());
}

/// Clears [`CURRENT`] when the worker's loop ends, even by unwinding.
struct Entered;

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(ptr::null()));
    }
}

/// Calls `f` with the worker running on this thread, if any.
fn with_current<R>(f: impl FnOnce(Option<&Local<'_>>) -> R) -> R {
    let current = CURRENT.with(Cell::get).cast::<Local<'_>>();
    // SAFETY: a non-null pointer was set by `Local::enter` on this thread, and is reset
    // (by `Entered`'s drop) before that `Local` can be dropped or moved: `enter` borrows
    // it for as long as the pointer is set. Only this thread reads the pointer, and
    // `Local` is used through shared references only.
    f(unsafe { current.as_ref() })
}

/// Whether the current thread is a worker of the pool `shared`, and that pool keeps
/// own queues: where [`push`] goes. Asked apart from the push so that a job submitted
/// from elsewhere (most are) is not moved in and out of a call for nothing.
pub(crate) fn is_own(shared: &Shared) -> bool {
    shared.locals.enabled && on_worker_of(shared)
}

/// Whether the current thread is a worker of the pool `shared`.
pub(crate) fn on_worker_of(shared: &Shared) -> bool {
    with_current(|local| local.is_some_and(|local| ptr::eq(local.shared, shared)))
}

/// Queues `job` on the current thread's own queue; only where [`is_own`] said so. Gives
/// it back if the pool is closed.
pub(crate) fn push(job: Job) -> Result<(), Job> {
    with_current(|local| {
        local
            .expect("`push` is called on a worker, where `is_own` was true")
            .push(job)
    })
}

impl<'a> Local<'a> {
    pub(crate) fn new(
        shared: &'a Shared,
        index: usize,
        stats: &'a WorkerStats,
        own: OwnQueue,
    ) -> Local<'a> {
        Local {
            shared,
            index,
            stats,
            queue: own.queue,
            moving: own.moving,
            batch: Cell::new(Vec::with_capacity(shared.locals.batch)),
        }
    }

    /// Runs `f` with this as the thread's current worker.
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        CURRENT.with(|current| current.set(ptr::from_ref(self).cast()));
        let _entered = Entered;
        f()
    }

    /// Runs `job` here.
    pub(crate) fn run(&self, job: Job) {
        worker::run_one(self.shared, self.index, self.stats, job);
    }

    /// Flags this worker as moving jobs onto its queue, unless the pool is closed (see
    /// the module's *Closing*); `end_move` clears the flag.
    fn start_move(&self) -> bool {
        self.moving.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if self.shared.crew.is_closed() {
            self.moving.store(false, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// The pushes are done: whoever waits on the flag sees them.
    fn end_move(&self) {
        self.moving.store(false, Ordering::Release);
    }

    fn push(&self, job: Job) -> Result<(), Job> {
        if !self.start_move() {
            return Err(job);
        }
        self.push_own(job);
        self.end_move();
        self.announce();
        Ok(())
    }

    /// Queues `job` on this worker's own queue; the caller announces it.
    fn push_own(&self, job: Job) {
        let used = &self.shared.locals.used;
        if !used.load(Ordering::Relaxed) {
            // Before the push, and so before the fence that follows it (`announce`).
            used.store(true, Ordering::Relaxed);
        }
        self.queue.push(job);
    }

    /// See [`Locals::announce`].
    fn announce(&self) {
        self.shared.locals.announce();
    }

    /// The oldest job of this worker's own queue.
    #[inline]
    pub(crate) fn pop_own(&self) -> Option<Job> {
        self.queue.pop()
    }

    /// The next job once this worker's own queue is empty ([`pop_own`](Local::pop_own)
    /// came back empty; only this worker fills it), without waiting: from the shared
    /// queue, or another worker's. `Err(Closed)` once the shared queue is closed and
    /// empty; `Err(TimedOut)` if there is nothing now.
    pub(crate) fn next(&self) -> Result<Job, PopError> {
        if let Some(job) = self.take_kept(false) {
            return Ok(job);
        }
        let taken = if self.shared.locals.enabled {
            self.take_batch()
        } else {
            self.take_one()
        };
        taken.or_else(|why| self.steal().ok_or(why))
    }

    /// Takes a batch of jobs from the shared queue (see [`Locals::batch`]): returns the
    /// first, and queues the rest on its own queue. Once the pool is closed, one job.
    fn take_batch(&self) -> Result<Job, PopError> {
        if !self.start_move() {
            return self.take_one();
        }
        let mut batch = self.batch.take();
        let taken = self
            .shared
            .queue
            .try_pop_many(&mut batch, self.shared.locals.batch);
        let mut jobs = batch.drain(..);
        let first = jobs.next();
        for job in jobs {
            self.push_own(job);
        }
        self.batch.set(batch);
        self.end_move();
        if !self.queue.is_empty() {
            self.announce();
        }
        first
            .ok_or(PopError::TimedOut)
            .or_else(|none| taken.and(Err(none)))
    }

    /// Takes the oldest job `purge` kept: if the count says there may be one, or, with
    /// `wait`, after waiting for a purge under way (a last look). Passes the word on if
    /// more are left, as a thief does.
    fn take_kept(&self, wait: bool) -> Option<Job> {
        let kept = &self.shared.locals.kept;
        let job = if wait {
            kept.take()
        } else {
            kept.take_if_any()
        }?;
        if kept.len() > 0 {
            self.announce();
        }
        Some(job)
    }

    /// Takes one job from the shared queue.
    fn take_one(&self) -> Result<Job, PopError> {
        self.shared.queue.try_pop()
    }

    /// Waits for a job on the shared queue until `deadline` (forever if `None`) or until
    /// a resize closes `watch` (`Err(Woken)`), counted among the sleepers, and woken by a
    /// nudge to steal: see the module's documentation. Without own queues (a priority
    /// queue) there is nothing to steal and no nudge: a wait on the queue and the watch.
    pub(crate) fn sleep(
        &self,
        deadline: Option<Instant>,
        watch: &Receiver<()>,
    ) -> Result<Job, PopError> {
        let locals = &self.shared.locals;
        let jobs = match self.shared.queue.receiver() {
            Ok(jobs) => jobs,
            Err(priority) => return priority.pop(deadline, Some(watch)),
        };
        locals.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // A job before a nudge, when both are there; a resize last.
        let mut waits = Select::new_biased();
        let job_ready = waits.recv(jobs);
        let nudged = waits.recv(&locals.nudge_rx);
        waits.recv(watch);
        let found = loop {
            if let Some(job) = self.steal().or_else(|| self.take_kept(false)) {
                break Ok(job);
            }
            let selected = match deadline {
                None => waits.select(),
                Some(deadline) => match waits.select_deadline(deadline) {
                    Ok(selected) => selected,
                    Err(_) => break Err(PopError::TimedOut),
                },
            };
            if selected.index() == job_ready {
                break selected.recv(jobs).map_err(|_| PopError::Closed);
            }
            if selected.index() != nudged {
                // The watch is closed: nothing else ever comes through it.
                let _ = selected.recv(watch);
                break Err(PopError::Woken);
            }
            // Never fails: the pool holds the nudges' sender.
            let _ = selected.recv(&locals.nudge_rx);
            locals.nudged();
        };
        locals.sleepers.fetch_sub(1, Ordering::SeqCst);
        found
    }

    /// Steals a job, and up to half of the rest of its queue, from another worker.
    fn steal(&self) -> Option<Job> {
        let locals = &self.shared.locals;
        if !locals.used.load(Ordering::Relaxed) {
            return None;
        }
        let found = self.steal_from(&locals.entries.lock());
        if found.is_some() {
            // Half the victim's queue may still wait there, or in this one.
            self.announce();
        }
        found
    }

    fn steal_from(&self, entries: &[Option<Entry>]) -> Option<Job> {
        let count = entries.len();
        // Starting after this worker's index spreads the thieves over the victims.
        let victims = (1..count).map(|offset| (self.index + offset) % count);
        for victim in victims {
            let Some(entry) = &entries[victim] else {
                continue;
            };
            loop {
                match entry.stealer.steal_batch_and_pop(&self.queue) {
                    Steal::Success(job) => return Some(job),
                    Steal::Empty => break,
                    Steal::Retry => {}
                }
            }
        }
        None
    }

    /// The shared queue is closed and empty: a last look at the other workers' queues,
    /// once the pushes under way are done, and at the jobs `purge` kept, once a purge
    /// under way is done, before this worker exits. A worker whose job waits for a job
    /// on its own queue may never get to it.
    pub(crate) fn last_look(&self) -> Option<Job> {
        let entries = self.shared.locals.settled();
        self.steal_from(&entries).or_else(|| self.take_kept(true))
    }
}
