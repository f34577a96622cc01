//! Scoped jobs: jobs that borrow from the caller's stack, all finished before `scope`
//! returns.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;
use std::panic::{self, AssertUnwindSafe};

use crate::context::JobContext;
use crate::error::SubmitError;
use crate::handle::JobHandle;
use crate::latch::Latch;
use crate::pool::WorkerPool;
use crate::sync::Mutex;
use crate::task::{Attached, Call, Detached, Outcome, Plain, Task, WithContext};

/// A scope's shared state: its pending jobs and the first panic among them. It lives in
/// the [`Scope`], on the stack of [`WorkerPool::scope`]'s caller; each job holds a
/// [`Count`] on it.
#[derive(Debug)]
pub(crate) struct ScopeState {
    latch: Latch,
    panic: Mutex<Option<(String, usize)>>,
    /// Whether the scope panics once its jobs are done if one of them panicked (a
    /// [`scope`](WorkerPool::scope)), or leaves their panics to their handles (a batch).
    rethrow: bool,
}

impl ScopeState {
    #[cfg(test)]
    pub(crate) fn new() -> ScopeState {
        ScopeState::with_rethrow(true)
    }

    fn with_rethrow(rethrow: bool) -> ScopeState {
        ScopeState {
            latch: Latch::new(),
            panic: Mutex::new(None),
            rethrow,
        }
    }

    /// The counts not given up yet, the owner's included.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.latch.pending()
    }

    fn record_panic(&self, message: &str) {
        if !self.rethrow {
            return;
        }
        let mut panic = self.panic.lock();
        match &mut *panic {
            Some((_, count)) => *count += 1,
            None => *panic = Some((message.to_owned(), 1)),
        }
    }
}

/// One job's count on its scope, from its submission to its end: a raw pointer to the
/// scope's state, so that no reference to it outlives the count (see the *Lifetime* of
/// [`Latch`]). Dropping it gives the count up, also when the job unwinds or is refused.
#[derive(Debug)]
pub(crate) struct Count<'scope> {
    state: NonNull<ScopeState>,
    scope: PhantomData<&'scope ScopeState>,
}

// SAFETY: a count points to a `ScopeState` (a latch and a mutex: `Sync`); giving it up
// on a worker thread is what it is for.
unsafe impl Send for Count<'_> {}

impl<'scope> Count<'scope> {
    /// Counts one more job on `state`.
    ///
    /// # Safety
    ///
    /// The scope must not end — `state` must stay where it is — until the count is
    /// dropped, which [`run`] ensures by waiting for the latch. (Safe code could leak
    /// the count instead and leave the scope waiting for ever, which is why only the
    /// pool makes counts.)
    pub(crate) unsafe fn new(state: &'scope ScopeState) -> Count<'scope> {
        state.latch.add();
        Count {
            state: NonNull::from(state),
            scope: PhantomData,
        }
    }

    /// The job ended as `outcome`: a panic is recorded for the scope to re-raise, then the
    /// count is given up.
    pub(crate) fn finish(self, outcome: &Outcome) {
        if let Outcome::Panicked(message) = outcome {
            // SAFETY: the count, still held, keeps the state alive.
            unsafe { self.state.as_ref() }.record_panic(message);
        }
    }
}

impl Drop for Count<'_> {
    fn drop(&mut self) {
        // SAFETY: made by `new` on a state that lives until the count is given up, which
        // happens once, here; nothing touches the state through `self` after.
        unsafe { Latch::count_down(&raw const (*self.state.as_ptr()).latch) }
    }
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
        self.submit_call(Plain(f))
            .map_err(|error| error.map(|call| call.0))
    }

    /// Submits a job of any kind of closure, with a handle; the call comes back if
    /// refused.
    pub(crate) fn submit_call<C, R>(&'scope self, call: C) -> Result<JobHandle<R>, SubmitError<C>>
    where
        C: Call<R> + 'scope,
        R: Send + 'scope,
    {
        let (job, handle) = Attached::new(call, None, None, self.pool.ledger());
        self.queue(job)
            .map(|()| handle)
            .map_err(|error| error.map(|job| job.call))
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
        let (job, handle) = Attached::new(WithContext(f), Some(token), None, self.pool.ledger());
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
        // SAFETY: `run` does not return (nor unwind) before the latch that the count
        // holds is done, which happens only once every job has been run or dropped; so
        // whatever `task` borrows for `'scope` outlives it, and so does the state.
        unsafe { self.pool.submit_scoped(task, Count::new(&self.state)) }
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
    run_with(pool, true, body)
}

/// As [`run`], except that a panicking job does not make the scope panic: its handle
/// has the panic, and that is all (`invoke_all` and `map`, which join every handle).
pub(crate) fn run_quiet<'env, F, T>(pool: &WorkerPool, body: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    run_with(pool, false, body)
}

fn run_with<'env, F, T>(pool: &WorkerPool, rethrow: bool, body: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        pool,
        state: ScopeState::with_rethrow(rethrow),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| body(&scope)));
    // Soundness: jobs borrow from the caller's frame, so nothing leaves it — not even a
    // panic — before they are all done.
    scope.state.latch.wait();
    let job_panic = scope.state.panic.lock().take();
    match (result, job_panic) {
        (Err(payload), _) => panic::resume_unwind(payload),
        (Ok(_), Some((message, count))) => {
            panic!("{count} job(s) of the scope panicked; the first with: {message}")
        }
        (Ok(value), None) => value,
    }
}
