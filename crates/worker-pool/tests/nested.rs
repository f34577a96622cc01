//! Tests for jobs that submit jobs, and for the workers' own queues those go to: such a
//! submit never blocks a worker, idle workers are woken to steal what a busy one queued
//! (or took from the shared queue in a batch), and `shutdown_now` and the stats see
//! every own queue.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

use common::{recv, seen_asleep, settled, unique_name, wait_for, PATIENCE};
use patterns_core::CancelToken;
use worker_pool::{JobError, Rejection, WorkerPool};

#[test]
fn a_job_submits_more_jobs_than_the_queue_holds_without_blocking_its_worker() {
    // One worker, one queue place, refusing when full: from outside, a second queued
    // job is refused; from the worker's own job, every submit goes to its own queue.
    let pool = WorkerPool::builder()
        .workers(1)
        .queue_capacity(1)
        .rejection(Rejection::Reject)
        .build()
        .unwrap();
    let ran = AtomicUsize::new(0);
    pool.scope(|s| {
        let ran = &ran;
        s.execute(move || {
            for _ in 0..1000 {
                s.execute(move || {
                    ran.fetch_add(1, Ordering::Relaxed);
                })
                .expect("a job's own submit is never refused as full");
            }
        })
        .unwrap();
    });
    assert_eq!(ran.load(Ordering::Relaxed), 1000);
    let stats = settled(&pool, 1001);
    assert_eq!((stats.rejected, stats.completed), (0, 1001));
}

#[test]
fn a_job_waiting_for_a_scope_of_its_own_gets_its_jobs_run_by_another_worker() {
    let pool = WorkerPool::new(2).unwrap();
    let total = pool.scope(|outer| {
        let pool = &pool;
        outer
            .submit(move || {
                let parts = [1u64, 2, 3, 4];
                pool.scope(|inner| {
                    let handles: Vec<_> = parts
                        .iter()
                        .map(|part| inner.submit(move || part * 10).unwrap())
                        .collect();
                    handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
                })
            })
            .unwrap()
            .join()
    });
    assert_eq!(total, Ok(100));
}

#[test]
fn a_job_joining_a_job_it_submitted_gets_it_run_by_another_worker() {
    let pool = Arc::new(WorkerPool::new(2).unwrap());
    let inner_pool = Arc::clone(&pool);
    let outer = pool
        .submit(move || {
            let child = inner_pool.submit(|| 6 * 7).unwrap();
            child.join()
        })
        .unwrap();
    assert_eq!(outer.join(), Ok(Ok(42)));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "watches thread states in /proc, which Miri does not have"
)]
fn every_sleeping_worker_is_woken_for_the_jobs_a_busy_one_queued() {
    // The parent queues two children on its own queue and the three meet at a barrier:
    // with three workers each needs one, so the one nudge in flight for the first child
    // must be passed on for the second (a thief of a two-job queue takes one).
    for _ in 0..10 {
        let name = unique_name("wake");
        let pool = WorkerPool::builder()
            .workers(3)
            .name(&name)
            .build()
            .unwrap();
        for index in 0..3 {
            assert!(seen_asleep(&format!("{name}-{index}"), || false));
        }
        let meeting = Meeting::new(3);
        pool.scope(|s| {
            let meeting = &meeting;
            s.execute(move || {
                for _ in 0..2 {
                    s.execute(move || meeting.attend()).unwrap();
                }
                meeting.attend();
            })
            .unwrap();
        });
    }
}

/// A barrier that fails the test after [`PATIENCE`] instead of hanging.
struct Meeting {
    arrived: Mutex<usize>,
    all_here: Condvar,
    expected: usize,
}

impl Meeting {
    fn new(expected: usize) -> Meeting {
        Meeting {
            arrived: Mutex::new(0),
            all_here: Condvar::new(),
            expected,
        }
    }

    fn attend(&self) {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_here.notify_all();
        let (arrived, waited) = self
            .all_here
            .wait_timeout_while(arrived, PATIENCE, |arrived| *arrived < self.expected)
            .unwrap();
        assert!(
            !waited.timed_out(),
            "{} of {} met: a worker slept while a job waited for it",
            *arrived,
            self.expected
        );
    }
}

