//! Batches of jobs whose results come back in the order of their input:
//! [`invoke_all`](WorkerPool::invoke_all) (Java's `invokeAll`) and
//! [`map`](WorkerPool::map).
//!
//! Both run their jobs in a scope of their own (so the jobs may borrow from the caller),
//! one whose jobs' panics reach their results rather than making it panic, and join
//! every job before they return, whether or not the pool refused one.

use core::fmt;

use crate::context::JobContext;
use crate::error::{JobError, SubmitError};
use crate::handle::JobHandle;
use crate::pool::WorkerPool;
use crate::scope::{self, Scope};
use crate::task::{Call, Plain};

/// A batch ([`invoke_all`](WorkerPool::invoke_all), [`map`](WorkerPool::map)) that
/// stopped at a job the pool refused: nothing handed to the batch is lost. The jobs
/// accepted before it have run (their results are in `done`); the refused one comes back
/// with the reason, and the rest of the input as it was, not advanced past it.
///
/// `T` is the jobs' result, `F` what the batch was given per job (the closure of
/// `invoke_all`, the item of `map`), `I` the rest of the input (its iterator).
///
/// # Examples
///
/// ```
/// use worker_pool::{SubmitError, WorkerPool};
///
/// let pool = WorkerPool::new(2).unwrap();
/// pool.shutdown();
/// let error = pool.map(vec![1, 2, 3], |n: i32| n * 10).unwrap_err();
/// assert!(error.done.is_empty());
/// assert!(matches!(error.refused, SubmitError::ShutDown(1)));
/// assert_eq!(error.rest.collect::<Vec<_>>(), [2, 3]);
/// ```
#[derive(thiserror::Error)]
#[error("{refused}, after {} jobs of the batch", .done.len())]
pub struct BatchError<T, F, I> {
    /// The results of the jobs accepted before the refusal, in input order; every one of
    /// those jobs has finished.
    pub done: Vec<Result<T, JobError>>,
    /// The job the pool refused, and why: [`SubmitError::ShutDown`], or
    /// [`Full`](SubmitError::Full) under [`Rejection::Reject`](crate::Rejection::Reject),
    /// or [`Overloaded`](SubmitError::Overloaded) past
    /// [`max_blocked_submitters`](crate::Builder::max_blocked_submitters).
    pub refused: SubmitError<F>,
    /// The input after the refused job, untouched.
    pub rest: I,
}

impl<T, F, I> BatchError<T, F, I> {
    /// The refused job and the rest of the input: what is left to submit, in order.
    pub fn into_unsubmitted(self) -> (F, I) {
        (self.refused.into_inner(), self.rest)
    }
}

impl<T, F, I> fmt::Debug for BatchError<T, F, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchError")
            .field("done", &self.done.len())
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

/// A job of [`map`](WorkerPool::map): an item and the function to apply, kept apart so
/// that a refused job gives its item back.
struct Mapped<'f, X, G> {
    item: X,
    f: &'f G,
}

impl<X: Send, G: Fn(X) -> U + Sync, U> Call<U> for Mapped<'_, X, G> {
    fn call(self, _cx: &JobContext<'_>) -> U {
        (self.f)(self.item)
    }
}

