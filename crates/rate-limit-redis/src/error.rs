//! Why a Redis-backed check failed, with the Redis failure kept apart from a refusal.

use std::time::Duration;

use rate_limit::{AcquireError, Denied, TryAcquireError};

/// A check or wait of the typed methods ([`RedisGcra::check_n`](crate::RedisGcra::check_n),
/// [`RedisGcra::wait_n_until`](crate::RedisGcra::wait_n_until) and their
/// [`RedisKeyed`](crate::RedisKeyed) twins) failed.
///
/// Unlike the [`RateLimiter`](rate_limit::RateLimiter) methods, which must answer with a
/// [`TryAcquireError`] or an [`AcquireError`] and so apply the limiter's
/// [`FailurePolicy`](crate::FailurePolicy), these methods report a Redis failure as it is:
/// [`RedisLimitError::Redis`], never a pass and never a made-up refusal.
#[derive(Debug, thiserror::Error)]
pub enum RedisLimitError {
    /// Not now: retry after [`Denied::retry_after`], on the server's clock. From the
    /// `check` methods only; nothing was consumed.
    #[error(transparent)]
    Denied(Denied),
    /// Never: `n` is more than the burst, which could not be admitted even by a full
    /// limiter. Nothing was consumed and Redis was not asked.
    #[error("{requested} permits requested, but the burst is {capacity}")]
    InsufficientCapacity {
        /// What was asked for.
        requested: u32,
        /// The most the limiter admits at once.
        capacity: u32,
    },
    /// The wait the call needs ends after its deadline; it returned at once, reserving
    /// nothing. From the `wait` methods only.
    #[error("admission needs a wait of {needed:?}, past the deadline")]
    Timeout {
        /// The wait that admission needed.
        needed: Duration,
    },
    /// The token fired while the call waited; the reservation was given back (unless
    /// Redis failed meanwhile, in which case it lapses by itself when its time passes).
    /// From the `wait` methods only.
    #[error("cancelled while waiting for the rate limit")]
    Cancelled,
    /// Redis could not be reached, or refused the script. Nothing was admitted; the
    /// script may still have run (a reply lost on the way back), so capacity may have been
    /// consumed: a failure never admits more than the limit, but may admit less.
    #[error("redis failed: {0}")]
    Redis(#[source] redis::RedisError),
}

impl RedisLimitError {
    /// Whether Redis failed (rather than the limit refusing).
    #[must_use]
    pub fn is_redis(&self) -> bool {
        matches!(self, RedisLimitError::Redis(_))
    }

    /// When to retry a [`Denied`](RedisLimitError::Denied) call; `None` for the others.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RedisLimitError::Denied(denied) => Some(denied.retry_after()),
            _ => None,
        }
    }
}

impl From<redis::RedisError> for RedisLimitError {
    fn from(error: redis::RedisError) -> Self {
        RedisLimitError::Redis(error)
    }
}

impl From<TryAcquireError> for RedisLimitError {
    fn from(error: TryAcquireError) -> Self {
        match error {
            TryAcquireError::Denied(denied) => RedisLimitError::Denied(denied),
            TryAcquireError::InsufficientCapacity {
                requested,
                capacity,
            } => RedisLimitError::InsufficientCapacity {
                requested,
                capacity,
            },
        }
    }
}

impl From<AcquireError> for RedisLimitError {
    fn from(error: AcquireError) -> Self {
        match error {
            AcquireError::InsufficientCapacity {
                requested,
                capacity,
            } => RedisLimitError::InsufficientCapacity {
                requested,
                capacity,
            },
            AcquireError::Timeout { needed } => RedisLimitError::Timeout { needed },
            AcquireError::Cancelled => RedisLimitError::Cancelled,
        }
    }
}

/// A [`Denied`] saying `retry_after`, at least 1 ns: a refusal always has a wait.
pub(crate) fn denied(retry_after: Duration) -> Denied {
    Denied::new(retry_after.max(Duration::from_nanos(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_carries_exactly_the_wait() {
        for wait in [
            Duration::from_nanos(1),
            Duration::from_nanos(333_333_333),
            Duration::from_secs(3600),
        ] {
            assert_eq!(denied(wait).retry_after(), wait);
        }
        assert_eq!(
            denied(Duration::ZERO).retry_after(),
            Duration::from_nanos(1)
        );
    }

    #[test]
    fn display_says_what_happened() {
        let error = RedisLimitError::InsufficientCapacity {
            requested: 5,
            capacity: 3,
        };
        assert_eq!(error.to_string(), "5 permits requested, but the burst is 3");
        let error = RedisLimitError::from(redis::RedisError::from((
            redis::ErrorKind::IoError,
            "connection refused",
        )));
        assert!(error.is_redis());
        assert!(error.to_string().starts_with("redis failed: "), "{error}");
        assert_eq!(
            RedisLimitError::Denied(denied(Duration::from_millis(5))).retry_after(),
            Some(Duration::from_millis(5))
        );
    }
}
