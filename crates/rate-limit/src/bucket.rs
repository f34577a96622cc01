//! The token bucket, split into shards so that threads on different cores do not write
//! one cache line per call.

use std::fmt;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use patterns_core::{Backoff, CancelToken, Clock};

use crate::cell::{Admission, Cell};
use crate::error::{AcquireError, ConfigError, Denied, TryAcquireError};
use crate::fifo::Fifo;
use crate::limiter::{self, RateLimiter};
use crate::rate::Rate;
use crate::timeline::Timeline;

/// The most shards a bucket is split into.
const MAX_SHARDS: usize = 64;

/// A token bucket of `burst` tokens refilled at `rate`, split into shards (each a GCRA
/// cell on its own cache line, holding its share of the burst and refilled at its share
/// of the rate) so that callers on different cores take tokens without touching one
/// another's memory.
///
/// A call takes from its thread's home shard with one compare-and-swap, as [`Gcra`]
/// does. When that shard is short, it reads every shard and, if they hold enough between
/// them, takes the rest from the fullest first; if they do not, it is refused, having
/// written nothing. So:
///
/// * **It does not admit more than an exact token bucket of `burst` and `rate`**: the
///   shards' tokens add up to it, and every token is taken from one shard atomically.
///   The one exception: a call that loses a race while taking from several shards gives
///   back what it took and looks again; if it was descheduled long enough for one of
///   those shards to fill up meanwhile, part of what it gives back an exact bucket would
///   have lost to the cap — less than the call's `n`, once per such race.
/// * **It can admit a little less**: a shard that is full stops refilling while another
///   is empty (taking from the fullest first keeps that rare under load). After an idle
///   spell the burst is exact, and under steady load the long-run rate is.
///   [`with_shards(1)`](TokenBucket::with_shards) makes it exact at all times, as
///   [`Gcra`] is, with one shared cache line.
/// * `retry_after` is tight and inclusive for the shards as they were read.
///
/// Blocking calls wait in one queue, in the order they began, the first taking tokens
/// as they come back; while any waits, `try_` calls are refused (their `retry_after` is
/// then a lower bound), so a large `acquire_n` is not starved.
///
/// Rates are kept in whole nanoseconds per token, at least 1 (10⁹ a second); a rate so
/// slow that the shards' time would pass 2⁶³ ns gets fewer shards, down to one, and past
/// that is held at 2⁶³ ns / (`burst` + 1), as [`Gcra`]'s is.
///
/// # Memory and contention
///
/// 128 bytes per shard (a `u64` and its share on a padded line). By default the bucket
/// has four shards per core, rounded up to a power of two, at most 64 and at most
/// `burst`; a thread's home shard is fixed when it first calls. An admission from the
/// home shard writes only that shard's line; one that gathers reads every shard's.
///
/// [`Gcra`]: crate::Gcra
///
/// # Examples
///
/// ```
/// use patterns_core::ManualClock;
/// use rate_limit::{Rate, RateLimiter, TokenBucket};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let bucket = TokenBucket::with_clock(Rate::per_second(100), 20, clock.clone()).unwrap();
/// bucket.try_acquire_n(20).unwrap(); // the whole burst, gathered from every shard
/// let denied = bucket.try_acquire().unwrap_err();
/// assert_eq!(denied.retry_after(), Duration::from_millis(10));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(bucket.available(), 20); // full again, never more than the burst
/// ```
pub struct TokenBucket {
    shards: Box<[CachePadded<Shard>]>,
    /// Nanoseconds of a shard's TAT per token: `interval × shards`, since each shard
    /// refills at its share of the rate.
    cost: u64,
    /// Nanoseconds per token for the whole bucket.
    interval: u64,
    burst: u32,
    waiters: Fifo,
    time: Timeline,
}

/// One shard: a GCRA cell and how far ahead of now its TAT may run (its share of the
/// burst, times `cost`).
#[derive(Debug)]
struct Shard {
    tat: Cell,
    tolerance: u64,
}

/// Each shard's credit — nanoseconds of TAT it could still give — read at one instant.
struct Credits {
    credit: [u64; MAX_SHARDS],
}

impl fmt::Debug for TokenBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBucket")
            .field("interval", &Duration::from_nanos(self.interval))
            .field("burst", &self.burst)
            .field("shards", &self.shards.len())
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}

/// The thread's home shard index, before it is reduced to a bucket's shard count.
#[inline]
#[cfg(not(loom))]
fn home_index() -> usize {
    // A hint only, never a synchronization: which shard a thread starts at changes how
    // fast it is admitted, not what is admitted. So a plain std counter, outside the
    // facade; and a `const` thread-local, which needs no lazy set-up on each read.
    // tidy: allow(std-path): a counter handing out hints, which loom need not follow.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    crate::sync::thread_local! {
        static HOME: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
    }
    HOME.with(|home| match home.get() {
        usize::MAX => {
            let index = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % MAX_SHARDS;
            home.set(index);
            index
        }
        index => index,
    })
}

