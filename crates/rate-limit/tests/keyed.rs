//! The keyed limiter: keys apart, memory within its cap without any cleanup call.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::sleepers;
use patterns_core::{CancelToken, ManualClock};
use rate_limit::{AcquireError, ConfigError, Gcra, Keyed, Rate, RateLimiter};

/// Up to `max_keys` keys, each a burst of 2 refilled one per second.
fn keyed(max_keys: usize) -> (Keyed<u64, Gcra>, ManualClock) {
    let clock = ManualClock::new();
    let make = {
        let clock = clock.clone();
        move || Gcra::with_clock(Rate::per_second(1), 2, clock.clone()).unwrap()
    };
    (Keyed::new(max_keys, make).unwrap(), clock)
}

#[test]
fn each_key_has_its_own_limiter() {
    let (keyed, clock) = keyed(1000);
    keyed.try_acquire_n(&1, 2).unwrap();
    assert!(keyed.try_acquire(&1).is_err());
    assert_eq!(keyed.available(&1), 0);
    assert_eq!(keyed.available(&2), 2, "a key not seen yet starts full");
    keyed.try_acquire(&2).unwrap();
    assert_eq!(keyed.len(), 2);
    clock.advance(Duration::from_secs(1));
    keyed.try_acquire(&1).unwrap();
}

#[test]
fn keys_are_held_within_the_cap_however_many_come_and_without_any_cleanup_call() {
    let (keyed, clock) = keyed(1000);
    assert!(keyed.max_keys() <= 1000);
    for key in 0..100_000 {
        keyed.try_acquire(&key).unwrap();
        assert!(keyed.len() <= keyed.max_keys());
    }
    // Every key was in use (a call taken, not yet back) when it was forgotten.
    assert!(keyed.forced_evictions() > 0);
    let forced = keyed.forced_evictions();
    // Once the keys are full again they are idle, and forgetting them is free.
    clock.advance(Duration::from_secs(2));
    for key in 100_000..200_000 {
        keyed.try_acquire(&key).unwrap();
        assert!(keyed.len() <= keyed.max_keys());
        clock.advance(Duration::from_millis(100));
    }
    assert_eq!(
        keyed.forced_evictions(),
        forced,
        "a full shard forgets its idle keys, never one in use while any is idle"
    );
    let bytes = Keyed::<u64, Gcra>::bytes_per_key();
    assert!(bytes > std::mem::size_of::<Gcra>() + std::mem::size_of::<u64>());
}

#[test]
fn idle_keys_go_before_any_key_in_use() {
    let (keyed, clock) = keyed(16); // one shard of 16
    assert_eq!(keyed.max_keys(), 16);
    for key in 0..15 {
        keyed.try_acquire(&key).unwrap();
    }
    clock.advance(Duration::from_secs(2)); // keys 0..15 are full again: idle
    keyed.try_acquire(&100).unwrap(); // in use, one call of two
    for key in 200..215 {
        keyed.try_acquire_n(&key, 2).unwrap(); // in use, both calls
    }
    assert_eq!(keyed.forced_evictions(), 0);
    assert_eq!(keyed.available(&100), 1, "the key in use kept its state");
    // Now every key is in use: the one closest to full goes, and is counted.
    keyed.try_acquire_n(&300, 2).unwrap();
    assert_eq!(keyed.forced_evictions(), 1);
    assert_eq!(keyed.len(), 16);
    assert_eq!(keyed.available(&100), 2, "key 100 starts over, full");
    assert_eq!(keyed.available(&200), 0, "the others kept their state");
}

#[test]
fn retain_recent_forgets_only_keys_with_nothing_to_remember() {
    let (keyed, clock) = keyed(1000);
    for key in 0..10 {
        keyed.try_acquire(&key).unwrap();
    }
    keyed.try_acquire_n(&10, 2).unwrap();
    assert_eq!(keyed.retain_recent(), 0);
    clock.advance(Duration::from_secs(1)); // keys 0..10 full; key 10 has one back of two
    assert_eq!(keyed.retain_recent(), 10);
    assert_eq!(keyed.len(), 1);
    assert_eq!(keyed.available(&10), 1);
}

#[test]
fn a_key_waited_on_is_not_forgotten_and_its_waiter_is_admitted() {
    let (keyed, clock) = keyed(1000);
    let keyed = Arc::new(keyed);
    keyed.try_acquire_n(&7, 2).unwrap();
    let waiter = {
        let keyed = Arc::clone(&keyed);
        std::thread::spawn(move || keyed.acquire_n(&7, 2))
    };
    sleepers(&clock, 1);
    keyed.try_acquire(&8).unwrap();
    clock.advance(Duration::from_secs(2)); // key 8 is full again: idle
    assert_eq!(keyed.retain_recent(), 1, "key 8 only: key 7 is waited on");
    waiter.join().unwrap().unwrap();
    assert_eq!(
        keyed.available(&7),
        0,
        "the waiter's calls were taken from key 7"
    );
    let token = CancelToken::new();
    token.cancel();
    assert_eq!(
        keyed.acquire_cancellable(&7, &token),
        Err(AcquireError::Cancelled)
    );
    let held = keyed.limiter(&7);
    clock.advance(Duration::from_secs(2));
    assert_eq!(keyed.retain_recent(), 0, "key 7's limiter is held");
    drop(held);
    assert_eq!(keyed.retain_recent(), 1);
    assert!(keyed.is_empty());
}

#[test]
fn threads_on_many_keys_get_exactly_each_key_s_burst() {
    let (keyed, _clock) = keyed(10_000);
    let keyed = Arc::new(keyed);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let keyed = Arc::clone(&keyed);
            std::thread::spawn(move || {
                let mut admitted = vec![0u32; 500];
                for _ in 0..5 {
                    for key in 0..500 {
                        if keyed.try_acquire(&key).is_ok() {
                            admitted[key as usize] += 1;
                        }
                    }
                }
                admitted
            })
        })
        .collect();
    let mut total = vec![0u32; 500];
    for thread in threads {
        for (sum, n) in total.iter_mut().zip(thread.join().unwrap()) {
            *sum += n;
        }
    }
    assert!(total.iter().all(|&n| n == 2), "{total:?}");
    assert_eq!(keyed.forced_evictions(), 0);
}

#[test]
fn a_zero_key_cap_is_a_config_error() {
    let made = Keyed::<u64, Gcra>::new(0, || Gcra::new(Rate::per_second(1), 1).unwrap());
    assert_eq!(made.unwrap_err(), ConfigError::ZeroLimit);
}

/// A limiter someone holds is never forgotten to make room, or the key would run on two:
/// the new key goes in past the cap instead. (Before, a held key was evicted and got
/// twice its rate for as long as the holder used its handle.)
#[test]
fn a_held_limiter_is_never_forgotten() {
    let (keyed, clock) = keyed(1);
    let held = keyed.limiter(&1);
    held.try_acquire().unwrap();
    keyed.try_acquire(&2).unwrap(); // the shard is full, and key 1 is held
    assert_eq!(keyed.len(), 2, "past the cap by the one held");
    let mut admitted = 1;
    for _ in 0..10 {
        clock.advance(Duration::from_secs(1));
        admitted += usize::from(held.try_acquire().is_ok());
        admitted += usize::from(keyed.try_acquire(&1).is_ok());
        let _ = keyed.try_acquire(&2);
        let _ = keyed.try_acquire(&3);
    }
    // A burst of 2 and one a second for 10 s: 12, all from one limiter.
    assert_eq!(admitted, 12);
}
