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
    /// Which setting gave the sizes, for the error message when one is zero.
    sized_by: (&'static str, &'static str),
    pub(crate) keep_alive: Duration,
    pub(crate) queue_capacity: usize,
    pub(crate) rejection: Rejection,
    pub(crate) priorities: bool,
    pub(crate) name: String,
    pub(crate) stack_size: Option<usize>,
    pub(crate) on_panic: Option<PanicHook>,
    pub(crate) sample_timings: u32,
    pub(crate) max_blocked_submitters: Option<usize>,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        // tidy: allow(std-path): a question to the OS, not synchronization loom could model.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Builder {
            min_workers: cores,
            max_workers: cores,
            sized_by: ("workers", "workers"),
            keep_alive: Duration::from_secs(60),
            queue_capacity: 4096,
            rejection: Rejection::Block,
            priorities: false,
            name: "worker-pool-worker".to_owned(),
            stack_size: None,
            on_panic: None,
            sample_timings: 64,
            max_blocked_submitters: None,
        }
    }

    /// A fixed number of workers (default: the machine's available parallelism).
    pub fn workers(mut self, n: usize) -> Builder {
        self.min_workers = n;
        self.max_workers = n;
        self.sized_by = ("workers", "workers");
        self
    }

    /// The workers always kept, even when idle.
    pub fn min_workers(mut self, n: usize) -> Builder {
        self.min_workers = n;
        self.sized_by.0 = "min_workers";
        self
    }

    /// The most workers the pool grows to. Extra workers (above
    /// [`min_workers`](Builder::min_workers)) start only when the queue is full, and
    /// retire after [`keep_alive`](Builder::keep_alive) without work.
    pub fn max_workers(mut self, n: usize) -> Builder {
        self.max_workers = n;
        self.sized_by.1 = "max_workers";
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
    /// Beyond these, workers hold the jobs they took from the shared queue in one batch
    /// and have not started yet (at most half the capacity in all), and the jobs that
    /// their running jobs submitted (see [`WorkerPool`]'s *Jobs that submit jobs*),
    /// which the capacity does not bound, and the jobs [`purge`](WorkerPool::purge) kept
    /// beside the queue (at most the capacity). A worker that queues a job on its own
    /// queue while another sleeps wakes it with an empty job through the shared queue,
    /// which holds a place there (and counts as queued) until that worker takes it.
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
    /// A [`BuildError`] saying which setting is wrong: zero workers, `min_workers` above
    /// `max_workers`, a zero queue capacity or one whose memory cannot be allocated, a
    /// zero stack size, sampling rate or [`max_blocked_submitters`](Builder::max_blocked_submitters);
    /// or that the operating system refused to start a thread.
    pub fn build(self) -> Result<WorkerPool, BuildError> {
        let fail = |kind| Err(BuildError::new(kind));
        if self.min_workers == 0 {
            return fail(BuildErrorKind::ZeroWorkers(self.sized_by.0));
        }
        if self.max_workers == 0 {
            return fail(BuildErrorKind::ZeroWorkers(self.sized_by.1));
        }
        if self.min_workers > self.max_workers {
            return fail(BuildErrorKind::MinAboveMax {
                min: self.min_workers,
                max: self.max_workers,
            });
        }
        if self.queue_capacity == 0 {
            return fail(BuildErrorKind::ZeroCapacity);
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

    /// Whether the pool grows and shrinks.
    pub(crate) fn scales(&self) -> bool {
        self.min_workers < self.max_workers
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
            .finish()
    }
}
