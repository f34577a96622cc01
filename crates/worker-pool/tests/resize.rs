//! Tests for resizing a pool at run time (`set_workers`, `set_min_workers`,
//! `set_max_workers`), for a pool that idles out (`min_workers(0)`), and for one that
//! starts its workers as jobs come (`prestart(false)`).
//!
//! Growing is checked at once (the new workers start before the call returns); shrinking
//! by polling `stats().workers` under a generous bound. Idle workers at the minimum sleep
//! with no time limit: only the resize's wake-up can make them retire, so these tests
//! hang (and fail at the bound) without it.

mod common;

use std::time::Duration;

use common::{occupy_all, recv, settled, stats_when, threads_named, unique_name, wait_for};
use patterns_core::CancelToken;
use worker_pool::{ResizeError, WorkerPool};

const HOUR: Duration = Duration::from_secs(3600);

fn fixed(n: usize, priorities: bool) -> WorkerPool {
    WorkerPool::builder()
        .workers(n)
        .priorities(priorities)
        .keep_alive(Duration::ZERO)
        .build()
        .unwrap()
}

#[test]
fn growing_starts_the_workers_before_the_call_returns() {
    let pool = fixed(1, false);
    pool.set_workers(3).unwrap();
    assert_eq!(pool.stats().workers, 3);
    assert_eq!((pool.min_workers(), pool.max_workers()), (3, 3));
    pool.set_max_workers(5).unwrap();
    assert_eq!(pool.stats().workers, 3, "a higher maximum starts no one");
    pool.set_min_workers(4).unwrap();
    assert_eq!(pool.stats().workers, 4);
    let ran = common::execute_counting(&pool, 100);
    pool.shutdown();
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 100);
}

#[test]
fn a_lower_maximum_retires_idle_workers_at_once_fifo_and_priority() {
    for priorities in [false, true] {
        let pool = fixed(4, priorities);
        stats_when(&pool, "four idle workers", |s| s.idle == 4);
        pool.set_workers(1).unwrap();
        stats_when(&pool, "the idle workers to retire", |s| s.workers == 1);
        // The one left still runs jobs.
        assert_eq!(pool.submit(|| 7).unwrap().join(), Ok(7));
    }
}

#[test]
fn a_lower_minimum_lets_idle_workers_retire_after_keep_alive() {
    // The three sleep with no time limit at the minimum of 3: only a wake-up for the
    // new minimum starts their keep-alive (zero here).
    let pool = WorkerPool::builder()
        .min_workers(3)
        .max_workers(3)
        .keep_alive(Duration::ZERO)
        .build()
        .unwrap();
    stats_when(&pool, "three idle workers", |s| s.idle == 3);
    pool.set_min_workers(1).unwrap();
    stats_when(&pool, "two workers to retire", |s| s.workers == 1);
}

#[test]
fn shrinking_never_signals_a_busy_job_and_retires_its_worker_after_it() {
    let pool = fixed(2, false);
    let blockers = occupy_all(&pool, 2);
    pool.set_workers(1).unwrap();
    assert_eq!(pool.stats().workers, 2, "both are busy: no one retires yet");
    for blocker in blockers {
        // `release` checks that the job returned normally.
        blocker.release();
    }
    stats_when(&pool, "one worker to retire after its job", |s| {
        s.workers == 1
    });
    let stats = settled(&pool, 2);
    assert_eq!((stats.completed, stats.cancelled), (2, 0));
}

#[test]
fn bad_sizes_are_refused_with_a_reason_and_change_nothing() {
    let pool = WorkerPool::builder()
        .min_workers(2)
        .max_workers(4)
        .build()
        .unwrap();
    let cases = [
        (pool.set_workers(0), "workers must be at least 1, got 0"),
        (
            pool.set_max_workers(0),
            "max_workers must be at least 1, got 0",
        ),
        (
            pool.set_min_workers(5),
            "min_workers (5) is larger than max_workers (4)",
        ),
        (
            pool.set_max_workers(1),
            "min_workers (2) is larger than max_workers (1)",
        ),
        (
            pool.set_min_workers(0),
            "min_workers can become 0 only on a pool built with min_workers(0)",
        ),
    ];
    for (result, message) in cases {
        assert_eq!(result.unwrap_err().to_string(), message);
    }
    assert_eq!((pool.min_workers(), pool.max_workers()), (2, 4));
    pool.shutdown();
    assert!(matches!(pool.set_workers(3), Err(ResizeError::ShutDown)));
}

#[test]
fn a_pool_built_with_no_minimum_idles_out_and_starts_a_worker_for_the_next_job() {
    let name = unique_name("idle0");
    let pool = WorkerPool::builder()
        .min_workers(0)
        .max_workers(2)
        .keep_alive(Duration::ZERO)
        .name(&name)
        .build()
        .unwrap();
    assert_eq!(pool.stats().workers, 0, "no worker at the start");
    // Each round lets the workers retire, then submits: the submit races the last
    // worker's retirement (or finds none), and must find a worker either way.
    for round in 0..200 {
        assert_eq!(pool.submit(move || round).unwrap().join(), Ok(round));
        if round % 20 == 0 {
            stats_when(&pool, "every worker to retire", |s| s.workers == 0);
            wait_for("the threads to exit", || threads_named(&name).is_empty());
        }
    }
    pool.set_min_workers(1).unwrap();
    assert_eq!(pool.stats().workers, 1);
    pool.set_min_workers(0).unwrap();
    stats_when(&pool, "the last worker to retire", |s| s.workers == 0);
    let stats = settled(&pool, 200);
    assert_eq!(stats.completed, 200);
}

#[test]
fn a_pool_that_does_not_prestart_starts_a_worker_per_job_up_to_the_minimum() {
    let name = unique_name("lazy");
    let pool = WorkerPool::builder()
        .workers(3)
        .prestart(false)
        .keep_alive(HOUR)
        .name(&name)
        .build()
        .unwrap();
    assert_eq!(pool.stats().workers, 0);
    assert!(threads_named(&name).is_empty(), "no thread before a job");
    for expected in 1..=3 {
        // Java's rule: below the minimum each job starts a worker, even with others idle.
        let (done, finished) = std::sync::mpsc::channel();
        pool.execute(move || done.send(()).unwrap()).unwrap();
        recv(&finished, "the job to run");
        assert_eq!(pool.stats().workers, expected);
    }
    assert_eq!(pool.submit(|| 4).unwrap().join(), Ok(4));
    assert_eq!(
        pool.stats().workers,
        3,
        "never above the minimum for jobs that fit"
    );
}

#[test]
fn a_hand_off_pool_that_idles_out_grows_per_job_like_java_s_cached_pool() {
    let pool = WorkerPool::builder()
        .min_workers(0)
        .max_workers(3)
        .queue_capacity(0)
        .keep_alive(HOUR)
        .build()
        .unwrap();
    let gate = CancelToken::new();
    let jobs: Vec<_> = (0..3)
        .map(|n| {
            let gate = gate.clone();
            pool.submit(move || {
                gate.wait();
                n
            })
            .unwrap()
        })
        .collect();
    stats_when(&pool, "three busy workers", |s| s.busy == 3);
    assert_eq!(pool.stats().queued, 0, "a hand-off queue holds nothing");
    assert!(pool.try_submit(|| 9).unwrap_err().is_full());
    gate.cancel();
    let results: Vec<_> = jobs.into_iter().map(|job| job.join().unwrap()).collect();
    assert_eq!(results, [0, 1, 2]);
}
