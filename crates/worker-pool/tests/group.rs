//! Tests for `Group` (Go's errgroup): `wait` after all jobs, the first error wins and
//! fires the others' token, jobs not started by then are skipped, panics, cancel, and
//! jobs the pool refuses, evicts or drops.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use common::{group_counting, occupy, once_started, recv, settled, single};
use patterns_core::CancelReason;
use worker_pool::{Group, GroupError, JobError, Rejection, WorkerPool};

/// Submits a job of `group` that waits for the group's token, reports why it fired, and
/// returns `result`; returns once the job runs, with where its report will arrive.
fn watcher<E: Send + 'static>(
    group: &Group<'_, E>,
    result: Result<(), E>,
) -> mpsc::Receiver<CancelReason> {
    let (saw, seen) = mpsc::channel();
    once_started("the watching job to start", |started| {
        group
            .submit(move |cx| {
                started.send(()).unwrap();
                saw.send(cx.token().wait()).unwrap();
                result
            })
            .unwrap()
    });
    seen
}

#[test]
fn a_group_of_successes_waits_for_every_job() {
    let pool = WorkerPool::new(3).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let group = pool.group::<String>();
    for _ in 0..50 {
        let done = done.clone();
        group
            .submit(move |cx| {
                assert!(cx.worker_index().is_some_and(|i| i < 3));
                assert_eq!(cx.deadline(), None);
                done.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
    }
    assert!(format!("{group:?}").contains("cancelled: false"));
    assert_eq!(group.wait(), Ok(()));
    assert_eq!(done.load(Ordering::SeqCst), 50, "all had finished");
}

#[test]
fn the_first_error_wins_and_fires_the_others_token() {
    let pool = WorkerPool::new(2).unwrap();
    let group = pool.group::<&str>();
    let token = group.token().clone();
    let seen = watcher(&group, Err("second"));
    group.submit(|_| Err("first")).unwrap();
    let error = group.wait().unwrap_err();
    assert_eq!(error, GroupError::Failed("first"));
    assert_eq!(
        seen.try_recv(),
        Ok(CancelReason::Cancelled),
        "the other job saw its token fire, and had finished when wait returned"
    );
    assert!(token.is_cancelled());
    assert_eq!(error.to_string(), "a job of the group failed");
    assert_eq!(error.into_failed(), Some("first"));
}

#[test]
fn jobs_not_started_when_the_group_fails_are_skipped() {
    let pool = WorkerPool::new(1).unwrap();
    let group = pool.group();
    group.submit(|_| Err(7)).unwrap();
    let ran = group_counting(&group, 5);
    assert_eq!(group.wait(), Err(GroupError::Failed(7)));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    let stats = settled(&pool, 6);
    assert_eq!((stats.completed, stats.failed, stats.cancelled), (1, 1, 5));
}

#[test]
fn a_panicking_job_fails_the_group_with_its_message() {
    let pool = WorkerPool::new(2).unwrap();
    let group = pool.group::<String>();
    let seen = watcher(&group, Ok(()));
    group.submit(|_| panic!("kaput")).unwrap();
    let error = group.wait().unwrap_err();
    assert_eq!(error, GroupError::Job(JobError::Panicked("kaput".into())));
    assert_eq!(error.to_string(), "job panicked: kaput");
    assert_eq!(error.into_failed(), None);
    assert_eq!(seen.try_recv(), Ok(CancelReason::Cancelled));
    let stats = settled(&pool, 2);
    assert_eq!((stats.completed, stats.panicked, stats.failed), (2, 1, 0));
}

#[test]
fn cancel_skips_queued_jobs_signals_running_ones_and_reports_the_skip() {
    let pool = WorkerPool::new(2).unwrap();
    let blocker = occupy(&pool);
    let group = pool.group::<()>();
    let seen = watcher(&group, Ok(()));
    // Both workers are busy now: these wait in the queue.
    let ran = group_counting(&group, 3);
    group.cancel();
    assert!(format!("{group:?}").contains("cancelled: true"));
    assert_eq!(
        recv(&seen, "the running job's token"),
        CancelReason::Cancelled
    );
    blocker.release();
    assert_eq!(
        group.wait(),
        Err(GroupError::Job(JobError::Cancelled)),
        "a group whose jobs were skipped did not succeed"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 0, "no queued job ran");
}

#[test]
fn a_job_dropped_unrun_by_shutdown_now_fails_the_group() {
    let pool = WorkerPool::new(1).unwrap();
    let blocker = occupy(&pool);
    let group = pool.group::<()>();
    group.submit(|_| Ok(())).unwrap();
    let pending = pool.shutdown_now();
    assert_eq!(pending.len(), 1);
    drop(pending);
    assert_eq!(group.wait(), Err(GroupError::Job(JobError::ShutDown)));
    assert_eq!(
        JobError::ShutDown.to_string(),
        "job never ran: the pool shut down"
    );
    blocker.release();
}

#[test]
fn a_job_evicted_from_a_full_queue_fails_the_group() {
    let pool = single(1, Rejection::DropOldest);
    let blocker = occupy(&pool);
    let group = pool.group::<()>();
    let ran = group_counting(&group, 2);
    blocker.release();
    assert_eq!(group.wait(), Err(GroupError::Job(JobError::Discarded)));
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "the survivor was skipped: the group had failed before it started"
    );
}

#[test]
fn a_refused_job_comes_back_and_is_not_part_of_the_group() {
    let pool = single(1, Rejection::Reject);
    let blocker = occupy(&pool);
    let group = pool.group::<u8>();
    group.submit(|_| Ok(())).unwrap();
    let refused = group.submit(|_| Err(1)).unwrap_err();
    assert!(refused.is_full());
    blocker.release();
    assert_eq!(
        group.wait(),
        Ok(()),
        "the refused job's error never counted"
    );
}
