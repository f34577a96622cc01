//! The window limiters: at most `limit` calls in any window of time, counted three ways.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use patterns_core::{CancelToken, Clock};

use crate::error::{AcquireError, ConfigError, Denied, TryAcquireError};
use crate::fifo::Fifo;
use crate::limiter::{self, RateLimiter};
use crate::sync::{Mutex, MutexGuard};
use crate::timeline::Timeline;

/// How one window algorithm counts: the part that differs between [`FixedWindow`],
/// [`SlidingWindowLog`] and [`SlidingWindowCounter`].
pub trait Count: Send + fmt::Debug + 'static {
    /// How long, in nanoseconds, until `n` calls fit at `now` (on the limiter's time): 0
    /// if they fit now. `n` is at most the limit.
    #[doc(hidden)]
    fn wait(&mut self, now: u64, n: u32, limit: u32, window: u64) -> u64;

    /// Counts `n` calls admitted at `now`, after `wait` said 0.
    #[doc(hidden)]
    fn take(&mut self, now: u64, n: u32);

    /// Admits `n` calls at `now`, or says how long until it would.
    #[doc(hidden)]
    fn admit(&mut self, now: u64, n: u32, limit: u32, window: u64) -> Result<(), u64> {
        match self.wait(now, n, limit, window) {
            0 => {
                self.take(now, n);
                Ok(())
            }
            wait => Err(wait),
        }
    }

    /// How many single calls would be admitted at `now`.
    #[doc(hidden)]
    fn available(&mut self, now: u64, limit: u32, window: u64) -> u64;
}

/// A limiter admitting at most `limit` calls per `window`, counted by `C`. Built through
/// [`FixedWindow::new`], [`SlidingWindowLog::new`] and [`SlidingWindowCounter::new`].
///
/// Blocking calls wait in one queue, in the order they began; while any waits, `try_`
/// calls are refused (their `retry_after` is then a lower bound), so that the first
/// waiter is not starved.
pub struct Windowed<C> {
    count: Mutex<Counted<C>>,
    limit: u32,
    /// The window, in nanoseconds.
    window: u64,
    waiters: Fifo,
    time: Timeline,
}

/// A count and the latest time it was read at.
#[derive(Debug)]
struct Counted<C> {
    count: C,
    latest: u64,
}

/// At most `limit` calls per fixed window: the simplest count, one counter and the
/// window's start. A window starts at the first call after the previous one ended
/// (tower's anchoring), so up to `2 × limit` calls can pass within one window's length
/// across a boundary.
pub type FixedWindow = Windowed<Fixed>;
/// At most `limit` calls in any window ending now: exact, a timestamp kept per admitted
/// call (`limit` × 16 bytes at most).
pub type SlidingWindowLog = Windowed<Log>;
/// About `limit` calls in any window ending now: the current and previous fixed window's
/// counts, the previous weighted by how much of it the sliding window still covers
/// (Cloudflare's). Two counters; never more than `limit` in a fixed window, and smooth
/// across boundaries.
pub type SlidingWindowCounter = Windowed<Counter>;

impl<C: Count> fmt::Debug for Windowed<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Windowed")
            .field("count", &self.count.lock().count)
            .field("limit", &self.limit)
            .field("window", &Duration::from_nanos(self.window))
            .finish_non_exhaustive()
    }
}

impl<C: Count> Windowed<C> {
    fn build(limit: u32, window: Duration, count: C, time: Timeline) -> Result<Self, ConfigError> {
        if limit == 0 {
            return Err(ConfigError::ZeroLimit);
        }
        let window = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        if window == 0 {
            return Err(ConfigError::ZeroRate);
        }
        Ok(Windowed {
            count: Mutex::new(Counted { count, latest: 0 }),
            limit,
            window,
            waiters: Fifo::default(),
            time,
        })
    }

    /// Admits `n` now, or says when they would fit: the instant on the clock, measured
    /// from the same reading of the time as the refusal.
    fn admit(&self, n: u32) -> Result<(), Instant> {
        let (mut held, now) = self.lock();
        held.count
            .admit(now, n, self.limit, self.window)
            .map_err(|wait| self.time.instant(now.saturating_add(wait)))
    }

