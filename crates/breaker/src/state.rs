//! The breaker's states, and the one word that holds the current state and its generation.

use std::fmt;

/// The state of a [`CircuitBreaker`](crate::CircuitBreaker).
///
/// The automatic cycle is `Closed → Open → HalfOpen → Closed` (or back to `Open`); the
/// other three are entered and left only by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls pass and their results fill the sliding window; the breaker opens when a
    /// rate reaches its threshold.
    Closed,
    /// Calls are refused until the open wait has passed; the next call after it starts a
    /// half-open episode.
    Open,
    /// A fixed number of trial calls pass; their results close the breaker or open it
    /// again.
    HalfOpen,
    /// Calls pass and nothing is recorded, counted or emitted.
    Disabled,
    /// Every call is refused, with no end in time.
    ForcedOpen,
    /// Calls pass and are recorded, but the breaker never opens by itself.
    MetricsOnly,
}

impl State {
    pub(crate) const fn code(self) -> u64 {
        match self {
            State::Closed => CLOSED,
            State::Open => OPEN,
            State::HalfOpen => HALF_OPEN,
            State::Disabled => DISABLED,
            State::ForcedOpen => FORCED_OPEN,
            State::MetricsOnly => METRICS_ONLY,
        }
    }

    pub(crate) const fn from_code(code: u64) -> State {
        match code {
            CLOSED => State::Closed,
            OPEN => State::Open,
            HALF_OPEN => State::HalfOpen,
            DISABLED => State::Disabled,
            FORCED_OPEN => State::ForcedOpen,
            _ => State::MetricsOnly,
        }
    }

    /// Whether a manual transition from `self` to `to` is allowed: any change except
    /// into half-open from anything but open.
    pub(crate) fn may_become(self, to: State) -> bool {
        self != to && (to != State::HalfOpen || self == State::Open)
    }

    /// The name used in messages: `closed`, `open`, `half-open`, `disabled`,
    /// `forced-open`, `metrics-only`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
            State::Disabled => "disabled",
            State::ForcedOpen => "forced-open",
            State::MetricsOnly => "metrics-only",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// The state word: `generation << STATE_BITS | code`. Every transition stores a word with
// the next generation, so two words are equal exactly when they name the same episode of
// the same state: a permit remembers the word it was issued under, and its result counts
// only while the breaker's word is still that one.

/// Bits of the state word that hold the state's code.
const STATE_BITS: u32 = 3;
const CODE_MASK: u64 = (1 << STATE_BITS) - 1;

pub(crate) const CLOSED: u64 = 0;
pub(crate) const OPEN: u64 = 1;
pub(crate) const HALF_OPEN: u64 = 2;
pub(crate) const DISABLED: u64 = 3;
pub(crate) const FORCED_OPEN: u64 = 4;
pub(crate) const METRICS_ONLY: u64 = 5;

/// The state code of a state word.
#[inline]
pub(crate) const fn code(word: u64) -> u64 {
    word & CODE_MASK
}

/// The generation of a state word.
#[inline]
pub(crate) const fn generation(word: u64) -> u64 {
    word >> STATE_BITS
}

/// The word of the episode after `word`'s, in state `to`.
#[inline]
pub(crate) const fn next(word: u64, to: State) -> u64 {
    ((generation(word) + 1) << STATE_BITS) | to.code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_pack_state_and_generation() {
        let w = next(0, State::Open);
        assert_eq!(code(w), OPEN);
        assert_eq!(generation(w), 1);
        let w = next(w, State::HalfOpen);
        assert_eq!(State::from_code(code(w)), State::HalfOpen);
        assert_eq!(generation(w), 2);
        for s in [
            State::Closed,
            State::Open,
            State::HalfOpen,
            State::Disabled,
            State::ForcedOpen,
            State::MetricsOnly,
        ] {
            assert_eq!(State::from_code(s.code()), s);
            assert!(!s.may_become(s));
        }
        assert!(!State::Closed.may_become(State::HalfOpen));
        assert!(State::Open.may_become(State::HalfOpen));
        assert!(State::ForcedOpen.may_become(State::Closed));
    }
}
