//! What the breaker tests share.
#![allow(dead_code)] // not every test binary uses every helper

use std::sync::{Arc, Mutex};
use std::time::Duration;

use breaker::{Builder, CircuitBreaker, Event, State, Window};
use patterns_core::ManualClock;

/// A listener that keeps every event.
#[derive(Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    /// A listener to pass to `on_event`.
    pub(crate) fn listener(&self) -> impl Fn(&Event) + Send + Sync + 'static {
        let events = Arc::clone(&self.0);
        move |event| events.lock().unwrap().push(*event)
    }

    /// The events so far, emptying the record.
    pub(crate) fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The state transitions so far, emptying the record.
    pub(crate) fn transitions(&self) -> Vec<(State, State)> {
        self.take()
            .into_iter()
            .filter_map(|event| match event {
                Event::StateTransition { from, to } => Some((from, to)),
                _ => None,
            })
            .collect()
    }
}

/// The open wait of the breakers from `base`.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A breaker on `clock`: trips at 50% failures over the last 10 calls once 10 are in,
/// waits `WAIT` in open, 2 half-open trials, slow above 1 s at 100%.
pub(crate) fn base(clock: &ManualClock) -> Builder {
    CircuitBreaker::builder()
        .clock(clock.clone())
        .failure_rate_threshold(50.0)
        .sliding_window(Window::Count(10))
        .minimum_calls(10)
        .wait_in_open(WAIT)
        .half_open_calls(2)
        .slow_call_duration(Duration::from_secs(1))
}

/// A successful call.
pub(crate) fn ok(breaker: &CircuitBreaker) {
    breaker.call(|| Ok::<_, &str>(())).unwrap();
}

/// A failed call (admitted).
pub(crate) fn fail(breaker: &CircuitBreaker) {
    let result = breaker.call(|| Err::<(), _>("down"));
    assert!(
        matches!(result, Err(breaker::BreakerError::Inner("down"))),
        "the call was refused: {result:?}"
    );
}

/// Whether a call is admitted now (it succeeds if so).
pub(crate) fn admitted(breaker: &CircuitBreaker) -> bool {
    breaker.call(|| Ok::<_, &str>(())).is_ok()
}

/// Drives a `base` breaker from closed to open with 10 failures.
pub(crate) fn trip(breaker: &CircuitBreaker) {
    while breaker.state() == State::Closed {
        fail(breaker);
    }
    assert_eq!(breaker.state(), State::Open);
}
