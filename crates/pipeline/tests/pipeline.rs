//! Behaviour of a pipeline run: stages, order, errors, panics, cancellation, reports.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use patterns_core::CancelToken;
use pipeline::{BuildError, Pipeline, PipelineError};

use common::work;

#[test]
fn smoke_every_sequential_stage() {
    let done = Pipeline::from_iter(0..1000u32)
        .map(|x| x + 1)
        .filter(|x| x % 3 != 0)
        .filter_map(|x| (x % 5 != 0).then_some(x))
        .flat_map(|x| [x, x])
        .inspect(|_| {})
        .batch(7)
        .unbatch()
        .try_map(|x| Ok::<_, std::io::Error>(u64::from(x)))
        .collect::<Vec<u64>>()
        .unwrap();
    let expected: Vec<u64> = (1..=1000u64)
        .filter(|x| x % 3 != 0 && x % 5 != 0)
        .flat_map(|x| [x, x])
        .collect();
    assert_eq!(done.value, expected);
    let names: Vec<&str> = done.report.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "source",
            "map",
            "filter",
            "filter_map",
            "flat_map",
            "inspect",
            "batch",
            "unbatch",
            "try_map",
            "collect"
        ]
    );
    assert_eq!(done.report.stages[0].items_out, 1000);
    assert_eq!(
        done.report.stages.last().unwrap().items_in,
        expected.len() as u64
    );
}

#[test]
fn empty_source() {
    let done = Pipeline::from_iter(Vec::<u8>::new())
        .map(|x| x)
        .par_map(2, |x| x)
        .collect::<Vec<_>>()
        .unwrap();
    assert!(done.value.is_empty());
}

#[test]
fn par_map_keeps_order_under_random_delays() {
    let mut rng = fastrand::Rng::with_seed(7);
    let delays: Vec<u64> = (0..3000).map(|_| rng.u64(0..40)).collect();
    let done = Pipeline::from_iter(delays.clone().into_iter().enumerate())
        .chunk_size(3)
        .par_map(4, |(i, delay)| {
            work(delay);
            i
        })
        .reorder_window(8)
        .collect::<Vec<usize>>()
        .unwrap();
    assert_eq!(done.value, (0..3000).collect::<Vec<_>>());
    let stage = &done.report.stages[1];
    assert_eq!(stage.threads, 4);
    let held = stage
        .reorder_high_water
        .expect("an ordered stage reports its reordering");
    assert!(held < 8, "{held} chunks held back, with a window of 8");
}

/// Regression (found by the loom model
/// `an_ordered_stage_with_a_window_smaller_than_its_threads_ends`): a thread that found
/// the input ended kept its permit, and with fewer permits than threads the others waited
/// for it for ever.
#[test]
fn an_ordered_stage_with_fewer_permits_than_threads_ends() {
    for window in 1..4 {
        let done = Pipeline::from_iter(0..100u32)
            .chunk_size(1)
            .par_map(4, |x| x + 1)
            .reorder_window(window)
            .collect::<Vec<_>>()
            .unwrap();
        assert_eq!(done.value, (1..=100).collect::<Vec<_>>());
    }
}