/// Under loom every thread starts from shard 0: a model must run the same way every time
/// it is replayed, and a counter that outlives one execution would not.
#[cfg(loom)]
fn home_index() -> usize {
    0
}

impl TokenBucket {
    /// A bucket of `burst` tokens refilled at `rate`, on the system's time, with the
    /// default number of shards.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroRate`] or [`ConfigError::ZeroBurst`].
    pub fn new(rate: Rate, burst: u32) -> Result<TokenBucket, ConfigError> {
        TokenBucket::build(rate, burst, default_shards(), Timeline::system())
    }

    /// As [`new`](TokenBucket::new), on `clock` (a
    /// [`ManualClock`](patterns_core::ManualClock) in tests).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroRate`] or [`ConfigError::ZeroBurst`].
    pub fn with_clock(
        rate: Rate,
        burst: u32,
        clock: impl Clock,
    ) -> Result<TokenBucket, ConfigError> {
        TokenBucket::build(rate, burst, default_shards(), Timeline::given(clock))
    }

    /// The same bucket, full, split into `shards` shards instead: rounded up to a power of
    /// two, then held to 1..=64 and to the largest power of two not above the burst. One
    /// shard is an exact token bucket on one cache line.
    #[must_use]
    pub fn with_shards(self, shards: usize) -> TokenBucket {
        let rate = Rate::new(1, Duration::from_nanos(self.interval));
        TokenBucket::build(rate, self.burst, shards, self.time)
            .expect("the settings were valid once")
    }

    fn build(
        rate: Rate,
        burst: u32,
        shards: usize,
        time: Timeline,
    ) -> Result<TokenBucket, ConfigError> {
        if rate.is_zero() {
            return Err(ConfigError::ZeroRate);
        }
        if burst == 0 {
            return Err(ConfigError::ZeroBurst);
        }
        let fits = prev_power_of_two(burst as usize);
        // The shards' capacities add up to `interval × shards × burst` nanoseconds of
        // shard time, which must stay within 2⁶³ (with a call's worth to spare): slow
        // rates get fewer shards, down to one, and only past that a faster rate than
        // asked, as Gcra's.
        let interval = rate.interval_nanos().max(1);
        let span = u128::from(interval) * (u128::from(burst) + 1);
        let room = usize::try_from((1u128 << 63) / span).unwrap_or(usize::MAX);
        let count = shards
            .max(1)
            .checked_next_power_of_two()
            .unwrap_or(MAX_SHARDS)
            .min(MAX_SHARDS)
            .min(fits)
            .min(prev_power_of_two(room.max(1)));
        let count_u64 = count as u64;
        let interval = interval.min((1 << 63) / (count_u64 * (u64::from(burst) + 1)));
        let cost = interval * count_u64;
        let shards = (0..count_u64)
            .map(|i| {
                // The burst shared out: the first `burst % count` shards hold one more.
                let share =
                    u64::from(burst) / count_u64 + u64::from(i < u64::from(burst) % count_u64);
                CachePadded::new(Shard {
                    tat: Cell::default(),
                    tolerance: share * cost,
                })
            })
            .collect();
        Ok(TokenBucket {
            shards,
            cost,
            interval,
            burst,
            waiters: Fifo::default(),
            time,
        })
    }

    /// The most tokens taken at once.
    #[must_use]
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// How many shards the bucket is split into.
    #[must_use]
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    fn home(&self) -> usize {
        home_index() & (self.shards.len() - 1)
    }

    /// Takes `n` tokens at `now`, or says how many nanoseconds until they would be there.
    fn take(&self, n: u32, now: u64) -> Result<(), u64> {
        let need = self.cost.saturating_mul(u64::from(n));
        let home = self.home();
        let shard = &self.shards[home];
        let backoff = Backoff::new();
        loop {
            let admission = Admission::of(shard.tat.load(), now, need, shard.tolerance);
            if admission.wait > 0 {
                break;
            }
            if shard.tat.claim(&admission) {
                return Ok(());
            }
            backoff.spin();
        }
        self.gather(need, now)
    }

