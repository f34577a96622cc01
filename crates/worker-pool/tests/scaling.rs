//! Tests for a pool that scales between `min_workers` and `max_workers`: extra workers
//! start only when a submit finds the queue full, never above the maximum; they retire
//! after `keep_alive` idle, never below the minimum, and never while busy; idle workers
//! at the minimum sleep.
//!
//! Every pool here has a queue of one place, so "full" is one queued job. Retirement is
//! awaited by polling `stats().workers` under a generous bound, with `keep_alive` zero or
//! tiny; staying alive is checked with a `keep_alive` of an hour.

mod common;

use std::fs;
use std::time::Duration;

use common::{occupy, settled, stats_when, threads_named, wait_for};
use patterns_core::CancelToken;
use worker_pool::{JobHandle, WorkerPool};

const HOUR: Duration = Duration::from_secs(3600);

fn scaling_pool(min: usize, max: usize, keep_alive: Duration) -> WorkerPool {
    common::scaling(min, max, keep_alive).build().unwrap()
}

/// A job that holds its worker until `gate` opens, then says whether its token fired.
fn gated(pool: &WorkerPool, gate: &CancelToken) -> JobHandle<bool> {
    let gate = gate.clone();
    pool.submit_with(move |cx| {
        gate.wait();
        cx.is_cancelled()
    })
    .unwrap()
}

/// With `from` workers all busy and the queue empty, grows the pool to `to` workers with
/// jobs that wait on `gate`, checking that each extra worker starts only when a submit
/// finds the queue full. Ends with `to` busy workers and one job queued.
fn grow(pool: &WorkerPool, gate: &CancelToken, from: usize, to: usize) -> Vec<JobHandle<bool>> {
    assert_eq!(pool.stats().workers, from);
    let mut jobs = vec![gated(pool, gate)];
    assert_eq!(
        pool.stats().workers,
        from,
        "a job that fits in the queue starts no worker, though all are busy"
    );
    for workers in from + 1..=to {
        // The queue is full: this submit starts a worker, whose first job it is (Java's
        // rule); the queued job stays queued.
        jobs.push(gated(pool, gate));
        let stats = pool.stats();
        assert_eq!((stats.workers, stats.queued), (workers, 1));
    }
    wait_for("every worker to be busy", || pool.stats().busy == to);
    jobs
}

#[test]
fn extra_workers_start_only_when_the_queue_is_full_and_never_above_max() {
    let pool = scaling_pool(1, 3, HOUR);
    let gate = CancelToken::new();
    let blocker = occupy(&pool);
    let jobs = grow(&pool, &gate, 1, 3);
    let refused = pool.try_submit(|| ()).unwrap_err();
    assert!(refused.is_full(), "at max_workers the queue stays full");
    assert_eq!(pool.stats().workers, 3);
    gate.cancel();
    blocker.release();
    for job in jobs {
        assert_eq!(job.join(), Ok(false));
    }
    let stats = settled(&pool, 4);
    assert_eq!(stats.workers, 3, "within keep_alive, idle extras stay");
    assert_eq!((stats.idle, stats.rejected), (3, 1));
}

#[test]
fn a_fixed_pool_never_grows() {
    let pool = WorkerPool::builder()
        .workers(2)
        .queue_capacity(1)
        .keep_alive(Duration::ZERO)
        .build()
        .unwrap();
    let blockers = common::occupy_all(&pool, 2);
    let queued = pool.submit(|| 1).unwrap();
    assert!(pool.try_submit(|| 2).unwrap_err().is_full());
    assert_eq!(pool.stats().workers, 2);
    drop(blockers);
    assert_eq!(queued.join(), Ok(1));
    assert_eq!(settled(&pool, 3).workers, 2, "a fixed pool never shrinks");
}

#[test]
fn extra_workers_retire_after_keep_alive_never_below_min() {
    for keep_alive in [Duration::ZERO, Duration::from_millis(1)] {
        let (min, max) = (2, 4);
        let pool = scaling_pool(min, max, keep_alive);
        for round in 0..3 {
            // Grow to the maximum (retired workers' places are reused), then go idle.
            let gate = CancelToken::new();
            let blockers = common::occupy_all(&pool, min);
            let jobs = grow(&pool, &gate, min, max);
            gate.cancel();
            drop(blockers);
            for job in jobs {
                assert_eq!(job.join(), Ok(false), "never signalled");
            }
            stats_when(&pool, "the extra workers to retire", |s| {
                assert!(s.workers >= min, "below min_workers: {s:?}");
                s.workers == min && s.busy == 0
            });
            for _ in 0..1000 {
                assert_eq!(pool.stats().workers, min, "{keep_alive:?}, round {round}");
            }
        }
        assert_eq!(
            pool.submit(|| 5).unwrap().join(),
            Ok(5),
            "the pool serves on"
        );
    }
}

