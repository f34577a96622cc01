//! Tests for `CancelToken` across threads: trees, deadlines, waiting and callbacks.
//!
//! Threads are ordered by what they can observe (`listeners()` counts a parked waiter's
//! wake-up callback, `ManualClock::sleepers()` a thread parked on the clock), never by
//! sleeping.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use patterns_core::{CancelReason, CancelToken, Clock, ManualClock};

/// Spins (yielding) until `cond` holds; panics after a generous bound instead of hanging.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        thread::yield_now();
    }
}

#[test]
fn smoke() {
    let token = CancelToken::new();
    assert!(!token.is_cancelled());
    assert_eq!(token.reason(), None);
    assert_eq!(token.check(), Ok(()));
    assert_eq!(token.deadline(), None);
    assert_eq!(token.remaining(), None);
    token.cancel();
    assert!(token.is_cancelled());
    assert_eq!(token.reason(), Some(CancelReason::Cancelled));
    assert_eq!(token.check(), Err(CancelReason::Cancelled));
    token.cancel();
    assert_eq!(token.reason(), Some(CancelReason::Cancelled));
}

#[test]
fn clones_share_one_signal() {
    let a = CancelToken::new();
    let b = a.clone();
    b.cancel();
    assert!(a.is_cancelled());
}

#[test]
fn reasons_display_what_happened() {
    assert_eq!(CancelReason::Cancelled.to_string(), "operation cancelled");
    assert_eq!(
        CancelReason::DeadlineExceeded.to_string(),
        "deadline exceeded"
    );
    let err: Box<dyn std::error::Error> = Box::new(CancelReason::DeadlineExceeded);
    assert_eq!(err.to_string(), "deadline exceeded");
}

#[test]
fn cancelling_a_parent_cancels_every_descendant() {
    let root = CancelToken::new();
    let child = root.child();
    let grandchild = child.child();
    let sibling = root.child();
    root.cancel();
    for token in [&child, &grandchild, &sibling] {
        assert_eq!(token.reason(), Some(CancelReason::Cancelled));
    }
}

#[test]
fn cancelling_a_child_leaves_parent_and_siblings_alone() {
    let root = CancelToken::new();
    let child = root.child();
    let grandchild = child.child();
    let sibling = root.child();
    child.cancel();
    assert!(grandchild.is_cancelled());
    assert!(!root.is_cancelled());
    assert!(!sibling.is_cancelled());
}

