//! A bounded, panic-safe pool of worker threads.
//!
//! A fixed crew of threads takes jobs from one bounded queue: the pattern behind every
//! server's request handling, every batch job's parallel step. On top of the crew, this
//! crate gives each job a handle for its result, a cancel token and an optional deadline;
//! scopes whose jobs borrow from the caller's stack; groups of fallible jobs that fail
//! together; a pool that grows under load and shrinks when idle; and a stats snapshot
//! with queue-wait and run-time percentiles. Everything the peers do (the `threadpool`
//! crate, rayon's `ThreadPool`, Java's `ThreadPoolExecutor`, Go's `pond`), with the
//! edges settled: a job handle never hangs, a refused job always comes back, a panic
//! never shrinks the pool, and no thread outlives it.
//!
//! # Submitting jobs
//!
//! ```
//! use worker_pool::{JobError, WorkerPool};
//!
//! let pool = WorkerPool::new(4).unwrap();
//!
//! // A result per job.
//! let handles: Vec<_> = (1..=4u64).map(|n| pool.submit(move || n * n).unwrap()).collect();
//! let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
//! assert_eq!(squares, [1, 4, 9, 16]);
//!
//! // A panic reaches the handle, payload and all; the pool keeps its four workers.
//! let oops = pool.submit(|| -> u8 { panic!("bad input") }).unwrap();
//! assert_eq!(oops.join(), Err(JobError::Panicked("bad input".into())));
//! assert_eq!(pool.stats().workers, 4);
//!
//! // A batch, its results in the order of its input (its jobs may borrow).
//! let base = 10;
//! let sums = pool.map(1..=3, |n| n + base).unwrap();
//! assert_eq!(sums, [Ok(11), Ok(12), Ok(13)]);
//! ```
//!
//! [`JobError::Panicked`] holds the panic's [payload](PanicPayload), for
//! [`resume_unwind`](std::panic::resume_unwind) as with `std::thread::JoinHandle`, and
//! its text. [`invoke_all`](WorkerPool::invoke_all) runs a batch of closures (Java's
//! `invokeAll`) and [`map`](WorkerPool::map) one function over a batch of items; both
//! return once every job has finished, a panic in its place, and a refusal part-way
//! hands back the results so far, the refused job and the rest ([`BatchError`]).
//!
//! # A bounded queue
//!
//! The queue holds [`queue_capacity`](Builder::queue_capacity) jobs. When it is full,
//! [`submit`](WorkerPool::submit) does what the [`Rejection`] policy says: wait (the
//! default), refuse, run the job on the caller's thread, or evict the oldest job. How
//! many submitters may wait at once can be capped
//! ([`max_blocked_submitters`](Builder::max_blocked_submitters), ants'
//! `MaxBlockingTasks`): past it, a submit that would wait is refused at once with
//! [`SubmitError::Overloaded`]. [`try_submit`](WorkerPool::try_submit) never waits, and
//! hands the closure back:
//!
//! ```
//! use std::sync::mpsc;
//! use worker_pool::{Rejection, SubmitError, WorkerPool};
//!
//! let pool = WorkerPool::builder().workers(1).queue_capacity(1).build().unwrap();
//! let (release, gate) = mpsc::channel::<()>();
//! let (started, running) = mpsc::channel();
//! let blocker = pool.submit(move || { started.send(()).unwrap(); gate.recv().unwrap() }).unwrap();
//! running.recv().unwrap(); // the only worker is busy,
//! let queued = pool.submit(|| 1).unwrap(); // the queue's one place is taken,
//! match pool.try_submit(|| 2) {
//!     Err(SubmitError::Full(job)) => assert_eq!(job(), 2), // so the job comes back.
//!     other => panic!("{other:?}"),
//! }
//! release.send(()).unwrap();
//! assert_eq!(queued.join(), Ok(1));
//! # blocker.join().unwrap();
//! ```
//!
//! # Cancellation and deadlines
//!
//! Jobs submitted with [`submit_with`](WorkerPool::submit_with) get a [`JobContext`]:
//! its token fires on [`JobHandle::cancel`], at the deadline of
//! [`submit_with_timeout`](WorkerPool::submit_with_timeout), and on
//! [`shutdown_now`](WorkerPool::shutdown_now). A job that has not started when its
//! handle is cancelled never runs, and counts as cancelled (no longer as queued) in the
//! [stats](WorkerPool::stats) from that moment; [`purge`](WorkerPool::purge) (Java's)
//! takes such jobs, and those of a failed group or past their deadline, out of the queue
//! at once, freeing their places and what they captured.
//!
//! ```
//! use std::time::Duration;
//! use worker_pool::{JobError, WorkerPool};
//!
//! let pool = WorkerPool::new(1).unwrap();
//! let slow = pool
//!     .submit_with_timeout(Duration::from_millis(10), |cx| {
//!         while cx.check().is_ok() {
//!             std::hint::spin_loop(); // work that looks at its token now and then
//!         }
//!         "gave up"
//!     })
//!     .unwrap();
//! assert_eq!(slow.join(), Err(JobError::TimedOut));
//! ```
//!
//! # Scopes and groups
//!
//! [`scope`](WorkerPool::scope) lets jobs borrow from the caller's stack and returns once
//! they are done; [`group`](WorkerPool::group) waits for a set of fallible jobs and
//! returns the first error, firing the others' token as soon as it happens.
//!
//! A job may submit jobs too, and open scopes and groups: those jobs go onto its
//! worker's own queue, where idle workers steal them (see [`WorkerPool`]'s *Jobs that
//! submit jobs*, and what a job that waits for them needs).
//!
//! ```
//! use worker_pool::WorkerPool;
//!
//! let pool = WorkerPool::new(2).unwrap();
//! let data = vec![1u64, 2, 3, 4, 5, 6];
//! let sums: Vec<u64> = pool.scope(|s| {
//!     let halves: Vec<_> = data.chunks(3).map(|c| s.submit(move || c.iter().sum()).unwrap()).collect();
//!     halves.into_iter().map(|h| h.join().unwrap()).collect()
//! });
//! assert_eq!(sums, [6, 15]);
//! ```
//!
//! # Sizing the crew, and waiting for it
//!
//! A pool keeps [`min_workers`](Builder::min_workers) and grows to
//! [`max_workers`](Builder::max_workers) when its queue is full; the extra workers
//! retire after [`keep_alive`](Builder::keep_alive) without work. At run time,
//! [`set_workers`](WorkerPool::set_workers), [`set_min_workers`](WorkerPool::set_min_workers)
//! and [`set_max_workers`](WorkerPool::set_max_workers) change the limits: growing
//! starts the workers before the call returns, shrinking retires idle workers at once
//! and busy ones after their job — a running job is never interrupted. A bad size is a
//! [`ResizeError`].
//!
//! `min_workers(0)` lets every worker retire when idle and starts one as a job comes;
//! [`prestart(false)`](Builder::prestart) starts the workers as jobs come rather than
//! at build; [`queue_capacity(0)`](Builder::queue_capacity) makes a hand-off pool, whose
//! submit succeeds only when a waiting worker takes the job or a new worker can start
//! for it (Java's cached pool, with `min_workers(0)` and a large `max_workers`).
//! [`on_thread_start`](Builder::on_thread_start) and
//! [`on_thread_exit`](Builder::on_thread_exit) run on each worker's thread as it starts
//! and ends. [`wait_idle`](WorkerPool::wait_idle) waits until every job submitted so far
//! has ended, and leaves the pool open:
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use worker_pool::WorkerPool;
//!
//! let started = Arc::new(AtomicUsize::new(0));
//! let counter = started.clone();
//! let pool = WorkerPool::builder()
//!     .min_workers(0) // nothing runs while there is no work
//!     .max_workers(4)
//!     .queue_capacity(0) // a hand-off: a job waits for no one
//!     .keep_alive(Duration::from_secs(1))
//!     .on_thread_start(move |_| { counter.fetch_add(1, Ordering::Relaxed); })
//!     .build()
//!     .unwrap();
//! assert_eq!(pool.stats().workers, 0);
//! let handles: Vec<_> = (0..4).map(|n| pool.submit(move || n + 1).unwrap()).collect();
//! assert!(pool.wait_idle());
//! assert_eq!(handles.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 10);
//! assert!((1..=4).contains(&started.load(Ordering::Relaxed)));
//! pool.set_max_workers(2).unwrap();
//! assert_eq!(pool.max_workers(), 2);
//! ```
//!
//! # Shutting down
//!
//! [`shutdown`](WorkerPool::shutdown) (also what dropping the pool does) runs every
//! queued job and joins the workers. [`shutdown_now`](WorkerPool::shutdown_now) fires
//! the running jobs' tokens and hands back the queued jobs, unrun.
//! Either way, every submit afterwards fails with [`SubmitError::ShutDown`], giving the
//! closure back.

mod batch;
mod builder;
mod context;
mod crew;
mod deque;
mod error;
mod group;
mod handle;
mod idle;
mod job;
mod latch;
mod local;
mod pool;
mod priority;
mod purge;
mod queue;
mod scope;
mod stats;
mod task;
mod wait;
mod wake;
mod worker;

use patterns_core::sync;

pub use batch::BatchError;
pub use builder::{Builder, JobPanic, Rejection};
pub use context::JobContext;
pub use error::{
    BuildError, GroupError, JobError, PanicPayload, ResizeError, SubmitError, TrySubmitError,
};
pub use group::Group;
pub use handle::JobHandle;
pub use patterns_core::{CancelReason, CancelToken};
pub use pool::{PendingJob, WorkerPool};
pub use scope::Scope;
pub use stats::{Latency, Stats};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
