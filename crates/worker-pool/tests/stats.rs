//! Tests for `WorkerPool::stats`: workers busy and idle, and, once the pool is idle,
//! exact counts of every outcome — submitted, completed, failed, panicked, cancelled,
//! timed out, rejected, discarded, handed back, run by the caller — adding up to what
//! was submitted (`completed + cancelled + timed_out + discarded + handed_back + queued +
//! busy`), and the queue-wait and run-time percentiles.
//!
//! A snapshot is exact only once no job is moving, so each test polls (`settled`) until
//! the jobs it expects have left their workers.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{assert_adds_up, occupy, occupy_all, settled, stats_when};
use patterns_core::CancelToken;
use worker_pool::{JobError, Rejection, Stats, WorkerPool};

/// Every counter, in one comparable tuple: (submitted, completed, failed, panicked,
/// cancelled, timed_out, rejected, discarded, handed_back, caller_ran).
type Counts = (u64, u64, u64, u64, u64, u64, u64, u64, u64, u64);

fn counts(stats: &Stats) -> Counts {
    (
        stats.submitted,
        stats.completed,
        stats.failed,
        stats.panicked,
        stats.cancelled,
        stats.timed_out,
        stats.rejected,
        stats.discarded,
        stats.handed_back,
        stats.caller_ran,
    )
}

/// Polls the stats until `ended` jobs have ended and none is moving (see
/// [`settled`]), checks every counter against `expected` and that they add up, and
/// returns the snapshot.
fn settles_at(pool: &WorkerPool, ended: u64, expected: Counts) -> Stats {
    let stats = settled(pool, ended);
    assert_eq!(counts(&stats), expected, "{stats:?}");
    assert_adds_up(&stats);
    stats
}

