//! The pool: submitting jobs, and shutting down.

use core::fmt;
use std::time::{Duration, Instant};

use patterns_core::CancelToken;

use crate::builder::ThreadHook;
use crate::builder::{Builder, Rejection};
use crate::context::JobContext;
use crate::crew::{Crew, Limit, Resize};
use crate::error::{BuildError, BuildErrorKind, JobError, ResizeError, SubmitError};
use crate::group::Group;
use crate::handle::JobHandle;
use crate::idle::Idle;
use crate::job::{Job, Mark};
use crate::local::{self, Locals};
use crate::queue::{PushError, Queue};
use crate::scope::{self, Count, Scope};
use crate::stats::{Ledger, PoolCounts, Stats, WorkerStats};
use crate::sync::atomic::{fence, Ordering};
use crate::sync::Arc;
use crate::task::{
    catch, report, report_unrun, Attached, Detached, Outcome, Plain, RunEnv, Task, WithContext,
};
use crate::wake::Wake;

/// What the workers and the pool's handles share.
pub(crate) struct Shared {
    pub(crate) queue: Queue,
    pub(crate) config: Builder,
    /// Fired by `shutdown_now`; every job's token descends from it.
    pub(crate) root: CancelToken,
    pub(crate) counts: PoolCounts,
    pub(crate) crew: Crew,
    /// The workers' own queues, for the jobs that jobs submit.
    pub(crate) locals: Locals,
    /// Wakes idle workers after a resize.
    pub(crate) wake: Wake,
    /// Counts jobs by generation, for `wait_idle`.
    pub(crate) idle: Idle,
}

/// How long a submit may wait for room in the queue.
#[derive(Debug, Clone, Copy)]
enum Admit {
    /// As the pool's [`Rejection`] policy says.
    Policy,
    /// Not at all.
    Now,
    /// Until then; `None`: for as long as it takes, whatever the policy.
    Until(Option<Instant>),
}

impl Shared {
    /// Queues `job` (or runs it here, under `CallerRuns`); the job comes back if refused.
    fn admit(shared: &Arc<Shared>, job: Job, priority: i32, how: Admit) -> Result<(), PushError> {
        // A job submitted by a job of this pool goes onto its worker's own queue, which
        // takes it whatever the policy: a worker must not wait on its own pool's queue.
        // Either queue refuses a job once the pool is closed.
        if local::is_own(shared) {
            return local::push(job).map_err(PushError::Closed);
        }
        // Below the minimum (a pool that did not prestart), a job starts a worker of its
        // own (Java's rule).
        let job = match shared.crew.grow(shared, job, Limit::Min) {
            Ok(()) => return Ok(()),
            Err(job) => job,
        };
        let job = match shared.queue.try_push(job, priority) {
            Ok(()) => {
                Shared::start_one_if_none(shared);
                return Ok(());
            }
            Err(PushError::Full(job)) => job,
            Err(refused) => return Err(refused),
        };
        // Full: a scaling pool grows, and only now (Java's rule), the new worker taking
        // this job as its first.
        let job = match shared.crew.grow(shared, job, Limit::Max) {
            Ok(()) => return Ok(()),
            Err(job) => job,
        };
        match (how, shared.config.rejection) {
            (Admit::Now, _) | (Admit::Policy, Rejection::Reject) => Err(PushError::Full(job)),
            // A shutdown may have begun since the queue was found full: running the job
            // here or evicting one the shutdown would run is then not ours to do.
            (Admit::Policy, Rejection::CallerRuns | Rejection::DropOldest)
                if shared.crew.is_closed() =>
            {
                Err(PushError::Closed(job))
            }
            (Admit::Until(deadline), _) => shared.push_waiting(job, priority, deadline),
            (Admit::Policy, Rejection::Block) => shared.push_waiting(job, priority, None),
            (Admit::Policy, Rejection::CallerRuns) => {
                let outcome = shared.run(job, None);
                shared.counts.caller_ran(&outcome);
                Ok(())
            }
            (Admit::Policy, Rejection::DropOldest) => shared.push_evicting(job, priority),
        }
    }

    /// After a job was queued: in a pool that idles out, the last worker may have
    /// retired meanwhile (see `Crew::try_retire` for the other side).
    fn start_one_if_none(shared: &Arc<Shared>) {
        if shared.crew.idles_out() {
            fence(Ordering::SeqCst);
            if shared.crew.live() == 0 {
                shared.crew.start_one_if_none(shared);
            }
        }
    }

    /// Whether a job waits in the shared queue or beside it (kept by `purge`): what the
    /// last worker of a pool that idles out looks at before it retires.
    pub(crate) fn has_waiting_jobs(&self) -> bool {
        self.queue.len() > 0 || self.locals.kept.len() > 0
    }

