//! `bounded-buffer`: our channel beside crossbeam-channel, flume, kanal and
//! `std::sync::mpsc::sync_channel`, moving `u64`s between threads.
//!
//! * `bounded-buffer/spsc`, `bounded-buffer/mpsc_4x1` — every contender, std included.
//! * `bounded-buffer/mpmc_4x4`, `bounded-buffer/mpmc_8x8` — every contender but std, whose
//!   `Receiver` cannot be cloned. The bench machine has 2 cores, so both oversubscribe it
//!   (8 and 16 threads): they measure how a channel behaves when its parties are
//!   descheduled, not how it scales.
//! * `bounded-buffer/batch_spsc` — `send_many`/`recv_many` in chunks of [`BATCH`] (`ours`)
//!   beside crossbeam's per-message loop (`crossbeam`) and our own per-message loop
//!   (`ours_single`), at capacity 1024.
//! * `bounded-buffer/unbounded_mpsc` (1, 2 and 4 producers, one consumer: values `1x1`,
//!   `2x1`, `4x1`) and `bounded-buffer/unbounded_mpmc` (1, 2 and 4 producers, two
//!   consumers: `1x2`, `2x2`, `4x2`) — the unbounded channels: our `unbounded()` beside
//!   crossbeam's, flume's and kanal's `unbounded()` and `std::sync::mpsc::channel` (which
//!   sits out `unbounded_mpmc`). Senders never wait, so a producer that outruns the
//!   consumers queues up to the whole iteration's values.
//!
//! Each case runs at capacities 0 (rendezvous), 1 and 1024: the value is `cap_0`, `cap_1`,
//! `cap_1024` and the function id names the contender (`ours`, `crossbeam`, `flume`,
//! `kanal`, `std_mpsc`).
//!
//! One iteration moves [`MESSAGES`] values through a fresh channel, split evenly across the
//! producers; consumers stop when every sender is gone and the channel is drained. The
//! threads are spawned and wait at a [`StartLine`] before the clock starts; it starts
//! just before they are released together, and stops when all of them are joined. The
//! received count and sum are asserted, so a contender that loses or duplicates values
//! fails instead of looking fast.
//!
//! Sizes: the issue asks for 1M values; one iteration moves [`MESSAGES`] (100k) and a
//! sample holds at least one iteration, so the 10 samples of a full run move at least 1M.
//! Sampling is flat (every sample the same iteration count), as criterion recommends for
//! iterations that take milliseconds. Each benchmark takes 1 s of warm-up and 3 s of
//! measurement, or 10 iterations if those take longer; criterion then warns that it could
//! not complete 10 samples in 3 s, which is expected. That is 57 benchmarks and at least
//! 4 minutes; on the 2-core bench machine a full run took 10 minutes, because the
//! oversubscribed cases at capacity 0 and 1 can take 0.5–2 s per iteration. Under
//! `--quick` each benchmark stops once stable or after 3 s: under 4 minutes. The 27
//! unbounded benchmarks add about 2 minutes to a full run (1 s of warm-up and 3 s of
//! measurement each: their iterations take milliseconds).
//!
//! Noise: with more threads than cores, iterations at capacity 0 and 1 are bimodal for
//! several contenders (ours and crossbeam included): 20–60 ms when the threads happen to
//! interleave well, 0.4–2 s when a spinning party keeps the one it waits for off a core.
//! Ten samples can land in either mode, so compare those cells across runs, not within
//! one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion};

use crate::support::flat_group;

/// Values moved per iteration, over all producers.
const MESSAGES: u64 = 100_000;

/// Values per `send_many` / `recv_many` call in `batch_spsc`.
const BATCH: usize = 256;

/// The capacities every case runs at: rendezvous, one slot, a roomy ring.
const CAPACITIES: [usize; 3] = [0, 1, 1024];

