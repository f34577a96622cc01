//! loom models of the blocking and hand-off protocols in `patterns-core`: exhaustive over
//! every interleaving of their two threads (bounded by `LOOM_MAX_PREEMPTIONS`).
//!
//! Run with `cargo xtask loom core`.
#![cfg(loom)]

use std::time::Duration;

use patterns_core::sync::atomic::{AtomicUsize, Ordering};
use patterns_core::sync::{thread, Arc};
use patterns_core::{CancelReason, CancelToken, Clock, ManualClock};

fn counter() -> (Arc<AtomicUsize>, impl FnOnce(CancelReason) + Send + 'static) {
    let count = Arc::new(AtomicUsize::new(0));
    let bump = {
        let count = Arc::clone(&count);
        move |_| {
            count.fetch_add(1, Ordering::SeqCst);
        }
    };
    (count, bump)
}

#[test]
fn cancel_racing_wait_wakes_the_waiter() {
    loom::model(|| {
        let token = CancelToken::new();
        let waiter = {
            let token = token.clone();
            thread::spawn(move || token.wait())
        };
        token.cancel();
        assert_eq!(waiter.join().unwrap(), CancelReason::Cancelled);
    });
}

#[test]
fn parent_cancel_racing_wait_on_a_child_wakes_the_waiter() {
    loom::model(|| {
        let parent = CancelToken::new();
        let child = parent.child();
        let waiter = thread::spawn(move || child.wait());
        parent.cancel();
        assert_eq!(waiter.join().unwrap(), CancelReason::Cancelled);
    });
}

#[test]
fn child_creation_racing_parent_cancel_yields_a_cancelled_child() {
    loom::model(|| {
        let parent = CancelToken::new();
        let maker = {
            let parent = parent.clone();
            thread::spawn(move || parent.child())
        };
        parent.cancel();
        let child = maker.join().unwrap();
        assert_eq!(child.reason(), Some(CancelReason::Cancelled));
        assert_eq!(parent.listeners(), 0);
    });
}

#[test]
fn child_drop_racing_parent_cancel_leaves_nothing_behind() {
    loom::model(|| {
        let parent = CancelToken::new();
        let child = parent.child();
        let grandchild = child.child();
        let dropper = thread::spawn(move || {
            drop(child);
            drop(grandchild);
        });
        parent.cancel();
        dropper.join().unwrap();
        // loom also fails the model if any node leaked.
        assert_eq!(parent.listeners(), 0);
    });
}

#[test]
fn registration_racing_cancel_runs_the_callback_exactly_once() {
    loom::model(|| {
        let token = CancelToken::new();
        let (ran, callback) = counter();
        let registrar = {
            let token = token.clone();
            thread::spawn(move || token.on_cancel(callback))
        };
        token.cancel();
        let registration = registrar.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(!registration.unregister());
    });
}

#[test]
fn unregister_racing_cancel_runs_the_callback_at_most_once() {
    loom::model(|| {
        let token = CancelToken::new();
        let (ran, callback) = counter();
        let registration = token.on_cancel(callback);
        let unregistrar = thread::spawn(move || registration.unregister());
        token.cancel();
        let removed = unregistrar.join().unwrap();
        let expected = if removed { 0 } else { 1 };
        assert_eq!(ran.load(Ordering::SeqCst), expected);
    });
}

#[test]
fn manual_clock_advance_racing_a_sleeper_wakes_it() {
    loom::model(|| {
        let clock = ManualClock::new();
        let deadline = clock.now() + Duration::from_secs(1);
        let sleeper = {
            let clock = clock.clone();
            thread::spawn(move || clock.sleep_until(deadline))
        };
        clock.advance(Duration::from_secs(1));
        sleeper.join().unwrap();
        assert_eq!(clock.sleepers(), 0);
    });
}
