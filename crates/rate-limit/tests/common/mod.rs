//! What the rate-limit tests share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use patterns_core::ManualClock;
use rate_limit::RateLimiter;

/// How long a test waits for something that should happen at once: generous, so a
/// loaded machine does not fail it.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// Waits until `n` threads sleep on `clock`.
pub(crate) fn sleepers(clock: &ManualClock, n: usize) {
    let deadline = Instant::now() + PATIENCE;
    while clock.sleepers() < n {
        assert!(
            Instant::now() < deadline,
            "no thread went to sleep on the clock"
        );
        std::thread::yield_now();
    }
}

/// 1,000 calls a second after a burst of `burst`, for 2 s, four threads hammering a
/// limiter from `make`: the calls admitted are at most the burst plus the rate times the
/// time elapsed, every run; and within 2% of `up_front` (the burst, for limiters that
/// admit it at once and refill meanwhile) plus the rate times the run, in one of three
/// runs — a loaded machine can starve all four threads for a while, and time nobody asks
/// in is lost to the windows and the leaky bucket, but too many admitted is never the
/// machine's fault.
#[allow(dead_code)] // not every test binary checks the real clock
pub(crate) fn assert_accurate(make: impl Fn() -> Arc<dyn RateLimiter>, burst: u32, up_front: f64) {
    let burst = f64::from(burst);
    let run = Duration::from_secs(2);
    let least = up_front + 1000.0 * run.as_secs_f64();
    let mut counts = Vec::new();
    for _ in 0..3 {
        let (admitted, elapsed) = hammer(make(), run);
        let most = burst + 1000.0 * elapsed.as_secs_f64();
        assert!(
            admitted <= most + 1.0,
            "{admitted} admitted, at most {most} possible"
        );
        if admitted >= least * 0.98 {
            return;
        }
        counts.push(admitted);
    }
    panic!("{counts:?} admitted in three runs, expected about {least}");
}

/// Four threads call `limiter.try_acquire` for `run`: how many were admitted, and the
/// time from the start to the last thread's end.
fn hammer(limiter: Arc<dyn RateLimiter>, run: Duration) -> (f64, Duration) {
    let admitted = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(5));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (limiter, admitted, start) = (
                Arc::clone(&limiter),
                Arc::clone(&admitted),
                Arc::clone(&start),
            );
            std::thread::spawn(move || {
                start.wait();
                let began = Instant::now();
                while began.elapsed() < run {
                    if limiter.try_acquire().is_ok() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let began = Instant::now();
    start.wait();
    threads.into_iter().for_each(|t| t.join().unwrap());
    (admitted.load(Ordering::Relaxed) as f64, began.elapsed())
}
