//! The state machine on the manual clock: each rule of the crate's "Guarantees" (the
//! workspace's SEMANTICS.md, section breaker) pinned at its exact edge.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::Duration;

use breaker::{
    BreakerError, CircuitBreaker, ConfigError, Event, ExponentialBackoff, State, TransitionError,
    Window,
};
use common::{admitted, base, fail, ok, trip, Recorder, WAIT};
use patterns_core::ManualClock;

const NS: Duration = Duration::from_nanos(1);

// ---- thresholds and the minimum --------------------------------------------------------

#[test]
fn trips_at_exactly_the_failure_threshold() {
    let clock = ManualClock::new();
    let breaker = base(&clock).build().unwrap();
    for _ in 0..5 {
        fail(&breaker);
    }
    for _ in 0..4 {
        ok(&breaker);
    }
    assert_eq!(breaker.state(), State::Closed, "9 calls: under the minimum");
    ok(&breaker); // 5 of 10: 50%, the threshold
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn stays_closed_just_under_the_threshold() {
    let clock = ManualClock::new();
    let breaker = base(&clock).build().unwrap();
    for _ in 0..4 {
        fail(&breaker);
    }
    for _ in 0..6 {
        ok(&breaker);
    }
    assert_eq!(breaker.state(), State::Closed); // 40%
    let metrics = breaker.metrics();
    assert_eq!(metrics.failure_rate, Some(40.0));
    assert_eq!(metrics.buffered_calls, 10);
    assert_eq!(metrics.failed_calls, 4);
}

#[test]
fn nothing_is_judged_before_the_minimum_calls() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .sliding_window(Window::Count(10))
        .minimum_calls(5)
        .build()
        .unwrap();
    for _ in 0..4 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(
        breaker.metrics().failure_rate,
        None,
        "no rate before the minimum"
    );
    fail(&breaker);
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn the_minimum_is_clipped_to_the_count_window() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .sliding_window(Window::Count(4))
        .minimum_calls(100)
        .build()
        .unwrap();
    for _ in 0..3 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker); // the window is full: 4 calls are the minimum
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn a_success_that_completes_the_minimum_is_judged_too() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .sliding_window(Window::Count(4))
        .minimum_calls(4)
        .build()
        .unwrap();
    for _ in 0..3 {
        fail(&breaker);
    }
    ok(&breaker); // 3 of 4 failed: the success is the result that trips it
    assert_eq!(breaker.state(), State::Open);
}

// ---- windows roll over -----------------------------------------------------------------

#[test]
fn a_count_window_holds_exactly_the_last_n() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .sliding_window(Window::Count(4))
        .minimum_calls(4)
        .build()
        .unwrap();
    fail(&breaker);
    for _ in 0..3 {
        ok(&breaker);
    }
    assert_eq!(breaker.metrics().failure_rate, Some(25.0)); // F S S S
    ok(&breaker); // the failure leaves: S S S S
    assert_eq!(breaker.metrics().failed_calls, 0);
    fail(&breaker); // S S S F
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker); // S S F F: 50%
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn a_time_window_keeps_results_until_their_bucket_leaves() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .sliding_window(Window::Time(Duration::from_secs(10)))
        .minimum_calls(3)
        .failure_rate_threshold(60.0)
        .build()
        .unwrap();
    fail(&breaker);
    fail(&breaker);
    clock.advance(Duration::from_secs(10) - NS); // still in the window
    ok(&breaker); // 2 of 3: 66%
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn a_time_window_forgets_results_older_than_the_window() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .sliding_window(Window::Time(Duration::from_secs(10)))
        .minimum_calls(3)
        .failure_rate_threshold(60.0)
        .build()
        .unwrap();
    fail(&breaker);
    fail(&breaker);
    clock.advance(Duration::from_secs(10)); // their bucket has left
    ok(&breaker);
    assert_eq!(breaker.metrics().buffered_calls, 1);
    ok(&breaker);
    fail(&breaker); // 1 of 3
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker); // 2 of 4: 50%
    assert_eq!(breaker.state(), State::Closed);
    clock.advance(Duration::from_secs(5));
    fail(&breaker); // 3 of 5: 60%
    assert_eq!(breaker.state(), State::Open);
}

