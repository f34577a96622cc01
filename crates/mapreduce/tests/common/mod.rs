//! What the integration tests share: sequential references and generated inputs.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use mapreduce::{MapReduce, MapReduceError};

/// Word counts by a plain sequential loop over `str::lines`.
pub(crate) fn reference_counts(text: &str) -> HashMap<&str, u64> {
    let mut counts = HashMap::new();
    for line in text.lines() {
        for word in line.split_whitespace() {
            *counts.entry(word).or_insert(0) += 1;
        }
    }
    counts
}

/// Word count with a combiner.
pub(crate) fn word_count(
    text: &str,
    mappers: usize,
    reducers: usize,
    chunk: usize,
) -> Result<HashMap<&str, u64>, MapReduceError> {
    MapReduce::new(
        |line: &str, out| {
            for word in line.split_whitespace() {
                out.emit(word, 1u64);
            }
        },
        |_, counts| counts.sum::<u64>(),
    )
    .combiner(|a, b| *a += b)
    .mappers(mappers)
    .reducers(reducers)
    .chunk_size(chunk)
    .run(text)
    .map(|out| out.into_map())
}

/// `words` words drawn from a Zipf(1) law over a vocabulary of `vocab` words, 8 to a line.
pub(crate) fn zipf_text(seed: u64, words: usize, vocab: usize) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    let weights: Vec<f64> = (1..=vocab).map(|rank| 1.0 / rank as f64).collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(vocab);
    let mut sum = 0.0;
    for w in &weights {
        sum += w / total;
        cumulative.push(sum);
    }
    let mut text = String::new();
    for i in 0..words {
        let u = rng.f64();
        let rank = cumulative.partition_point(|&c| c < u).min(vocab - 1);
        text.push_str(&format!("w{rank}"));
        text.push(if i % 8 == 7 { '\n' } else { ' ' });
    }
    text
}

/// A fresh path under the temporary directory, for a test's file.
pub(crate) fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("mapreduce-test-{}-{n}-{name}", std::process::id()))
}
