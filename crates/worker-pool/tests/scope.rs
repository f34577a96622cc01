//! Tests for `WorkerPool::scope`: jobs that borrow from the caller's stack, a scope that
//! returns only after all its jobs finished, panics in a job or in the body, nested
//! submits, and scopes on a full or shut-down pool.
//!
//! "The scope waited" is shown by jobs that are released only once the body has returned
//! (or panicked), by a helper thread: if `scope` returned early, their work would be
//! missing when it returns.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;

use common::{occupy, panic_text, recv, single};
use patterns_core::CancelToken;
use worker_pool::{JobError, JobPanic, Rejection, Scope, SubmitError, WorkerPool};

/// Runs `pool.scope(body)`, which must panic, and returns the text of its panic.
fn scope_panic<'env, T>(
    pool: &WorkerPool,
    body: impl for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
) -> String {
    match panic::catch_unwind(AssertUnwindSafe(|| pool.scope(body))) {
        Ok(_) => panic!("the scope returned instead of panicking"),
        Err(payload) => panic_text(&*payload),
    }
}

#[test]
fn jobs_borrow_from_the_callers_stack() {
    let pool = WorkerPool::new(3).unwrap();
    let mut numbers: Vec<u64> = (1..=100).collect();
    let factor = 3;
    let total: u64 = pool.scope(|s| {
        let sums: Vec<_> = numbers
            .chunks_mut(7)
            .map(|chunk| {
                s.submit(|| {
                    for n in chunk.iter_mut() {
                        *n *= factor;
                    }
                    chunk.iter().sum::<u64>()
                })
                .unwrap()
            })
            .collect();
        sums.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(total, 3 * 5050);
    assert_eq!(numbers, (1..=100).map(|n| n * 3).collect::<Vec<_>>());
}

/// Every job timed for the stats (a `Timed` around the scoped job, which ran its own
/// bookkeeping after the job): what a job borrows, and the scope's own state, are freed as
/// soon as the scope returns, which the job must not outlive by a single reference. Run
/// under Miri (`cargo xtask miri worker-pool`), which reported the deallocation of a
/// protected borrow here before scoped jobs held their scope by raw pointer.
#[test]
fn timed_scoped_jobs_hold_no_borrow_past_their_end() {
    let pool = WorkerPool::builder()
        .workers(2)
        .sample_timings(1)
        .build()
        .unwrap();
    for round in 0..if cfg!(miri) { 20 } else { 200 } {
        let data: Vec<u64> = (0..4).map(|n| n + round).collect();
        let total: u64 = pool.scope(|s| {
            let halves: Vec<_> = data
                .chunks(2)
                .map(|half| s.submit(move || half.iter().sum::<u64>()).unwrap())
                .collect();
            halves.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(total, 6 + 4 * round);
        drop(data); // frees what the jobs borrowed, right after the scope
    }
}

#[test]
fn scope_returns_only_after_every_job_finished() {
    let pool = WorkerPool::new(2).unwrap();
    let done = AtomicUsize::new(0);
    let gate = CancelToken::new();
    let (body_returned, returned) = mpsc::channel();
    thread::scope(|threads| {
        // Opens the gate only once the body has returned.
        let opener = gate.clone();
        threads.spawn(move || {
            recv(&returned, "the body to return");
            opener.cancel();
        });
        pool.scope(|s| {
            for _ in 0..6 {
                s.execute(|| {
                    gate.wait();
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            }
            // A dropped handle: the scope still waits for its job.
            drop(
                s.submit_with(|cx| {
                    gate.wait();
                    assert!(cx.worker_index().is_some());
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap(),
            );
            body_returned.send(()).unwrap();
        });
        assert_eq!(done.load(Ordering::SeqCst), 7);
    });
}

#[test]
fn a_panicking_job_makes_the_scope_panic_after_the_others_finished() {
    let (panicked, saw_panic) = mpsc::channel();
    let pool = WorkerPool::builder()
        .workers(2)
        .on_panic(move |_: JobPanic<'_>| panicked.send(()).unwrap())
        .build()
        .unwrap();
    let slow_done = AtomicBool::new(false);
    let text = scope_panic(&pool, |s| {
        s.execute(|| panic!("boom")).unwrap();
        // Finishes only after the panic above was caught and reported.
        let slow_done = &slow_done;
        s.execute(move || {
            recv(&saw_panic, "the panic hook");
            slow_done.store(true, Ordering::SeqCst);
        })
        .unwrap();
    });
    assert_eq!(text, "1 job(s) of the scope panicked; the first with: boom");
    assert!(
        slow_done.load(Ordering::SeqCst),
        "the other job had finished"
    );
    assert_eq!(
        pool.submit(|| 1).unwrap().join(),
        Ok(1),
        "the pool serves on"
    );
}

#[test]
fn a_job_panic_surfaces_even_if_its_handle_was_joined() {
    let pool = WorkerPool::new(1).unwrap();
    let text = scope_panic(&pool, |s| {
        let first = s.submit(|| -> u8 { panic!("first") }).unwrap();
        let second = s.submit(|| -> u8 { panic!("second") }).unwrap();
        assert_eq!(first.join(), Err(JobError::Panicked("first".into())));
        assert_eq!(second.join(), Err(JobError::Panicked("second".into())));
        "the body returned"
    });
    assert_eq!(
        text,
        "2 job(s) of the scope panicked; the first with: first"
    );
}

#[test]
fn a_panicking_body_unwinds_after_its_jobs_finished() {
    let pool = WorkerPool::new(2).unwrap();
    let job_done = AtomicBool::new(false);
    let gate = CancelToken::new();
    let (about_to_panic, panicking) = mpsc::channel();
    let text = thread::scope(|threads| {
        let opener = gate.clone();
        threads.spawn(move || {
            recv(&panicking, "the body to panic");
            opener.cancel();
        });
        scope_panic(&pool, |s| {
            s.execute(|| {
                gate.wait();
                job_done.store(true, Ordering::SeqCst);
            })
            .unwrap();
            about_to_panic.send(()).unwrap();
            panic!("body failed");
        })
    });
    assert_eq!(text, "body failed", "the body's panic comes out of scope");
    assert!(job_done.load(Ordering::SeqCst), "the job had finished");
}

#[test]
fn the_bodys_panic_wins_over_a_jobs() {
    let pool = WorkerPool::new(1).unwrap();
    let text = scope_panic(&pool, |s| {
        let job = s.submit(|| -> u8 { panic!("from the job") }).unwrap();
        assert!(job.join().is_err());
        panic!("from the body");
    });
    assert_eq!(text, "from the body");
}

#[test]
fn jobs_submit_more_jobs_to_their_scope() {
    /// Submits a job for each child of a full binary tree of `depth` levels below.
    fn spawn_tree<'scope>(s: &'scope Scope<'scope, '_>, visited: &'scope AtomicUsize, depth: u32) {
        visited.fetch_add(1, Ordering::SeqCst);
        if depth > 0 {
            for _ in 0..2 {
                s.execute(move || spawn_tree(s, visited, depth - 1))
                    .unwrap();
            }
        }
    }

    // One worker: the nested jobs cannot run until their parent returned, and the scope
    // must still wait for every one of them.
    for workers in [1, 3] {
        let pool = WorkerPool::new(workers).unwrap();
        let visited = AtomicUsize::new(0);
        pool.scope(|s| spawn_tree(s, &visited, 6));
        assert_eq!(visited.load(Ordering::SeqCst), 127, "{workers} workers");
    }
}

#[test]
fn scoped_submits_to_a_shut_down_pool_come_back_and_the_scope_returns() {
    let pool = WorkerPool::new(1).unwrap();
    pool.shutdown();
    let mut local = 0;
    let value = pool.scope(|s| {
        match s.submit(|| local += 1) {
            Err(SubmitError::ShutDown(job)) => job(),
            other => panic!("expected ShutDown, got {other:?}"),
        }
        assert!(s.execute(|| ()).unwrap_err().is_shut_down());
        assert!(s.submit_with(|_| ()).unwrap_err().is_shut_down());
        "returned"
    });
    assert_eq!((value, local), ("returned", 1));
}

#[test]
fn scoped_jobs_follow_the_pools_policy_on_a_full_queue() {
    let pool = single(1, Rejection::Reject);
    let blocker = occupy(&pool);
    let ran = Mutex::new(Vec::new());
    pool.scope(|s| {
        s.execute(|| ran.lock().unwrap().push("queued")).unwrap();
        let refused = s
            .execute(|| ran.lock().unwrap().push("refused"))
            .expect_err("the queue is full");
        assert!(refused.is_full());
        refused.into_inner()();
        blocker.open();
    });
    let mut ran = ran.into_inner().unwrap();
    ran.sort_unstable();
    assert_eq!(ran, ["queued", "refused"]);

    let pool = single(1, Rejection::CallerRuns);
    let blocker = occupy(&pool);
    let me = thread::current().id();
    let mut borrowed = 0;
    pool.scope(|s| {
        s.execute(|| ()).unwrap();
        let handle = s
            .submit(|| {
                borrowed += 1;
                thread::current().id()
            })
            .unwrap();
        assert_eq!(handle.join(), Ok(me), "ran here, borrowing the stack");
        blocker.open();
    });
    assert_eq!(borrowed, 1);
}