/// A bounded channel of `u64`, implemented by ours and by each peer.
///
/// `Rx` is not required to be `Clone`: the multi-consumer cases ask for it where they are
/// called, so `std::sync::mpsc` joins only the single-consumer ones.
trait Chan: 'static {
    const NAME: &'static str;
    type Tx: Clone + Send + 'static;
    type Rx: Send + 'static;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx);
    /// Blocks while full; panics if every receiver is gone (the benchmark never drops one
    /// early).
    fn send(tx: &Self::Tx, value: u64);
    /// Blocks while empty; `None` once every sender is gone and the channel is drained.
    fn recv(rx: &Self::Rx) -> Option<u64>;
}

/// Ours. (The leading `::` names the crate, not this module.)
struct Ours;

impl Chan for Ours {
    const NAME: &'static str = "ours";
    type Tx = ::bounded_buffer::Sender<u64>;
    type Rx = ::bounded_buffer::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        ::bounded_buffer::channel(cap)
    }
    fn send(tx: &Self::Tx, value: u64) {
        tx.send(value).unwrap();
    }
    fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
}

struct Crossbeam;

impl Chan for Crossbeam {
    const NAME: &'static str = "crossbeam";
    type Tx = crossbeam_channel::Sender<u64>;
    type Rx = crossbeam_channel::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        crossbeam_channel::bounded(cap)
    }
    fn send(tx: &Self::Tx, value: u64) {
        tx.send(value).unwrap();
    }
    fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
}

struct Flume;

impl Chan for Flume {
    const NAME: &'static str = "flume";
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        flume::bounded(cap)
    }
    fn send(tx: &Self::Tx, value: u64) {
        tx.send(value).unwrap();
    }
    fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
}

/// kanal 0.1: dropping the last `Sender` wakes blocked receivers, and `recv` returns what
/// is queued before it reports `SendClosed`, so "recv until error" drains it like the rest.
struct Kanal;

impl Chan for Kanal {
    const NAME: &'static str = "kanal";
    type Tx = kanal::Sender<u64>;
    type Rx = kanal::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        kanal::bounded(cap)
    }
    fn send(tx: &Self::Tx, value: u64) {
        tx.send(value).unwrap();
    }
    fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
}

/// `std::sync::mpsc::sync_channel`: single consumer only.
struct StdMpsc;

impl Chan for StdMpsc {
    const NAME: &'static str = "std_mpsc";
    type Tx = std::sync::mpsc::SyncSender<u64>;
    type Rx = std::sync::mpsc::Receiver<u64>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        std::sync::mpsc::sync_channel(cap)
    }
    fn send(tx: &Self::Tx, value: u64) {
        tx.send(value).unwrap();
    }
    fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().ok()
    }
}

/// An unbounded channel of `u64`, implemented by ours and by each peer (as [`Chan`]).
trait Unbounded: 'static {
    const NAME: &'static str;
    type Tx: Clone + Send + 'static;
    type Rx: Send + 'static;
    fn unbounded() -> (Self::Tx, Self::Rx);
    /// Never blocks; panics if every receiver is gone.
    fn send(tx: &Self::Tx, value: u64);
    /// Blocks while empty; `None` once every sender is gone and the channel is drained.
    fn recv(rx: &Self::Rx) -> Option<u64>;
}

/// Implements [`Unbounded`] for a contender whose constructor is `$new` and whose
/// handles' `send` and `recv` return `Result`s.
macro_rules! unbounded_contender {
    ($contender:ty, $tx:ty, $rx:ty, $new:path) => {
        impl Unbounded for $contender {
            const NAME: &'static str = <$contender as Chan>::NAME;
            type Tx = $tx;
            type Rx = $rx;
            fn unbounded() -> (Self::Tx, Self::Rx) {
                $new()
            }
            fn send(tx: &Self::Tx, value: u64) {
                tx.send(value).unwrap();
            }
            fn recv(rx: &Self::Rx) -> Option<u64> {
                rx.recv().ok()
            }
        }
    };
}

