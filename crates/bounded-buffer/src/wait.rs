//! How long a blocking operation may wait, and how it parks meanwhile.

use std::time::Instant;

use patterns_core::{CancelToken, Clock, SystemClock};

use crate::sync::Parker;

/// The limit on one blocking operation: the `_timeout`, `_deadline` and `_cancellable`
/// variants of every operation all funnel into one implementation taking a `Wait`.
#[derive(Clone, Copy)]
pub(crate) enum Wait<'a> {
    /// Until the operation completes.
    Forever,
    /// Until this instant on the system clock.
    Until(Instant),
    /// Until the token fires, or its deadline (on the token's clock) passes.
    Cancellable(&'a CancelToken),
}

/// Why a wait ended without the operation completing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    TimedOut,
    Cancelled,
}

/// Why a send or receive did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Full (send) or empty (receive), and no waiting was allowed.
    WouldBlock,
    Closed,
    Interrupted(Interrupt),
}

impl<'a> Wait<'a> {
    /// A wait of `timeout` from now; one too long to represent is no limit.
    pub(crate) fn timeout(timeout: std::time::Duration) -> Self {
        Instant::now()
            .checked_add(timeout)
            .map_or(Wait::Forever, Wait::Until)
    }

    /// `Some` once the limit is reached.
    pub(crate) fn interrupted(&self) -> Option<Interrupt> {
        match self {
            Wait::Forever => None,
            Wait::Until(deadline) => (Instant::now() >= *deadline).then_some(Interrupt::TimedOut),
            Wait::Cancellable(token) => token.is_cancelled().then_some(Interrupt::Cancelled),
        }
    }

    /// The token whose firing must wake the waiter, if any.
    pub(crate) fn token(&self) -> Option<&'a CancelToken> {
        match self {
            Wait::Cancellable(token) => Some(token),
            _ => None,
        }
    }

    /// Parks the current thread, which owns `parker`, until it is unparked, the limit's
    /// deadline passes, or `wake_at` (a select's timer operand coming due). May return
    /// spuriously; callers loop.
    pub(crate) fn park(&self, parker: &Parker, wake_at: Option<Instant>) {
        match (self, wake_at) {
            (Wait::Forever, None) => parker.park(),
            (Wait::Forever, Some(at)) => SystemClock.park_until(at),
            (Wait::Until(deadline), at) => {
                SystemClock.park_until(at.map_or(*deadline, |at| at.min(*deadline)))
            }
            (Wait::Cancellable(token), None) => match token.deadline() {
                Some(deadline) => token.clock().park_until(deadline),
                None => parker.park(),
            },
            // A timer's instant is on the system clock: wake for it, or for the token's
            // deadline, whichever comes first; the caller re-reads the token's clock.
            (Wait::Cancellable(token), Some(at)) => {
                let until = token.deadline().map_or(at, |deadline| deadline.min(at));
                SystemClock.park_until(until);
            }
        }
    }
}