// ---- slow calls ------------------------------------------------------------------------

#[test]
fn a_call_is_slow_only_strictly_past_the_duration() {
    let clock = ManualClock::new();
    let events = Recorder::default();
    let breaker = base(&clock)
        .sliding_window(Window::Count(2))
        .slow_call_rate_threshold(50.0)
        .on_event(events.listener())
        .build()
        .unwrap();
    let call = |d: Duration| {
        breaker
            .call(|| {
                clock.advance(d);
                Ok::<_, &str>(())
            })
            .unwrap();
    };
    call(Duration::from_secs(1)); // exactly the duration: not slow
    assert_eq!(breaker.metrics().slow_calls, 0);
    assert_eq!(
        events.take(),
        [Event::Success {
            duration: Duration::from_secs(1)
        }]
    );
    call(Duration::from_secs(1) + NS); // slow: 1 of 2 is 50%
    let duration = Duration::from_secs(1) + NS;
    assert_eq!(
        events.take(),
        [
            Event::Success { duration },
            Event::SlowCall { duration },
            Event::StateTransition {
                from: State::Closed,
                to: State::Open
            },
        ]
    );
}

#[test]
fn slow_failures_count_as_both() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .sliding_window(Window::Count(4))
        .minimum_calls(4)
        .failure_rate_threshold(100.0)
        .slow_call_rate_threshold(100.0)
        .build()
        .unwrap();
    for _ in 0..3 {
        let _ = breaker.call(|| {
            clock.advance(Duration::from_secs(2));
            Err::<(), _>("slow and failed")
        });
    }
    let metrics = breaker.metrics();
    assert_eq!((metrics.failed_calls, metrics.slow_calls), (3, 3));
    let _ = breaker.call(|| {
        clock.advance(Duration::from_secs(2));
        Ok::<_, &str>(())
    });
    assert_eq!(breaker.state(), State::Open, "4 of 4 slow: 100%");
}

// ---- open ------------------------------------------------------------------------------

#[test]
fn open_ends_strictly_after_the_wait() {
    let clock = ManualClock::new();
    let breaker = base(&clock).build().unwrap();
    trip(&breaker);
    clock.advance(WAIT); // exactly the wait: still open
    let refused = breaker.try_acquire().unwrap_err();
    assert_eq!(refused.state(), State::Open);
    assert_eq!(refused.retry_after(), Some(NS));
    clock.advance(NS);
    let trial = breaker.try_acquire().unwrap();
    assert_eq!(trial.state(), State::HalfOpen);
    trial.success();
}

#[test]
fn retry_after_counts_down_to_the_first_admitting_instant() {
    let clock = ManualClock::new();
    let breaker = base(&clock).build().unwrap();
    trip(&breaker);
    assert_eq!(
        breaker.call(|| Ok::<_, ()>(())),
        Err(BreakerError::Rejected {
            retry_after: Some(WAIT + NS)
        })
    );
    clock.advance(Duration::from_secs(4));
    let retry = breaker.try_acquire().unwrap_err().retry_after().unwrap();
    assert_eq!(retry, WAIT - Duration::from_secs(4) + NS);
    clock.advance(retry);
    assert!(admitted(&breaker));
}

/// Pins that `retry_after` saturates instead of overflowing for the longest wait: with
/// `wait_in_open(Duration::MAX)` the last instant of the wait is `u64::MAX` nanoseconds,
/// and `until + 1 - now` overflowed (a panic in debug, a `retry_after` of 0 in release).
/// (A review found it.)
#[test]
fn retry_after_of_the_longest_wait_does_not_overflow() {
    let clock = ManualClock::new();
    let breaker = base(&clock).wait_in_open(Duration::MAX).build().unwrap();
    breaker.transition_to_open().unwrap();
    let retry = breaker.try_acquire().unwrap_err().retry_after().unwrap();
    assert_eq!(retry, Duration::from_nanos(u64::MAX) + NS);
    // The other site: half-open past its maximum wait re-opens, for the longest wait.
    let breaker = base(&clock)
        .wait_in_open(Duration::MAX)
        .max_wait_in_half_open(Duration::from_secs(1))
        .build()
        .unwrap();
    breaker.transition_to_open().unwrap();
    breaker.transition_to_half_open().unwrap();
    clock.advance(Duration::from_secs(2));
    let refused = breaker.try_acquire().unwrap_err();
    assert_eq!(refused.state(), State::Open);
    let reopened_at = Duration::from_secs(2).as_nanos() as u64;
    assert_eq!(
        refused.retry_after(),
        Some(Duration::from_nanos(u64::MAX - reopened_at) + NS)
    );
}

