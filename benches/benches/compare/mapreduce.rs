//! `mapreduce` against a sequential loop and rayon's `fold`/`reduce`, on word count and a
//! byte histogram over the same deterministic 64 MiB Zipf text (`zipf_text.rs`).
//!
//! All three use the same hasher (std's `RandomState`, SipHash-1-3) and `&str` keys
//! borrowed from the text, so the ratios measure the structure, not the hash:
//!
//! * `sequential` — one `HashMap<&str, u64>` (a `[u64; 256]` for the histogram), one loop
//!   over `str::lines`.
//! * `rayon` — `par_lines().fold(HashMap::new, …).reduce(HashMap::new, merge)` (the
//!   histogram: `par_iter().fold(|| [0; 256], …).reduce(…)`, and `rayon-chunks`, the same
//!   fold over `par_chunks` of 64 KiB, so that the array moves once a chunk, not once a
//!   byte), in rayon's global pool (one thread per core).
//! * `ours` — `MapReduce` with a summing combiner, as many mappers and reducers as cores,
//!   1 MiB chunks: for word count a map that emits into an `Emitter`
//!   (`MapReduce::new`), with `ours-flat_map` beside it, a map that returns its pairs
//!   (`MapReduce::flat_map`). For the histogram, `flat_map` (`[(byte, 1)]` a byte) into
//!   256 slots that start at 0 (`dense_from`), 64 KiB chunks; beside it the same on one
//!   mapper (`ours-1mapper`: the per-core cost against the sequential loop), slots that
//!   start at their first value (`ours-dense`: `dense`), and an emitting map into those
//!   (`ours-emitter`).
//!
//! `mapreduce/phases` runs word count with 2, 4 and 8 mappers (as many reducers) and
//! measures, through `iter_custom`, the merge's critical path as work: the most CPU time
//! any reducer's thread spent merging its partition across the mappers (with more
//! reducers than cores, a reducer's wall-clock merge also counts its waits for a core).
//! It prints each run's phase split to stderr, and per reducer the distinct keys of its
//! partition, the entries it merged, and its merge's wall and CPU time; and the split of
//! one run with 1 mapper, which merges nothing.
//!
//! Under `--test` (`cargo xtask bench --smoke`) the text is 1 MiB.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use mapreduce::{MapReduce, Output};
use rayon::prelude::*;

use crate::support::flat_group;
use crate::zipf_text;

fn sequential_wordcount(text: &str) -> HashMap<&str, u64> {
    let mut counts = HashMap::new();
    for line in text.lines() {
        for word in line.split_whitespace() {
            *counts.entry(word).or_insert(0) += 1;
        }
    }
    counts
}

fn rayon_wordcount(text: &str) -> HashMap<&str, u64> {
    text.par_lines()
        .fold(HashMap::new, |mut counts, line| {
            for word in line.split_whitespace() {
                *counts.entry(word).or_insert(0) += 1;
            }
            counts
        })
        .reduce(HashMap::new, |a, b| {
            let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
            for (word, n) in small {
                *big.entry(word).or_insert(0) += n;
            }
            big
        })
}

/// Our word count, with `mappers` mappers and as many reducers: the job, built once (its
/// pool starts at the first run), as a function of the text.
fn our_wordcount(mappers: usize) -> impl Fn(&'static str) -> Output<&'static str, u64> {
    let job = MapReduce::new(
        |line: &'static str, out| {
            for word in line.split_whitespace() {
                out.emit(word, 1u64);
            }
        },
        |_, counts| counts.sum::<u64>(),
    )
    .combiner(|total, n| *total += n)
    .mappers(mappers)
    .reducers(mappers);
    move |text| job.run(text).unwrap()
}

