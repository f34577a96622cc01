//! No stage thread outlives its sink: one test, alone in its binary, so that no other
//! test's threads are counted.

mod common;

use pipeline::{Pipeline, PipelineError};

use common::{eventually, pipeline_threads};

#[test]
fn every_stage_thread_is_joined_before_the_sink_returns() {
    // A completed run.
    Pipeline::from_iter(0..10_000u32)
        .map(|x| x)
        .par_map(3, |x| x)
        .par_map_unordered(2, |x| x)
        .for_each(drop)
        .unwrap();
    assert_eq!(
        pipeline_threads(),
        Vec::<String>::new(),
        "after a completed run"
    );

    // A failed run.
    let failed = Pipeline::from_iter(0u32..)
        .par_try_map(3, |x| if x < 5000 { Ok(x) } else { Err("stop") })
        .for_each(drop);
    assert!(matches!(failed, Err(PipelineError::Stage { .. })));
    assert_eq!(
        pipeline_threads(),
        Vec::<String>::new(),
        "after a failed run"
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
    assert_eq!(
        pipeline_threads(),
        Vec::<String>::new(),
        "after an early drop"
    );

    // A receiver dropped early: the threads end on their own, and `join` sees them end.
    let (rx, running) = Pipeline::from_iter(0u64..)
        .map(|x| x)
        .into_receiver()
        .unwrap();
    rx.recv().unwrap();
    drop(rx);
    assert!(running.join().is_err());
    assert_eq!(
        pipeline_threads(),
        Vec::<String>::new(),
        "after a receiver dropped early"
    );

    // A panic in the sink's own closure: the run is cancelled and joined as it unwinds.
    let unwound = std::panic::catch_unwind(|| {
        Pipeline::from_iter(0u64..)
            .map(|x| x)
            .for_each(|x| assert!(x < 100, "sink gave up"))
            .unwrap();
    });
    assert!(unwound.is_err());
    assert_eq!(
        pipeline_threads(),
        Vec::<String>::new(),
        "after the sink panicked"
    );
}