// ---- half-open -------------------------------------------------------------------------

#[test]
fn half_open_admits_exactly_its_trials_and_decides_on_the_last() {
    let clock = ManualClock::new();
    let events = Recorder::default();
    let breaker = base(&clock)
        .half_open_calls(3)
        .on_event(events.listener())
        .build()
        .unwrap();
    trip(&breaker);
    clock.advance(WAIT + NS);
    let trials: Vec<_> = (0..3).map(|_| breaker.try_acquire().unwrap()).collect();
    let refused = breaker.try_acquire().unwrap_err();
    assert_eq!(refused.state(), State::HalfOpen);
    assert_eq!(refused.retry_after(), None, "no time frees a trial slot");
    let mut trials = trials.into_iter();
    trials.next().unwrap().success();
    trials.next().unwrap().success();
    assert_eq!(
        breaker.state(),
        State::HalfOpen,
        "2 of 3 results: undecided"
    );
    trials.next().unwrap().success();
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(
        events.transitions(),
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed)
        ]
    );
}

#[test]
fn half_open_reopens_when_the_trials_reach_the_threshold() {
    let clock = ManualClock::new();
    let breaker = base(&clock).build().unwrap();
    trip(&breaker);
    clock.advance(WAIT + NS);
    ok(&breaker);
    fail(&breaker); // 1 of 2 trials: 50%
    assert_eq!(breaker.state(), State::Open);
}

#[test]
fn half_open_closes_to_an_empty_window() {
    let clock = ManualClock::new();
    let breaker = base(&clock).half_open_calls(1).build().unwrap();
    trip(&breaker);
    clock.advance(WAIT + NS);
    ok(&breaker);
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.metrics().buffered_calls, 0);
    for _ in 0..9 {
        fail(&breaker);
    }
    assert_eq!(
        breaker.state(),
        State::Closed,
        "a new window needs its minimum"
    );
}

