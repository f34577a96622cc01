//! Tests for the payload of a job's panic: `JobError::Panicked` keeps it whole, for
//! `resume_unwind` and `downcast`, on every path by which a panic reaches a caller (a
//! job's handle, a job run on the caller's thread, a group, a job handed back by
//! `shutdown_now` and run there, a scoped job's handle); its text, equality, `Display`
//! and `Debug`; and that a payload nobody reads is contained where it is dropped.

mod common;

use std::error::Error;
use std::panic::{self, AssertUnwindSafe};

use common::{occupy, settled, submit_gated, PATIENCE};
use patterns_core::CancelToken;
use worker_pool::{GroupError, JobError, PanicPayload, Rejection, WorkerPool};

/// A payload that is not text.
#[derive(Debug, PartialEq)]
struct Code(u32);

/// Re-raises `payload` here and returns what `catch_unwind` caught of it.
fn rethrown(payload: PanicPayload) -> Box<dyn std::any::Any + Send> {
    panic::catch_unwind(AssertUnwindSafe(|| payload.resume())).unwrap_err()
}

fn payload_of(error: JobError) -> PanicPayload {
    match error {
        JobError::Panicked(payload) => payload,
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn a_handle_gives_back_the_payload_for_resume_unwind() {
    let pool = WorkerPool::new(1).unwrap();
    let handle = pool.submit(|| -> u8 { panic::panic_any(Code(7)) }).unwrap();
    let payload = payload_of(handle.join().unwrap_err());
    assert_eq!(payload.message(), None);
    let caught = rethrown(payload);
    assert_eq!(caught.downcast_ref::<Code>(), Some(&Code(7)));

    // A formatted panic's payload is a `String`; `into_inner` gives the box itself.
    let n = 3;
    let handle = pool
        .submit(move || -> u8 { panic!("bad input {n}") })
        .unwrap();
    let payload = payload_of(handle.join().unwrap_err());
    assert_eq!(payload.message(), Some("bad input 3"));
    let inner = payload.into_inner();
    assert_eq!(
        inner.downcast_ref::<String>().map(String::as_str),
        Some("bad input 3")
    );
    // A literal's is a `&'static str`, which `resume_unwind` carries on unchanged.
    let handle = pool.submit(|| -> u8 { panic!("literal") }).unwrap();
    let caught = rethrown(payload_of(handle.join().unwrap_err()));
    assert_eq!(caught.downcast_ref::<&str>(), Some(&"literal"));
}

#[test]
fn a_caller_run_job_gives_its_payload_to_its_handle() {
    let pool = WorkerPool::builder()
        .workers(1)
        .queue_capacity(1)
        .rejection(Rejection::CallerRuns)
        .build()
        .unwrap();
    let blocker = occupy(&pool);
    let queued = pool.submit(|| 1).unwrap();
    let here = std::thread::current().id();
    let handle = pool
        .submit(move || -> u8 {
            assert_eq!(std::thread::current().id(), here, "runs on the caller");
            panic::panic_any(Code(1))
        })
        .unwrap();
    let caught = rethrown(payload_of(handle.join().unwrap_err()));
    assert_eq!(caught.downcast_ref::<Code>(), Some(&Code(1)));
    blocker.release();
    assert_eq!(queued.join(), Ok(1));
    assert_eq!(pool.stats().caller_ran, 1);
}

#[test]
fn a_group_fails_with_its_first_panic_s_payload() {
    let pool = WorkerPool::new(1).unwrap();
    let group = pool.group::<()>();
    group.submit(|_| panic::panic_any(Code(2))).unwrap();
    let Err(GroupError::Job(error)) = group.wait() else {
        panic!("the group should fail with the job's panic")
    };
    let caught = rethrown(payload_of(error));
    assert_eq!(caught.downcast_ref::<Code>(), Some(&Code(2)));
}

#[test]
fn a_handed_back_job_run_here_gives_its_payload_to_its_handle() {
    let pool = WorkerPool::new(1).unwrap();
    let blocker = occupy(&pool);
    let handle = pool.submit(|| -> u8 { panic::panic_any(Code(3)) }).unwrap();
    let pending = pool.shutdown_now();
    assert_eq!(pending.len(), 1);
    for job in pending {
        job.run();
    }
    let caught = rethrown(payload_of(handle.join().unwrap_err()));
    assert_eq!(caught.downcast_ref::<Code>(), Some(&Code(3)));
    drop(blocker);
}

#[test]
fn a_scoped_job_s_handle_gets_the_payload_and_the_scope_its_text() {
    let pool = WorkerPool::new(1).unwrap();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.scope(|s| {
            let handle = s.submit(|| -> u8 { panic!("scoped") }).unwrap();
            let caught = rethrown(payload_of(handle.join().unwrap_err()));
            assert_eq!(caught.downcast_ref::<&str>(), Some(&"scoped"));
        })
    }));
    let scope_panic = outcome.unwrap_err();
    let text = common::panic_text(&*scope_panic);
    assert!(text.ends_with("the first with: scoped"), "{text}");
}

