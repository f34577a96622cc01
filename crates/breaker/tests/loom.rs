//! loom models: half-open admission and results racing transitions.
//!
//! Under loom a breaker has one stripe (see `default_stripes`): the models check the
//! protocol between the state word, the transition lock and a stripe's generation, which
//! is the same for every stripe.
#![cfg(loom)]

use std::time::Duration;

use breaker::{CircuitBreaker, Event, State, Window};
use loom::thread;
use patterns_core::sync::{Arc, Mutex};
use patterns_core::ManualClock;

/// A listener keeping the state transitions and resets, in a loom mutex.
fn recorder() -> (
    Arc<Mutex<Vec<Event>>>,
    impl Fn(&Event) + Send + Sync + 'static,
) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    (events, move |event: &Event| {
        if matches!(event, Event::StateTransition { .. } | Event::Reset) {
            sink.lock().push(*event);
        }
    })
}

/// Three threads ask for the one trial of a half-open episode at once: exactly one gets
/// a half-open permit; its success closes the breaker, and the others are refused or
/// admitted by the closed breaker.
#[test]
fn exactly_one_of_three_gets_the_half_open_trial() {
    loom::model(|| {
        let clock = ManualClock::new();
        let breaker = Arc::new(
            CircuitBreaker::builder()
                .sliding_window(Window::Count(1))
                .half_open_calls(1)
                .wait_in_open(Duration::from_secs(1))
                .clock(clock.clone())
                .build()
                .unwrap(),
        );
        breaker.transition_to_open().unwrap();
        clock.advance(Duration::from_secs(2));
        let attempt = |breaker: &CircuitBreaker| match breaker.try_acquire() {
            Ok(permit) => {
                let trial = permit.state() == State::HalfOpen;
                permit.success();
                usize::from(trial)
            }
            Err(refused) => {
                assert_eq!(refused.state(), State::HalfOpen);
                0
            }
        };
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let breaker = Arc::clone(&breaker);
                thread::spawn(move || attempt(&breaker))
            })
            .collect();
        let trials =
            attempt(&breaker) + racers.into_iter().map(|r| r.join().unwrap()).sum::<usize>();
        assert_eq!(trials, 1);
        assert_eq!(breaker.state(), State::Closed);
    });
}

/// A failure that would trip the breaker races a manual transition to open: the breaker
/// leaves closed exactly once, with one event; if the transition came first, the failure
/// is stale and never reaches a later window.
#[test]
fn a_result_racing_a_transition_moves_the_breaker_once() {
    loom::model(|| {
        let (events, listener) = recorder();
        let breaker = Arc::new(
            CircuitBreaker::builder()
                .sliding_window(Window::Count(1))
                .clock(ManualClock::new())
                .on_event(listener)
                .build()
                .unwrap(),
        );
        let manual = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || breaker.transition_to_open().is_ok())
        };
        if let Ok(permit) = breaker.try_acquire() {
            permit.failure();
        }
        let manual_won = manual.join().unwrap();
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(
            *events.lock(),
            [Event::StateTransition {
                from: State::Closed,
                to: State::Open
            }]
        );
        let metrics = breaker.metrics();
        assert!(manual_won || metrics.failures == 1);
        breaker.transition_to_closed().unwrap();
        assert_eq!(breaker.metrics().buffered_calls, 0, "a stale result leaked");
    });
}

/// A failure admitted while closed races a `reset` followed by a success: the failure
/// counts in the window it was admitted in, or, arriving after the reset, is discarded —
/// it never clears or joins the new window, which holds exactly the success.
#[test]
fn a_result_racing_a_reset_never_reaches_the_new_window() {
    loom::model(|| {
        let (events, listener) = recorder();
        let breaker = Arc::new(
            CircuitBreaker::builder()
                .sliding_window(Window::Count(2))
                .clock(ManualClock::new())
                .on_event(listener)
                .build()
                .unwrap(),
        );
        let permit = breaker.try_acquire().unwrap();
        let resetter = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || {
                breaker.reset();
                breaker.call(|| Ok::<_, ()>(())).unwrap();
            })
        };
        permit.failure();
        resetter.join().unwrap();
        assert_eq!(breaker.state(), State::Closed);
        let metrics = breaker.metrics();
        assert_eq!((metrics.buffered_calls, metrics.failed_calls), (1, 0));
        assert_eq!((metrics.successes, metrics.failures), (1, 1));
        assert_eq!(*events.lock(), [Event::Reset]);
    });
}
