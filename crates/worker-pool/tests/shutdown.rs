//! Tests for shutting a pool down: `shutdown` drains the queue, `shutdown_now` hands the
//! queued jobs back in submission order and signals the running ones, every submit
//! afterwards is refused with its closure, the timed and polling forms, `Drop`, and
//! shutting down from inside one of the pool's own jobs.

mod common;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{
    execute_counting, occupy, once_started, recv, seen_asleep, submit_gated, unique_name,
    until_cancelled, DropFlag, PATIENCE,
};
use patterns_core::{CancelReason, CancelToken};
use worker_pool::{JobError, Rejection, SubmitError, WorkerPool};

#[test]
fn shutdown_runs_every_queued_job_and_signals_no_running_one() {
    let pool = WorkerPool::new(1).unwrap();
    let gate = CancelToken::new();
    let running_job = submit_gated(&gate, |gated| {
        pool.submit_with(move |cx| {
            gated.enter();
            cx.is_cancelled()
        })
        .unwrap()
    });
    let ran = execute_counting(&pool, 100);
    thread::scope(|s| {
        let closer = s.spawn(|| pool.shutdown());
        common::wait_for("the shutdown to begin", || pool.is_shut_down());
        assert!(pool.try_submit(|| ()).unwrap_err().is_shut_down());
        assert!(!pool.is_terminated());
        assert_eq!(ran.load(Ordering::SeqCst), 0, "the worker is still busy");
        gate.cancel();
        closer.join().unwrap();
    });
    assert_eq!(ran.load(Ordering::SeqCst), 100, "every queued job ran");
    assert_eq!(running_job.join(), Ok(false), "its token never fired");
    assert!(pool.is_terminated());
    pool.shutdown(); // idempotent
    assert!(pool.shutdown_now().is_empty());
    assert!(format!("{pool:?}").contains("shut_down: true"));
}

#[test]
fn shutdown_now_hands_back_queued_jobs_in_submission_order() {
    for priorities in [false, true] {
        let pool = WorkerPool::builder()
            .workers(1)
            .priorities(priorities)
            .build()
            .unwrap();
        let running = until_cancelled(&pool, 42);
        let order = Arc::new(Mutex::new(Vec::new()));
        let record = |id: u32| {
            let order = order.clone();
            move || {
                order.lock().unwrap().push(id);
                id
            }
        };
        let first = pool.submit_priority(-5, record(0)).unwrap();
        let job = record(1);
        pool.execute(move || {
            job();
        })
        .unwrap();
        let job = record(2);
        let third = pool
            .submit_with(move |cx| (job(), cx.worker_index(), cx.is_cancelled()))
            .unwrap();
        let fourth = pool.submit_priority(9, record(3)).unwrap();

        let pending = pool.shutdown_now();
        assert_eq!(pending.len(), 4, "priorities: {priorities}");
        assert_eq!(
            running.join(),
            Ok((42, CancelReason::Cancelled)),
            "the running job's token fired, and its value reached its handle"
        );
        assert!(pool.await_termination(PATIENCE));
        assert!(order.lock().unwrap().is_empty(), "none ran");
        assert!(format!("{:?}", pending[0]).starts_with("PendingJob"));
        for job in pending {
            job.run();
        }
        assert_eq!(
            *order.lock().unwrap(),
            [0, 1, 2, 3],
            "priorities: {priorities}"
        );
        assert_eq!(first.join(), Ok(0));
        assert_eq!(
            third.join(),
            Ok((2, None, true)),
            "on this thread, token fired"
        );
        assert_eq!(fourth.join(), Ok(3));
        assert_eq!(pool.stats().handed_back, 4);
    }
}

