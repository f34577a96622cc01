//! GCRA, the generic cell rate algorithm: a token bucket kept as one atomic timestamp.

use std::fmt;
use std::time::{Duration, Instant};

use patterns_core::{CancelToken, Clock};

use crate::cell::Cell;
use crate::error::{AcquireError, ConfigError, Denied, TryAcquireError};
use crate::limiter::{self, RateLimiter};
use crate::rate::Rate;
use crate::timeline::Timeline;

/// A limiter by GCRA (governor's algorithm): it admits `burst` calls at once and then
/// one per [`Rate::interval`], as a token bucket of `burst` tokens refilled at `rate`
/// does, with all its state in one atomic word.
///
/// The word is the *theoretical arrival time* (TAT): when the bucket would be full again
/// if nothing more were admitted. A call of `n` at time `t` is admitted when
/// `max(TAT, t) + n × interval ≤ t + burst × interval`, and moves TAT there with one
/// compare-and-swap; so a check is a load, some arithmetic and a CAS, without a lock.
///
/// Blocking calls *reserve*: they move TAT forward at once, past what the bucket holds,
/// and sleep until their time comes. Reservations are made in the order the calls begin,
/// and the capacity they set aside is not there for anyone else, so waits are served in
/// order and a large `acquire_n` is not starved by small calls. A cancelled wait gives
/// its reservation back.
///
/// Rates are kept in whole nanoseconds per call, at least 1 (10⁹ calls a second) and at
/// most 2⁶³ ns / `burst` (292 years over the burst).
///
/// # Memory and contention
///
/// One `u64` of state, plus the settings and a reference to the clock: 72 bytes in all,
/// unpadded, so that one per key stays small. Every admission writes that word: under
/// contention its cache line moves from core to core once per admitted call, as
/// governor's does; [`TokenBucket`](crate::TokenBucket) spreads it over shards instead.
///
/// # Examples
///
/// ```
/// use patterns_core::ManualClock;
/// use rate_limit::{Gcra, Rate, RateLimiter};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let limiter = Gcra::with_clock(Rate::per_second(10), 3, clock.clone()).unwrap();
/// for _ in 0..3 {
///     limiter.try_acquire().unwrap(); // the burst, at once
/// }
/// let denied = limiter.try_acquire().unwrap_err();
/// assert_eq!(denied.retry_after(), Duration::from_millis(100));
/// clock.advance(Duration::from_millis(100));
/// limiter.try_acquire().unwrap();
/// ```
pub struct Gcra {
    /// The theoretical arrival time, in nanoseconds on `time`; 0 (or anything at or
    /// before now) means full.
    tat: Cell,
    /// Nanoseconds per call: the rate's interval.
    interval: u64,
    /// `burst × interval`: how far ahead of now TAT may run.
    tolerance: u64,
    burst: u32,
    time: Timeline,
}

impl fmt::Debug for Gcra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gcra")
            .field("interval", &Duration::from_nanos(self.interval))
            .field("burst", &self.burst)
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}

/// The most `burst × interval` may be, in nanoseconds.
const MAX_TOLERANCE: u64 = 1 << 63;

impl Gcra {
    /// A limiter admitting `burst` calls at once and `rate` after that, on the system's
    /// time (read from the CPU's time-stamp counter, through quanta; the first limiter
    /// of a process calibrates it, for a few milliseconds).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroRate`] or [`ConfigError::ZeroBurst`].
    pub fn new(rate: Rate, burst: u32) -> Result<Gcra, ConfigError> {
        Gcra::build(rate, burst, Timeline::system())
    }

    /// As [`new`](Gcra::new), on `clock` (a [`ManualClock`](patterns_core::ManualClock)
    /// in tests).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroRate`] or [`ConfigError::ZeroBurst`].
    pub fn with_clock(rate: Rate, burst: u32, clock: impl Clock) -> Result<Gcra, ConfigError> {
        Gcra::build(rate, burst, Timeline::given(clock))
    }

    fn build(rate: Rate, burst: u32, time: Timeline) -> Result<Gcra, ConfigError> {
        if rate.is_zero() {
            return Err(ConfigError::ZeroRate);
        }
        if burst == 0 {
            return Err(ConfigError::ZeroBurst);
        }
        // TAT may run `burst × interval` ahead of now; keeping that within 2⁶³ ns (292
        // years) leaves room for the sums below to saturate only where no call could be
        // admitted anyway.
        let interval = rate
            .interval_nanos()
            .clamp(1, MAX_TOLERANCE / u64::from(burst));
        Ok(Gcra {
            tat: Cell::default(),
            interval,
            tolerance: interval.saturating_mul(u64::from(burst)),
            burst,
            time,
        })
    }

    /// The most calls admitted at once.
    #[must_use]
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// TAT's cost of `n` calls.
    fn cost(&self, n: u32) -> u64 {
        self.interval.saturating_mul(u64::from(n))
    }
}

impl RateLimiter for Gcra {
    fn try_acquire_n(&self, n: u32) -> Result<(), TryAcquireError> {
        if limiter::nothing_to_take(n, self.burst)? {
            return Ok(());
        }
        self.tat
            .try_take(&self.time, self.cost(n), self.tolerance)
            .map_err(|wait| Denied::after(wait).into())
    }

    fn acquire_n_until(
        &self,
        n: u32,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), AcquireError> {
        if limiter::nothing_to_wait_for(n, self.burst, cancel)? {
            return Ok(());
        }
        self.tat
            .reserve(&self.time, self.cost(n), self.tolerance, deadline, cancel)
    }

    fn available(&self) -> u64 {
        let ahead = self.tat.ahead(self.time.now());
        self.tolerance.saturating_sub(ahead) / self.interval
    }

    fn capacity(&self) -> u32 {
        self.burst
    }

    fn clock(&self) -> &dyn Clock {
        self.time.clock()
    }
}
