//! loom models: concurrent admissions never exceed the quota.
#![cfg(loom)]

use std::time::Duration;

use loom::thread;
use patterns_core::sync::Arc;
use patterns_core::ManualClock;
use rate_limit::{Gcra, Rate, RateLimiter};

/// Three threads race for a burst of two on a clock that stands still: exactly two get
/// in, whatever the interleaving of their compare-and-swaps.
#[test]
fn racing_try_acquires_admit_exactly_the_burst() {
    loom::model(|| {
        let clock = ManualClock::new();
        let limiter = Arc::new(Gcra::with_clock(Rate::per_second(1), 2, clock).unwrap());
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                thread::spawn(move || usize::from(limiter.try_acquire().is_ok()))
            })
            .collect();
        let mine = usize::from(limiter.try_acquire().is_ok());
        let admitted = mine + racers.into_iter().map(|r| r.join().unwrap()).sum::<usize>();
        assert_eq!(admitted, 2);
        assert!(limiter.try_acquire().is_err());
    });
}

/// Two threads each take two of a burst of three: exactly one gets in (all-or-nothing),
/// and what is left is one call.
#[test]
fn racing_multi_permit_calls_are_all_or_nothing() {
    loom::model(|| {
        let clock = ManualClock::new();
        let limiter =
            Arc::new(Gcra::with_clock(Rate::per(Duration::from_secs(1)), 3, clock).unwrap());
        let other = {
            let limiter = Arc::clone(&limiter);
            thread::spawn(move || limiter.try_acquire_n(2).is_ok())
        };
        let mine = limiter.try_acquire_n(2).is_ok();
        let theirs = other.join().unwrap();
        assert!(mine ^ theirs, "exactly one of the two calls fits");
        assert_eq!(limiter.available(), 1);
    });
}
