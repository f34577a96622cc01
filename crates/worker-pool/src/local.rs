//! Each worker's own queue, for the jobs that its running job submits (rayon's rule, and
//! Java's `ForkJoinPool`'s), from which idle workers steal.
//!
//! Why: a job that submits jobs — a scope's submitter, a divide-and-conquer step — would
//! otherwise write the shared queue's tail once per job, against every other submitter,
//! and could block its own worker on a full queue (with every worker blocked so, the pool
//! would deadlock). A push onto its own queue writes no shared line, and never waits.
//!
//! ## Waking idle workers
//!
//! Idle workers sleep on the shared queue, which sees nothing of a push onto a worker's
//! own queue. So an idle worker first counts itself in `sleepers`, then looks at every
//! worker's queue once more, then sleeps; a push first pushes, then reads `sleepers`. With
//! a `SeqCst` fence between the two steps on each side (Dekker's pattern), one of them
//! sees the other: the idle worker finds the job, or the pusher finds a sleeper and sends
//! it a nudge — an empty job — through the shared queue, which wakes it to steal. One nudge
//! is in flight at a time (`nudging`); a worker that steals a batch and leaves jobs in its
//! own queue nudges the next sleeper the same way, so wake-ups spread as the work does.

use core::cell::Cell;
use core::ptr;

use crossbeam_utils::CachePadded;
use patterns_core::Backoff;

use crate::deque::{Steal, Stealer, Worker};
use crate::job::Job;
use crate::pool::Shared;
use crate::queue::{PopError, Queue};
use crate::stats::WorkerStats;
use crate::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex};
use crate::worker;

/// The most jobs a worker takes from the shared queue at once: one compare-and-swap on
/// the queue's head line for all, instead of one each, while the rest wait in its own
/// queue, where idle workers steal them. 16 took 15% more time per tiny job than 64 with
/// four submitters; 256 only 5% less, and a worker holding more jobs back is more jobs
/// started out of order.
const MAX_BATCH: usize = 64;

/// The pool's side of one worker's own queue.
#[derive(Debug)]
struct Entry {
    stealer: Stealer<Job>,
    /// Set while the worker moves a batch from the shared queue to its own: jobs that
    /// are in neither queue, which `shutdown_now` must wait for to hand them back.
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
    stealers: Mutex<Vec<Option<Entry>>>,
    /// Set by the first push onto a worker's own queue: until then no idle worker need
    /// look for jobs to steal (nor take the lock of `stealers`).
    used: AtomicBool,
    /// Workers that are idle: about to sleep on the shared queue, or asleep on it.
    sleepers: CachePadded<AtomicUsize>,
    /// A nudge is in the shared queue, not yet taken.
    nudging: AtomicBool,
}

impl Locals {
    pub(crate) fn new(enabled: bool, capacity: usize, max_workers: usize) -> Locals {
        Locals {
            enabled,
            batch: (capacity / max_workers.saturating_mul(2)).clamp(1, MAX_BATCH),
            stealers: Mutex::new(Vec::new()),
            used: AtomicBool::new(false),
            sleepers: CachePadded::new(AtomicUsize::new(0)),
            nudging: AtomicBool::new(false),
        }
    }

    /// A queue for a new worker `index`, its stealer registered. Called under the
    /// crew's lock, as is [`unregister`](Locals::unregister), so that an index is
    /// reused only once its previous worker is gone.
    pub(crate) fn register(&self, index: usize) -> OwnQueue {
        let own = OwnQueue {
            queue: Worker::new_fifo(),
            moving: Arc::new(AtomicBool::new(false)),
        };
        let mut stealers = self.stealers.lock();
        if stealers.len() <= index {
            stealers.resize_with(index + 1, || None);
        }
        stealers[index] = Some(Entry {
            stealer: own.queue.stealer(),
            moving: Arc::clone(&own.moving),
        });
        own
    }

    /// Worker `index` exits; its queue is empty (it exits only when idle).
    pub(crate) fn unregister(&self, index: usize) {
        self.stealers.lock()[index] = None;
    }

    /// The jobs in the workers' own queues.
    pub(crate) fn len(&self) -> usize {
        let stealers = self.stealers.lock();
        stealers
            .iter()
            .flatten()
            .map(|entry| entry.stealer.len())
            .sum()
    }

    /// Takes every job that has not started from the workers' own queues and then from
    /// the shared queue: what `shutdown_now` hands back, in the order they were taken
    /// from the shared queue (each worker's own, then the shared queue's). The pool is
    /// closed: no worker starts a batch any more, and those moving one are waited for
    /// (a few pushes, nothing that blocks), so no job is between two queues.
    pub(crate) fn drain(&self, shared: &Queue) -> Vec<Job> {
        // Between the close and the looks at `moving` (see `Local::take_batch`).
        fence(Ordering::SeqCst);
        let stealers = self.stealers.lock();
        let mut jobs = Vec::new();
        for entry in stealers.iter().flatten() {
            let backoff = Backoff::new();
            while entry.moving.load(Ordering::SeqCst) {
                backoff.snooze();
            }
            loop {
                match entry.stealer.steal() {
                    Steal::Success(job) => jobs.push(job),
                    Steal::Empty => break,
                    Steal::Retry => {}
                }
            }
        }
        drop(stealers);
        jobs.extend(shared.drain().into_iter().filter(|job| !job.is_nudge()));
        jobs
    }