    /// The count, and the time to use with it: read under its lock, and never before a
    /// time it was used with already. A time read before the lock could be older than
    /// one another call used meanwhile, and a count given it would roll back — the
    /// counter's previous window forgotten, a log's entry expiring early — and admit too
    /// much (four threads on two cores saw 20% over the limit).
    fn lock(&self) -> (MutexGuard<'_, Counted<C>>, u64) {
        let mut held = self.count.lock();
        let now = self.time.now().max(held.latest);
        held.latest = now;
        (held, now)
    }
}

macro_rules! constructors {
    ($name:ident, $count:expr, $doc:literal) => {
        impl Windowed<$name> {
            #[doc = $doc]
            ///
            /// # Errors
            ///
            /// [`ConfigError::ZeroLimit`] for a `limit` of 0, [`ConfigError::ZeroRate`]
            /// for an empty `window`.
            pub fn new(limit: u32, window: Duration) -> Result<Self, ConfigError> {
                Windowed::build(limit, window, $count, Timeline::system())
            }

            /// As `new`, on `clock` (a [`ManualClock`](patterns_core::ManualClock) in
            /// tests).
            ///
            /// # Errors
            ///
            /// As `new`.
            pub fn with_clock(
                limit: u32,
                window: Duration,
                clock: impl Clock,
            ) -> Result<Self, ConfigError> {
                Windowed::build(limit, window, $count, Timeline::given(clock))
            }
        }
    };
}

constructors!(
    Fixed,
    Fixed::default(),
    "At most `limit` calls per fixed `window`."
);
constructors!(
    Log,
    Log::default(),
    "At most `limit` calls in any `window` ending now."
);
constructors!(
    Counter,
    Counter::default(),
    "About `limit` calls in any `window` ending now, from two counters."
);

impl<C: Count> RateLimiter for Windowed<C> {
    fn try_acquire_n(&self, n: u32) -> Result<(), TryAcquireError> {
        if limiter::nothing_to_take(n, self.limit)? {
            return Ok(());
        }
        let refused = |retry_after| TryAcquireError::Denied(Denied { retry_after });
        if self.waiters.is_waited_on() {
            // The first waiter's turn: refuse, with how long this call would wait alone
            // (a lower bound, then).
            let (mut held, now) = self.lock();
            let alone = held.count.wait(now, n, self.limit, self.window);
            return Err(refused(Duration::from_nanos(alone.max(1))));
        }
        self.admit(n)
            .map_err(|ready| refused(ready.saturating_duration_since(self.time.clock().now())))
    }

    fn acquire_n_until(
        &self,
        n: u32,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), AcquireError> {
        if limiter::nothing_to_wait_for(n, self.limit, cancel)? {
            return Ok(());
        }
        self.waiters
            .admit_in_turn(self.time.clock(), deadline, cancel, || self.admit(n))
    }

    fn available(&self) -> u64 {
        if self.waiters.is_waited_on() {
            return 0;
        }
        let (mut held, now) = self.lock();
        held.count.available(now, self.limit, self.window)
    }

    fn capacity(&self) -> u32 {
        self.limit
    }

    fn clock(&self) -> &dyn Clock {
        self.time.clock()
    }
}

/// The count of [`FixedWindow`]: the current window's start and calls.
#[derive(Debug, Default)]
pub struct Fixed {
    start: Option<u64>,
    calls: u32,
}

impl Fixed {
    /// Starts a new window at `now` if the current one has ended.
    fn roll(&mut self, now: u64, window: u64) {
        if self
            .start
            .map_or(true, |start| now >= start.saturating_add(window))
        {
            self.start = Some(now);
            self.calls = 0;
        }
    }
}

impl Count for Fixed {
    fn wait(&mut self, now: u64, n: u32, limit: u32, window: u64) -> u64 {
        self.roll(now, window);
        if u64::from(self.calls) + u64::from(n) <= u64::from(limit) {
            return 0;
        }
        self.start.unwrap_or(now).saturating_add(window) - now
    }

    fn take(&mut self, _now: u64, n: u32) {
        self.calls += n;
    }

