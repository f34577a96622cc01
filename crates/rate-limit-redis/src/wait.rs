//! Sleeping until a reservation's time on the system clock, woken early by a cancel token.

use std::time::{Duration, Instant};

use patterns_core::sync::{Arc, Parker};
use patterns_core::{CancelToken, Clock, SystemClock};

/// Sleeps for `wait` on the system clock. False if `cancel` fired first.
pub(crate) fn sleep(wait: Duration, cancel: Option<&CancelToken>) -> bool {
    // A wait too long for an `Instant` ends only by cancellation.
    let ready = Instant::now().checked_add(wait);
    let Some(token) = cancel else {
        match ready {
            Some(ready) => SystemClock.sleep_until(ready),
            None => loop {
                Parker::new().park();
            },
        }
        return true;
    };
    // Through a `Parker`, the facade's one way to wake a thread from another (as
    // rate-limit's own waits do); under std it unparks this thread, which ends the
    // clock's park. A stray wake-up after the wait is over is harmless: every park
    // re-checks.
    let parker = Arc::new(Parker::new());
    let waker = Arc::clone(&parker);
    let _wake = token.on_cancel(move |_| waker.unpark());
    loop {
        // Time first: a wait whose time has come is over, cancelled or not (what it
        // reserved is used up, so there is nothing to give back).
        let now = SystemClock.now();
        if ready.is_some_and(|ready| now >= ready) {
            return true;
        }
        if token.is_cancelled() {
            return false;
        }
        // A token's deadline fires only when someone looks, so the wait wakes to look.
        let deadline = token.deadline().filter(|&deadline| deadline > now);
        let wake_at = match (ready, deadline) {
            (Some(ready), Some(deadline)) => Some(ready.min(deadline)),
            (ready, deadline) => ready.or(deadline),
        };
        match wake_at {
            Some(at) => SystemClock.park_until(at),
            None => parker.park(),
        }
    }
}
