//! A concurrency limit that moves: calls report how they went through their permit, and
//! an algorithm ([`Aimd`] or [`Gradient`]) raises or lowers the limit from what they say.
//!
//! The limit and the count in flight are atomics, so taking and giving back a permit is a
//! compare-and-swap; a recorded outcome also takes the algorithm's lock once, to update
//! its state. Waiters queue in the windows' [`Fifo`], as [`ConcurrencyLimit`]'s do.
//!
//! [`ConcurrencyLimit`]: crate::ConcurrencyLimit

/// The setters both algorithms share: where the limit starts and the range it moves in
/// (fields `initial`, `min` and `max`).
macro_rules! limit_range_setters {
    () => {
        /// The limit to start from, within `[min_limit, max_limit]`.
        #[must_use]
        pub fn initial_limit(mut self, initial: usize) -> Self {
            self.initial = initial;
            self
        }

        /// The lowest the limit falls to: at least 1.
        #[must_use]
        pub fn min_limit(mut self, min: usize) -> Self {
            self.min = min;
            self
        }

        /// The highest the limit grows to: at least `min_limit`.
        #[must_use]
        pub fn max_limit(mut self, max: usize) -> Self {
            self.max = max;
            self
        }
    };
}

mod aimd;
mod gradient;

use std::fmt;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use patterns_core::{Backoff, CancelToken, Clock};

pub use self::aimd::Aimd;
pub use self::gradient::Gradient;

use crate::error::{AcquireError, ConfigError};
use crate::fifo::Fifo;
use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use crate::sync::{Arc, Mutex};
use crate::timeline::Timeline;

/// How an [`AdaptiveLimit`] moves its limit: one of the algorithms' settings.
///
/// Built from either algorithm's settings with `into()`, which is what
/// [`AdaptiveLimit::new`] does with its argument.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Algorithm {
    /// Additive increase, multiplicative decrease on drops and timeouts.
    Aimd(Aimd),
    /// The limit follows the ratio of a long-term RTT to the recent one.
    Gradient(Gradient),
}

impl From<Aimd> for Algorithm {
    fn from(aimd: Aimd) -> Self {
        Algorithm::Aimd(aimd)
    }
}

impl From<Gradient> for Algorithm {
    fn from(gradient: Gradient) -> Self {
        Algorithm::Gradient(gradient)
    }
}

/// At most [`limit`](AdaptiveLimit::limit) calls in flight, where the limit rises while
/// calls succeed with the limit in use and falls when they are dropped or slow (Netflix's
/// concurrency-limits, for threads).
///
/// A call takes an [`AdaptivePermit`] and, when it is done, says how it went:
/// [`success`](AdaptivePermit::success) (its latency is the time since the permit was
/// taken, on the limiter's clock), [`dropped`](AdaptivePermit::dropped) (the service
/// refused or timed out: overload) or [`ignore`](AdaptivePermit::ignore) (the outcome says
/// nothing about the service, say a client-side error). A permit dropped without a word
/// counts as ignored, so a call that panics does not teach the limit anything. What the
/// algorithms do with the outcomes is on [`Aimd`] and [`Gradient`].
///
/// Blocking calls wait in one queue, in the order they began, and while any waits
/// [`try_acquire`](AdaptiveLimit::try_acquire) refuses, so the room that comes back goes
/// to the first waiter; when the limit rises, the front waiter is woken. When the limit
/// falls below what is in flight, no permit is given out until enough come back. Clones
/// share one limit.
///
/// ```
/// use patterns_core::ManualClock;
/// use rate_limit::{AdaptiveLimit, Aimd};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let aimd = Aimd::default().initial_limit(4).backoff_ratio(0.5);
/// let limit = AdaptiveLimit::with_clock(aimd, clock.clone()).unwrap();
///
/// // Four calls fill the limit; a window of four successes with the limit in use adds one.
/// let permits: Vec<_> = (0..4).map(|_| limit.try_acquire().unwrap()).collect();
/// assert!(limit.try_acquire().is_none());
/// clock.advance(Duration::from_millis(10));
/// permits.into_iter().for_each(|permit| permit.success());
/// assert_eq!(limit.limit(), 5);
///
/// // A drop halves it.
/// limit.try_acquire().unwrap().dropped();
/// assert_eq!(limit.limit(), 2);
/// ```
///
/// # Guarantees
///
/// * Never more than `limit()` permits out, as long as the limit does not fall: a call
///   that reads the limit just before it falls may still be admitted under the old one.
/// * The limit stays in the algorithm's `[min_limit, max_limit]`.
/// * Blocking calls are served in the order they began; a timed call fails once its
///   deadline passes on the clock, and a cancelled one returns at once, holding nothing.
/// * Memory: three counters (the limit and the count in flight on cache lines of their
///   own), the algorithm's few numbers behind a lock, and the waiters' queue.
#[derive(Clone)]
pub struct AdaptiveLimit {
    shared: Arc<Shared>,
}