    /// Calls a thread start or exit hook, if set, on worker `index`; its panic goes to
    /// the panic hook.
    pub(crate) fn thread_hook(&self, hook: Option<&ThreadHook>, name: &str, index: usize) {
        if let Some(hook) = hook {
            if let Err(message) = catch(|| hook(index)) {
                report(
                    self.config.on_panic.as_ref(),
                    &format!("{name}: {message}"),
                    Some(index),
                );
            }
        }
    }

    /// Wakes the idle workers to read the limits again (see [`wake`](crate::wake)).
    pub(crate) fn wake_idle(&self) {
        self.wake.wake_all();
        if let Err(priority) = self.queue.receiver() {
            priority.wake();
        }
    }

    /// Waits for room for `job` until `deadline` (forever if `None`), counted among the
    /// blocked submitters; refused at once as `Overloaded` if `max_blocked_submitters`
    /// already wait and the queue is still full.
    fn push_waiting(
        &self,
        job: Job,
        priority: i32,
        deadline: Option<Instant>,
    ) -> Result<(), PushError> {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            // Past its deadline a submit does not wait: it times out now.
            return self.queue.push(job, priority, deadline);
        }
        if !self
            .counts
            .start_waiting(self.config.max_blocked_submitters)
        {
            // Room may have come since the queue was found full: one more look, so that
            // a submitter is refused only while the queue is full.
            return match self.queue.try_push(job, priority) {
                Err(PushError::Full(job)) => Err(PushError::Overloaded(job)),
                other => other,
            };
        }
        let pushed = self.queue.push(job, priority, deadline);
        self.counts.stop_waiting();
        pushed
    }

    /// Makes room by evicting the oldest queued jobs until `job` fits.
    fn push_evicting(&self, mut job: Job, priority: i32) -> Result<(), PushError> {
        loop {
            match self.queue.evict() {
                // Withdrawn (cancelled while queued): counted already, and room for free.
                Some(withdrawn) if withdrawn.release() => {
                    self.abandon(withdrawn, JobError::Cancelled);
                }
                Some(oldest) => {
                    self.counts.discarded();
                    self.abandon(oldest, JobError::Discarded);
                }
                None => {}
            }
            job = match self.queue.try_push(job, priority) {
                Err(PushError::Full(job)) => job,
                done => return done,
            };
        }
    }

    /// Runs `job` on this thread, as worker `worker` with its stats (`None`: on a
    /// caller's thread).
    pub(crate) fn run(&self, job: Job, worker: Option<(usize, &WorkerStats)>) -> Outcome {
        let env = RunEnv {
            root: &self.root,
            worker: worker.map(|(index, _)| index),
            stats: worker.map(|(_, stats)| stats),
            hook: self.config.on_panic.as_ref(),
        };
        // The task catches its closure's panic; this catches what can still unwind out
        // of it — the drop of a result nobody will read, a group's cancel callbacks — so
        // that no panic ever takes a worker down (it would leave a phantom worker).
        let slot = job.slot();
        let outcome = catch(|| job.run(&env)).unwrap_or_else(Outcome::Panicked);
        if let Outcome::Panicked(message) = &outcome {
            report(env.hook, message, env.worker);
        }
        match worker {
            Some((_, stats)) => {
                stats.ended_in(slot);
                self.idle.job_ended();
            }
            None => self.ended_off_worker(slot),
        }
        outcome
    }

    /// Counts the end of a job of `slot` that did not end on a worker, for `wait_idle`.
    fn ended_off_worker(&self, slot: u8) {
        self.counts.ended_off_worker(slot);
        self.idle.wake_waiters_fenced();
    }

    /// Drops `job` unrun, resolving its handle with `why`. A panic from dropping what the
    /// job captured goes to the hook: it must not come out of the unrelated call that
    /// abandons it (a submit that evicts it, `shutdown_now`).
    pub(crate) fn abandon(&self, job: Job, why: JobError) {
        let slot = job.slot();
        if let Err(message) = catch(|| job.abandon(why)) {
            report_unrun(self.config.on_panic.as_ref(), &message, None);
        }
        self.ended_off_worker(slot);
    }
}