#[test]
fn a_dropped_pending_job_resolves_its_handle_as_shut_down() {
    let pool = WorkerPool::new(1).unwrap();
    let blocker = occupy(&pool);
    let (flag, closure_drops) = DropFlag::new();
    let handle = pool
        .submit(move || {
            let _flag = &flag;
            panic!("a job handed back and dropped never runs")
        })
        .unwrap();
    let pending = pool.shutdown_now();
    assert!(!handle.is_finished(), "handed back, not resolved yet");
    drop(pending);
    assert_eq!(
        closure_drops.load(Ordering::SeqCst),
        1,
        "the closure is dropped"
    );
    assert_eq!(handle.join(), Err::<(), _>(JobError::ShutDown));
    blocker.release();
}

#[test]
fn every_submit_after_shutdown_hands_the_closure_back_whatever_the_policy() {
    let policies = [
        Rejection::Block,
        Rejection::Reject,
        Rejection::CallerRuns,
        Rejection::DropOldest,
    ];
    for policy in policies {
        for priorities in [false, true] {
            let pool = WorkerPool::builder()
                .workers(1)
                .queue_capacity(1)
                .rejection(policy)
                .priorities(priorities)
                .build()
                .unwrap();
            if priorities {
                drop(pool.shutdown_now());
            } else {
                pool.shutdown();
            }
            let case = format!("{policy:?}, priorities: {priorities}");
            let ran = Arc::new(AtomicUsize::new(0));
            let count = || {
                let ran = ran.clone();
                move || ran.fetch_add(1, Ordering::SeqCst)
            };

            match pool.submit(count()) {
                Err(SubmitError::ShutDown(job)) => assert_eq!(job(), 0),
                other => panic!("{case}: {other:?}"),
            }
            let job = count();
            let refused = pool
                .execute(move || {
                    job();
                })
                .unwrap_err();
            assert!(refused.is_shut_down(), "{case}");
            assert_eq!(format!("{refused:?}"), "ShutDown(..)");
            assert_eq!(refused.to_string(), "job rejected: the pool is shut down");
            refused.into_inner()();
            assert_eq!(pool.try_submit(count()).unwrap_err().into_inner()(), 2);
            let refused = pool.submit_timeout(count(), PATIENCE).unwrap_err();
            assert!(refused.is_shut_down(), "{case}: not a time-out");
            assert_eq!(refused.into_inner()(), 3);
            let refused = pool.submit_priority(7, count()).unwrap_err();
            assert_eq!(refused.into_inner()(), 4);
            assert!(pool.submit_with(|_| ()).unwrap_err().is_shut_down());
            let refused = pool.submit_with_timeout(PATIENCE, |_| ()).unwrap_err();
            assert!(refused.is_shut_down());
            let group = pool.group::<()>();
            assert!(group.submit(|_| Ok(())).unwrap_err().is_shut_down());
            assert_eq!(group.wait(), Ok(()), "{case}: nothing joined the group");

            assert_eq!(ran.load(Ordering::SeqCst), 5, "{case}: only we ran them");
            let stats = pool.stats();
            assert_eq!((stats.rejected, stats.submitted), (8, 0), "{case}");
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "watches thread states in /proc, which Miri does not have"
)]
fn shutdown_wakes_submitters_blocked_on_a_full_queue() {
    for priorities in [false, true] {
        let pool = WorkerPool::builder()
            .workers(1)
            .queue_capacity(1)
            .priorities(priorities)
            .build()
            .unwrap();
        let blocker = occupy(&pool);
        let queued = pool.submit(|| 0).unwrap();
        let name = unique_name("blocked");
        thread::scope(|s| {
            let pool = &pool;
            let submitter = thread::Builder::new()
                .name(name.clone())
                .spawn_scoped(s, move || {
                    let refused = pool.submit(|| 1).map(drop).unwrap_err();
                    refused.is_shut_down().then(|| refused.into_inner()())
                })
                .unwrap();
            assert!(
                seen_asleep(&name, || submitter.is_finished()),
                "submit blocks on a full queue"
            );
            let pending = pool.shutdown_now();
            assert_eq!(pending.len(), 1);
            let (finished, result) = std::sync::mpsc::channel();
            s.spawn(move || finished.send(submitter.join().unwrap()).unwrap());
            assert_eq!(
                recv(&result, "the blocked submit to return"),
                Some(1),
                "woken with its job back, priorities: {priorities}"
            );
        });
        assert_eq!(queued.join(), Err(JobError::ShutDown));
        blocker.release();
    }
}

#[test]
fn shutdown_timeout_await_termination_and_is_terminated() {
    let pool = WorkerPool::new(2).unwrap();
    assert!(!pool.await_termination(Duration::ZERO), "no shutdown begun");
    assert!(!pool.await_termination(Duration::from_millis(10)));
    assert!(!pool.is_shut_down() && !pool.is_terminated());
    let blocker = occupy(&pool);
    assert!(
        !pool.shutdown_timeout(Duration::from_millis(10)),
        "a job runs"
    );
    assert!(pool.is_shut_down() && !pool.is_terminated());
    assert!(!pool.await_termination(Duration::ZERO));
    assert!(pool.submit(|| ()).unwrap_err().is_shut_down());
    blocker.open();
    assert!(pool.await_termination(PATIENCE));
    assert!(pool.is_terminated());
    assert!(pool.shutdown_timeout(Duration::ZERO));
    assert_eq!(pool.stats().workers, 0);
}

#[test]
fn a_job_ignoring_shutdown_now_keeps_the_pool_from_terminating() {
    let pool = WorkerPool::new(1).unwrap();
    let blocker = occupy(&pool); // waits on its gate, not on its token
    assert!(pool.shutdown_now().is_empty());
    assert!(!pool.await_termination(Duration::from_millis(10)));
    assert!(!pool.is_terminated());
    blocker.release();
    assert!(pool.await_termination(PATIENCE));
}

thread_local! {
    /// Set on a worker by a job; dropped when the thread exits.
    static EXIT_PROBE: RefCell<Option<DropFlag>> = const { RefCell::new(None) };
}

#[test]
fn drop_runs_the_queued_jobs_and_joins_the_workers() {
    let pool = WorkerPool::new(1).unwrap();
    let blocker = occupy(&pool);
    let (probe, exited) = DropFlag::new();
    pool.execute(move || EXIT_PROBE.with(|slot| *slot.borrow_mut() = Some(probe)))
        .unwrap();
    let ran = execute_counting(&pool, 50);
    blocker.open();
    drop(pool);
    assert_eq!(ran.load(Ordering::SeqCst), 50, "drop ran the queue");
    assert!(
        exited.load(Ordering::SeqCst) == 1,
        "the worker thread had exited when drop returned"
    );
}

#[test]
fn shutting_down_from_inside_a_job_does_not_deadlock() {
    let pool = Arc::new(WorkerPool::new(2).unwrap());
    let inner = pool.clone();
    let handle = pool
        .submit(move || {
            inner.shutdown();
            let timed = inner.shutdown_timeout(PATIENCE);
            (inner.is_shut_down(), timed)
        })
        .unwrap();
    let result = handle.join_timeout(PATIENCE).expect("no deadlock");
    assert_eq!(result, Ok((true, false)), "a worker cannot wait for itself");
    pool.shutdown();
    assert!(pool.is_terminated());

    let pool = Arc::new(WorkerPool::new(1).unwrap());
    let blocker = occupy(&pool);
    let inner = pool.clone();
    let handle = pool.submit(move || inner.shutdown_now().len()).unwrap();
    let queued = pool.submit(|| "handed back").unwrap();
    blocker.open();
    assert_eq!(handle.join_timeout(PATIENCE).expect("no deadlock"), Ok(1));
    assert_eq!(queued.join(), Err(JobError::ShutDown));
    pool.shutdown();
}

#[test]
fn dropping_the_pool_inside_its_own_job_does_not_deadlock() {
    let pool = Arc::new(WorkerPool::new(2).unwrap());
    let gate = CancelToken::new();
    let handle = pool
        .submit({
            let pool = pool.clone();
            let gate = gate.clone();
            move || {
                gate.wait();
                drop(pool); // the last handle: the pool's drop runs on this worker
                "dropped"
            }
        })
        .unwrap();
    drop(pool);
    gate.cancel();
    assert_eq!(
        handle.join_timeout(PATIENCE).expect("no deadlock"),
        Ok("dropped")
    );
}

/// Runs `on_exit` when the current thread ends, after its main function returned: what
/// a thread that joins it waits for.
fn at_thread_exit(on_exit: impl FnOnce() + 'static) {
    struct AtExit(Option<Box<dyn FnOnce()>>);
    impl Drop for AtExit {
        fn drop(&mut self) {
            if let Some(on_exit) = self.0.take() {
                on_exit();
            }
        }
    }
    thread_local! {
        static AT_EXIT: RefCell<Option<AtExit>> = const { RefCell::new(None) };
    }
    AT_EXIT.with(|slot| *slot.borrow_mut() = Some(AtExit(Some(Box::new(on_exit)))));
}

/// The pool is dropped by its own job, on worker A, while worker B has already exited:
/// A, the last worker out, joins B — it ends only after B's thread has finished, which
/// the test holds back (B's thread-exit code waits on a gate). Without that join, A's
/// thread would end at once, leaving B's unjoined.
#[test]
#[cfg_attr(
    miri,
    ignore = "watches thread states in /proc, which Miri does not have"
)]
fn a_pool_dropped_by_its_own_job_is_joined_by_its_last_worker() {
    let name = unique_name("in-job-drop");
    let pool = Arc::new(
        WorkerPool::builder()
            .workers(2)
            .name(&name)
            .build()
            .unwrap(),
    );
    let (a_ended_tx, a_ended) = std::sync::mpsc::channel();
    let (b_exiting_tx, b_exiting) = std::sync::mpsc::channel();
    let b_gate = CancelToken::new();
    let drop_gate = CancelToken::new();
    let a = submit_gated(&drop_gate, |gated| {
        let pool = pool.clone();
        pool.clone()
            .submit_with(move |cx| {
                gated.enter();
                at_thread_exit(move || a_ended_tx.send(()).unwrap());
                drop(pool); // the last handle: the pool's drop runs on this worker
                recv(&b_exiting, "worker B to exit"); // so that A is the last out
                cx.worker_index().unwrap()
            })
            .unwrap()
    });
    let b_gate_in_job = b_gate.clone();
    let b = pool
        .submit(move || {
            at_thread_exit(move || {
                b_exiting_tx.send(()).unwrap();
                b_gate_in_job.wait();
            });
        })
        .unwrap();
    assert_eq!(b.join(), Ok(()));
    drop(pool);
    drop_gate.cancel();
    let a_index = a.join().unwrap();
    let a_thread = format!("{name}-{a_index}");
    assert!(
        seen_asleep(&a_thread, || a_ended.try_recv().is_ok()),
        "the last worker ended without joining the one still finishing"
    );
    b_gate.cancel();
    recv(&a_ended, "the last worker to end, once it joined the other");
}

#[test]
fn scoped_jobs_are_never_handed_back() {
    let pool = WorkerPool::new(1).unwrap();
    let local_ran = AtomicBool::new(false);
    let (pending, queued, running) = pool.scope(|s| {
        let running = once_started("the scoped job to start", |started| {
            s.submit_with(move |cx| {
                started.send(()).unwrap();
                cx.token().wait()
            })
            .unwrap()
        });
        let queued = s
            .submit(|| local_ran.store(true, Ordering::SeqCst))
            .unwrap();
        let pending = pool.shutdown_now();
        (pending.len(), queued.join(), running.join())
    });
    assert_eq!(
        pending, 0,
        "a scoped job borrows the scope: never handed back"
    );
    assert_eq!(queued, Err(JobError::ShutDown));
    assert_eq!(running, Ok(CancelReason::Cancelled));
    assert!(!local_ran.load(Ordering::SeqCst));
}
