//! Tests for `JobHandle` and `JobContext`: the join family, `is_finished`, `cancel`
//! before and while a job runs, per-job deadlines, and what a running job sees of itself.
//!
//! Jobs that must be running when the test acts tell it so over a channel, and wait on a
//! gate or on their own token; deadlines are either long past or an hour away, so no
//! outcome depends on how fast the machine is.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    occupy, once_started, recording_panics, recv, settled, submit_gated, with_growing_deadlines,
    DropFlag, PanicOnDrop, PATIENCE,
};
use patterns_core::{CancelReason, CancelToken};
use worker_pool::{JobError, WorkerPool};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn join_returns_the_value_even_from_another_thread() {
    let pool = WorkerPool::new(2).unwrap();
    let handle = pool.submit(|| "forty-two".to_owned()).unwrap();
    let joined = thread::spawn(move || handle.join()).join().unwrap();
    assert_eq!(joined.as_deref(), Ok("forty-two"));
}

#[test]
fn try_join_and_join_timeout_give_the_handle_back_until_the_job_returns() {
    let pool = WorkerPool::new(1).unwrap();
    let gate = CancelToken::new();
    let handle = submit_gated(&gate, |gated| {
        pool.submit(move || {
            gated.enter();
            7
        })
        .unwrap()
    });
    assert!(!handle.is_finished());
    let handle = handle.try_join().expect_err("still running");
    let handle = handle
        .join_timeout(Duration::from_millis(10))
        .expect_err("still running");
    let handle = handle
        .join_deadline(Instant::now() - Duration::from_secs(1))
        .expect_err("a deadline in the past returns at once");
    assert!(format!("{handle:?}").contains("finished: false"));
    gate.cancel();
    common::wait_for("the job to return", || handle.is_finished());
    assert!(handle.is_finished(), "asking twice does not consume it");
    assert!(format!("{handle:?}").contains("finished: true"));
    assert_eq!(handle.try_join().expect("finished"), Ok(7));
}

#[test]
fn join_timeout_and_deadline_return_the_result_once_it_comes() {
    let pool = WorkerPool::new(1).unwrap();
    let handle = pool.submit(|| 1).unwrap();
    assert_eq!(handle.join_timeout(PATIENCE).expect("in time"), Ok(1));
    let handle = pool.submit(|| 2).unwrap();
    let deadline = Instant::now() + PATIENCE;
    assert_eq!(handle.join_deadline(deadline).expect("in time"), Ok(2));
    let handle = pool.submit(|| 3).unwrap();
    assert_eq!(handle.join_timeout(Duration::MAX).expect("no limit"), Ok(3));
}

#[test]
fn a_panicking_job_reports_its_message() {
    let pool = WorkerPool::new(1).unwrap();
    let handle = pool.submit(|| -> u8 { panic!("bad input {}", 3) }).unwrap();
    assert_eq!(handle.join(), Err(JobError::Panicked("bad input 3".into())));
}

#[test]
fn a_dropped_handle_detaches_the_job_which_still_runs() {
    let pool = WorkerPool::new(1).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let ran = ran.clone();
        drop(
            pool.submit(move || ran.fetch_add(1, Ordering::SeqCst))
                .unwrap(),
        );
    }
    pool.shutdown();
    assert_eq!(ran.load(Ordering::SeqCst), 10);
}

#[test]
fn cancel_before_start_means_the_job_never_runs() {
    let pool = WorkerPool::new(1).unwrap();
    let blocker = occupy(&pool);
    let ran = Arc::new(AtomicBool::new(false));
    let handle = pool
        .submit({
            let ran = ran.clone();
            move || ran.store(true, Ordering::SeqCst)
        })
        .unwrap();
    let with_context = pool
        .submit_with({
            let ran = ran.clone();
            move |_| ran.store(true, Ordering::SeqCst)
        })
        .unwrap();
    assert!(handle.cancel(), "this call cancelled it");
    assert!(with_context.cancel());
    assert!(!handle.cancel(), "already cancelled");
    assert!(handle.is_finished(), "resolved at once, while still queued");
    assert_eq!(handle.join(), Err(JobError::Cancelled));
    blocker.release();
    let stats = settled(&pool, 3);
    assert_eq!((stats.completed, stats.cancelled), (1, 2));
    assert_eq!(with_context.join(), Err(JobError::Cancelled));
    assert!(!ran.load(Ordering::SeqCst), "neither job ran");
    assert_eq!(JobError::Cancelled.to_string(), "job cancelled");
}

