//! Sleeping until an admission time on a limiter's clock, woken early by a cancel token.

use std::time::Instant;

use patterns_core::{CancelToken, Clock};

use crate::sync::{Arc, Parker};

/// Sleeps until `ready` on `clock`. False if `cancel` fired first.
pub(crate) fn sleep_until(clock: &dyn Clock, ready: Instant, cancel: Option<&CancelToken>) -> bool {
    let Some(token) = cancel else {
        clock.sleep_until(ready);
        return true;
    };
    // Through a `Parker`, the facade's one way to wake a thread from another, as the
    // window queue does; under std it unparks this thread, which ends the clock's park.
    // A stray wake-up after the wait is over is harmless: every park re-checks.
    let parker = Arc::new(Parker::new());
    let waker = Arc::clone(&parker);
    let _wake = token.on_cancel(move |_| waker.unpark());
    loop {
        // Time first: a wait whose time has come is over, cancelled or not (and what it
        // reserved has been used up, so there would be nothing to give back).
        if clock.now() >= ready {
            return true;
        }
        if token.is_cancelled() {
            return false;
        }
        clock.park_until(ready);
    }
}
