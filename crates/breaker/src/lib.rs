//! A circuit breaker for threads: stop calling a dependency that is failing, let it
//! recover, and probe it with a few trial calls before trusting it again.
//!
//! A [`CircuitBreaker`] wraps the calls to one dependency. While **closed** every call
//! passes and its result goes into a sliding window ([`Window::Count`] of the last `n`
//! results, or [`Window::Time`] of the last `d`). Once the window holds `minimum_calls`
//! results, a failure rate or a slow-call rate at or above its threshold **opens** it:
//! calls are refused at once ([`BreakerError::Rejected`], saying when to retry) for the
//! open wait, fixed or growing with each re-opening ([`ExponentialBackoff`]). The first
//! call after the wait makes it **half-open**: `half_open_calls` trial calls pass, and
//! their results close it or open it again. Three manual states complete resilience4j's
//! set: **disabled** (everything passes, nothing is recorded), **forced open** (nothing
//! passes, with no end) and **metrics only** (everything passes and is recorded, the
//! breaker never opens).
//!
//! Results come in through [`CircuitBreaker::call`] (a closure's `Result`; a panic is a
//! failure), [`call_with_fallback`](CircuitBreaker::call_with_fallback), or a [`Permit`]
//! from [`try_acquire`](CircuitBreaker::try_acquire) for code that cannot be wrapped.
//! [`Builder::record_error`] says which errors count as failures; the others are
//! ignored. Listeners ([`Builder::on_event`]) see every [`Event`];
//! [`metrics`](CircuitBreaker::metrics) gives the rates and counters. [`Keyed`] holds one breaker
//! per host or endpoint in bounded memory. Time comes from a
//! [`Clock`](patterns_core::Clock), so every sequence is testable on a
//! [`ManualClock`](patterns_core::ManualClock) without sleeping.
//!
//! ```
//! use breaker::{BreakerError, CircuitBreaker, Event, State, Window};
//! use patterns_core::ManualClock;
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! let clock = ManualClock::new();
//! let log = Arc::new(Mutex::new(Vec::new()));
//! let breaker = CircuitBreaker::builder()
//!     .name("inventory")
//!     .failure_rate_threshold(50.0)
//!     .sliding_window(Window::Count(4))
//!     .minimum_calls(4)
//!     .wait_in_open(Duration::from_secs(10))
//!     .half_open_calls(1)
//!     .clock(clock.clone())
//!     .on_event({
//!         let log = Arc::clone(&log);
//!         move |event| {
//!             if let Event::StateTransition { from, to } = event {
//!                 log.lock().unwrap().push((*from, *to));
//!             }
//!         }
//!     })
//!     .build()
//!     .unwrap();
//!
//! // Two failures in four calls: 50%, the threshold. The breaker opens.
//! for ok in [true, false, true, false] {
//!     let _ = breaker.call(|| if ok { Ok(()) } else { Err("timeout") });
//! }
//! assert_eq!(breaker.state(), State::Open);
//! let refused = breaker.call(|| Ok::<_, &str>(())).unwrap_err();
//! assert_eq!(refused, BreakerError::Rejected { retry_after: Some(Duration::from_secs(10) + Duration::from_nanos(1)) });
//!
//! // After the wait, one trial call; its success closes the breaker.
//! clock.advance(Duration::from_secs(11));
//! assert_eq!(breaker.call(|| Ok::<_, &str>(42)), Ok(42));
//! assert_eq!(breaker.state(), State::Closed);
//! assert_eq!(
//!     *log.lock().unwrap(),
//!     [
//!         (State::Closed, State::Open),
//!         (State::Open, State::HalfOpen),
//!         (State::HalfOpen, State::Closed),
//!     ]
//! );
//! ```
//!
//! # Guarantees
//!
//! These are the workspace's rules for breakers (`SEMANTICS.md`), each pinned by a test
//! on the manual clock (`tests/state_machine.rs`):
//!
//! * **Trip at `rate >= threshold`.** A call is **slow** when its duration, from
//!   admission to its result, is **strictly greater** than `slow_call_duration`
//!   (slow-call detection is off until that or `slow_call_rate_threshold` is set).
//! * **Open ends strictly after `opened_at + wait`**: at exactly the wait it is still
//!   open, and [`Rejected::retry_after`] is the time to the first instant after it.
//! * **Thresholds are evaluated after every recorded result**, success or failure, once
//!   `minimum_calls` results are in; with a count window `minimum_calls` is clipped to
//!   the window's size. (A fast success that cannot raise either rate skips the sum
//!   over stripes: the outcome is the same.)
//! * **Half-open admits exactly `half_open_calls` trials per episode**, however many
//!   threads arrive at once, and decides once all of their results are in: open again if
//!   a rate reaches its threshold among them, closed otherwise.
//! * **Every permit belongs to an episode** (the generation in the state word). A result
//!   reported for a permit issued before the breaker's last state change is discarded:
//!   it counts in the totals but never in the window, or the trials, of a later episode.
//! * **Permits always come back.** An ignored error, a dropped [`Permit`], a panic in the
//!   call and a panic in the classifier each return a half-open slot (the panic in the
//!   call is recorded as a failure and resumed; the classifier's panic ignores the call).
//!   [`Builder::max_wait_in_half_open`] re-opens a half-open breaker whose trials never
//!   come back.
//! * **Each transition happens exactly once** and emits one [`Event::StateTransition`];
//!   there are no `X → X` events. A manual transition that is not allowed (into
//!   half-open from anything but open, or to the current state) is a [`TransitionError`]
//!   and leaves the state as it was.
//! * **Forced open never times out; disabled admits and records nothing (no counters,
//!   no events); metrics-only records and never opens.**
//! * **A panicking listener loses nothing.** The other listeners still get the event;
//!   the call's result is recorded (its half-open slot used or given back) and any
//!   transition it causes is completed before the panic propagates to the caller. A
//!   listener may read the breaker (`state`, `metrics`) from any event; from a
//!   `StateTransition` or `Reset` it must not call `call`, `try_acquire`, a transition
//!   or `reset` on the same breaker ([`Builder::on_event`]).
//! * **Counters add up:** once every permit is used or dropped, `successes + failures +
//!   ignored + not_permitted_calls` in [`Metrics`] is the number of calls attempted
//!   outside the disabled state.
//! * **Memory:** a breaker holds its stripes' windows, one byte per result of a count
//!   window per stripe, or ten buckets per stripe of a time window (about
//!   [`memory_bytes`](CircuitBreaker::memory_bytes) in all); [`Keyed`] holds its
//!   `max_keys` breakers, more only while more than that are in use at once (see its
//!   "Eviction").
//!
//! # Concurrency
//!
//! The closed-state fast path takes no shared lock and writes no shared cache line: one
//! load of the state word, the clock read only if something needs it (twice when calls
//! are timed — slow-call detection or a listener — once for a time window, never for an
//! untimed count window; the CPU's counter through quanta by default), and the result
//! recorded into the calling thread's stripe (its own spin lock, its own cache line). The window is split into stripes, four per core by
//! default ([`Builder::stripes`]); rates are computed over the union of the stripes'
//! windows, which from one thread is exactly the configured window and from several is
//! a documented approximation ([`Window::Count`]). Transitions, half-open admission and
//! half-open results go through one lock, where the state word is re-checked, so that
//! each transition happens once and each episode admits exactly its trials.
//!
//! A result's evaluation publishes its stripe's totals, then issues a SeqCst fence,
//! then reads the other stripes' (Dekker's pattern): of results recorded at once on
//! different stripes, the last evaluation sees them all, so a window at its threshold
//! opens the breaker even when every thread's own stripe is under it.
//!
//! Loom models (`tests/loom.rs`) check the half-open admission race, a result racing a
//! transition or a reset, and failures racing on different stripes (count and time
//! windows, the latter aged by another thread), each model thread on its own stripe.

mod breaker;
mod config;
mod error;
mod event;
mod keyed;
mod metrics;
mod spin;
mod state;
mod timeline;
mod window;

use patterns_core::sync;

pub use crate::breaker::{CircuitBreaker, Permit};
pub use crate::config::{Builder, ExponentialBackoff, Window};
pub use crate::error::{BreakerError, ConfigError, Rejected, TransitionError};
pub use crate::event::Event;
pub use crate::keyed::Keyed;
pub use crate::metrics::Metrics;
pub use crate::state::State;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
