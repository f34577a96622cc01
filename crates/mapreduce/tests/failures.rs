//! Panics in every phase, and cancellation: each is an error naming its phase, the rest of
//! the run stops, and nothing hangs. Threads are ordered by flags the run itself sets,
//! never by sleeping.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use mapreduce::{MapReduce, MapReduceError, Phase};
use patterns_core::CancelToken;

/// A panic payload that raises `flag` when dropped: the run drops it after it recorded the
/// failure and cancelled the rest, so other workers can wait for that moment.
struct RaiseOnDrop(&'static AtomicBool);

impl Drop for RaiseOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn wait_for(flag: &AtomicBool) {
    while !flag.load(Ordering::SeqCst) {
        thread::yield_now();
    }
}

#[test]
fn map_panic_names_the_phase_and_stops_the_other_mappers() {
    static FAILED: AtomicBool = AtomicBool::new(false);
    let mapped = AtomicUsize::new(0);
    let reduced = AtomicUsize::new(0);
    let items: Vec<u32> = (0..100_000).collect();
    let err = MapReduce::new(
        |&n: &u32, out| {
            if n == 0 {
                std::panic::panic_any(RaiseOnDrop(&FAILED)); // the first chunk
            }
            wait_for(&FAILED); // every other chunk waits until the run has failed
            mapped.fetch_add(1, Ordering::SeqCst);
            out.emit(n, 1u32);
        },
        |_, v| {
            reduced.fetch_add(1, Ordering::SeqCst);
            v.count()
        },
    )
    .mappers(2)
    .chunk_size(1)
    .run(&items)
    .unwrap_err();
    assert_eq!(err.phase(), Some(Phase::Map));
    assert_eq!(
        err.to_string(),
        "the map phase panicked: <non-string panic payload>"
    );
    // The other mapper finishes the chunk it was in, then sees the token.
    assert!(mapped.load(Ordering::SeqCst) <= 1);
    assert_eq!(reduced.load(Ordering::SeqCst), 0, "no reducer may start");
}

#[test]
fn map_panic_message_is_kept() {
    let err = MapReduce::new(
        |line: &str, out| {
            assert!(!line.contains("bad"), "bad line: {line}");
            out.emit(line, 1u8);
        },
        |_, v| v.count(),
    )
    .run("fine\nbad one\nfine")
    .unwrap_err();
    assert!(matches!(
        &err,
        MapReduceError::Panicked { phase: Phase::Map, message } if message == "bad line: bad one"
    ));
}

#[test]
fn flat_map_panic_is_a_map_panic() {
    let err = MapReduce::flat_map(
        |line: &str| {
            assert!(!line.contains("bad"), "bad line: {line}");
            Some((line, 1u8))
        },
        |_, v| v.count(),
    )
    .combiner(|a, b| *a += b)
    .run("fine\nbad one\nfine")
    .unwrap_err();
    assert!(matches!(
        &err,
        MapReduceError::Panicked { phase: Phase::Map, message } if message == "bad line: bad one"
    ));
}

#[test]
fn combiner_panic_at_emit_is_a_map_panic() {
    let err = MapReduce::new(|&n: &u32, out| out.emit(0u8, n), |_, v| v.count())
        .combiner(|_, _| panic!("no merging today"))
        .mappers(1)
        .run(&[1, 2][..])
        .unwrap_err();
    assert_eq!(err.phase(), Some(Phase::Map));
    assert_eq!(err.to_string(), "the map phase panicked: no merging today");
}

#[test]
fn combiner_panic_in_merge_is_a_merge_panic() {
    // Two items, one chunk each; each of the two mappers waits at the barrier with its
    // first item, so each maps exactly one. The combiner first runs in the merge.
    let barrier = Barrier::new(2);
    let err = MapReduce::new(
        |&n: &u32, out| {
            barrier.wait();
            out.emit(0u8, n);
        },
        |_, v| v.count(),
    )
    .combiner(|_, _| panic!("merge refused"))
    .mappers(2)
    .reducers(1)
    .chunk_size(1)
    .run(&[1, 2][..])
    .unwrap_err();
    assert_eq!(err.phase(), Some(Phase::Merge));
    assert_eq!(err.to_string(), "the merge phase panicked: merge refused");
}

#[test]
fn reduce_panic_names_the_phase_and_stops_the_other_reducers() {
    static FAILED: AtomicBool = AtomicBool::new(false);
    const KEYS: u32 = 100_000;
    let calls = AtomicUsize::new(0);
    let reduced = AtomicUsize::new(0);
    let items: Vec<u32> = (0..KEYS).collect();
    let err = MapReduce::new(
        |&n: &u32, out| out.emit(n, 1u32),
        |_, v| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                std::panic::panic_any(RaiseOnDrop(&FAILED)); // the first key reduced
            }
            wait_for(&FAILED);
            reduced.fetch_add(1, Ordering::SeqCst);
            v.count()
        },
    )
    .combiner(|a, b| *a += b)
    .mappers(2)
    .reducers(2)
    .run(&items)
    .unwrap_err();
    assert_eq!(err.phase(), Some(Phase::Reduce));
    // The other reducer looks at the token every 1024 keys.
    assert!(
        reduced.load(Ordering::SeqCst) < 2 * 1024,
        "{}",
        reduced.load(Ordering::SeqCst)
    );
}

