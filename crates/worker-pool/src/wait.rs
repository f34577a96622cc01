//! Waiting on a condition variable until an optional deadline: the one timed wait that
//! the priority queue, the job handle and the crew's join share.

use std::time::Instant;

use crate::sync::{Condvar, MutexGuard};

/// Waits on `condvar` until notified (or spuriously woken) or until `deadline`; forever
/// if `None`. The flag is true if the deadline had already passed, in which case it
/// did not wait: callers re-check their condition, then give up.
pub(crate) fn wait_until<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Option<Instant>,
) -> (MutexGuard<'a, T>, bool) {
    match deadline {
        None => (condvar.wait(guard), false),
        Some(deadline) => {
            let now = Instant::now();
            if now >= deadline {
                return (guard, true);
            }
            (condvar.wait_timeout(guard, deadline - now).0, false)
        }
    }
}
