//! What the comparison modules share.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};

/// A group named `name` for threaded runs whose iterations take milliseconds and move
/// `elements` items each: 10 samples, flat sampling, 1 s of warm-up and 3 s of
/// measurement (or 10 iterations, when those take longer).
pub(crate) fn flat_group<'a>(
    c: &'a mut Criterion,
    name: String,
    elements: u64,
) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(elements));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group
}
