//! What every limiter offers: one object-safe trait.

use std::fmt;
use std::time::{Duration, Instant};

use patterns_core::{CancelToken, Clock};

use crate::error::{AcquireError, Denied, TryAcquireError};

/// A rate limiter: admits calls now (`try_`), or blocks until it can (`acquire`, with a
/// timeout or a cancel token).
///
/// Object-safe: a `Box<dyn RateLimiter>` or `&dyn RateLimiter` can stand for any
/// algorithm. Implementors provide [`try_acquire_n`](RateLimiter::try_acquire_n),
/// [`acquire_n_until`](RateLimiter::acquire_n_until), [`available`](RateLimiter::available),
/// [`capacity`](RateLimiter::capacity) and [`clock`](RateLimiter::clock); the other
/// methods are thin wrappers.
///
/// # Guarantees
///
/// * A new limiter is full: it admits its burst at once.
/// * `try_` methods are all-or-nothing and never block; a refusal consumes nothing and
///   says when to retry.
/// * `n == 0` is admitted at once; `n` above the burst is an error that consumes nothing,
///   from the blocking forms too (never an endless wait).
/// * Blocking waits are served in the order they began: a large `acquire_n` is not
///   starved by a stream of small calls, blocking or not.
/// * A wait that would end after its deadline returns at once, consuming nothing; a
///   cancelled wait gives back what it had set aside.
pub trait RateLimiter: Send + Sync + fmt::Debug {
    /// Admits `n` calls now, or refuses without consuming anything.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::Denied`] with the time to retry, or
    /// [`TryAcquireError::InsufficientCapacity`] if `n` exceeds the burst.
    fn try_acquire_n(&self, n: u32) -> Result<(), TryAcquireError>;

    /// Blocks until `n` calls are admitted, `deadline` (on [`clock`](RateLimiter::clock))
    /// would be passed, or `cancel` fires: the one blocking implementation, which the
    /// other blocking methods call.
    ///
    /// # Errors
    ///
    /// [`AcquireError::InsufficientCapacity`], [`AcquireError::Timeout`] (at once, when
    /// the wait needed ends after `deadline`), or [`AcquireError::Cancelled`].
    fn acquire_n_until(
        &self,
        n: u32,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), AcquireError>;

    /// The largest `n` that [`try_acquire_n`](RateLimiter::try_acquire_n) would admit
    /// now (for the buckets and windows, how many single calls would pass one after
    /// another; 0 while blocking calls wait their turn on a queue).
    fn available(&self) -> u64;

    /// The most calls admitted at once: the burst, or a window's limit. `n` above it is
    /// refused with `InsufficientCapacity`. `available() == capacity()` means the limiter
    /// is as it was new, with nothing to remember: a keyed limiter forgets such keys.
    fn capacity(&self) -> u32;

    /// The clock the limiter reads.
    fn clock(&self) -> &dyn Clock;

    /// Admits one call now, or refuses without consuming anything.
    ///
    /// # Errors
    ///
    /// [`Denied`], with the time to retry.
    fn try_acquire(&self) -> Result<(), Denied> {
        self.try_acquire_n(1).map_err(|error| match error {
            TryAcquireError::Denied(denied) => denied,
            // Not from this crate's limiters, whose burst is at least 1; one written
            // elsewhere that can admit nothing refuses for ever.
            TryAcquireError::InsufficientCapacity { .. } => Denied::new(Duration::MAX),
        })
    }

    /// Blocks until one call is admitted.
    ///
    /// # Errors
    ///
    /// None in practice: one call never exceeds the burst.
    fn acquire(&self) -> Result<(), AcquireError> {
        self.acquire_n_until(1, None, None)
    }

    /// Blocks until `n` calls are admitted.
    ///
    /// # Errors
    ///
    /// [`AcquireError::InsufficientCapacity`] if `n` exceeds the burst.
    fn acquire_n(&self, n: u32) -> Result<(), AcquireError> {
        self.acquire_n_until(n, None, None)
    }

    /// Blocks for at most `timeout` until one call is admitted; returns at once if the
    /// wait needed is longer.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Timeout`].
    fn acquire_timeout(&self, timeout: Duration) -> Result<(), AcquireError> {
        let deadline = self.clock().now().checked_add(timeout);
        self.acquire_n_until(1, deadline, None)
    }

    /// Blocks until one call is admitted or `token` fires.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Cancelled`].
    fn acquire_cancellable(&self, token: &CancelToken) -> Result<(), AcquireError> {
        self.acquire_n_until(1, None, Some(token))
    }
}

/// The checks every `try_acquire_n` makes first: `Ok(true)` when `n` is 0 (admitted
/// without a look at the state).
///
/// # Errors
///
/// [`TryAcquireError::InsufficientCapacity`] when `n` exceeds `capacity`.
pub(crate) fn nothing_to_take(n: u32, capacity: u32) -> Result<bool, TryAcquireError> {
    if n > capacity {
        return Err(TryAcquireError::InsufficientCapacity {
            requested: n,
            capacity,
        });
    }
    Ok(n == 0)
}

/// The checks every blocking acquire makes first: `Ok(true)` when `n` is 0.
///
/// # Errors
///
/// [`AcquireError::InsufficientCapacity`] when `n` exceeds `capacity`,
/// [`AcquireError::Cancelled`] when `cancel` has fired.
pub(crate) fn nothing_to_wait_for(
    n: u32,
    capacity: u32,
    cancel: Option<&CancelToken>,
) -> Result<bool, AcquireError> {
    if n > capacity {
        return Err(AcquireError::InsufficientCapacity {
            requested: n,
            capacity,
        });
    }
    if n > 0 && cancel.is_some_and(CancelToken::is_cancelled) {
        return Err(AcquireError::Cancelled);
    }
    Ok(n == 0)
}