impl WorkerPool {
    /// Runs every job of `jobs` and returns their results in the same order, once all
    /// have finished (Java's `ExecutorService::invokeAll`). A panicking job is a
    /// [`JobError::Panicked`] in its place, and the others run on.
    ///
    /// The jobs may borrow from the caller, as in a [`scope`](WorkerPool::scope). They
    /// are submitted one by one, as by [`submit`](WorkerPool::submit), under the pool's
    /// [`Rejection`](crate::Rejection) policy: with the default, `Block`, the batch waits
    /// for room, so a batch larger than the queue goes through. Called from one of the
    /// pool's own jobs, the jobs go onto its worker's own queue and the calling job waits
    /// for them as for a scope: another worker must be free to run them.
    ///
    /// # Errors
    ///
    /// [`BatchError`] if the pool refuses a job (it is shut down; the queue is full under
    /// `Reject`; too many submitters wait): submitting stops there, and once the jobs
    /// accepted before it have finished, their results come back with the refused job
    /// and the rest of `jobs`.
    ///
    /// # Panics
    ///
    /// If the iterator `jobs` panics, with its panic, once the jobs submitted so far have
    /// finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use worker_pool::{JobError, WorkerPool};
    ///
    /// let pool = WorkerPool::new(2).unwrap();
    /// let words = ["alpha", "beta", "gamma"];
    /// let jobs = words.iter().map(|w| move || -> usize {
    ///     if w.len() == 4 {
    ///         panic!("no four-letter words");
    ///     }
    ///     w.len()
    /// });
    /// let results = pool.invoke_all(jobs).unwrap();
    /// assert_eq!(
    ///     results,
    ///     [Ok(5), Err(JobError::Panicked("no four-letter words".into())), Ok(5)]
    /// );
    /// ```
    #[allow(clippy::type_complexity)] // each part of the result is its own, documented type
    pub fn invoke_all<'env, I, F, T>(
        &self,
        jobs: I,
    ) -> Result<Vec<Result<T, JobError>>, BatchError<T, F, I::IntoIter>>
    where
        I: IntoIterator<Item = F>,
        F: FnOnce() -> T + Send + 'env,
        T: Send + 'env,
    {
        run_batch(self, jobs.into_iter(), Plain, |call| call.0)
    }

    /// Applies `f` to every item of `items` on the pool's workers and returns the results
    /// in the order of the items, once all have finished (a parallel `map`, as
    /// `ThreadPoolExecutor.map` in Python or `invokeAll` over one function). A panic of
    /// `f` is a [`JobError::Panicked`] in its item's place, and the others run on.
    ///
    /// One job per item, submitted as by [`invoke_all`](WorkerPool::invoke_all), whose
    /// guarantees hold: `f` and the items may borrow from the caller, `f` is shared by
    /// the jobs (hence `Sync`), and a batch larger than the queue waits for room under
    /// the default policy.
    ///
    /// # Errors
    ///
    /// [`BatchError`] if the pool refuses a job: as for `invoke_all`, with the refused
    /// item (not a closure) and the rest of `items`.
    ///
    /// # Panics
    ///
    /// If the iterator `items` panics, with its panic, once the jobs submitted so far
    /// have finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use worker_pool::WorkerPool;
    ///
    /// let pool = WorkerPool::new(4).unwrap();
    /// let offset = 100; // borrowed by every job
    /// let results = pool.map(1..=5u64, |n| n * n + offset).unwrap();
    /// let values: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    /// assert_eq!(values, [101, 104, 109, 116, 125]);
    /// ```
    #[allow(clippy::type_complexity)] // as `invoke_all`
    pub fn map<'env, I, G, U>(
        &self,
        items: I,
        f: G,
    ) -> Result<Vec<Result<U, JobError>>, BatchError<U, I::Item, I::IntoIter>>
    where
        I: IntoIterator,
        I::Item: Send + 'env,
        G: Fn(I::Item) -> U + Sync + 'env,
        U: Send + 'env,
    {
        let f = &f;
        run_batch(
            self,
            items.into_iter(),
            |item| Mapped { item, f },
            |mapped| mapped.item,
        )
    }
}

/// Submits a job for each of `items`, made by `wrap`, in a quiet scope; joins them all;
/// on a refusal gives the item back through `unwrap`, with the rest of `items`.
#[allow(clippy::type_complexity)]
fn run_batch<'env, It, X, C, T>(
    pool: &WorkerPool,
    mut items: It,
    wrap: impl Fn(X) -> C,
    unwrap: impl FnOnce(C) -> X,
) -> Result<Vec<Result<T, JobError>>, BatchError<T, X, It>>
where
    It: Iterator<Item = X>,
    C: Call<T> + 'env,
    T: Send + 'env,
{
    scope::run_quiet(pool, |s: &Scope<'_, 'env>| {
        let mut handles: Vec<JobHandle<T>> = Vec::with_capacity(items.size_hint().0);
        let refused = loop {
            let Some(item) = items.next() else {
                break None;
            };
            match s.submit_call(wrap(item)) {
                Ok(handle) => handles.push(handle),
                Err(refused) => break Some(refused.map(unwrap)),
            }
        };
        let done = handles.into_iter().map(JobHandle::join).collect();
        match refused {
            None => Ok(done),
            Some(refused) => Err(BatchError {
                done,
                refused,
                rest: items,
            }),
        }
    })
}
