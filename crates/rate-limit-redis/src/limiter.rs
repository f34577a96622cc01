//! [`RedisGcra`]: one GCRA limit, kept in one Redis key, shared by every process using it.

use std::fmt;
use std::time::Instant;

use patterns_core::sync::atomic::Ordering;
use patterns_core::sync::Arc;
use patterns_core::{CancelToken, Clock, SystemClock};
use rate_limit::{AcquireError, ConfigError, Rate, RateLimiter, TryAcquireError};

use crate::builder::{Builder, FailurePolicy};
use crate::error::RedisLimitError;
use crate::shared::Shared;

/// A GCRA limiter (`rate_limit::Gcra`'s algorithm) whose state is one Redis key: every
/// process, thread or clone that checks the same key with the same rate and burst shares
/// one limit, admitting `burst` calls at once and then one per [`Rate::interval`].
///
/// Each check is one Lua script, run atomically by the server (`EVALSHA`, loaded again
/// after a restart), on the server's clock: concurrent processes never admit more than
/// the limit, and processes whose clocks disagree still agree on it. The key holds the
/// theoretical arrival time and expires when the limiter is full again, so an idle limit
/// takes no memory.
///
/// Two families of methods:
///
/// * The [`RateLimiter`] methods (`try_acquire`, `acquire`, `acquire_timeout`, …) answer
///   with `rate_limit`'s errors, and decide a Redis failure by the [`FailurePolicy`]:
///   refuse (the default) or admit.
/// * The typed methods ([`check`](RedisGcra::check), [`check_n`](RedisGcra::check_n),
///   [`wait_n_until`](RedisGcra::wait_n_until),
///   [`query_available`](RedisGcra::query_available)) report a Redis failure as
///   [`RedisLimitError::Redis`], whatever the policy.
///
/// Blocking calls *reserve*, as the local `Gcra` does: the script moves TAT forward at
/// once, past what the bucket holds, and the caller sleeps until its time; the capacity
/// set aside is nobody else's, in any process, so waits are served in the order they
/// reached the server. A wait that would end after its deadline fails at once, reserving
/// nothing; a cancelled wait gives its reservation back with a second script.
///
/// Clones share the connections and the failure count.
///
/// Rates are kept in whole nanoseconds per call, at least 1 and at most 2⁵² ns / `burst`
/// (52 days over the burst): the scripts' arithmetic, in Lua's doubles, is exact below
/// that.
///
/// # Examples
///
/// ```no_run
/// use rate_limit::{Rate, RateLimiter};
/// use rate_limit_redis::{RedisGcra, RedisLimitError};
///
/// let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
/// let limiter = RedisGcra::new(client, "quota:search-api", Rate::per_second(10), 5).unwrap();
///
/// // Through the trait: a Redis failure is a refusal (the default, fail-closed policy).
/// match limiter.try_acquire() {
///     Ok(()) => println!("go"),
///     Err(denied) => println!("retry after {:?}", denied.retry_after()),
/// }
/// // Typed: a Redis failure is an error of its own.
/// match limiter.check() {
///     Ok(()) => println!("go"),
///     Err(RedisLimitError::Redis(error)) => eprintln!("no limit to check: {error}"),
///     Err(other) => println!("not now: {other}"),
/// }
/// limiter.acquire().unwrap(); // waits its turn
/// ```
#[derive(Clone)]
pub struct RedisGcra {
    shared: Arc<Shared>,
    key: Vec<u8>,
}

impl fmt::Debug for RedisGcra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.debug(f, "RedisGcra", "key", &self.key)
    }
}

impl RedisGcra {
    /// A limiter on the Redis key `key`, admitting `burst` calls at once and `rate` after
    /// that, through `client` (which connects on the first check), failing closed; see
    /// [`Builder`] for the other settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroRate`] or [`ConfigError::ZeroBurst`]. Redis is not asked: an
    /// unreachable server shows on the first check.
    pub fn new(
        client: redis::Client,
        key: impl Into<Vec<u8>>,
        rate: Rate,
        burst: u32,
    ) -> Result<RedisGcra, ConfigError> {
        Builder::new(client, rate, burst).gcra(key)
    }

