//! The concurrency limit: permits, waiters in order, timeouts, cancellation.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{sleepers, PATIENCE};
use patterns_core::{CancelToken, ManualClock};
use rate_limit::{AcquireError, ConcurrencyLimit, ConfigError};

/// Waits until `n` calls wait on `limit`.
fn waiting(limit: &ConcurrencyLimit, n: usize) {
    let deadline = Instant::now() + PATIENCE;
    while limit.waiting() < n {
        assert!(Instant::now() < deadline, "no call queued");
        std::thread::yield_now();
    }
}

#[test]
fn permits_come_back_when_dropped() {
    let limit = ConcurrencyLimit::new(2).unwrap();
    let a = limit.try_acquire().unwrap();
    let b = limit.try_acquire().unwrap();
    assert!(limit.try_acquire().is_none());
    assert_eq!(limit.available(), 0);
    drop(a);
    assert_eq!(limit.available(), 1);
    let c = limit.try_acquire().unwrap();
    drop((b, c));
    assert_eq!(limit.available(), 2);
    assert_eq!(limit.limit(), 2);
}

#[test]
fn a_zero_limit_is_a_config_error() {
    assert_eq!(
        ConcurrencyLimit::new(0).unwrap_err(),
        ConfigError::ZeroLimit
    );
    assert_eq!(
        ConfigError::ZeroLimit.to_string(),
        "the limit must be at least 1"
    );
}

#[test]
fn waiters_get_permits_in_the_order_they_came() {
    let limit = ConcurrencyLimit::new(1).unwrap();
    let held = limit.try_acquire().unwrap();
    let (order_tx, order) = mpsc::channel();
    let mut waiters = Vec::new();
    for id in 0..3 {
        let (shared, order_tx) = (limit.clone(), order_tx.clone());
        waiters.push(std::thread::spawn(move || {
            let permit = shared.acquire();
            order_tx.send(id).unwrap();
            drop(permit);
        }));
        waiting(&limit, id + 1);
    }
    assert!(
        limit.try_acquire().is_none(),
        "a try does not jump the queue"
    );
    drop(held);
    let got: Vec<usize> = (0..3)
        .map(|_| order.recv_timeout(PATIENCE).unwrap())
        .collect();
    assert_eq!(got, [0, 1, 2]);
    waiters.into_iter().for_each(|w| w.join().unwrap());
    assert_eq!(limit.available(), 1);
}

#[test]
fn a_timed_wait_ends_at_its_deadline_on_the_clock() {
    let clock = ManualClock::new();
    let limit = ConcurrencyLimit::with_clock(1, clock.clone()).unwrap();
    let held = limit.try_acquire().unwrap();
    let waiter = {
        let limit = limit.clone();
        std::thread::spawn(move || limit.acquire_timeout(Duration::from_secs(5)).map(drop))
    };
    sleepers(&clock, 1);
    clock.advance(Duration::from_secs(5));
    assert!(matches!(
        waiter.join().unwrap(),
        Err(AcquireError::Timeout { .. })
    ));
    assert_eq!(limit.waiting(), 0);
    drop(held);
    assert!(limit.try_acquire().is_some());
}

#[test]
fn a_cancelled_waiter_leaves_and_the_permit_goes_to_the_next() {
    let limit = ConcurrencyLimit::new(1).unwrap();
    let held = limit.try_acquire().unwrap();
    let token = CancelToken::new();
    let cancelled = {
        let (limit, token) = (limit.clone(), token.clone());
        std::thread::spawn(move || limit.acquire_cancellable(&token).map(drop))
    };
    waiting(&limit, 1);
    let next = {
        let limit = limit.clone();
        std::thread::spawn(move || drop(limit.acquire()))
    };
    waiting(&limit, 2);
    token.cancel();
    assert_eq!(cancelled.join().unwrap(), Err(AcquireError::Cancelled));
    drop(held);
    next.join().unwrap();
    assert_eq!(limit.available(), 1);
    assert_eq!(
        limit.acquire_cancellable(&token).map(drop),
        Err(AcquireError::Cancelled)
    );
}

#[test]
fn never_more_in_flight_than_the_limit() {
    let limit = ConcurrencyLimit::new(3).unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (limit, in_flight, most) =
                (limit.clone(), Arc::clone(&in_flight), Arc::clone(&most));
            std::thread::spawn(move || {
                for round in 0..500 {
                    let permit = if (i + round) % 2 == 0 {
                        Some(limit.acquire())
                    } else {
                        limit.try_acquire()
                    };
                    if let Some(permit) = permit {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert!(most.load(Ordering::SeqCst) <= 3);
    assert_eq!(limit.available(), 3);
}
