//! What the rate-limit tests share.

use std::time::{Duration, Instant};

use patterns_core::ManualClock;

/// How long a test waits for something that should happen at once: generous, so a
/// loaded machine does not fail it.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// Waits until `n` threads sleep on `clock`.
pub(crate) fn sleepers(clock: &ManualClock, n: usize) {
    let deadline = Instant::now() + PATIENCE;
    while clock.sleepers() < n {
        assert!(
            Instant::now() < deadline,
            "no thread went to sleep on the clock"
        );
        std::thread::yield_now();
    }
}
