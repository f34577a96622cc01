//! Checksums (CRC-32) every file under a directory on a worker pool, with bounded
//! memory: the queue holds at most 64 paths, so the walker waits while the workers are
//! behind, and each worker reads its file in 64 KiB pieces. Prints progress as files
//! finish, then the totals and the pool's stats.
//!
//! ```text
//! cargo run -p worker-pool --example checksum --release -- [DIRECTORY]
//! ```

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use worker_pool::{JobContext, WorkerPool};

/// One file's checksum, or why there is none.
struct Checked {
    path: PathBuf,
    result: io::Result<(u32, u64)>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".to_owned()));
    let started = Instant::now();
    let pool = WorkerPool::builder()
        .queue_capacity(64)
        .name("checksum")
        .sample_timings(1)
        .build()?;
    let (done, results) = mpsc::channel();

    // Walk on this thread while the workers hash; `submit_with` blocks when the queue
    // is full, which is what bounds the memory.
    let mut walker = Walker::new(&root);
    std::thread::scope(|s| {
        let printer = s.spawn(move || report(results));
        while let Some(path) = walker.next_file() {
            let done = done.clone();
            // The result travels on `done`, so the handle is not needed.
            let _detached = pool
                .submit_with(move |cx| {
                    let result = checksum(&path, cx);
                    let _ = done.send(Checked { path, result });
                })
                .map_err(|_| "the pool shut down while walking")?;
        }
        drop(done);
        pool.shutdown();
        let (files, bytes, failed) = printer.join().expect("the printer does not panic");
        let elapsed = started.elapsed();
        println!(
            "\n{files} files, {:.1} MiB in {elapsed:.2?} ({:.1} MiB/s); {failed} unreadable, {} directories skipped",
            bytes as f64 / (1 << 20) as f64,
            bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64().max(1e-9),
            walker.skipped,
        );
        let stats = pool.stats();
        println!(
            "pool: {} jobs, {} completed, {} panicked; queue wait p50 {:?} p99 {:?}; run time p50 {:?} p99 {:?}",
            stats.submitted,
            stats.completed,
            stats.panicked,
            stats.queue_wait.p50,
            stats.queue_wait.p99,
            stats.run_time.p50,
            stats.run_time.p99,
        );
        Ok(())
    })
}

/// The CRC-32 and length of the file at `path`, reading it piece by piece; gives up
/// between pieces if the job is cancelled.
fn checksum(path: &Path, cx: &JobContext<'_>) -> io::Result<(u32, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut length = 0;
    loop {
        if cx.is_cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        match file.read(&mut buffer)? {
            0 => return Ok((hasher.finalize(), length)),
            n => {
                hasher.update(&buffer[..n]);
                length += n as u64;
            }
        }
    }
}

/// Prints every result as it comes; returns (files, bytes, failures).
fn report(results: mpsc::Receiver<Checked>) -> (u64, u64, u64) {
    let (mut files, mut bytes, mut failed) = (0, 0, 0);
    for Checked { path, result } in results {
        match result {
            Ok((crc, length)) => {
                files += 1;
                bytes += length;
                println!("{crc:08x}  {length:>12}  {}", path.display());
            }
            Err(error) => {
                failed += 1;
                eprintln!("unreadable: {}: {error}", path.display());
            }
        }
    }
    (files, bytes, failed)
}

/// A depth-first walk that yields regular files and skips what it cannot list.
struct Walker {
    pending: Vec<PathBuf>,
    files: Vec<PathBuf>,
    skipped: u64,
}

impl Walker {
    fn new(root: &Path) -> Walker {
        Walker {
            pending: vec![root.to_owned()],
            files: Vec::new(),
            skipped: 0,
        }
    }

    fn next_file(&mut self) -> Option<PathBuf> {
        loop {
            if let Some(file) = self.files.pop() {
                return Some(file);
            }
            let dir = self.pending.pop()?;
            let Ok(entries) = fs::read_dir(&dir) else {
                self.skipped += 1;
                continue;
            };
            for entry in entries.flatten() {
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() => self.pending.push(entry.path()),
                    Ok(kind) if kind.is_file() => self.files.push(entry.path()),
                    _ => {}
                }
            }
        }
    }
}
