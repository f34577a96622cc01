//! Stress tests: a million tiny jobs over 1, 2, 4 and 8 workers with exact counts, many
//! submitters at once, shutdown racing submitters (every accepted job runs exactly once,
//! every refused one comes back), and no thread outliving its pool.
//!
//! Counts shrink in debug builds; run `cargo test -p worker-pool --release --test stress`
//! for the full sizes.

mod common;

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{threads_named, wait_for};
use worker_pool::{Rejection, WorkerPool};

/// `release` in a release build; a twentieth of it in a debug build.
fn scaled(release: usize) -> usize {
    if cfg!(debug_assertions) {
        release / 20
    } else {
        release
    }
}

/// A counter that lives as long as the test binary: tiny jobs capture a `&'static`, no
/// `Arc` to clone per job.
fn counter() -> &'static AtomicUsize {
    Box::leak(Box::new(AtomicUsize::new(0)))
}

#[test]
fn stress_tiny_jobs_exact_counts() {
    let jobs = scaled(1_000_000);
    for workers in [1, 2, 4, 8] {
        let pool = WorkerPool::new(workers).unwrap();
        let hits = counter();
        for _ in 0..jobs {
            pool.execute(move || {
                hits.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        }
        pool.shutdown();
        assert_eq!(hits.load(Ordering::Relaxed), jobs, "{workers} workers");
        let stats = pool.stats();
        let jobs = jobs as u64;
        assert_eq!(
            (
                stats.submitted,
                stats.completed,
                stats.rejected,
                stats.workers
            ),
            (jobs, jobs, 0, 0),
            "{workers} workers"
        );
    }
}

#[test]
fn stress_many_submitters_with_handles() {
    let per_submitter = scaled(100_000);
    let submitters = 4;
    for priorities in [false, true] {
        let pool = WorkerPool::builder()
            .workers(4)
            .queue_capacity(256)
            .priorities(priorities)
            .build()
            .unwrap();
        let hits = counter();
        let sums: Vec<usize> = thread::scope(|s| {
            let workers: Vec<_> = (0..submitters)
                .map(|t| {
                    let pool = &pool;
                    s.spawn(move || {
                        let mut handles = Vec::new();
                        for n in 0..per_submitter {
                            let priority = (n % 7) as i32 - 3;
                            if n % 16 == 0 {
                                let value = t * per_submitter + n;
                                handles
                                    .push(pool.submit_priority(priority, move || value).unwrap());
                            } else {
                                pool.execute(move || {
                                    hits.fetch_add(1, Ordering::Relaxed);
                                })
                                .unwrap();
                            }
                        }
                        handles.into_iter().map(|h| h.join().unwrap()).sum()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        pool.shutdown();
        let with_handle = |n: &usize| n % 16 == 0;
        for (t, sum) in sums.into_iter().enumerate() {
            let expected: usize = (0..per_submitter)
                .filter(with_handle)
                .map(|n| t * per_submitter + n)
                .sum();
            assert_eq!(sum, expected, "submitter {t}, priorities: {priorities}");
        }
        let executed = submitters * (0..per_submitter).filter(|n| !with_handle(n)).count();
        assert_eq!(hits.load(Ordering::Relaxed), executed);
        let total = (submitters * per_submitter) as u64;
        assert_eq!(
            (pool.stats().submitted, pool.stats().completed),
            (total, total)
        );
    }
}

/// Four threads submit jobs while a fifth shuts the pool down once a quarter of them
/// were tried; halfway, each submitter waits for the shutdown to have begun, so that some
/// submits certainly race it and the rest certainly come after it. Each job counts its
/// runs in its own cell; a refused job comes back and the submitter runs it itself, and
/// so does the test for the jobs `shutdown_now` hands back: in the end every job ran
/// exactly once, and the counts add up.
fn shutdown_under_load(rejection: Rejection, priorities: bool, now: bool) {
    let case = format!("{rejection:?}, priorities: {priorities}, shutdown_now: {now}");
    let (submitters, per_submitter) = (4, scaled(40_000));
    let attempts = submitters * per_submitter;
    let pool = WorkerPool::builder()
        .workers(2)
        .queue_capacity(16)
        .rejection(rejection)
        .priorities(priorities)
        .build()
        .unwrap();
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..attempts).map(|_| AtomicU8::new(0)).collect());
    let accepted = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let handed_back = thread::scope(|s| {
        for t in 0..submitters {
            let (pool, runs, accepted, refused) = (&pool, &runs, &accepted, &refused);
            s.spawn(move || {
                for n in 0..per_submitter {
                    if n == per_submitter / 2 {
                        wait_for("the shutdown to begin", || pool.is_shut_down());
                    }
                    let id = t * per_submitter + n;
                    let runs = runs.clone();
                    let job = move || {
                        runs[id].fetch_add(1, Ordering::Relaxed);
                    };
                    match pool.execute(job) {
                        Ok(()) => accepted.fetch_add(1, Ordering::Relaxed),
                        Err(error) => {
                            assert!(error.is_shut_down() || error.is_full(), "{error:?}");
                            error.into_inner()();
                            refused.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            });
        }
        wait_for("a quarter of the jobs to be tried", || {
            accepted.load(Ordering::Relaxed) + refused.load(Ordering::Relaxed) >= attempts / 4
        });
        if now {
            let pending = pool.shutdown_now();
            let count = pending.len();
            for job in pending {
                job.run();
            }
            count
        } else {
            pool.shutdown();
            0
        }
    });
    assert!(pool.await_termination(common::PATIENCE), "{case}");
    let (accepted, refused) = (accepted.into_inner(), refused.into_inner());
    assert_eq!(accepted + refused, attempts, "{case}");
    assert!(
        refused >= attempts / 2,
        "{case}: every submit after the shutdown"
    );
    for (id, runs) in runs.iter().enumerate() {
        assert_eq!(runs.load(Ordering::Relaxed), 1, "{case}: job {id}");
    }
    let stats = pool.stats();
    let (accepted, refused, handed_back) = (accepted as u64, refused as u64, handed_back as u64);
    assert_eq!(stats.submitted, accepted, "{case}");
    assert_eq!(stats.rejected, refused, "{case}");
    assert_eq!(stats.handed_back, handed_back, "{case}");
    assert_eq!(stats.completed + handed_back, accepted, "{case}");
}

#[test]
fn stress_shutdown_under_load_runs_every_accepted_job_once() {
    for priorities in [false, true] {
        for rejection in [Rejection::Block, Rejection::CallerRuns, Rejection::Reject] {
            shutdown_under_load(rejection, priorities, false);
        }
    }
}

#[test]
fn stress_shutdown_now_under_load_hands_back_every_queued_job() {
    for priorities in [false, true] {
        for rejection in [Rejection::Block, Rejection::CallerRuns] {
            shutdown_under_load(rejection, priorities, true);
        }
    }
}

/// Waits until no thread of this process has a name starting with `prefix`. A joined
/// thread may linger in `/proc` for a moment after `join` returns; one that was never
/// joined, or is still running, stays.
fn assert_all_gone(prefix: &str) {
    wait_for(&format!("every {prefix}* thread to exit"), || {
        threads_named(prefix).is_empty()
    });
}

#[test]
fn no_thread_outlives_the_pool() {
    // A fixed pool, with panics along the way.
    let pool = WorkerPool::builder()
        .workers(8)
        .name("lkf")
        .build()
        .unwrap();
    wait_for("eight named workers", || threads_named("lkf-").len() == 8);
    let expected: Vec<String> = (0..8).map(|i| format!("lkf-{i}")).collect();
    assert_eq!(threads_named("lkf-"), expected);
    for n in 0..scaled(20_000) {
        pool.execute(move || assert!(n % 100 != 0, "job {n}"))
            .unwrap();
    }
    assert_eq!(threads_named("lkf-").len(), 8, "panics shrink nothing");
    drop(pool);
    assert_all_gone("lkf-");

    // A scaling pool whose workers retire and start again, shut down now.
    let pool = common::scaling(1, 6, Duration::ZERO)
        .name("lks")
        .build()
        .unwrap();
    for _ in 0..20 {
        let handles: Vec<_> = (0..50).map(|n| pool.submit(move || n).unwrap()).collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
    drop(pool.shutdown_now());
    drop(pool);
    assert_all_gone("lks-");

    // A pool that could not start all its workers leaves none behind.
    let failed = WorkerPool::builder()
        .workers(4)
        .name("lkx")
        .stack_size(1 << 50)
        .build();
    assert!(failed.is_err());
    assert_all_gone("lkx-");
}