#[test]
fn shrinking_never_retires_a_busy_worker_nor_signals_its_job() {
    let pool = scaling_pool(1, 2, Duration::ZERO);
    let blocker = occupy(&pool);
    let busy_gate = CancelToken::new();
    let busy = gated(&pool, &busy_gate);
    // The queue is full: a second worker starts and takes `busy`; `quick` waits.
    let quick = pool.submit(|| "quick").unwrap();
    assert_eq!(pool.stats().workers, 2);
    blocker.release(); // its worker runs `quick`, then has nothing to do
    assert_eq!(quick.join(), Ok("quick"));
    let stats = stats_when(&pool, "the idle worker to retire", |s| s.workers == 1);
    assert_eq!(stats.busy, 1, "the one left is the busy one");
    assert!(!busy.is_finished());
    busy_gate.cancel();
    assert_eq!(busy.join(), Ok(false), "its token never fired");
    let stats = settled(&pool, 3);
    assert_eq!((stats.workers, stats.completed), (1, 3));
}

/// The CPU time (user + system, in clock ticks) used so far by this process's threads
/// whose names start with `prefix`.
fn cpu_ticks(prefix: &str) -> u64 {
    let mut ticks = 0;
    for task in fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let comm = fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = fs::read_to_string(path.join("stat")).unwrap();
        // The fields after the parenthesised name: state is the first, utime the 12th,
        // stime the 13th (fields 14 and 15 of proc(5)).
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
            .split_whitespace()
            .collect();
        ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    ticks
}

#[test]
fn idle_workers_at_the_minimum_sleep() {
    // With keep_alive zero, a worker at the minimum that polled for work with a time
    // limit would spin. Measure the idle pool's CPU use over half a second: a sleeping
    // worker uses next to none, whatever the machine's load.
    let pool = WorkerPool::builder()
        .min_workers(2)
        .max_workers(3)
        .keep_alive(Duration::ZERO)
        .name("idl")
        .build()
        .unwrap();
    wait_for("the workers to be named", || {
        threads_named("idl-").len() == 2
    });
    let before = cpu_ticks("idl-");
    // A measuring window, not a way to order threads: nothing waits for anything here.
    let window = CancelToken::with_timeout(Duration::from_millis(500));
    window.wait();
    let used = cpu_ticks("idl-") - before;
    assert!(used <= 10, "idle workers used {used} ticks in 500 ms");
    assert_eq!(pool.stats().workers, 2);
}

/// Lines of `/proc/self/maps`: every thread stack not yet freed is a mapping (or two).
fn mappings() -> usize {
    fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn a_pool_that_grows_and_shrinks_for_ever_frees_its_retired_threads() {
    // A retired worker's thread must be joined long before the pool shuts down: an
    // exited, unjoined thread keeps its stack mapped. 100 cycles retire 300 threads,
    // some 600 mappings if they leaked; a few dozen come and go with the other tests.
    let pool = scaling_pool(1, 4, Duration::ZERO);
    let before = mappings();
    for _ in 0..100 {
        let gate = CancelToken::new();
        let blocker = occupy(&pool);
        let jobs = grow(&pool, &gate, 1, 4);
        gate.cancel();
        blocker.release();
        for job in jobs {
            assert_eq!(job.join(), Ok(false));
        }
        wait_for("the extra workers to retire", || pool.stats().workers == 1);
    }
    let grown = mappings().saturating_sub(before);
    assert!(
        grown < 200,
        "{grown} more mappings after retiring 300 workers"
    );
}

#[test]
fn the_submit_that_grows_the_pool_is_accepted_even_under_reject_and_try_submit() {
    let pool = common::scaling(1, 3, HOUR)
        .rejection(worker_pool::Rejection::Reject)
        .build()
        .unwrap();
    let gate = CancelToken::new();
    let mut jobs = vec![gated(&pool, &gate)];
    wait_for("the first worker to be busy", || pool.stats().busy == 1);
    jobs.push(gated(&pool, &gate)); // queued
    jobs.push(gated(&pool, &gate)); // grows the pool: the new worker's first job
    let gate_for_try = gate.clone();
    let grown = pool.try_submit(move || gate_for_try.wait());
    assert!(grown.is_ok(), "try_submit grows the pool too: {grown:?}");
    let stats = pool.stats();
    assert_eq!((stats.workers, stats.queued, stats.rejected), (3, 1, 0));
    let gate_for_full = gate.clone();
    let refused = pool.submit(move || gate_for_full.wait());
    assert!(
        refused.unwrap_err().is_full(),
        "at the maximum, Reject refuses"
    );
    gate.cancel();
    for job in jobs {
        assert_eq!(job.join(), Ok(false));
    }
    grown.unwrap().join().unwrap();
    assert_eq!(settled(&pool, 4).completed, 4);
}