unbounded_contender!(
    Ours,
    ::bounded_buffer::Sender<u64>,
    ::bounded_buffer::Receiver<u64>,
    ::bounded_buffer::unbounded
);
unbounded_contender!(
    Crossbeam,
    crossbeam_channel::Sender<u64>,
    crossbeam_channel::Receiver<u64>,
    crossbeam_channel::unbounded
);
unbounded_contender!(
    Flume,
    flume::Sender<u64>,
    flume::Receiver<u64>,
    flume::unbounded
);
unbounded_contender!(
    Kanal,
    kanal::Sender<u64>,
    kanal::Receiver<u64>,
    kanal::unbounded
);
unbounded_contender!(
    StdMpsc,
    std::sync::mpsc::Sender<u64>,
    std::sync::mpsc::Receiver<u64>,
    std::sync::mpsc::channel
);

/// What a consumer saw: how many values and their sum.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    count: u64,
    sum: u64,
}

impl Tally {
    fn add(&mut self, value: u64) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(value);
    }

    fn merge(self, other: Tally) -> Tally {
        Tally {
            count: self.count + other.count,
            sum: self.sum.wrapping_add(other.sum),
        }
    }
}

/// The values `0..MESSAGES`, split into `producers` contiguous ranges.
fn share(producer: usize, producers: usize) -> std::ops::Range<u64> {
    let n = producers as u64;
    let p = producer as u64;
    (MESSAGES * p / n)..(MESSAGES * (p + 1) / n)
}

/// Where a round's threads wait to be started together.
struct StartLine {
    threads: usize,
    arrived: AtomicUsize,
    barrier: Barrier,
}

impl StartLine {
    fn new(threads: usize) -> StartLine {
        StartLine {
            threads,
            arrived: AtomicUsize::new(0),
            barrier: Barrier::new(threads + 1),
        }
    }

    /// A round's thread: waits for the start.
    fn wait(&self) {
        self.arrived.fetch_add(1, Ordering::Release);
        self.barrier.wait();
    }

    /// The timing thread: once every thread is waiting, starts the clock and releases
    /// them. Not the other way round: once released, this thread may not get a core back
    /// until the others are done (two cores, three or more threads), and would time almost
    /// nothing. Nor before they all wait: it would time their start-up.
    fn start(&self) -> Instant {
        while self.arrived.load(Ordering::Acquire) < self.threads {
            thread::yield_now();
        }
        let start = Instant::now();
        self.barrier.wait();
        start
    }
}

/// One timed round: the producers send `0..MESSAGES` between them through `tx`, each
/// consumer drains its receiver until the channel disconnects. The clock runs from the
/// [`StartLine`]'s start to the last join. Panics if the consumers did not receive exactly
/// the values sent.
fn round<Tx, Rx>(
    tx: Tx,
    rxs: Vec<Rx>,
    producers: usize,
    produce: impl Fn(&Tx, std::ops::Range<u64>) + Send + Sync + 'static,
    consume: impl Fn(&Rx) -> Tally + Send + Sync + 'static,
) -> Duration
where
    Tx: Clone + Send + 'static,
    Rx: Send + 'static,
{
    let line = Arc::new(StartLine::new(producers + rxs.len()));
    let produce = Arc::new(produce);
    let consume = Arc::new(consume);
    let senders: Vec<_> = (0..producers)
        .map(|p| {
            let (tx, line, produce) = (tx.clone(), Arc::clone(&line), Arc::clone(&produce));
            thread::spawn(move || {
                line.wait();
                produce(&tx, share(p, producers));
            })
        })
        .collect();
    // Only the producers' clones may keep the channel open.
    drop(tx);
    let receivers: Vec<_> = rxs
        .into_iter()
        .map(|rx| {
            let (line, consume) = (Arc::clone(&line), Arc::clone(&consume));
            thread::spawn(move || {
                line.wait();
                consume(&rx)
            })
        })
        .collect();

    let start = line.start();
    for sender in senders {
        sender.join().unwrap();
    }
    let tally = receivers
        .into_iter()
        .map(|receiver| receiver.join().unwrap())
        .fold(Tally::default(), Tally::merge);
    let elapsed = start.elapsed();

    let expected = Tally {
        count: MESSAGES,
        sum: (0..MESSAGES).sum(),
    };
    assert_eq!(tally, expected, "values lost or duplicated");
    elapsed
}