struct Shared {
    /// Permits out, each counted from its acquire until it is given back.
    in_flight: CachePadded<AtomicUsize>,
    /// The limit a new permit is checked against; written only under `state`'s lock,
    /// from the algorithm's own value.
    limit: CachePadded<AtomicUsize>,
    /// How many times the limit has been cut for a drop. A permit notes it when taken; a
    /// drop from a call that began before the last cut does not cut again (one cut per
    /// round of calls, as TCP cuts once per window: the calls in flight when the service
    /// fell over all fail together, and they are one signal, not many). Written only
    /// under `state`'s lock.
    cuts: AtomicU64,
    state: Mutex<State>,
    /// The algorithm's name, for `Debug`.
    algorithm: &'static str,
    waiters: Fifo,
    time: Timeline,
}

/// The algorithm's state: what each completed call updates.
#[derive(Debug)]
enum State {
    Aimd(aimd::State),
    Gradient(gradient::State),
}

/// What a completed call tells the algorithm.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// From acquire to the outcome, in nanoseconds.
    pub(crate) latency: u64,
    /// The most permits out at either end of the call, its own included: a lower bound
    /// on the most in flight while it ran, which says whether the limit was in use.
    pub(crate) in_flight: usize,
    /// The call was dropped (overload, a refusal, a timeout).
    pub(crate) dropped: bool,
    /// No cut has happened since the call began, so a drop from it may cut.
    pub(crate) fresh: bool,
}

/// What an algorithm made of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Update {
    /// The new limit, within the algorithm's bounds.
    pub(crate) limit: usize,
    /// The limit was cut for a drop: later drops from calls already in flight are the
    /// same signal.
    pub(crate) cut: bool,
}

impl State {
    fn record(&mut self, sample: &Sample) -> Update {
        match self {
            State::Aimd(state) => state.record(sample),
            State::Gradient(state) => state.record(sample),
        }
    }
}

impl fmt::Debug for AdaptiveLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveLimit")
            .field("algorithm", &self.shared.algorithm)
            .field("limit", &self.limit())
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

/// How a call under an [`AdaptiveLimit`] went, to be said once, when it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success(Option<Duration>),
    Dropped,
    Ignored,
}

/// One call in flight under an [`AdaptiveLimit`]. Say how the call went with
/// [`success`](AdaptivePermit::success), [`dropped`](AdaptivePermit::dropped) or
/// [`ignore`](AdaptivePermit::ignore); dropping the permit without a word counts as
/// [`ignore`](AdaptivePermit::ignore). Either way the place in flight is given back.
#[must_use = "dropping the permit ends the call's place in flight at once, as ignored"]
pub struct AdaptivePermit {
    shared: Arc<Shared>,
    /// When the permit was taken, on the limiter's timeline.
    started: u64,
    /// Permits out just after this one was taken, itself included.
    in_flight: usize,
    /// `Shared::cuts` when the permit was taken.
    cuts: u64,
    outcome: Outcome,
}

impl fmt::Debug for AdaptivePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptivePermit").finish_non_exhaustive()
    }
}

