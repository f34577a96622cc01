//! Groups of fallible jobs (Go's errgroup): wait for all, get the first error, and
//! cancel the rest when one fails.

use core::fmt;

use patterns_core::CancelToken;

use crate::context::JobContext;
use crate::error::{GroupError, JobError, SubmitError};
use crate::latch::{Counted, Latch, Pending};
use crate::pool::WorkerPool;
use crate::sync::{Arc, Mutex};
use crate::task::{catch_payload, Outcome, RunEnv, Task};

/// A group's shared state.
struct GroupState<E> {
    latch: Latch,
    /// The jobs' token; fired by the first failure.
    token: CancelToken,
    first_error: Mutex<Option<GroupError<E>>>,
}

impl<E> Counted for GroupState<E> {
    fn latch(&self) -> &Latch {
        &self.latch
    }
}

impl<E> GroupState<E> {
    fn fail(&self, error: GroupError<E>) {
        let mut first = self.first_error.lock();
        if first.is_none() {
            *first = Some(error);
            drop(first);
            self.token.cancel();
        }
    }
}

/// A job of a group: the closure, then its pending count, so the count drops after the
/// closure does.
struct Grouped<F, E> {
    f: F,
    pending: Pending<GroupState<E>>,
}

impl<F, E> Task for Grouped<F, E>
where
    F: FnOnce(&JobContext<'_>) -> Result<(), E> + Send,
    E: Send,
{
    fn run(self, env: &RunEnv<'_>) -> Outcome {
        let Grouped { f, pending } = self;
        let group = pending.owner();
        if group.token.is_cancelled() {
            // After a failure, that failure is the group's error; otherwise (the group
            // or the pool was cancelled) that the job never ran is.
            group.fail(GroupError::Job(JobError::Cancelled));
            env.drop_unrun(f);
            return Outcome::Cancelled;
        }
        let cx = JobContext::new(&group.token, None, env.worker);
        match catch_payload(|| f(&cx)) {
            Ok(Ok(())) => Outcome::Completed,
            Ok(Err(error)) => {
                group.fail(GroupError::Failed(error));
                Outcome::Failed
            }
            Err(payload) => {
                let message = payload.to_string();
                group.fail(GroupError::Job(JobError::Panicked(payload)));
                Outcome::Panicked(message)
            }
        }
    }

    fn abandon(self, why: JobError) {
        self.pending.owner().fail(GroupError::Job(why));
    }

    fn doomed(&self) -> bool {
        self.pending.owner().token.is_cancelled()
    }
}

/// Fallible jobs that succeed or fail together (Go's `errgroup.WithContext`): the first
/// error fires the group's token, so the other jobs can stop early, and
/// [`wait`](Group::wait) returns it once every job has finished. Made by
/// [`WorkerPool::group`].
///
/// # Examples
///
/// ```
/// use worker_pool::{GroupError, WorkerPool};
///
/// let pool = WorkerPool::new(2).unwrap();
/// let group = pool.group();
/// for n in 0..10u32 {
///     group
///         .submit(move |cx| {
///             if n == 7 {
///                 return Err(format!("{n} is unlucky"));
///             }
///             cx.check().map_err(|reason| reason.to_string())?;
///             Ok(())
///         })
///         .unwrap();
/// }
/// assert_eq!(group.wait(), Err(GroupError::Failed("7 is unlucky".to_owned())));
/// ```
pub struct Group<'pool, E> {
    pool: &'pool WorkerPool,
    state: Arc<GroupState<E>>,
}

impl<'pool, E: Send + 'static> Group<'pool, E> {
    pub(crate) fn new(pool: &'pool WorkerPool) -> Group<'pool, E> {
        Group {
            pool,
            state: Arc::new(GroupState {
                latch: Latch::new(),
                token: pool.job_token(None),
                first_error: Mutex::new(None),
            }),
        }
    }

    /// Submits a job of the group. Its context's token fires when any job of the group
    /// fails, when the group is [cancelled](Group::cancel), and when the pool is shut
    /// down now; a job that has not started by then does not run.
    ///
    /// # Errors
    ///
    /// As [`WorkerPool::submit`]: [`SubmitError::ShutDown`], or [`SubmitError::Full`]
    /// under [`Rejection::Reject`](crate::Rejection::Reject); the job comes back and is
    /// not part of the group.
    pub fn submit<F>(&self, f: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce(&JobContext<'_>) -> Result<(), E> + Send + 'static,
    {
        let task = Grouped {
            f,
            pending: Pending::new(self.state.clone()),
        };
        self.pool
            .submit_task(task, 0)
            .map_err(|error| error.map(|task| task.f))
    }

    /// Fires the group's token: jobs not started yet will not run, running ones see it.
    /// [`wait`](Group::wait) still waits for the running ones, and returns
    /// [`GroupError::Job`]`(`[`JobError::Cancelled`]`)` if a job was skipped (or the
    /// error of a job that failed first).
    pub fn cancel(&self) {
        self.state.token.cancel();
    }

    /// The token the group's jobs see.
    pub fn token(&self) -> &CancelToken {
        &self.state.token
    }

    /// Waits for every job of the group.
    ///
    /// # Errors
    ///
    /// The first failure: [`GroupError::Failed`] with a job's error, or
    /// [`GroupError::Job`] if a job panicked, was dropped unrun by a shut-down pool, or
    /// was skipped because the group (or the pool, by `shutdown_now`) was cancelled
    /// before it started ([`JobError::Cancelled`]). Jobs skipped after a failure leave
    /// that failure as the group's error.
    pub fn wait(self) -> Result<(), GroupError<E>> {
        self.state.latch.wait();
        match self.state.first_error.lock().take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl<E> fmt::Debug for Group<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("cancelled", &self.state.token.is_cancelled())
            .finish_non_exhaustive()
    }
}
