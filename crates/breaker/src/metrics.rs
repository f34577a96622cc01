//! A snapshot of a breaker's window and counters.

use crate::state::State;

/// What [`CircuitBreaker::metrics`](crate::CircuitBreaker::metrics) reports.
///
/// The window fields describe the current episode: the sliding window while closed or
/// metrics-only, the trial calls while half-open, and nothing (zeros) while open, forced
/// open or disabled. The rates are `None` until `minimum_calls` results are in (in
/// half-open, until every trial result is). The totals count every call since the
/// breaker was built (`reset` does not clear them): once every permit has been used or
/// dropped, `successes + failures + ignored + not_permitted` is the number of calls
/// attempted while the breaker was not disabled.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// The state at the time of the snapshot.
    pub state: State,
    /// Failed calls as a percentage of the calls in the window, once there are enough.
    pub failure_rate: Option<f64>,
    /// Slow calls as a percentage of the calls in the window, once there are enough.
    pub slow_call_rate: Option<f64>,
    /// Results in the window.
    pub buffered_calls: u64,
    /// Failures in the window.
    pub failed_calls: u64,
    /// Slow calls (failed or not) in the window.
    pub slow_calls: u64,
    /// Calls refused since the breaker was built.
    pub not_permitted_calls: u64,
    /// Successes since the breaker was built.
    pub successes: u64,
    /// Failures (including panics) since the breaker was built.
    pub failures: u64,
    /// Ignored results and dropped permits since the breaker was built.
    pub ignored: u64,
}
