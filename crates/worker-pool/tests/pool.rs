//! Tests for building a pool and handing it jobs: every `BuildError`, the submitting
//! methods, every `Rejection` policy on a full queue (and what each hands back),
//! priorities, thread names and stack size, the panic hook, and that panics never shrink
//! the pool.
//!
//! A full queue is made by occupying every worker with a job that waits on a gate
//! (`common::occupy`) and filling the queue's places; nothing waits by sleeping.

mod common;

use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{
    occupy, occupy_all, recording_panics, recv, seen_asleep, settled, single, submit_gated,
    unique_name, with_growing_deadlines, Blocker, DropFlag, PanicOnDrop, PATIENCE,
};
use patterns_core::CancelToken;
use worker_pool::{
    BuildError, GroupError, JobError, JobHandle, JobPanic, Rejection, SubmitError, WorkerPool,
};

fn build_error(result: Result<WorkerPool, BuildError>) -> BuildError {
    result.expect_err("the builder refuses these settings")
}

/// A pool of one worker, busy, with a queue of `capacity` places all taken.
fn full_pool(
    capacity: usize,
    rejection: Rejection,
) -> (WorkerPool, Blocker, Vec<JobHandle<usize>>) {
    let pool = single(capacity, rejection);
    let blocker = occupy(&pool);
    let queued = (0..capacity)
        .map(|n| pool.try_submit(move || n).expect("a free place"))
        .collect();
    (pool, blocker, queued)
}

#[test]
fn smoke() {
    let pool = WorkerPool::new(2).unwrap();
    let handles: Vec<_> = (0..100u64)
        .map(|n| pool.submit(move || n * 2).unwrap())
        .collect();
    let doubled: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(doubled, (0..100).map(|n| n * 2).collect::<Vec<_>>());
    let debug = format!("{pool:?}");
    assert!(debug.contains("workers: 2"), "{debug}");
    assert!(debug.contains("shut_down: false"), "{debug}");
}

/// A capacity is configuration: one whose queue cannot be allocated is a build error that
/// says why (it used to panic in the allocation, or abort when the allocator refused).
#[test]
fn a_queue_capacity_that_cannot_be_allocated_is_a_build_error() {
    for (capacity, why) in [
        (bounded_buffer::MAX_CAPACITY, "exceeds the maximum of"),
        (1 << 40, "cannot allocate"),
    ] {
        let error = build_error(
            WorkerPool::builder()
                .workers(1)
                .queue_capacity(capacity)
                .build(),
        );
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("queue_capacity {capacity} cannot be allocated: ")),
            "{message}"
        );
        let source = error.source().expect("the channel's error").to_string();
        assert!(
            source.contains(why) && message.ends_with(&source),
            "{message}"
        );
    }
    // A priority queue allocates nothing up front: any capacity will do.
    let pool = WorkerPool::builder()
        .workers(1)
        .priorities(true)
        .queue_capacity(usize::MAX)
        .build()
        .unwrap();
    assert_eq!(pool.submit(|| 1).unwrap().join(), Ok(1));
}

#[test]
fn every_build_error_says_which_setting_is_wrong() {
    let cases = [
        (
            WorkerPool::new(0),
            "workers must be at least 1, got 0".to_owned(),
        ),
        (
            WorkerPool::builder().workers(0).build(),
            "workers must be at least 1, got 0".to_owned(),
        ),
        (
            WorkerPool::builder()
                .min_workers(2)
                .max_workers(4)
                .workers(0)
                .build(),
            "workers must be at least 1, got 0".to_owned(),
        ),
        (
            WorkerPool::builder().min_workers(0).max_workers(0).build(),
            "max_workers must be at least 1, got 0".to_owned(),
        ),
        (
            WorkerPool::builder().min_workers(1).max_workers(0).build(),
            "max_workers must be at least 1, got 0".to_owned(),
        ),
        (
            WorkerPool::builder().min_workers(3).max_workers(2).build(),
            "min_workers (3) is larger than max_workers (2)".to_owned(),
        ),
        (
            WorkerPool::builder()
                .workers(1)
                .queue_capacity(0)
                .priorities(true)
                .build(),
            "queue_capacity 0 (a hand-off queue) cannot have priorities: no job waits to be ordered"
                .to_owned(),
        ),
        (
            WorkerPool::builder()
                .workers(1)
                .queue_capacity(0)
                .rejection(Rejection::DropOldest)
                .build(),
            "queue_capacity 0 (a hand-off queue) cannot take Rejection::DropOldest: no job waits to be evicted"
                .to_owned(),
        ),
        (
            WorkerPool::builder().workers(1).stack_size(0).build(),
            "stack_size must be at least 1 byte, got 0".to_owned(),
        ),
        (
            WorkerPool::builder().workers(1).sample_timings(0).build(),
            "sample_timings must be at least 1 (one job in n), got 0".to_owned(),
        ),
    ];
    for (result, message) in cases {
        let error = build_error(result);
        assert_eq!(error.to_string(), message);
        assert!(
            error.source().is_none(),
            "{message}: a setting has no source"
        );
    }
}

