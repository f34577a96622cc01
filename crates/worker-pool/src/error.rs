//! What can go wrong: building a pool, handing it a job, and a job itself.

use core::fmt;
use std::any::Any;
use std::io;
use std::panic;

/// A [`Builder`](crate::Builder) setting that cannot make a pool, or a worker thread that
/// could not be started.
///
/// The message says which setting is wrong and why; [`source`](std::error::Error::source)
/// is the operating system's error when a thread failed to start.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildErrorKind {
    #[error("{0} must be at least 1, got 0")]
    ZeroWorkers(&'static str),
    #[error("min_workers ({min}) is larger than max_workers ({max})")]
    MinAboveMax { min: usize, max: usize },
    #[error(
        "queue_capacity 0 (a hand-off queue) cannot have priorities: no job waits to be ordered"
    )]
    HandOffWithPriorities,
    #[error("queue_capacity 0 (a hand-off queue) cannot take Rejection::DropOldest: no job waits to be evicted")]
    HandOffDropOldest,
    #[error("queue_capacity {requested} cannot be allocated: {source}")]
    Capacity {
        requested: usize,
        #[source]
        source: bounded_buffer::CapacityError,
    },
    #[error("stack_size must be at least 1 byte, got 0")]
    ZeroStackSize,
    #[error("sample_timings must be at least 1 (one job in n), got 0")]
    ZeroSampling,
    #[error("max_blocked_submitters must be at least 1 (for none, use Rejection::Reject), got 0")]
    ZeroBlockedSubmitters,
    #[error("could not start worker thread {name:?}")]
    Spawn {
        name: String,
        #[source]
        source: io::Error,
    },
}

impl BuildError {
    pub(crate) fn new(kind: BuildErrorKind) -> BuildError {
        BuildError { kind }
    }
}

/// Why [`set_workers`](crate::WorkerPool::set_workers),
/// [`set_min_workers`](crate::WorkerPool::set_min_workers) or
/// [`set_max_workers`](crate::WorkerPool::set_max_workers) did not resize the pool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResizeError {
    /// The most workers would be zero: a pool needs one to run anything.
    #[error("{0} must be at least 1, got 0")]
    ZeroWorkers(&'static str),
    /// The minimum would be above the maximum.
    #[error("min_workers ({min}) is larger than max_workers ({max})")]
    MinAboveMax {
        /// The minimum asked for (or kept).
        min: usize,
        /// The maximum kept (or asked for).
        max: usize,
    },
    /// A minimum of zero on a pool built with workers it always keeps: only a pool built
    /// with [`min_workers(0)`](crate::Builder::min_workers) checks, as it submits, that
    /// some worker is alive, a check every other pool's submit is spared.
    #[error("min_workers can become 0 only on a pool built with min_workers(0)")]
    ZeroMin,
    /// The pool is shutting down or shut down.
    #[error("the pool is shut down")]
    ShutDown,
    /// A worker for the new minimum could not start. The new limits hold; the workers
    /// that did start stay.
    #[error("could not start a worker thread for the new minimum")]
    Spawn(#[source] io::Error),
}

/// A job the pool did not take, handed back to the caller with the reason.
///
/// Returned by every submitting method ([`submit`](crate::WorkerPool::submit),
/// [`try_submit`](crate::WorkerPool::try_submit), [`execute`](crate::WorkerPool::execute),
/// …): the closure comes back untouched, so nothing handed to a pool is ever lost.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError<F> {
    /// The queue was full and the pool's [`Rejection`](crate::Rejection) policy (or a
    /// `try_` method) said not to wait.
    #[error("job rejected: the queue is full")]
    Full(F),
    /// The queue stayed full until the time-out of a `_timeout`/`_deadline` submit.
    #[error("job rejected: the queue stayed full until the time-out")]
    TimedOut(F),
    /// The pool is shutting down or shut down; it accepts nothing more.
    #[error("job rejected: the pool is shut down")]
    ShutDown(F),
    /// The queue was full and as many submitters as
    /// [`max_blocked_submitters`](crate::Builder::max_blocked_submitters) allows already
    /// waited for room: the submit that would have waited is refused at once.
    #[error("job rejected: the queue is full and too many submitters already wait for room")]
    Overloaded(F),
}