#[test]
fn racing_threads_get_exactly_the_trials() {
    let clock = ManualClock::new();
    let breaker = base(&clock).half_open_calls(3).build().unwrap();
    trip(&breaker);
    clock.advance(WAIT + NS);
    let threads = 16;
    let start = Arc::new(Barrier::new(threads));
    let tried = Arc::new(Barrier::new(threads));
    let admitted: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (breaker, start, tried) = (&breaker, &start, &tried);
                s.spawn(move || {
                    start.wait();
                    let permit = breaker.try_acquire();
                    tried.wait(); // every thread has asked while the trials are out
                    match permit {
                        Ok(permit) => {
                            assert_eq!(permit.state(), State::HalfOpen);
                            permit.success();
                            1
                        }
                        Err(refused) => {
                            assert_eq!(refused.state(), State::HalfOpen);
                            0
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(admitted, 3);
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn backoff_lengthens_each_reopening_and_starts_over_once_closed() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .half_open_calls(1)
        .backoff(ExponentialBackoff::new(
            Duration::from_secs(10),
            Duration::from_secs(40),
        ))
        .build()
        .unwrap();
    trip(&breaker);
    for wait in [10, 20, 40, 40] {
        let wait = Duration::from_secs(wait);
        let retry = breaker.try_acquire().unwrap_err().retry_after();
        assert_eq!(retry, Some(wait + NS));
        clock.advance(wait + NS);
        fail(&breaker); // the trial fails: open again, for longer
        assert_eq!(breaker.state(), State::Open);
    }
    clock.advance(Duration::from_secs(40) + NS);
    ok(&breaker);
    assert_eq!(breaker.state(), State::Closed);
    trip(&breaker);
    let retry = breaker.try_acquire().unwrap_err().retry_after();
    assert_eq!(
        retry,
        Some(Duration::from_secs(10) + NS),
        "closing reset it"
    );
}

#[test]
fn jitter_only_shortens_the_wait() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .half_open_calls(1)
        .backoff(
            ExponentialBackoff::new(Duration::from_secs(10), Duration::from_secs(10)).jitter(0.5),
        )
        .build()
        .unwrap();
    trip(&breaker);
    for _ in 0..20 {
        let retry = breaker.try_acquire().unwrap_err().retry_after().unwrap();
        assert!(retry > Duration::from_secs(5) && retry <= Duration::from_secs(10) + NS);
        clock.advance(retry);
        fail(&breaker);
    }
}

#[test]
fn max_wait_in_half_open_reopens_a_stuck_episode() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .half_open_calls(1)
        .max_wait_in_half_open(Duration::from_secs(30))
        .build()
        .unwrap();
    trip(&breaker);
    clock.advance(WAIT + NS);
    let stuck = breaker.try_acquire().unwrap(); // a trial that never reports
    clock.advance(Duration::from_secs(30));
    assert_eq!(breaker.try_acquire().unwrap_err().state(), State::HalfOpen);
    clock.advance(NS);
    let refused = breaker.try_acquire().unwrap_err();
    assert_eq!(refused.state(), State::Open);
    assert_eq!(breaker.state(), State::Open);
    stuck.success(); // stale: the episode it belonged to is over
    assert_eq!(breaker.state(), State::Open);
}

// ---- permits always come back ----------------------------------------------------------

#[derive(Debug)]
struct AppError {
    counts: bool,
}

#[test]
fn ignored_errors_leave_the_window_alone() {
    let clock = ManualClock::new();
    let events = Recorder::default();
    let breaker = base(&clock)
        .sliding_window(Window::Count(2))
        .record_error(|e: &AppError| e.counts)
        .on_event(events.listener())
        .build()
        .unwrap();
    for _ in 0..5 {
        let result = breaker.call(|| Err::<(), _>(AppError { counts: false }));
        assert!(matches!(result, Err(BreakerError::Inner(_))));
    }
    assert_eq!(breaker.state(), State::Closed);
    let metrics = breaker.metrics();
    assert_eq!((metrics.buffered_calls, metrics.ignored), (0, 5));
    assert!(events.take().iter().all(|e| *e == Event::Ignored));
    let _ = breaker.call(|| Err::<(), _>(AppError { counts: true }));
    ok(&breaker);
    assert_eq!(breaker.state(), State::Open);
    // Errors of other types are failures.
    let other = base(&clock)
        .sliding_window(Window::Count(1))
        .record_error(|_: &AppError| false)
        .build()
        .unwrap();
    fail(&other);
    assert_eq!(other.state(), State::Open);
}

#[test]
fn an_ignored_trial_gives_its_slot_back() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .half_open_calls(1)
        .record_error(|e: &AppError| e.counts)
        .build()
        .unwrap();
    trip(&breaker);
    clock.advance(WAIT + NS);
    let _ = breaker.call(|| Err::<(), _>(AppError { counts: false }));
    assert_eq!(breaker.state(), State::HalfOpen);
    let permit = breaker.try_acquire().unwrap(); // the slot came back
    permit.ignore();
    let permit = breaker.try_acquire().unwrap();
    drop(permit); // so does a dropped permit
    ok(&breaker);
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn a_panicking_call_is_a_failure_and_the_panic_goes_on() {
    let clock = ManualClock::new();
    let breaker = base(&clock).half_open_calls(1).build().unwrap();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        breaker.call(|| -> Result<(), &str> { panic!("boom") })
    }));
    assert!(panicked.is_err());
    assert_eq!(breaker.metrics().failed_calls, 1);
    trip(&breaker);
    clock.advance(WAIT + NS);
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        breaker.call(|| -> Result<(), &str> { panic!("boom") })
    }));
    assert!(panicked.is_err());
    assert_eq!(
        breaker.state(),
        State::Open,
        "the trial's panic is its failure"
    );
}

