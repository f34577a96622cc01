//! What a limiter on one key and a keyed limiter share: the connections, the scripts, the
//! settings, and the one implementation of every check.

use std::fmt;
use std::time::{Duration, Instant};

use patterns_core::sync::atomic::{AtomicU64, Ordering};
use patterns_core::CancelToken;
use rate_limit::{AcquireError, TryAcquireError};

use crate::builder::FailurePolicy;
use crate::error::{denied, RedisLimitError};
use crate::pool::Pool;
use crate::script::{Outcome, Scripts};
use crate::wait;

#[derive(Debug)]
pub(crate) struct Settings {
    /// Nanoseconds per call: the rate's interval.
    pub(crate) interval: u64,
    /// `burst × interval`: how far ahead of now TAT may run.
    pub(crate) tolerance: u64,
    pub(crate) burst: u32,
    pub(crate) policy: FailurePolicy,
    pub(crate) retry_after_failure: Duration,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) pool: Pool,
    pub(crate) scripts: Scripts,
    pub(crate) settings: Settings,
    /// Redis failures the failure policy has answered for.
    pub(crate) failures: AtomicU64,
}

impl Shared {
    /// A limiter's `Debug`: its type, its key (or prefix) and the shared settings.
    pub(crate) fn debug(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &str,
        key_name: &str,
        key: &[u8],
    ) -> fmt::Result {
        f.debug_struct(name)
            .field(key_name, &String::from_utf8_lossy(key))
            .field("interval", &Duration::from_nanos(self.settings.interval))
            .field("burst", &self.settings.burst)
            .field("policy", &self.settings.policy)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }

    /// TAT's cost of `n` calls (at most the tolerance, below 2⁵³: `n ≤ burst`).
    fn cost(&self, n: u32) -> u64 {
        self.settings.interval * u64::from(n)
    }

    /// The checks made before Redis is asked: `Ok(true)` when `n` is 0.
    fn nothing_to_take(&self, n: u32) -> Result<bool, RedisLimitError> {
        let capacity = self.settings.burst;
        if n > capacity {
            return Err(RedisLimitError::InsufficientCapacity {
                requested: n,
                capacity,
            });
        }
        Ok(n == 0)
    }

    pub(crate) fn check_n(&self, key: &[u8], n: u32) -> Result<(), RedisLimitError> {
        if self.nothing_to_take(n)? {
            return Ok(());
        }
        let (cost, tolerance) = (self.cost(n), self.settings.tolerance);
        let outcome = self
            .pool
            .with(|con| self.scripts.acquire(con, key, cost, tolerance, Some(0)))?;
        match outcome {
            Outcome::Admitted { .. } => Ok(()),
            Outcome::Refused { wait } => {
                Err(RedisLimitError::Denied(denied(Duration::from_nanos(wait))))
            }
        }
    }

    pub(crate) fn wait_n_until(
        &self,
        key: &[u8],
        n: u32,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), RedisLimitError> {
        if self.nothing_to_take(n)? {
            return Ok(());
        }
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(RedisLimitError::Cancelled);
        }
        let max_wait = deadline.map(|deadline| {
            let left = deadline.saturating_duration_since(Instant::now());
            u64::try_from(left.as_nanos()).unwrap_or(u64::MAX)
        });
        let (cost, tolerance) = (self.cost(n), self.settings.tolerance);
        let outcome = self
            .pool
            .with(|con| self.scripts.acquire(con, key, cost, tolerance, max_wait))?;
        let (wait, end) = match outcome {
            Outcome::Refused { wait } => {
                return Err(RedisLimitError::Timeout {
                    needed: Duration::from_nanos(wait),
                })
            }
            Outcome::Admitted { wait: 0, .. } => return Ok(()),
            Outcome::Admitted { wait, end } => (Duration::from_nanos(wait), end),
        };
        if wait::sleep(wait, cancel) {
            return Ok(());
        }
        // If Redis fails here the reservation stays until its time passes: the limiter
        // admits less for a while, never more.
        let _ = self
            .pool
            .with(|con| self.scripts.release(con, key, cost, &end));
        Err(RedisLimitError::Cancelled)
    }

    /// How many single calls would be admitted now.
    pub(crate) fn query_available(&self, key: &[u8]) -> Result<u64, RedisLimitError> {
        let ahead = self.pool.with(|con| self.scripts.ahead(con, key))?;
        Ok(self.settings.tolerance.saturating_sub(ahead) / self.settings.interval)
    }

    /// [`FailurePolicy`] applied to a Redis failure: whether to admit, counting it.
    fn fail_open(&self) -> bool {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.settings.policy == FailurePolicy::Open
    }

    pub(crate) fn try_acquire_n(&self, key: &[u8], n: u32) -> Result<(), TryAcquireError> {
        match self.check_n(key, n) {
            Ok(()) => Ok(()),
            Err(RedisLimitError::Denied(denied)) => Err(TryAcquireError::Denied(denied)),
            Err(RedisLimitError::InsufficientCapacity {
                requested,
                capacity,
            }) => Err(TryAcquireError::InsufficientCapacity {
                requested,
                capacity,
            }),
            // Redis failed: the one other error a check gives.
            Err(_) if self.fail_open() => Ok(()),
            Err(_) => Err(TryAcquireError::Denied(denied(
                self.settings.retry_after_failure,
            ))),
        }
    }

    pub(crate) fn acquire_n_until(
        &self,
        key: &[u8],
        n: u32,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), AcquireError> {
        loop {
            match self.wait_n_until(key, n, deadline, cancel) {
                Ok(()) => return Ok(()),
                Err(RedisLimitError::InsufficientCapacity {
                    requested,
                    capacity,
                }) => {
                    return Err(AcquireError::InsufficientCapacity {
                        requested,
                        capacity,
                    })
                }
                Err(RedisLimitError::Timeout { needed }) => {
                    return Err(AcquireError::Timeout { needed })
                }
                Err(RedisLimitError::Cancelled) => return Err(AcquireError::Cancelled),
                // Redis failed (a wait is never `Denied`).
                Err(_) if self.fail_open() => return Ok(()),
                Err(_) => {
                    // Closed: wait for Redis as for capacity, within the same deadline.
                    let retry = self.settings.retry_after_failure;
                    let past_deadline = deadline.is_some_and(|deadline| {
                        Instant::now()
                            .checked_add(retry)
                            .map_or(true, |next| next > deadline)
                    });
                    if past_deadline {
                        return Err(AcquireError::Timeout { needed: retry });
                    }
                    if !wait::sleep(retry, cancel) {
                        return Err(AcquireError::Cancelled);
                    }
                }
            }
        }
    }

    pub(crate) fn available(&self, key: &[u8]) -> u64 {
        match self.query_available(key) {
            Ok(available) => available,
            Err(_) if self.fail_open() => u64::from(self.settings.burst),
            Err(_) => 0,
        }
    }
}
