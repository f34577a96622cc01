//! Configuring a pool: size, scaling, queue, policy, threads, hooks.

use core::fmt;
use std::time::Duration;

use crate::error::{BuildError, BuildErrorKind};
use crate::pool::WorkerPool;

/// What `submit` does when the queue is full (after the pool grew as far as
/// [`max_workers`](Builder::max_workers) allows).
///
/// A pool that is shut down refuses every job with
/// [`SubmitError::ShutDown`](crate::SubmitError::ShutDown), whatever the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rejection {
    /// Wait for room: backpressure on the submitter. The default.
    #[default]
    Block,
    /// Refuse the job at once with [`SubmitError::Full`](crate::SubmitError::Full).
    Reject,
    /// Run the job on the submitting thread, before `submit` returns (Java's
    /// `CallerRunsPolicy`): backpressure that keeps every job.
    CallerRuns,
    /// Evict the oldest job of the shared queue (of the lowest priority) to make room;
    /// its handle reads [`JobError::Discarded`](crate::JobError::Discarded). Jobs that
    /// workers already took into their own queues are not evicted.
    DropOldest,
}

/// Called with each panic of a job: its message and the worker that ran it.
#[derive(Debug, Clone, Copy)]
pub struct JobPanic<'a> {
    /// The panic's message.
    pub message: &'a str,
    /// The worker's index, or `None` if the job ran on a caller's thread.
    pub worker: Option<usize>,
}

