//! The adaptive limit: AIMD and the gradient moving the limit from what permits report,
//! convergence on a simulated service, blocking waits, cancellation and bad settings.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{sleepers, PATIENCE};
use patterns_core::{CancelToken, ManualClock};
use rate_limit::{AcquireError, AdaptiveLimit, AdaptivePermit, Aimd, Gradient};
use rate_limit::{Algorithm, ConfigError};

/// Waits until `n` calls wait on `limit`.
fn waiting(limit: &AdaptiveLimit, n: usize) {
    let deadline = Instant::now() + PATIENCE;
    while limit.waiting() < n {
        assert!(Instant::now() < deadline, "no call queued");
        std::thread::yield_now();
    }
}

fn on_manual(algorithm: impl Into<Algorithm>) -> (AdaptiveLimit, ManualClock) {
    let clock = ManualClock::new();
    let limit = AdaptiveLimit::with_clock(algorithm, clock.clone()).unwrap();
    (limit, clock)
}

/// Every permit the limit has room for now.
fn fill(limit: &AdaptiveLimit) -> Vec<AdaptivePermit> {
    std::iter::from_fn(|| limit.try_acquire()).collect()
}

/// One round of calls that take `latency` each and succeed, as many as the limit
/// admits: returns how many there were.
fn round(limit: &AdaptiveLimit, clock: &ManualClock, latency: impl Fn(usize) -> Duration) -> usize {
    let permits = fill(limit);
    let calls = permits.len();
    clock.advance(latency(calls));
    permits.into_iter().for_each(AdaptivePermit::success);
    calls
}