    /// A worker took `nudge` from the shared queue: the next push may send another.
    /// The fence orders this before the caller's look at the queues (see the module).
    pub(crate) fn nudged(&self, nudge: Job) {
        debug_assert!(nudge.is_nudge());
        self.nudging.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
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
/// own queues: where [`push`] may go. Asked apart from the push so that a job submitted
/// from elsewhere (most are) is not moved in and out of a call for nothing.
pub(crate) fn is_own(shared: &Shared) -> bool {
    shared.locals.enabled
        && with_current(|local| local.is_some_and(|local| ptr::eq(local.shared, shared)))
}

/// Queues `job` on the current thread's own queue; only where [`is_own`] said so.
pub(crate) fn push(job: Job) {
    with_current(|local| {
        local
            .expect("`push` is called on a worker, where `is_own` was true")
            .push(job);
    });
}

/// On a worker, runs the jobs of its own queue until `done` is true or the queue is
/// empty: a worker that waits for jobs it submitted itself runs them (rayon's rule),
/// rather than wait for another worker to steal them — with every worker waiting so,
/// none would. Elsewhere, does nothing.
pub(crate) fn help_until(mut done: impl FnMut() -> bool) {
    with_current(|local| {
        if let Some(local) = local {
            while !done() {
                match local.queue.pop() {
                    Some(job) => local.run(job, true),
                    None => break,
                }
            }
        }
    });
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

    /// Runs `job` here; `nested` if it runs inside another job of this worker's.
    pub(crate) fn run(&self, job: Job, nested: bool) {
        worker::run_one(self.shared, self.index, self.stats, job, nested);
    }

    fn push(&self, job: Job) {
        self.push_own(job);
        self.announce();
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

    /// After jobs landed in this worker's queue: nudges a sleeping worker, if there is
    /// one and no nudge is on its way yet.
    fn announce(&self) {
        let locals = &self.shared.locals;
        fence(Ordering::SeqCst);
        if locals.sleepers.load(Ordering::Relaxed) == 0
            || locals.nudging.swap(true, Ordering::SeqCst)
        {
            return;
        }
        if self.shared.queue.try_push(Job::nudge(), 0).is_err() {
            // Full: the sleepers have jobs to wake for, and look here next. Closed: the
            // workers look at every queue before they exit.
            locals.nudging.store(false, Ordering::SeqCst);
        }
    }

    /// The next job, without waiting: from this worker's queue, the shared queue, or
    /// another worker's. `Err(Closed)` once the shared queue is closed and empty;
    /// `Err(TimedOut)` if there is nothing now.
    pub(crate) fn next(&self) -> Result<Job, PopError> {
        if let Some(job) = self.queue.pop() {
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
    /// first, and queues the rest on its own queue.
    fn take_batch(&self) -> Result<Job, PopError> {
        // Dekker's pattern again, with `shutdown_now`, which closes the crew and then
        // waits for `moving` to clear: either it sees this batch moving, or this sees
        // the crew closed and takes a single job (the one race `shutdown_now` allows).
        self.moving.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.shared.crew.is_closed() {
            self.moving.store(false, Ordering::SeqCst);
            return self.take_one();
        }
        let mut batch = self.batch.take();
        let taken = self
            .shared
            .queue
            .try_pop_many(&mut batch, self.shared.locals.batch);
        let mut first = None;
        for job in batch.drain(..) {
            if job.is_nudge() {
                self.shared.locals.nudged(job);
            } else if first.is_none() {
                first = Some(job);
            } else {
                self.push_own(job);
            }
        }
        self.batch.set(batch);
        self.moving.store(false, Ordering::Release);
        match first {
            Some(job) => {
                if !self.queue.is_empty() {
                    self.announce();
                }
                Ok(job)
            }
            // Nothing, or only a nudge: whatever that was for is in another worker's
            // queue, where the caller looks next.
            None => taken.and(Err(PopError::TimedOut)),
        }
    }

    /// Takes one job from the shared queue.
    fn take_one(&self) -> Result<Job, PopError> {
        loop {
            match self.shared.queue.try_pop() {
                Ok(job) if job.is_nudge() => self.shared.locals.nudged(job),
                taken => return taken,
            }
        }
    }

    /// Waits for a job on the shared queue until `deadline` (forever if `None`),
    /// counted among the sleepers: see the module's documentation.
    pub(crate) fn sleep(&self, deadline: Option<std::time::Instant>) -> Result<Job, PopError> {
        let locals = &self.shared.locals;
        locals.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let found = loop {
            if let Some(job) = self.steal() {
                break Ok(job);
            }
            match self.shared.queue.pop(deadline) {
                Ok(job) if job.is_nudge() => locals.nudged(job),
                found => break found,
            }
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
        let stealers = locals.stealers.lock();
        let count = stealers.len();
        // Starting after this worker's index spreads the thieves over the victims.
        let victims = (1..count).map(|offset| (self.index + offset) % count);
        for victim in victims {
            let Some(Entry { stealer, .. }) = &stealers[victim] else {
                continue;
            };
            loop {
                match stealer.steal_batch_and_pop(&self.queue) {
                    Steal::Success(job) => {
                        drop(stealers);
                        if !self.queue.is_empty() {
                            self.announce();
                        }
                        return Some(job);
                    }
                    Steal::Empty => break,
                    Steal::Retry => {}
                }
            }
        }
        None
    }
}
