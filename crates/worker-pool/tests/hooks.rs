//! Tests for the thread start and exit hooks: each worker's thread calls them with its
//! index, the exit hook before the worker counts as gone (so a shutdown returns after
//! every one), on retirement as at a shutdown; a hook's panic goes to the panic hook.

mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{recording_panics, stats_when, threads_named, unique_name};
use worker_pool::WorkerPool;

type Log = Arc<Mutex<Vec<(&'static str, usize, String)>>>;

/// A builder whose hooks log (event, index, thread name).
fn logging(builder: worker_pool::Builder) -> (worker_pool::Builder, Log) {
    let log: Log = Arc::default();
    let entry = |event| {
        let log = log.clone();
        move |index| {
            let name = thread::current().name().unwrap_or_default().to_owned();
            log.lock().unwrap().push((event, index, name));
        }
    };
    let builder = builder
        .on_thread_start(entry("start"))
        .on_thread_exit(entry("exit"));
    (builder, log)
}

#[test]
fn every_worker_starts_and_exits_through_the_hooks_on_its_own_thread() {
    let (builder, log) = logging(WorkerPool::builder().workers(3).name("hooked"));
    let pool = builder.build().unwrap();
    assert_eq!(pool.submit(|| 1).unwrap().join(), Ok(1));
    pool.shutdown();
    let mut log = log.lock().unwrap().clone();
    log.sort();
    let expected: Vec<_> = ["exit", "start"]
        .into_iter()
        .flat_map(|event| (0..3).map(move |i| (event, i, format!("hooked-{i}"))))
        .collect();
    assert_eq!(log, expected, "each hook once per worker, on that worker");
}

#[test]
fn a_retiring_worker_runs_its_exit_hook_and_its_index_is_reused() {
    let name = unique_name("retiring");
    let (builder, log) = logging(
        WorkerPool::builder()
            .name(&name)
            .min_workers(1)
            .max_workers(2)
            .keep_alive(Duration::ZERO),
    );
    // Each worker runs its hooks on its own thread: wait for each step's entries.
    let events = |n: usize| {
        common::wait_for(&format!("{n} hook calls"), || {
            log.lock().unwrap().len() == n
        });
        let log = log.lock().unwrap();
        log.iter()
            .map(|(event, index, _)| (*event, *index))
            .collect::<Vec<_>>()
    };
    let pool = builder.build().unwrap();
    pool.set_min_workers(2).unwrap();
    let mut started = events(2);
    started.sort_unstable();
    assert_eq!(started, [("start", 0), ("start", 1)]);
    pool.set_min_workers(1).unwrap();
    stats_when(&pool, "the extra worker to retire", |s| s.workers == 1);
    // Its index is free once its thread is gone (its exit hook ran before).
    common::wait_for("the retired worker's thread to end", || {
        threads_named(&name).len() == 1
    });
    let (exit, retired) = events(3)[2];
    assert_eq!(exit, "exit");
    pool.set_min_workers(2).unwrap();
    assert_eq!(
        events(4)[3],
        ("start", retired),
        "the next worker takes its index"
    );
}

#[test]
fn a_panicking_hook_is_reported_and_the_worker_goes_on() {
    let (builder, seen) = recording_panics(
        WorkerPool::builder()
            .workers(1)
            .on_thread_start(|_| panic!("no affinity"))
            .on_thread_exit(|_| panic!("no cleanup")),
    );
    let pool = builder.build().unwrap();
    assert_eq!(pool.submit(|| 2).unwrap().join(), Ok(2));
    pool.shutdown();
    assert_eq!(
        *seen.lock().unwrap(),
        ["on_thread_start: no affinity", "on_thread_exit: no cleanup"]
    );
}
