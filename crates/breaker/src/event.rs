//! What a breaker tells its listeners.

use std::time::Duration;

use crate::state::State;

/// Something that happened in a breaker, delivered to every
/// [`on_event`](crate::Builder::on_event) listener synchronously, on the thread where it
/// happened.
///
/// The order, for one call: its outcome (`Success`, `Error` or `Ignored`), then `SlowCall`
/// if it was slow, then the `StateTransition` its result caused, if any. A refused call
/// emits `NotPermitted`. A transition emits exactly one `StateTransition`, never one from
/// a state to itself; `reset` emits `Reset` (after the `StateTransition` to closed, when
/// the breaker was not closed). A [`Disabled`](State::Disabled) breaker emits nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The breaker moved from one state to another.
    StateTransition {
        /// The state it left.
        from: State,
        /// The state it entered.
        to: State,
    },
    /// A call succeeded.
    Success {
        /// From admission to the result.
        duration: Duration,
    },
    /// A call failed with an error counted as a failure (or panicked).
    Error {
        /// From admission to the result.
        duration: Duration,
    },
    /// A call's error was not counted (the classifier said so), its permit was ignored
    /// or dropped without a result, or the classifier panicked.
    Ignored,
    /// The breaker refused a call.
    NotPermitted,
    /// A call took strictly longer than the slow-call duration (emitted after its
    /// `Success` or `Error`).
    SlowCall {
        /// From admission to the result.
        duration: Duration,
    },
    /// [`reset`](crate::CircuitBreaker::reset) cleared the breaker.
    Reset,
}