/// A pool of worker threads running jobs from one bounded queue.
///
/// Jobs are closures; [`submit`](WorkerPool::submit) returns a [`JobHandle`] for the
/// result, [`execute`](WorkerPool::execute) runs one without any, and the `_with` forms
/// hand the job a [`JobContext`] with its cancel token. [`scope`](WorkerPool::scope) runs
/// jobs that borrow from the caller's stack; [`group`](WorkerPool::group) runs fallible
/// jobs that fail together.
///
/// # Guarantees
///
/// - Every accepted job runs exactly once, or its handle tells why not (cancelled,
///   timed out, discarded, shut down); every refused job comes back to the caller.
/// - A panicking job never takes a worker down; its payload reaches its handle (or
///   group) whole, its message the [`on_panic`](Builder::on_panic) hook, and it counts
///   as completed and as panicked.
/// - Workers take jobs from the shared queue in submission order (in priority order
///   with [`priorities`](Builder::priorities)); with several workers they may start and
///   finish in any. A worker takes up to 64 queued jobs at once (one synchronization
///   for all; never more than the queue's capacity over twice the most workers), runs
///   the first and keeps the rest on its own queue, from which idle workers steal; so
///   a job may start before older ones that wait in another worker's queue. With one
///   worker, jobs submitted from outside the pool start in submission order. With
///   priorities a worker takes one job at a time. Java's rule: in a scaling pool, the
///   job whose submission finds the queue full and makes the pool grow is the new
///   worker's first.
/// - Dropping the pool is [`shutdown`](WorkerPool::shutdown): queued jobs still run,
///   and every worker thread is joined before the drop returns.
/// - A pool dropped by one of its own jobs (the job held its last handle) cannot wait
///   for the thread the drop runs on, so its drop only closes the pool and returns at
///   once; the job goes on, and the other workers run the queued jobs and exit. The last
///   worker to exit joins every other worker's thread; its own thread, which cannot join
///   itself, ends right after, unjoined (detached). So no thread of the pool outlives
///   the last of its jobs by more than its own exit.
///
/// # Jobs that submit jobs
///
/// A job submitted from one of the pool's own workers (by a running job, or a scope or a
/// group opened in one) goes onto that worker's own queue instead of the shared one, as
/// in rayon and Java's `ForkJoinPool`: the worker runs it after its current job, before
/// it looks at the shared queue again, and idle workers steal it, woken for it if they
/// sleep. Such a submit never waits and is never refused as full, whatever the
/// [`Rejection`] policy: a worker waiting for room in its own pool's queue could wait
/// for ever. (Not with [`priorities`](Builder::priorities), whose order is the shared
/// queue's: there a job's submissions queue like any other.)
///
/// A worker does not run other jobs while its job waits — for a scope, a group, a
/// handle, a lock: the jobs that the waiting job submitted need another worker, which
/// steals them. So a job must not wait for its own pool's jobs in a one-worker pool, nor
/// in a pool all of whose workers may wait so at once; and a chain of jobs each
/// submitting the next keeps its worker from the shared queue until it ends.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use worker_pool::WorkerPool;
///
/// let pool = WorkerPool::new(4).unwrap();
/// let hits = Arc::new(AtomicUsize::new(0));
/// for _ in 0..100 {
///     let hits = hits.clone();
///     pool.execute(move || {
///         hits.fetch_add(1, Ordering::Relaxed);
///     })
///     .unwrap();
/// }
/// let sum = pool.submit(|| (1..=10).sum::<u32>()).unwrap();
/// assert_eq!(sum.join(), Ok(55));
/// pool.shutdown();
/// assert_eq!(hits.load(Ordering::Relaxed), 100);
/// ```
pub struct WorkerPool {
    shared: Arc<Shared>,
}

impl WorkerPool {
    /// A pool of `workers` threads with the default settings.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] if `workers` is 0, or a thread could not start.
    pub fn new(workers: usize) -> Result<WorkerPool, BuildError> {
        WorkerPool::builder().workers(workers).build()
    }