/// A job cancelled (or timed out, or of a cancelled group) before it started is dropped
/// unrun by the worker that takes it: a panic from its captures' drop is contained,
/// reported to the hook, and the job still counts as cancelled, not as a panicked job.
#[test]
fn a_panic_dropping_a_skipped_job_leaves_it_counted_as_cancelled() {
    let (builder, seen) = recording_panics(WorkerPool::builder().workers(1));
    let pool = builder.build().unwrap();
    let blocker = occupy(&pool);
    let doomed = PanicOnDrop("dropping the cancelled job");
    let cancelled = pool
        .submit(move || {
            let _doomed = &doomed;
        })
        .unwrap();
    let doomed = PanicOnDrop("dropping the timed-out job");
    let timed_out = pool
        .submit_with_timeout(Duration::ZERO, move |_| {
            let _doomed = &doomed;
        })
        .unwrap();
    let group = pool.group::<()>();
    let doomed = PanicOnDrop("dropping the skipped group job");
    group
        .submit(move |_| {
            let _doomed = &doomed;
            Ok(())
        })
        .unwrap();
    group.cancel();
    assert!(cancelled.cancel());
    blocker.release();
    assert_eq!(cancelled.join(), Err(JobError::Cancelled));
    assert_eq!(timed_out.join(), Err(JobError::TimedOut));
    assert!(group.wait().is_err());
    let stats = settled(&pool, 4);
    assert_eq!(
        (
            stats.completed,
            stats.panicked,
            stats.cancelled,
            stats.timed_out
        ),
        (1, 0, 2, 1),
        "{stats:?}"
    );
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            "dropping a job that never ran: dropping the cancelled job",
            "dropping a job that never ran: dropping the skipped group job",
            "dropping a job that never ran: dropping the timed-out job",
        ]
    );
}

#[test]
fn cancel_while_running_fires_the_token_and_resolves_the_handle_at_once() {
    let pool = WorkerPool::new(1).unwrap();
    let (saw, seen) = mpsc::channel();
    let (finish, may_finish) = mpsc::channel::<()>();
    let (result, result_drops) = DropFlag::new();
    let handle = once_started("the job to start", |started| {
        pool.submit_with(move |cx| {
            started.send(()).unwrap();
            saw.send(cx.token().wait()).unwrap();
            may_finish.recv().unwrap();
            result
        })
        .unwrap()
    });
    assert!(handle.cancel());
    assert_eq!(
        recv(&seen, "the job to see its token"),
        CancelReason::Cancelled
    );
    // The job is still running (it waits for `finish`), yet the handle has its answer.
    assert!(handle.is_finished());
    assert!(!handle.cancel(), "already cancelled");
    match handle.try_join() {
        Ok(result) => assert!(matches!(result, Err(JobError::Cancelled))),
        Err(_) => panic!("try_join returns the cancel at once, while the job runs on"),
    }
    finish.send(()).unwrap();
    common::wait_for("the late result to be dropped", || {
        result_drops.load(Ordering::SeqCst) == 1
    });
}

#[test]
fn cancel_of_a_running_job_without_context_leaves_it_to_finish() {
    let pool = WorkerPool::new(1).unwrap();
    let gate = CancelToken::new();
    let finished = Arc::new(AtomicBool::new(false));
    let handle = submit_gated(&gate, |gated| {
        let finished = finished.clone();
        pool.submit(move || {
            gated.enter();
            finished.store(true, Ordering::SeqCst);
            5
        })
        .unwrap()
    });
    assert!(handle.cancel());
    assert_eq!(handle.join(), Err(JobError::Cancelled));
    gate.cancel();
    pool.shutdown();
    assert!(finished.load(Ordering::SeqCst), "it ran on to its end");
}

