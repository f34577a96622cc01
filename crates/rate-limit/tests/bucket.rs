//! The token bucket's and the leaky bucket's admissions, exactly, on the manual clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{sleepers, PATIENCE};
use patterns_core::{CancelToken, ManualClock};
use proptest::prelude::*;
use rate_limit::{
    AcquireError, ConfigError, Gcra, LeakyBucket, Rate, RateLimiter, TokenBucket, TryAcquireError,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Ten a second, a burst of 8, in four shards of two.
fn bucket() -> (TokenBucket, ManualClock) {
    let clock = ManualClock::new();
    let bucket = TokenBucket::with_clock(Rate::per_second(10), 8, clock.clone())
        .unwrap()
        .with_shards(4);
    assert_eq!(bucket.shards(), 4);
    (bucket, clock)
}

#[test]
fn a_token_bucket_admits_its_burst_then_one_per_interval_across_its_shards() {
    let (bucket, clock) = bucket();
    assert_eq!(bucket.available(), 8);
    for _ in 0..8 {
        bucket.try_acquire().unwrap();
    }
    assert_eq!(bucket.available(), 0);
    // Every shard is empty; each refills at a quarter of the rate, so together one token
    // is back after one interval, a quarter from each.
    assert_eq!(bucket.try_acquire().unwrap_err().retry_after(), ms(100));
    for _ in 0..10 {
        clock.advance(ms(100));
        bucket.try_acquire().unwrap();
        assert!(bucket.try_acquire().is_err());
    }
}

#[test]
fn a_token_bucket_takes_a_call_larger_than_a_shard_from_several() {
    let (bucket, clock) = bucket();
    bucket.try_acquire_n(5).unwrap(); // two shards emptied, one halved, one full
    assert_eq!(bucket.available(), 3);
    // One token short. The full shard cannot gain; the other three gain three quarters
    // of a token per 100 ms between them, so the token takes 133⅓ ms, where an exact
    // bucket would say 100 ms.
    let Err(TryAcquireError::Denied(denied)) = bucket.try_acquire_n(4) else {
        panic!("four tokens are not there");
    };
    assert_eq!(denied.retry_after(), Duration::from_nanos(133_333_334));
    assert_eq!(
        bucket.available(),
        3,
        "a refused gather gave everything back"
    );
    clock.advance(denied.retry_after());
    bucket.try_acquire_n(4).unwrap();
    clock.advance(Duration::from_secs(1));
    bucket.try_acquire_n(8).unwrap();
}

#[test]
fn a_token_bucket_s_retry_after_is_tight_and_inclusive_when_shards_differ() {
    let (bucket, clock) = bucket();
    bucket.try_acquire_n(8).unwrap();
    clock.advance(ms(150)); // 1.5 tokens, spread over four shards
    bucket.try_acquire().unwrap();
    // Half a token is left; the other half comes back in 50 ms.
    let wait = bucket.try_acquire().unwrap_err().retry_after();
    assert_eq!(wait, ms(50));
    clock.advance(wait - Duration::from_nanos(1));
    assert!(bucket.try_acquire().is_err());
    clock.advance(Duration::from_nanos(1));
    bucket.try_acquire().unwrap();
}

/// The documented shortfall: a full shard does not refill, so after one call from a
/// full bucket, one interval later the bucket holds 7¼ tokens where an exact one holds 8.
#[test]
fn a_full_shard_does_not_refill_so_the_bucket_can_hold_less_than_an_exact_one() {
    let (bucket, clock) = bucket();
    bucket.try_acquire().unwrap();
    clock.advance(ms(100));
    assert_eq!(bucket.available(), 7);
    let exact = Gcra::with_clock(Rate::per_second(10), 8, clock.clone()).unwrap();
    assert_eq!(exact.available(), 8);
    clock.advance(ms(300)); // the home shard is full again too
    assert_eq!(bucket.available(), 8);
}

#[test]
fn shard_counts_are_powers_of_two_within_the_burst() {
    let clock = ManualClock::new();
    let make = |burst, shards| {
        TokenBucket::with_clock(Rate::per_second(1), burst, clock.clone())
            .unwrap()
            .with_shards(shards)
            .shards()
    };
    assert_eq!(make(8, 3), 4);
    assert_eq!(make(8, 1000), 8);
    assert_eq!(make(5, 8), 4);
    assert_eq!(make(1000, 1000), 64);
    assert_eq!(make(1, 0), 1);
    assert_eq!(
        TokenBucket::new(Rate::per_second(1), 1).unwrap().shards(),
        1
    );
}

#[test]
fn token_bucket_config_errors_and_capacity() {
    assert_eq!(
        TokenBucket::new(Rate::per_second(0), 1).unwrap_err(),
        ConfigError::ZeroRate
    );
    assert_eq!(
        TokenBucket::new(Rate::per_second(1), 0).unwrap_err(),
        ConfigError::ZeroBurst
    );
    let (bucket, _clock) = bucket();
    assert_eq!(
        bucket.try_acquire_n(9),
        Err(TryAcquireError::InsufficientCapacity {
            requested: 9,
            capacity: 8
        })
    );
    assert_eq!(
        bucket.acquire_n(9),
        Err(AcquireError::InsufficientCapacity {
            requested: 9,
            capacity: 8
        })
    );
    bucket.try_acquire_n(0).unwrap();
    assert_eq!(bucket.available(), 8);
    assert_eq!(bucket.capacity(), 8);
}

#[test]
fn a_token_bucket_s_blocking_acquire_waits_its_turn_and_try_calls_yield_to_it() {
    let (bucket, clock) = bucket();
    let bucket = Arc::new(bucket);
    bucket.try_acquire_n(8).unwrap();
    let waiter = {
        let bucket = Arc::clone(&bucket);
        std::thread::spawn(move || bucket.acquire_n(4))
    };
    sleepers(&clock, 1);
    clock.advance(ms(300)); // three tokens back: not enough for the waiter
    assert!(
        bucket.try_acquire().is_err(),
        "a try call does not take what the waiter waits for"
    );
    assert_eq!(
        bucket.available(),
        0,
        "nothing is available while a call waits"
    );
    clock.advance(ms(100));
    waiter.join().unwrap().unwrap();
    assert!(bucket.try_acquire().is_err());
    clock.advance(ms(100));
    bucket.try_acquire().unwrap();
}

#[test]
fn a_token_bucket_s_timeout_and_cancel_return_at_once() {
    let (bucket, clock) = bucket();
    let bucket = Arc::new(bucket);
    bucket.try_acquire_n(8).unwrap();
    assert_eq!(
        bucket.acquire_timeout(ms(50)),
        Err(AcquireError::Timeout { needed: ms(100) })
    );
    let token = CancelToken::new();
    let waiter = {
        let (bucket, token) = (Arc::clone(&bucket), token.clone());
        std::thread::spawn(move || bucket.acquire_cancellable(&token))
    };
    sleepers(&clock, 1);
    token.cancel();
    assert_eq!(waiter.join().unwrap(), Err(AcquireError::Cancelled));
    clock.advance(ms(100));
    bucket.try_acquire().unwrap();
}

#[test]
fn a_token_bucket_is_accurate_on_the_real_clock() {
    let bucket = || TokenBucket::new(Rate::per_second(1000), 50).unwrap();
    assert!(bucket().shards() > 1, "the check is for a sharded bucket");
    common::assert_accurate(|| Arc::new(bucket()), 50, 50.0);
}

/// What a sequence of steps does: advance the clock by some milliseconds, then ask for
/// some tokens.
fn steps() -> impl Strategy<Value = Vec<(u64, u32)>> {
    prop::collection::vec((0u64..400, 1u32..=8), 1..60)
}

proptest! {
    /// Whatever the sharded bucket admits, an exact bucket of the same burst and rate
    /// would have admitted too: it never lets more through.
    #[test]
    fn a_sharded_bucket_never_admits_more_than_an_exact_one(steps in steps(), shards in 1usize..=8) {
        let clock = ManualClock::new();
        let bucket = TokenBucket::with_clock(Rate::per_second(10), 8, clock.clone())
            .unwrap()
            .with_shards(shards);
        let exact = Gcra::with_clock(Rate::per_second(10), 8, clock.clone()).unwrap();
        for (advance, n) in steps {
            clock.advance(ms(advance));
            if bucket.try_acquire_n(n).is_ok() {
                prop_assert!(exact.try_acquire_n(n).is_ok(), "{n} admitted past the exact bucket");
            }
        }
    }

    /// With one shard the bucket is exact: it admits what GCRA admits, call for call.
    #[test]
    fn one_shard_admits_exactly_what_gcra_does(steps in steps()) {
        let clock = ManualClock::new();
        let bucket = TokenBucket::with_clock(Rate::per_second(10), 8, clock.clone())
            .unwrap()
            .with_shards(1);
        let exact = Gcra::with_clock(Rate::per_second(10), 8, clock.clone()).unwrap();
        for (advance, n) in steps {
            clock.advance(ms(advance));
            prop_assert_eq!(bucket.try_acquire_n(n), exact.try_acquire_n(n));
        }
    }
}

fn leaky() -> (LeakyBucket, ManualClock) {
    let clock = ManualClock::new();
    let bucket = LeakyBucket::with_clock(Rate::per_second(10), clock.clone()).unwrap();
    (bucket, clock)
}

#[test]
fn a_leaky_bucket_lets_no_burst_through_even_after_idling() {
    let (bucket, clock) = leaky();
    for idle in [Duration::ZERO, Duration::from_secs(3600), ms(100)] {
        clock.advance(idle);
        assert_eq!(bucket.available(), u64::from(u32::MAX));
        bucket.try_acquire().unwrap();
        assert_eq!(bucket.available(), 0);
        assert_eq!(bucket.try_acquire().unwrap_err().retry_after(), ms(100));
    }
    clock.advance(ms(99));
    assert!(bucket.try_acquire().is_err());
    clock.advance(ms(1));
    bucket.try_acquire().unwrap();
}

#[test]
fn a_leaky_bucket_s_call_of_n_occupies_n_intervals() {
    let (bucket, clock) = leaky();
    bucket.try_acquire_n(5).unwrap();
    assert_eq!(bucket.try_acquire().unwrap_err().retry_after(), ms(500));
    clock.advance(ms(500));
    bucket.try_acquire_n(u32::MAX).unwrap();
    assert_eq!(bucket.capacity(), u32::MAX);
    assert_eq!(
        LeakyBucket::new(Rate::per_minute(0)).unwrap_err(),
        ConfigError::ZeroRate
    );
}

#[test]
fn a_leaky_bucket_s_waiters_leave_one_interval_apart_in_order() {
    let (bucket, clock) = leaky();
    let bucket = Arc::new(bucket);
    bucket.try_acquire().unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let waiters: Vec<_> = (0..3)
        .map(|id| {
            let (bucket, done) = (Arc::clone(&bucket), done.clone());
            let waiter = std::thread::spawn(move || {
                bucket.acquire().unwrap();
                done.send(id).unwrap();
            });
            sleepers(&clock, id + 1); // each reserves its place before the next starts
            waiter
        })
        .collect();
    for id in 0..3 {
        assert!(finished.try_recv().is_err(), "nobody leaves early");
        clock.advance(ms(100));
        assert_eq!(finished.recv_timeout(PATIENCE).unwrap(), id);
    }
    waiters.into_iter().for_each(|w| w.join().unwrap());
    assert_eq!(
        bucket.acquire_timeout(ms(50)),
        Err(AcquireError::Timeout { needed: ms(100) })
    );
}

/// Slow rates on many shards: the shards' time must not overflow, so the bucket takes
/// fewer shards; a new bucket gives its whole burst, and not a call more. (Before, the
/// sums overflowed: a panic in `available`, and with one call a year and a burst of
/// 1,000 the burst was met from two shards and the other six admitted more.)
#[test]
fn slow_rates_keep_their_burst_exact_on_any_shard_count() {
    let year = Duration::from_secs(365 * 86_400);
    for (rate, burst) in [(Rate::per(Duration::MAX), 8), (Rate::per(year), 1000)] {
        let clock = ManualClock::new();
        let bucket = TokenBucket::with_clock(rate, burst, clock)
            .unwrap()
            .with_shards(8);
        assert_eq!(bucket.available(), u64::from(burst));
        bucket.try_acquire_n(burst).unwrap();
        assert!(bucket.try_acquire().is_err(), "{rate:?}: past the burst");
    }
}

/// A leaky bucket whose cost saturates the time still refuses the next call. (Before,
/// both sides of the check saturated, compared equal, and admitted every call.)
#[test]
fn a_leaky_bucket_with_a_saturating_cost_still_refuses() {
    let year = Duration::from_secs(365 * 86_400);
    for (rate, n) in [(Rate::per(Duration::MAX), 1), (Rate::per(year), 1000)] {
        let clock = ManualClock::new();
        let bucket = LeakyBucket::with_clock(rate, clock).unwrap();
        bucket.try_acquire_n(n).unwrap();
        assert!(
            bucket.try_acquire_n(n).is_err(),
            "{rate:?}: admitted again at once"
        );
    }
}
