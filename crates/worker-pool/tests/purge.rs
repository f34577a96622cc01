//! Tests for jobs that will never run: a job cancelled through its handle while queued
//! leaves `queued` and counts as cancelled at once (and never again), and `purge` takes
//! such jobs — and those of a cancelled group, and those past their deadline — out of
//! the queue, freeing their places and their captures; the jobs it keeps run in their
//! order, through shutdowns; evictions and `shutdown_now` leave withdrawn jobs uncounted.
//!
//! The worker is held by a gated job while jobs queue behind it, so the queue's content
//! is known when the test acts.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{
    assert_adds_up, occupy, recording_panics, settled, single, stats_when, DropFlag, PanicOnDrop,
};
use worker_pool::{GroupError, JobError, JobHandle, Rejection, WorkerPool};

/// Submits jobs `ids` that record, in `log`, the order in which they start.
fn logging(
    pool: &WorkerPool,
    log: &Arc<Mutex<Vec<u32>>>,
    ids: impl IntoIterator<Item = u32>,
) -> Vec<JobHandle<u32>> {
    ids.into_iter()
        .map(|id| {
            let log = Arc::clone(log);
            pool.submit(move || {
                log.lock().unwrap().push(id);
                id
            })
            .unwrap()
        })
        .collect()
}

#[test]
fn a_job_cancelled_while_queued_leaves_queued_and_counts_as_cancelled_at_once() {
    let pool = single(8, Rejection::Block);
    let blocker = occupy(&pool);
    let handles: Vec<_> = (0..3).map(|n| pool.submit(move || n).unwrap()).collect();
    assert!(handles[0].cancel() && handles[2].cancel());
    assert!(!handles[0].cancel(), "cancelled once");
    let stats = pool.stats();
    assert_eq!((stats.queued, stats.cancelled, stats.submitted), (1, 2, 4));
    assert_eq!(stats.completed, 0);
    assert_adds_up(&stats);

    blocker.release();
    let results: Vec<_> = handles.into_iter().map(JobHandle::join).collect();
    assert_eq!(
        results,
        [Err(JobError::Cancelled), Ok(1), Err(JobError::Cancelled)]
    );
    // The worker skipped the two withdrawn jobs without counting them again.
    let stats = settled(&pool, 4);
    assert_eq!(
        (stats.completed, stats.cancelled, stats.submitted),
        (2, 2, 4)
    );
    assert_adds_up(&stats);
}

#[test]
fn purge_drops_cancelled_jobs_and_frees_their_places_and_captures() {
    let pool = single(2, Rejection::Reject);
    let blocker = occupy(&pool);
    let (flag, drops) = DropFlag::new();
    let cancelled = pool
        .submit(move || {
            let _flag = &flag;
        })
        .unwrap();
    let live = pool.submit(|| "live").unwrap();
    assert!(cancelled.cancel());
    assert!(
        pool.try_submit(|| "late").unwrap_err().is_full(),
        "the cancelled job holds its place"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 0, "and its captures");

    assert_eq!(pool.purge(), 1);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped by the purge");
    let late = pool.try_submit(|| "late").expect("its place is free");
    assert_eq!(pool.purge(), 0, "nothing left to purge");
    let stats = pool.stats();
    assert_eq!((stats.queued, stats.cancelled, stats.submitted), (2, 1, 4));
    assert_adds_up(&stats);

    blocker.release();
    assert_eq!((live.join(), late.join()), (Ok("live"), Ok("late")));
    assert_eq!(cancelled.join(), Err(JobError::Cancelled));
    let stats = settled(&pool, 4);
    assert_eq!((stats.completed, stats.cancelled), (3, 1));
}

#[test]
fn purge_drops_the_jobs_of_a_cancelled_group_and_those_past_their_deadline() {
    let pool = single(8, Rejection::Block);
    let blocker = occupy(&pool);
    let group = pool.group::<()>();
    let ran = common::group_counting(&group, 2);
    let late = pool
        .submit_with_timeout(Duration::ZERO, |_| "too late")
        .unwrap();
    let live = pool.submit(|| "live").unwrap();
    group.cancel();

    // Neither counts before the purge: the queue is where the worker would find them.
    assert_eq!(pool.stats().queued, 4);
    assert_eq!(pool.purge(), 3);
    let stats = pool.stats();
    assert_eq!((stats.queued, stats.cancelled, stats.timed_out), (1, 2, 1));
    assert_adds_up(&stats);
    assert_eq!(group.wait(), Err(GroupError::Job(JobError::Cancelled)));
    assert_eq!(late.join(), Err(JobError::TimedOut));

    blocker.release();
    assert_eq!(live.join(), Ok("live"));
    assert_eq!(ran.load(Ordering::SeqCst), 0, "no job of the group ran");
    let stats = settled(&pool, 5);
    assert_eq!(
        (stats.completed, stats.cancelled, stats.timed_out),
        (2, 2, 1)
    );
}

