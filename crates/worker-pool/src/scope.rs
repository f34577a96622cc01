//! Scoped jobs: jobs that borrow from the caller's stack, all finished before `scope`
//! returns.

use core::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use crate::context::JobContext;
use crate::error::SubmitError;
use crate::handle::JobHandle;
use crate::latch::{Counted, Latch, Pending};
use crate::pool::WorkerPool;
use crate::sync::Mutex;
use crate::task::{Attached, Detached, Outcome, Plain, RunEnv, Task, WithContext};
use crate::JobError;

/// A scope's shared state: its pending jobs and the first panic among them. It lives in
/// the [`Scope`], on the stack of [`WorkerPool::scope`]'s caller; jobs borrow it.
#[derive(Debug)]
pub(crate) struct ScopeState {
    latch: Latch,
    panic: Mutex<Option<(String, usize)>>,
}

impl Counted for ScopeState {
    fn latch(&self) -> &Latch {
        &self.latch
    }
}

impl ScopeState {
    fn record_panic(&self, message: &str) {
        let mut panic = self.panic.lock();
        match &mut *panic {
            Some((_, count)) => *count += 1,
            None => *panic = Some((message.to_owned(), 1)),
        }
    }
}

/// A job of a scope: the job, then its pending count, so the count drops after the
/// job's closure and captures do.
struct Scoped<'scope, T> {
    task: T,
    pending: Pending<&'scope ScopeState>,
}

impl<T: Task> Task for Scoped<'_, T> {
    fn run(self, env: &RunEnv<'_>) -> Outcome {
        let Scoped { task, pending } = self;
        let outcome = task.run(env);
        if let Outcome::Panicked(message) = &outcome {
            pending.owner().record_panic(message);
        }
        outcome
    }

    fn abandon(self, why: JobError) {
        self.task.abandon(why);
    }

    const SCOPED: bool = true;
}

/// Submits jobs that may borrow anything that outlives the scope. Made by
/// [`WorkerPool::scope`].
pub struct Scope<'scope, 'env: 'scope> {
    pool: &'scope WorkerPool,
    state: ScopeState,
    /// Invariance over both lifetimes, as `std::thread::Scope` has.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Submits a job that may borrow from outside the scope; its handle gives the result.
    ///
    /// # Errors
    ///
    /// As [`WorkerPool::submit`]: [`SubmitError::ShutDown`], or [`SubmitError::Full`]
    /// under [`Rejection::Reject`](crate::Rejection::Reject); the job comes back.
    pub fn submit<F, R>(&'scope self, f: F) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce() -> R + Send + 'scope,
        R: Send + 'scope,
    {
        let (job, handle) = Attached::new(Plain(f), None, None);
        self.queue(job)
            .map(|()| handle)
            .map_err(|error| error.map(|job| job.call.0))
    }

    /// Submits a job that reads its [`JobContext`] and may borrow from outside the scope.
    ///
    /// # Errors
    ///
    /// As [`submit`](Scope::submit).
    pub fn submit_with<F, R>(&'scope self, f: F) -> Result<JobHandle<R>, SubmitError<F>>
    where
        F: FnOnce(&JobContext<'_>) -> R + Send + 'scope,
        R: Send + 'scope,
    {
        let token = self.pool.job_token(None);
        let (job, handle) = Attached::new(WithContext(f), Some(token), None);
        self.queue(job)
            .map(|()| handle)
            .map_err(|error| error.map(|job| job.call.0))
    }

    /// Submits a job without a handle. If it panics, so does the scope, once every job
    /// has finished.
    ///
    /// # Errors
    ///
    /// As [`submit`](Scope::submit).
    pub fn execute<F>(&'scope self, f: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce() + Send + 'scope,
    {
        self.queue(Detached(f))
            .map_err(|error| error.map(|job| job.0))
    }

    fn queue<T: Task + 'scope>(&'scope self, task: T) -> Result<(), SubmitError<T>> {
        let task = Scoped {
            task,
            pending: Pending::new(&self.state),
        };
        // SAFETY: `WorkerPool::scope` does not return (nor unwind) before the latch that
        // `pending` counts on is done, which happens only when this task has been run or
        // dropped; so whatever it borrows for `'scope` (the scope's state included)
        // outlives it.
        let result = unsafe { self.pool.submit_scoped(task) };
        result.map_err(|error| error.map(|scoped| scoped.task))
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

/// Runs `body` with a scope on `pool`, waits for every job of the scope, then returns
/// `body`'s value, or panics: with `body`'s panic, else with the first job's.
pub(crate) fn run<'env, F, T>(pool: &WorkerPool, body: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        pool,
        state: ScopeState {
            latch: Latch::new(),
            panic: Mutex::new(None),
        },
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| body(&scope)));
    // Soundness: jobs borrow from the caller's frame, so nothing leaves it — not even a
    // panic — before they are all done.
    scope.state.latch().wait();
    let job_panic = scope.state.panic.lock().take();
    match (result, job_panic) {
        (Err(payload), _) => panic::resume_unwind(payload),
        (Ok(_), Some((message, count))) => {
            panic!("{count} job(s) of the scope panicked; the first with: {message}")
        }
        (Ok(value), None) => value,
    }
}
