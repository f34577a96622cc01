//! What can go wrong: building a pool, handing it a job, and a job itself.

use core::fmt;
use std::io;

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
    #[error("queue_capacity must be at least 1, got 0")]
    ZeroCapacity,
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
}

/// The error of [`try_submit`](crate::WorkerPool::try_submit): the same enum as
/// [`SubmitError`], of which `try_submit` returns only `Full` and `ShutDown`.
pub type TrySubmitError<F> = SubmitError<F>;

impl<F> SubmitError<F> {
    /// The job that was not taken.
    pub fn into_inner(self) -> F {
        match self {
            SubmitError::Full(job) | SubmitError::TimedOut(job) | SubmitError::ShutDown(job) => job,
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

    pub(crate) fn map<G>(self, f: impl FnOnce(F) -> G) -> SubmitError<G> {
        match self {
            SubmitError::Full(job) => SubmitError::Full(f(job)),
            SubmitError::TimedOut(job) => SubmitError::TimedOut(f(job)),
            SubmitError::ShutDown(job) => SubmitError::ShutDown(f(job)),
        }
    }
}

impl<F> fmt::Debug for SubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full(_) => f.write_str("Full(..)"),
            SubmitError::TimedOut(_) => f.write_str("TimedOut(..)"),
            SubmitError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

/// Why a job's handle holds no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The job panicked; the payload's message (or a placeholder when the payload was
    /// neither a `&str` nor a `String`).
    #[error("job panicked: {0}")]
    Panicked(String),
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

/// Why a [`Group`](crate::Group) failed: the first failure among its jobs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
