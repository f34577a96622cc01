//! [`RedisKeyed`]: one GCRA limit per key (a user, a tenant, a host), each in its own
//! Redis key, forgotten by Redis once full again.

use std::fmt;
use std::time::{Duration, Instant};

use patterns_core::sync::atomic::Ordering;
use patterns_core::sync::Arc;
use patterns_core::CancelToken;
use rate_limit::{ConfigError, Rate};

use crate::builder::{Builder, FailurePolicy};
use crate::error::RedisLimitError;
use crate::limiter::RedisGcra;
use crate::shared::Shared;

/// A limit per key, each a [`RedisGcra`] on the Redis key `prefix + key`, all with the
/// same rate and burst and sharing one set of connections.
///
/// # Memory
///
/// One Redis string per key that is not full: the key's theoretical arrival time, about
/// 19 bytes of value (some 70–90 bytes with Redis's own overhead per key). Each check sets
/// the key to expire when the limiter would be full again (TAT − now), so Redis drops it by
/// itself; a key at rest takes nothing. This is the keyed limiter's eviction: no sweeper,
/// no bound to configure — memory is bounded by the keys active within the last
/// `burst × interval`. Nothing is kept in the process.
///
/// # Examples
///
/// ```no_run
/// use rate_limit::{Rate, RateLimiter};
/// use rate_limit_redis::RedisKeyed;
///
/// let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
/// let per_user = RedisKeyed::new(client, "rl:user:", Rate::per_minute(60), 10).unwrap();
/// for user in ["alice", "bob", "alice"] {
///     match per_user.check(user) {
///         Ok(()) => println!("{user}: served"),
///         Err(error) => println!("{user}: {error}"), // denied, or Redis failed
///     }
/// }
/// // The whole `RateLimiter` family for one key, deciding Redis failures by the policy:
/// per_user.limiter("carol").acquire_timeout(std::time::Duration::from_secs(2)).ok();
/// ```
#[derive(Clone)]
pub struct RedisKeyed {
    shared: Arc<Shared>,
    prefix: Vec<u8>,
}

impl fmt::Debug for RedisKeyed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.debug(f, "RedisKeyed", "prefix", &self.prefix)
    }
}

impl RedisKeyed {
    /// A limiter per key on the Redis keys `prefix + key`, each admitting `burst` calls at
    /// once and `rate` after that, through `client` (which connects on the first check),
    /// failing closed; see [`Builder`] for the other settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroRate`] or [`ConfigError::ZeroBurst`].
    pub fn new(
        client: redis::Client,
        prefix: impl Into<Vec<u8>>,
        rate: Rate,
        burst: u32,
    ) -> Result<RedisKeyed, ConfigError> {
        Builder::new(client, rate, burst).keyed(prefix)
    }

    pub(crate) fn from_parts(shared: Arc<Shared>, prefix: Vec<u8>) -> RedisKeyed {
        RedisKeyed { shared, prefix }
    }

    /// `key`'s limiter, sharing this one's connections and settings: for the whole
    /// [`RateLimiter`](rate_limit::RateLimiter) family on one key (`try_acquire`,
    /// `acquire_timeout`, …, deciding Redis failures by the [`FailurePolicy`]). Cheap: it
    /// copies the key, nothing more.
    #[must_use]
    pub fn limiter<K: AsRef<[u8]> + ?Sized>(&self, key: &K) -> RedisGcra {
        RedisGcra::from_parts(Arc::clone(&self.shared), self.redis_key(key))
    }

    /// Admits one call for `key` now, or refuses without consuming anything.
    ///
    /// # Errors
    ///
    /// [`RedisLimitError::Denied`] with the time to retry, or [`RedisLimitError::Redis`].
    pub fn check<K: AsRef<[u8]> + ?Sized>(&self, key: &K) -> Result<(), RedisLimitError> {
        self.check_n(key, 1)
    }

    /// Admits `n` calls for `key` now, or refuses without consuming anything.
    ///
    /// # Errors
    ///
    /// As [`RedisGcra::check_n`]: [`RedisLimitError::Denied`],
    /// [`RedisLimitError::InsufficientCapacity`] or [`RedisLimitError::Redis`].
    pub fn check_n<K: AsRef<[u8]> + ?Sized>(&self, key: &K, n: u32) -> Result<(), RedisLimitError> {
        self.shared.check_n(&self.redis_key(key), n)
    }

    /// Blocks until `n` calls for `key` are admitted, `deadline` would be passed, or
    /// `cancel` fires; reserves as [`RedisGcra::wait_n_until`] does.
    ///
    /// # Errors
    ///
    /// [`RedisLimitError::InsufficientCapacity`], [`RedisLimitError::Timeout`] (at once,
    /// reserving nothing), [`RedisLimitError::Cancelled`], or [`RedisLimitError::Redis`].
    pub fn wait_n_until<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        n: u32,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), RedisLimitError> {
        self.shared
            .wait_n_until(&self.redis_key(key), n, deadline, cancel)
    }

    /// Blocks for at most `timeout` until one call for `key` is admitted; returns at once
    /// if the wait needed is longer.
    ///
    /// # Errors
    ///
    /// [`RedisLimitError::Timeout`] or [`RedisLimitError::Redis`].
    pub fn wait_timeout<K: AsRef<[u8]> + ?Sized>(
        &self,
        key: &K,
        timeout: Duration,
    ) -> Result<(), RedisLimitError> {
        self.wait_n_until(key, 1, Instant::now().checked_add(timeout), None)
    }

    /// The Redis key that holds `key`'s state: the prefix, then `key`.
    #[must_use]
    pub fn redis_key<K: AsRef<[u8]> + ?Sized>(&self, key: &K) -> Vec<u8> {
        [self.prefix.as_slice(), key.as_ref()].concat()
    }

    /// What every Redis key of this limiter starts with.
    #[must_use]
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The most calls admitted at once, for each key.
    #[must_use]
    pub fn burst(&self) -> u32 {
        self.shared.settings.burst
    }

    /// What the [`RateLimiter`](rate_limit::RateLimiter) methods of
    /// [`limiter`](RedisKeyed::limiter) do when Redis fails.
    #[must_use]
    pub fn failure_policy(&self) -> FailurePolicy {
        self.shared.settings.policy
    }

    /// How many Redis failures the failure policy has decided, over every key.
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Relaxed)
    }
}
