//! GCRA's admissions, exactly, on the manual clock; and its accuracy on the real one.

mod common;

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{sleepers, PATIENCE};
use patterns_core::{CancelToken, Clock, ManualClock};
use rate_limit::{AcquireError, ConfigError, Gcra, Rate, RateLimiter, TryAcquireError};

fn limiter(per_second: u64, burst: u32) -> (Gcra, ManualClock) {
    let clock = ManualClock::new();
    (
        Gcra::with_clock(Rate::per_second(per_second), burst, clock.clone()).unwrap(),
        clock,
    )
}

#[test]
fn a_new_limiter_admits_its_burst_then_one_per_interval() {
    let (limiter, clock) = limiter(10, 3);
    assert_eq!(limiter.available(), 3);
    for _ in 0..3 {
        limiter.try_acquire().unwrap();
    }
    assert_eq!(limiter.available(), 0);
    assert_eq!(
        limiter.try_acquire().unwrap_err().retry_after(),
        Duration::from_millis(100)
    );
    for _ in 0..5 {
        clock.advance(Duration::from_millis(100));
        limiter.try_acquire().unwrap();
        assert!(limiter.try_acquire().is_err());
    }
}

#[test]
fn retry_after_is_tight_and_inclusive() {
    let (limiter, clock) = limiter(4, 1);
    limiter.try_acquire().unwrap();
    let wait = limiter.try_acquire().unwrap_err().retry_after();
    assert_eq!(wait, Duration::from_millis(250));
    clock.advance(wait - Duration::from_nanos(1));
    assert_eq!(
        limiter.try_acquire().unwrap_err().retry_after(),
        Duration::from_nanos(1)
    );
    clock.advance(Duration::from_nanos(1));
    limiter.try_acquire().unwrap();
}

#[test]
fn after_any_idle_period_the_burst_is_exactly_the_burst() {
    let (limiter, clock) = limiter(100, 5);
    for idle in [
        Duration::from_secs(1),
        Duration::from_secs(3600),
        Duration::from_millis(50),
    ] {
        clock.advance(idle);
        let admitted = (0..20).filter(|_| limiter.try_acquire().is_ok()).count();
        assert_eq!(admitted, 5, "after {idle:?} idle");
        clock.advance(Duration::from_millis(50)); // refills all five
    }
}

#[test]
fn denied_calls_consume_nothing() {
    let (limiter, clock) = limiter(10, 2);
    limiter.try_acquire_n(2).unwrap();
    for _ in 0..100 {
        assert!(limiter.try_acquire().is_err());
    }
    clock.advance(Duration::from_millis(100));
    limiter.try_acquire().unwrap();
}

#[test]
fn n_above_the_burst_is_an_error_and_zero_passes() {
    let (limiter, _clock) = limiter(10, 3);
    assert_eq!(
        limiter.try_acquire_n(4),
        Err(TryAcquireError::InsufficientCapacity {
            requested: 4,
            capacity: 3
        })
    );
    assert_eq!(
        limiter.acquire_n(4),
        Err(AcquireError::InsufficientCapacity {
            requested: 4,
            capacity: 3
        })
    );
    assert_eq!(limiter.available(), 3, "nothing was consumed");
    limiter.try_acquire_n(3).unwrap();
    limiter.try_acquire_n(0).unwrap();
    limiter.acquire_n(0).unwrap();
    assert_eq!(
        TryAcquireError::InsufficientCapacity {
            requested: 4,
            capacity: 3
        }
        .to_string(),
        "4 permits requested, but the burst is 3"
    );
}

#[test]
fn zero_rates_and_bursts_are_config_errors() {
    assert_eq!(
        Gcra::new(Rate::per_second(0), 1).unwrap_err(),
        ConfigError::ZeroRate
    );
    assert_eq!(
        Gcra::new(Rate::per(Duration::ZERO), 1).unwrap_err(),
        ConfigError::ZeroRate
    );
    assert_eq!(
        Gcra::new(Rate::per_second(1), 0).unwrap_err(),
        ConfigError::ZeroBurst
    );
    assert_eq!(
        ConfigError::ZeroBurst.to_string(),
        "the burst must be at least 1"
    );
}

