//! Additive increase, multiplicative decrease (Netflix's `AIMDLimit`, TCP Reno's window).

use std::time::Duration;

use super::{check_bounds, Sample, Update};
use crate::error::ConfigError;

/// Settings for additive increase, multiplicative decrease: the limit grows by
/// [`increase`](Aimd::increase) for each window of successful calls made while the limit
/// was in use, and is multiplied by [`backoff_ratio`](Aimd::backoff_ratio) on a drop or a
/// call slower than [`timeout`](Aimd::timeout).
///
/// The update rules, for each call recorded on an [`AdaptivePermit`](crate::AdaptivePermit):
///
/// * **Success** within the timeout, with the limit in use — at least half the limit in
///   flight at the call's start or at its end, itself included (Netflix's test; a limit
///   nobody fills says nothing about how much more the service could take): it counts
///   toward a window; when a window's worth of such successes — the current limit, about
///   one round trip at full use — has been seen, the limit grows by `increase`, up to
///   `max_limit`. Successes with the limit underused leave it where it is.
/// * **Drop**, or a success slower than `timeout`: the limit becomes
///   `max(min_limit, ⌊limit × backoff_ratio⌋)`, and the window starts over. Drops from
///   calls that were already in flight at the last cut do not cut again: one cut per
///   round (TCP's rule), where Netflix's cuts on every drop and so collapses to the
///   minimum when a whole round fails together.
/// * **Ignored**: nothing.
///
/// Defaults: `initial_limit` 20, `min_limit` 1, `max_limit` 200, `increase` 1,
/// `backoff_ratio` 0.9 and `timeout` 5 s (the last two Netflix's).
///
/// ```
/// use rate_limit::{AdaptiveLimit, Aimd};
/// use std::time::Duration;
///
/// let aimd = Aimd::default()
///     .initial_limit(10)
///     .min_limit(2)
///     .max_limit(100)
///     .backoff_ratio(0.75)
///     .timeout(Duration::from_millis(250));
/// let limit = AdaptiveLimit::new(aimd).unwrap();
/// assert_eq!(limit.limit(), 10);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Aimd {
    initial: usize,
    min: usize,
    max: usize,
    increase: usize,
    backoff_ratio: f64,
    timeout: Duration,
}

impl Default for Aimd {
    fn default() -> Self {
        Aimd {
            initial: 20,
            min: 1,
            max: 200,
            increase: 1,
            backoff_ratio: 0.9,
            timeout: Duration::from_secs(5),
        }
    }
}

impl Aimd {
    limit_range_setters!();

    /// How much the limit grows per window of successes with the limit in use: at
    /// least 1.
    #[must_use]
    pub fn increase(mut self, increase: usize) -> Self {
        self.increase = increase;
        self
    }

    /// What the limit is multiplied by on a drop: above 0 and below 1.
    #[must_use]
    pub fn backoff_ratio(mut self, ratio: f64) -> Self {
        self.backoff_ratio = ratio;
        self
    }

    /// A success slower than this counts as a drop: above zero.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the settings and makes the state they start from.
    pub(super) fn start(self) -> Result<State, ConfigError> {
        check_bounds(self.initial, self.min, self.max)?;
        if self.increase == 0 {
            return Err(ConfigError::OutOfRange {
                setting: "increase",
                expected: "at least 1",
            });
        }
        if !(self.backoff_ratio > 0.0 && self.backoff_ratio < 1.0) {
            return Err(ConfigError::OutOfRange {
                setting: "backoff_ratio",
                expected: "above 0 and below 1",
            });
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::OutOfRange {
                setting: "timeout",
                expected: "above zero",
            });
        }
        Ok(State {
            limit: self.initial,
            successes: 0,
            timeout: u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX),
            settings: self,
        })
    }
}

/// AIMD's state.
#[derive(Debug)]
pub(super) struct State {
    settings: Aimd,
    limit: usize,
    /// Successes with the limit in use since the limit last moved.
    successes: usize,
    /// `settings.timeout` in nanoseconds.
    timeout: u64,
}

impl State {
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    pub(super) fn record(&mut self, sample: &Sample) -> Update {
        let settings = &self.settings;
        let mut cut = false;
        if sample.dropped || sample.latency > self.timeout {
            if sample.fresh {
                // ⌊limit × ratio⌋ < limit for a ratio below 1: a cut always cuts (down
                // to the minimum). The product is exact below 2⁵³.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let cut_to = (self.limit as f64 * settings.backoff_ratio) as usize;
                self.limit = cut_to.max(settings.min);
                self.successes = 0;
                cut = true;
            }
        } else if sample.in_flight.saturating_mul(2) >= self.limit {
            self.successes += 1;
            if self.successes >= self.limit {
                self.limit = self
                    .limit
                    .saturating_add(settings.increase)
                    .min(settings.max);
                self.successes = 0;
            }
        }
        Update {
            limit: self.limit,
            cut,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(in_flight: usize, latency_ms: u64, dropped: bool, fresh: bool) -> Sample {
        Sample {
            latency: latency_ms * 1_000_000,
            in_flight,
            dropped,
            fresh,
        }
    }

    #[test]
    fn a_window_of_used_successes_adds_the_increase() {
        let mut state = Aimd::default()
            .initial_limit(4)
            .increase(2)
            .start()
            .unwrap();
        for _ in 0..3 {
            assert_eq!(state.record(&sample(2, 1, false, true)).limit, 4);
        }
        assert_eq!(state.record(&sample(4, 1, false, true)).limit, 6);
        // An underused success does not count toward the window.
        for _ in 0..10 {
            assert_eq!(state.record(&sample(2, 1, false, true)).limit, 6);
        }
    }

    #[test]
    fn a_stale_drop_does_not_cut_again() {
        let mut state = Aimd::default()
            .initial_limit(10)
            .backoff_ratio(0.5)
            .start()
            .unwrap();
        let first = state.record(&sample(10, 1, true, true));
        assert_eq!(
            first,
            Update {
                limit: 5,
                cut: true
            }
        );
        let stale = state.record(&sample(10, 1, true, false));
        assert_eq!(
            stale,
            Update {
                limit: 5,
                cut: false
            }
        );
        // A timeout is a drop.
        let slow = state.record(&sample(5, 6_000, false, true));
        assert_eq!(
            slow,
            Update {
                limit: 2,
                cut: true
            }
        );
        assert_eq!(state.record(&sample(2, 1, true, true)).limit, 1);
        assert_eq!(state.record(&sample(1, 1, true, true)).limit, 1);
    }
}
