//! Sleeping until an admission time on a limiter's clock, woken early by a cancel token.

use std::time::Instant;

use patterns_core::{CancelToken, Clock};

use crate::sync::thread;

/// Sleeps until `ready` on `clock`. False if `cancel` fired first.
pub(crate) fn sleep_until(clock: &dyn Clock, ready: Instant, cancel: Option<&CancelToken>) -> bool {
    let Some(token) = cancel else {
        clock.sleep_until(ready);
        return true;
    };
    let me = thread::current();
    // A stray unpark after the wait is over is harmless: every park re-checks.
    let _wake = token.on_cancel(move |_| me.unpark());
    loop {
        if token.is_cancelled() {
            return false;
        }
        if clock.now() >= ready {
            return true;
        }
        clock.park_until(ready);
    }
}