/// `our_wordcount(cores())` with a map that returns its pairs.
fn our_flat_wordcount() -> impl Fn(&'static str) -> Output<&'static str, u64> {
    let job = MapReduce::flat_map(
        |line: &'static str| line.split_whitespace().map(|word| (word, 1u64)),
        |_, counts| counts.sum::<u64>(),
    )
    .combiner(|total, n| *total += n)
    .mappers(cores());
    move |text| job.run(text).unwrap()
}

fn sequential_histogram(bytes: &[u8]) -> [u64; 256] {
    let mut bins = [0u64; 256];
    for &b in bytes {
        bins[b as usize] += 1;
    }
    bins
}

/// Adds one histogram's bins into another's.
fn add_bins(mut a: [u64; 256], b: [u64; 256]) -> [u64; 256] {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    a
}

fn rayon_histogram(bytes: &[u8]) -> [u64; 256] {
    bytes
        .par_iter()
        .fold(
            || [0u64; 256],
            |mut bins, &b| {
                bins[b as usize] += 1;
                bins
            },
        )
        .reduce(|| [0u64; 256], add_bins)
}

/// rayon folding chunks of the size our mappers take, so that the 2 KiB array moves once
/// a chunk rather than once a byte.
fn rayon_chunked_histogram(bytes: &[u8]) -> [u64; 256] {
    bytes
        .par_chunks(HISTOGRAM_CHUNK)
        .fold(
            || [0u64; 256],
            |mut bins, chunk| {
                chunk.iter().for_each(|&b| bins[b as usize] += 1);
                bins
            },
        )
        .reduce(|| [0u64; 256], add_bins)
}

/// The histogram's chunk, for our mappers and rayon's chunked fold.
const HISTOGRAM_CHUNK: usize = 64 << 10;

/// A byte histogram on `mappers` mappers: a map returning one pair a byte into 256 bins
/// that start at 0.
fn our_histogram(mappers: usize) -> impl Fn(&'static [u8]) -> Output<u8, u64> {
    let job = MapReduce::flat_map(|&b: &u8| [(b, 1u64)], |_, n| n.sum::<u64>())
        .combiner(|a, b| *a += b)
        .dense_from(256, 0)
        .sorted(true)
        .chunk_size(HISTOGRAM_CHUNK)
        .mappers(mappers);
    move |data| job.run(data).unwrap()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

pub(crate) fn bench_all(c: &mut Criterion) {
    let text = zipf_text::text();
    let bytes = text.len() as u64;

    // Word count.
    let ours = our_wordcount(cores());
    let flat = our_flat_wordcount();
    let expected = sequential_wordcount(text);
    assert_eq!(ours(text).into_map(), expected);
    assert_eq!(flat(text).into_map(), expected);
    assert_eq!(rayon_wordcount(text), expected);
    let mut group = flat_group(c, "mapreduce/wordcount".to_owned(), bytes);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("ours", |b| b.iter(|| black_box(ours(text).len())));
    group.bench_function("ours-flat_map", |b| b.iter(|| black_box(flat(text).len())));
    group.bench_function("sequential", |b| {
        b.iter(|| black_box(sequential_wordcount(text).len()))
    });
    group.bench_function("rayon", |b| {
        b.iter(|| black_box(rayon_wordcount(text).len()))
    });
    group.finish();
    drop((ours, flat));

    // Byte histogram.
    let data = text.as_bytes();
    let bins = sequential_histogram(data);
    let filled = our_histogram(cores());
    let one = our_histogram(1);
    let first_value = MapReduce::flat_map(|&b: &u8| [(b, 1u64)], |_, n| n.sum::<u64>())
        .combiner(|a, b| *a += b)
        .dense(256)
        .chunk_size(HISTOGRAM_CHUNK)
        .mappers(cores());
    let emitter = MapReduce::new(|&b: &u8, out| out.emit(b, 1u64), |_, n| n.sum::<u64>())
        .combiner(|a, b| *a += b)
        .dense(256)
        .chunk_size(HISTOGRAM_CHUNK)
        .mappers(cores());
    let every_bin: Vec<(u8, u64)> = (0..=255u8).map(|b| (b, bins[b as usize])).collect();
    assert_eq!(filled(data).into_vec(), every_bin);
    assert_eq!(one(data).into_vec(), every_bin);
    let seen: Vec<(u8, u64)> = every_bin.iter().copied().filter(|&(_, n)| n > 0).collect();
    assert_eq!(first_value.run(data).unwrap().into_vec(), seen);
    assert_eq!(emitter.run(data).unwrap().into_vec(), seen);
    assert_eq!(rayon_histogram(data), bins);
    assert_eq!(rayon_chunked_histogram(data), bins);
    let mut group = flat_group(c, "mapreduce/histogram".to_owned(), bytes);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("ours", |b| b.iter(|| black_box(filled(data).len())));
    group.bench_function("ours-1mapper", |b| b.iter(|| black_box(one(data).len())));
    group.bench_function("ours-dense", |b| {
        b.iter(|| black_box(first_value.run(data).unwrap().len()))
    });
    group.bench_function("ours-emitter", |b| {
        b.iter(|| black_box(emitter.run(data).unwrap().len()))
    });
    group.bench_function("sequential", |b| {
        b.iter(|| black_box(sequential_histogram(data)))
    });
    group.bench_function("rayon", |b| b.iter(|| black_box(rayon_histogram(data))));
    group.bench_function("rayon-chunks", |b| {
        b.iter(|| black_box(rayon_chunked_histogram(data)))
    });
    group.finish();
    drop((filled, one, first_value, emitter));

    // The phase split, for 1, 2, 4 and 8 mappers. One mapper has nothing to merge (a
    // zero that criterion cannot measure), so its split is printed once, when the
    // 2-mapper case first runs.
    let mut group = flat_group(c, "mapreduce/phases".to_owned(), bytes);
    group.throughput(Throughput::Bytes(bytes));
    let mut one_mapper_printed = false;
    for mappers in [2usize, 4, 8] {
        let job = our_wordcount(mappers);
        group.bench_with_input(BenchmarkId::new("merge_cpu", mappers), &mappers, |b, &m| {
            if !one_mapper_printed {
                one_mapper_printed = true;
                print_phases(1, &our_wordcount(1)(text));
            }
            b.iter_custom(|iters| {
                let mut merge = Duration::ZERO;
                for _ in 0..iters {
                    let out = job(text);
                    print_phases(m, &out);
                    merge += out
                        .reducers()
                        .iter()
                        .map(|r| r.merge_cpu.expect("thread CPU time (Linux)"))
                        .max()
                        .unwrap_or_default();
                }
                merge
            })
        });
    }
    group.finish();
}

/// One run's phase split, and what each reducer merged, on one line of stderr.
fn print_phases(mappers: usize, out: &Output<&str, u64>) {
    let t = out.timings();
    let reducers = out.reducers();
    let list = |f: &dyn Fn(&mapreduce::ReducerStats) -> String| {
        reducers.iter().map(f).collect::<Vec<_>>().join(" ")
    };
    eprintln!(
        "mapreduce/phases: {mappers} mappers: map {:.1} ms, merge {:.1} ms (longest \
         reducer; {:.1} ms summed), reduce {:.1} ms, reduce phase {:.1} ms, total {:.1} ms, \
         {} keys, {} entries merged; per reducer: keys [{}], merged [{}], merge wall ms [{}], \
         merge cpu ms [{}]",
        ms(t.map),
        ms(t.merge),
        ms(t.merge_total),
        ms(t.reduce),
        ms(t.reduce_phase),
        ms(t.total),
        out.len(),
        t.merged,
        list(&|r| r.keys.to_string()),
        list(&|r| r.merged.to_string()),
        list(&|r| format!("{:.1}", ms(r.merge))),
        list(&|r| r
            .merge_cpu
            .map_or("?".to_owned(), |d| format!("{:.1}", ms(d)))),
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