/// The error of [`try_submit`](crate::WorkerPool::try_submit): the same enum as
/// [`SubmitError`], of which `try_submit` returns only `Full` and `ShutDown` (it never
/// waits, so it is never `Overloaded`).
pub type TrySubmitError<F> = SubmitError<F>;

impl<F> SubmitError<F> {
    /// The job that was not taken.
    pub fn into_inner(self) -> F {
        match self {
            SubmitError::Full(job)
            | SubmitError::TimedOut(job)
            | SubmitError::ShutDown(job)
            | SubmitError::Overloaded(job) => job,
        }
    }

    /// Whether the pool refused because its queue was full.
    pub fn is_full(&self) -> bool {
        matches!(self, SubmitError::Full(_))
    }

    /// Whether the pool refused because it is shut down.
    pub fn is_shut_down(&self) -> bool {
        matches!(self, SubmitError::ShutDown(_))
    }

    /// Whether the pool refused because too many submitters already waited for room
    /// ([`max_blocked_submitters`](crate::Builder::max_blocked_submitters)).
    pub fn is_overloaded(&self) -> bool {
        matches!(self, SubmitError::Overloaded(_))
    }

    pub(crate) fn map<G>(self, f: impl FnOnce(F) -> G) -> SubmitError<G> {
        match self {
            SubmitError::Full(job) => SubmitError::Full(f(job)),
            SubmitError::TimedOut(job) => SubmitError::TimedOut(f(job)),
            SubmitError::ShutDown(job) => SubmitError::ShutDown(f(job)),
            SubmitError::Overloaded(job) => SubmitError::Overloaded(f(job)),
        }
    }
}

impl<F> fmt::Debug for SubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full(_) => f.write_str("Full(..)"),
            SubmitError::TimedOut(_) => f.write_str("TimedOut(..)"),
            SubmitError::ShutDown(_) => f.write_str("ShutDown(..)"),
            SubmitError::Overloaded(_) => f.write_str("Overloaded(..)"),
        }
    }
}

/// Why a job's handle holds no value.
///
/// Not `Clone`, and `PartialEq` only up to a panic's text: [`Panicked`](JobError::Panicked)
/// holds the panic's payload, which is neither (as in `std::thread::Result` and tokio's
/// `JoinError`). Two `Panicked` errors are equal when both payloads are text (a `&str` or
/// a `String`, what `panic!` makes) and the texts are equal; a payload of another type
/// equals nothing, not even itself. So `assert_eq!(handle.join(), Ok(7))` still reads as
/// one would expect, and so does a comparison with `JobError::Panicked("boom".into())`.
///
/// # Examples
///
/// ```
/// use worker_pool::{JobError, WorkerPool};
///
/// let pool = WorkerPool::new(1).unwrap();
/// let handle = pool.submit(|| -> u32 { panic!("no answer") }).unwrap();
/// let error = handle.join().unwrap_err();
/// assert_eq!(error.to_string(), "job panicked: no answer");
/// assert_eq!(error, JobError::Panicked("no answer".into()));
/// match error {
///     // The payload itself, as `std::thread::JoinHandle::join` gives it: carry the panic
///     // on with `std::panic::resume_unwind(payload.into_inner())` (or `payload.resume()`).
///     JobError::Panicked(payload) => assert_eq!(payload.message(), Some("no answer")),
///     other => panic!("{other}"),
/// }
/// ```
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum JobError {
    /// The job panicked, with this payload: what `panic!` (or `panic_any`) was given.
    #[error("job panicked: {0}")]
    Panicked(PanicPayload),
    /// [`JobHandle::cancel`](crate::JobHandle::cancel) was called before the job returned,
    /// or its group failed before it started.
    #[error("job cancelled")]
    Cancelled,
    /// The job's deadline (from [`submit_with_timeout`](crate::WorkerPool::submit_with_timeout))
    /// passed before it returned.
    #[error("job timed out")]
    TimedOut,
    /// The pool shut down before the job ran: it was handed back by
    /// [`shutdown_now`](crate::WorkerPool::shutdown_now) and then dropped.
    #[error("job never ran: the pool shut down")]
    ShutDown,
    /// The job was evicted from a full queue by a newer one under
    /// [`Rejection::DropOldest`](crate::Rejection::DropOldest).
    #[error("job discarded from a full queue to make room for a newer one")]
    Discarded,
}