#[test]
fn cancel_after_the_job_returned_changes_nothing() {
    let pool = WorkerPool::new(1).unwrap();
    let handle = pool.submit(|| 9).unwrap();
    common::wait_for("the job to return", || handle.is_finished());
    assert!(!handle.cancel(), "the result stands");
    assert_eq!(handle.join(), Ok(9));
}

#[test]
fn submit_with_timeout_reports_timed_out_at_the_deadline() {
    let pool = WorkerPool::new(1).unwrap();
    with_growing_deadlines(|deadline| {
        let (saw, seen) = mpsc::channel();
        let handle = pool
            .submit_with_timeout(deadline, move |cx| {
                // Returns once the deadline has passed: the job ignores nothing.
                saw.send(cx.token().wait()).unwrap();
                "too late"
            })
            .unwrap();
        assert_eq!(handle.join(), Err(JobError::TimedOut));
        match seen.recv_timeout(PATIENCE) {
            Ok(reason) => assert_eq!(reason, CancelReason::DeadlineExceeded),
            Err(_) => return false, // it never started: dropped unrun
        }
        true
    });
    assert_eq!(JobError::TimedOut.to_string(), "job timed out");
}

#[test]
fn a_job_that_ignores_its_deadline_still_times_out_its_handle() {
    let pool = WorkerPool::new(1).unwrap();
    let gate = CancelToken::new();
    let handle = pool
        .submit_with_timeout(Duration::from_millis(10), {
            let gate = gate.clone();
            move |_| gate.wait()
        })
        .unwrap();
    assert_eq!(
        handle.join(),
        Err(JobError::TimedOut),
        "without waiting for it"
    );
    gate.cancel();
}

#[test]
fn a_job_whose_deadline_passes_in_the_queue_never_runs() {
    let pool = WorkerPool::new(1).unwrap();
    let blocker = occupy(&pool);
    let ran = Arc::new(AtomicBool::new(false));
    let handle = pool
        .submit_with_timeout(Duration::from_millis(1), {
            let ran = ran.clone();
            move |_| ran.store(true, Ordering::SeqCst)
        })
        .unwrap();
    assert_eq!(handle.join(), Err(JobError::TimedOut));
    blocker.release();
    let stats = settled(&pool, 2);
    assert_eq!(stats.timed_out, 1);
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn a_job_that_returns_before_its_deadline_keeps_its_value() {
    let pool = WorkerPool::new(1).unwrap();
    let handle = pool
        .submit_with_timeout(HOUR, |cx| cx.check().map(|()| 3))
        .unwrap();
    assert_eq!(handle.join(), Ok(Ok(3)));
}

#[test]
fn job_context_tells_token_deadline_and_worker_index() {
    let pool = WorkerPool::new(3).unwrap();
    let handles: Vec<_> = (0..30)
        .map(|_| {
            pool.submit_with(|cx| {
                (
                    cx.worker_index(),
                    cx.deadline(),
                    cx.is_cancelled(),
                    cx.check(),
                    cx.token().is_cancelled(),
                )
            })
            .unwrap()
        })
        .collect();
    for handle in handles {
        let (index, deadline, cancelled, check, token) = handle.join().unwrap();
        assert!(matches!(index, Some(i) if i < 3), "{index:?}");
        assert_eq!(
            (deadline, cancelled, check, token),
            (None, false, Ok(()), false)
        );
    }

    let before = Instant::now();
    let handle = pool
        .submit_with_timeout(HOUR, |cx| (cx.deadline(), cx.token().deadline()))
        .unwrap();
    let after = Instant::now();
    let (deadline, token_deadline) = handle.join().unwrap();
    let deadline = deadline.expect("a deadline");
    assert!(before + HOUR <= deadline && deadline <= after + HOUR);
    assert_eq!(token_deadline, Some(deadline), "the token fires at it");
}

#[test]
fn worker_index_stays_below_max_workers_in_a_scaling_pool() {
    let max = 3;
    let pool = common::scaling(1, max, Duration::ZERO).build().unwrap();
    let handles: Vec<_> = (0..200)
        .map(|_| pool.submit_with(|cx| cx.worker_index()).unwrap())
        .collect();
    for handle in handles {
        let index = handle.join().unwrap().expect("on a worker");
        assert!(index < max, "{index}");
    }
}
