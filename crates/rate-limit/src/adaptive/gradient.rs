//! The limit follows the ratio of a long-term RTT to the recent one (after Netflix's
//! `Gradient2Limit`, with a baseline that does not drift up with the queue).

use super::{check_bounds, Sample, Update};
use crate::error::ConfigError;

/// Settings for a latency-based limit: once per window of calls, the window's mean
/// latency (the short-term RTT) is compared with a long-term baseline, and the limit is
/// scaled by their ratio plus a small allowance for queueing (after Netflix's
/// `Gradient2Limit`).
///
/// The update rules. Successful calls are gathered into windows of `limit` calls (about
/// one round trip at full use). When a window closes, with `short` its mean latency and
/// `long` the baseline:
///
/// * The baseline learns: the first window sets it; afterwards, a window no slower than
///   `tolerance × long` moves it by an exponential average over `long_window` windows.
///   A slower window is queueing, which the limit answers by falling; learning from it
///   would raise the baseline with the queue (Gradient2's drift: under a steady overload
///   its long-term average follows the short one up, the gradient returns to 1, and the
///   limit climbs to its maximum).
/// * If the limit was not in use — fewer than half of it in flight at every call's ends
///   — the limit stays where it is.
/// * Otherwise `gradient = clamp(tolerance × long / short, 0.5, 1)`, and the limit moves
///   a `smoothing` part of the way to `limit × gradient + queue_size`, within
///   `[min_limit, max_limit]`. With latency at the baseline it grows by
///   `smoothing × queue_size` per window; under queueing it settles where the latency is
///   about `tolerance` times the baseline.
///
/// A **drop** is the worst gradient: the limit moves a `smoothing` part of the way to
/// half itself (× 0.9 with the default smoothing), once per round as for
/// [`Aimd`](crate::Aimd), and the window starts over. **Ignored** calls count for nothing.
///
/// What this cannot tell apart: a service that became slower at every load by more than
/// `tolerance` looks like queueing, and the limit stays low (near
/// `queue_size / (1 − gradient)`, at least `2 × queue_size`) until its latency comes
/// back; and a baseline first measured under overload is too high. Start with an
/// `initial_limit` the service can take. (Netflix's gradient algorithms probe by cutting
/// the limit from time to time to re-measure; this one does not.)
///
/// Defaults: `initial_limit` 20, `min_limit` 1, `max_limit` 200, `smoothing` 0.2,
/// `tolerance` 1.5, `queue_size` 4, `long_window` 600.
///
/// ```
/// use rate_limit::{AdaptiveLimit, Gradient};
///
/// let gradient = Gradient::default().initial_limit(10).tolerance(2.0).queue_size(2);
/// let limit = AdaptiveLimit::new(gradient).unwrap();
/// assert_eq!(limit.limit(), 10);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient {
    initial: usize,
    min: usize,
    max: usize,
    smoothing: f64,
    tolerance: f64,
    queue_size: usize,
    long_window: usize,
}

impl Default for Gradient {
    fn default() -> Self {
        Gradient {
            initial: 20,
            min: 1,
            max: 200,
            smoothing: 0.2,
            tolerance: 1.5,
            queue_size: 4,
            long_window: 600,
        }
    }
}

impl Gradient {
    limit_range_setters!();

    /// What part of the way to its new estimate the limit moves per window: above 0, at
    /// most 1 (1 moves all the way).
    #[must_use]
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// How many times the baseline latency counts as no queueing: finite and at least
    /// 1 (1.5 to 2 is usual).
    #[must_use]
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The calls allowed to queue beyond what the latency says fits, and so how fast the
    /// limit grows: at least 1.
    #[must_use]
    pub fn queue_size(mut self, queue_size: usize) -> Self {
        self.queue_size = queue_size;
        self
    }

    /// Over how many windows the baseline averages: at least 1.
    #[must_use]
    pub fn long_window(mut self, windows: usize) -> Self {
        self.long_window = windows;
        self
    }

    /// Checks the settings and makes the state they start from.
    pub(super) fn start(self) -> Result<State, ConfigError> {
        check_bounds(self.initial, self.min, self.max)?;
        if !(self.smoothing > 0.0 && self.smoothing <= 1.0) {
            return Err(ConfigError::OutOfRange {
                setting: "smoothing",
                expected: "above 0 and at most 1",
            });
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 1.0) {
            return Err(ConfigError::OutOfRange {
                setting: "tolerance",
                expected: "finite and at least 1",
            });
        }
        if self.queue_size == 0 {
            return Err(ConfigError::OutOfRange {
                setting: "queue_size",
                expected: "at least 1",
            });
        }
        if self.long_window == 0 {
            return Err(ConfigError::OutOfRange {
                setting: "long_window",
                expected: "at least 1",
            });
        }
        #[allow(clippy::cast_precision_loss)]
        Ok(State {
            estimate: self.initial as f64,
            baseline: None,
            learning: 2.0 / (self.long_window as f64 + 1.0),
            window: Window::default(),
            settings: self,
        })
    }
}