    pub(crate) fn from_parts(shared: Arc<Shared>, key: Vec<u8>) -> RedisGcra {
        RedisGcra { shared, key }
    }

    /// Admits one call now, or refuses without consuming anything.
    ///
    /// # Errors
    ///
    /// [`RedisLimitError::Denied`] with the time to retry, or [`RedisLimitError::Redis`].
    pub fn check(&self) -> Result<(), RedisLimitError> {
        self.check_n(1)
    }

    /// Admits `n` calls now, or refuses without consuming anything. `n == 0` passes
    /// without asking Redis.
    ///
    /// # Errors
    ///
    /// [`RedisLimitError::Denied`] with the time to retry;
    /// [`RedisLimitError::InsufficientCapacity`] (without asking Redis) if `n` exceeds the
    /// burst; [`RedisLimitError::Redis`] if Redis failed, whatever the failure policy.
    pub fn check_n(&self, n: u32) -> Result<(), RedisLimitError> {
        self.shared.check_n(&self.key, n)
    }

    /// Blocks until `n` calls are admitted, `deadline` (on the system clock) would be
    /// passed, or `cancel` fires: [`acquire_n_until`](RateLimiter::acquire_n_until) with
    /// Redis failures reported, not decided by the policy (and not retried).
    ///
    /// # Errors
    ///
    /// [`RedisLimitError::InsufficientCapacity`], [`RedisLimitError::Timeout`] (at once,
    /// reserving nothing, when the wait needed ends after `deadline`),
    /// [`RedisLimitError::Cancelled`], or [`RedisLimitError::Redis`].
    pub fn wait_n_until(
        &self,
        n: u32,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), RedisLimitError> {
        self.shared.wait_n_until(&self.key, n, deadline, cancel)
    }

    /// How many single calls would be admitted now: [`available`](RateLimiter::available)
    /// with Redis failures reported.
    ///
    /// # Errors
    ///
    /// [`RedisLimitError::Redis`].
    pub fn query_available(&self) -> Result<u64, RedisLimitError> {
        self.shared.query_available(&self.key)
    }

    /// The Redis key that holds the limit's state.
    #[must_use]
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The most calls admitted at once.
    #[must_use]
    pub fn burst(&self) -> u32 {
        self.shared.settings.burst
    }

    /// What the [`RateLimiter`] methods do when Redis fails.
    #[must_use]
    pub fn failure_policy(&self) -> FailurePolicy {
        self.shared.settings.policy
    }

    /// How many Redis failures the [`RateLimiter`] methods have decided by the failure
    /// policy (refused or admitted without the limit), counted across clones (and, for a
    /// limiter from [`RedisKeyed::limiter`](crate::RedisKeyed::limiter), across every key
    /// of its keyed limiter). The typed methods report theirs and do not count them.
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Relaxed)
    }
}

/// Redis failures are decided by the [`FailurePolicy`]: see there.
impl RateLimiter for RedisGcra {
    fn try_acquire_n(&self, n: u32) -> Result<(), TryAcquireError> {
        self.shared.try_acquire_n(&self.key, n)
    }

    fn acquire_n_until(
        &self,
        n: u32,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), AcquireError> {
        self.shared.acquire_n_until(&self.key, n, deadline, cancel)
    }

    /// Asks Redis; 0 when it fails under [`FailurePolicy::Closed`], the burst under
    /// [`FailurePolicy::Open`].
    fn available(&self) -> u64 {
        self.shared.available(&self.key)
    }

    fn capacity(&self) -> u32 {
        self.shared.settings.burst
    }

    /// The system clock: deadlines are read on it, and reservations sleep on it. The
    /// limit itself runs on the Redis server's clock.
    fn clock(&self) -> &dyn Clock {
        &SystemClock
    }
}