#[test]
fn a_thread_that_cannot_start_is_a_build_error_with_the_os_error_as_source() {
    // A petabyte of stack: more address space than the machine has.
    let error = build_error(
        WorkerPool::builder()
            .workers(2)
            .name("nostack")
            .stack_size(1 << 50)
            .build(),
    );
    assert_eq!(
        error.to_string(),
        r#"could not start worker thread "nostack""#
    );
    let source = error.source().expect("the operating system's error");
    assert!(
        source.downcast_ref::<std::io::Error>().is_some(),
        "{source:?}"
    );
}

#[test]
fn execute_runs_jobs_without_a_result_slot() {
    let pool = WorkerPool::new(3).unwrap();
    let hits = common::execute_counting(&pool, 1000);
    pool.shutdown();
    assert_eq!(hits.load(Ordering::SeqCst), 1000);
}

#[test]
fn try_submit_never_waits_and_hands_the_job_back_when_full() {
    // The default policy blocks; `try_submit` must not.
    let (pool, blocker, queued) = full_pool(2, Rejection::Block);
    let refused = pool.try_submit(|| 99).unwrap_err();
    assert!(refused.is_full() && !refused.is_shut_down());
    assert_eq!(format!("{refused:?}"), "Full(..)");
    assert_eq!(refused.to_string(), "job rejected: the queue is full");
    assert_eq!(refused.into_inner()(), 99, "the very closure comes back");
    blocker.release();
    let values: Vec<usize> = queued.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(values, [0, 1]);
    assert_eq!(pool.try_submit(|| 7).unwrap().join(), Ok(7), "room again");
}

#[test]
fn submit_timeout_hands_the_job_back_when_the_queue_stays_full() {
    let (pool, blocker, _queued) = full_pool(1, Rejection::Block);
    match pool.submit_timeout(|| 5, Duration::from_millis(20)) {
        Err(SubmitError::TimedOut(job)) => assert_eq!(job(), 5),
        other => panic!("expected TimedOut, got {other:?}"),
    }
    let refused = pool
        .submit_timeout(|| 6, Duration::ZERO)
        .expect_err("a zero time-out on a full queue");
    assert_eq!(
        refused.to_string(),
        "job rejected: the queue stayed full until the time-out"
    );
    assert_eq!(format!("{refused:?}"), "TimedOut(..)");
    assert!(!refused.is_full() && !refused.is_shut_down());
    blocker.release();
    let handle = pool.submit_timeout(|| 8, PATIENCE).unwrap();
    assert_eq!(handle.join(), Ok(8));
}

/// Runs `submit` on a helper thread while the pool is full, releases the blocker once the
/// helper sleeps (blocked in `submit`), and returns what `submit` returned, and the
/// values of the jobs queued before. Fails if `submit` returned without blocking.
fn submit_into_full_pool<R: Send>(
    rejection: Rejection,
    submit: impl FnOnce(&WorkerPool) -> R + Send,
) -> (R, Vec<usize>) {
    let (pool, blocker, queued) = full_pool(1, rejection);
    let name = unique_name("submit");
    let (asleep, result) = thread::scope(|s| {
        let pool = &pool;
        let submitter = thread::Builder::new()
            .name(name.clone())
            .spawn_scoped(s, move || submit(pool))
            .unwrap();
        let asleep = seen_asleep(&name, || submitter.is_finished());
        blocker.open();
        (asleep, submitter.join().unwrap())
    });
    assert!(
        asleep,
        "the submit returned at once on a full queue instead of waiting for room"
    );
    let earlier = queued.into_iter().map(|h| h.join().unwrap()).collect();
    (result, earlier)
}

