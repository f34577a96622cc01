//! Tests for the cap on blocked submitters (`Builder::max_blocked_submitters`, ants'
//! `MaxBlockingTasks`): past it a submit that would wait for room is refused at once with
//! `SubmitError::Overloaded`, its job handed back; the `blocked_submitters` gauge; what
//! the cap does not concern (`try_submit`, `Reject`, a job's own submits); and shutdown.
//!
//! A submitter is known to wait once the gauge counts it (it is counted before it blocks,
//! and the cap compares against the same count): the tests poll the gauge, never sleep.

mod common;

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use common::{occupy, recv, stats_when, PATIENCE};
use worker_pool::{JobHandle, Rejection, SubmitError, WorkerPool};

/// A pool of one worker and a one-place queue, with at most `cap` blocked submitters.
fn capped(cap: usize, rejection: Rejection) -> Arc<WorkerPool> {
    Arc::new(
        WorkerPool::builder()
            .workers(1)
            .queue_capacity(1)
            .rejection(rejection)
            .max_blocked_submitters(cap)
            .build()
            .unwrap(),
    )
}

/// Starts a thread that submits a job returning `value` (blocking until there is room),
/// and returns once the pool counts it among the blocked submitters, `blocked` in all.
fn blocked_submit(
    pool: &Arc<WorkerPool>,
    value: u32,
    blocked: usize,
) -> thread::JoinHandle<JobHandle<u32>> {
    let submitter = {
        let pool = Arc::clone(pool);
        thread::spawn(move || {
            pool.submit(move || value)
                .expect("accepted once room comes")
        })
    };
    stats_when(pool, &format!("{blocked} blocked submitters"), |s| {
        s.blocked_submitters == blocked
    });
    submitter
}

#[test]
fn a_submit_past_the_cap_is_refused_at_once_and_gets_its_job_back() {
    let pool = capped(1, Rejection::Block);
    let blocker = occupy(&pool);
    let queued = pool.submit(|| 1).unwrap(); // the queue's one place
    let waiting = blocked_submit(&pool, 2, 1);

    match pool.submit(|| 3) {
        Err(SubmitError::Overloaded(job)) => assert_eq!(job(), 3),
        other => panic!("expected Overloaded, got {other:?}"),
    }
    // A timed submit would wait too: the cap concerns it as well.
    let refused = pool.submit_timeout(|| 4, PATIENCE).unwrap_err();
    assert!(refused.is_overloaded() && !refused.is_full() && !refused.is_shut_down());
    assert_eq!(
        refused.to_string(),
        "job rejected: the queue is full and too many submitters already wait for room"
    );
    assert_eq!(format!("{refused:?}"), "Overloaded(..)");
    assert_eq!(refused.into_inner()(), 4);
    let stats = pool.stats();
    assert_eq!((stats.rejected, stats.blocked_submitters), (2, 1));

    blocker.release();
    let waited = waiting.join().unwrap();
    assert_eq!((queued.join(), waited.join()), (Ok(1), Ok(2)));
    let stats = stats_when(&pool, "the waiter to leave the gauge", |s| {
        s.blocked_submitters == 0
    });
    assert_eq!((stats.submitted, stats.rejected), (3, 2));
}

#[test]
fn exactly_n_submitters_may_wait() {
    let pool = capped(2, Rejection::Block);
    let blocker = occupy(&pool);
    let queued = pool.submit(|| 0).unwrap();
    let first = blocked_submit(&pool, 1, 1);
    let second = blocked_submit(&pool, 2, 2);
    assert!(pool.submit(|| 3).unwrap_err().is_overloaded());
    blocker.release();
    let handles = [queued, first.join().unwrap(), second.join().unwrap()];
    let values: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(values, [0, 1, 2]);
}

#[test]
fn without_a_cap_every_submitter_waits_and_the_gauge_counts_them() {
    let pool = Arc::new(
        WorkerPool::builder()
            .workers(1)
            .queue_capacity(1)
            .build()
            .unwrap(),
    );
    let blocker = occupy(&pool);
    let queued = pool.submit(|| 0).unwrap();
    let waiters: Vec<_> = (1..=3)
        .map(|n| blocked_submit(&pool, n, n as usize))
        .collect();
    assert_eq!(pool.stats().rejected, 0);
    blocker.release();
    assert_eq!(queued.join(), Ok(0));
    let mut values: Vec<_> = waiters
        .into_iter()
        .map(|w| w.join().unwrap().join().unwrap())
        .collect();
    values.sort_unstable();
    assert_eq!(values, [1, 2, 3]);
}