#[test]
fn a_panicking_classifier_ignores_the_call_and_returns_the_slot() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .half_open_calls(1)
        .record_error(|_: &AppError| -> bool { panic!("classifier bug") })
        .build()
        .unwrap();
    trip(&breaker);
    clock.advance(WAIT + NS);
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        breaker.call(|| Err::<(), _>(AppError { counts: true }))
    }));
    assert!(panicked.is_err());
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(breaker.metrics().ignored, 1);
    ok(&breaker); // the slot came back
    assert_eq!(breaker.state(), State::Closed);
}

/// A listener that panics, armed to fire once on the first event matching `fires`.
fn panicking_listener(
    fires: fn(&Event) -> bool,
) -> (Arc<AtomicBool>, impl Fn(&Event) + Send + Sync + 'static) {
    let armed = Arc::new(AtomicBool::new(false));
    let trigger = Arc::clone(&armed);
    (armed, move |event: &Event| {
        if fires(event) && trigger.swap(false, Ordering::SeqCst) {
            panic!("listener bug");
        }
    })
}

/// Pins that a listener panicking on a trial's result does not lose the trial: the
/// result is recorded (the episode decides, and the counters add up) before the panic
/// propagates to the caller. A review found that `finish` called the listeners first,
/// so the panic unwound past the recording: half-open wedged with its slot taken, and
/// the call counted nowhere.
#[test]
fn a_panicking_listener_on_a_trial_result_does_not_wedge_half_open() {
    let clock = ManualClock::new();
    let (armed, listener) = panicking_listener(|e| matches!(e, Event::Success { .. }));
    let breaker = base(&clock)
        .sliding_window(Window::Count(1))
        .half_open_calls(1)
        .on_event(listener)
        .build()
        .unwrap();
    breaker.transition_to_open().unwrap();
    clock.advance(WAIT + NS);
    armed.store(true, Ordering::SeqCst);
    let panicked = catch_unwind(AssertUnwindSafe(|| breaker.call(|| Ok::<_, ()>(()))));
    assert!(panicked.is_err(), "the listener's panic reaches the caller");
    assert_eq!(
        breaker.state(),
        State::Closed,
        "the trial's success was recorded"
    );
    let m = breaker.metrics();
    assert_eq!(
        (m.successes, m.failures, m.ignored, m.not_permitted_calls),
        (1, 0, 0, 0)
    );
    assert!(admitted(&breaker));
}

/// Pins that a listener panicking on a `StateTransition` loses nothing either: the
/// failure that trips the breaker is recorded and the breaker opens before the panic
/// reaches the caller; and a panic on the transition into half-open (made by the call
/// that takes the first trial) gives that trial's slot back, so the next call gets it.
/// (A review found it.)
#[test]
fn a_panicking_listener_on_a_transition_loses_nothing() {
    let clock = ManualClock::new();
    let (armed, listener) = panicking_listener(|e| matches!(e, Event::StateTransition { .. }));
    let breaker = base(&clock)
        .sliding_window(Window::Count(1))
        .minimum_calls(1)
        .half_open_calls(1)
        .on_event(listener)
        .build()
        .unwrap();
    armed.store(true, Ordering::SeqCst);
    let panicked = catch_unwind(AssertUnwindSafe(|| breaker.call(|| Err::<(), _>("down"))));
    assert!(panicked.is_err());
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(breaker.metrics().failures, 1);
    clock.advance(WAIT + NS);
    armed.store(true, Ordering::SeqCst);
    let panicked = catch_unwind(AssertUnwindSafe(|| breaker.call(|| Ok::<_, ()>(()))));
    assert!(
        panicked.is_err(),
        "the panic on open → half-open reaches the caller"
    );
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(
        breaker.metrics().ignored,
        1,
        "the unused trial counts as ignored"
    );
    ok(&breaker); // the trial's slot came back
    assert_eq!(breaker.state(), State::Closed);
    let m = breaker.metrics();
    assert_eq!(
        m.successes + m.failures + m.ignored + m.not_permitted_calls,
        3
    );
}

// ---- episodes --------------------------------------------------------------------------

#[test]
fn results_of_an_earlier_episode_are_discarded() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .sliding_window(Window::Count(2))
        .build()
        .unwrap();
    let old = breaker.try_acquire().unwrap();
    breaker.transition_to_open().unwrap();
    breaker.transition_to_closed().unwrap();
    old.failure();
    let metrics = breaker.metrics();
    assert_eq!(metrics.buffered_calls, 0, "the stale failure stayed out");
    assert_eq!(metrics.failures, 1, "but is counted in the totals");
    ok(&breaker);
    assert_eq!(breaker.state(), State::Closed);
}