#[test]
fn sort_panic_is_a_reduce_panic() {
    #[derive(PartialEq, Eq, Hash, Debug)]
    struct Touchy(u32);
    impl Ord for Touchy {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            assert!(self.0 != 13 && other.0 != 13, "13 does not compare");
            self.0.cmp(&other.0)
        }
    }
    impl PartialOrd for Touchy {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    let err = MapReduce::new(|&n: &u32, out| out.emit(Touchy(n), 1u32), |_, v| v.count())
        .sorted(true)
        .mappers(2)
        .reducers(1)
        .run(&(0..100).collect::<Vec<u32>>())
        .unwrap_err();
    assert_eq!(err.phase(), Some(Phase::Reduce));
    assert!(err.to_string().contains("13 does not compare"));
}

#[test]
fn progress_panic_is_a_map_panic() {
    let err = MapReduce::new(|&n: &u32, out| out.emit(n, 1u32), |_, v| v.count())
        .progress(|p| assert!(p.chunks < 3, "enough"))
        .chunk_size(1)
        .mappers(1)
        .run(&[1, 2, 3, 4][..])
        .unwrap_err();
    assert_eq!(err.phase(), Some(Phase::Map));
}

#[test]
fn the_pool_survives_panics() {
    let pool = Arc::new(worker_pool::WorkerPool::new(2).unwrap());
    let job = MapReduce::new(
        |&n: &u32, out| {
            assert!(n != 3, "three");
            out.emit(n, 1u32);
        },
        |_, v| v.count(),
    )
    .pool(Arc::clone(&pool))
    .mappers(2)
    .chunk_size(1);
    for _ in 0..5 {
        assert!(job.run(&[1, 2, 3][..]).is_err());
    }
    assert!(job.run(&[1, 2][..]).is_ok());
    assert_eq!(pool.stats().workers, 2);
}

#[test]
fn cancelled_before_the_run() {
    let token = CancelToken::new();
    token.cancel();
    let err = MapReduce::new(|&n: &u32, out| out.emit(n, 1u32), |_, v| v.count())
        .with_cancel(&token)
        .run(&[1, 2, 3][..])
        .unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(err.to_string(), "the mapreduce run was cancelled");
}

#[test]
fn cancelled_while_mapping_stops_every_mapper() {
    let token = CancelToken::new();
    let mapped = AtomicUsize::new(0);
    let items: Vec<u32> = (0..100_000).collect();
    let err = MapReduce::new(
        |&n: &u32, out| {
            match n {
                10 => token.cancel(),
                0..10 => {}
                _ => {
                    while !token.is_cancelled() {
                        thread::yield_now(); // later chunks wait for the cancel
                    }
                }
            }
            mapped.fetch_add(1, Ordering::SeqCst);
            out.emit(n, 1u32);
        },
        |_, v| v.count(),
    )
    .with_cancel(&token)
    .mappers(3)
    .chunk_size(1)
    .run(&items)
    .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    // Items 0..=10, plus at most the chunk each other mapper was in.
    assert!(
        mapped.load(Ordering::SeqCst) <= 11 + 2,
        "{}",
        mapped.load(Ordering::SeqCst)
    );
}

#[test]
fn cancelled_while_reducing() {
    let token = CancelToken::new();
    let reduced = AtomicUsize::new(0);
    let items: Vec<u32> = (0..50_000).collect();
    let err = MapReduce::new(
        |&n: &u32, out| out.emit(n, 1u32),
        |_, v| {
            if reduced.fetch_add(1, Ordering::SeqCst) == 100 {
                token.cancel();
            }
            v.count()
        },
    )
    .combiner(|a, b| *a += b)
    .with_cancel(&token)
    .mappers(2)
    .reducers(1)
    .run(&items)
    .unwrap_err();
    assert!(err.is_cancelled());
    assert!(reduced.load(Ordering::SeqCst) <= 1024);
}