    /// Settings for a pool: size, scaling, queue, policy, names, hooks.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn start(config: Builder) -> Result<WorkerPool, BuildError> {
        let queue = if config.priorities {
            Queue::priority(config.queue_capacity)
        } else {
            Queue::fifo(config.queue_capacity).map_err(|source| {
                BuildError::new(BuildErrorKind::Capacity {
                    requested: config.queue_capacity,
                    source,
                })
            })?
        };
        let pool = WorkerPool {
            shared: Arc::new(Shared {
                queue,
                root: CancelToken::new(),
                counts: PoolCounts::new(),
                crew: Crew::new(&config),
                locals: Locals::new(
                    !config.priorities,
                    config.queue_capacity,
                    config.max_workers,
                ),
                wake: Wake::new(),
                idle: Idle::new(),
                config,
            }),
        };
        if pool.shared.config.prestart {
            if let Err(source) = pool.shared.crew.prestart(&pool.shared) {
                let name = pool.shared.config.name.clone();
                pool.shutdown();
                return Err(BuildError::new(BuildErrorKind::Spawn { name, source }));
            }
        }
        Ok(pool)
    }

    /// Submits a job; its handle gives the result. A full queue is handled by the
    /// pool's [`Rejection`] policy (by default, `submit` waits for room).
    ///
    /// # Errors
    ///
    /// [`SubmitError::ShutDown`] once the pool is shutting down;
    /// [`SubmitError::Full`] when the queue is full under [`Rejection::Reject`];
    /// [`SubmitError::Overloaded`] when it would wait for room while
    /// [`max_blocked_submitters`](Builder::max_blocked_submitters) others do. The job
    /// comes back in the error.
    pub fn submit<F, R>(&self, f: F) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit_plain(f, 0, Admit::Policy)
    }

    /// Submits a job without a result slot: the cheapest way to run a closure. Its panic
    /// goes to the [`on_panic`](Builder::on_panic) hook and the stats.
    ///
    /// # Errors
    ///
    /// As [`submit`](WorkerPool::submit).
    pub fn execute<F>(&self, f: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        self.submit_task(Detached(f), 0)
            .map_err(|error| error.map(|job| job.0))
    }

    /// Submits a job if the queue has room now; never blocks, whatever the policy.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`] if the queue is full (after a scaling pool grew as far as
    /// it may), [`SubmitError::ShutDown`] once the pool is shutting down; the job comes
    /// back in the error.
    pub fn try_submit<F, R>(&self, f: F) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit_plain(f, 0, Admit::Now)
    }

    /// Submits a job, waiting up to `timeout` for room in the queue, whatever the policy.
    ///
    /// # Errors
    ///
    /// [`SubmitError::TimedOut`] if the queue stayed full, [`SubmitError::ShutDown`]
    /// once the pool is shutting down, [`SubmitError::Overloaded`] if it would wait while
    /// [`max_blocked_submitters`](Builder::max_blocked_submitters) others do; the job
    /// comes back in the error.
    pub fn submit_timeout<F, R>(
        &self,
        f: F,
        timeout: Duration,
    ) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit_plain(f, 0, Admit::Until(Instant::now().checked_add(timeout)))
    }

    /// Submits a job, waiting until `deadline` for room in the queue, whatever the policy.
    ///
    /// # Errors
    ///
    /// As [`submit_timeout`](WorkerPool::submit_timeout).
    pub fn submit_deadline<F, R>(
        &self,
        f: F,
        deadline: Instant,
    ) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit_plain(f, 0, Admit::Until(Some(deadline)))
    }

    /// Submits a job that reads its [`JobContext`]: its cancel token (fired by
    /// [`JobHandle::cancel`] and [`shutdown_now`](WorkerPool::shutdown_now)), deadline
    /// and worker index.
    ///
    /// # Errors
    ///
    /// As [`submit`](WorkerPool::submit).
    pub fn submit_with<F, R>(&self, f: F) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce(&JobContext<'_>) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit_with_context(f, None)
    }

    /// Submits a job that must finish within `timeout` from now: its token fires at the
    /// deadline (read lazily, through [`JobContext::check`]), a job that has not started
    /// by then never runs, and its handle reads [`JobError::TimedOut`] from the deadline
    /// on unless the job returned before it.
    ///
    /// # Errors
    ///
    /// As [`submit`](WorkerPool::submit).
    pub fn submit_with_timeout<F, R>(
        &self,
        timeout: Duration,
        f: F,
    ) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce(&JobContext<'_>) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit_with_context(f, Instant::now().checked_add(timeout))
    }

    /// Submits a job with a priority: with [`priorities`](Builder::priorities) enabled,
    /// queued jobs of higher priority start first (FIFO among equals); without, the
    /// queue is FIFO and `priority` is ignored.
    ///
    /// # Errors
    ///
    /// As [`submit`](WorkerPool::submit).
    pub fn submit_priority<F, R>(&self, priority: i32, f: F) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit_plain(f, priority, Admit::Policy)
    }

    /// Runs `body` with a [`Scope`] whose jobs may borrow from the caller's stack, and
    /// returns its value once every job of the scope has finished.
    ///
    /// A job of this pool may open a scope: its jobs go onto its worker's own queue, and
    /// other workers steal them while it waits (see [`WorkerPool`]'s *Jobs that submit
    /// jobs*). The waiting job blocks its worker: if every worker waits so, the pool
    /// deadlocks.
    ///
    /// # Panics
    ///
    /// If `body` panics, after the scope's jobs have finished, with `body`'s panic. If a
    /// job of the scope panicked, after all have finished, with a message naming the
    /// first panic (as `rayon::scope` does) — even if its handle was joined.
    ///
    /// # Examples
    ///
    /// ```
    /// use worker_pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(2).unwrap();
    /// let mut words = vec!["a".to_owned(), "bb".to_owned(), "ccc".to_owned()];
    /// let total = pool.scope(|s| {
    ///     let lengths: Vec<_> = words
    ///         .iter()
    ///         .map(|word| s.submit(|| word.len()).unwrap())
    ///         .collect();
    ///     lengths.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    /// });
    /// assert_eq!(total, 6);
    /// words.clear(); // the borrows ended with the scope
    /// ```
    pub fn scope<'env, F, T>(&self, body: F) -> T
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
    {
        scope::run(self, body)
    }

    /// A group of fallible jobs (Go's errgroup): see [`Group`].
    pub fn group<E: Send + 'static>(&self) -> Group<'_, E> {
        Group::new(self)
    }

    /// Stops taking jobs, lets the queued ones run, and joins every worker.
    ///
    /// Idempotent. Called from one of the pool's own jobs it only stops the intake (a
    /// worker cannot join itself); the drop of the pool then joins the workers (see
    /// *Guarantees* for a drop inside a job).
    pub fn shutdown(&self) {
        self.shared.crew.close(&self.shared.queue);
        self.shared.crew.join(None);
    }

    /// As [`shutdown`](WorkerPool::shutdown), giving up waiting after `timeout`. Returns
    /// whether every worker has exited; if not, they go on with the queue, and
    /// [`await_termination`](WorkerPool::await_termination) or the pool's drop waits for
    /// them.
    pub fn shutdown_timeout(&self, timeout: Duration) -> bool {
        self.shared.crew.close(&self.shared.queue);
        self.shared.crew.join(Instant::now().checked_add(timeout))
    }

    /// Stops taking jobs, fires the token of every running job, and returns the queued
    /// jobs that never started, without waiting for the running ones (see
    /// [`await_termination`](WorkerPool::await_termination)). They come in the order the
    /// workers took them from the shared queue: each worker's own queue (the rest of
    /// its last batch, then the jobs its jobs submitted), then the jobs
    /// [`purge`](WorkerPool::purge) kept, then the shared queue, in submission order.
    /// Jobs cancelled through their handle while queued are not among them: they counted
    /// as cancelled at their cancel, and are dropped here.
    ///
    /// The drain races the workers, which go on taking jobs from their own queues (and
    /// one at a time from the shared queue) while it runs: those start instead of being
    /// handed back (possibly later ones than some handed back, as with Java's
    /// `shutdownNow`), and a job a worker takes as the drain ends may start with its
    /// token already fired — one per worker at most. A
    /// running job that ignores its token runs on, and if it returns a value its handle
    /// gets it. The jobs handed back can be [run](PendingJob::run) or dropped;
    /// dropping one resolves its handle as [`JobError::ShutDown`]. Jobs of a
    /// [`scope`](WorkerPool::scope) are never handed back (they borrow the scope's
    /// stack): they are dropped here, their handles reading `ShutDown`.
    pub fn shutdown_now(&self) -> Vec<PendingJob> {
        self.shared.crew.close(&self.shared.queue);
        // Drained before the tokens fire: a token's callback may panic, which `cancel`
        // passes on, and the queued jobs must be out of the workers' reach by then.
        let drained = self.shared.locals.drain(&self.shared.queue);
        self.shared.root.cancel();
        let mut handed_back = 0;
        let pending = drained
            .into_iter()
            .filter_map(|job| {
                // A job cancelled through its handle while queued counted as cancelled
                // then: it is not handed back (nor counted again).
                if job.release() {
                    self.shared.abandon(job, JobError::Cancelled);
                    return None;
                }
                handed_back += 1;
                if job.is_scoped() {
                    self.shared.abandon(job, JobError::ShutDown);
                    None
                } else {
                    Some(PendingJob {
                        job: Some(job),
                        shared: self.shared.clone(),
                    })
                }
            })
            .collect();
        self.shared.counts.handed_back(handed_back);
        pending
    }

    /// Takes the jobs that will never run out of the shared queue now, and returns how
    /// many (Java's `ThreadPoolExecutor::purge`): jobs cancelled through their
    /// [handle](JobHandle::cancel), jobs of a [group](Group) that failed or was cancelled,
    /// and jobs whose [deadline](WorkerPool::submit_with_timeout) passed while they
    /// waited. Each is dropped here, unrun, as the worker that reached it would have
    /// skipped it: its captures are dropped (a panic there goes to the
    /// [`on_panic`](Builder::on_panic) hook), its group fails if it had not, and it counts
    /// as cancelled or timed out in the [stats](WorkerPool::stats) (a job cancelled
    /// through its handle counted as cancelled, and left `queued`, at its cancel).
    ///
    /// Without a purge such jobs stay in the queue until a worker reaches them, holding
    /// their captures and their places: `purge` frees both, so that a full queue of
    /// cancelled jobs takes new ones at once. It looks at the shared queue only: jobs
    /// that workers took into their own queues (at most half the capacity, see
    /// [`queue_capacity`](Builder::queue_capacity)) and those that jobs of the pool
    /// submitted are left to their workers, which skip them.
    ///
    /// The shared queue of a pool without [`priorities`](Builder::priorities) is a
    /// lock-free ring, which gives up only its oldest jobs: `purge` takes the queued jobs
    /// out (at most `queue_capacity` in all), and keeps those that will run beside the
    /// queue, ahead of it, in their order, where the workers take them before any newer
    /// job. They no longer hold places in the queue: after a purge, up to
    /// `queue_capacity` more jobs may queue behind them. A job a worker takes from the
    /// queue while `purge` holds older ones may start before them. A priority queue is
    /// purged in place.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use worker_pool::{JobError, WorkerPool};
    ///
    /// let pool = WorkerPool::builder().workers(1).queue_capacity(4).build().unwrap();
    /// let (release, gate) = mpsc::channel::<()>();
    /// let (started, running) = mpsc::channel();
    /// let blocker = pool.submit(move || { started.send(()).unwrap(); gate.recv().unwrap() }).unwrap();
    /// running.recv().unwrap(); // the only worker is busy
    ///
    /// let doomed: Vec<_> = (0..3).map(|n| pool.submit(move || n).unwrap()).collect();
    /// let kept = pool.submit(|| "runs").unwrap();
    /// for handle in &doomed {
    ///     assert!(handle.cancel());
    /// }
    /// let stats = pool.stats();
    /// assert_eq!((stats.queued, stats.cancelled), (1, 3)); // at once, before any purge
    ///
    /// assert_eq!(pool.purge(), 3); // their places in the queue are free again
    /// assert!(pool.try_submit(|| ()).is_ok());
    /// release.send(()).unwrap();
    /// assert_eq!(kept.join(), Ok("runs"));
    /// assert!(doomed.into_iter().all(|h| h.join() == Err(JobError::Cancelled)));
    /// # blocker.join().unwrap();
    /// ```
    pub fn purge(&self) -> usize {
        self.shared.purge()
    }

    /// Waits up to `timeout` for every worker to exit after a shutdown. Returns whether
    /// they have; false at once if no shutdown has begun.
    pub fn await_termination(&self, timeout: Duration) -> bool {
        self.shared.crew.is_closed() && self.shared.crew.join(Instant::now().checked_add(timeout))
    }

    /// Whether a shutdown has begun: every submit from now on fails with
    /// [`SubmitError::ShutDown`].
    pub fn is_shut_down(&self) -> bool {
        self.shared.crew.is_closed()
    }

    /// Whether the pool is shut down and every worker has exited.
    pub fn is_terminated(&self) -> bool {
        self.shared.crew.is_closed() && self.shared.crew.all_exited()
    }

    /// Waits until every job submitted before this call has ended — run, or skipped —
    /// without shutting the pool down (the `threadpool` crate's `join`). Jobs submitted
    /// meanwhile, by other threads or by the jobs waited for, are not waited for, so a
    /// pool that is never idle does not keep it waiting. Returns true; false at once if
    /// called from one of the pool's own jobs, which would wait for itself.
    ///
    /// A job counts as ended when a worker (or [`purge`](WorkerPool::purge)) is done
    /// with it: a job cancelled while queued ends when it is taken out of the queue, and
    /// one handed back by [`shutdown_now`](WorkerPool::shutdown_now) when its
    /// [`PendingJob`] is run or dropped. The workers count their jobs' ends without a
    /// fence, so a waiter that comes just as a job ends may miss it; it is woken when the
    /// worker next ends a job or runs out of work, and adds up again every 10 ms on its
    /// own, so that is the latest it can return after the last job it waits for.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use worker_pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(2).unwrap();
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..8 {
    ///     let done = done.clone();
    ///     pool.execute(move || { done.fetch_add(1, Ordering::Relaxed); }).unwrap();
    /// }
    /// assert!(pool.wait_idle());
    /// assert_eq!(done.load(Ordering::Relaxed), 8);
    /// assert!(pool.submit(|| ()).is_ok()); // still open
    /// ```
    pub fn wait_idle(&self) -> bool {
        self.wait_idle_until(None)
    }

    /// As [`wait_idle`](WorkerPool::wait_idle), for at most `timeout`: returns whether
    /// every job submitted before the call has ended.
    pub fn wait_idle_timeout(&self, timeout: Duration) -> bool {
        self.wait_idle_until(Instant::now().checked_add(timeout))
    }

    fn wait_idle_until(&self, deadline: Option<Instant>) -> bool {
        let shared = &self.shared;
        if local::on_worker_of(shared) {
            return false;
        }
        shared
            .idle
            .wait(deadline, |slot| shared.crew.ended(&shared.counts, slot))
    }

    /// Sets both [`min_workers`](Builder::min_workers) and
    /// [`max_workers`](Builder::max_workers) to `n` (Java's `setCorePoolSize` and
    /// `setMaximumPoolSize` at once). Growing starts the new workers at once; shrinking
    /// retires idle workers at once and busy ones when their job ends — a running job is
    /// never interrupted.
    ///
    /// # Errors
    ///
    /// [`ResizeError::ZeroWorkers`] for 0; [`ResizeError::ShutDown`] once the pool is
    /// shutting down; [`ResizeError::Spawn`] if a new worker's thread could not start
    /// (the new limits hold, with the workers that did start).
    ///
    /// # Examples
    ///
    /// ```
    /// use worker_pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(1).unwrap();
    /// pool.set_workers(3).unwrap();
    /// assert_eq!(pool.stats().workers, 3); // started at once
    /// assert_eq!(pool.set_workers(0).unwrap_err().to_string(), "workers must be at least 1, got 0");
    /// ```
    pub fn set_workers(&self, n: usize) -> Result<(), ResizeError> {
        self.shared.crew.resize(&self.shared, Resize::Workers(n))
    }

    /// Sets the workers kept even when idle ([`min_workers`](Builder::min_workers)).
    /// Raising it starts workers up to it at once; lowering it lets the idle workers
    /// above it retire after [`keep_alive`](Builder::keep_alive).
    ///
    /// # Errors
    ///
    /// [`ResizeError::MinAboveMax`] above the maximum; [`ResizeError::ZeroMin`] for 0
    /// on a pool not built with `min_workers(0)`; [`ResizeError::ShutDown`] and
    /// [`ResizeError::Spawn`] as for [`set_workers`](WorkerPool::set_workers).
    pub fn set_min_workers(&self, n: usize) -> Result<(), ResizeError> {
        self.shared.crew.resize(&self.shared, Resize::Min(n))
    }

    /// Sets the most workers the pool may have ([`max_workers`](Builder::max_workers)).
    /// Lowering it below the workers alive retires idle ones at once, and busy ones when
    /// their job ends; raising it lets the pool grow further when the queue is full.
    ///
    /// # Errors
    ///
    /// [`ResizeError::ZeroWorkers`] for 0; [`ResizeError::MinAboveMax`] below the
    /// minimum; [`ResizeError::ShutDown`] once the pool is shutting down.
    pub fn set_max_workers(&self, n: usize) -> Result<(), ResizeError> {
        self.shared.crew.resize(&self.shared, Resize::Max(n))
    }

    /// The workers kept even when idle: the builder's
    /// [`min_workers`](Builder::min_workers), or the last resize's.
    pub fn min_workers(&self) -> usize {
        self.shared.crew.min()
    }

    /// The most workers the pool may have: the builder's
    /// [`max_workers`](Builder::max_workers), or the last resize's.
    pub fn max_workers(&self) -> usize {
        self.shared.crew.max()
    }

    /// A snapshot of the pool's workers, queue and counters.
    pub fn stats(&self) -> Stats {
        self.shared.crew.stats(&self.shared.counts, self.queued())
    }

    /// The jobs waiting in the shared queue, in the workers' own and kept by `purge`,
    /// less the withdrawn ones.
    fn queued(&self) -> usize {
        self.shared
            .counts
            .queued(|| self.shared.queue.len() + self.shared.locals.len())
    }

    /// Where cancels of queued jobs are counted.
    pub(crate) fn ledger(&self) -> &Arc<Ledger> {
        &self.shared.counts.ledger
    }

    /// A token for one job: a child of the pool's, with the job's deadline.
    pub(crate) fn job_token(&self, deadline: Option<Instant>) -> CancelToken {
        match deadline {
            Some(deadline) => self.shared.root.child_with_deadline(deadline),
            None => self.shared.root.child(),
        }
    }

    /// Submits a job that takes no context.
    fn submit_plain<F, R>(
        &self,
        f: F,
        priority: i32,
        how: Admit,
    ) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.submit_attached(Plain(f), None, None, priority, how)
            .map_err(|error| error.map(|call| call.0))
    }

    /// Submits a job that reads its context, with its own token and `deadline`.
    fn submit_with_context<F, R>(
        &self,
        f: F,
        deadline: Option<Instant>,
    ) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce(&JobContext<'_>) -> R + Send + 'static,
        R: Send + 'static,
    {
        let token = self.job_token(deadline);
        self.submit_attached(WithContext(f), Some(token), deadline, 0, Admit::Policy)
            .map_err(|error| error.map(|call| call.0))
    }

    fn submit_attached<C, R>(
        &self,
        call: C,
        token: Option<CancelToken>,
        deadline: Option<Instant>,
        priority: i32,
        how: Admit,
    ) -> Result<JobHandle<R>, SubmitError<C>>
    where
        C: crate::task::Call<R> + 'static,
        R: Send + 'static,
    {
        let (task, handle) = Attached::new(call, token, deadline, self.ledger());
        let job = Job::new(task, self.mark());
        match Shared::admit(&self.shared, job, priority, how) {
            Ok(()) => Ok(handle),
            // SAFETY: `job` was made from an `Attached<C, R>` just above.
            Err(refused) => Err(self.refused(refused, |job| unsafe {
                job.into_task::<Attached<C, R>>().call
            })),
        }
    }

    /// Queues a job of any kind under the pool's policy.
    pub(crate) fn submit_task<T: Task + 'static>(
        &self,
        task: T,
        priority: i32,
    ) -> Result<(), SubmitError<T>> {
        let job = Job::new(task, self.mark());
        Shared::admit(&self.shared, job, priority, Admit::Policy)
            // SAFETY: `job` was made from a `T` just above.
            .map_err(|refused| self.refused(refused, |job| unsafe { job.into_task::<T>() }))
    }

    /// Queues a job of a scope, which borrows for `'a`, with its count on the scope.
    ///
    /// # Safety
    ///
    /// As [`Job::new_scoped`]: the caller keeps what `task` borrows alive until the task
    /// has been run or dropped.
    pub(crate) unsafe fn submit_scoped<'a, T: Task + 'a>(
        &self,
        task: T,
        count: Count<'a>,
    ) -> Result<(), SubmitError<T>> {
        // SAFETY: the caller's contract is `new_scoped`'s.
        let job = unsafe { Job::new_scoped(task, count, self.mark()) };
        Shared::admit(&self.shared, job, 0, Admit::Policy)
            // SAFETY: `job` was made from a `T` just above.
            .map_err(|refused| self.refused(refused, |job| unsafe { job.into_task::<T>() }))
    }

    /// Counts a refusal and gives the caller's value back.
    fn refused<T>(&self, refused: PushError, take: impl FnOnce(Job) -> T) -> SubmitError<T> {
        self.shared.counts.rejected();
        let (PushError::Full(job)
        | PushError::TimedOut(job)
        | PushError::Closed(job)
        | PushError::Overloaded(job)) = &refused;
        self.shared.idle.refused(job.slot());
        match refused {
            PushError::Full(job) => SubmitError::Full(take(job)),
            PushError::TimedOut(job) => SubmitError::TimedOut(take(job)),
            PushError::Closed(job) => SubmitError::ShutDown(take(job)),
            PushError::Overloaded(job) => SubmitError::Overloaded(take(job)),
        }
    }

    /// How to mark the next job: whether to time it for the stats, and its generation
    /// (counting it, for `wait_idle`).
    fn mark(&self) -> Mark {
        let every = self.shared.config.sample_timings;
        Mark {
            sampled: every == 1 || fastrand::u32(..every) == 0,
            slot: self.shared.idle.join(),
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shared.crew.close(&self.shared.queue);
        if !self.shared.crew.join(None) {
            // Dropped by one of the pool's own jobs: see the type's *Guarantees*.
            self.shared.crew.orphan();
        }
    }
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("workers", &self.shared.crew.live())
            .field("queued", &self.queued())
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

/// A job that [`shutdown_now`](WorkerPool::shutdown_now) took out of the queue before it
/// started. Run it here with [`run`](PendingJob::run), or drop it: its handle then reads
/// [`JobError::ShutDown`].
pub struct PendingJob {
    /// `None` once run.
    job: Option<Job>,
    shared: Arc<Shared>,
}

impl PendingJob {
    /// Runs the job on this thread. Its token has fired (the pool was shut down now); a
    /// panic goes to its handle and the pool's hook, as on a worker.
    pub fn run(mut self) {
        if let Some(job) = self.job.take() {
            let _ = self.shared.run(job, None);
        }
    }
}

impl Drop for PendingJob {
    /// Resolves the job's handle as [`JobError::ShutDown`]. A panic from dropping what the
    /// job captured goes to the pool's [`on_panic`](Builder::on_panic) hook.
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            self.shared.abandon(job, JobError::ShutDown);
        }
    }
}

impl fmt::Debug for PendingJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingJob").finish_non_exhaustive()
    }
}
