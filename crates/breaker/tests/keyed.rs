//! Keyed breakers: one per key, within the key cap.

mod common;

use std::time::Duration;

use breaker::{CircuitBreaker, ConfigError, Keyed, State, Window};
use patterns_core::ManualClock;

fn keyed(clock: &ManualClock, max_keys: usize, window: Window) -> Keyed<u32> {
    let clock = clock.clone();
    Keyed::new(max_keys, move |key: &u32| {
        CircuitBreaker::builder()
            .name(format!("host-{key}"))
            .sliding_window(window)
            .minimum_calls(2)
            .stripes(1)
            .clock(clock.clone())
            .build()
            .unwrap()
    })
    .unwrap()
}

#[test]
fn each_key_has_its_own_breaker() {
    let clock = ManualClock::new();
    let hosts = keyed(&clock, 100, Window::Count(2));
    for _ in 0..2 {
        let _ = hosts.call(&1, || Err::<(), _>("down"));
    }
    assert_eq!(hosts.breaker(&1).state(), State::Open);
    assert_eq!(hosts.breaker(&1).name(), "host-1");
    assert_eq!(hosts.call(&2, || Ok::<_, ()>(2)), Ok(2));
    assert_eq!(hosts.call_with_fallback(&1, || Ok::<_, ()>(1), |_| 0), 0);
    assert_eq!(hosts.len(), 2);
}

#[test]
fn idle_breakers_make_room_by_themselves() {
    let clock = ManualClock::new();
    let hosts = keyed(&clock, 16, Window::Time(Duration::from_secs(10)));
    for key in 0..200 {
        hosts.call(&key, || Ok::<_, ()>(())).unwrap();
        assert!(hosts.len() <= hosts.max_keys());
        clock.advance(Duration::from_secs(10)); // its window empties
    }
    assert_eq!(hosts.forced_evictions(), 0);
    let held = hosts.len();
    assert_eq!(hosts.evict_idle(), held);
    assert!(hosts.is_empty());
}

#[test]
fn a_full_shard_forgets_the_cleanest_breaker_first() {
    let clock = ManualClock::new();
    let hosts = keyed(&clock, 2, Window::Count(10));
    let _ = hosts.call(&1, || Err::<(), _>("down")); // key 1 has a failure
    hosts.call(&2, || Ok::<_, ()>(())).unwrap(); // key 2 only a success
    hosts.call(&3, || Ok::<_, ()>(())).unwrap(); // no room: 2 goes, not 1
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts.forced_evictions(), 1);
    assert_eq!(
        hosts.breaker(&1).metrics().failed_calls,
        1,
        "key 1 was kept"
    );
}

#[test]
fn a_breaker_in_use_is_not_idle() {
    let clock = ManualClock::new();
    let hosts = keyed(&clock, 16, Window::Time(Duration::from_secs(1)));
    let held = hosts.breaker(&7);
    assert_eq!(hosts.evict_idle(), 0, "a caller holds it");
    drop(held);
    assert_eq!(hosts.evict_idle(), 1);
}

#[test]
fn memory_per_key_is_reported() {
    let clock = ManualClock::new();
    let hosts = keyed(&clock, 16, Window::Count(100));
    let per_key = Keyed::<u32>::entry_bytes() + hosts.breaker(&1).memory_bytes();
    assert!(per_key > 100 && per_key < 2_000, "{per_key} bytes a key");
    assert!(matches!(
        Keyed::<u32>::new(0, |_| CircuitBreaker::builder().build().unwrap()),
        Err(ConfigError::Zero {
            setting: "max_keys"
        })
    ));
}

/// Pins that nothing is forgotten while fewer than `max_keys` keys are held, however the
/// keys hash: 700 keys, each with a failure in its window (so none is idle), under a cap
/// of 1,000. A review found per-shard caps (`max_keys / shards`, 31 a shard here) that
/// hash skew filled at about 70% of `max_keys`, forcing evictions.
#[test]
fn no_forced_evictions_below_max_keys() {
    let clock = ManualClock::new();
    let hosts = keyed(&clock, 1_000, Window::Count(10));
    for key in 0..700 {
        let _ = hosts.call(&key, || Err::<(), _>("down"));
    }
    assert_eq!(hosts.len(), 700);
    assert_eq!(hosts.forced_evictions(), 0);
    assert_eq!(hosts.max_keys(), 1_000);
}

/// Pins that a breaker a caller holds is never forgotten, even past the cap: forgetting
/// it would give its key a second breaker (split state, two half-open episodes at once).
/// The new key is held beyond `max_keys` instead, and the next arrival, once the
/// handles are gone, brings the count back to the cap. (A review found that a forced
/// eviction, when no breaker was unused, removed one that was in use.)
#[test]
fn a_breaker_in_use_is_never_evicted() {
    let clock = ManualClock::new();
    let hosts = keyed(&clock, 2, Window::Count(10));
    let one = hosts.breaker(&1);
    let two = hosts.breaker(&2);
    let _ = one.call(|| Err::<(), _>("down"));
    let _ = one.call(|| Err::<(), _>("down")); // key 1 opens
    hosts.call(&3, || Ok::<_, ()>(())).unwrap(); // no unused breaker: held past the cap
    assert_eq!(hosts.len(), 3);
    assert_eq!(hosts.forced_evictions(), 0);
    assert_eq!(
        hosts.breaker(&1).state(),
        State::Open,
        "key 1 kept its breaker"
    );
    let _ = two.call(|| Err::<(), _>("down"));
    assert_eq!(
        hosts.breaker(&2).metrics().failed_calls,
        1,
        "key 2 kept its breaker"
    );
    drop((one, two));
    hosts.call(&4, || Ok::<_, ()>(())).unwrap();
    assert_eq!(
        hosts.len(),
        3,
        "one unused breaker forgotten for the new key"
    );
    assert_eq!(hosts.forced_evictions(), 1);
    assert_eq!(
        hosts.breaker(&1).state(),
        State::Open,
        "the cleanest went, not key 1"
    );
}
