//! The workspace's crates beside the crates a user would pick instead, on the same work.
//!
//! One criterion group per case, named `<crate>/<case>`; the function id names the
//! contender (`ours`, `crossbeam`, `tokio_util`, …) so `cargo xtask bench` can line them
//! up and compute each peer's ratio to ours. Each module benchmarks one crate.

use criterion::{criterion_group, criterion_main};

mod bounded_buffer;
mod breaker;
mod core;
mod mapreduce;
mod pipeline;
mod rate_limit;
mod rate_limit_redis;
mod supervisor;
mod support;
mod worker_pool;
mod zipf_text;

criterion_group!(
    benches,
    core::bench_all,
    bounded_buffer::bench_all,
    worker_pool::bench_all,
    pipeline::bench_all,
    rate_limit::bench_all,
    breaker::bench_all,
    rate_limit_redis::bench_all,
    supervisor::bench_all,
    mapreduce::bench_all
);
criterion_main!(benches);