#[test]
fn a_child_of_a_fired_parent_is_born_fired_with_its_reason() {
    let clock = ManualClock::new();
    let root = CancelToken::with_clock(clock.clone());
    let timed = root.child_with_timeout(Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    assert_eq!(timed.reason(), Some(CancelReason::DeadlineExceeded));
    assert_eq!(timed.child().reason(), Some(CancelReason::DeadlineExceeded));
    root.cancel();
    assert_eq!(root.child().reason(), Some(CancelReason::Cancelled));
    assert_eq!(root.listeners(), 0);
}

#[test]
fn dropped_children_do_not_accumulate_in_the_parent() {
    let root = CancelToken::new();
    for _ in 0..10_000 {
        let child = root.child();
        let grandchild = child.child();
        let _registration = grandchild.on_cancel(|_| {});
        assert_eq!(root.listeners(), 1);
    }
    assert_eq!(root.listeners(), 0);
}

#[test]
fn a_live_grandchild_keeps_its_dropped_parent_attached() {
    let root = CancelToken::new();
    let grandchild = root.child().child(); // the middle token's handle is gone at once
    assert_eq!(root.listeners(), 1);
    root.cancel();
    assert_eq!(grandchild.reason(), Some(CancelReason::Cancelled));
    drop(grandchild);
    assert_eq!(root.listeners(), 0);
}

#[test]
fn a_registration_keeps_its_token_attached() {
    let root = CancelToken::new();
    let (tx, rx) = mpsc::channel();
    let registration = root
        .child()
        .on_cancel(move |reason| tx.send(reason).unwrap());
    root.cancel();
    assert_eq!(rx.try_recv(), Ok(CancelReason::Cancelled));
    assert!(!registration.unregister());
}

#[test]
fn long_chains_cancel_and_drop_without_recursion() {
    let root = CancelToken::new();
    let mut leaf = root.child();
    for _ in 0..200_000 {
        leaf = leaf.child();
    }
    let probe = leaf.child();
    root.cancel();
    assert!(probe.is_cancelled());
    drop(leaf);
    drop(probe);

    let root = CancelToken::new();
    let mut leaf = root.child();
    for _ in 0..200_000 {
        leaf = leaf.child();
    }
    drop(leaf); // releases 200k links, one after another
    assert_eq!(root.listeners(), 0);
}

#[test]
fn a_past_deadline_reads_as_deadline_exceeded() {
    let token = CancelToken::with_deadline(Instant::now());
    assert_eq!(token.reason(), Some(CancelReason::DeadlineExceeded));
    assert_eq!(token.check(), Err(CancelReason::DeadlineExceeded));
    assert_eq!(token.remaining(), Some(Duration::ZERO));
    let zero = CancelToken::with_timeout(Duration::ZERO);
    assert_eq!(zero.wait(), CancelReason::DeadlineExceeded);
}

#[test]
fn an_unrepresentable_timeout_means_no_deadline() {
    let token = CancelToken::with_timeout(Duration::MAX);
    assert_eq!(token.deadline(), None);
    assert_eq!(token.child_with_timeout(Duration::MAX).deadline(), None);
}

#[test]
fn a_childs_deadline_is_the_earlier_of_its_own_and_its_parents() {
    let clock = ManualClock::new();
    let start = clock.now();
    let root = CancelToken::with_clock(clock.clone());
    let parent = root.child_with_deadline(start + Duration::from_secs(10));
    let later = parent.child_with_deadline(start + Duration::from_secs(20));
    let sooner = parent.child_with_deadline(start + Duration::from_secs(5));
    assert_eq!(later.deadline(), Some(start + Duration::from_secs(10)));
    assert_eq!(sooner.deadline(), Some(start + Duration::from_secs(5)));
    assert_eq!(sooner.remaining(), Some(Duration::from_secs(5)));

    clock.advance(Duration::from_secs(5));
    assert_eq!(sooner.reason(), Some(CancelReason::DeadlineExceeded));
    assert_eq!(parent.reason(), None);
    assert_eq!(later.reason(), None);
    clock.advance(Duration::from_secs(5));
    assert_eq!(later.reason(), Some(CancelReason::DeadlineExceeded));
    assert_eq!(parent.reason(), Some(CancelReason::DeadlineExceeded));
    assert_eq!(root.reason(), None);
}

#[test]
fn a_cancel_before_the_deadline_keeps_its_reason() {
    let clock = ManualClock::new();
    let token = CancelToken::with_clock(clock.clone()).child_with_timeout(Duration::from_secs(1));
    token.cancel();
    clock.advance(Duration::from_secs(2));
    assert_eq!(token.reason(), Some(CancelReason::Cancelled));
}

#[test]
fn the_first_check_past_the_deadline_runs_the_callbacks() {
    let clock = ManualClock::new();
    let token = CancelToken::with_clock(clock.clone()).child_with_timeout(Duration::from_secs(1));
    let (tx, rx) = mpsc::channel();
    let _registration = token.on_cancel(move |reason| tx.send(reason).unwrap());
    clock.advance(Duration::from_secs(1));
    assert!(
        rx.try_recv().is_err(),
        "no check has observed the deadline yet"
    );
    assert!(token.is_cancelled());
    assert_eq!(rx.try_recv(), Ok(CancelReason::DeadlineExceeded));
    assert!(token.is_cancelled());
    assert!(rx.try_recv().is_err(), "the callback ran twice");
}

#[test]
fn wait_wakes_on_cancel() {
    let token = CancelToken::new();
    let waiter = {
        let token = token.clone();
        thread::spawn(move || token.wait())
    };
    wait_for("the waiter to register", || token.listeners() == 1);
    token.cancel();
    assert_eq!(waiter.join().unwrap(), CancelReason::Cancelled);
    assert_eq!(token.listeners(), 0);
}

#[test]
fn wait_on_a_child_wakes_when_the_parent_is_cancelled() {
    let root = CancelToken::new();
    let child = root.child();
    let waiter = {
        let child = child.clone();
        thread::spawn(move || child.wait())
    };
    wait_for("the waiter to register", || child.listeners() == 1);
    root.cancel();
    assert_eq!(waiter.join().unwrap(), CancelReason::Cancelled);
}

#[test]
fn many_waiters_all_wake() {
    const WAITERS: usize = 32;
    let token = CancelToken::new();
    let waiters: Vec<_> = (0..WAITERS)
        .map(|i| {
            // Half wait on the token, half on children of it.
            let token = if i % 2 == 0 {
                token.clone()
            } else {
                token.child()
            };
            thread::spawn(move || token.wait())
        })
        .collect();
    // Registered: 16 wake-ups on the token itself plus 16 children (each with its own).
    wait_for("every waiter to register", || token.listeners() == WAITERS);
    token.cancel();
    for waiter in waiters {
        assert_eq!(waiter.join().unwrap(), CancelReason::Cancelled);
    }
}

#[test]
fn wait_returns_at_the_deadline_on_a_manual_clock() {
    let clock = ManualClock::new();
    let token = CancelToken::with_clock(clock.clone()).child_with_timeout(Duration::from_secs(60));
    let waiter = {
        let token = token.clone();
        thread::spawn(move || token.wait())
    };
    wait_for("the waiter to park on the clock", || clock.sleepers() == 1);
    clock.advance(Duration::from_secs(59));
    assert_eq!(token.reason(), None);
    assert!(
        !waiter.is_finished(),
        "the waiter returned before its deadline"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(waiter.join().unwrap(), CancelReason::DeadlineExceeded);
}

#[test]
fn wait_timeout_times_out_on_a_manual_clock_and_sees_a_cancel() {
    let clock = ManualClock::new();
    let token = CancelToken::with_clock(clock.clone());
    let (tx, rx) = mpsc::channel();
    let waiter = {
        let token = token.clone();
        thread::spawn(move || {
            tx.send(token.wait_timeout(Duration::from_secs(5))).unwrap();
            tx.send(token.wait_timeout(Duration::from_secs(5))).unwrap();
        })
    };
    wait_for("the waiter to park on the clock", || clock.sleepers() == 1);
    clock.advance(Duration::from_secs(5));
    assert_eq!(rx.recv().unwrap(), None);
    wait_for("the waiter to park again", || token.listeners() == 1);
    token.cancel();
    assert_eq!(rx.recv().unwrap(), Some(CancelReason::Cancelled));
    waiter.join().unwrap();
}

#[test]
fn wait_timeout_on_the_system_clock_waits_at_least_the_timeout() {
    let token = CancelToken::new();
    let start = Instant::now();
    assert_eq!(token.wait_timeout(Duration::from_millis(30)), None);
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(token.wait_deadline(Instant::now()), None);
    token.cancel();
    assert_eq!(
        token.wait_timeout(Duration::from_secs(3600)),
        Some(CancelReason::Cancelled)
    );
}

#[test]
fn callbacks_run_once_in_registration_order() {
    let token = CancelToken::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let registrations: Vec<_> = (0..5)
        .map(|i| {
            let log = Arc::clone(&log);
            token.on_cancel(move |_| log.lock().unwrap().push(i))
        })
        .collect();
    assert_eq!(token.listeners(), 5);
    token.cancel();
    token.cancel();
    assert_eq!(*log.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    assert_eq!(token.listeners(), 0);
    drop(registrations);
}

#[test]
fn a_callback_on_a_fired_token_runs_at_once() {
    let token = CancelToken::new();
    token.cancel();
    let ran = Arc::new(AtomicUsize::new(0));
    let registration = {
        let ran = Arc::clone(&ran);
        token.on_cancel(move |reason| {
            assert_eq!(reason, CancelReason::Cancelled);
            ran.fetch_add(1, Ordering::SeqCst);
        })
    };
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(!registration.unregister());
}

#[test]
fn an_unregistered_callback_never_runs() {
    let token = CancelToken::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let counter = |ran: &Arc<AtomicUsize>| {
        let ran = Arc::clone(ran);
        move |_| {
            ran.fetch_add(1, Ordering::SeqCst);
        }
    };
    let unregistered = token.on_cancel(counter(&ran));
    let dropped = token.on_cancel(counter(&ran));
    assert!(unregistered.unregister());
    drop(dropped);
    assert_eq!(token.listeners(), 0);
    token.cancel();
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn a_panicking_callback_does_not_stop_the_others() {
    let token = CancelToken::new();
    let child = token.child();
    let ran = Arc::new(AtomicUsize::new(0));
    let _first = token.on_cancel(|_| panic!("callback failed"));
    let _second = {
        let ran = Arc::clone(&ran);
        token.on_cancel(move |_| {
            ran.fetch_add(1, Ordering::SeqCst);
        })
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| token.cancel()));
    let payload = result.expect_err("the callback's panic resumes from cancel");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"callback failed"));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(child.is_cancelled());
}

#[test]
fn cancel_racing_registrations_runs_each_callback_exactly_once() {
    for _ in 0..200 {
        let token = CancelToken::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let registrar = {
            let token = token.clone();
            let ran = Arc::clone(&ran);
            thread::spawn(move || {
                let mut kept = Vec::new();
                for _ in 0..50 {
                    let ran = Arc::clone(&ran);
                    kept.push(token.on_cancel(move |_| {
                        ran.fetch_add(1, Ordering::SeqCst);
                    }));
                }
                kept
            })
        };
        token.cancel();
        let kept = registrar.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 50);
        drop(kept);
    }
}

#[test]
fn tokens_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CancelToken>();
    assert_send_sync::<patterns_core::CancelRegistration>();
    assert_send_sync::<ManualClock>();
}

#[test]
fn debug_shows_the_state() {
    let token = CancelToken::new();
    let _registration = token.on_cancel(|_| {});
    assert_eq!(
        format!("{token:?}"),
        "CancelToken { reason: None, deadline: None, listeners: 1 }"
    );
}