#[test]
fn submit_timeout_waits_whatever_the_policy() {
    let (result, earlier) = submit_into_full_pool(Rejection::Reject, |pool| {
        pool.submit_timeout(|| 10, PATIENCE).map(|h| h.join())
    });
    assert_eq!(result.expect("waited for room"), Ok(10));
    assert_eq!(earlier, [0]);
}

#[test]
fn submit_timeout_too_long_to_represent_waits_without_limit() {
    // `Instant + Duration::MAX` overflows: the wait must then have no limit (a plain
    // blocking submit), never fall back to the policy, which here would run the job on
    // the caller's thread.
    let ((submitter, ran_on), earlier) = submit_into_full_pool(Rejection::CallerRuns, |pool| {
        let ran_on = pool
            .submit_timeout(move || thread::current().id(), Duration::MAX)
            .expect("waited for room")
            .join()
            .unwrap();
        (thread::current().id(), ran_on)
    });
    assert_ne!(ran_on, submitter, "ran on a worker, not on the submitter");
    assert_eq!(earlier, [0]);
}

#[test]
fn block_policy_waits_for_room() {
    let (result, earlier) = submit_into_full_pool(Rejection::Block, |pool| {
        pool.submit(|| 11).map(|h| h.join())
    });
    assert_eq!(result.expect("waited for room"), Ok(11));
    assert_eq!(earlier, [0], "the earlier job ran too");
}

#[test]
fn reject_policy_hands_the_job_back_at_once() {
    let (pool, blocker, queued) = full_pool(2, Rejection::Reject);
    match pool.submit(|| 12) {
        Err(SubmitError::Full(job)) => assert_eq!(job(), 12),
        other => panic!("expected Full, got {other:?}"),
    }
    let hits = Arc::new(AtomicUsize::new(0));
    let job = {
        let hits = hits.clone();
        move || {
            hits.fetch_add(1, Ordering::Relaxed);
        }
    };
    let refused = pool.execute(job).expect_err("full");
    assert!(refused.is_full());
    refused.into_inner()();
    assert_eq!(hits.load(Ordering::Relaxed), 1, "ran once, by us");
    let refused = pool.submit_with(|cx| cx.worker_index()).expect_err("full");
    assert!(refused.is_full());
    blocker.release();
    let values: Vec<usize> = queued.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(values, [0, 1]);
    pool.shutdown();
    assert_eq!(hits.load(Ordering::Relaxed), 1, "the pool never ran it");
    assert_eq!(pool.stats().rejected, 3);
}

#[test]
fn caller_runs_policy_runs_the_job_on_the_submitting_thread() {
    let hook_calls = Arc::new(Mutex::new(Vec::new()));
    let pool = WorkerPool::builder()
        .workers(1)
        .queue_capacity(1)
        .rejection(Rejection::CallerRuns)
        .on_panic({
            let hook_calls = hook_calls.clone();
            move |panic: JobPanic<'_>| {
                hook_calls
                    .lock()
                    .unwrap()
                    .push((panic.message.to_owned(), panic.worker));
            }
        })
        .build()
        .unwrap();
    let blocker = occupy(&pool);
    let queued = pool.submit(|| 0).unwrap();
    let me = thread::current().id();

    let handle = pool.submit(move || thread::current().id()).unwrap();
    assert!(handle.is_finished(), "ran before submit returned");
    assert_eq!(handle.join(), Ok(me));

    let handle = pool
        .submit_with(|cx| (cx.worker_index(), cx.is_cancelled()))
        .unwrap();
    assert_eq!(handle.join(), Ok((None, false)), "not on a worker");

    let handle = pool
        .submit(|| -> u8 { panic!("caller-run panic") })
        .unwrap();
    assert_eq!(
        handle.join(),
        Err(JobError::Panicked("caller-run panic".into()))
    );
    pool.execute(|| panic!("caller-run execute")).unwrap();

    blocker.release();
    assert_eq!(queued.join(), Ok(0));
    assert_eq!(
        *hook_calls.lock().unwrap(),
        [
            ("caller-run panic".to_owned(), None),
            ("caller-run execute".to_owned(), None)
        ]
    );
}

