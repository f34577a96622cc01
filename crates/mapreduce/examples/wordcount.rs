//! Counts the words of the files given on the command line, streamed in 1 MiB chunks,
//! and prints the 20 most frequent with the run's timings and its peak memory.
//!
//! `cargo run --release -p mapreduce --example wordcount -- FILE...`

use std::process::ExitCode;
use std::time::Instant;

use mapreduce::input::Files;
use mapreduce::MapReduce;

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: wordcount FILE...");
        return ExitCode::FAILURE;
    }
    let started = Instant::now();
    let job = MapReduce::new(
        |line: String, out| {
            for word in line.split_whitespace() {
                out.emit(word.to_owned(), 1u64);
            }
        },
        |_word, counts| counts.sum::<u64>(),
    )
    .combiner(|total, n| *total += n);
    let counts = match job.run(Files::new(&paths)) {
        Ok(counts) => counts,
        Err(error) => {
            eprintln!("wordcount: {error}");
            return ExitCode::FAILURE;
        }
    };
    let timings = *counts.timings();
    let mut top = counts.into_vec();
    let distinct = top.len();
    let total: u64 = top.iter().map(|(_, n)| n).sum();
    top.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (word, count) in top.iter().take(20) {
        println!("{count:>12}  {word}");
    }
    println!(
        "{total} words, {distinct} distinct, in {:.3?}",
        started.elapsed()
    );
    println!(
        "map {:.3?} · merge {:.3?} (longest reducer; {:.3?} in all) · reduce {:.3?} · finish {:.3?}",
        timings.map, timings.merge, timings.merge_total, timings.reduce, timings.finish
    );
    if let Some(peak) = peak_rss() {
        println!("peak resident memory: {peak}");
    }
    ExitCode::SUCCESS
}

/// The process's peak resident set (`VmHWM`), where `/proc` has it.
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line["VmHWM:".len()..].trim().to_owned())
}
