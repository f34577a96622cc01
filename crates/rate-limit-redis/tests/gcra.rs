//! `RedisGcra` against a real server: exact admissions, many connections on one key,
//! reservations, deadlines and cancellation, and agreement with the local `Gcra`.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{eventually, RedisServer, PATIENCE};
use patterns_core::{CancelToken, ManualClock};
use rate_limit::{AcquireError, Gcra, Rate, RateLimiter, TryAcquireError};
use rate_limit_redis::{RedisGcra, RedisLimitError};

const HOUR: Duration = Duration::from_secs(3600);

/// The server's clock, in nanoseconds since the Unix epoch.
fn server_time(con: &mut redis::Connection) -> u128 {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(con).unwrap();
    u128::from(secs) * 1_000_000_000 + u128::from(micros) * 1_000
}

fn pttl(con: &mut redis::Connection, key: &[u8]) -> i64 {
    redis::cmd("PTTL").arg(key).query(con).unwrap()
}

#[test]
fn smoke_a_burst_then_denied_with_an_exact_retry_after() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut con = server.connection();
    let limiter = RedisGcra::new(server.client(), "smoke", Rate::per(HOUR), 3).unwrap();
    assert_eq!(limiter.query_available().unwrap(), 3);

    let before = server_time(&mut con);
    for _ in 0..3 {
        limiter.check().unwrap();
    }
    let denied = limiter.check().unwrap_err();
    let tat: String = redis::cmd("GET").arg("smoke").query(&mut con).unwrap();
    let ttl = Duration::from_millis(u64::try_from(pttl(&mut con, b"smoke")).unwrap());
    let after = server_time(&mut con);

    // The three admissions moved TAT three intervals past the first one's time...
    let first = tat.parse::<u128>().unwrap() - 3 * HOUR.as_nanos();
    assert!(
        (before..=after).contains(&first),
        "{before} ≤ {first} ≤ {after}"
    );
    // ...so the fourth waits one interval less the time since then, exactly.
    let retry = denied.retry_after().expect("a denial");
    let elapsed = Duration::from_nanos(u64::try_from(after - before).unwrap());
    assert!(
        retry <= HOUR && retry >= HOUR - elapsed,
        "retry after {retry:?}"
    );
    assert_eq!(limiter.query_available().unwrap(), 0);
    // The key lives as long as TAT runs ahead: about three hours.
    assert!(ttl <= 3 * HOUR && ttl >= 3 * HOUR - elapsed - Duration::from_millis(1));

    // The trait says the same.
    assert!(matches!(
        limiter.try_acquire_n(1),
        Err(TryAcquireError::Denied(denied)) if denied.retry_after() <= HOUR
    ));
    assert_eq!(limiter.available(), 0);
    assert_eq!(limiter.capacity(), 3);
}

/// TAT is kept to the nanosecond across the script's seconds-and-nanoseconds arithmetic,
/// whatever the interval's remainder in seconds: each admission moves it by exactly its
/// cost.
#[test]
fn tat_moves_by_exactly_the_cost() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut con = server.connection();
    for (i, nanos) in [333_333_333, 999_999_999, 1_000_000_001, 123_456_789_012]
        .into_iter()
        .enumerate()
    {
        let key = format!("exact-{i}");
        let interval = Duration::from_nanos(nanos);
        let limiter =
            RedisGcra::new(server.client(), key.clone(), Rate::per(interval), 100).unwrap();
        let tat = |con: &mut redis::Connection| -> u128 {
            let tat: String = redis::cmd("GET").arg(&key).query(con).unwrap();
            tat.parse().unwrap()
        };
        limiter.check().unwrap();
        let mut last = tat(&mut con);
        for n in [1, 2, 3, 1, 5, 7, 1, 1, 9, 2] {
            limiter.check_n(n).unwrap();
            let now = tat(&mut con);
            assert_eq!(
                now - last,
                u128::from(n) * u128::from(nanos),
                "interval {nanos} ns"
            );
            last = now;
        }
    }
}