    /// Takes `need` from the shards, the fullest first, if they hold it between them;
    /// otherwise says when they will, having written nothing.
    ///
    /// The fullest first because a full shard does not refill: drained in a fixed order,
    /// the shards no thread starts from would fill up and waste their share of the rate
    /// (the real-clock accuracy test lost a fifth of the rate that way, with four threads
    /// on eight shards).
    fn gather(&self, need: u64, now: u64) -> Result<(), u64> {
        let count = self.shards.len();
        let backoff = Backoff::new();
        for _ in 0..count {
            let credits = self.credits(now);
            if credits.credit[..count].iter().sum::<u64>() < need {
                return Err(self.wait_for(&credits, need));
            }
            let mut order = [0u8; MAX_SHARDS];
            for (i, slot) in order[..count].iter_mut().enumerate() {
                *slot = i as u8; // at most 64 shards
            }
            order[..count]
                .sort_unstable_by_key(|&i| std::cmp::Reverse(credits.credit[usize::from(i)]));
            let mut taken = [(0u64, 0u64); MAX_SHARDS]; // (how much, ending where)
            let mut left = need;
            for i in order[..count].iter().map(|&i| usize::from(i)) {
                let shard = &self.shards[i];
                loop {
                    let tat = shard.tat.load();
                    let take = shard.credit(tat, now).min(left);
                    if take == 0 {
                        break;
                    }
                    let claim = Admission::of(tat, now, take, shard.tolerance);
                    if shard.tat.claim(&claim) {
                        taken[i] = (take, claim.end());
                        left -= take;
                        break;
                    }
                    backoff.spin();
                }
                if left == 0 {
                    return Ok(());
                }
            }
            // Other calls took what the look saw: give it all back and look again.
            for (shard, &(taken, end)) in self.shards.iter().zip(&taken) {
                if taken > 0 {
                    shard.tat.release(&self.time, taken, end);
                }
            }
            backoff.spin();
        }
        // Outraced every time: refuse, as a compare-and-swap that keeps losing would
        // not; the wait is a lower bound then.
        Err(self.wait_for(&self.credits(now), need).max(1))
    }

    /// Every shard's credit at `now`.
    fn credits(&self, now: u64) -> Credits {
        let mut credits = Credits {
            credit: [0; MAX_SHARDS],
        };
        for (credit, shard) in credits.credit.iter_mut().zip(self.shards.iter()) {
            *credit = shard.credit(shard.tat.load(), now);
        }
        credits
    }

    /// Nanoseconds until the shards, holding `credits` now, hold `need` between them:
    /// each gains one nanosecond of credit per nanosecond until it is full.
    fn wait_for(&self, credits: &Credits, need: u64) -> u64 {
        let count = self.shards.len();
        let held: u64 = credits.credit[..count].iter().sum();
        let Some(mut short) = need.checked_sub(held).filter(|&short| short > 0) else {
            return 0;
        };
        // Each shard fills up after its headroom; until then it adds to the total.
        let mut headroom = [0u64; MAX_SHARDS];
        for (room, (shard, credit)) in headroom
            .iter_mut()
            .zip(self.shards.iter().zip(&credits.credit))
        {
            *room = shard.tolerance - credit;
        }
        let headroom = &mut headroom[..count];
        headroom.sort_unstable();
        let (mut reached, mut filling) = (0, count as u64);
        for &room in headroom.iter() {
            let gained = (room - reached) * filling;
            if gained >= short {
                return reached + short.div_ceil(filling);
            }
            short -= gained;
            reached = room;
            filling -= 1;
        }
        unreachable!("`need` is at most the burst, which full shards hold")
    }
}

impl Shard {
    /// Nanoseconds of TAT the shard could give at `now`, its TAT being `tat`.
    #[inline]
    fn credit(&self, tat: u64, now: u64) -> u64 {
        self.tolerance.saturating_sub(tat.saturating_sub(now))
    }
}

/// The largest power of two not above `n` (at least 1).
fn prev_power_of_two(n: usize) -> usize {
    1 << n.max(1).ilog2()
}

/// Four shards per core: enough that threads oversubscribing the cores mostly have a
/// shard each.
fn default_shards() -> usize {
    // tidy: allow(std-path): a count of cores, read once, which loom need not model.
    std::thread::available_parallelism().map_or(1, |cores| cores.get() * 4)
}

impl RateLimiter for TokenBucket {
    fn try_acquire_n(&self, n: u32) -> Result<(), TryAcquireError> {
        if limiter::nothing_to_take(n, self.burst)? {
            return Ok(());
        }
        if self.waiters.is_waited_on() {
            // The first waiter's turn: refuse, with how long this call would wait alone.
            let need = self.cost.saturating_mul(u64::from(n));
            let alone = self.wait_for(&self.credits(self.time.now()), need);
            return Err(Denied::after(alone.max(1)).into());
        }
        self.take(n, self.time.now())
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
        self.waiters
            .admit_in_turn(self.time.clock(), deadline, cancel, || {
                let now = self.time.now();
                self.take(n, now)
                    .map_err(|wait| self.time.instant(now.saturating_add(wait)))
            })
    }

    fn available(&self) -> u64 {
        if self.waiters.is_waited_on() {
            return 0;
        }
        let credits = self.credits(self.time.now());
        credits.credit[..self.shards.len()].iter().sum::<u64>() / self.cost
    }

    fn capacity(&self) -> u32 {
        self.burst
    }

    fn clock(&self) -> &dyn Clock {
        self.time.clock()
    }
}