#[test]
fn a_new_pool_counts_nothing() {
    let pool = WorkerPool::new(3).unwrap();
    let stats = stats_when(&pool, "three idle workers", |s| s.idle == 3);
    assert_eq!((stats.workers, stats.busy, stats.queued), (3, 0, 0));
    assert_eq!(counts(&stats), (0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    assert_eq!((stats.queue_wait.samples, stats.run_time.samples), (0, 0));
    assert_eq!(stats.run_time.p50, Duration::ZERO);
}

#[test]
fn busy_idle_and_queued_follow_the_workers() {
    let pool = WorkerPool::builder()
        .workers(3)
        .queue_capacity(8)
        .build()
        .unwrap();
    let blockers = occupy_all(&pool, 2);
    let stats = pool.stats();
    assert_eq!((stats.workers, stats.busy, stats.idle), (3, 2, 1));
    let third = occupy(&pool);
    let queued: Vec<_> = (0..5).map(|n| pool.submit(move || n).unwrap()).collect();
    let stats = pool.stats();
    assert_eq!((stats.busy, stats.idle, stats.queued), (3, 0, 5));
    assert_eq!((stats.submitted, stats.completed), (8, 0));
    drop(blockers);
    third.release();
    for handle in queued {
        handle.join().unwrap();
    }
    let stats = settled(&pool, 8);
    assert_eq!((stats.busy, stats.idle, stats.completed), (0, 3, 8));
}

#[test]
fn every_outcome_is_counted_exactly_once() {
    let pool = WorkerPool::builder()
        .workers(1)
        .queue_capacity(4)
        .rejection(Rejection::Reject)
        .sample_timings(1)
        .build()
        .unwrap();
    let blocker = occupy(&pool);
    let cancelled = pool.submit(|| ()).unwrap();
    assert!(cancelled.cancel());
    let timed_out = pool
        .submit_with_timeout(Duration::from_millis(1), |_| ())
        .unwrap();
    assert_eq!(timed_out.join(), Err(JobError::TimedOut));
    let returns = pool.submit(|| 1).unwrap();
    pool.execute(|| panic!("counted")).unwrap();
    assert!(pool.try_submit(|| ()).unwrap_err().is_full());
    assert!(pool.submit(|| ()).unwrap_err().is_full());

    // Four jobs hold the queue's four places, but the cancelled one is no longer queued:
    // it counts as cancelled from its cancel on.
    let stats = pool.stats();
    assert_eq!((stats.busy, stats.queued, stats.cancelled), (1, 3, 1));
    assert_eq!((stats.submitted, stats.rejected), (5, 2));
    assert_adds_up(&stats);

    blocker.release();
    assert_eq!(returns.join(), Ok(1));
    // submitted, completed, failed, panicked, cancelled, timed_out, rejected, discarded,
    // handed_back, caller_ran
    let stats = settles_at(&pool, 5, (5, 3, 0, 1, 1, 1, 2, 0, 0, 0));

    // Every job a worker took was timed.
    for latency in [stats.queue_wait, stats.run_time] {
        assert_eq!(latency.samples, 5);
        assert!(latency.p50 > Duration::ZERO, "{latency:?}");
        assert!(latency.p50 <= latency.p99 && latency.p99 <= latency.max);
    }
}

#[test]
fn a_job_cancelled_while_running_counts_as_cancelled() {
    let pool = WorkerPool::new(1).unwrap();
    let handle = common::until_cancelled(&pool, ());
    assert!(handle.cancel());
    settles_at(&pool, 1, (1, 0, 0, 0, 1, 0, 0, 0, 0, 0));
}

#[test]
fn a_job_that_outlives_its_deadline_counts_as_timed_out() {
    // The handle reads TimedOut at the deadline; the job, which waits for its token and
    // then for the test, returns after that. It timed out; it was never cancelled.
    common::with_growing_deadlines(|deadline| {
        let pool = WorkerPool::new(1).unwrap();
        let (started_tx, started) = mpsc::channel();
        let (finish, may_finish) = mpsc::channel::<()>();
        let handle = pool
            .submit_with_timeout(deadline, move |cx| {
                started_tx.send(()).unwrap();
                cx.token().wait();
                common::recv(&may_finish, "the test to let the job return");
            })
            .unwrap();
        assert_eq!(handle.join(), Err(JobError::TimedOut));
        let _ = finish.send(()); // lets the job return, if it runs at all
        let stats = settled(&pool, 1);
        assert_eq!(
            (stats.timed_out, stats.cancelled, stats.completed),
            (1, 0, 0),
            "{stats:?}"
        );
        // Whether it ran past its deadline, the case this test is about (if it timed out
        // in the queue instead, a longer deadline is tried).
        started.try_recv().is_ok()
    });
}

#[test]
fn discarded_jobs_count_as_submitted_and_discarded() {
    let pool = common::single(2, Rejection::DropOldest);
    let blocker = occupy(&pool);
    for n in 0..5 {
        pool.execute(move || assert!(n >= 3, "job {n} was evicted"))
            .unwrap();
    }
    blocker.release();
    settles_at(&pool, 3, (6, 3, 0, 0, 0, 0, 0, 3, 0, 0));
}

#[test]
fn jobs_run_by_the_caller_count_as_submitted_completed_and_caller_ran() {
    let pool = common::single(1, Rejection::CallerRuns);
    let blocker = occupy(&pool);
    pool.execute(|| ()).unwrap(); // queued
    pool.execute(|| ()).unwrap(); // run here
    pool.execute(|| panic!("run here")).unwrap();
    let ran_here = pool.submit_with(|cx| cx.worker_index()).unwrap();
    assert_eq!(ran_here.join(), Ok(None));
    blocker.release();
    settles_at(&pool, 5, (5, 5, 0, 1, 0, 0, 0, 0, 0, 3));
}

#[test]
fn handed_back_jobs_count_as_submitted_and_handed_back() {
    let pool = WorkerPool::new(1).unwrap();
    let blocker = occupy(&pool);
    for _ in 0..4 {
        pool.execute(|| ()).unwrap();
    }
    let pending = pool.shutdown_now();
    assert_eq!(pending.len(), 4);
    pending.into_iter().next().unwrap().run();
    assert!(pool.submit(|| ()).is_err());
    blocker.release();
    assert!(pool.await_termination(common::PATIENCE));
    let stats = pool.stats();
    assert_eq!(stats.workers, 0);
    assert_eq!(counts(&stats), (5, 1, 0, 0, 0, 0, 1, 0, 4, 0));
    assert_adds_up(&stats);
}

#[test]
fn group_errors_count_as_completed_and_failed() {
    let pool = WorkerPool::new(1).unwrap();
    let group = pool.group();
    group.submit(|_| Ok(())).unwrap();
    group.submit(|_| Err("no")).unwrap();
    group.submit(|_| Ok(())).unwrap(); // skipped: the group failed before it started
    assert!(group.wait().is_err());
    settles_at(&pool, 3, (3, 2, 1, 0, 1, 0, 0, 0, 0, 0));
}

#[test]
fn counts_survive_workers_retiring() {
    let pool = common::scaling(1, 4, Duration::ZERO)
        .sample_timings(1)
        .build()
        .unwrap();
    // Five jobs hold four workers and the queue's place: the pool grows to its maximum.
    // Then the gate opens, and the rest run on whichever workers are left.
    let gate = CancelToken::new();
    let mut jobs = Vec::new();
    for n in 0..40 {
        if n == 5 {
            assert_eq!(pool.stats().workers, 4, "the full queue grew the pool");
            gate.cancel();
        }
        let gate = gate.clone();
        jobs.push(
            pool.submit(move || {
                gate.wait();
                assert!(n % 10 != 0, "job {n}");
            })
            .unwrap(),
        );
    }
    for job in jobs {
        let _ = job.join();
    }
    let stats = stats_when(&pool, "the extra workers to retire", |s| {
        s.workers == 1 && s.busy == 0 && s.completed == 40
    });
    assert_eq!(counts(&stats), (40, 40, 0, 4, 0, 0, 0, 0, 0, 0));
    assert_eq!(
        stats.run_time.samples, 40,
        "retired workers' timings are kept"
    );
    pool.shutdown();
    let stats = pool.stats();
    assert_eq!(stats.workers, 0);
    assert_eq!(counts(&stats), (40, 40, 0, 4, 0, 0, 0, 0, 0, 0));
    assert_eq!(stats.queue_wait.samples, 40);
}