#[test]
fn the_jobs_purge_keeps_start_in_their_order_before_newer_ones() {
    let pool = single(8, Rejection::Block);
    let blocker = occupy(&pool);
    let log = Arc::new(Mutex::new(Vec::new()));
    let handles = logging(&pool, &log, 0..6);
    assert!(handles[1].cancel() && handles[3].cancel());
    assert_eq!(pool.purge(), 2);
    // Submitted after the purge: behind the jobs it kept.
    let newer = logging(&pool, &log, 6..8);
    assert_eq!(pool.stats().queued, 6);
    blocker.release();
    for handle in newer {
        handle.join().unwrap();
    }
    assert_eq!(*log.lock().unwrap(), [0, 2, 4, 5, 6, 7]);
}

#[test]
fn purge_removes_doomed_jobs_from_a_priority_queue_in_place() {
    let pool = WorkerPool::builder()
        .workers(1)
        .queue_capacity(8)
        .priorities(true)
        .build()
        .unwrap();
    let blocker = occupy(&pool);
    let log = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = [(0, 1), (1, 5), (2, 5), (3, 9), (4, 1)]
        .into_iter()
        .map(|(id, priority)| {
            let log = Arc::clone(&log);
            pool.submit_priority(priority, move || log.lock().unwrap().push(id))
                .unwrap()
        })
        .collect();
    assert!(handles[2].cancel() && handles[3].cancel());
    assert_eq!(pool.purge(), 2);
    assert_eq!(pool.stats().queued, 3);
    blocker.release();
    for handle in handles {
        let _ = handle.join();
    }
    assert_eq!(*log.lock().unwrap(), [1, 0, 4]);
}

#[test]
fn the_jobs_purge_keeps_run_through_a_graceful_shutdown() {
    let pool = Arc::new(single(8, Rejection::Block));
    let blocker = occupy(&pool);
    let log = Arc::new(Mutex::new(Vec::new()));
    let handles = logging(&pool, &log, 0..4);
    assert!(handles[2].cancel());
    assert_eq!(pool.purge(), 1);
    let closer = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || pool.shutdown())
    };
    common::wait_for("the shutdown to begin", || pool.is_shut_down());
    blocker.release();
    closer.join().unwrap();
    assert_eq!(*log.lock().unwrap(), [0, 1, 3]);
    let results: Vec<_> = handles.into_iter().map(JobHandle::join).collect();
    assert_eq!(results, [Ok(0), Ok(1), Err(JobError::Cancelled), Ok(3)]);
}

#[test]
fn shutdown_now_hands_back_the_kept_jobs_in_order_and_not_the_withdrawn_ones() {
    let pool = single(8, Rejection::Block);
    let blocker = occupy(&pool);
    let log = Arc::new(Mutex::new(Vec::new()));
    let handles = logging(&pool, &log, 0..5);
    assert!(handles[1].cancel());
    assert_eq!(pool.purge(), 1);
    let newer = logging(&pool, &log, 5..6);
    assert!(
        handles[3].cancel(),
        "withdrawn after the purge, still in the queue"
    );

    let pending = pool.shutdown_now();
    assert_eq!(
        pending.len(),
        4,
        "jobs 0, 2 and 4 kept, then 5; 3 not handed back"
    );
    for job in pending {
        job.run();
    }
    drop(newer);
    assert_eq!(*log.lock().unwrap(), [0, 2, 4, 5]);
    let stats = pool.stats();
    assert_eq!((stats.handed_back, stats.cancelled), (4, 2));
    drop(blocker);
    assert!(pool.await_termination(common::PATIENCE));
    assert_adds_up(&pool.stats());
}

