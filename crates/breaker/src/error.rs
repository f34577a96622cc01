//! Why a call was refused, why a transition was refused, and why a breaker could not be
//! built.

use std::time::Duration;

use crate::state::State;

/// The breaker refused a call: it is open, forced open, or its half-open trials are all
/// out.
///
/// [`retry_after`](Rejected::retry_after) says when the breaker will next admit a call if
/// nothing else changes its state: for an open breaker, the first instant strictly after
/// its wait ends. `None` means there is no such time: the breaker is forced open (only a
/// manual transition ends that), or it is half-open with every trial call out (it decides
/// when their results come in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker is {state}: call not permitted")]
pub struct Rejected {
    pub(crate) retry_after: Option<Duration>,
    pub(crate) state: State,
}

impl Rejected {
    /// How long until the breaker admits a call, if nothing else changes its state:
    /// tight — earlier is still refused, exactly then is admitted. `None` when no time
    /// will do it (forced open, or half-open with every trial out).
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The state that refused the call: [`State::Open`], [`State::HalfOpen`] or
    /// [`State::ForcedOpen`].
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }
}

/// A call through [`CircuitBreaker::call`](crate::CircuitBreaker::call) failed: either the
/// breaker refused it, or it ran and returned an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakerError<E> {
    /// The breaker did not run the call (see [`Rejected`]).
    #[error("circuit breaker refused the call")]
    Rejected {
        /// As [`Rejected::retry_after`].
        retry_after: Option<Duration>,
    },
    /// The call ran and returned this error.
    #[error("the call failed: {0}")]
    Inner(E),
}

impl<E> BreakerError<E> {
    /// The call's own error, if it ran and failed.
    #[must_use]
    pub fn into_inner(self) -> Option<E> {
        match self {
            BreakerError::Inner(e) => Some(e),
            BreakerError::Rejected { .. } => None,
        }
    }

    /// True when the breaker refused the call without running it.
    #[must_use]
    pub fn is_rejected(&self) -> bool {
        matches!(self, BreakerError::Rejected { .. })
    }
}

impl<E> From<Rejected> for BreakerError<E> {
    fn from(rejected: Rejected) -> Self {
        BreakerError::Rejected {
            retry_after: rejected.retry_after,
        }
    }
}

/// A manual transition that the state machine does not allow; the state is unchanged.
///
/// Every transition between two different states is allowed except into
/// [`State::HalfOpen`] from anything but [`State::Open`] (half-open is the probe that
/// follows an open wait). A transition to the state the breaker is already in is refused
/// too, so that no `X → X` event is ever emitted; use
/// [`reset`](crate::CircuitBreaker::reset) to clear a closed breaker's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker cannot go from {from} to {to}")]
pub struct TransitionError {
    /// The state the breaker was (and still is) in.
    pub from: State,
    /// The state asked for.
    pub to: State,
}

/// A breaker cannot be built with these settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A rate threshold outside `(0, 100]` percent, or not a number.
    #[error("{setting} must be a percentage above 0 and at most 100, got {value}")]
    Threshold {
        /// The setting, by the name of the builder method.
        setting: &'static str,
        /// The value given.
        value: f64,
    },
    /// A setting that must be nonzero is zero: a count window of 0 calls, a time window,
    /// a slow-call duration or an open wait of 0, 0 minimum calls, 0 half-open calls, 0
    /// keys.
    #[error("{setting} must be nonzero")]
    Zero {
        /// The setting, by the name of the builder method.
        setting: &'static str,
    },
    /// A count window larger than the breaker can hold.
    #[error("a count window holds at most {max} calls, got {requested}")]
    WindowTooLarge {
        /// The size asked for.
        requested: usize,
        /// The largest allowed.
        max: usize,
    },
    /// A backoff setting outside what it can run with.
    #[error("backoff {setting} must be {expected}")]
    Backoff {
        /// The setting.
        setting: &'static str,
        /// What it must be.
        expected: &'static str,
    },
}