#[test]
fn a_stale_trial_does_not_decide_a_later_episode() {
    let clock = ManualClock::new();
    let breaker = base(&clock).half_open_calls(1).build().unwrap();
    trip(&breaker);
    clock.advance(WAIT + NS);
    let first = breaker.try_acquire().unwrap();
    breaker.transition_to_open().unwrap();
    breaker.transition_to_half_open().unwrap();
    first.success(); // from the first episode: discarded
    assert_eq!(breaker.state(), State::HalfOpen);
    let second = breaker.try_acquire().unwrap(); // the new episode's one trial
    assert!(breaker.try_acquire().is_err());
    second.failure();
    assert_eq!(breaker.state(), State::Open);
}

// ---- transitions -----------------------------------------------------------------------

#[test]
fn disallowed_transitions_are_errors_and_change_nothing() {
    let clock = ManualClock::new();
    let events = Recorder::default();
    let breaker = base(&clock).on_event(events.listener()).build().unwrap();
    assert_eq!(
        breaker.transition_to_half_open(),
        Err(TransitionError {
            from: State::Closed,
            to: State::HalfOpen
        })
    );
    assert_eq!(
        breaker.transition_to_closed(),
        Err(TransitionError {
            from: State::Closed,
            to: State::Closed
        })
    );
    assert_eq!(breaker.state(), State::Closed);
    breaker.transition_to_forced_open().unwrap();
    assert!(breaker.transition_to_forced_open().is_err());
    assert!(breaker.transition_to_half_open().is_err());
    breaker.transition_to_disabled().unwrap();
    breaker.transition_to_metrics_only().unwrap();
    breaker.transition_to_open().unwrap();
    breaker.transition_to_half_open().unwrap();
    breaker.transition_to_closed().unwrap();
    assert_eq!(
        events.transitions(),
        [
            (State::Closed, State::ForcedOpen),
            (State::ForcedOpen, State::Disabled),
            (State::Disabled, State::MetricsOnly),
            (State::MetricsOnly, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed),
        ]
    );
    assert_eq!(
        TransitionError {
            from: State::Closed,
            to: State::HalfOpen
        }
        .to_string(),
        "circuit breaker cannot go from closed to half-open"
    );
}

#[test]
fn reset_closes_empties_the_window_and_restarts_the_backoff() {
    let clock = ManualClock::new();
    let events = Recorder::default();
    let breaker = base(&clock)
        .half_open_calls(1)
        .backoff(ExponentialBackoff::new(
            Duration::from_secs(10),
            Duration::from_secs(100),
        ))
        .on_event(events.listener())
        .build()
        .unwrap();
    trip(&breaker);
    clock.advance(WAIT + NS);
    fail(&breaker); // re-opened for 20 s
    events.take();
    breaker.reset();
    assert_eq!(
        events.take(),
        [
            Event::StateTransition {
                from: State::Open,
                to: State::Closed
            },
            Event::Reset
        ]
    );
    breaker.reset(); // already closed: no X → X event
    assert_eq!(events.take(), [Event::Reset]);
    assert_eq!(breaker.metrics().buffered_calls, 0);
    trip(&breaker);
    assert_eq!(
        breaker.try_acquire().unwrap_err().retry_after(),
        Some(Duration::from_secs(10) + NS)
    );
}

#[test]
fn forced_open_never_times_out() {
    let clock = ManualClock::new();
    let breaker = base(&clock).build().unwrap();
    breaker.transition_to_forced_open().unwrap();
    clock.advance(Duration::from_secs(365 * 24 * 3600));
    let refused = breaker.try_acquire().unwrap_err();
    assert_eq!(
        (refused.state(), refused.retry_after()),
        (State::ForcedOpen, None)
    );
    assert_eq!(breaker.metrics().not_permitted_calls, 1);
}