#[test]
fn drop_oldest_evicts_a_withdrawn_job_without_counting_a_discard() {
    let pool = single(1, Rejection::DropOldest);
    let blocker = occupy(&pool);
    let cancelled = pool.submit(|| 1).unwrap();
    assert!(cancelled.cancel());
    let newer = pool.submit(|| 2).unwrap();
    let stats = pool.stats();
    assert_eq!((stats.discarded, stats.cancelled, stats.queued), (0, 1, 1));
    let newest = pool.submit(|| 3).unwrap();
    assert_eq!(
        newer.join(),
        Err(JobError::Discarded),
        "a live job is discarded"
    );
    blocker.release();
    assert_eq!(newest.join(), Ok(3));
    assert_eq!(cancelled.join(), Err(JobError::Cancelled));
    let stats = settled(&pool, 3);
    assert_eq!(
        (stats.discarded, stats.cancelled, stats.submitted),
        (1, 1, 4)
    );
    assert_adds_up(&stats);
}

#[test]
fn a_panic_dropping_a_purged_job_goes_to_the_hook_not_to_purge() {
    let (builder, seen) = recording_panics(WorkerPool::builder().workers(1));
    let pool = builder.build().unwrap();
    let blocker = occupy(&pool);
    let doomed = PanicOnDrop("dropping the purged job");
    let handle = pool
        .submit(move || {
            let _doomed = &doomed;
        })
        .unwrap();
    assert!(handle.cancel());
    assert_eq!(pool.purge(), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        ["dropping a job that never ran: dropping the purged job"]
    );
    assert_eq!(pool.stats().cancelled, 1);
    blocker.release();
}

#[test]
fn purge_from_a_job_of_the_pool_skips_its_doomed_jobs_there() {
    let pool = Arc::new(single(8, Rejection::Block));
    let (go, wait) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel();
    let purger = {
        let inner = Arc::clone(&pool);
        pool.submit(move || {
            started.send(()).unwrap();
            wait.recv().unwrap();
            inner.purge()
        })
        .unwrap()
    };
    common::recv(&running, "the purging job to start");
    let handles: Vec<_> = (0..3).map(|n| pool.submit(move || n).unwrap()).collect();
    assert!(handles[1].cancel());
    go.send(()).unwrap();
    assert_eq!(purger.join(), Ok(1));
    let results: Vec<_> = handles.into_iter().map(JobHandle::join).collect();
    assert_eq!(results, [Ok(0), Err(JobError::Cancelled), Ok(2)]);
}

/// Cancels race the worker and purges race both: every job ends once, and is counted
/// once, as what its handle says.
#[test]
fn stress_purge_racing_workers_and_cancels_counts_every_job_once() {
    const JOBS: u64 = if cfg!(miri) { 50 } else { 5_000 };
    let pool = Arc::new(
        WorkerPool::builder()
            .workers(2)
            .queue_capacity(64)
            .build()
            .unwrap(),
    );
    let (to_cancel, cancels) = mpsc::channel::<JobHandle<u64>>();
    let canceller = thread::spawn(move || {
        let mut kept = Vec::new();
        for (n, handle) in cancels.into_iter().enumerate() {
            if n % 3 == 0 {
                handle.cancel();
            }
            kept.push(handle);
        }
        kept
    });
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let purger = {
        let (pool, done) = (Arc::clone(&pool), Arc::clone(&done));
        thread::spawn(move || {
            let mut purged = 0;
            while !done.load(Ordering::SeqCst) {
                purged += pool.purge();
                thread::yield_now();
            }
            purged
        })
    };
    for n in 0..JOBS {
        to_cancel.send(pool.submit(move || n).unwrap()).unwrap();
    }
    drop(to_cancel);
    let handles = canceller.join().unwrap();
    let (mut ran, mut cancelled) = (0, 0);
    for handle in handles {
        match handle.join() {
            Ok(_) => ran += 1,
            Err(JobError::Cancelled) => cancelled += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    done.store(true, Ordering::SeqCst);
    let purged = purger.join().unwrap() as u64;
    assert!(purged <= cancelled);
    let stats = stats_when(&pool, "every job to end", |s| {
        s.queued == 0 && s.busy == 0 && s.completed + s.cancelled == JOBS
    });
    assert_eq!((stats.completed, stats.cancelled), (ran, cancelled));
    assert_eq!(stats.submitted, JOBS);
    assert_adds_up(&stats);
}