/// A service that answers in 10 ms while at most `capacity` calls are in flight, and
/// queues beyond that: `n` calls take `10 ms × n / capacity`.
fn service(capacity: usize) -> impl Fn(usize) -> Duration {
    move |in_flight| {
        let base = 10_000_000;
        let nanos = if in_flight <= capacity {
            base
        } else {
            base * in_flight as u64 / capacity as u64
        };
        Duration::from_nanos(nanos)
    }
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn aimd_grows_by_one_per_window_of_successes_with_the_limit_in_use() {
    let (limit, clock) = on_manual(Aimd::default().initial_limit(4));
    // Three of a window of four: not yet.
    let mut permits = fill(&limit);
    assert_eq!(permits.len(), 4);
    let last = permits.pop().unwrap();
    clock.advance(MS);
    permits.into_iter().for_each(AdaptivePermit::success);
    assert_eq!(limit.limit(), 4);
    last.success();
    assert_eq!(limit.limit(), 5);
    for expected in 6..=10 {
        assert_eq!(round(&limit, &clock, |_| MS), expected - 1);
        assert_eq!(limit.limit(), expected);
    }
    assert_eq!(limit.in_flight(), 0);
}

#[test]
fn aimd_does_not_grow_when_the_limit_is_underused() {
    let (limit, clock) = on_manual(Aimd::default().initial_limit(10));
    for _ in 0..1000 {
        // Four in flight at most, of ten: under half.
        let permits: Vec<_> = (0..4).map(|_| limit.try_acquire().unwrap()).collect();
        clock.advance(MS);
        permits.into_iter().for_each(AdaptivePermit::success);
    }
    assert_eq!(limit.limit(), 10);
    // Five of ten in flight, steadily, is in use: a window of ten adds one.
    let mut permits: VecDeque<_> = (0..5).map(|_| limit.try_acquire().unwrap()).collect();
    for _ in 0..10 {
        permits.pop_front().unwrap().success();
        permits.push_back(limit.try_acquire().unwrap());
    }
    assert_eq!(limit.limit(), 11);
}

#[test]
fn aimd_backs_off_on_a_drop_once_per_round_down_to_the_minimum() {
    let aimd = Aimd::default()
        .initial_limit(16)
        .min_limit(3)
        .backoff_ratio(0.5);
    let (limit, _clock) = on_manual(aimd);
    // A whole round fails together: one cut.
    fill(&limit).into_iter().for_each(AdaptivePermit::dropped);
    assert_eq!(limit.limit(), 8);
    // A call begun after the cut cuts again; one begun before the latest cut does not.
    let before = limit.try_acquire().unwrap();
    limit.try_acquire().unwrap().dropped();
    assert_eq!(limit.limit(), 4);
    before.dropped();
    assert_eq!(limit.limit(), 4);
    limit.try_acquire().unwrap().dropped();
    assert_eq!(limit.limit(), 3, "⌊4 × 0.5⌋ is 2, below the minimum");
    limit.try_acquire().unwrap().dropped();
    assert_eq!(limit.limit(), 3);
    assert_eq!(limit.in_flight(), 0);
}

#[test]
fn aimd_backs_off_on_a_latency_above_its_timeout() {
    let aimd = Aimd::default()
        .initial_limit(10)
        .backoff_ratio(0.9)
        .timeout(100 * MS);
    let (limit, clock) = on_manual(aimd);
    let permit = limit.try_acquire().unwrap();
    clock.advance(100 * MS);
    permit.success(); // at the timeout: not above it
    assert_eq!(limit.limit(), 10);
    let permit = limit.try_acquire().unwrap();
    clock.advance(101 * MS);
    permit.success();
    assert_eq!(limit.limit(), 9);
    // A latency the caller measured counts the same way.
    limit
        .try_acquire()
        .unwrap()
        .success_with_latency(Duration::from_secs(1));
    assert_eq!(limit.limit(), 8);
    limit.try_acquire().unwrap().success_with_latency(MS);
    assert_eq!(limit.limit(), 8);
}

#[test]
fn aimd_stays_within_its_bounds() {
    let aimd = Aimd::default()
        .initial_limit(4)
        .min_limit(2)
        .max_limit(6)
        .increase(3)
        .backoff_ratio(0.1);
    let (limit, clock) = on_manual(aimd);
    for _ in 0..20 {
        round(&limit, &clock, |_| MS);
        assert!((2..=6).contains(&limit.limit()), "{}", limit.limit());
    }
    assert_eq!(limit.limit(), 6);
    assert_eq!(fill(&limit).len(), 6, "the limit is what is admitted");
    for _ in 0..5 {
        limit.try_acquire().unwrap().dropped();
        assert!((2..=6).contains(&limit.limit()), "{}", limit.limit());
    }
    assert_eq!(limit.limit(), 2);
}

/// The gradient on a service that takes 20 calls at once before it queues: from a low
/// start it climbs, then settles where the latency is about `tolerance` times the
/// baseline (about 1.5 × 20 + 4), and stays, for as long as the run goes on.
#[test]
fn gradient_converges_on_a_simulated_latency_curve() {
    for capacity in [20, 50] {
        let (limit, clock) = on_manual(Gradient::default().initial_limit(5).max_limit(1000));
        let latency = service(capacity);
        for _ in 0..150 {
            round(&limit, &clock, &latency);
        }
        let band = capacity / 2..=capacity * 2;
        let (mut low, mut high) = (usize::MAX, 0);
        for _ in 0..2000 {
            let calls = round(&limit, &clock, &latency);
            assert!(band.contains(&calls), "{calls} calls, capacity {capacity}");
            assert!(band.contains(&limit.limit()), "limit {}", limit.limit());
            (low, high) = (low.min(calls), high.max(calls));
        }
        // Settled, not wandering through the band.
        assert!(high - low <= capacity / 10 + 1, "between {low} and {high}");
        assert!(low > capacity, "{low}: queues within tolerance");
    }
}

/// AIMD on the same service, with calls slower than 15 ms counted as drops: a sawtooth
/// just below where the latency passes the timeout (30 calls).
#[test]
fn aimd_converges_on_the_same_curve_with_drops_above_its_timeout() {
    let aimd = Aimd::default()
        .initial_limit(5)
        .max_limit(1000)
        .timeout(15 * MS);
    let (limit, clock) = on_manual(aimd);
    let latency = service(20);
    for _ in 0..100 {
        round(&limit, &clock, &latency);
    }
    let (mut low, mut high) = (usize::MAX, 0);
    for _ in 0..2000 {
        let calls = round(&limit, &clock, &latency);
        assert!((10..=40).contains(&calls), "{calls} calls");
        (low, high) = (low.min(calls), high.max(calls));
    }
    assert!(high > 30, "it probes past the timeout ({high})");
    assert!(low >= 27, "one cut per round, of 10% ({low})");
}

#[test]
fn gradient_backs_off_on_a_drop_and_on_queueing() {
    let (limit, clock) = on_manual(Gradient::default().initial_limit(40));
    // A first window at 10 ms sets the baseline (and grows the limit a little).
    round(&limit, &clock, |_| 10 * MS);
    assert_eq!(limit.limit(), 40); // 40.8
                                   // Four times the baseline: the limit moves a fifth of the way to half itself.
    round(&limit, &clock, |_| 40 * MS);
    assert_eq!(limit.limit(), 37); // 40.8 × 0.9 + 0.8 = 37.52
    limit.try_acquire().unwrap().dropped();
    assert_eq!(limit.limit(), 33); // × 0.9
                                   // A call that was out when the limit was cut does not cut again.
    let out = limit.try_acquire().unwrap();
    limit.try_acquire().unwrap().dropped();
    assert_eq!(limit.limit(), 30);
    out.dropped();
    assert_eq!(limit.limit(), 30);
}

#[test]
fn ignored_and_unrecorded_permits_move_nothing() {
    let (limit, clock) = on_manual(Aimd::default().initial_limit(2).timeout(MS));
    for _ in 0..10 {
        let (a, b) = (limit.try_acquire().unwrap(), limit.try_acquire().unwrap());
        assert!(limit.try_acquire().is_none());
        assert_eq!((limit.in_flight(), limit.available()), (2, 0));
        clock.advance(Duration::from_secs(1)); // far above the timeout
        a.ignore();
        drop(b);
        assert_eq!((limit.in_flight(), limit.available()), (0, 2));
    }
    assert_eq!(limit.limit(), 2);
}

#[test]
fn a_fallen_limit_admits_nothing_until_in_flight_drops_below_it() {
    let (limit, _clock) = on_manual(Aimd::default().initial_limit(4).backoff_ratio(0.5));
    let mut permits = fill(&limit);
    permits.pop().unwrap().dropped();
    assert_eq!(
        (limit.limit(), limit.in_flight(), limit.available()),
        (2, 3, 0)
    );
    assert!(limit.try_acquire().is_none());
    permits.pop().unwrap().ignore();
    assert!(limit.try_acquire().is_none(), "two in flight of two");
    permits.pop().unwrap().ignore();
    assert_eq!(limit.available(), 1);
    let again = limit.try_acquire().unwrap();
    assert!(limit.try_acquire().is_none());
    drop((again, permits));
}

#[test]
fn a_blocking_acquire_wakes_when_a_permit_is_released() {
    let limit = AdaptiveLimit::new(Aimd::default().initial_limit(1)).unwrap();
    let held = limit.try_acquire().unwrap();
    let (got_tx, got) = std::sync::mpsc::channel();
    let waiter = {
        let limit = limit.clone();
        std::thread::spawn(move || {
            let permit = limit.acquire();
            got_tx.send(()).unwrap();
            permit.ignore();
        })
    };
    waiting(&limit, 1);
    assert!(
        limit.try_acquire().is_none(),
        "a try does not jump the queue"
    );
    held.ignore();
    got.recv_timeout(PATIENCE)
        .expect("the release woke the waiter");
    waiter.join().unwrap();
    assert_eq!((limit.in_flight(), limit.waiting()), (0, 0));
}

/// A limit that rises by two on one release: both waiters get in, though only one
/// permit came back (the first woken, leaving the queue, wakes the next).
#[test]
fn a_rising_limit_wakes_as_many_waiters_as_it_has_room_for() {
    let limit = AdaptiveLimit::new(Aimd::default().initial_limit(1).increase(2)).unwrap();
    let held = limit.try_acquire().unwrap();
    let (got_tx, got) = std::sync::mpsc::channel();
    let waiters: Vec<_> = (0..2)
        .map(|n| {
            let (shared, got_tx) = (limit.clone(), got_tx.clone());
            let waiter = std::thread::spawn(move || {
                let permit = shared.acquire();
                got_tx.send(()).unwrap();
                permit
            });
            waiting(&limit, n + 1);
            waiter
        })
        .collect();
    held.success();
    assert_eq!(limit.limit(), 3);
    for _ in 0..2 {
        got.recv_timeout(PATIENCE).expect("a waiter got in");
    }
    let permits: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(limit.in_flight(), 2);
    drop(permits);
}

#[test]
fn a_cancelled_waiter_returns_cancelled_and_the_next_gets_the_permit() {
    let limit = AdaptiveLimit::new(Aimd::default().initial_limit(1)).unwrap();
    let held = limit.try_acquire().unwrap();
    let token = CancelToken::new();
    let cancelled = {
        let (limit, token) = (limit.clone(), token.clone());
        std::thread::spawn(move || limit.acquire_cancellable(&token).map(drop))
    };
    waiting(&limit, 1);
    let next = {
        let limit = limit.clone();
        std::thread::spawn(move || limit.acquire().ignore())
    };
    waiting(&limit, 2);
    token.cancel();
    assert_eq!(cancelled.join().unwrap(), Err(AcquireError::Cancelled));
    held.ignore();
    next.join().unwrap();
    assert_eq!(limit.in_flight(), 0);
    assert_eq!(
        limit.acquire_cancellable(&token).map(drop),
        Err(AcquireError::Cancelled),
        "a fired token refuses even with room"
    );
}

#[test]
fn a_timed_wait_ends_at_its_deadline_on_the_clock() {
    let (limit, clock) = on_manual(Aimd::default().initial_limit(1));
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
    held.ignore();
    assert!(limit.acquire_timeout(Duration::ZERO).is_ok());
}

#[test]
fn bad_settings_are_config_errors() {
    let aimd = |aimd: Aimd| AdaptiveLimit::new(aimd).unwrap_err();
    let gradient = |gradient: Gradient| AdaptiveLimit::new(gradient).unwrap_err();
    let out_of_range = |setting, expected| ConfigError::OutOfRange { setting, expected };

    assert_eq!(aimd(Aimd::default().min_limit(0)), ConfigError::ZeroLimit);
    assert_eq!(
        gradient(Gradient::default().min_limit(0)),
        ConfigError::ZeroLimit
    );
    let range = aimd(Aimd::default().min_limit(30).max_limit(10));
    assert_eq!(range, ConfigError::LimitRange { min: 30, max: 10 });
    assert_eq!(
        range.to_string(),
        "the minimum limit 30 is above the maximum 10"
    );
    let initial = gradient(Gradient::default().initial_limit(300));
    assert_eq!(
        initial,
        ConfigError::InitialLimit {
            initial: 300,
            min: 1,
            max: 200
        }
    );
    assert_eq!(
        initial.to_string(),
        "the initial limit 300 is outside the range 1..=200"
    );
    assert!(matches!(
        aimd(Aimd::default().initial_limit(0)),
        ConfigError::InitialLimit { initial: 0, .. }
    ));

    for ratio in [0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
        assert_eq!(
            aimd(Aimd::default().backoff_ratio(ratio)),
            out_of_range("backoff_ratio", "above 0 and below 1"),
            "{ratio}"
        );
    }
    assert_eq!(
        aimd(Aimd::default().increase(0)),
        out_of_range("increase", "at least 1")
    );
    let timeout = aimd(Aimd::default().timeout(Duration::ZERO));
    assert_eq!(timeout.to_string(), "timeout must be above zero");

    for smoothing in [0.0, 1.01, f64::NAN, f64::NEG_INFINITY] {
        assert_eq!(
            gradient(Gradient::default().smoothing(smoothing)),
            out_of_range("smoothing", "above 0 and at most 1"),
            "{smoothing}"
        );
    }
    for tolerance in [0.99, f64::INFINITY, f64::NAN] {
        let error = gradient(Gradient::default().tolerance(tolerance));
        assert_eq!(error.to_string(), "tolerance must be finite and at least 1");
    }
    assert_eq!(
        gradient(Gradient::default().queue_size(0)),
        out_of_range("queue_size", "at least 1")
    );
    assert_eq!(
        gradient(Gradient::default().long_window(0)),
        out_of_range("long_window", "at least 1")
    );

    // The edges that are allowed.
    AdaptiveLimit::new(
        Aimd::default()
            .backoff_ratio(0.01)
            .min_limit(1)
            .max_limit(1)
            .initial_limit(1),
    )
    .unwrap();
    AdaptiveLimit::new(Gradient::default().smoothing(1.0).tolerance(1.0)).unwrap();
}

/// Threads taking permits every way and reporting every outcome: never more in flight
/// than the maximum, the limit always within its bounds, and everything given back.
#[test]
fn stress_never_more_in_flight_than_the_maximum() {
    let aimd = Aimd::default()
        .initial_limit(3)
        .min_limit(2)
        .max_limit(5)
        .timeout(Duration::from_secs(60));
    let limit = AdaptiveLimit::new(aimd).unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (limit, in_flight, most) =
                (limit.clone(), Arc::clone(&in_flight), Arc::clone(&most));
            std::thread::spawn(move || {
                for round in 0..500 {
                    let permit = match (i + round) % 3 {
                        0 => Some(limit.acquire()),
                        1 => limit.acquire_timeout(MS).ok(),
                        _ => limit.try_acquire(),
                    };
                    let Some(permit) = permit else { continue };
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    assert!((2..=5).contains(&limit.limit()));
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    match round % 7 {
                        0 => permit.dropped(),
                        1 => permit.ignore(),
                        2 => drop(permit),
                        _ => permit.success(),
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert!(most.load(Ordering::SeqCst) <= 5);
    assert_eq!((limit.in_flight(), limit.waiting()), (0, 0));
    assert!((2..=5).contains(&limit.limit()));
}

#[test]
fn debug_shows_the_algorithm_and_the_limit() {
    let limit = AdaptiveLimit::new(Gradient::default()).unwrap();
    let permit = limit.try_acquire().unwrap();
    assert_eq!(
        format!("{limit:?}"),
        "AdaptiveLimit { algorithm: \"gradient\", limit: 20, in_flight: 1, .. }"
    );
    assert_eq!(format!("{permit:?}"), "AdaptivePermit { .. }");
}
