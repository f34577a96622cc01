//! Tests for a hand-off pool (`queue_capacity(0)`, Java's `SynchronousQueue`): a job is
//! taken only by a worker that waits for one, or by a new worker while the pool may grow;
//! otherwise the policy decides as for a full queue.

mod common;

use std::sync::mpsc;
use std::thread;

use common::{occupy, recv, seen_asleep, settled, stats_when, unique_name, PATIENCE};
use worker_pool::{Rejection, WorkerPool};

fn hand_off(workers: usize, rejection: Rejection) -> WorkerPool {
    WorkerPool::builder()
        .workers(workers)
        .queue_capacity(0)
        .rejection(rejection)
        .build()
        .unwrap()
}

#[test]
fn an_idle_worker_takes_the_job_and_nothing_is_ever_queued() {
    let pool = hand_off(2, Rejection::Block);
    stats_when(&pool, "two idle workers", |s| s.idle == 2);
    let handles: Vec<_> = (0..100)
        .map(|n| pool.submit(move || n * 2).unwrap())
        .collect();
    for (n, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.join(), Ok(n * 2));
    }
    let stats = settled(&pool, 100);
    assert_eq!((stats.queued, stats.submitted, stats.rejected), (0, 100, 0));
}

#[test]
fn with_every_worker_busy_a_try_submit_and_a_reject_pool_refuse_the_job() {
    for rejection in [Rejection::Reject, Rejection::Block] {
        let pool = hand_off(1, rejection);
        let blocker = occupy(&pool);
        let refused = pool.try_submit(|| "back").unwrap_err();
        assert!(refused.is_full());
        assert_eq!(refused.into_inner()(), "back");
        if rejection == Rejection::Reject {
            assert!(pool.submit(|| ()).unwrap_err().is_full());
        }
        blocker.release();
    }
}

#[test]
fn a_blocking_submit_waits_until_a_worker_is_free_then_hands_the_job_over() {
    let pool = hand_off(1, Rejection::Block);
    let blocker = occupy(&pool);
    let name = unique_name("handoff");
    let (handed, over) = mpsc::channel();
    thread::scope(|s| {
        thread::Builder::new()
            .name(name.clone())
            .spawn_scoped(s, || {
                let handle = pool.submit(|| 5).unwrap();
                handed.send(handle.join()).unwrap();
            })
            .unwrap();
        assert!(
            seen_asleep(&name, || false),
            "the submit waits while the only worker is busy"
        );
        assert_eq!(pool.stats().blocked_submitters, 1);
        blocker.release();
        assert_eq!(recv(&over, "the handed-over job"), Ok(5));
    });
}

#[test]
fn caller_runs_runs_the_job_here_when_no_worker_is_free() {
    let pool = hand_off(1, Rejection::CallerRuns);
    let blocker = occupy(&pool);
    let here = thread::current().id();
    let ran_on = pool.submit(move || thread::current().id()).unwrap();
    assert_eq!(ran_on.join(), Ok(here));
    blocker.release();
    assert_eq!(pool.stats().caller_ran, 1);
}

#[test]
fn a_job_s_own_submissions_still_go_to_its_worker_s_queue() {
    let pool = std::sync::Arc::new(hand_off(2, Rejection::Reject));
    let inner = pool.clone();
    // The first job waits for a worker to take it; its own submissions never wait.
    let sum = pool
        .submit_timeout(
            move || {
                let children: Vec<_> = (1..=10u32)
                    .map(|n| {
                        inner
                            .submit(move || n)
                            .expect("own submissions are never full")
                    })
                    .collect();
                children.into_iter().map(|c| c.join().unwrap()).sum::<u32>()
            },
            PATIENCE,
        )
        .unwrap();
    assert_eq!(sum.join(), Ok(55));
}
