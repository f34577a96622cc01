//! `mapreduce` against a sequential loop and rayon's `fold`/`reduce`, on word count and a
//! byte histogram over the same deterministic 64 MiB Zipf text (`zipf_text.rs`).
//!
//! All three use the same hasher (std's `RandomState`, SipHash-1-3) and `&str` keys
//! borrowed from the text, so the ratios measure the structure, not the hash:
//!
//! * `sequential` — one `HashMap<&str, u64>` (a `[u64; 256]` for the histogram), one loop
//!   over `str::lines`.
//! * `rayon` — `par_lines().fold(HashMap::new, …).reduce(HashMap::new, merge)` (the
//!   histogram: `par_iter().fold(|| [0; 256], …).reduce(…)`), in rayon's global pool (one
//!   thread per core).
//! * `ours` — `MapReduce` with a summing combiner, as many mappers and reducers as cores,
//!   1 MiB chunks (the histogram: a dense container of 256 slots, 64 KiB chunks).
//!
//! `mapreduce/phases` runs word count with 1, 2, 4 and 8 mappers (as many reducers) and
//! measures the merge alone — the longest any reducer took to merge its partition across
//! the mappers — through `iter_custom`; it also prints each run's whole phase split
//! (map, merge, merge summed over reducers, reduce) to stderr.
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

fn sequential_histogram(bytes: &[u8]) -> [u64; 256] {
    let mut bins = [0u64; 256];
    for &b in bytes {
        bins[b as usize] += 1;
    }
    bins
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
        .reduce(
            || [0u64; 256],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

pub(crate) fn bench_all(c: &mut Criterion) {
    let text = zipf_text::text();
    let bytes = text.len() as u64;

    // Word count.
    let ours = our_wordcount(cores());
    let expected = sequential_wordcount(text);
    assert_eq!(ours(text).into_map(), expected);
    assert_eq!(rayon_wordcount(text), expected);
    let mut group = flat_group(c, "mapreduce/wordcount".to_owned(), bytes);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("ours", |b| b.iter(|| black_box(ours(text).len())));
    group.bench_function("sequential", |b| {
        b.iter(|| black_box(sequential_wordcount(text).len()))
    });
    group.bench_function("rayon", |b| {
        b.iter(|| black_box(rayon_wordcount(text).len()))
    });
    group.finish();
    drop(ours);

    // Byte histogram.
    let data = text.as_bytes();
    let histogram = MapReduce::new(|&b: &u8, out| out.emit(b, 1u64), |_, n| n.sum::<u64>())
        .combiner(|a, b| *a += b)
        .dense(256)
        .chunk_size(64 << 10)
        .mappers(cores());
    let bins = sequential_histogram(data);
    let ours_bins = histogram.run(data).unwrap().into_vec();
    assert!(ours_bins.iter().all(|&(b, n)| bins[b as usize] == n));
    assert_eq!(rayon_histogram(data), bins);
    let mut group = flat_group(c, "mapreduce/histogram".to_owned(), bytes);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("ours", |b| {
        b.iter(|| black_box(histogram.run(data).unwrap().len()))
    });
    group.bench_function("sequential", |b| {
        b.iter(|| black_box(sequential_histogram(data)))
    });
    group.bench_function("rayon", |b| b.iter(|| black_box(rayon_histogram(data))));
    group.finish();
    drop(histogram);

    // The phase split, for 1, 2, 4 and 8 mappers.
    let mut group = flat_group(c, "mapreduce/phases".to_owned(), bytes);
    group.throughput(Throughput::Bytes(bytes));
    for mappers in [1usize, 2, 4, 8] {
        let job = our_wordcount(mappers);
        group.bench_with_input(BenchmarkId::new("merge", mappers), &mappers, |b, &m| {
            b.iter_custom(|iters| {
                let mut merge = Duration::ZERO;
                for _ in 0..iters {
                    let out = job(text);
                    let t = *out.timings();
                    eprintln!(
                        "mapreduce/phases: {m} mappers: map {:.1} ms, merge {:.1} ms \
                         (longest reducer; {:.1} ms summed), reduce {:.1} ms, \
                         reduce phase {:.1} ms, total {:.1} ms, {} keys, {} entries merged",
                        ms(t.map),
                        ms(t.merge),
                        ms(t.merge_total),
                        ms(t.reduce),
                        ms(t.reduce_phase),
                        ms(t.total),
                        out.len(),
                        t.merged
                    );
                    merge += t.merge;
                }
                merge
            })
        });
    }
    group.finish();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
