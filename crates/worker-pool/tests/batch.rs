//! Tests for batches whose results come back in input order: `invoke_all` (Java's
//! `invokeAll`) and `map`. Results in order whatever order the jobs finish in, borrowed
//! jobs and items, a panic in its place, batches larger than the queue, a refusal part-way
//! (the results so far, the refused job or item, the rest of the input), a panicking
//! input, and batches submitted by a job of the pool.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use common::{occupy, recv, stats_when, PATIENCE};
use worker_pool::{BatchError, JobError, Rejection, SubmitError, WorkerPool};

#[test]
fn invoke_all_returns_results_in_input_order_whatever_order_they_finish_in() {
    let pool = WorkerPool::new(2).unwrap();
    let (second_done, wait_second) = mpsc::channel::<()>();
    // The first job returns only after the second has: they finish in reverse order.
    let first = move || {
        recv(&wait_second, "the second job");
        "first"
    };
    let second = move || {
        second_done.send(()).unwrap();
        "second"
    };
    let jobs: Vec<Box<dyn FnOnce() -> &'static str + Send>> =
        vec![Box::new(first), Box::new(second)];
    let results = pool.invoke_all(jobs).unwrap();
    assert_eq!(results, [Ok("first"), Ok("second")]);
}

#[test]
fn invoke_all_jobs_borrow_from_the_caller_and_have_run_when_it_returns() {
    let pool = WorkerPool::new(2).unwrap();
    let words = vec!["alpha".to_owned(), "beta".to_owned(), "gamma".to_owned()];
    let hits = AtomicUsize::new(0);
    let jobs = words.iter().map(|word| {
        let hits = &hits;
        move || {
            hits.fetch_add(1, Ordering::Relaxed);
            word.len()
        }
    });
    let lengths = pool.invoke_all(jobs).unwrap();
    assert_eq!(lengths, [Ok(5), Ok(4), Ok(5)]);
    assert_eq!(
        hits.load(Ordering::Relaxed),
        3,
        "every job ran before the return"
    );
    drop(words); // the borrows ended with the batch
}

#[test]
fn a_panicking_job_is_an_error_in_its_place_and_the_others_run() {
    let pool = WorkerPool::new(2).unwrap();
    let results = pool
        .map(0..5u32, |n| {
            if n == 2 {
                panic::panic_any(n);
            }
            n * 10
        })
        .unwrap();
    assert_eq!(results.len(), 5);
    for (n, result) in results.into_iter().enumerate() {
        match (n, result) {
            (2, Err(JobError::Panicked(payload))) => {
                assert_eq!(payload.into_inner().downcast_ref::<u32>(), Some(&2));
            }
            (n, result) => assert_eq!(result, Ok(n as u32 * 10)),
        }
    }
    let stats = stats_when(&pool, "the batch's jobs to count", |s| s.completed == 5);
    assert_eq!(stats.panicked, 1);
}

#[test]
fn map_shares_a_borrowing_function_and_keeps_the_order() {
    let pool = WorkerPool::new(3).unwrap();
    let table = [10u64, 20, 30, 40];
    let results = pool.map(vec![3usize, 0, 2, 1], |i| table[i] + 1).unwrap();
    let values: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(values, [41, 11, 31, 21]);
    assert_eq!(pool.map(Vec::<u8>::new(), |n| n).unwrap(), []);
}

#[test]
fn a_batch_larger_than_the_queue_waits_for_room() {
    let pool = WorkerPool::builder()
        .workers(2)
        .queue_capacity(2)
        .build()
        .unwrap();
    let results = pool.map(0..200u32, |n| n + 1).unwrap();
    let values: Vec<u32> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(values, (1..=200).collect::<Vec<_>>());
}

#[test]
fn a_shut_down_pool_hands_back_the_first_job_and_the_rest() {
    let pool = WorkerPool::new(1).unwrap();
    pool.shutdown();
    let jobs = (0..3u32).map(|n| move || n);
    let error = pool.invoke_all(jobs).unwrap_err();
    assert!(error.done.is_empty());
    assert!(error.refused.is_shut_down());
    assert_eq!(
        error.to_string(),
        "job rejected: the pool is shut down, after 0 jobs of the batch"
    );
    assert_eq!(
        format!("{error:?}"),
        "BatchError { done: 0, refused: ShutDown(..), .. }"
    );
    let (first, rest) = error.into_unsubmitted();
    assert_eq!(first(), 0);
    assert_eq!(rest.map(|job| job()).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        pool.stats().rejected,
        1,
        "one refusal: the rest was never tried"
    );
}

/// A refusal part-way: under `Reject`, with the only worker busy and a one-place queue,
/// the first job is queued and the second refused. The batch returns only once the first
/// has run, so the worker is released from here once the refusal is counted.
#[test]
fn a_refusal_part_way_returns_the_results_so_far_the_refused_item_and_the_rest() {
    let pool = Arc::new(
        WorkerPool::builder()
            .workers(1)
            .queue_capacity(1)
            .rejection(Rejection::Reject)
            .build()
            .unwrap(),
    );
    let blocker = occupy(&pool);
    let batch = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || pool.map(vec!['a', 'b', 'c', 'd'], |c| c.to_ascii_uppercase()))
    };
    stats_when(&pool, "the second job to be refused", |s| s.rejected == 1);
    blocker.release();
    let error: BatchError<char, char, _> = batch.join().unwrap().unwrap_err();
    assert_eq!(error.done, [Ok('A')]);
    assert!(matches!(error.refused, SubmitError::Full('b')));
    assert_eq!(error.rest.collect::<String>(), "cd");
}

#[test]
fn a_panicking_input_unwinds_once_the_jobs_submitted_so_far_have_run() {
    let pool = WorkerPool::new(2).unwrap();
    let ran = AtomicUsize::new(0);
    let items = (0..5).inspect(|&n| {
        if n == 3 {
            panic!("the input broke");
        }
    });
    let unwound = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.map(items, |_| {
            ran.fetch_add(1, Ordering::SeqCst);
        })
    }));
    let payload = unwound.unwrap_err();
    assert_eq!(common::panic_text(&*payload), "the input broke");
    assert_eq!(
        ran.load(Ordering::SeqCst),
        3,
        "the jobs before the panic all ran"
    );
}

#[test]
fn a_job_s_batch_goes_onto_its_worker_s_queue_and_the_other_worker_runs_it() {
    // A one-place shared queue under `Reject`: a batch from outside this large would be
    // refused, but a job's own submissions never are.
    let pool = Arc::new(
        WorkerPool::builder()
            .workers(2)
            .queue_capacity(1)
            .rejection(Rejection::Reject)
            .build()
            .unwrap(),
    );
    let inner = Arc::clone(&pool);
    let outer = pool
        .submit(move || {
            let results = inner.map(0..20u32, |n| n * 2).expect("never refused");
            results.into_iter().map(Result::unwrap).sum::<u32>()
        })
        .unwrap();
    assert_eq!(outer.join_timeout(PATIENCE).expect("in time"), Ok(380));
}