impl AdaptivePermit {
    /// The call succeeded; its latency is the time since the permit was taken, on the
    /// limiter's clock. For [`Aimd`], a latency above its timeout counts as a drop.
    pub fn success(mut self) {
        self.outcome = Outcome::Success(None);
    }

    /// The call succeeded in `latency`, measured by the caller (say, the service's own
    /// time, without the client's queueing); otherwise as [`success`](Self::success).
    pub fn success_with_latency(mut self, latency: Duration) {
        self.outcome = Outcome::Success(Some(latency));
    }

    /// The call was dropped: the service refused it, failed for overload or timed out.
    /// The limit is cut, unless it was cut already since this call began: the calls in
    /// flight when a service falls over fail together, and they are one signal.
    pub fn dropped(mut self) {
        self.outcome = Outcome::Dropped;
    }

    /// The call's outcome says nothing about the service (a bad request, a cancelled
    /// call): the limit does not move. The same as dropping the permit.
    pub fn ignore(mut self) {
        self.outcome = Outcome::Ignored;
    }
}

impl Drop for AdaptivePermit {
    fn drop(&mut self) {
        let shared = &*self.shared;
        let latency = match self.outcome {
            Outcome::Ignored => None,
            Outcome::Dropped => Some(0),
            Outcome::Success(Some(latency)) => {
                Some(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX))
            }
            Outcome::Success(None) => Some(shared.time.now().saturating_sub(self.started)),
        };
        if let Some(latency) = latency {
            // The limit moves before the place is given back, so that a cut is in place
            // before anyone can take the place under the old limit.
            let in_flight = shared.in_flight.load(Ordering::Acquire);
            let mut state = shared.state.lock();
            let sample = Sample {
                latency,
                in_flight: self.in_flight.max(in_flight),
                dropped: self.outcome == Outcome::Dropped,
                fresh: shared.cuts.load(Ordering::Relaxed) == self.cuts,
            };
            let update = state.record(&sample);
            if update.cut {
                shared.cuts.fetch_add(1, Ordering::Release);
            }
            shared.limit.store(update.limit, Ordering::Release);
        }
        shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        // A place came back, and perhaps more room with a higher limit: the front waiter
        // tries, and when it leaves the queue it wakes the next, who tries in turn.
        shared.waiters.wake_front();
    }
}

impl AdaptiveLimit {
    /// An adaptive limit moved by `algorithm` ([`Aimd`] or [`Gradient`] settings), timed
    /// on the system's clock.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for settings the algorithm cannot run with:
    /// [`ZeroLimit`](ConfigError::ZeroLimit) for a minimum of 0,
    /// [`LimitRange`](ConfigError::LimitRange) for a minimum above the maximum,
    /// [`InitialLimit`](ConfigError::InitialLimit) for an initial limit outside them, and
    /// [`OutOfRange`](ConfigError::OutOfRange) for a ratio, factor, count or timeout
    /// outside what the setting's documentation allows.
    ///
    /// ```
    /// use rate_limit::{AdaptiveLimit, ConfigError, Gradient};
    ///
    /// let limit = AdaptiveLimit::new(Gradient::default()).unwrap();
    /// assert_eq!(limit.limit(), 20);
    /// assert_eq!(
    ///     AdaptiveLimit::new(Gradient::default().min_limit(50).max_limit(10)).unwrap_err(),
    ///     ConfigError::LimitRange { min: 50, max: 10 }
    /// );
    /// ```
    pub fn new(algorithm: impl Into<Algorithm>) -> Result<Self, ConfigError> {
        AdaptiveLimit::build(algorithm.into(), Timeline::system())
    }

    /// As [`new`](AdaptiveLimit::new), timing latencies and waits on `clock` (a
    /// [`ManualClock`](patterns_core::ManualClock) in tests).
    ///
    /// # Errors
    ///
    /// As [`new`](AdaptiveLimit::new).
    pub fn with_clock(
        algorithm: impl Into<Algorithm>,
        clock: impl Clock,
    ) -> Result<Self, ConfigError> {
        AdaptiveLimit::build(algorithm.into(), Timeline::given(clock))
    }