fn send_each<C: Chan>(tx: &C::Tx, values: std::ops::Range<u64>) {
    for value in values {
        C::send(tx, value);
    }
}

fn recv_each<C: Chan>(rx: &C::Rx) -> Tally {
    let mut tally = Tally::default();
    while let Some(value) = C::recv(rx) {
        tally.add(value);
    }
    tally
}

/// `iters` rounds with `producers` senders and one receiver.
fn single_consumer<C: Chan>(iters: u64, cap: usize, producers: usize) -> Duration {
    (0..iters)
        .map(|_| {
            let (tx, rx) = C::bounded(cap);
            round(tx, vec![rx], producers, send_each::<C>, recv_each::<C>)
        })
        .sum()
}

/// `iters` rounds with `producers` senders and `consumers` receivers.
fn multi_consumer<C: Chan>(iters: u64, cap: usize, producers: usize, consumers: usize) -> Duration
where
    C::Rx: Clone,
{
    (0..iters)
        .map(|_| {
            let (tx, rx) = C::bounded(cap);
            let rxs = vec![rx; consumers];
            round(tx, rxs, producers, send_each::<C>, recv_each::<C>)
        })
        .sum()
}

/// A group of threaded runs: few samples, flat sampling (iterations take milliseconds).
fn threaded_group<'a>(c: &'a mut Criterion, case: &str) -> BenchmarkGroup<'a, WallTime> {
    flat_group(c, format!("bounded-buffer/{case}"), MESSAGES)
}

fn cap_id(name: &str, cap: usize) -> BenchmarkId {
    BenchmarkId::new(name, format!("cap_{cap}"))
}

/// `C` with `producers` senders and one receiver at capacity `cap`, into `group`.
fn bench_single<C: Chan>(group: &mut BenchmarkGroup<'_, WallTime>, cap: usize, producers: usize) {
    group.bench_function(cap_id(C::NAME, cap), |b| {
        b.iter_custom(|iters| single_consumer::<C>(iters, cap, producers))
    });
}

/// `C` with `producers` senders and `consumers` receivers at capacity `cap`, into `group`.
fn bench_multi<C: Chan>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    cap: usize,
    producers: usize,
    consumers: usize,
) where
    C::Rx: Clone,
{
    group.bench_function(cap_id(C::NAME, cap), |b| {
        b.iter_custom(|iters| multi_consumer::<C>(iters, cap, producers, consumers))
    });
}

/// `batch_spsc`: our batch API, against crossbeam's and our own per-message loops.
fn bench_batch(c: &mut Criterion) {
    const CAP: usize = 1024;
    let mut group = threaded_group(c, "batch_spsc");
    group.bench_function(cap_id("ours", CAP), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (tx, rx) = ::bounded_buffer::channel::<u64>(CAP);
                    round(tx, vec![rx], 1, send_batches, recv_batches)
                })
                .sum()
        })
    });
    group.bench_function(cap_id("ours_single", CAP), |b| {
        b.iter_custom(|iters| single_consumer::<Ours>(iters, CAP, 1))
    });
    group.bench_function(cap_id("crossbeam", CAP), |b| {
        b.iter_custom(|iters| single_consumer::<Crossbeam>(iters, CAP, 1))
    });
    group.finish();
}

/// Sends `values` in `send_many` calls of [`BATCH`]; building each `Vec` is part of the
/// cost, as it is for a caller.
fn send_batches(tx: &::bounded_buffer::Sender<u64>, mut values: std::ops::Range<u64>) {
    loop {
        let batch: Vec<u64> = values.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            return;
        }
        tx.send_many(batch).unwrap();
    }
}

/// Drains with `recv_many` calls of up to [`BATCH`], reusing one buffer.
fn recv_batches(rx: &::bounded_buffer::Receiver<u64>) -> Tally {
    let mut tally = Tally::default();
    let mut buf = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut buf, BATCH).is_ok() {
        for value in buf.drain(..) {
            tally.add(value);
        }
    }
    tally
}

fn send_each_unbounded<C: Unbounded>(tx: &C::Tx, values: std::ops::Range<u64>) {
    for value in values {
        C::send(tx, value);
    }
}