#[test]
fn extreme_rates_saturate_instead_of_overflowing() {
    let clock = ManualClock::new();
    let fast = Gcra::with_clock(Rate::per_second(u64::MAX), u32::MAX, clock.clone()).unwrap();
    fast.try_acquire_n(u32::MAX).unwrap();
    assert!(
        fast.try_acquire().is_err(),
        "a nanosecond per call, and no time passed"
    );
    clock.advance(Duration::from_nanos(1));
    fast.try_acquire().unwrap();
    let slow = Gcra::with_clock(Rate::new(1, Duration::MAX), u32::MAX, clock.clone()).unwrap();
    slow.try_acquire_n(u32::MAX).unwrap();
    assert!(slow.try_acquire().is_err());
    assert!(matches!(
        slow.acquire_timeout(Duration::from_secs(1)),
        Err(AcquireError::Timeout { .. })
    ));
}

/// A clock the test moves by hand, backwards too (a `ManualClock` ignores that).
#[derive(Debug)]
struct Steps(std::sync::Mutex<Instant>);

impl Clock for Steps {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }

    fn park_until(&self, _deadline: Instant) {
        std::thread::yield_now();
    }
}

#[test]
fn a_clock_that_steps_back_gives_no_extra_calls() {
    let start = Instant::now() + Duration::from_secs(10);
    let clock = Arc::new(Steps(std::sync::Mutex::new(start)));
    #[derive(Debug)]
    struct Shared(Arc<Steps>);
    impl Clock for Shared {
        fn now(&self) -> Instant {
            self.0.now()
        }
        fn park_until(&self, deadline: Instant) {
            self.0.park_until(deadline);
        }
    }
    let limiter = Gcra::with_clock(Rate::per_second(1), 1, Shared(Arc::clone(&clock))).unwrap();
    limiter.try_acquire().unwrap();
    *clock.0.lock().unwrap() = start - Duration::from_secs(5); // before the limiter was made
    assert!(limiter.try_acquire().is_err());
    assert_eq!(limiter.available(), 0);
    *clock.0.lock().unwrap() = start + Duration::from_millis(999);
    assert!(limiter.try_acquire().is_err());
    *clock.0.lock().unwrap() = start + Duration::from_secs(1);
    limiter.try_acquire().unwrap();
}

#[test]
fn a_blocking_acquire_wakes_when_its_time_comes() {
    let (limiter, clock) = limiter(10, 1);
    let limiter = Arc::new(limiter);
    limiter.try_acquire().unwrap();
    let waiter = {
        let limiter = Arc::clone(&limiter);
        std::thread::spawn(move || limiter.acquire())
    };
    sleepers(&clock, 1);
    clock.advance(Duration::from_millis(100));
    assert_eq!(waiter.join().unwrap(), Ok(()));
}

#[test]
fn a_timeout_shorter_than_the_wait_fails_at_once_without_consuming() {
    let (limiter, clock) = limiter(10, 1);
    limiter.try_acquire().unwrap();
    assert_eq!(
        limiter.acquire_timeout(Duration::from_millis(99)),
        Err(AcquireError::Timeout {
            needed: Duration::from_millis(100)
        })
    );
    clock.advance(Duration::from_millis(100));
    limiter.try_acquire().unwrap(); // the failed wait set nothing aside
}

#[test]
fn a_cancelled_waiter_returns_and_gives_its_reservation_back() {
    let (limiter, clock) = limiter(10, 2);
    let limiter = Arc::new(limiter);
    limiter.try_acquire_n(2).unwrap();
    let token = CancelToken::new();
    let waiter = {
        let (limiter, token) = (Arc::clone(&limiter), token.clone());
        std::thread::spawn(move || limiter.acquire_n_until(2, None, Some(&token)))
    };
    sleepers(&clock, 1);
    token.cancel();
    assert_eq!(waiter.join().unwrap(), Err(AcquireError::Cancelled));
    clock.advance(Duration::from_millis(100));
    limiter.try_acquire().unwrap(); // the reservation came back
    assert_eq!(
        limiter.acquire_cancellable(&token),
        Err(AcquireError::Cancelled)
    );
}

#[test]
fn a_large_blocking_acquire_is_not_starved_by_small_calls() {
    let (limiter, clock) = limiter(10, 3);
    let limiter = Arc::new(limiter);
    limiter.try_acquire_n(3).unwrap();
    let big = {
        let limiter = Arc::clone(&limiter);
        std::thread::spawn(move || limiter.acquire_n(3))
    };
    sleepers(&clock, 1);
    // The three calls' worth that come back over 300 ms are the big call's: small calls
    // find nothing meanwhile.
    for _ in 0..3 {
        clock.advance(Duration::from_millis(100));
        assert!(limiter.try_acquire().is_err());
    }
    assert_eq!(big.join().unwrap(), Ok(()));
    assert!(limiter.try_acquire().is_err());
    clock.advance(Duration::from_millis(100));
    limiter.try_acquire().unwrap();
}