#[test]
fn drop_oldest_policy_evicts_the_oldest_queued_job() {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let pool = single(2, Rejection::DropOldest);
    let blocker = occupy(&pool);
    let record = |n: u32| {
        let ran = ran.clone();
        move || {
            ran.lock().unwrap().push(n);
            n
        }
    };
    let first = pool.submit(record(1)).unwrap();
    let second = pool.submit(record(2)).unwrap();
    // A job without a handle is evicted like any other: dropped unrun.
    let (flag, dropped) = DropFlag::new();
    pool.execute(move || {
        let _flag = &flag;
        panic!("an evicted job never runs");
    })
    .unwrap();
    assert!(first.is_finished(), "evicted, resolved at once");
    assert_eq!(first.join(), Err(JobError::Discarded));
    let third = pool.submit(record(3)).unwrap();
    assert_eq!(second.join(), Err(JobError::Discarded));
    assert_eq!(dropped.load(Ordering::SeqCst), 0, "still queued");
    let fifth = pool.submit(record(5)).unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "evicted and dropped");
    blocker.release();
    assert_eq!(third.join(), Ok(3));
    assert_eq!(fifth.join(), Ok(5));
    pool.shutdown();
    assert_eq!(*ran.lock().unwrap(), [3, 5], "evicted jobs never ran");
    let stats = pool.stats();
    assert_eq!((stats.discarded, stats.rejected, stats.panicked), (3, 0, 0));
    assert_eq!(
        JobError::Discarded.to_string(),
        "job discarded from a full queue to make room for a newer one"
    );
}

/// The eviction happens inside an unrelated caller's `submit`: a panic from dropping the
/// evicted job's captures must not come out of it, nor cost the new job its place.
#[test]
fn a_panic_dropping_an_evicted_job_stays_out_of_the_submit_that_evicted_it() {
    for priorities in [false, true] {
        let (builder, seen) = recording_panics(
            WorkerPool::builder()
                .workers(1)
                .queue_capacity(1)
                .priorities(priorities)
                .rejection(Rejection::DropOldest),
        );
        let pool = builder.build().unwrap();
        let blocker = occupy(&pool);
        let doomed = PanicOnDrop("dropping the evicted job");
        let evicted = pool
            .submit(move || {
                let _doomed = &doomed;
            })
            .unwrap();
        let newer = pool.submit(|| "newer").expect("the newer job is queued");
        assert_eq!(evicted.join(), Err(JobError::Discarded));
        blocker.release();
        assert_eq!(newer.join(), Ok("newer"));
        pool.shutdown();
        let stats = pool.stats();
        assert_eq!((stats.discarded, stats.panicked), (1, 0), "{stats:?}");
        assert_eq!(
            *seen.lock().unwrap(),
            ["dropping a job that never ran: dropping the evicted job"]
        );
    }
}

#[test]
fn drop_oldest_with_priorities_evicts_the_oldest_of_the_lowest_priority() {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let pool = WorkerPool::builder()
        .workers(1)
        .queue_capacity(3)
        .priorities(true)
        .rejection(Rejection::DropOldest)
        .build()
        .unwrap();
    let blocker = occupy(&pool);
    let mut handles = Vec::new();
    for (name, priority) in [("a", 5), ("b", 1), ("c", 1), ("d", 3)] {
        let ran = ran.clone();
        handles.push(
            pool.submit_priority(priority, move || ran.lock().unwrap().push(name))
                .unwrap(),
        );
    }
    blocker.release();
    let results: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
    assert_eq!(results, [Ok(()), Err(JobError::Discarded), Ok(()), Ok(())]);
    pool.shutdown();
    assert_eq!(*ran.lock().unwrap(), ["a", "d", "c"]);
}

#[test]
fn priorities_start_highest_first_and_fifo_among_equals() {
    let pool = WorkerPool::builder()
        .workers(1)
        .priorities(true)
        .build()
        .unwrap();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let blocker = occupy(&pool);
    let priorities = [1, 5, 3, 5, -2, 0, 3, i32::MAX, i32::MIN];
    let mut handles: Vec<_> = priorities
        .into_iter()
        .enumerate()
        .map(|(seq, priority)| {
            let ran = ran.clone();
            pool.submit_priority(priority, move || ran.lock().unwrap().push((priority, seq)))
                .unwrap()
        })
        .collect();
    let ran_plain = ran.clone();
    handles.push(
        pool.submit(move || ran_plain.lock().unwrap().push((0, 99)))
            .unwrap(),
    );
    blocker.release();
    for handle in handles {
        assert_eq!(handle.join(), Ok(()));
    }
    assert_eq!(
        *ran.lock().unwrap(),
        [
            (i32::MAX, 7),
            (5, 1),
            (5, 3),
            (3, 2),
            (3, 6),
            (1, 0),
            (0, 5),
            (0, 99), // `submit` is priority 0, after the earlier 0
            (-2, 4),
            (i32::MIN, 8),
        ]
    );
}