impl JobError {
    /// The text of a panic: `Some` for [`Panicked`](JobError::Panicked) with a payload
    /// that is a `&str` or a `String`, `None` otherwise.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            JobError::Panicked(payload) => payload.message(),
            _ => None,
        }
    }
}

/// The payload of a job's panic, as [`std::panic::catch_unwind`] caught it: give it to
/// [`std::panic::resume_unwind`] (through [`into_inner`](PanicPayload::into_inner) or
/// [`resume`](PanicPayload::resume)) to carry the panic on in the caller, as with the
/// `Err` of `std::thread::JoinHandle::join`.
///
/// `Display` is the panic's text, or `Box<dyn Any> (a panic payload that is not text)`
/// for another payload; `Debug` shows the text, or `<not text>`. Equal (`PartialEq`) when both are text
/// and the texts are equal, never otherwise. `From<&'static str>` and `From<String>` make
/// one to compare with.
///
/// The payload is `Send` but need not be `Sync`; the wrapper is `Sync` anyway (so a
/// [`JobError`] fits `Box<dyn Error + Send + Sync>` and `anyhow`), because a shared
/// reference gives no access to it beyond its type and, for text, the text (tokio's
/// `JoinError` does the same).
pub struct PanicPayload(Box<dyn Any + Send + 'static>);

impl PanicPayload {
    /// Wraps a payload, as `catch_unwind` returns it.
    pub fn new(payload: Box<dyn Any + Send + 'static>) -> PanicPayload {
        PanicPayload(payload)
    }

    /// The panic's text, if the payload is a `&'static str` or a `String` (what `panic!`
    /// makes of a literal and of a format string).
    pub fn message(&self) -> Option<&str> {
        patterns_core::panic_message(&*self.0)
    }

    /// The payload, for [`std::panic::resume_unwind`] or a `downcast`.
    pub fn into_inner(self) -> Box<dyn Any + Send + 'static> {
        self.0
    }

    /// Carries the panic on: [`std::panic::resume_unwind`] with the payload.
    pub fn resume(self) -> ! {
        panic::resume_unwind(self.0)
    }
}

// SAFETY: `Sync` lets threads share a `&PanicPayload`, and a shared reference reaches the
// payload only in `message` (and `Display`, `Debug` and `PartialEq`, through it): that
// asks the payload's type (`Any::type_id`, which reads no data) and, only for a `&str` or
// a `String` — both `Sync` — reads it. No `&` to the payload itself ever leaves the
// type; `into_inner` and `resume` take it by value, which needs only `Send`.
unsafe impl Sync for PanicPayload {}

/// What the hook, the stats and `Display` say of a payload that is not text.
pub(crate) const NOT_TEXT: &str = "Box<dyn Any> (a panic payload that is not text)";

impl fmt::Display for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message().unwrap_or(NOT_TEXT))
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Some(text) => f.debug_tuple("PanicPayload").field(&text).finish(),
            None => f.write_str("PanicPayload(<not text>)"),
        }
    }
}

impl PartialEq for PanicPayload {
    fn eq(&self, other: &PanicPayload) -> bool {
        matches!((self.message(), other.message()), (Some(a), Some(b)) if a == b)
    }
}

impl From<&'static str> for PanicPayload {
    fn from(text: &'static str) -> PanicPayload {
        PanicPayload(Box::new(text))
    }
}

impl From<String> for PanicPayload {
    fn from(text: String) -> PanicPayload {
        PanicPayload(Box::new(text))
    }
}

/// Why a [`Group`](crate::Group) failed: the first failure among its jobs.
///
/// `PartialEq` as [`JobError`]'s (a panic compares by its text); not `Clone`, as a
/// panic's payload is not.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum GroupError<E> {
    /// A job returned this error.
    #[error("a job of the group failed")]
    Failed(E),
    /// A job produced no result: it panicked, timed out or never ran.
    #[error(transparent)]
    Job(JobError),
}

impl<E> GroupError<E> {
    /// The error a job returned, if that is what failed the group.
    pub fn into_failed(self) -> Option<E> {
        match self {
            GroupError::Failed(error) => Some(error),
            GroupError::Job(_) => None,
        }
    }
}
