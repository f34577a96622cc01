//! `breaker` against failsafe: the closed-state `Ok` path, alone and from many threads.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use breaker::CircuitBreaker;
use criterion::{BenchmarkId, Criterion};
use failsafe::CircuitBreaker as _;

use crate::support::flat_group;

/// Calls per thread per iteration in the contended case.
const CALLS: u64 = 1_000_000;

/// Both with their default settings: a closed breaker whose calls all succeed. Ours then
/// does not time calls (slow-call detection is off by default), so it reads no clock.
fn ours() -> CircuitBreaker {
    CircuitBreaker::builder().build().unwrap()
}

/// Ours with slow-call detection on: every call timed, two readings of the clock.
fn ours_timed() -> CircuitBreaker {
    CircuitBreaker::builder()
        .slow_call_duration(Duration::from_secs(1))
        .build()
        .unwrap()
}

fn failsafe() -> failsafe::StateMachine<
    failsafe::failure_policy::OrElse<
        failsafe::failure_policy::SuccessRateOverTimeWindow<failsafe::backoff::EqualJittered>,
        failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::EqualJittered>,
    >,
    (),
> {
    failsafe::Config::new().build()
}

fn bench_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("breaker/call");
    let breaker = ours();
    let mut x = 0u64;
    group.bench_function("ours", |b| {
        b.iter(|| {
            x += 1;
            black_box(breaker.call(|| Ok::<_, ()>(black_box(x))))
        })
    });
    let breaker = ours_timed();
    group.bench_function("ours_timed", |b| {
        b.iter(|| {
            x += 1;
            black_box(breaker.call(|| Ok::<_, ()>(black_box(x))))
        })
    });
    let breaker = failsafe();
    group.bench_function("failsafe", |b| {
        b.iter(|| {
            x += 1;
            black_box(breaker.call(|| Ok::<_, ()>(black_box(x))))
        })
    });
    group.finish();
}

/// `threads` threads each make `CALLS` calls through `call`; the time from the start
/// barrier to the last thread's end.
fn hammer(threads: usize, call: impl Fn(u64) -> bool + Send + Sync + 'static) -> Duration {
    let call = Arc::new(call);
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (call, start) = (Arc::clone(&call), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                (0..CALLS).filter(|&x| call(x)).count()
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

fn contended<B: Send + Sync + 'static>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    threads: usize,
    make: fn() -> B,
    call: fn(&B, u64) -> bool,
) {
    group.bench_function(BenchmarkId::new(name, format!("threads_{threads}")), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let breaker = make();
                    hammer(threads, move |x| call(&breaker, x))
                })
                .sum()
        });
    });
}

fn bench_contended(c: &mut Criterion) {
    for threads in [1, 2, 8] {
        let mut group = flat_group(c, "breaker/contended".to_owned(), CALLS * threads as u64);
        contended(&mut group, "ours", threads, ours, |b, x| {
            b.call(|| Ok::<_, ()>(black_box(x))).is_ok()
        });
        contended(&mut group, "ours_timed", threads, ours_timed, |b, x| {
            b.call(|| Ok::<_, ()>(black_box(x))).is_ok()
        });
        contended(&mut group, "failsafe", threads, failsafe, |b, x| {
            b.call(|| Ok::<_, ()>(black_box(x))).is_ok()
        });
        group.finish();
    }
}

/// Every case.
pub(crate) fn bench_all(c: &mut Criterion) {
    bench_call(c);
    bench_contended(c);
}