#[test]
fn without_priorities_the_queue_is_fifo() {
    let pool = WorkerPool::new(1).unwrap();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let blocker = occupy(&pool);
    let handles: Vec<_> = [1, 9, -3, 9, 0]
        .into_iter()
        .enumerate()
        .map(|(seq, priority)| {
            let ran = ran.clone();
            pool.submit_priority(priority, move || ran.lock().unwrap().push(seq))
                .unwrap()
        })
        .collect();
    blocker.release();
    for handle in handles {
        assert_eq!(handle.join(), Ok(()));
    }
    assert_eq!(*ran.lock().unwrap(), [0, 1, 2, 3, 4]);
}

#[test]
fn worker_threads_are_named_prefix_dash_index() {
    let pool = WorkerPool::builder().workers(3).name("tp").build().unwrap();
    let named = |pool: &WorkerPool| {
        pool.submit_with(|cx| {
            let index = cx.worker_index().expect("on a worker");
            (index, thread::current().name().map(str::to_owned))
        })
        .unwrap()
    };
    let handles: Vec<_> = (0..30).map(|_| named(&pool)).collect();
    for handle in handles {
        let (index, name) = handle.join().unwrap();
        assert!(index < 3);
        assert_eq!(name, Some(format!("tp-{index}")));
    }

    let default = WorkerPool::new(1).unwrap();
    let (index, name) = named(&default).join().unwrap();
    assert_eq!((index, name.as_deref()), (0, Some("worker-pool-worker-0")));
}

/// Uses about `depth` KiB of stack.
fn deep(depth: u32) -> u64 {
    let frame = std::hint::black_box([depth as u8; 1024]);
    if depth == 0 {
        return u64::from(frame[0]);
    }
    deep(depth - 1) + u64::from(std::hint::black_box(frame)[1023])
}

#[test]
fn stack_size_sets_the_workers_stack() {
    // At least 8 MiB of recursion: far past std's default 2 MiB, which would overflow
    // and abort the test binary, well within the 128 MiB asked for.
    let pool = WorkerPool::builder()
        .workers(1)
        .stack_size(128 << 20)
        .build()
        .unwrap();
    let depth = 8 * 1024;
    let expected: u64 = (0..=depth).map(|d| u64::from(d as u8)).sum();
    assert_eq!(
        pool.submit(move || deep(depth)).unwrap().join(),
        Ok(expected)
    );
}

#[test]
fn on_panic_hook_gets_every_panic_with_its_worker() {
    let (tx, rx) = mpsc::channel();
    let pool = WorkerPool::builder()
        .workers(2)
        .on_panic(move |panic: JobPanic<'_>| {
            tx.send((panic.message.to_owned(), panic.worker)).unwrap();
        })
        .build()
        .unwrap();
    let handle = pool.submit(|| -> u8 { panic!("from submit") }).unwrap();
    assert_eq!(handle.join(), Err(JobError::Panicked("from submit".into())));
    let (message, worker) = recv(&rx, "the hook");
    assert_eq!(message, "from submit");
    assert!(matches!(worker, Some(index) if index < 2), "{worker:?}");

    let n = 3;
    pool.execute(move || panic!("formatted {n}")).unwrap();
    assert_eq!(recv(&rx, "the hook").0, "formatted 3");

    let handle = pool
        .submit(|| -> u8 { std::panic::panic_any(42_u32) })
        .unwrap();
    let placeholder = "Box<dyn Any> (a panic payload that is not text)";
    let error = handle.join().unwrap_err();
    assert_eq!(error.to_string(), format!("job panicked: {placeholder}"));
    assert_eq!(error.panic_message(), None);
    assert_ne!(error, JobError::Panicked(placeholder.into()));
    assert_eq!(recv(&rx, "the hook").0, placeholder);
    assert_eq!(
        JobError::Panicked("x".into()).to_string(),
        "job panicked: x"
    );
    pool.submit(|| ()).unwrap().join().unwrap();
    assert!(rx.try_recv().is_err(), "no call for a job that returned");
}