#[test]
fn payloads_compare_by_their_text_only() {
    assert_eq!(
        PanicPayload::from("boom"),
        PanicPayload::from("boom".to_owned())
    );
    assert_ne!(PanicPayload::from("boom"), PanicPayload::from("bang"));
    let opaque = PanicPayload::new(Box::new(Code(1)));
    #[allow(clippy::eq_op)] // the point: such a payload is not even equal to itself
    let unequal_to_itself = opaque != opaque;
    assert!(
        unequal_to_itself,
        "a payload that is not text equals nothing"
    );
    assert_ne!(opaque, PanicPayload::new(Box::new(Code(1))));
    assert_eq!(
        JobError::Panicked("boom".into()),
        JobError::Panicked("boom".into())
    );
    assert_ne!(JobError::Panicked("boom".into()), JobError::Cancelled);
    assert_eq!(JobError::Cancelled, JobError::Cancelled);
    assert_eq!(
        GroupError::<u8>::Job(JobError::Panicked("boom".into())),
        GroupError::Job(JobError::Panicked("boom".into()))
    );
}

#[test]
fn a_payload_shows_its_text_or_says_it_has_none() {
    let text = JobError::Panicked("boom".into());
    assert_eq!(text.to_string(), "job panicked: boom");
    assert_eq!(format!("{text:?}"), r#"Panicked(PanicPayload("boom"))"#);
    assert_eq!(text.panic_message(), Some("boom"));
    let opaque = JobError::Panicked(PanicPayload::new(Box::new(Code(1))));
    assert_eq!(
        opaque.to_string(),
        "job panicked: Box<dyn Any> (a panic payload that is not text)"
    );
    assert_eq!(format!("{opaque:?}"), "Panicked(PanicPayload(<not text>))");
    assert_eq!(opaque.panic_message(), None);
    assert_eq!(JobError::Cancelled.panic_message(), None);
}

#[test]
fn a_job_error_is_a_send_sync_error_even_with_a_payload_that_is_not_sync() {
    fn boxed(error: impl Error + Send + Sync + 'static) -> Box<dyn Error + Send + Sync> {
        Box::new(error)
    }
    let pool = WorkerPool::new(1).unwrap();
    // `Cell` is `Send` but not `Sync`.
    let handle = pool
        .submit(|| -> u8 { panic::panic_any(std::cell::Cell::new(5_u8)) })
        .unwrap();
    let error = boxed(handle.join().unwrap_err());
    assert!(error.to_string().starts_with("job panicked: "));
    let group = boxed(GroupError::<String>::Job(JobError::Cancelled));
    assert_eq!(group.to_string(), "job cancelled");
}

/// A value whose drop panics.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("the payload's drop panics");
        }
    }
}

#[test]
fn a_payload_nobody_reads_is_dropped_on_the_worker_without_harm() {
    let pool = WorkerPool::new(1).unwrap();
    let gate = CancelToken::new();
    let orphan = submit_gated(&gate, |gated| {
        pool.submit(move || -> u8 {
            gated.enter();
            panic::panic_any(PanicsWhenDropped)
        })
        .unwrap()
    });
    // The handle goes before the job panics: the worker drops the payload, which panics.
    drop(orphan);
    gate.cancel();
    let after = pool.submit(|| 7).unwrap().join_timeout(PATIENCE);
    assert!(matches!(after, Ok(Ok(7))), "the worker still runs jobs");
    let stats = settled(&pool, 2);
    assert_eq!((stats.workers, stats.completed, stats.panicked), (1, 2, 1));
}