    fn build(algorithm: Algorithm, time: Timeline) -> Result<Self, ConfigError> {
        let (state, limit, name) = match algorithm {
            Algorithm::Aimd(aimd) => {
                let state = aimd.start()?;
                let limit = state.limit();
                (State::Aimd(state), limit, "aimd")
            }
            Algorithm::Gradient(gradient) => {
                let state = gradient.start()?;
                let limit = state.limit();
                (State::Gradient(state), limit, "gradient")
            }
        };
        Ok(AdaptiveLimit {
            shared: Arc::new(Shared {
                in_flight: CachePadded::new(AtomicUsize::new(0)),
                limit: CachePadded::new(AtomicUsize::new(limit)),
                cuts: AtomicU64::new(0),
                state: Mutex::new(state),
                algorithm: name,
                waiters: Fifo::default(),
                time,
            }),
        })
    }

    /// A permit if the limit has room now and nobody waits for one; never blocks.
    pub fn try_acquire(&self) -> Option<AdaptivePermit> {
        if self.shared.waiters.is_waited_on() {
            return None;
        }
        self.take()
    }

    /// Blocks until the limit has room, in turn.
    pub fn acquire(&self) -> AdaptivePermit {
        self.acquire_until(None, None)
            .expect("without a deadline or a token, a wait only ends with a permit")
    }

    /// Blocks for at most `timeout` (on the limiter's clock) until the limit has room.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Timeout`] once `timeout` has passed without a permit (with how
    /// long the call waited).
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<AdaptivePermit, AcquireError> {
        let deadline = self.shared.time.clock().now().checked_add(timeout);
        self.acquire_until(deadline, None)
    }

    /// Blocks until the limit has room or `token` fires.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Cancelled`] if `token` fires first (or had fired already).
    pub fn acquire_cancellable(&self, token: &CancelToken) -> Result<AdaptivePermit, AcquireError> {
        self.acquire_until(None, Some(token))
    }

    /// The current limit: how many permits may be out at once.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.shared.limit.load(Ordering::Acquire)
    }

    /// Permits out now.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Acquire)
    }

    /// Permits that could be taken now: the limit less what is in flight, 0 while the
    /// limit is below it.
    #[must_use]
    pub fn available(&self) -> usize {
        self.limit().saturating_sub(self.in_flight())
    }

    /// How many blocking calls wait for a permit now.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.shared.waiters.waiting()
    }

    fn acquire_until(
        &self,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<AdaptivePermit, AcquireError> {
        self.shared
            .waiters
            .take_in_turn(self.shared.time.clock(), deadline, cancel, || self.take())
    }

    /// Takes a place in flight if the limit has room.
    fn take(&self) -> Option<AdaptivePermit> {
        let shared = &*self.shared;
        let backoff = Backoff::new();
        let mut in_flight = shared.in_flight.load(Ordering::Acquire);
        loop {
            if in_flight >= shared.limit.load(Ordering::Acquire) {
                return None;
            }
            match shared.in_flight.compare_exchange_weak(
                in_flight,
                in_flight + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => in_flight = now,
            }
            backoff.spin();
        }
        Some(AdaptivePermit {
            shared: Arc::clone(&self.shared),
            started: shared.time.now(),
            in_flight: in_flight + 1,
            cuts: shared.cuts.load(Ordering::Acquire),
            outcome: Outcome::Ignored,
        })
    }
}

/// Checks that `initial` lies in `[min, max]` and `min` is at least 1.
pub(crate) fn check_bounds(initial: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    if min == 0 {
        return Err(ConfigError::ZeroLimit);
    }
    if min > max {
        return Err(ConfigError::LimitRange { min, max });
    }
    if !(min..=max).contains(&initial) {
        return Err(ConfigError::InitialLimit { initial, min, max });
    }
    Ok(())
}
