//! loom models: half-open admission, results racing transitions, and results racing
//! each other on different stripes.
//!
//! Under loom a breaker has one stripe unless its builder asks for more (see
//! `default_stripes`), and a model thread's home stripe is its index in the execution
//! (the main thread 0, spawned threads 1, 2, … in spawn order), the same in every
//! execution: the models with `stripes(n)` put each thread on its own stripe.
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

/// Pins the store-buffering race between stripes (a review found it): two failures
/// recorded at once on different stripes must not both miss the other. Before the
/// SeqCst fence at the top of `evaluate`, each evaluation could read the other stripe's
/// totals from before its failure (relaxed stores and loads), judge the window calm,
/// and tag it so; the next result, a success, then skipped the judgement: the breaker
/// stayed closed at 50% failures.
#[test]
fn concurrent_failures_on_two_stripes_then_a_calm_success_trip() {
    loom::model(|| {
        let breaker = Arc::new(
            CircuitBreaker::builder()
                .sliding_window(Window::Count(2))
                .minimum_calls(2)
                .failure_rate_threshold(50.0)
                .stripes(4)
                .clock(ManualClock::new())
                .build()
                .unwrap(),
        );
        // Main thread (stripe 0): two successes; the second judges the window calm.
        breaker.call(|| Ok::<_, ()>(())).unwrap();
        breaker.call(|| Ok::<_, ()>(())).unwrap();
        let failers: Vec<_> = (0..2)
            .map(|_| {
                let breaker = Arc::clone(&breaker);
                thread::spawn(move || {
                    let _ = breaker.call(|| Err::<(), _>(()));
                })
            })
            .collect();
        for f in failers {
            f.join().unwrap();
        }
        // The window: S S (stripe 0) + F (stripe 1) + F (stripe 2) = 50%. One more
        // success on stripe 0 replaces a success: still 2 failures in 4, at the threshold.
        let _ = breaker.call(|| Ok::<_, ()>(()));
        assert_eq!(
            breaker.state(),
            State::Open,
            "at the threshold, still closed"
        );
    });
}

/// Pins that the window is the union of the stripes: a failure on each of two stripes,
/// recorded at once, where neither stripe alone has the minimum of two calls, opens the
/// breaker (the later of the two evaluations sees both).
#[test]
fn failures_on_two_stripes_at_once_trip_the_breaker() {
    loom::model(|| {
        let breaker = Arc::new(
            CircuitBreaker::builder()
                .sliding_window(Window::Count(2))
                .minimum_calls(2)
                .failure_rate_threshold(100.0)
                .stripes(2)
                .clock(ManualClock::new())
                .build()
                .unwrap(),
        );
        let other = {
            let breaker = Arc::clone(&breaker);
            thread::spawn(move || {
                let _ = breaker.call(|| Err::<(), _>(()));
            })
        };
        let _ = breaker.call(|| Err::<(), _>(()));
        other.join().unwrap();
        assert_eq!(breaker.state(), State::Open);
        let metrics = breaker.metrics();
        assert_eq!((metrics.failures, metrics.not_permitted_calls), (2, 0));
    });
}

/// A time window's stripe aged by another thread's evaluation (`SpinLock::try_with`)
/// while its own thread may be recording into it: the two failures, nine seconds apart
/// in a ten-second window, on two stripes, always open the breaker, and the stripe's
/// window is never reached by two threads at once (loom checks its cell).
#[test]
fn a_time_window_aged_by_another_thread_still_trips() {
    loom::model(|| {
        let clock = ManualClock::new();
        let breaker = Arc::new(
            CircuitBreaker::builder()
                .sliding_window(Window::Time(Duration::from_secs(10)))
                .minimum_calls(2)
                .failure_rate_threshold(100.0)
                .stripes(2)
                .clock(clock.clone())
                .build()
                .unwrap(),
        );
        let early = {
            let breaker = Arc::clone(&breaker);
            // At 0 s or at 9 s, whichever the schedule gives: in the window either way.
            thread::spawn(move || {
                let _ = breaker.call(|| Err::<(), _>(()));
            })
        };
        clock.advance(Duration::from_secs(9));
        // Bucket 9: judging it ages the other stripe (last written in bucket 0) if its
        // lock is free, or reads what it published if not.
        let _ = breaker.call(|| Err::<(), _>(()));
        early.join().unwrap();
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(breaker.metrics().failures, 2);
    });
}