#[test]
fn par_try_map_keeps_order_and_fails_on_the_first_error() {
    let ok = Pipeline::from_iter(0..500u32)
        .par_try_map(3, |x| Ok::<_, std::fmt::Error>(x * 2))
        .collect::<Vec<_>>()
        .unwrap();
    assert_eq!(ok.value, (0..500).map(|x| x * 2).collect::<Vec<_>>());
    let failed = Pipeline::from_iter(0..500u32)
        .par_try_map(3, |x| {
            if x == 250 {
                Err(std::fmt::Error)
            } else {
                Ok(x)
            }
        })
        .name("check")
        .collect::<Vec<_>>();
    match failed {
        Err(PipelineError::Stage { stage, error }) => {
            assert_eq!(stage, "check");
            assert!(error.downcast_ref::<std::fmt::Error>().is_some());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unordered_accounts_for_every_item_exactly_once() {
    let done = Pipeline::from_iter(0..100_000u32)
        .par_map_unordered(4, |x| x)
        .chunk_size(5)
        .par_try_map_unordered(3, Ok::<_, std::fmt::Error>)
        .collect::<Vec<_>>()
        .unwrap();
    let mut got = done.value;
    got.sort_unstable();
    assert_eq!(got, (0..100_000).collect::<Vec<_>>());
}

#[test]
fn an_error_in_a_middle_stage_stops_the_source() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let result = Pipeline::from_iter((0u64..).inspect(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    }))
    .try_map(|x| {
        if x == 100 {
            Err("item 100 is bad")
        } else {
            Ok(x)
        }
    })
    .name("validate")
    .for_each(drop);
    match result {
        Err(PipelineError::Stage { stage, error }) => {
            assert_eq!(stage, "validate");
            assert_eq!(error.to_string(), "item 100 is bad");
        }
        other => panic!("{other:?}"),
    }
    // The source stops at its next chunk: it can have filled the queue after it (4096)
    // and one chunk (256) in hand beyond the bad item.
    let pulled = pulled.load(Ordering::Relaxed);
    assert!(
        pulled <= 101 + 4096 + 256,
        "the source went on to {pulled} items"
    );
    // The source is not polled after the run: the sink joined it.
    let after = Arc::clone(&Arc::new(pulled));
    assert_eq!(*after, pulled);
}

#[test]
fn a_panic_in_a_parallel_stage_is_returned_with_its_stage_and_message() {
    let result = Pipeline::from_iter(0..10_000u32)
        .par_map(3, |x| {
            assert!(x != 5000, "no 5000 here");
            x
        })
        .name("picky")
        .fold(0u64, |a, x| a + u64::from(x));
    match result {
        Err(PipelineError::Panicked { stage, message }) => {
            assert_eq!(stage, "picky");
            assert_eq!(message, "no 5000 here");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_panic_in_a_sequential_stage_and_in_the_source() {
    let result = Pipeline::from_iter(0..100u8)
        .map(|x| if x == 50 { panic!("at {x}") } else { x })
        .for_each(drop);
    assert!(
        matches!(result, Err(PipelineError::Panicked { ref stage, ref message }) if stage == "map" && message == "at 50"),
        "{result:?}"
    );
    let mut n = 0;
    let result = Pipeline::generate(move || {
        n += 1;
        assert!(n < 10, "source ran dry");
        Some(n)
    })
    .for_each(drop);
    assert!(
        matches!(result, Err(PipelineError::Panicked { ref stage, .. }) if stage == "source"),
        "{result:?}"
    );
}

#[test]
fn try_for_each_fails_the_run() {
    let result =
        Pipeline::from_iter(0..u32::MAX)
            .try_for_each(|x| if x < 10 { Ok(()) } else { Err("enough") });
    assert!(
        matches!(result, Err(PipelineError::Stage { ref stage, .. }) if stage == "try_for_each"),
        "{result:?}"
    );
}

#[test]
fn cancellation_from_outside_mid_stream() {
    let token = CancelToken::new();
    let (started, running) = mpsc::channel();
    let canceller = {
        let token = token.clone();
        std::thread::spawn(move || {
            running.recv().unwrap();
            token.cancel();
        })
    };
    let mut seen = 0u64;
    let result = Pipeline::from_iter(0u64..)
        .map(|x| x * 2)
        .par_map(2, |x| x + 1)
        .with_cancel(&token)
        .for_each(|_| {
            seen += 1;
            if seen == 1000 {
                started.send(()).unwrap();
            }
        });
    canceller.join().unwrap();
    assert!(
        matches!(result, Err(PipelineError::Cancelled)),
        "{result:?}"
    );
    assert!(seen >= 1000);
}

#[test]
fn a_cancelled_run_stops_a_stage_blocked_on_an_empty_receiver() {
    let token = CancelToken::new();
    let (tx, rx) = bounded_buffer::channel::<u32>(4);
    let (first, got_first) = mpsc::channel();
    let run = {
        let token = token.clone();
        std::thread::spawn(move || {
            Pipeline::from_receiver(rx)
                .map(|x| x + 1)
                .with_cancel(&token)
                .for_each(|x| first.send(x).unwrap())
        })
    };
    tx.send(1).unwrap();
    assert_eq!(got_first.recv_timeout(common::PATIENCE).unwrap(), 2);
    // The sender stays open: only the token can end the run now.
    token.cancel();
    let result = run.join().unwrap();
    assert!(
        matches!(result, Err(PipelineError::Cancelled)),
        "{result:?}"
    );
    drop(tx);
}

#[test]
fn a_cancel_that_comes_after_the_last_item_leaves_the_run_complete_or_cancelled() {
    for round in 0..200u64 {
        let token = CancelToken::new();
        let canceller = {
            let token = token.clone();
            std::thread::spawn(move || {
                work(round % 50);
                token.cancel();
            })
        };
        let result = Pipeline::from_iter(0..200u64)
            .par_map(2, |x| x)
            .with_cancel(&token)
            .collect::<Vec<_>>();
        canceller.join().unwrap();
        match result {
            Ok(done) => assert_eq!(
                done.value,
                (0..200).collect::<Vec<_>>(),
                "an Ok run lost items"
            ),
            Err(PipelineError::Cancelled) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
}

#[test]
fn skip_errors_drops_the_failed_items_and_counts_them() {
    let done = Pipeline::from_iter(0..100u32)
        .par_try_map(2, |x| {
            if x % 10 == 0 {
                Err("tens are bad")
            } else {
                Ok(x)
            }
        })
        .skip_errors()
        .collect::<Vec<_>>()
        .unwrap();
    assert_eq!(
        done.value,
        (0..100).filter(|x| x % 10 != 0).collect::<Vec<_>>()
    );
    assert_eq!(done.report.stages[1].skipped, 10);
}

#[test]
fn skip_errors_to_hands_every_error_on() {
    let (errors_tx, errors) = bounded_buffer::unbounded();
    let done = Pipeline::from_iter(0..1000u32)
        .par_try_map(3, |x| {
            if x % 100 == 0 {
                Err(format!("bad {x}"))
            } else {
                Ok(x)
            }
        })
        .name("check")
        .skip_errors_to(errors_tx)
        .for_each(drop)
        .unwrap();
    assert_eq!(done.report.stages[1].skipped, 10);
    let mut messages: Vec<String> = errors
        .iter()
        .map(|skipped| {
            assert_eq!(skipped.stage, "check");
            skipped.error.to_string()
        })
        .collect();
    messages.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("bad {}", i * 100)).collect();
    expected.sort();
    assert_eq!(messages, expected, "the channel ends once the run is over");
}

#[test]
fn bad_settings_are_build_errors() {
    let zero_threads = Pipeline::from_iter(0..3)
        .par_map(0, |x: i32| x)
        .collect::<Vec<_>>();
    assert!(
        matches!(zero_threads, Err(PipelineError::Build(BuildError::ZeroThreads { ref stage })) if stage == "par_map")
    );
    let zero_chunk = Pipeline::from_iter(0..3)
        .map(|x| x)
        .chunk_size(0)
        .for_each(drop);
    assert!(matches!(
        zero_chunk,
        Err(PipelineError::Build(BuildError::Zero {
            what: "chunk size",
            ..
        }))
    ));
    let zero_batch = Pipeline::from_iter(0..3).batch(0).for_each(drop);
    assert!(matches!(
        zero_batch,
        Err(PipelineError::Build(BuildError::Zero {
            what: "batch size",
            ..
        }))
    ));
    let zero_window = Pipeline::from_iter(0..3)
        .par_map(2, |x| x)
        .reorder_window(0)
        .for_each(drop);
    assert!(matches!(
        zero_window,
        Err(PipelineError::Build(BuildError::Zero {
            what: "reorder window",
            ..
        }))
    ));
    let huge = Pipeline::from_iter(0..3u64)
        .map(|x| x)
        .buffer(usize::MAX)
        .for_each(drop);
    assert!(
        matches!(huge, Err(PipelineError::Build(BuildError::Buffer { .. }))),
        "{huge:?}"
    );
    let message = Pipeline::from_iter(0..3)
        .par_map(0, |x: i32| x)
        .for_each(drop)
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "invalid pipeline: stage `par_map` needs at least one thread"
    );
}

#[test]
fn into_iter_hands_out_items_then_the_error() {
    let mut items = Pipeline::from_iter(0..10u8)
        .try_map(|x| if x < 5 { Ok(x) } else { Err("five") })
        .chunk_size(1)
        .into_iter();
    let mut got = Vec::new();
    let mut errors = 0;
    for item in items.by_ref() {
        match item {
            Ok(x) => got.push(x),
            Err(error) => {
                errors += 1;
                assert_eq!(error.to_string(), "stage `try_map` failed: five");
            }
        }
    }
    assert_eq!(errors, 1);
    assert!(got.iter().copied().eq(0..got.len() as u8), "{got:?}");
    assert!(items.next().is_none());
    assert!(items.report().is_none());
}

#[test]
fn into_iter_reports_after_the_end() {
    let mut items = Pipeline::from_iter(0..10u8).into_iter();
    assert_eq!(items.by_ref().map(Result::unwrap).count(), 10);
    assert_eq!(items.report().unwrap().stages[0].items_out, 10);
}

#[test]
fn into_receiver_runs_until_joined() {
    let (rx, running) = Pipeline::from_iter(0..100u32)
        .map(|x| x * 3)
        .into_receiver()
        .unwrap();
    let got: Vec<u32> = rx.iter().collect();
    assert_eq!(got, (0..100).map(|x| x * 3).collect::<Vec<_>>());
    let report = running.join().unwrap();
    assert_eq!(report.stages[1].items_out, 100);

    let (rx, running) = Pipeline::from_iter(0u32..).into_receiver().unwrap();
    assert_eq!(rx.recv().unwrap(), 0);
    drop(rx);
    assert!(matches!(running.join(), Err(PipelineError::Cancelled)));
}

#[test]
fn the_report_names_the_bottleneck() {
    let done = Pipeline::from_iter(0..2000u32)
        .map(|x| x)
        .name("cheap")
        .map(|x| {
            work(50);
            x
        })
        .name("slow")
        .for_each(drop)
        .unwrap();
    assert_eq!(done.report.bottleneck().unwrap().name, "slow");
    let text = done.report.to_string();
    assert!(text.contains("slow") && text.contains("cheap"), "{text}");
}

#[test]
fn a_small_buffer_bounds_the_queue() {
    let done = Pipeline::from_iter(0..10_000u32)
        .chunk_size(4)
        .buffer(8)
        .map(|x| {
            work(1);
            x
        })
        .for_each(drop)
        .unwrap();
    // Two chunks of four.
    assert!(done.report.stages[0].queue_high_water <= 2);
}

#[test]
fn rendezvous_buffers_work() {
    let done = Pipeline::from_iter(0..500u32)
        .buffer(0)
        .map(|x| x + 1)
        .buffer(0)
        .collect::<Vec<_>>()
        .unwrap();
    assert_eq!(done.value, (1..=500).collect::<Vec<_>>());
}

#[test]
fn topologies_move_every_item() {
    let (tx, rx) = bounded_buffer::channel(64);
    let producer = std::thread::spawn(move || tx.send_iter(0..10_000u32).unwrap());
    let parts = pipeline::partition(rx, 3, |x| x % 7).unwrap();
    let copies: Vec<_> = parts
        .into_iter()
        .map(|part| pipeline::broadcast(part, 2).unwrap())
        .collect();
    let (left, right): (Vec<_>, Vec<_>) = copies
        .into_iter()
        .map(|mut c| (c.remove(0), c.remove(0)))
        .unzip();
    let merged = pipeline::fan_in(left).unwrap();
    let doubled = pipeline::fan_out(pipeline::fan_in(right).unwrap(), 2, |x| x * 2).unwrap();
    let consumer = std::thread::spawn(move || doubled.iter().collect::<Vec<_>>());
    let mut got: Vec<u32> = merged.iter().collect();
    let mut twice = consumer.join().unwrap();
    producer.join().unwrap();
    got.sort_unstable();
    twice.sort_unstable();
    assert_eq!(got, (0..10_000).collect::<Vec<_>>());
    assert_eq!(twice, (0..10_000).map(|x| x * 2).collect::<Vec<_>>());
    assert!(pipeline::partition(bounded_buffer::never::<u8>(), 0, |x| *x).is_err());
    assert!(pipeline::fan_out(bounded_buffer::never::<u8>(), 0, |x| x).is_err());
}

/// Regression (review): `flat_map` pulled each item's whole iterator before handing any
/// of it on, so an endless one never ended and a long one ran on one thread.
#[test]
fn flat_map_streams_an_endless_iterator() {
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&produced);
    let mut items = Pipeline::from_iter([()])
        .flat_map(move |()| {
            let counter = Arc::clone(&counter);
            (0u64..).inspect(move |_| {
                counter.fetch_add(1, Ordering::Relaxed);
            })
        })
        .buffer(256)
        .into_iter();
    assert_eq!(items.next().unwrap().unwrap(), 0);
    drop(items); // cancels and joins: the inner iterator is not pulled for ever
                 // At most the queue (one chunk of 256) and a chunk in hand on each side.
    assert!(produced.load(Ordering::Relaxed) <= 4 * 256, "{produced:?}");
}

#[test]
fn a_long_flat_map_feeds_every_thread_of_the_next_stage() {
    let threads = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let seen = Arc::clone(&threads);
    let done = Pipeline::from_iter([2000u32])
        .flat_map(|n| 0..n)
        .chunk_size(16)
        .par_map(2, move |x| {
            seen.lock().unwrap().insert(std::thread::current().id());
            work(20);
            x
        })
        .collect::<Vec<_>>()
        .unwrap();
    assert_eq!(done.value, (0..2000).collect::<Vec<_>>());
    assert_eq!(
        threads.lock().unwrap().len(),
        2,
        "both threads of the stage got work"
    );
}

/// Regression (review): an ordered stage handed its results on in its input's chunks, not
/// its own: with `chunk_size(1)` the first result waited for the whole input chunk.
#[test]
fn an_ordered_stage_hands_on_in_its_own_chunks() {
    let (second, gate) = mpsc::channel::<()>();
    let gate = std::sync::Mutex::new(gate);
    let mut items = Pipeline::from_iter(0..500u32)
        .chunk_size(500)
        .par_map(1, move |x| {
            if x == 1 {
                // Item 1 waits until item 0 has reached the consumer.
                gate.lock().unwrap().recv_timeout(common::PATIENCE).unwrap();
            }
            x
        })
        .chunk_size(1)
        .into_iter();
    assert_eq!(items.next().unwrap().unwrap(), 0);
    second.send(()).unwrap();
    assert_eq!(items.map(Result::unwrap).count(), 499);
}

/// Regression (review): settings too large to allocate panicked (or aborted) mid-launch.
#[test]
fn huge_settings_are_errors_or_work() {
    let window = Pipeline::from_iter(0..10u32)
        .par_map(2, |x| x)
        .reorder_window(usize::MAX)
        .for_each(drop);
    assert!(
        matches!(
            window,
            Err(PipelineError::Build(BuildError::TooLarge {
                what: "reorder window",
                ..
            }))
        ),
        "{window:?}"
    );
    let everything_at_once = Pipeline::from_iter(0..1000u32)
        .chunk_size(usize::MAX)
        .map(|x| x + 1)
        .collect::<Vec<_>>()
        .unwrap();
    assert_eq!(everything_at_once.value, (1..=1000).collect::<Vec<_>>());
}

/// Regression (review): a bad setting named the stage's kind, not the name given after it,
/// and a buffer too large was found only after the stages before it had started.
#[test]
fn build_errors_come_before_anything_runs_and_name_the_stage() {
    let zero = Pipeline::from_iter(0..3)
        .par_map(0, |x: i32| x)
        .name("parse")
        .for_each(drop);
    assert!(
        matches!(zero, Err(PipelineError::Build(BuildError::ZeroThreads { ref stage })) if stage == "parse"),
        "{zero:?}"
    );
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let huge = Pipeline::from_iter((0u64..10).inspect(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    }))
    .map(|x| x)
    .map(|x| x)
    .name("wide")
    .buffer(usize::MAX)
    .for_each(drop);
    assert!(
        matches!(huge, Err(PipelineError::Build(BuildError::Buffer { ref stage, .. })) if stage == "wide"),
        "{huge:?}"
    );
    assert_eq!(
        pulled.load(Ordering::Relaxed),
        0,
        "the source ran before the error"
    );
}
