//! `rate-limit` against governor, on the same quota.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use governor::{Quota, RateLimiter as Governor};
use rate_limit::{Gcra, Keyed, Rate, RateLimiter, TokenBucket};

use crate::support::flat_group;

/// Checks per thread per iteration in the contended case.
const CHECKS: u64 = 1_000_000;

/// Keys the keyed limiters are checked over.
const KEYS: u64 = 1_000;

/// A quota every check passes (10⁹ a second, a burst of 4·10⁹), so that each check is a
/// full admission: a read of the clock and an update of the state. (Governor skips the
/// update when its interval rounds to 0 ns, as at 4·10⁹ a second.)
fn ours() -> Gcra {
    Gcra::new(Rate::per_second(1_000_000_000), u32::MAX).unwrap()
}

/// The same quota as a sharded token bucket: what this crate offers for contention.
fn ours_sharded() -> TokenBucket {
    TokenBucket::new(Rate::per_second(1_000_000_000), u32::MAX).unwrap()
}

fn ours_keyed() -> Keyed<u64, Gcra> {
    Keyed::new(100_000, ours).unwrap()
}

fn quota() -> Quota {
    let max = NonZeroU32::new(u32::MAX).unwrap();
    Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap()).allow_burst(max)
}

fn governor() -> governor::DefaultDirectRateLimiter {
    Governor::direct(quota())
}

fn governor_keyed() -> governor::DefaultKeyedRateLimiter<u64> {
    Governor::keyed(quota())
}

/// A different key on every call, cycling through `KEYS`.
fn next_key(key: &mut u64) -> u64 {
    *key = (*key + 1) % KEYS;
    *key
}

/// `threads` threads each make `CHECKS` checks, each with a key cursor starting at a
/// different key; the time from the start barrier to the last thread's end.
fn hammer(threads: usize, check: impl Fn(&mut u64) -> bool + Send + Sync + 'static) -> Duration {
    let check = Arc::new(check);
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            let (check, start) = (Arc::clone(&check), Arc::clone(&start));
            thread::spawn(move || {
                let mut key = thread as u64 * KEYS / 8;
                start.wait();
                (0..CHECKS).filter(|_| check(&mut key)).count()
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
    let limiter = ours_sharded();
    group.bench_function("ours_token_bucket", |b| {
        b.iter(|| black_box(limiter.try_acquire().is_ok()))
    });
    let limiter = governor();
    group.bench_function("governor", |b| {
        b.iter(|| black_box(limiter.check().is_ok()))
    });
    group.finish();

    let mut group = c.benchmark_group("rate-limit/keyed");
    let limiter = ours_keyed();
    let mut key = 0;
    group.bench_function("ours", |b| {
        b.iter(|| black_box(limiter.try_acquire(&next_key(&mut key)).is_ok()))
    });
    let limiter = governor_keyed();
    group.bench_function("governor", |b| {
        b.iter(|| black_box(limiter.check_key(&next_key(&mut key)).is_ok()))
    });
    group.finish();
}

/// One contended case: `threads` threads hammering a fresh limiter from `make`, each
/// with its own cursor over the keys.
fn contended<L: Send + Sync + 'static>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    threads: usize,
    make: fn() -> L,
    check: fn(&L, &mut u64) -> bool,
) {
    group.bench_function(BenchmarkId::new(name, format!("threads_{threads}")), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let limiter = make();
                    hammer(threads, move |key| check(&limiter, key))
                })
                .sum()
        });
    });
}

fn bench_contended(c: &mut Criterion) {
    for threads in [1, 2, 4, 8] {
        let elements = CHECKS * threads as u64;
        let mut group = flat_group(c, "rate-limit/contended".to_owned(), elements);
        contended(&mut group, "ours", threads, ours_sharded, |l, _| {
            l.try_acquire().is_ok()
        });
        contended(&mut group, "ours_gcra", threads, ours, |l, _| {
            l.try_acquire().is_ok()
        });
        contended(&mut group, "governor", threads, governor, |l, _| {
            l.check().is_ok()
        });
        group.finish();
        let mut group = flat_group(c, "rate-limit/keyed_contended".to_owned(), elements);
        contended(&mut group, "ours", threads, ours_keyed, |l, key| {
            l.try_acquire(&next_key(key)).is_ok()
        });
        contended(&mut group, "governor", threads, governor_keyed, |l, key| {
            l.check_key(&next_key(key)).is_ok()
        });
        group.finish();
    }
}

/// Every case.
pub(crate) fn bench_all(c: &mut Criterion) {
    bench_uncontended(c);
    bench_contended(c);
}
