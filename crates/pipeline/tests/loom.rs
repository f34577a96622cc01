//! loom models of the pipeline's shutdown, cancellation, error and ordered-reassembly
//! protocols, through the public API, exhaustive over every interleaving of their
//! threads up to `LOOM_MAX_PREEMPTIONS` preemptions, capped per model.
//!
//! Every stage thread is a loom thread, and loom allows 5 threads in all, main (the sink)
//! included. A pipeline hand-off is many synchronizations (the channel's cursors and
//! wakers, a cancel-token registration per blocking wait, the run's locks), so even
//! 3-thread worlds grow fast: the models keep to 1–3 items, chunks of one item, queues
//! of 0–2 chunks, and most are capped at 1 preemption in a default run (a blocked thread
//! switches for free; the cap bounds only forced switches); `--deep` lifts the caps.
//! Each model says its cap and what it costs in release on a 2-core machine. The three ordered-stage models read the caller's
//! channel (`from_receiver`, filled and closed before the run) instead of a source
//! thread: with one, even two items at 1 preemption do not end within 90 s. Loom has no
//! time: the reports' durations mean nothing here and no model looks at them.
//!
//! Run with `cargo xtask loom pipeline`.
#![cfg(loom)]

use bounded_buffer::Receiver;
use patterns_core::sync::thread;
use patterns_core::CancelToken;
use pipeline::{Pipeline, PipelineError};

/// The bound `cargo xtask loom` (and CI) sets; a higher one is a deep run.
const DEFAULT_PREEMPTIONS: usize = 2;

/// A model explored at `LOOM_MAX_PREEMPTIONS` preemptions, but at most `cap` in a default
/// run (nor unbounded when the variable is unset). A deep run (`cargo xtask loom
/// --deep`, a bound above the default) is not capped: it takes as long as it takes.
fn capped(cap: usize) -> loom::model::Builder {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(match model.preemption_bound {
        Some(bound) if bound > DEFAULT_PREEMPTIONS => bound,
        Some(bound) => bound.min(cap),
        None => cap,
    });
    model
}

/// A channel holding `0..n`, closed: a source with no thread of its own.
fn filled(n: u32) -> Receiver<u32> {
    let (tx, rx) = bounded_buffer::channel(n as usize);
    for item in 0..n {
        tx.try_send(item).unwrap();
    }
    rx
}

/// Source → map → sink over queues of one item: the source sends its last item and ends
/// while the map stage is blocked handing the first on, or about to be; the end of the
/// input follows the last item through both queues, and the run completes with every
/// item, in order.
///
/// Capped at 1 preemption: about 2 s; at 2 it takes about 2 minutes.
#[test]
fn the_source_ends_while_the_next_stage_is_blocked_on_a_full_queue() {
    capped(1).check(|| {
        let done = Pipeline::from_iter(1..=2u32)
            .chunk_size(1)
            .buffer(1)
            .map(|x| x * 10)
            .chunk_size(1)
            .buffer(1)
            .collect::<Vec<_>>()
            .unwrap();
        assert_eq!(done.value, [10, 20]);
        let stages = &done.report.stages;
        assert_eq!(stages.len(), 3);
        assert_eq!((stages[1].items_in, stages[1].items_out), (2, 2));
    });
}

/// The same end of input over rendezvous queues: every hand-off waits for its taker.
///
/// Capped at 1 preemption: about 1 s; at 2, about 50 s.
#[test]
fn the_source_ends_over_rendezvous_queues() {
    capped(1).check(|| {
        let done = Pipeline::from_iter(1..=2u32)
            .chunk_size(1)
            .buffer(0)
            .map(|x| x + 1)
            .chunk_size(1)
            .buffer(0)
            .collect::<Vec<_>>()
            .unwrap();
        assert_eq!(done.value, [2, 3]);
    });
}

/// The run's result when another thread cancels the caller's token during it: complete
/// with every item in order (`expected`), or `Cancelled` — never complete with items
/// missing.
fn all_in_order_or_cancelled(
    result: Result<pipeline::Finished<Vec<u32>>, PipelineError>,
    expected: &[u32],
) {
    match result {
        Ok(done) => assert_eq!(done.value, expected, "complete means every item"),
        Err(PipelineError::Cancelled) => {}
        Err(other) => panic!("{other:?}"),
    }
}

/// A thread cancels the caller's token (so the cancel reaches the run through its child
/// token) while the source may be blocked on its full queue and the sink on its empty
/// one: the run returns, every stage joined, complete or `Cancelled`.
///
/// Capped at 2 preemptions: about 12 s.
#[test]
fn cancel_racing_completion_returns_all_items_or_cancelled() {
    capped(2).check(|| {
        let token = CancelToken::new();
        let canceller = {
            let token = token.clone();
            thread::spawn(move || token.cancel())
        };
        let result = Pipeline::from_iter([10, 20u32])
            .chunk_size(1)
            .buffer(1)
            .with_cancel(&token)
            .collect::<Vec<_>>();
        canceller.join().unwrap();
        all_in_order_or_cancelled(result, &[10, 20]);
    });
}

