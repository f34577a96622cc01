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

/// 1,000 calls a second after a burst of `burst`, for 2 s, four threads hammering
/// `limiter`: the calls admitted are at most the burst plus the rate times the time
/// elapsed, and within 2% of `up_front` (the burst, for limiters that admit it at once
/// and refill meanwhile) plus the rate times the run.
#[allow(dead_code)] // not every test binary checks the real clock
pub(crate) fn assert_accurate(limiter: Arc<dyn RateLimiter>, burst: u32, up_front: f64) {
    let burst = f64::from(burst);
    let admitted = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(5));
    let run = Duration::from_secs(2);
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
    let elapsed = began.elapsed();
    let admitted = admitted.load(Ordering::Relaxed) as f64;
    let most = burst + 1000.0 * elapsed.as_secs_f64();
    let least = up_front + 1000.0 * run.as_secs_f64();
    assert!(
        admitted <= most + 1.0,
        "{admitted} admitted, at most {most} possible"
    );
    assert!(
        admitted >= least * 0.98,
        "{admitted} admitted, expected about {least}"
    );
}