#[test]
fn the_hook_gets_a_panic_that_comes_after_the_jobs_deadline() {
    // Nobody looks at the handle until the job has ended: its handle reads TimedOut, yet
    // the panic still reaches the hook and counts as a panic.
    with_growing_deadlines(|deadline| {
        let (tx, rx) = mpsc::channel();
        let pool = WorkerPool::builder()
            .workers(1)
            .on_panic(move |panic: JobPanic<'_>| tx.send(panic.message.to_owned()).unwrap())
            .build()
            .unwrap();
        let (started_tx, started) = mpsc::channel();
        let handle = pool
            .submit_with_timeout(deadline, move |cx| -> u8 {
                started_tx.send(()).unwrap();
                cx.token().wait();
                panic!("late panic")
            })
            .unwrap();
        let stats = settled(&pool, 1);
        assert_eq!(handle.join(), Err(JobError::TimedOut));
        if started.try_recv().is_err() {
            return false;
        }
        assert_eq!(rx.try_recv().as_deref(), Ok("late panic"));
        assert_eq!(
            (stats.completed, stats.panicked, stats.timed_out),
            (1, 1, 0)
        );
        true
    });
}

#[test]
fn a_panicking_hook_takes_down_neither_worker_nor_pool() {
    let calls = Arc::new(AtomicUsize::new(0));
    let pool = WorkerPool::builder()
        .workers(1)
        .on_panic({
            let calls = calls.clone();
            move |_: JobPanic<'_>| {
                calls.fetch_add(1, Ordering::SeqCst);
                panic!("the hook itself panics");
            }
        })
        .build()
        .unwrap();
    for round in 0..5 {
        let handle = pool
            .submit(move || -> u8 { panic!("job {round}") })
            .unwrap();
        assert_eq!(
            handle.join(),
            Err(JobError::Panicked(format!("job {round}").into()))
        );
    }
    assert_eq!(pool.submit(|| 1).unwrap().join(), Ok(1), "still serving");
    let stats = settled(&pool, 6);
    assert_eq!(stats.workers, 1);
    assert_eq!(stats.panicked, 5);
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[test]
fn panics_never_shrink_the_pool() {
    let workers = 3;
    let pool = WorkerPool::new(workers).unwrap();
    let mut handles = Vec::new();
    for n in 0..60 {
        if n % 2 == 0 {
            pool.execute(move || panic!("execute {n}")).unwrap();
        } else {
            handles.push(pool.submit(move || -> u8 { panic!("submit {n}") }).unwrap());
        }
    }
    for handle in handles {
        assert!(matches!(handle.join(), Err(JobError::Panicked(_))));
    }
    let stats = settled(&pool, 60);
    assert_eq!(
        (stats.workers, stats.busy, stats.idle),
        (workers, 0, workers)
    );
    assert_eq!((stats.completed, stats.panicked), (60, 60));
    // Every worker is alive and takes work: all three can be busy at once.
    let blockers = occupy_all(&pool, workers);
    assert_eq!(pool.stats().busy, workers);
    for blocker in blockers {
        blocker.release();
    }
}

/// A value whose drop panics.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("dropped");
    }
}

#[test]
fn a_panic_outside_the_job_itself_neither_kills_nor_wedges_a_worker() {
    let pool = WorkerPool::new(1).unwrap();
    let gate = CancelToken::new();
    // The handle goes before the job returns, so the worker drops the result, and the
    // drop panics; then a group's cancel callback panics on the worker; then a panic's
    // payload panics when dropped.
    let orphan = submit_gated(&gate, |gated| {
        pool.submit(move || {
            gated.enter();
            PanicsWhenDropped
        })
        .unwrap()
    });
    drop(orphan);
    gate.cancel();
    let group = pool.group::<()>();
    let _registration = group.token().on_cancel(|_| panic!("callback"));
    group.submit(|_| Err(())).unwrap();
    assert_eq!(group.wait(), Err(GroupError::Failed(())));
    pool.execute(|| std::panic::panic_any(PanicsWhenDropped))
        .unwrap();
    let after = pool.submit(|| 7).unwrap().join_timeout(PATIENCE);
    assert!(matches!(after, Ok(Ok(7))), "the worker still runs jobs");
    let stats = settled(&pool, 4);
    assert_eq!((stats.workers, stats.panicked), (1, 3));
    assert!(pool.shutdown_timeout(PATIENCE));
}