#[test]
fn retry_after_is_when_the_call_passes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let interval = Duration::from_millis(50);
    let limiter = RedisGcra::new(server.client(), "paced", Rate::per(interval), 1).unwrap();
    limiter.try_acquire().unwrap();
    let denied = limiter.try_acquire().unwrap_err();
    assert!(denied.retry_after() <= interval);
    // Waiting what it says is enough, on any clock that runs at the server's pace.
    let deadline = Instant::now() + denied.retry_after();
    patterns_core::Clock::sleep_until(&patterns_core::SystemClock, deadline);
    limiter.try_acquire().unwrap();
}

#[test]
fn zero_passes_and_more_than_the_burst_never_asks_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let limiter = RedisGcra::new(server.client(), "edges", Rate::per(HOUR), 2).unwrap();
    limiter.check_n(0).unwrap();
    assert!(matches!(
        limiter.check_n(3),
        Err(RedisLimitError::InsufficientCapacity {
            requested: 3,
            capacity: 2
        })
    ));
    assert_eq!(
        limiter.acquire_n(3),
        Err(AcquireError::InsufficientCapacity {
            requested: 3,
            capacity: 2
        })
    );
    let exists: bool = redis::cmd("EXISTS")
        .arg("edges")
        .query(&mut server.connection())
        .unwrap();
    assert!(!exists, "nothing was written");
    limiter.check_n(2).unwrap();
}

/// 4 threads, each with its own client and connection as separate processes would have,
/// make 1,000 attempts each on one key with a burst of 1,000 and a rate so slow (one an
/// hour) that time adds nothing meanwhile: exactly the burst passes.
#[test]
fn mpmc_separate_connections_admit_exactly_the_quota() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let admitted = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let limiter = RedisGcra::new(server.client(), "shared", Rate::per(HOUR), 1000).unwrap();
            let (admitted, start) = (Arc::clone(&admitted), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                for _ in 0..1000 {
                    match limiter.check() {
                        Ok(()) => {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(RedisLimitError::Denied(_)) => {}
                        Err(other) => panic!("{other}"),
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(admitted.load(Ordering::Relaxed), 1000);
}

/// The same through one limiter shared by 4 threads: its pool gives each thread its own
/// connection, and the script still decides one call at a time.
#[test]
fn mpmc_one_shared_limiter_admits_exactly_the_quota() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let limiter = RedisGcra::new(server.client(), "pooled", Rate::per(HOUR), 500).unwrap();
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (limiter, start) = (limiter.clone(), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                (0..400).filter(|_| limiter.try_acquire().is_ok()).count()
            })
        })
        .collect();
    let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(admitted, 500);
    assert_eq!(limiter.failures(), 0);
}

#[test]
fn a_blocking_acquire_reserves_and_sleeps_its_turn() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let interval = Duration::from_millis(60);
    let limiter = RedisGcra::new(server.client(), "blocking", Rate::per(interval), 1).unwrap();
    let began = Instant::now();
    limiter.acquire().unwrap(); // the burst: at once
    limiter.acquire().unwrap();
    // The first call's TAT was set after `began`, and the second sleeps until it passes
    // (within the server's microsecond resolution).
    let waited = began.elapsed();
    assert!(waited >= interval - Duration::from_millis(1), "{waited:?}");
    assert!(waited < PATIENCE);
}

