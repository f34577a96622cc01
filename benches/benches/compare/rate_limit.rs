//! `rate-limit` against governor, on the same quota.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use governor::{Quota, RateLimiter as Governor};
use rate_limit::{Gcra, Rate, RateLimiter};

use crate::support::flat_group;

/// Checks per thread per iteration in the contended case.
const CHECKS: u64 = 1_000_000;

/// A quota every check passes (10⁹ a second, a burst of 4·10⁹), so that each check is a
/// full admission: a read of the clock and an update of the state. (Governor skips the
/// update when its interval rounds to 0 ns, as at 4·10⁹ a second.)
fn ours() -> Gcra {
    Gcra::new(Rate::per_second(1_000_000_000), u32::MAX).unwrap()
}

fn governor() -> governor::DefaultDirectRateLimiter {
    let max = NonZeroU32::new(u32::MAX).unwrap();
    Governor::direct(Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap()).allow_burst(max))
}

/// `threads` threads each make `CHECKS` checks; the time from the start barrier to the
/// last thread's end.
fn hammer(threads: usize, check: impl Fn() -> bool + Send + Sync + 'static) -> Duration {
    let check = Arc::new(check);
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (check, start) = (Arc::clone(&check), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                (0..CHECKS).filter(|_| check()).count()
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    for worker in workers {
        black_box(worker.join().unwrap());
    }
    began.elapsed()
}

fn bench_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate-limit/try_acquire");
    let limiter = ours();
    group.bench_function("ours", |b| {
        b.iter(|| black_box(limiter.try_acquire().is_ok()))
    });
    let limiter = governor();
    group.bench_function("governor", |b| {
        b.iter(|| black_box(limiter.check().is_ok()))
    });
    group.finish();
}

fn bench_contended(c: &mut Criterion) {
    for threads in [1, 2, 4, 8] {
        let mut group = flat_group(
            c,
            "rate-limit/contended".to_owned(),
            CHECKS * threads as u64,
        );
        let id = |name| BenchmarkId::new(name, format!("threads_{threads}"));
        group.bench_function(id("ours"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let limiter = ours();
                        hammer(threads, move || limiter.try_acquire().is_ok())
                    })
                    .sum()
            });
        });
        group.bench_function(id("governor"), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let limiter = governor();
                        hammer(threads, move || limiter.check().is_ok())
                    })
                    .sum()
            });
        });
        group.finish();
    }
}

/// Every case.
pub(crate) fn bench_all(c: &mut Criterion) {
    bench_uncontended(c);
    bench_contended(c);
}
