//! No stage thread outlives its sink: one test, alone in its binary, so that no other
//! test's threads are counted.

mod common;

use pipeline::{Pipeline, PipelineError};

use common::{eventually, pipeline_threads};

/// No pipeline thread is left. A joined thread's entry in `/proc` goes a moment after
/// `join` returns (the kernel reaps it after waking the joiner), so this allows that
/// moment; a thread that was not joined and still runs, or is blocked, stays and fails it.
fn no_pipeline_threads() -> bool {
    eventually(|| pipeline_threads().is_empty())
}

#[test]
fn every_stage_thread_is_joined_before_the_sink_returns() {
    // A completed run.
    Pipeline::from_iter(0..10_000u32)
        .map(|x| x)
        .par_map(3, |x| x)
        .par_map_unordered(2, |x| x)
        .for_each(drop)
        .unwrap();
    assert!(
        no_pipeline_threads(),
        "after a completed run: {:?}",
        pipeline_threads()
    );

    // A failed run.
    let failed = Pipeline::from_iter(0u32..)
        .par_try_map(3, |x| if x < 5000 { Ok(x) } else { Err("stop") })
        .for_each(drop);
    assert!(matches!(failed, Err(PipelineError::Stage { .. })));
    assert!(
        no_pipeline_threads(),
        "after a failed run: {:?}",
        pipeline_threads()
    );

    // An iterator dropped early, with every stage blocked on a full queue.
    let mut items = Pipeline::from_iter(0u64..)
        .map(|x| x)
        .par_map(2, |x| x)
        .buffer(4)
        .into_iter();
    assert_eq!(items.next().unwrap().unwrap(), 0);
    assert!(
        eventually(|| pipeline_threads().len() == 4),
        "{:?}",
        pipeline_threads()
    );
    drop(items);
    assert!(
        no_pipeline_threads(),
        "after an early drop: {:?}",
        pipeline_threads()
    );

    // A receiver dropped early: the threads end on their own, and `join` sees them end.
    let (rx, running) = Pipeline::from_iter(0u64..)
        .map(|x| x)
        .into_receiver()
        .unwrap();
    rx.recv().unwrap();
    drop(rx);
    assert!(running.join().is_err());
    assert!(
        no_pipeline_threads(),
        "after a receiver dropped early: {:?}",
        pipeline_threads()
    );

    // A panic in the sink's own closure: the run is cancelled and joined as it unwinds.
    let unwound = std::panic::catch_unwind(|| {
        Pipeline::from_iter(0u64..)
            .map(|x| x)
            .for_each(|x| assert!(x < 100, "sink gave up"))
            .unwrap();
    });
    assert!(unwound.is_err());
    assert!(
        no_pipeline_threads(),
        "after the sink panicked: {:?}",
        pipeline_threads()
    );
}
