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

/// Two blocking calls on a full window, and the clock moving on: whether each finds room
/// at once, or queues (the first parked on the clock, the second on its turn) and is
/// handed the turn when the first leaves, both are admitted and neither is lost.
#[test]
fn queued_waiters_are_each_admitted_when_the_window_moves_on() {
    loom::model(|| {
        let clock = ManualClock::new();
        let limiter = Arc::new(
            rate_limit::FixedWindow::with_clock(2, Duration::from_secs(1), clock.clone()).unwrap(),
        );
        limiter.try_acquire_n(2).unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                thread::spawn(move || limiter.acquire())
            })
            .collect();
        clock.advance(Duration::from_secs(1));
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), Ok(()));
        }
        assert!(limiter.try_acquire().is_err());
    });
}

/// A permit given back while two calls wait for it: each gets it in turn (the front one
/// woken by the release, the next by the front one leaving), and it ends back in the
/// limit.
#[test]
fn a_released_permit_reaches_every_waiter() {
    loom::model(|| {
        let limit = rate_limit::ConcurrencyLimit::new(1).unwrap();
        let held = limit.try_acquire().unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let limit = limit.clone();
                thread::spawn(move || drop(limit.acquire()))
            })
            .collect();
        drop(held);
        for waiter in waiters {
            waiter.join().unwrap();
        }
        assert_eq!(limit.available(), 1);
    });
}

/// Two threads race for a sharded token bucket's two tokens, one per shard, on a clock
/// that stands still: one asks twice (its second call must gather from the other
/// shard), the other once; exactly two get in, whichever shard each starts from. (Three
/// threads trip a known assertion inside loom, tokio-rs/loom#252.)
#[test]
fn racing_takes_from_a_sharded_bucket_admit_exactly_the_burst() {
    loom::model(|| {
        let clock = ManualClock::new();
        let bucket = rate_limit::TokenBucket::with_clock(Rate::per_second(1), 2, clock)
            .unwrap()
            .with_shards(2);
        let bucket = Arc::new(bucket);
        let racer = {
            let bucket = Arc::clone(&bucket);
            thread::spawn(move || (0..2).filter(|_| bucket.try_acquire().is_ok()).count())
        };
        let mine = usize::from(bucket.try_acquire().is_ok());
        let admitted = mine + racer.join().unwrap();
        assert_eq!(admitted, 2);
        assert_eq!(bucket.available(), 0);
    });
}

/// A call gathering two tokens from two shards races a call taking one: never more than
/// the burst is admitted, and what a refused gather took comes back — admitted plus
/// available is the burst.
#[test]
fn a_refused_gather_gives_back_everything_it_took() {
    loom::model(|| {
        let clock = ManualClock::new();
        let bucket = rate_limit::TokenBucket::with_clock(Rate::per_second(1), 2, clock)
            .unwrap()
            .with_shards(2);
        let bucket = Arc::new(bucket);
        let single = {
            let bucket = Arc::clone(&bucket);
            thread::spawn(move || u64::from(bucket.try_acquire().is_ok()))
        };
        let pair = if bucket.try_acquire_n(2).is_ok() {
            2
        } else {
            0
        };
        let admitted = pair + single.join().unwrap();
        assert!(admitted <= 2, "{admitted} admitted from a burst of 2");
        assert_eq!(admitted + bucket.available(), 2);
    });
}

/// Two threads race for an adaptive limit of one: exactly one gets the permit. Then a
/// call blocks behind the winner's permit, and the winner's success (which also raises
/// the limit) wakes it, whether it had parked yet or not.
#[test]
fn an_adaptive_limit_of_one_admits_one_and_a_release_wakes_the_waiter() {
    loom::model(|| {
        let aimd = rate_limit::Aimd::default().initial_limit(1).max_limit(1);
        let limit = rate_limit::AdaptiveLimit::with_clock(aimd, ManualClock::new()).unwrap();
        let racer = {
            let limit = limit.clone();
            thread::spawn(move || limit.try_acquire())
        };
        let mine = limit.try_acquire();
        let theirs = racer.join().unwrap();
        assert!(
            mine.is_some() ^ theirs.is_some(),
            "exactly one permit of one"
        );
        let held = mine.or(theirs).unwrap();
        let waiter = {
            let limit = limit.clone();
            thread::spawn(move || limit.acquire().ignore())
        };
        held.success();
        waiter.join().unwrap();
        assert_eq!((limit.in_flight(), limit.limit()), (0, 1));
    });
}

/// A call that read the time before another call moved the count on must not roll the
/// count back: a sliding-window counter of one call per second, a call racing the clock
/// across two windows, and then two calls in the new window — at most one of them gets
/// in. (Reading the time before the count's lock let the racing call roll the counter
/// back to its stale window, forgetting the new one's call: both got in.)
#[test]
fn a_stale_time_never_rolls_a_window_back() {
    loom::model(|| {
        let clock = ManualClock::new();
        let limiter =
            rate_limit::SlidingWindowCounter::with_clock(1, Duration::from_secs(1), clock.clone())
                .unwrap();
        let limiter = Arc::new(limiter);
        limiter.try_acquire().unwrap();
        clock.advance(Duration::from_millis(500));
        let racer = {
            let limiter = Arc::clone(&limiter);
            thread::spawn(move || {
                let _ = limiter.try_acquire();
            })
        };
        clock.advance(Duration::from_millis(1500)); // into window 2: nothing to weigh
        let first = limiter.try_acquire().is_ok();
        racer.join().unwrap();
        let second = limiter.try_acquire().is_ok();
        assert!(
            !(first && second),
            "two calls in one window of a limit of one"
        );
    });
}

/// A call gathering from two shards loses the race for one of them and gives back what
/// it took — late, after the clock has run on and the shard it took from has refilled
/// and been taken again. It gives back only what is still ahead, so no more than the
/// burst passes at one instant. (Giving back the whole claim let a burst of 2 admit 3 at
/// one instant; a review found it.)
#[test]
fn a_late_give_back_never_returns_what_refilled_meanwhile() {
    loom::model(|| {
        let clock = ManualClock::new();
        let bucket = rate_limit::TokenBucket::with_clock(Rate::per_second(1), 2, clock.clone())
            .unwrap()
            .with_shards(2);
        let bucket = Arc::new(bucket);
        let gatherer = {
            let bucket = Arc::clone(&bucket);
            thread::spawn(move || bucket.try_acquire_n(2).is_ok())
        };
        let _ = bucket.try_acquire(); // races the gatherer for a shard
        clock.advance(Duration::from_secs(2)); // both shards full again
        let mut at_two = (0..2).filter(|_| bucket.try_acquire().is_ok()).count();
        gatherer.join().unwrap();
        at_two += usize::from(bucket.try_acquire().is_ok());
        assert!(
            at_two <= 2,
            "{at_two} admitted at t = 2 s from a burst of 2"
        );
    });
}
