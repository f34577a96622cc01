//! Stress: eight threads hammer one breaker on the real clock while the dependency fails
//! and recovers in phases. Nothing here asserts on timing: the checks are that half-open
//! never has more trials out than it admits, that the transitions form one chain, and
//! that the counters add up.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use breaker::{CircuitBreaker, Event, State, Window};

const THREADS: usize = 8;
const TRIALS: u32 = 3;
/// Admitted calls per phase of the dependency (healthy, then failing, and so on).
const PHASE: u64 = 300;
const PHASES: u64 = 6;

#[test]
fn stress_failing_and_recovering_dependency() {
    let transitions = Arc::new(Mutex::new(Vec::new()));
    let breaker = CircuitBreaker::builder()
        .sliding_window(Window::Count(20))
        .minimum_calls(10)
        .failure_rate_threshold(50.0)
        .wait_in_open(Duration::from_micros(200))
        .half_open_calls(TRIALS)
        .on_event({
            let transitions = Arc::clone(&transitions);
            move |event| {
                if let Event::StateTransition { from, to } = event {
                    transitions.lock().unwrap().push((*from, *to));
                }
            }
        })
        .build()
        .unwrap();
    let admitted = AtomicU64::new(0);
    let attempted = AtomicU64::new(0);
    let trials_out = AtomicUsize::new(0);
    let most_trials_out = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let start = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let (breaker, admitted, attempted) = (&breaker, &admitted, &attempted);
            let (trials_out, most_trials_out, done, start) =
                (&trials_out, &most_trials_out, &done, &start);
            s.spawn(move || {
                start.wait();
                let mut i = thread;
                while !done.load(Ordering::Relaxed) {
                    i += 1;
                    attempted.fetch_add(1, Ordering::Relaxed);
                    let Ok(permit) = breaker.try_acquire() else {
                        continue;
                    };
                    let n = admitted.fetch_add(1, Ordering::Relaxed);
                    if n >= PHASE * PHASES {
                        done.store(true, Ordering::Relaxed);
                    }
                    let healthy = (n / PHASE) % 2 == 0;
                    let trial = permit.state() == State::HalfOpen;
                    if trial {
                        let out = trials_out.fetch_add(1, Ordering::SeqCst) + 1;
                        most_trials_out.fetch_max(out, Ordering::SeqCst);
                        // Give the others a chance to race for a slot meanwhile.
                        std::thread::yield_now();
                        trials_out.fetch_sub(1, Ordering::SeqCst);
                    }
                    match (healthy, i % 7) {
                        (_, 0) => drop(permit), // unreported: ignored
                        (true, _) => permit.success(),
                        (false, _) => permit.failure(),
                    }
                }
            });
        }
    });
    assert!(
        most_trials_out.load(Ordering::SeqCst) <= TRIALS as usize,
        "{} half-open trials out at once",
        most_trials_out.load(Ordering::SeqCst)
    );
    let transitions = transitions.lock().unwrap();
    for pair in transitions.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "transitions out of order: {pair:?}");
    }
    assert!(transitions.contains(&(State::Closed, State::Open)));
    assert!(transitions.contains(&(State::Open, State::HalfOpen)));
    assert!(transitions.contains(&(State::HalfOpen, State::Closed)));
    let m = breaker.metrics();
    assert_eq!(
        m.successes + m.failures + m.ignored + m.not_permitted_calls,
        attempted.load(Ordering::Relaxed)
    );
}