fn recv_each_unbounded<C: Unbounded>(rx: &C::Rx) -> Tally {
    let mut tally = Tally::default();
    while let Some(value) = C::recv(rx) {
        tally.add(value);
    }
    tally
}

/// `C` with `producers` senders and `consumers` receivers, cloned by `clone_rx` (std's
/// receiver cannot be: it only runs with one consumer), into `group`.
fn bench_unbounded<C: Unbounded>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    producers: usize,
    consumers: usize,
    clone_rx: fn(&C::Rx) -> C::Rx,
) {
    let id = BenchmarkId::new(C::NAME, format!("{producers}x{consumers}"));
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (tx, rx) = C::unbounded();
                    let mut rxs: Vec<C::Rx> = (1..consumers).map(|_| clone_rx(&rx)).collect();
                    rxs.push(rx);
                    round(
                        tx,
                        rxs,
                        producers,
                        send_each_unbounded::<C>,
                        recv_each_unbounded::<C>,
                    )
                })
                .sum()
        })
    });
}

/// `unbounded_mpsc` and `unbounded_mpmc`.
fn bench_unbounded_all(c: &mut Criterion) {
    fn single<C: Unbounded>(_: &C::Rx) -> C::Rx {
        unreachable!("one consumer: never cloned")
    }
    fn cloned<C: Unbounded>(rx: &C::Rx) -> C::Rx
    where
        C::Rx: Clone,
    {
        rx.clone()
    }
    let mut group = threaded_group(c, "unbounded_mpsc");
    for producers in [1, 2, 4] {
        bench_unbounded::<Ours>(&mut group, producers, 1, single::<Ours>);
        bench_unbounded::<Crossbeam>(&mut group, producers, 1, single::<Crossbeam>);
        bench_unbounded::<Flume>(&mut group, producers, 1, single::<Flume>);
        bench_unbounded::<Kanal>(&mut group, producers, 1, single::<Kanal>);
        bench_unbounded::<StdMpsc>(&mut group, producers, 1, single::<StdMpsc>);
    }
    group.finish();
    // std's `Receiver` cannot be cloned: it sits out the multi-consumer case.
    let mut group = threaded_group(c, "unbounded_mpmc");
    for producers in [1, 2, 4] {
        bench_unbounded::<Ours>(&mut group, producers, 2, cloned::<Ours>);
        bench_unbounded::<Crossbeam>(&mut group, producers, 2, cloned::<Crossbeam>);
        bench_unbounded::<Flume>(&mut group, producers, 2, cloned::<Flume>);
        bench_unbounded::<Kanal>(&mut group, producers, 2, cloned::<Kanal>);
    }
    group.finish();
}

/// Every case. The contenders of one case and capacity run back to back, so the cells of
/// one table are measured within a minute or so of each other on a machine whose speed
/// drifts over minutes.
pub(crate) fn bench_all(c: &mut Criterion) {
    for (case, producers) in [("spsc", 1), ("mpsc_4x1", 4)] {
        let mut group = threaded_group(c, case);
        for cap in CAPACITIES {
            bench_single::<Ours>(&mut group, cap, producers);
            bench_single::<Crossbeam>(&mut group, cap, producers);
            bench_single::<Flume>(&mut group, cap, producers);
            bench_single::<Kanal>(&mut group, cap, producers);
            bench_single::<StdMpsc>(&mut group, cap, producers);
        }
        group.finish();
    }
    // std's `Receiver` cannot be cloned: it sits out the multi-consumer cases.
    for (case, threads) in [("mpmc_4x4", 4), ("mpmc_8x8", 8)] {
        let mut group = threaded_group(c, case);
        for cap in CAPACITIES {
            bench_multi::<Ours>(&mut group, cap, threads, threads);
            bench_multi::<Crossbeam>(&mut group, cap, threads, threads);
            bench_multi::<Flume>(&mut group, cap, threads, threads);
            bench_multi::<Kanal>(&mut group, cap, threads, threads);
        }
        group.finish();
    }
    bench_batch(c);
    bench_unbounded_all(c);
}
