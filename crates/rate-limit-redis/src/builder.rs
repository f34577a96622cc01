//! The settings of a Redis-backed limiter, and what to do when Redis fails.

use std::time::Duration;

use patterns_core::sync::Arc;
use rate_limit::{ConfigError, Rate};

use crate::keyed::RedisKeyed;
use crate::limiter::RedisGcra;
use crate::pool::Pool;
use crate::script::Scripts;
use crate::shared::{Settings, Shared};

/// What the [`RateLimiter`](rate_limit::RateLimiter) methods answer when Redis cannot be
/// reached or fails: they must answer with an admission or a refusal, and have no room
/// for a third outcome. The typed methods (`check_n`, `wait_n_until`) report the failure
/// instead, whatever the policy.
///
/// Every failure decided by the policy is counted: see
/// [`RedisGcra::failures`](crate::RedisGcra::failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Refuse (the default): `try_acquire` is [`Denied`](rate_limit::Denied) with a
    /// `retry_after` of [`Builder::retry_after_failure`], `available` is 0, and a blocking
    /// `acquire` keeps trying every `retry_after_failure` until Redis answers, its deadline
    /// would pass ([`AcquireError::Timeout`](rate_limit::AcquireError::Timeout)) or it is
    /// cancelled. Nothing passes that the limit has not admitted: use it where an
    /// excess call does harm (a paid API's quota, a dependency that falls over).
    #[default]
    Closed,
    /// Admit: `try_acquire` and `acquire` pass at once and `available` is the burst. The
    /// limit is off while Redis is: use it where the limit protects less than an outage of
    /// the limited calls would cost (politeness, smoothing), and watch
    /// [`failures`](crate::RedisGcra::failures).
    Open,
}

/// Builds a [`RedisGcra`] or a [`RedisKeyed`] with more than the default settings.
///
/// # Examples
///
/// ```
/// use rate_limit::Rate;
/// use rate_limit_redis::{Builder, FailurePolicy};
/// use std::time::Duration;
///
/// let client = redis::Client::open("redis://127.0.0.1:6379").unwrap(); // connects lazily
/// let per_user = Builder::new(client, Rate::per_second(5), 10)
///     .failure_policy(FailurePolicy::Open)
///     .timeout(Duration::from_millis(200))
///     .keyed("api:user:")
///     .unwrap();
/// assert_eq!(per_user.prefix(), b"api:user:");
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `gcra` or `keyed` builds the limiter"]
pub struct Builder {
    client: redis::Client,
    rate: Rate,
    burst: u32,
    policy: FailurePolicy,
    retry_after_failure: Duration,
    timeout: Duration,
    max_idle: usize,
}

/// The most `burst × interval` may be, in nanoseconds: the scripts' arithmetic is exact
/// below 2⁵³ (Lua's doubles), and this leaves a factor of two for reservations that run
/// past the tolerance.
const MAX_TOLERANCE: u64 = 1 << 52;

/// The shortest timeout and failure delay: redis refuses a zero socket timeout, and a
/// refusal's `retry_after` is never zero.
const MIN_DELAY: Duration = Duration::from_millis(1);

impl Builder {
    /// A limiter admitting `burst` calls at once and `rate` after that, through `client`
    /// (which connects on the first check), with the defaults: [`FailurePolicy::Closed`],
    /// a `retry_after_failure` of 100 ms, a timeout of 1 s, and up to 4 idle connections.
    pub fn new(client: redis::Client, rate: Rate, burst: u32) -> Builder {
        Builder {
            client,
            rate,
            burst,
            policy: FailurePolicy::Closed,
            retry_after_failure: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
            max_idle: 4,
        }
    }

    /// What the [`RateLimiter`](rate_limit::RateLimiter) methods do when Redis fails.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Builder {
        self.policy = policy;
        self
    }

    /// The `retry_after` of a refusal that a Redis failure caused, under
    /// [`FailurePolicy::Closed`], and how long a blocking acquire waits before it asks
    /// again (at least 1 ms). Connecting again is tried on the next call, whenever it
    /// comes.
    pub fn retry_after_failure(mut self, delay: Duration) -> Builder {
        self.retry_after_failure = delay.max(MIN_DELAY);
        self
    }

    /// How long connecting, sending a check and reading its reply may each take before
    /// the check fails with a Redis error (at least 1 ms). While Redis is unreachable
    /// (rather than refusing connections), every call spends up to this long finding out.
    pub fn timeout(mut self, timeout: Duration) -> Builder {
        self.timeout = timeout.max(MIN_DELAY);
        self
    }

    /// How many idle connections the limiter keeps for reuse (0: connect for every call).
    /// It opens as many as there are calls at once, and keeps up to `max` of them.
    pub fn max_idle_connections(mut self, max: usize) -> Builder {
        self.max_idle = max;
        self
    }

    /// A limiter on the one Redis key `key`: every process that builds one on the same key
    /// (with the same rate and burst) shares its limit.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroRate`] or [`ConfigError::ZeroBurst`].
    pub fn gcra(self, key: impl Into<Vec<u8>>) -> Result<RedisGcra, ConfigError> {
        Ok(RedisGcra::from_parts(self.shared()?, key.into()))
    }

    /// A limiter per key, each on the Redis key `prefix` followed by the key (nothing is
    /// put between them).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroRate`] or [`ConfigError::ZeroBurst`].
    pub fn keyed(self, prefix: impl Into<Vec<u8>>) -> Result<RedisKeyed, ConfigError> {
        Ok(RedisKeyed::from_parts(self.shared()?, prefix.into()))
    }

    fn shared(self) -> Result<Arc<Shared>, ConfigError> {
        if self.rate.is_zero() {
            return Err(ConfigError::ZeroRate);
        }
        if self.burst == 0 {
            return Err(ConfigError::ZeroBurst);
        }
        let interval = u64::try_from(self.rate.interval().as_nanos())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_TOLERANCE / u64::from(self.burst));
        Ok(Arc::new(Shared {
            pool: Pool::new(self.client, self.max_idle, self.timeout),
            scripts: Scripts::new(),
            settings: Settings {
                interval,
                tolerance: interval * u64::from(self.burst),
                burst: self.burst,
                policy: self.policy,
                retry_after_failure: self.retry_after_failure,
            },
            failures: Default::default(),
        }))
    }
}
