//! Counts the words of text files with a pool of threads joined by bounded channels.
//!
//! ```text
//! cargo run -p bounded-buffer --example word_count -- [FILE]...
//! ```
//!
//! Without arguments it counts the words of this crate's own sources. A reader thread
//! streams lines into a bounded channel in batches (memory stays bounded however large the
//! input: the reader blocks while the workers are behind); workers take batches with
//! `recv_many`, count, and send their tallies to the main thread, which prints progress
//! from a `select!` with a timeout while it waits, and the ten most frequent words at the end.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use bounded_buffer::{channel, select};

const WORKERS: usize = 4;
const LINE_BATCH: usize = 256;

fn main() -> io::Result<()> {
    let mut files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
        for entry in std::fs::read_dir(src)? {
            files.push(entry?.path());
        }
        files.sort();
    }

    let (lines_tx, lines_rx) = channel::<String>(4 * LINE_BATCH);
    let (tally_tx, tally_rx) = channel::<HashMap<String, u64>>(WORKERS);

    let reader = thread::Builder::new()
        .name("word-count-reader".into())
        .spawn(move || -> io::Result<u64> {
            let mut read = 0;
            for path in files {
                let mut batch = Vec::with_capacity(LINE_BATCH);
                for line in BufReader::new(File::open(&path)?).lines() {
                    batch.push(line?);
                    if batch.len() == LINE_BATCH {
                        read += batch.len() as u64;
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(LINE_BATCH));
                        if lines_tx.send_many(full).is_err() {
                            return Ok(read); // every worker is gone
                        }
                    }
                }
                read += batch.len() as u64;
                let _ = lines_tx.send_many(batch);
            }
            Ok(read) // dropping `lines_tx` closes the channel: workers drain it and stop
        })?;

    let workers: Vec<_> = (0..WORKERS)
        .map(|n| {
            let lines = lines_rx.clone();
            let tallies = tally_tx.clone();
            thread::Builder::new()
                .name(format!("word-count-worker-{n}"))
                .spawn(move || {
                    let mut counts: HashMap<String, u64> = HashMap::new();
                    let mut batch = Vec::with_capacity(LINE_BATCH);
                    while lines.recv_many(&mut batch, LINE_BATCH).is_ok() {
                        for line in batch.drain(..) {
                            for word in line.split(|c: char| !c.is_alphanumeric() && c != '_') {
                                if !word.is_empty() {
                                    *counts.entry(word.to_lowercase()).or_default() += 1;
                                }
                            }
                        }
                    }
                    let _ = tallies.send(counts);
                })
        })
        .collect::<io::Result<_>>()?;
    drop((lines_rx, tally_tx));

    let mut total: HashMap<String, u64> = HashMap::new();
    let mut reported = 0;
    while reported < WORKERS {
        select! {
            recv(tally_rx) -> tally => match tally {
                Ok(tally) => {
                    reported += 1;
                    for (word, n) in tally {
                        *total.entry(word).or_default() += n;
                    }
                }
                Err(_) => break, // every worker is gone
            },
            default(Duration::from_millis(250)) => {
                eprintln!("still counting: {reported}/{WORKERS} workers done");
            }
        }
    }

    let lines_read = reader.join().expect("the reader panicked")?;
    for worker in workers {
        worker.join().expect("a worker panicked");
    }

    let mut top: Vec<_> = total.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!(
        "{lines_read} lines, {} distinct words; the most frequent:",
        top.len()
    );
    for (word, n) in top.iter().take(10) {
        println!("{n:>8}  {word}");
    }
    Ok(())
}
