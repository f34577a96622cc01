//! At most `n` calls in flight: a semaphore with RAII permits, waiters served in order.

use std::fmt;
use std::time::{Duration, Instant};

use patterns_core::{Backoff, CancelToken, Clock};

use crate::error::{AcquireError, ConfigError};
use crate::fifo::Fifo;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Arc;
use crate::timeline::Timeline;

/// At most `limit` calls in flight at once (the seeds' semaphore-style limiter): a call
/// takes a [`Permit`] and gives it back when the permit is dropped.
///
/// Blocking calls wait in one queue, in the order they began; while any waits,
/// [`try_acquire`](ConcurrencyLimit::try_acquire) refuses, so a returned permit goes to the
/// first waiter. Clones share one limit.
///
/// ```
/// use rate_limit::ConcurrencyLimit;
///
/// let limit = ConcurrencyLimit::new(2).unwrap();
/// let a = limit.try_acquire().unwrap();
/// let _b = limit.try_acquire().unwrap();
/// assert!(limit.try_acquire().is_none()); // two in flight
/// drop(a);
/// assert_eq!(limit.available(), 1);
/// let _c = limit.acquire();
/// ```
#[derive(Clone)]
pub struct ConcurrencyLimit {
    shared: Arc<Shared>,
}

struct Shared {
    /// Permits not taken.
    free: AtomicUsize,
    limit: usize,
    waiters: Fifo,
    time: Timeline,
}

impl fmt::Debug for ConcurrencyLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyLimit")
            .field("limit", &self.shared.limit)
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}

/// One call in flight under a [`ConcurrencyLimit`]; dropping it lets the next one in.
#[must_use = "dropping the permit ends the call's place in flight at once"]
pub struct Permit {
    shared: Arc<Shared>,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.shared.free.fetch_add(1, Ordering::Release);
        self.shared.waiters.wake_front();
    }
}

impl ConcurrencyLimit {
    /// A limit of `limit` calls in flight, timed on the system's clock.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroLimit`] for a `limit` of 0.
    pub fn new(limit: usize) -> Result<Self, ConfigError> {
        ConcurrencyLimit::build(limit, Timeline::system())
    }

    /// As [`new`](ConcurrencyLimit::new), timing its waits on `clock` (a
    /// [`ManualClock`](patterns_core::ManualClock) in tests).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroLimit`] for a `limit` of 0.
    pub fn with_clock(limit: usize, clock: impl Clock) -> Result<Self, ConfigError> {
        ConcurrencyLimit::build(limit, Timeline::given(clock))
    }

    fn build(limit: usize, time: Timeline) -> Result<Self, ConfigError> {
        if limit == 0 {
            return Err(ConfigError::ZeroLimit);
        }
        Ok(ConcurrencyLimit {
            shared: Arc::new(Shared {
                free: AtomicUsize::new(limit),
                limit,
                waiters: Fifo::default(),
                time,
            }),
        })
    }

    /// A permit if one is free now and nobody waits for one; never blocks.
    pub fn try_acquire(&self) -> Option<Permit> {
        if self.shared.waiters.is_waited_on() {
            return None;
        }
        self.take()
    }

    /// Blocks until a permit is free, in turn.
    pub fn acquire(&self) -> Permit {
        self.acquire_until(None, None)
            .expect("without a deadline or a token, a wait only ends with a permit")
    }

    /// Blocks for at most `timeout` until a permit is free.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Timeout`] once `timeout` has passed without a permit (how long
    /// the call waited).
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Permit, AcquireError> {
        let deadline = self.shared.time.clock().now().checked_add(timeout);
        self.acquire_until(deadline, None)
    }

    /// Blocks until a permit is free or `token` fires.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Cancelled`].
    pub fn acquire_cancellable(&self, token: &CancelToken) -> Result<Permit, AcquireError> {
        self.acquire_until(None, Some(token))
    }

    /// Permits free now.
    #[must_use]
    pub fn available(&self) -> usize {
        self.shared.free.load(Ordering::Acquire)
    }

    /// How many blocking calls wait for a permit now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.shared.waiters.waiting()
    }

    /// The most permits out at once.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.shared.limit
    }

    fn acquire_until(
        &self,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<Permit, AcquireError> {
        self.shared
            .waiters
            .take_in_turn(self.shared.time.clock(), deadline, cancel, || self.take())
    }

    /// Takes a free permit, if there is one.
    fn take(&self) -> Option<Permit> {
        let backoff = Backoff::new();
        let mut free = self.shared.free.load(Ordering::Acquire);
        loop {
            if free == 0 {
                return None;
            }
            match self.shared.free.compare_exchange_weak(
                free,
                free - 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Some(Permit {
                        shared: Arc::clone(&self.shared),
                    })
                }
                Err(now) => free = now,
            }
            backoff.spin();
        }
    }
}
