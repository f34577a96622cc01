//! supervisor: how fast a failed child runs again, and what 1,000 idle children cost.
//!
//! There is no thread supervisor among the crates a Rust user would pick instead
//! (bastion and ractor supervise async tasks on their runtimes), so the contender is
//! `ours` alone and the figures are absolute.
//!
//! * `supervisor/restart_latency` — a child fails (its body returns `Err`) and the time
//!   until its replacement's body runs is measured, one failure per iteration; besides
//!   criterion's mean, the p50 and p99 of every sample taken are printed.
//! * `supervisor/idle_children_1000` — start a supervisor of 1,000 children that wait on
//!   their token, then shut it down; the threads and resident memory the running tree
//!   holds are printed once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use supervisor::{ChildContext, ChildSpec, Supervisor};

pub(crate) fn bench_all(c: &mut Criterion) {
    restart_latency(c);
    idle_children(c);
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn restart_latency(c: &mut Criterion) {
    let (crash_tx, crash_rx) = mpsc::channel::<()>();
    let crash_rx = Arc::new(Mutex::new(crash_rx));
    let (took_tx, took_rx) = mpsc::channel::<Duration>();
    let took_tx = Mutex::new(took_tx);
    let failed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let child = {
        let failed_at = Arc::clone(&failed_at);
        ChildSpec::new("bench-child", move |ctx: &ChildContext| {
            if let Some(at) = failed_at.lock().unwrap().take() {
                let _ = took_tx.lock().unwrap().send(at.elapsed());
            }
            ctx.ready();
            loop {
                if ctx.is_stopping() {
                    return Ok(());
                }
                if crash_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_millis(1))
                    .is_ok()
                {
                    *failed_at.lock().unwrap() = Some(Instant::now());
                    return Err("crash");
                }
            }
        })
    };
    let sup = Supervisor::builder("bench")
        .intensity(u32::MAX, Duration::from_secs(1))
        .child(child)
        .start()
        .expect("the bench supervisor starts");
    let samples = Mutex::new(Vec::new());
    let mut group = c.benchmark_group("supervisor/restart_latency");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("ours", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                crash_tx.send(()).unwrap();
                let took = took_rx.recv().unwrap();
                samples.lock().unwrap().push(took);
                total += took;
            }
            total
        });
    });
    group.finish();
    sup.shutdown().expect("the bench supervisor shuts down");
    let mut samples = samples.into_inner().unwrap();
    samples.sort();
    if !samples.is_empty() {
        println!(
            "supervisor/restart_latency/ours: p50 {:?}, p99 {:?} over {} restarts",
            percentile(&samples, 0.50),
            percentile(&samples, 0.99),
            samples.len()
        );
    }
}

fn idle_tree(n: usize) -> supervisor::Builder {
    Supervisor::builder("bench-idle").children((0..n).map(|i| {
        ChildSpec::new(format!("idle-{i}"), |ctx: &ChildContext| {
            ctx.ready();
            ctx.cancel_token().wait();
            Ok::<(), String>(())
        })
    }))
}

fn proc_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn idle_children(c: &mut Criterion) {
    const N: usize = 1_000;
    static PRINTED: AtomicBool = AtomicBool::new(false);
    if !PRINTED.swap(true, Ordering::Relaxed) {
        let (threads0, rss0) = (proc_status("Threads:"), proc_status("VmRSS:"));
        let start = Instant::now();
        let sup = idle_tree(N).start().expect("1,000 children start");
        let started = start.elapsed();
        let (threads1, rss1) = (proc_status("Threads:"), proc_status("VmRSS:"));
        let stop = Instant::now();
        sup.shutdown().expect("1,000 children stop");
        let stopped = stop.elapsed();
        if let (Some(t0), Some(t1), Some(r0), Some(r1)) = (threads0, threads1, rss0, rss1) {
            println!(
                "supervisor/idle_children_1000/ours: start {started:?}, shutdown {stopped:?}, \
                 +{} threads, +{} KiB resident ({} bytes a child)",
                t1.saturating_sub(t0),
                r1.saturating_sub(r0),
                r1.saturating_sub(r0) * 1024 / N as u64
            );
        }
    }
    let mut group = c.benchmark_group("supervisor/idle_children_1000");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("ours", |b| {
        b.iter(|| {
            let sup = idle_tree(N).start().expect("1,000 children start");
            sup.shutdown().expect("1,000 children stop");
        });
    });
    group.finish();
}