#[test]
fn disabled_admits_and_records_nothing() {
    let clock = ManualClock::new();
    let events = Recorder::default();
    let breaker = base(&clock).on_event(events.listener()).build().unwrap();
    breaker.transition_to_disabled().unwrap();
    events.take();
    for _ in 0..100 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), State::Disabled);
    let metrics = breaker.metrics();
    assert_eq!((metrics.failures, metrics.buffered_calls), (0, 0));
    assert!(events.take().is_empty());
}

#[test]
fn metrics_only_records_and_never_trips() {
    let clock = ManualClock::new();
    let breaker = base(&clock).build().unwrap();
    breaker.transition_to_metrics_only().unwrap();
    for _ in 0..100 {
        fail(&breaker);
    }
    assert_eq!(breaker.state(), State::MetricsOnly);
    let metrics = breaker.metrics();
    assert_eq!(metrics.failure_rate, Some(100.0));
    assert_eq!(metrics.failures, 100);
}

// ---- events and counters ---------------------------------------------------------------

/// Pins that a listener may read the breaker it listens to — `metrics()` and `state()`
/// — from any event, `StateTransition` and `Reset` included, in every state. A review
/// found that transitions were delivered under the transition lock, which `metrics()`
/// also took: the listener deadlocked its own thread.
#[test]
fn a_listener_may_read_metrics_and_state() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        static BREAKER: OnceLock<CircuitBreaker> = OnceLock::new();
        let clock = ManualClock::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let breaker = base(&clock)
            .sliding_window(Window::Count(1))
            .minimum_calls(1)
            .half_open_calls(1)
            .on_event({
                let seen = Arc::clone(&seen);
                move |_| {
                    let breaker = BREAKER.get().unwrap();
                    let metrics = breaker.metrics();
                    seen.lock().unwrap().push((breaker.state(), metrics.state));
                }
            })
            .build()
            .unwrap();
        let breaker = BREAKER.get_or_init(|| breaker);
        let _ = breaker.call(|| Err::<(), _>("down")); // closed → open
        clock.advance(WAIT + NS);
        let permit = breaker.try_acquire().unwrap(); // open → half-open
        permit.failure(); // half-open → open
        breaker.reset(); // open → closed, and Reset
        let seen = seen.lock().unwrap();
        assert!(seen.contains(&(State::HalfOpen, State::HalfOpen)));
        assert_eq!(seen.last(), Some(&(State::Closed, State::Closed)));
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(10))
        .expect("a listener calling metrics() deadlocked");
}

#[test]
fn events_come_in_order() {
    let clock = ManualClock::new();
    let events = Recorder::default();
    let breaker = base(&clock)
        .sliding_window(Window::Count(1))
        .half_open_calls(1)
        .on_event(events.listener())
        .build()
        .unwrap();
    let _ = breaker.call(|| {
        clock.advance(Duration::from_secs(2));
        Err::<(), _>("slow failure")
    });
    let _ = breaker.call(|| Ok::<_, ()>(()));
    let two = Duration::from_secs(2);
    assert_eq!(
        events.take(),
        [
            Event::Error { duration: two },
            Event::SlowCall { duration: two },
            Event::StateTransition {
                from: State::Closed,
                to: State::Open
            },
            Event::NotPermitted,
        ]
    );
    clock.advance(WAIT + NS);
    let permit = breaker.try_acquire().unwrap();
    drop(permit);
    ok(&breaker);
    assert_eq!(
        events.take(),
        [
            Event::StateTransition {
                from: State::Open,
                to: State::HalfOpen
            },
            Event::Ignored,
            Event::Success {
                duration: Duration::ZERO
            },
            Event::StateTransition {
                from: State::HalfOpen,
                to: State::Closed
            },
        ]
    );
}

