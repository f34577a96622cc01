//! What a running job can ask about itself.

use std::time::Instant;

use patterns_core::{CancelReason, CancelToken};

/// A running job's view of itself: its cancel token, its deadline, and which worker runs
/// it. Jobs submitted with [`submit_with`](crate::WorkerPool::submit_with) and friends
/// receive one.
///
/// The token fires when the job's handle is [cancelled](crate::JobHandle::cancel), when
/// its deadline passes (read lazily: [`check`](JobContext::check) and
/// [`is_cancelled`](JobContext::is_cancelled) notice it), when its
/// [`Group`](crate::Group) fails, and when the pool is
/// [shut down now](crate::WorkerPool::shutdown_now). A long job should look at it between
/// steps; nothing stops a job that does not.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use worker_pool::{JobError, WorkerPool};
///
/// let pool = WorkerPool::new(1).unwrap();
/// let job = pool
///     .submit_with(|cx| {
///         let mut steps = 0u64;
///         while cx.check().is_ok() {
///             steps += 1; // one step of a long computation
///             std::hint::black_box(steps);
///         }
///         steps
///     })
///     .unwrap();
/// assert!(job.cancel());
/// assert_eq!(job.join(), Err(JobError::Cancelled));
/// ```
#[derive(Debug)]
pub struct JobContext<'a> {
    token: &'a CancelToken,
    deadline: Option<Instant>,
    worker: Option<usize>,
}

impl<'a> JobContext<'a> {
    pub(crate) fn new(
        token: &'a CancelToken,
        deadline: Option<Instant>,
        worker: Option<usize>,
    ) -> JobContext<'a> {
        JobContext {
            token,
            deadline,
            worker,
        }
    }

    /// The job's cancel token: pass it to blocking calls that take one
    /// (`recv_cancellable`, …) so they return when the job is cancelled.
    pub fn token(&self) -> &'a CancelToken {
        self.token
    }

    /// The job's deadline, if it was submitted with one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The index of the worker running the job (`0..max_workers`), or `None` when it runs
    /// on a caller's thread ([`Rejection::CallerRuns`](crate::Rejection::CallerRuns), or a
    /// job handed back by [`shutdown_now`](crate::WorkerPool::shutdown_now) and run there).
    pub fn worker_index(&self) -> Option<usize> {
        self.worker
    }

    /// Whether the job should stop: its token fired or its deadline passed.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// `Ok` while the job should go on.
    ///
    /// # Errors
    ///
    /// Why it should stop: [`CancelReason::Cancelled`] or
    /// [`CancelReason::DeadlineExceeded`].
    pub fn check(&self) -> Result<(), CancelReason> {
        self.token.check()
    }
}
