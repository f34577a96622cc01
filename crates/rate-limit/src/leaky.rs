//! The leaky bucket as a meter: admitted calls leave evenly, one interval apart, with no
//! burst.

use std::fmt;
use std::time::{Duration, Instant};

use patterns_core::{CancelToken, Clock};

use crate::cell::Cell;
use crate::error::{AcquireError, ConfigError, Denied, TryAcquireError};
use crate::limiter::{self, RateLimiter};
use crate::rate::Rate;
use crate::timeline::Timeline;

/// A leaky bucket: calls drain out at [`Rate`], one per interval, and never two closer
/// than that — a smooth output with no burst, where a token bucket lets a burst through
/// after an idle spell.
///
/// A call of `n` is admitted once the bucket has drained everything admitted before it,
/// and then occupies it for `n` intervals: `acquire_n(n)` is one message of `n` units
/// (bytes, rows) that the next call must wait behind. So `n` may be anything; the
/// bucket's [`capacity`](RateLimiter::capacity) is `u32::MAX`, and
/// [`available`](RateLimiter::available) is `u32::MAX` when the bucket has drained (any
/// one call passes) and 0 while it has not.
///
/// Time nobody uses is lost: the bucket never catches up, so a caller that asks late
/// (even one descheduled for a moment) gets fewer calls in a second than the rate. Use
/// [`Gcra`](crate::Gcra) with a small burst to absorb such jitter.
///
/// Blocking calls reserve their place at once, in the order they begin, and sleep until
/// it comes, so they leave exactly one interval apart; a cancelled wait gives its place
/// back. State: one atomic timestamp (GCRA with no tolerance: the "virtual scheduling"
/// form of the leaky bucket), unpadded.
///
/// ```
/// use patterns_core::ManualClock;
/// use rate_limit::{LeakyBucket, Rate, RateLimiter};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let bucket = LeakyBucket::with_clock(Rate::per_second(10), clock.clone()).unwrap();
/// bucket.try_acquire().unwrap();
/// // No burst: the next call may leave 100 ms after the first.
/// assert_eq!(bucket.try_acquire().unwrap_err().retry_after(), Duration::from_millis(100));
/// clock.advance(Duration::from_secs(60)); // idle time earns no burst
/// bucket.try_acquire().unwrap();
/// assert!(bucket.try_acquire().is_err());
/// ```
pub struct LeakyBucket {
    /// When the bucket will have drained what it admitted.
    drained: Cell,
    /// Nanoseconds per unit.
    interval: u64,
    time: Timeline,
}

impl fmt::Debug for LeakyBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakyBucket")
            .field("interval", &Duration::from_nanos(self.interval))
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}

impl LeakyBucket {
    /// A bucket draining at `rate`, on the system's time.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroRate`].
    pub fn new(rate: Rate) -> Result<LeakyBucket, ConfigError> {
        LeakyBucket::build(rate, Timeline::system())
    }

    /// As [`new`](LeakyBucket::new), on `clock` (a
    /// [`ManualClock`](patterns_core::ManualClock) in tests).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroRate`].
    pub fn with_clock(rate: Rate, clock: impl Clock) -> Result<LeakyBucket, ConfigError> {
        LeakyBucket::build(rate, Timeline::given(clock))
    }

    fn build(rate: Rate, time: Timeline) -> Result<LeakyBucket, ConfigError> {
        if rate.is_zero() {
            return Err(ConfigError::ZeroRate);
        }
        Ok(LeakyBucket {
            drained: Cell::default(),
            interval: rate.interval_nanos().max(1),
            time,
        })
    }

    /// The time `n` units take to drain. A call admitted now may run this far ahead of
    /// now and no further: exactly its own cost, so the bucket must be empty.
    fn cost(&self, n: u32) -> u64 {
        self.interval.saturating_mul(u64::from(n))
    }
}

impl RateLimiter for LeakyBucket {
    fn try_acquire_n(&self, n: u32) -> Result<(), TryAcquireError> {
        if limiter::nothing_to_take(n, u32::MAX)? {
            return Ok(());
        }
        let cost = self.cost(n);
        self.drained
            .try_take(&self.time, cost, cost)
            .map_err(|wait| Denied::after(wait).into())
    }

    fn acquire_n_until(
        &self,
        n: u32,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), AcquireError> {
        if limiter::nothing_to_wait_for(n, u32::MAX, cancel)? {
            return Ok(());
        }
        let cost = self.cost(n);
        self.drained
            .reserve(&self.time, cost, cost, deadline, cancel)
    }

    fn available(&self) -> u64 {
        if self.drained.ahead(self.time.now()) == 0 {
            u64::from(u32::MAX)
        } else {
            0
        }
    }

    fn capacity(&self) -> u32 {
        u32::MAX
    }

    fn clock(&self) -> &dyn Clock {
        self.time.clock()
    }
}