/// The calls of the window being gathered.
#[derive(Debug, Default)]
struct Window {
    calls: usize,
    /// Their latencies, summed, in nanoseconds.
    latency: f64,
    /// The most in flight at any of their ends.
    in_flight: usize,
}

/// The gradient algorithm's state.
#[derive(Debug)]
pub(super) struct State {
    settings: Gradient,
    /// The limit, unrounded: small moves add up.
    estimate: f64,
    /// The long-term RTT in nanoseconds, once a window has closed.
    baseline: Option<f64>,
    /// The baseline's exponential-average weight: `2 / (long_window + 1)`.
    learning: f64,
    window: Window,
}

impl State {
    /// The estimate, rounded down, within the bounds.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub(super) fn limit(&self) -> usize {
        (self.estimate as usize).clamp(self.settings.min, self.settings.max)
    }

    #[allow(clippy::cast_precision_loss)]
    pub(super) fn record(&mut self, sample: &Sample) -> Update {
        let settings = &self.settings;
        if sample.dropped {
            if !sample.fresh {
                return Update {
                    limit: self.limit(),
                    cut: false,
                };
            }
            self.window = Window::default();
            self.estimate = self.smoothed(self.estimate * 0.5);
            return Update {
                limit: self.limit(),
                cut: true,
            };
        }
        let window = &mut self.window;
        window.calls += 1;
        window.latency += sample.latency as f64;
        window.in_flight = window.in_flight.max(sample.in_flight);
        if window.calls < self.limit() {
            return Update {
                limit: self.limit(),
                cut: false,
            };
        }
        let window = std::mem::take(&mut self.window);
        // At least a nanosecond: a clock that did not move is not an infinite gradient.
        let short = (window.latency / window.calls as f64).max(1.0);
        let long = match self.baseline {
            None => short,
            Some(long) if short <= settings.tolerance * long => {
                long + (short - long) * self.learning
            }
            Some(long) => long,
        };
        self.baseline = Some(long);
        if (window.in_flight as f64) * 2.0 >= self.estimate {
            let gradient = (settings.tolerance * long / short).clamp(0.5, 1.0);
            let target = self.estimate * gradient + settings.queue_size as f64;
            self.estimate = self.smoothed(target);
        }
        Update {
            limit: self.limit(),
            cut: false,
        }
    }

    /// A `smoothing` part of the way from the estimate to `target`, within the bounds.
    #[allow(clippy::cast_precision_loss)]
    fn smoothed(&self, target: f64) -> f64 {
        let Gradient {
            smoothing,
            min,
            max,
            ..
        } = self.settings;
        (self.estimate * (1.0 - smoothing) + target * smoothing).clamp(min as f64, max as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn success(in_flight: usize, latency_ms: u64) -> Sample {
        Sample {
            latency: latency_ms * 1_000_000,
            in_flight,
            dropped: false,
            fresh: true,
        }
    }

    /// Feeds one window of `limit` calls at `latency_ms`, all with the limit in use.
    fn window(state: &mut State, latency_ms: u64) -> usize {
        let calls = state.limit();
        let mut limit = 0;
        for _ in 0..calls {
            limit = state.record(&success(calls, latency_ms)).limit;
        }
        limit
    }

    #[test]
    fn at_the_baseline_the_limit_grows_by_the_smoothed_queue() {
        let mut state = Gradient::default().initial_limit(10).start().unwrap();
        assert_eq!(window(&mut state, 10), 10); // 10 + 0.2 × 4 = 10.8
        assert_eq!(window(&mut state, 10), 11); // 11.6
        assert_eq!(state.baseline, Some(10e6));
    }

    #[test]
    fn a_queued_window_cuts_and_does_not_teach_the_baseline() {
        let mut state = Gradient::default().initial_limit(40).start().unwrap();
        window(&mut state, 10);
        let before = state.estimate;
        // Four times the baseline: the gradient is clamped to 0.5.
        window(&mut state, 40);
        assert!((state.estimate - (before * 0.9 + 0.8)).abs() < 1e-9);
        assert_eq!(state.baseline, Some(10e6));
    }

    #[test]
    fn an_underused_window_moves_nothing_but_the_baseline() {
        let mut state = Gradient::default()
            .initial_limit(10)
            .long_window(1)
            .start()
            .unwrap();
        for _ in 0..10 {
            state.record(&success(4, 10));
        }
        assert_eq!(state.estimate, 10.0);
        for _ in 0..10 {
            state.record(&success(4, 12));
        }
        assert_eq!(state.estimate, 10.0);
        assert_eq!(state.baseline, Some(12e6));
    }
}