#[test]
fn waits_are_served_in_the_order_they_began() {
    let (limiter, clock) = limiter(10, 1);
    let limiter = Arc::new(limiter);
    limiter.try_acquire().unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for id in 0..3 {
        let (limiter, order) = (Arc::clone(&limiter), Arc::clone(&order));
        waiters.push(std::thread::spawn(move || {
            limiter.acquire().unwrap();
            order.lock().unwrap().push(id);
        }));
        sleepers(&clock, id + 1); // each waiter reserves before the next starts
    }
    for admitted in 1..=3 {
        clock.advance(Duration::from_millis(100));
        let deadline = Instant::now() + PATIENCE;
        while order.lock().unwrap().len() < admitted {
            assert!(Instant::now() < deadline);
            std::thread::yield_now();
        }
    }
    waiters.into_iter().for_each(|w| w.join().unwrap());
    assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
}

#[test]
fn accurate_on_the_real_clock() {
    common::assert_accurate(
        || Arc::new(Gcra::new(Rate::per_second(1000), 50).unwrap()),
        50,
        50.0,
    );
}

/// A clock whose time moves only when told to, and whose `park_until` blocks until the
/// test opens a gate (a thread `unpark`, as a cancel token's wake-up does, does not end
/// it): lets a test act while a sleeper is known to be asleep.
#[derive(Debug, Clone)]
struct GatedClock {
    inner: Arc<(Mutex<Gate>, Condvar)>,
}

#[derive(Debug)]
struct Gate {
    now: Instant,
    open: bool,
    parked: usize,
}

impl GatedClock {
    fn new() -> Self {
        let gate = Gate {
            now: Instant::now(),
            open: false,
            parked: 0,
        };
        GatedClock {
            inner: Arc::new((Mutex::new(gate), Condvar::new())),
        }
    }

    fn advance(&self, by: Duration) {
        self.inner.0.lock().unwrap().now += by;
    }

    fn open(&self) {
        self.inner.0.lock().unwrap().open = true;
        self.inner.1.notify_all();
    }

    /// Blocks until a thread parks on the clock.
    fn wait_parked(&self) {
        let (lock, parked) = &*self.inner;
        let mut gate = lock.lock().unwrap();
        while gate.parked == 0 {
            gate = parked.wait(gate).unwrap();
        }
    }
}

impl Clock for GatedClock {
    fn now(&self) -> Instant {
        self.inner.0.lock().unwrap().now
    }

    fn park_until(&self, _deadline: Instant) {
        let (lock, changed) = &*self.inner;
        let mut gate = lock.lock().unwrap();
        gate.parked += 1;
        changed.notify_all();
        while !gate.open {
            gate = changed.wait(gate).unwrap();
        }
    }
}

/// A waiter cancelled long after its time came gives back nothing: that capacity came
/// back as refill and was taken since. (Giving back the whole reservation let a burst of
/// 1 admit 2 at one instant; a review found it.)
#[test]
fn a_late_cancel_gives_back_only_what_is_still_ahead() {
    let clock = GatedClock::new();
    let gcra = Arc::new(Gcra::with_clock(Rate::per_second(1), 1, clock.clone()).unwrap());
    gcra.try_acquire().unwrap(); // t = 0: TAT = 1 s
    let token = CancelToken::new();
    let waiter = {
        let (gcra, token) = (Arc::clone(&gcra), token.clone());
        std::thread::spawn(move || gcra.acquire_cancellable(&token))
    };
    clock.wait_parked(); // reserved [1 s, 2 s], TAT = 2 s, asleep until 1 s
    clock.advance(Duration::from_secs(10)); // long past its time
    gcra.try_acquire().unwrap(); // t = 10 s: TAT = 11 s
    token.cancel();
    clock.open();
    let _ = waiter.join().unwrap(); // Cancelled: releases 1 s, TAT = 10 s
    assert!(
        gcra.try_acquire().is_err(),
        "a burst of 1 admitted twice at t = 10 s"
    );
}
