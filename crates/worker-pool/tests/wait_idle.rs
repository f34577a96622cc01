//! Tests for `wait_idle` and `wait_idle_timeout`: they return once every job submitted
//! before the call has ended — not only those running, and not those submitted while
//! they wait — and the pool stays open.
//!
//! Every wait that should return is bounded (`wait_idle_timeout(PATIENCE)`, or a thread
//! whose answer is received under `PATIENCE`), so a lost wake-up fails the test instead
//! of hanging it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::{occupy, recv, seen_asleep, single, unique_name, PATIENCE};
use patterns_core::CancelToken;
use worker_pool::{Rejection, WorkerPool};

#[test]
fn every_job_submitted_before_has_ended_when_it_returns() {
    let pool = WorkerPool::new(2).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    for round in 1..=20 {
        for _ in 0..100 {
            let done = done.clone();
            pool.execute(move || {
                done.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        }
        assert!(pool.wait_idle_timeout(PATIENCE));
        assert_eq!(done.load(Ordering::Relaxed), round * 100, "round {round}");
    }
    assert_eq!(pool.submit(|| 7).unwrap().join(), Ok(7), "still open");
}

#[test]
fn it_blocks_while_a_job_runs_and_returns_when_it_ends() {
    let pool = WorkerPool::new(2).unwrap();
    let blocker = occupy(&pool);
    let name = unique_name("idle-wait");
    let (answered, answer) = mpsc::channel();
    thread::scope(|s| {
        thread::Builder::new()
            .name(name.clone())
            .spawn_scoped(s, || answered.send(pool.wait_idle()).unwrap())
            .unwrap();
        assert!(
            seen_asleep(&name, || false),
            "wait_idle waits for the running job"
        );
        assert!(answer.try_recv().is_err(), "not returned while it runs");
        blocker.release();
        assert!(recv(&answer, "wait_idle's answer"));
    });
}

#[test]
fn a_timed_wait_gives_up_while_a_job_runs() {
    let pool = WorkerPool::new(1).unwrap();
    let blocker = occupy(&pool);
    assert!(!pool.wait_idle_timeout(Duration::from_millis(20)));
    assert!(!pool.wait_idle_timeout(Duration::ZERO));
    blocker.release();
    assert!(pool.wait_idle_timeout(PATIENCE));
    assert!(pool.wait_idle_timeout(Duration::ZERO), "idle: true at once");
}

/// A job that submits its successor until `stop` fires: the pool is never idle.
fn chain(pool: Arc<WorkerPool>, stop: CancelToken, links: Arc<AtomicUsize>) {
    links.fetch_add(1, Ordering::Relaxed);
    if stop.is_cancelled() {
        return;
    }
    let next = pool.clone();
    // The pool is open while the test holds it; a refusal would end the chain early,
    // which the test's count of links would show.
    let _ = pool.execute(move || chain(next, stop, links));
}

#[test]
fn a_pool_that_is_never_idle_still_lets_it_return() {
    let pool = Arc::new(WorkerPool::new(2).unwrap());
    let stop = CancelToken::new();
    let links = Arc::new(AtomicUsize::new(0));
    {
        let (pool2, stop, links) = (pool.clone(), stop.clone(), links.clone());
        pool.execute(move || chain(pool2, stop, links)).unwrap();
    }
    common::wait_for("the chain to run", || links.load(Ordering::Relaxed) > 10);
    // Only the links submitted before the call count, and each ends soon.
    assert!(pool.wait_idle_timeout(PATIENCE));
    let seen = links.load(Ordering::Relaxed);
    common::wait_for("the chain to go on", || {
        links.load(Ordering::Relaxed) > seen + 10
    });
    stop.cancel();
    assert!(
        pool.wait_idle_timeout(PATIENCE),
        "the chain ends once stopped"
    );
}

#[test]
fn from_one_of_its_own_jobs_it_returns_false_at_once() {
    let pool = Arc::new(WorkerPool::new(2).unwrap());
    let inner = pool.clone();
    let answer = pool
        .submit(move || (inner.wait_idle(), inner.wait_idle_timeout(PATIENCE)))
        .unwrap();
    assert_eq!(answer.join(), Ok((false, false)));
}

#[test]
fn refused_and_cancelled_jobs_do_not_keep_it_waiting() {
    let pool = single(1, Rejection::Reject);
    let blocker = occupy(&pool);
    let queued = pool.submit(|| ()).unwrap();
    assert!(pool.try_submit(|| ()).unwrap_err().is_full());
    assert!(queued.cancel(), "cancelled while queued");
    blocker.release();
    assert!(pool.wait_idle_timeout(PATIENCE));
}

#[test]
fn a_job_handed_back_by_shutdown_now_ends_when_its_pending_job_is_dropped() {
    let pool = single(4, Rejection::Reject);
    let blocker = occupy(&pool);
    let queued = pool.submit(|| 3).unwrap();
    let pending = pool.shutdown_now();
    assert_eq!(pending.len(), 1);
    blocker.release();
    assert!(
        !pool.wait_idle_timeout(Duration::from_millis(20)),
        "the handed-back job has not ended"
    );
    drop(pending);
    assert!(pool.wait_idle_timeout(PATIENCE));
    assert!(queued.join().is_err(), "dropped unrun");
}