#[test]
fn an_idle_worker_steals_the_job_a_busy_one_queued_for_itself() {
    // The parent waits for its child on a channel, which it cannot help with: only the
    // other worker can run the child, which sits on the parent's worker's own queue.
    let pool = WorkerPool::new(2).unwrap();
    let (parent_worker, child_worker) = pool.scope(|s| {
        s.submit_with(move |cx| {
            let (ran, child_ran) = mpsc::channel();
            let _child = s
                .submit_with(move |cx| ran.send(cx.worker_index()).unwrap())
                .unwrap();
            let child_worker = recv(&child_ran, "the child, run by the other worker");
            (cx.worker_index(), child_worker)
        })
        .unwrap()
        .join()
        .unwrap()
    });
    assert!(parent_worker.is_some() && child_worker.is_some());
    assert_ne!(parent_worker, child_worker);
}

#[test]
fn idle_workers_steal_the_rest_of_a_batch_whose_first_job_blocks() {
    // A worker takes up to 64 queued jobs at once and runs the first; if that one blocks,
    // the rest must not wait behind it: the other worker steals them.
    let pool = WorkerPool::new(2).unwrap();
    let gate = CancelToken::new();
    let blocker = {
        let gate = gate.clone();
        pool.submit(move || gate.wait()).unwrap()
    };
    let quick = Arc::new(AtomicUsize::new(0));
    for _ in 0..12 {
        let quick = Arc::clone(&quick);
        pool.execute(move || {
            quick.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    }
    wait_for("the quick jobs, while the blocker blocks", || {
        quick.load(Ordering::Relaxed) == 12
    });
    assert!(!blocker.is_finished());
    gate.cancel();
    assert!(blocker.join().is_ok());
}

#[test]
fn shutdown_now_hands_back_what_a_running_job_queued_for_its_worker() {
    let pool = Arc::new(WorkerPool::new(1).unwrap());
    let (children_tx, children) = mpsc::channel();
    let parent = {
        let inner_pool = Arc::clone(&pool);
        pool.submit_with(move |cx| {
            let handles: Vec<_> = (0..5)
                .map(|n| inner_pool.submit(move || n).unwrap())
                .collect();
            children_tx.send(handles).unwrap();
            cx.token().wait(); // until `shutdown_now` fires it
        })
        .unwrap()
    };
    let handles = recv(&children, "the children's handles");
    let stats = pool.stats();
    assert_eq!(
        (stats.busy, stats.queued),
        (1, 5),
        "a worker's own queue counts as queued"
    );

    let pending = pool.shutdown_now();
    assert_eq!(pending.len(), 5, "every child comes back unrun");
    drop(pending);
    for handle in handles {
        assert_eq!(handle.join(), Err(JobError::ShutDown));
    }
    assert_eq!(parent.join(), Ok(()));
    pool.shutdown();
    let stats = pool.stats();
    assert_eq!((stats.handed_back, stats.completed), (5, 1));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "watches thread states in /proc, which Miri does not have"
)]
fn the_wake_up_for_a_job_s_own_children_takes_no_place_in_the_queue() {
    // One worker asleep; the other's job queues a child on its own queue, which wakes
    // the sleeper, and at once lets a caller submit to the shared queue, whose one place
    // is free: the wake-up is no job, so the submit is accepted, and the stats count the
    // three jobs and nothing else. (When the wake-up was an empty job in the shared
    // queue, the submit found it full about one time in two.)
    for _ in 0..50 {
        let name = unique_name("wake-place");
        let pool = Arc::new(
            WorkerPool::builder()
                .workers(2)
                .queue_capacity(1)
                .rejection(Rejection::Reject)
                .name(&name)
                .build()
                .unwrap(),
        );
        for index in 0..2 {
            assert!(seen_asleep(&format!("{name}-{index}"), || false));
        }
        let (queued_tx, queued) = mpsc::channel();
        let inner = Arc::clone(&pool);
        let parent = pool
            .submit(move || {
                inner.execute(|| {}).unwrap();
                queued_tx.send(()).unwrap();
            })
            .unwrap();
        recv(&queued, "the parent's child queued");
        assert!(
            pool.execute(|| {}).is_ok(),
            "the shared queue's one place was taken"
        );
        assert_eq!(parent.join(), Ok(()));
        pool.shutdown();
        let stats = pool.stats();
        assert_eq!((stats.submitted, stats.completed), (3, 3));
    }
}
