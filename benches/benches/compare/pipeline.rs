//! `pipeline` against a hand-written crossbeam-channel thread chain, a sequential
//! iterator, pariter's `parallel_map` and rayon's `par_bridge`.

use std::hint::black_box;
use std::thread;

use criterion::{BenchmarkId, Criterion};
use pariter::IteratorExt;
use pipeline::Pipeline;
use rayon::iter::{ParallelBridge, ParallelIterator};

use crate::support::flat_group;

/// Items through the cheap pipelines.
const ITEMS: u64 = 2_000_000;
/// Items through the 16-stage pipeline.
const DEEP_ITEMS: u64 = 500_000;
const DEEP_STAGES: usize = 16;
/// Items through `par_map`, each costing about 2 µs.
const PAR_ITEMS: u64 = 100_000;
/// The capacity of each queue in the hand-written chains.
const CHAIN_CAP: usize = 1024;

fn square(x: u64) -> u64 {
    x.wrapping_mul(x)
}

fn is_even(x: &u64) -> bool {
    x % 2 == 0
}

/// About 2 µs of dependent arithmetic (a xorshift chain the optimizer cannot shorten).
fn two_micros(x: u64) -> u64 {
    let mut state = x | 1;
    for _ in 0..1400 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
    }
    state
}

/// square → keep evens → sum, one thread per stage, crossbeam-channel between them, one
/// item per send: what a user writes by hand.
fn crossbeam_three_stage(n: u64) -> u64 {
    let (src_tx, src_rx) = crossbeam_channel::bounded(CHAIN_CAP);
    let (sq_tx, sq_rx) = crossbeam_channel::bounded(CHAIN_CAP);
    let (ev_tx, ev_rx) = crossbeam_channel::bounded(CHAIN_CAP);
    let source = thread::spawn(move || (0..n).try_for_each(|x| src_tx.send(x)).is_ok());
    let squarer = thread::spawn(move || {
        src_rx
            .iter()
            .try_for_each(|x| sq_tx.send(square(x)))
            .is_ok()
    });
    let evens = thread::spawn(move || {
        sq_rx
            .iter()
            .filter(is_even)
            .try_for_each(|x| ev_tx.send(x))
            .is_ok()
    });
    let sum = ev_rx.iter().fold(0u64, u64::wrapping_add);
    assert!(source.join().unwrap() && squarer.join().unwrap() && evens.join().unwrap());
    sum
}

/// `stages` threads that each add 1, crossbeam-channel between them.
fn crossbeam_chain(n: u64, stages: usize) -> u64 {
    let (tx, mut rx) = crossbeam_channel::bounded(CHAIN_CAP);
    let mut threads = vec![thread::spawn(move || {
        (0..n).try_for_each(|x| tx.send(x)).is_ok()
    })];
    for _ in 0..stages {
        let (tx, next) = crossbeam_channel::bounded(CHAIN_CAP);
        let input = std::mem::replace(&mut rx, next);
        threads.push(thread::spawn(move || {
            input.iter().try_for_each(|x| tx.send(x + 1)).is_ok()
        }));
    }
    let sum = rx.iter().fold(0u64, u64::wrapping_add);
    assert!(threads.into_iter().all(|t| t.join().unwrap()));
    sum
}

fn ours_chain(n: u64, stages: usize) -> u64 {
    let mut pipeline = Pipeline::from_iter(0..n);
    for _ in 0..stages {
        pipeline = pipeline.map(|x| x + 1);
    }
    pipeline.fold(0u64, u64::wrapping_add).unwrap().value
}

fn bench_three_stage(c: &mut Criterion) {
    let expected: u64 = (0..ITEMS)
        .map(square)
        .filter(is_even)
        .fold(0, u64::wrapping_add);
    let mut group = flat_group(c, "pipeline/three_stage".to_owned(), ITEMS);
    group.bench_function("ours", |b| {
        b.iter(|| {
            let sum = Pipeline::from_iter(0..black_box(ITEMS))
                .map(square)
                .filter(is_even)
                .fold(0u64, u64::wrapping_add)
                .unwrap()
                .value;
            assert_eq!(sum, expected);
        });
    });
    group.bench_function("crossbeam", |b| {
        b.iter(|| assert_eq!(crossbeam_three_stage(black_box(ITEMS)), expected));
    });
    group.bench_function("sequential", |b| {
        b.iter(|| {
            let sum = (0..black_box(ITEMS))
                .map(square)
                .filter(is_even)
                .fold(0, u64::wrapping_add);
            assert_eq!(sum, expected);
        });
    });
    group.finish();
}

fn bench_deep(c: &mut Criterion) {
    let expected = (0..DEEP_ITEMS)
        .map(|x| x + DEEP_STAGES as u64)
        .fold(0, u64::wrapping_add);
    let mut group = flat_group(c, format!("pipeline/{DEEP_STAGES}_stage"), DEEP_ITEMS);
    group.bench_function("ours", |b| {
        b.iter(|| assert_eq!(ours_chain(black_box(DEEP_ITEMS), DEEP_STAGES), expected));
    });
    group.bench_function("crossbeam", |b| {
        b.iter(|| {
            assert_eq!(
                crossbeam_chain(black_box(DEEP_ITEMS), DEEP_STAGES),
                expected
            )
        });
    });
    group.finish();
}

/// `par_map` with 1 and 2 threads (this machine's cores) and oversubscribed with 4 and 8,
/// each contender with the same number of threads (rayon in a pool of that size).
fn bench_par_map(c: &mut Criterion) {
    let expected: Vec<u64> = (0..PAR_ITEMS).map(two_micros).collect();
    let mut group = flat_group(c, "pipeline/par_map".to_owned(), PAR_ITEMS);
    for threads in [1, 2, 4, 8] {
        let id = |name| BenchmarkId::new(name, format!("threads_{threads}"));
        group.bench_function(id("ours"), |b| {
            b.iter(|| {
                let got: Vec<u64> = Pipeline::from_iter(0..black_box(PAR_ITEMS))
                    .par_map(threads, two_micros)
                    .collect()
                    .unwrap()
                    .value;
                assert_eq!(got, expected);
            });
        });
        group.bench_function(id("ours_unordered"), |b| {
            b.iter(|| {
                let got: Vec<u64> = Pipeline::from_iter(0..black_box(PAR_ITEMS))
                    .par_map_unordered(threads, two_micros)
                    .collect()
                    .unwrap()
                    .value;
                assert_eq!(got.len(), expected.len());
            });
        });
        group.bench_function(id("pariter"), |b| {
            b.iter(|| {
                let got: Vec<u64> = (0..black_box(PAR_ITEMS))
                    .parallel_map_custom(|o| o.threads(threads), two_micros)
                    .collect();
                assert_eq!(got, expected);
            });
        });
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        group.bench_function(id("rayon_par_bridge"), |b| {
            b.iter(|| {
                let got: Vec<u64> = pool.install(|| {
                    (0..black_box(PAR_ITEMS))
                        .par_bridge()
                        .map(two_micros)
                        .collect()
                });
                assert_eq!(got.len(), expected.len());
            });
        });
    }
    group.finish();
}

/// Every case.
pub(crate) fn bench_all(c: &mut Criterion) {
    bench_three_stage(c);
    bench_deep(c);
    bench_par_map(c);
}
