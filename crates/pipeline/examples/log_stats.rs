//! Reads access logs, parses them on every core, keeps the slow and failed requests,
//! aggregates them per path, and prints the top paths and the pipeline's run report.
//!
//! ```text
//! cargo run --release -p pipeline --example log_stats -- access.log [more.log …]
//! ```
//!
//! Each line is `<timestamp> <method> <path> <status> <milliseconds>ms`. Lines that do
//! not parse are skipped and counted. Without arguments, the example writes a synthetic
//! log of 500,000 lines to a temporary file and reads that.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use pipeline::Pipeline;

/// One request from the log.
#[derive(Debug)]
struct Request {
    path: String,
    status: u16,
    millis: u32,
}

/// Why a line did not parse.
#[derive(Debug, thiserror::Error)]
#[error("malformed log line: {0:?}")]
struct Malformed(String);

fn parse(line: String) -> Result<Request, Malformed> {
    let mut fields = line.split_ascii_whitespace();
    let fields = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    );
    let (Some(_time), Some(_method), Some(path), Some(status), Some(millis)) = fields else {
        return Err(Malformed(line));
    };
    let status = status.parse().ok();
    let millis = millis.strip_suffix("ms").and_then(|m| m.parse().ok());
    match (status, millis) {
        (Some(status), Some(millis)) => Ok(Request {
            path: path.to_owned(),
            status,
            millis,
        }),
        _ => Err(Malformed(line)),
    }
}

/// Per-path totals of the requests kept.
#[derive(Debug, Default)]
struct PathStats {
    requests: u64,
    errors: u64,
    total_millis: u64,
    worst_millis: u32,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let synthetic = if paths.is_empty() {
        let path = synthetic_log(500_000)?;
        paths.push(path.clone());
        Some(path)
    } else {
        None
    };
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let started = Instant::now();

    let done = Pipeline::from_iter(paths)
        .try_map(|path| File::open(&path).map(BufReader::new))
        .name("open")
        .flat_map(BufRead::lines)
        .name("read")
        .try_map(|line| line)
        .name("io")
        .par_try_map(threads, parse)
        .name("parse")
        .skip_errors()
        .filter(|request| request.status >= 500 || request.millis > 250)
        .name("slow_or_failed")
        .fold(HashMap::<String, PathStats>::new(), |mut stats, request| {
            let entry = stats.entry(request.path).or_default();
            entry.requests += 1;
            entry.errors += u64::from(request.status >= 500);
            entry.total_millis += u64::from(request.millis);
            entry.worst_millis = entry.worst_millis.max(request.millis);
            stats
        });
    if let Some(path) = synthetic {
        std::fs::remove_file(path)?;
    }
    let done = done?;

    let mut top: Vec<_> = done.value.into_iter().collect();
    top.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then_with(|| a.0.cmp(&b.0)));
    println!(
        "{:<24} {:>8} {:>8} {:>10} {:>10}",
        "path", "slow/5xx", "5xx", "mean ms", "worst ms"
    );
    for (path, stats) in top.iter().take(10) {
        let mean = stats.total_millis / stats.requests.max(1);
        println!(
            "{path:<24} {:>8} {:>8} {mean:>10} {:>10}",
            stats.requests, stats.errors, stats.worst_millis
        );
    }
    let skipped = done.report.stages.iter().map(|s| s.skipped).sum::<u64>();
    println!(
        "\n{skipped} malformed lines skipped, {:.1} ms in all\n",
        started.elapsed().as_secs_f64() * 1e3
    );
    println!("{}", done.report);
    if let Some(stage) = done.report.bottleneck() {
        println!("bottleneck: {}", stage.name);
    }
    Ok(())
}

/// Writes `lines` lines of a plausible access log (one in a thousand malformed) to a
/// temporary file.
fn synthetic_log(lines: usize) -> io::Result<PathBuf> {
    const PATHS: [&str; 8] = [
        "/",
        "/login",
        "/api/items",
        "/api/items/42",
        "/api/search",
        "/static/app.js",
        "/health",
        "/api/cart",
    ];
    let path = std::env::temp_dir().join(format!("pipeline-log-stats-{}.log", std::process::id()));
    let mut out = BufWriter::new(File::create(&path)?);
    let mut rng = fastrand::Rng::with_seed(42);
    for i in 0..lines {
        if i % 1000 == 999 {
            writeln!(out, "garbage line {i}")?;
            continue;
        }
        let target = PATHS[rng.usize(..PATHS.len()).min(rng.usize(..PATHS.len()))];
        let status = if rng.u32(..100) < 2 { 503 } else { 200 };
        let millis = rng.u32(1..120) * rng.u32(1..4);
        writeln!(
            out,
            "2026-12-04T00:{:02}:{:02}Z GET {target} {status} {millis}ms",
            i / 60 % 60,
            i % 60
        )?;
    }
    out.flush()?;
    Ok(path)
}
