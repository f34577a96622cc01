//! How many calls per how much time.

use std::time::Duration;

/// A rate: `count` calls per `period`. Checked when a limiter is built: a zero count or
/// period is a [`ConfigError::ZeroRate`](crate::ConfigError::ZeroRate) there.
///
/// ```
/// use rate_limit::Rate;
/// use std::time::Duration;
///
/// assert_eq!(Rate::per_second(10).interval(), Duration::from_millis(100));
/// assert_eq!(Rate::per_minute(2).interval(), Duration::from_secs(30));
/// assert_eq!(Rate::per(Duration::from_millis(250)).interval(), Duration::from_millis(250));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    count: u64,
    period: Duration,
}

impl Rate {
    /// `count` calls per second.
    #[must_use]
    pub const fn per_second(count: u64) -> Rate {
        Rate {
            count,
            period: Duration::from_secs(1),
        }
    }

    /// `count` calls per minute.
    #[must_use]
    pub const fn per_minute(count: u64) -> Rate {
        Rate {
            count,
            period: Duration::from_secs(60),
        }
    }

    /// One call per `period`.
    #[must_use]
    pub const fn per(period: Duration) -> Rate {
        Rate { count: 1, period }
    }

    /// `count` calls per `period`.
    #[must_use]
    pub const fn new(count: u64, period: Duration) -> Rate {
        Rate { count, period }
    }

    /// The time one call's worth of capacity takes to come back: `period / count`, at
    /// least a nanosecond (rates above 10⁹ calls per second saturate there).
    #[must_use]
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_nanos().max(1))
    }

    /// True for a rate of no calls, or over an empty period: one no limiter can be built
    /// with ([`ConfigError::ZeroRate`](crate::ConfigError::ZeroRate)).
    #[must_use]
    pub const fn is_zero(&self) -> bool {
        self.count == 0 || self.period.is_zero()
    }

    /// `period / count` in nanoseconds, saturating at `u64::MAX` (0 for a zero count).
    pub(crate) fn interval_nanos(&self) -> u64 {
        let nanos = u64::try_from(self.period.as_nanos()).unwrap_or(u64::MAX);
        nanos.checked_div(self.count).unwrap_or(0)
    }
}