#[test]
fn a_reservation_is_nobody_elses_in_any_process() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let ours = RedisGcra::new(server.client(), "reserved", Rate::per(HOUR), 1).unwrap();
    let theirs = RedisGcra::new(server.client(), "reserved", Rate::per(HOUR), 1).unwrap();
    ours.check().unwrap();
    let token = CancelToken::new();
    let waiter = {
        let (ours, token) = (ours.clone(), token.clone());
        thread::spawn(move || ours.acquire_cancellable(&token))
    };
    // Once the reservation is made TAT runs two intervals ahead.
    let mut con = server.connection();
    eventually("the waiter reserves", || {
        pttl(&mut con, b"reserved") > (HOUR + HOUR / 2).as_millis() as i64
    });
    let denied = theirs.check().unwrap_err().retry_after().unwrap();
    assert!(
        denied > HOUR + HOUR / 2,
        "the other process waits behind it: {denied:?}"
    );

    token.cancel();
    assert_eq!(waiter.join().unwrap(), Err(AcquireError::Cancelled));
    // Given back: one interval ahead again.
    let ttl = pttl(&mut con, b"reserved");
    assert!(ttl <= HOUR.as_millis() as i64, "{ttl} ms");
    let denied = theirs.check().unwrap_err().retry_after().unwrap();
    assert!(denied <= HOUR);
}

#[test]
fn a_wait_past_the_deadline_fails_at_once_reserving_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let limiter = RedisGcra::new(server.client(), "deadline", Rate::per(HOUR), 1).unwrap();
    limiter.check().unwrap();
    let mut con = server.connection();
    let ttl = pttl(&mut con, b"deadline");

    let began = Instant::now();
    let result = limiter.acquire_timeout(Duration::from_secs(5));
    assert!(began.elapsed() < Duration::from_secs(5), "it did not wait");
    match result {
        Err(AcquireError::Timeout { needed }) => assert!(needed <= HOUR && needed > HOUR / 2),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        limiter.wait_n_until(1, Some(Instant::now()), None),
        Err(RedisLimitError::Timeout { .. })
    ));
    assert!(pttl(&mut con, b"deadline") <= ttl, "nothing reserved");
}

#[test]
fn a_wait_within_the_deadline_is_admitted() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let interval = Duration::from_millis(30);
    let limiter = RedisGcra::new(server.client(), "within", Rate::per(interval), 1).unwrap();
    limiter.check().unwrap();
    limiter.acquire_timeout(PATIENCE).unwrap();
    let deadline = Instant::now() + PATIENCE;
    limiter.wait_n_until(1, Some(deadline), None).unwrap();
}

#[test]
fn a_cancelled_token_fails_before_asking() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let limiter = RedisGcra::new(server.client(), "cancelled", Rate::per(HOUR), 1).unwrap();
    let token = CancelToken::new();
    token.cancel();
    assert_eq!(
        limiter.acquire_cancellable(&token),
        Err(AcquireError::Cancelled)
    );
    assert_eq!(limiter.query_available().unwrap(), 1, "nothing consumed");
}

/// The script's decisions are the local `Gcra`'s on the same sequence, where the time
/// between calls does not matter (a rate of one an hour): the same admissions and
/// refusals, and retry_after short of the local one by no more than the time elapsed.
#[test]
fn decisions_match_the_local_gcra() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let remote = RedisGcra::new(server.client(), "twin", Rate::per(HOUR), 8).unwrap();
    let local = Gcra::with_clock(Rate::per(HOUR), 8, ManualClock::new()).unwrap();
    let began = Instant::now();
    for n in [3, 2, 4, 1, 9, 0, 2, 1, 1, 8, 3, 2] {
        let expected = local.try_acquire_n(n);
        let got = remote.try_acquire_n(n);
        match (expected, got) {
            (Ok(()), Ok(())) => {}
            (Err(TryAcquireError::Denied(expected)), Err(TryAcquireError::Denied(got))) => {
                let (expected, got) = (expected.retry_after(), got.retry_after());
                assert!(got <= expected, "n = {n}: {got:?} > {expected:?}");
                assert!(
                    got >= expected.saturating_sub(began.elapsed()),
                    "n = {n}: {got:?} ≪ {expected:?}"
                );
            }
            (expected, got) => assert_eq!(got, expected, "n = {n}"),
        }
        assert_eq!(remote.available(), local.available(), "after n = {n}");
    }
}
