//! Why a limiter refused, and why one could not be built.

use std::time::Duration;

/// The limiter has no room for the call now; [`retry_after`](Denied::retry_after) says
/// when it will, if nothing else is admitted meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limit reached: retry after {retry_after:?}")]
pub struct Denied {
    pub(crate) retry_after: Duration,
}

impl Denied {
    /// A refusal saying to retry after `retry_after`: for limiters written outside this
    /// crate, implementing [`RateLimiter`](crate::RateLimiter).
    #[must_use]
    pub const fn new(retry_after: Duration) -> Denied {
        Denied { retry_after }
    }

    pub(crate) fn after(nanos: u64) -> Denied {
        Denied::new(Duration::from_nanos(nanos))
    }

    /// How long until the same call would be admitted, if nothing else is admitted
    /// meanwhile: tight and inclusive — earlier fails, exactly then succeeds.
    #[must_use]
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

/// [`try_acquire_n`](crate::RateLimiter::try_acquire_n) refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryAcquireError {
    /// Not now: retry after [`Denied::retry_after`].
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Never: `n` is more than the limiter's burst, which it could not admit even when
    /// full. Nothing was consumed.
    #[error("{requested} permits requested, but the burst is {capacity}")]
    InsufficientCapacity {
        /// What was asked for.
        requested: u32,
        /// The most the limiter admits at once.
        capacity: u32,
    },
}

/// A blocking acquire failed. Nothing was consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AcquireError {
    /// `n` is more than the limiter's burst: it could never be admitted.
    #[error("{requested} permits requested, but the burst is {capacity}")]
    InsufficientCapacity {
        /// What was asked for.
        requested: u32,
        /// The most the limiter admits at once.
        capacity: u32,
    },
    /// The wait the call needs ends after its deadline; it returned at once, without
    /// waiting (x/time/rate and Guava do the same).
    #[error("admission needs a wait of {needed:?}, past the deadline")]
    Timeout {
        /// The wait that admission needed.
        needed: Duration,
    },
    /// The token fired while the call waited.
    #[error("cancelled while waiting for the rate limit")]
    Cancelled,
}

/// A limiter cannot be built with these settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A rate of zero calls, or over a zero period: nothing would ever be admitted.
    #[error("the rate must be at least one call over a nonzero period")]
    ZeroRate,
    /// A burst of zero: nothing would ever be admitted.
    #[error("the burst must be at least 1")]
    ZeroBurst,
    /// A limit of zero calls per window, or zero calls in flight: nothing would ever be
    /// admitted.
    #[error("the limit must be at least 1")]
    ZeroLimit,
    /// An adaptive limit's minimum is above its maximum.
    #[error("the minimum limit {min} is above the maximum {max}")]
    LimitRange {
        /// The minimum asked for.
        min: usize,
        /// The maximum asked for.
        max: usize,
    },
    /// An adaptive limit's initial limit lies outside its minimum and maximum.
    #[error("the initial limit {initial} is outside the range {min}..={max}")]
    InitialLimit {
        /// The initial limit asked for.
        initial: usize,
        /// The minimum.
        min: usize,
        /// The maximum.
        max: usize,
    },
    /// An adaptive algorithm's setting lies outside what it can run with: a ratio outside
    /// its range, a number that is not finite, a count or a timeout of zero.
    #[error("{setting} must be {expected}")]
    OutOfRange {
        /// The setting, by the name of the method that sets it.
        setting: &'static str,
        /// What it must be.
        expected: &'static str,
    },
}