#[test]
fn counters_add_up_through_every_state() {
    let clock = ManualClock::new();
    let breaker = base(&clock)
        .sliding_window(Window::Count(5))
        .half_open_calls(2)
        .record_error(|e: &AppError| e.counts)
        .build()
        .unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut attempted = 0u64;
    for i in 0..5_000 {
        let roll = next();
        if i % 997 == 0 {
            breaker.reset();
        }
        if i % 1_499 == 0 {
            breaker.transition_to_metrics_only().ok();
        }
        if i % 1_999 == 0 {
            breaker.transition_to_closed().ok();
        }
        clock.advance(Duration::from_secs(roll % 3));
        attempted += 1;
        match roll % 5 {
            0 => {
                let _ = breaker.call(|| Err::<(), _>(AppError { counts: true }));
            }
            1 => {
                let _ = breaker.call(|| Err::<(), _>(AppError { counts: false }));
            }
            2 => {
                if let Ok(permit) = breaker.try_acquire() {
                    drop(permit);
                }
            }
            _ => {
                let _ = breaker.call(|| Ok::<_, AppError>(()));
            }
        }
    }
    let m = breaker.metrics();
    assert_eq!(
        m.successes + m.failures + m.ignored + m.not_permitted_calls,
        attempted
    );
    assert!(m.not_permitted_calls > 0 && m.failures > 0 && m.ignored > 0);
}

// ---- sharing, settings -----------------------------------------------------------------

#[test]
fn clones_share_one_breaker() {
    let clock = ManualClock::new();
    let breaker = base(&clock).build().unwrap();
    let other = breaker.clone();
    trip(&other);
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(breaker.name(), "breaker");
}

#[test]
fn bad_settings_are_typed_errors() {
    let build = |b: breaker::Builder| b.build().unwrap_err();
    let b = CircuitBreaker::builder;
    assert_eq!(
        build(b().failure_rate_threshold(0.0)),
        ConfigError::Threshold {
            setting: "failure_rate_threshold",
            value: 0.0
        }
    );
    assert!(matches!(
        build(b().slow_call_rate_threshold(100.5)),
        ConfigError::Threshold { .. }
    ));
    assert!(matches!(
        build(b().failure_rate_threshold(f64::NAN)),
        ConfigError::Threshold { .. }
    ));
    for (builder, setting) in [
        (b().sliding_window(Window::Count(0)), "sliding_window"),
        (
            b().sliding_window(Window::Time(Duration::ZERO)),
            "sliding_window",
        ),
        (b().minimum_calls(0), "minimum_calls"),
        (b().half_open_calls(0), "half_open_calls"),
        (b().wait_in_open(Duration::ZERO), "wait_in_open"),
        (b().slow_call_duration(Duration::ZERO), "slow_call_duration"),
        (b().stripes(0), "stripes"),
        (
            b().max_wait_in_half_open(Duration::ZERO),
            "max_wait_in_half_open",
        ),
    ] {
        assert_eq!(build(builder), ConfigError::Zero { setting });
    }
    assert!(matches!(
        build(b().sliding_window(Window::Count(usize::MAX))),
        ConfigError::WindowTooLarge { .. }
    ));
    let secs = Duration::from_secs;
    for backoff in [
        ExponentialBackoff::new(Duration::ZERO, secs(1)),
        ExponentialBackoff::new(secs(2), secs(1)),
        ExponentialBackoff::new(secs(1), secs(2)).multiplier(0.5),
        ExponentialBackoff::new(secs(1), secs(2)).jitter(1.5),
    ] {
        assert!(matches!(
            build(b().backoff(backoff)),
            ConfigError::Backoff { .. }
        ));
    }
    assert_eq!(
        build(b().minimum_calls(0)).to_string(),
        "minimum_calls must be nonzero"
    );
    assert_eq!(
        build(b().failure_rate_threshold(150.0)).to_string(),
        "failure_rate_threshold must be a percentage above 0 and at most 100, got 150"
    );
}

#[test]
fn slow_call_detection_is_off_until_asked_for() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .clock(clock.clone())
        .sliding_window(Window::Count(1))
        .build()
        .unwrap();
    breaker
        .call(|| {
            clock.advance(Duration::from_secs(3600));
            Ok::<_, ()>(())
        })
        .unwrap();
    assert_eq!(breaker.metrics().slow_calls, 0);
    assert_eq!(breaker.state(), State::Closed);
    let timed = CircuitBreaker::builder()
        .clock(clock.clone())
        .sliding_window(Window::Count(1))
        .slow_call_rate_threshold(100.0) // with the 60 s duration
        .build()
        .unwrap();
    timed
        .call(|| {
            clock.advance(Duration::from_secs(61));
            Ok::<_, ()>(())
        })
        .unwrap();
    assert_eq!(timed.state(), State::Open);
}