    fn available(&mut self, now: u64, limit: u32, window: u64) -> u64 {
        // Without rolling: a look is not a call, and must not anchor a new window.
        let ended = self
            .start
            .map_or(true, |start| now >= start.saturating_add(window));
        if ended {
            u64::from(limit)
        } else {
            u64::from(limit - self.calls)
        }
    }
}

/// The count of [`SlidingWindowLog`]: when each admitted call came, oldest first.
#[derive(Debug, Default)]
pub struct Log {
    /// (time, calls admitted then); at most `limit` calls in all.
    admitted: VecDeque<(u64, u32)>,
    calls: u32,
}

impl Log {
    /// Forgets the calls that no window ending at `now` covers.
    fn expire(&mut self, now: u64, window: u64) {
        while let Some(&(at, n)) = self.admitted.front() {
            if at.saturating_add(window) > now {
                break;
            }
            self.admitted.pop_front();
            self.calls -= n;
        }
    }
}

impl Count for Log {
    fn wait(&mut self, now: u64, n: u32, limit: u32, window: u64) -> u64 {
        self.expire(now, window);
        // Until enough of the oldest calls have left the window (none, if they fit now).
        let mut left = self.calls;
        let mut oldest = self.admitted.iter();
        let fits = |left: u32| u64::from(left) + u64::from(n) <= u64::from(limit);
        while !fits(left) {
            let &(at, k) = oldest
                .next()
                .expect("with every call gone, `n <= limit` fits");
            left -= k;
            if fits(left) {
                return at.saturating_add(window) - now;
            }
        }
        0
    }

    fn take(&mut self, now: u64, n: u32) {
        self.calls += n;
        self.admitted.push_back((now, n));
    }

    fn available(&mut self, now: u64, limit: u32, window: u64) -> u64 {
        self.expire(now, window);
        u64::from(limit - self.calls)
    }
}

/// The count of [`SlidingWindowCounter`]: calls in the current and the previous fixed
/// window, windows aligned to the limiter's start.
#[derive(Debug, Default)]
pub struct Counter {
    /// The index of the current window.
    index: u64,
    current: u32,
    previous: u32,
}

impl Counter {
    fn roll(&mut self, now: u64, window: u64) {
        let index = now / window;
        if index != self.index {
            self.previous = if index == self.index + 1 {
                self.current
            } else {
                0
            };
            self.current = 0;
            self.index = index;
        }
    }

    /// `estimate × window` at `elapsed` into the current window, with `extra` more calls.
    fn weighted(&self, elapsed: u64, extra: u32, window: u64) -> u128 {
        u128::from(self.previous) * u128::from(window - elapsed)
            + (u128::from(self.current) + u128::from(extra)) * u128::from(window)
    }
}

impl Count for Counter {
    fn wait(&mut self, now: u64, n: u32, limit: u32, window: u64) -> u64 {
        self.roll(now, window);
        let elapsed = now % window;
        let cap = u128::from(limit) * u128::from(window);
        if self.weighted(elapsed, n, window) <= cap {
            return 0;
        }
        // In this window: the previous window's weight falls until it fits, if it can.
        let with_n = u64::from(self.current) + u64::from(n);
        let room = u64::from(limit).saturating_sub(with_n);
        if with_n <= u64::from(limit) && self.previous > 0 {
            let fits_at =
                window - (u128::from(room) * u128::from(window) / u128::from(self.previous)) as u64;
            if fits_at < window {
                return fits_at - elapsed;
            }
        }
        // In the next window, this one's calls weigh as the previous did.
        let to_next = window - elapsed;
        let room = u64::from(limit - n);
        let fits_at = if self.current == 0 || u64::from(self.current) <= room {
            0
        } else {
            window - (u128::from(room) * u128::from(window) / u128::from(self.current)) as u64
        };
        to_next + fits_at
    }

    fn take(&mut self, _now: u64, n: u32) {
        self.current += n;
    }

    fn available(&mut self, now: u64, limit: u32, window: u64) -> u64 {
        self.roll(now, window);
        let elapsed = now % window;
        let used = self
            .weighted(elapsed, 0, window)
            .div_ceil(u128::from(window));
        u64::from(limit).saturating_sub(used as u64)
    }
}