/// As above with a stage in between and rendezvous queues: the cancel may catch the
/// stage blocked on its input, blocked handing on to the sink, or between the two.
///
/// Four threads: capped at 1 preemption and one item, about 6 s (two items over queues
/// of one take about 30 s; at 2 preemptions it does not end in minutes).
#[test]
fn cancel_racing_completion_through_a_stage_returns_all_items_or_cancelled() {
    capped(1).check(|| {
        let token = CancelToken::new();
        let canceller = {
            let token = token.clone();
            thread::spawn(move || token.cancel())
        };
        let result = Pipeline::from_iter([1u32])
            .chunk_size(1)
            .buffer(0)
            .map(|x| x * 10)
            .chunk_size(1)
            .buffer(0)
            .with_cancel(&token)
            .collect::<Vec<_>>();
        canceller.join().unwrap();
        all_in_order_or_cancelled(result, &[10]);
    });
}

/// Two threads of an ordered parallel stage, one item per chunk, two permits, handing
/// on through a rendezvous (so the emitter blocks while the other thread files its
/// result): the results leave in input order whichever thread finishes first, and the
/// stage ends when both find the input ended (the one to look last may wait for a
/// permit first).
///
/// Capped at 1 preemption: about 20 s (a queue of one item after the stage: about 30 s).
#[test]
fn an_ordered_parallel_stage_keeps_input_order() {
    capped(1).check(|| {
        let done = Pipeline::from_receiver(filled(2))
            .chunk_size(1)
            .par_map(2, |x| x * 2 + 1)
            .reorder_window(2)
            .chunk_size(1)
            .buffer(0)
            .collect::<Vec<_>>()
            .unwrap();
        assert_eq!(done.value, [1, 3]);
        // No source thread, so no source in the report: the stage, then the sink.
        let stage = &done.report.stages[0];
        assert_eq!(stage.name, "par_map");
        assert_eq!((stage.items_in, stage.items_out), (2, 2));
        assert!(
            stage.reorder_high_water.unwrap() <= 1,
            "window 2: one waits at most"
        );
    });
}

/// An ordered parallel stage with fewer permits than threads (`reorder_window(1)`, two
/// threads): the thread that finds the input ended gives its permit back, so the other,
/// waiting for it, finds the input ended too. (Without that, this deadlocks: the other
/// waits for a permit forever.)
///
/// Capped at 1 preemption: about 2 s.
#[test]
fn an_ordered_stage_with_a_window_smaller_than_its_threads_ends() {
    capped(1).check(|| {
        let done = Pipeline::from_receiver(filled(1))
            .chunk_size(1)
            .par_map(2, |x| x + 1)
            .reorder_window(1)
            .chunk_size(1)
            .buffer(1)
            .collect::<Vec<_>>()
            .unwrap();
        assert_eq!(done.value, [1]);
    });
}

/// One thread of an ordered parallel stage fails on the second item while the other may
/// be emitting the first, or waiting for a permit, or taking the third: the stage's
/// error is the run's, and nothing hangs.
///
/// Capped at 1 preemption: under a second; at 2 (with two items), about 50 s.
#[test]
fn a_failing_worker_of_an_ordered_stage_fails_the_run_without_a_hang() {
    capped(1).check(|| {
        let result = Pipeline::from_receiver(filled(3))
            .chunk_size(1)
            .par_try_map(2, |x| if x == 1 { Err("bad item") } else { Ok(x) })
            .reorder_window(2)
            .chunk_size(1)
            .buffer(1)
            .collect::<Vec<_>>();
        match result {
            Err(PipelineError::Stage { stage, error }) => {
                assert_eq!(stage, "par_try_map");
                assert_eq!(error.to_string(), "bad item");
            }
            other => panic!("{other:?}"),
        }
    });
}

/// The iterator is dropped after its first item, with an endless source: the source and
/// the stage are blocked on full queues, or about to be. The drop cancels the run and
/// returns once every stage thread is joined (loom reports a deadlock otherwise, and a
/// leak if a thread kept the run alive).
///
/// Capped at 1 preemption: about 5 s; at 2 it does not end within a minute.
#[test]
fn dropping_the_iterator_early_joins_blocked_stages() {
    capped(1).check(|| {
        let mut items = Pipeline::from_iter(0u32..)
            .chunk_size(1)
            .buffer(1)
            .map(|x| x + 100)
            .chunk_size(1)
            .buffer(1)
            .into_iter();
        assert_eq!(items.next().unwrap().unwrap(), 100);
        drop(items);
    });
}

/// A stage fails on the first item while the source is blocked on its full queue (or
/// about to be): the failure cancels the source, the run returns the stage's error, and
/// the item still queued is dropped with the run.
///
/// Capped at 2 preemptions: about 17 s.
#[test]
fn a_stage_error_while_the_source_is_blocked_fails_the_run_without_a_hang() {
    capped(2).check(|| {
        let result = Pipeline::from_iter(0..3u32)
            .chunk_size(1)
            .buffer(1)
            .try_map(|x| if x == 0 { Err("first item") } else { Ok(x) })
            .name("parse")
            .chunk_size(1)
            .buffer(1)
            .collect::<Vec<_>>();
        match result {
            Err(PipelineError::Stage { stage, error }) => {
                assert_eq!(stage, "parse");
                assert_eq!(error.to_string(), "first item");
            }
            other => panic!("{other:?}"),
        }
    });
}