pub(crate) type PanicHook = Box<dyn Fn(JobPanic<'_>) + Send + Sync>;

/// Called on a worker's thread with its index, as it starts or before it exits.
pub(crate) type ThreadHook = Box<dyn Fn(usize) + Send + Sync>;

/// How a pool is made. Start from [`WorkerPool::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use worker_pool::{Rejection, WorkerPool};
///
/// let pool = WorkerPool::builder()
///     .min_workers(1)
///     .max_workers(4)
///     .keep_alive(Duration::from_secs(30))
///     .queue_capacity(64)
///     .rejection(Rejection::CallerRuns)
///     .name("resize")
///     .build()
///     .unwrap();
/// assert_eq!(pool.submit(|| 1 + 1).unwrap().join(), Ok(2));
///
/// let error = WorkerPool::builder().min_workers(3).max_workers(2).build().unwrap_err();
/// assert_eq!(error.to_string(), "min_workers (3) is larger than max_workers (2)");
/// ```
pub struct Builder {
    pub(crate) min_workers: usize,
    pub(crate) max_workers: usize,
    /// Which setting gave the maximum, for the error message when it is zero.
    max_set_by: &'static str,
    pub(crate) keep_alive: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) rejection: Rejection,
    pub(crate) priorities: bool,
    pub(crate) name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_panic: Option<PanicHook>,
    pub(crate) sample_timings: u32,
    pub(crate) max_blocked_submitters: Option<usize>,
    pub(crate) prestart: bool,
    pub(crate) on_thread_start: Option<ThreadHook>,
    pub(crate) on_thread_exit: Option<ThreadHook>,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        // tidy: allow(std-path): a question to the OS, not synchronization loom could model.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Builder {
            min_workers: cores,
            max_workers: cores,
            max_set_by: "workers",
            keep_alive: Duration::from_secs(60),
            queue_capacity: 4096,
            rejection: Rejection::Block,
            priorities: false,
            name: "worker-pool-worker".to_owned(),
            stack_size: None,
            on_panic: None,
            sample_timings: 64,
            max_blocked_submitters: None,
            prestart: true,
            on_thread_start: None,
            on_thread_exit: None,
        }
    }

    /// A fixed number of workers (default: the machine's available parallelism).
    pub fn workers(mut self, n: usize) -> Builder {
        self.min_workers = n;
        self.max_workers = n;
        self.max_set_by = "workers";
        self
    }

    /// The workers always kept, even when idle. Zero lets every worker retire after
    /// [`keep_alive`](Builder::keep_alive) without work: the pool then starts one as a
    /// job comes (Java's `allowCoreThreadTimeOut`), and costs nothing while idle.
    pub fn min_workers(mut self, n: usize) -> Builder {
        self.min_workers = n;
        self
    }

    /// The most workers the pool grows to. Extra workers (above
    /// [`min_workers`](Builder::min_workers)) start only when the queue is full, and
    /// retire after [`keep_alive`](Builder::keep_alive) without work.
    pub fn max_workers(mut self, n: usize) -> Builder {
        self.max_workers = n;
        self.max_set_by = "max_workers";
        self
    }

    /// How long an extra worker waits for a job before it retires (default 60 s).
    /// Zero retires it as soon as the queue is empty.
    pub fn keep_alive(mut self, idle: Duration) -> Builder {
        self.keep_alive = idle;
        self
    }

    /// How many jobs may wait in the shared queue (default 4096). What happens to more is
    /// the [`rejection`](Builder::rejection) policy's business.
    ///
    /// Zero makes a hand-off pool (Java's cached pool, on its `SynchronousQueue`): a job
    /// is taken only by a worker that waits for one, or by a new worker when the pool may
    /// grow (up to [`max_workers`](Builder::max_workers)); when neither can take it, the
    /// policy decides as for a full queue ([`Rejection::Block`] waits until a worker is
    /// free). It needs the FIFO queue (no [`priorities`](Builder::priorities), which order
    /// jobs that wait) and a policy other than [`Rejection::DropOldest`] (no job waits to
    /// be evicted).
    ///
    /// Beyond these, workers hold the jobs they took from the shared queue in one batch
    /// and have not started yet (at most half the capacity in all), and the jobs that
    /// their running jobs submitted (see [`WorkerPool`]'s *Jobs that submit jobs*),
    /// which the capacity does not bound, and the jobs [`purge`](WorkerPool::purge) kept
    /// beside the queue (at most the capacity). A worker that queues a job on its own
    /// queue while another sleeps wakes it through a channel of its own, which takes no
    /// place in the queue.
    pub fn queue_capacity(mut self, capacity: usize) -> Builder {
        self.queue_capacity = capacity;
        self
    }

    /// What `submit` does when the queue is full (default [`Rejection::Block`]).
    pub fn rejection(mut self, policy: Rejection) -> Builder {
        self.rejection = policy;
        self
    }

    /// Whether [`submit_priority`](WorkerPool::submit_priority) orders the queue (default
    /// false). With priorities the queue is a locked priority queue, highest first and
    /// FIFO within a priority; without, a lock-free FIFO channel, faster on small jobs,
    /// in which priorities are ignored.
    pub fn priorities(mut self, enabled: bool) -> Builder {
        self.priorities = enabled;
        self
    }

    /// The prefix of the worker threads' names: `"{prefix}-{index}"` (default
    /// `"worker-pool-worker"`).
    pub fn name(mut self, prefix: impl Into<String>) -> Builder {
        self.name = prefix.into();
        self
    }

    /// The stack size of each worker thread, in bytes (default: `std`'s).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Called on the worker's thread with every job's panic. A panic of the hook itself
    /// is caught and ignored.
    ///
    /// It also hears of a panic while dropping what a job captured when the job never
    /// ran (cancelled or timed out while queued, evicted under
    /// [`Rejection::DropOldest`], dropped unrun at a shutdown), with a message that
    /// starts `"dropping a job that never ran: "`: such a panic is contained there, so
    /// that it comes out of no unrelated call, and the job counts as what stopped it.
    pub fn on_panic(mut self, hook: impl Fn(JobPanic<'_>) + Send + Sync + 'static) -> Builder {
        self.on_panic = Some(Box::new(hook));
        self
    }

    /// Called on each worker thread as it starts, with the worker's index, before it
    /// runs any job (rayon's `start_handler`; a place to pin the thread, name it for a
    /// profiler, set up thread-locals). A retired worker's index is reused at once, so
    /// that the live workers' indices stay below `max_workers`: a new worker's start hook
    /// may run while the retired one's exit hook still runs, with the same index. A panic
    /// of the hook is caught and goes to the [`on_panic`](Builder::on_panic) hook, with
    /// the message prefixed `"on_thread_start: "`; the worker goes on.
    pub fn on_thread_start(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Builder {
        self.on_thread_start = Some(Box::new(hook));
        self
    }

    /// Called on each worker thread after its last job, with the worker's index, as it
    /// retires or as the pool shuts down (rayon's `exit_handler`). A shutdown returns only
    /// after every worker's hook has returned. A panic of the hook is caught and goes to
    /// the [`on_panic`](Builder::on_panic) hook, prefixed `"on_thread_exit: "`.
    pub fn on_thread_exit(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Builder {
        self.on_thread_exit = Some(Box::new(hook));
        self
    }

    /// Whether [`build`](Builder::build) starts the [`min_workers`](Builder::min_workers)
    /// at once (the default, true), or the pool starts each as a job comes, while fewer
    /// are alive (Java's `ThreadPoolExecutor` without `prestartAllCoreThreads`). A pool
    /// that is never used then starts no thread.
    pub fn prestart(mut self, enabled: bool) -> Builder {
        self.prestart = enabled;
        self
    }

    /// Times one job in `n` for the queue-wait and run-time percentiles of
    /// [`stats`](WorkerPool::stats) (default 64; 1 times every job). Reading the clock
    /// costs about 35 ns a time, three times per timed job, which would double the cost
    /// of a tiny job.
    pub fn sample_timings(mut self, n: u32) -> Builder {
        self.sample_timings = n;
        self
    }

    /// The most submitters that may wait for room in a full queue at once (ants'
    /// `MaxBlockingTasks`; default: no limit). A submit that would wait while `n` others
    /// already do — a blocking [`submit`](WorkerPool::submit) under [`Rejection::Block`],
    /// or a [`submit_timeout`](WorkerPool::submit_timeout) or
    /// [`submit_deadline`](WorkerPool::submit_deadline) under any policy — is refused at
    /// once with [`SubmitError::Overloaded`](crate::SubmitError::Overloaded), the job
    /// handed back, unless room came while it looked. So no more than `n` threads ever
    /// pile up behind the queue; [`Stats::blocked_submitters`](crate::Stats) says how
    /// many wait now.
    ///
    /// Jobs submitted by the pool's own jobs never wait (see [`WorkerPool`]'s *Jobs that
    /// submit jobs*), so the limit does not concern them. 0 is a [`BuildError`]: no
    /// submitter waiting at all is [`Rejection::Reject`].
    ///
    /// # Examples
    ///
    /// ```
    /// use worker_pool::WorkerPool;
    ///
    /// let pool = WorkerPool::builder().workers(2).max_blocked_submitters(16).build().unwrap();
    /// assert_eq!(pool.submit(|| 2 + 2).unwrap().join(), Ok(4));
    /// ```
    pub fn max_blocked_submitters(mut self, n: usize) -> Builder {
        self.max_blocked_submitters = Some(n);
        self
    }

    /// Starts the pool's [`min_workers`](Builder::min_workers) threads.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] saying which setting is wrong: zero (`max_`)`workers`,
    /// `min_workers` above `max_workers`, a queue capacity whose memory cannot be
    /// allocated, a hand-off queue (capacity 0) with priorities or
    /// [`Rejection::DropOldest`], a zero stack size, sampling rate or [`max_blocked_submitters`](Builder::max_blocked_submitters);
    /// or that the operating system refused to start a thread.
    pub fn build(self) -> Result<WorkerPool, BuildError> {
        let fail = |kind| Err(BuildError::new(kind));
        if self.max_workers == 0 {
            return fail(BuildErrorKind::ZeroWorkers(self.max_set_by));
        }
        if self.min_workers > self.max_workers {
            return fail(BuildErrorKind::MinAboveMax {
                min: self.min_workers,
                max: self.max_workers,
            });
        }
        if self.queue_capacity == 0 && self.priorities {
            return fail(BuildErrorKind::HandOffWithPriorities);
        }
        if self.queue_capacity == 0 && self.rejection == Rejection::DropOldest {
            return fail(BuildErrorKind::HandOffDropOldest);
        }
        if self.stack_size == Some(0) {
            return fail(BuildErrorKind::ZeroStackSize);
        }
        if self.sample_timings == 0 {
            return fail(BuildErrorKind::ZeroSampling);
        }
        if self.max_blocked_submitters == Some(0) {
            return fail(BuildErrorKind::ZeroBlockedSubmitters);
        }
        WorkerPool::start(self)
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("min_workers", &self.min_workers)
            .field("max_workers", &self.max_workers)
            .field("keep_alive", &self.keep_alive)
            .field("queue_capacity", &self.queue_capacity)
            .field("rejection", &self.rejection)
            .field("priorities", &self.priorities)
            .field("name", &self.name)
            .field("stack_size", &self.stack_size)
            .field("on_panic", &self.on_panic.is_some())
            .field("sample_timings", &self.sample_timings)
            .field("max_blocked_submitters", &self.max_blocked_submitters)
            .field("prestart", &self.prestart)
            .field("on_thread_start", &self.on_thread_start.is_some())
            .field("on_thread_exit", &self.on_thread_exit.is_some())
            .finish()
    }
}