#[test]
fn try_submit_and_the_reject_policy_never_wait_so_the_cap_leaves_them_alone() {
    let pool = capped(1, Rejection::Block);
    let blocker = occupy(&pool);
    let queued = pool.submit(|| 0).unwrap();
    let waiting = blocked_submit(&pool, 1, 1);
    // At the cap, a submit that would not wait still fails as it always did.
    assert!(pool.try_submit(|| 2).unwrap_err().is_full());

    let reject = capped(1, Rejection::Reject);
    let other_blocker = occupy(&reject);
    let other_queued = reject.submit(|| 0).unwrap();
    assert!(reject.submit(|| 1).unwrap_err().is_full());
    // A timed submit waits whatever the policy, and the cap applies to it.
    let timed = {
        let reject = Arc::clone(&reject);
        thread::spawn(move || reject.submit_timeout(|| 5, PATIENCE).map(|h| h.join()))
    };
    stats_when(&reject, "the timed submitter to wait", |s| {
        s.blocked_submitters == 1
    });
    assert!(reject
        .submit_timeout(|| 6, PATIENCE)
        .unwrap_err()
        .is_overloaded());
    // A zero time-out does not wait: it times out rather than being overloaded.
    let zero = reject.submit_timeout(|| 7, Duration::ZERO).unwrap_err();
    assert!(matches!(zero, SubmitError::TimedOut(_)), "{zero:?}");

    other_blocker.release();
    assert_eq!(other_queued.join(), Ok(0));
    assert!(matches!(timed.join().unwrap(), Ok(Ok(5))));
    blocker.release();
    assert_eq!(queued.join(), Ok(0));
    assert_eq!(waiting.join().unwrap().join(), Ok(1));
}

#[test]
fn shutdown_wakes_the_blocked_submitters_and_frees_their_places() {
    let pool = capped(1, Rejection::Block);
    let blocker = occupy(&pool);
    let queued = pool.submit(|| 0).unwrap();
    let submitter = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || pool.submit(|| 1).map(|_| ()).unwrap_err())
    };
    stats_when(&pool, "the submitter to wait", |s| {
        s.blocked_submitters == 1
    });
    let closer = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || pool.shutdown())
    };
    let refused = submitter.join().unwrap();
    assert!(refused.is_shut_down(), "{refused:?}");
    assert_eq!(refused.into_inner()(), 1);
    assert_eq!(pool.stats().blocked_submitters, 0);
    blocker.release();
    closer.join().unwrap();
    assert_eq!(queued.join(), Ok(0));
    // Shut down, the pool refuses as shut down, not as overloaded.
    assert!(pool.submit(|| 2).unwrap_err().is_shut_down());
}

#[test]
fn a_job_s_own_submits_are_never_refused_as_overloaded() {
    let pool = Arc::new(
        WorkerPool::builder()
            .workers(2)
            .queue_capacity(1)
            .max_blocked_submitters(1)
            .build()
            .unwrap(),
    );
    let (go, wait) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel();
    let parent = {
        let inner = Arc::clone(&pool);
        pool.submit(move || {
            started.send(()).unwrap();
            wait.recv().unwrap();
            // The shared queue is full and a submitter waits: this goes onto the
            // worker's own queue all the same (and runs once the parent returned).
            inner
                .submit(|| 10)
                .map_err(|refused| format!("{refused:?}"))
        })
        .unwrap()
    };
    recv(&running, "the parent to start");
    let blocker = occupy(&pool); // the other worker
    let queued = pool.submit(|| 0).unwrap();
    let waiting = blocked_submit(&pool, 1, 1);
    assert!(pool.submit(|| 2).unwrap_err().is_overloaded());
    go.send(()).unwrap();
    let child = parent
        .join()
        .unwrap()
        .expect("a job's own submit is accepted");
    assert_eq!(child.join(), Ok(10));
    blocker.release();
    assert_eq!(queued.join(), Ok(0));
    assert_eq!(waiting.join().unwrap().join(), Ok(1));
}

#[test]
fn zero_blocked_submitters_is_a_build_error() {
    let error = WorkerPool::builder()
        .max_blocked_submitters(0)
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "max_blocked_submitters must be at least 1 (for none, use Rejection::Reject), got 0"
    );
}
