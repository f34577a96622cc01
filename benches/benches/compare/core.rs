//! `patterns-core`: `CancelToken` beside the other ways to signal cancellation.
//!
//! * `core/cancel_check` — the cost of asking "am I cancelled?" on a live token, the
//!   question a job asks in its inner loop.
//! * `core/cancel_wake (ping_pong)` — two threads, each waiting on a signal that the other
//!   fires: one iteration is two fire-to-wake hand-offs, back to back, as when a canceller
//!   and a waiter work in lockstep (a waiter that spins briefly before parking wins here).
//! * `core/cancel_wake (parked)` — one fire-to-wake hand-off to a thread that has surely
//!   parked: the firing thread first lets 50 µs pass, longer than any spin phase. Time is
//!   the one-way latency from just before `fire` to just after `wait` returns.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};

/// A one-shot cancellation signal, implemented by ours and by each peer.
trait Signal: Send + Sync + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    fn fire(&self);
    fn is_fired(&self) -> bool;
    /// Blocks until fired, without spinning.
    fn wait(&self);
}

impl Signal for patterns_core::CancelToken {
    const NAME: &'static str = "ours";
    fn new() -> Self {
        patterns_core::CancelToken::new()
    }
    fn fire(&self) {
        self.cancel();
    }
    fn is_fired(&self) -> bool {
        self.is_cancelled()
    }
    fn wait(&self) {
        patterns_core::CancelToken::wait(self);
    }
}

impl Signal for tokio_util::sync::CancellationToken {
    const NAME: &'static str = "tokio_util";
    fn new() -> Self {
        tokio_util::sync::CancellationToken::new()
    }
    fn fire(&self) {
        self.cancel();
    }
    fn is_fired(&self) -> bool {
        self.is_cancelled()
    }
    fn wait(&self) {
        pollster::block_on(self.cancelled());
    }
}

/// The hand-written flag: a `Mutex<bool>` and a `Condvar`.
struct CondvarFlag {
    fired: Mutex<bool>,
    cond: Condvar,
    fast: AtomicBool,
}

impl Signal for CondvarFlag {
    const NAME: &'static str = "condvar";
    fn new() -> Self {
        CondvarFlag {
            fired: Mutex::new(false),
            cond: Condvar::new(),
            fast: AtomicBool::new(false),
        }
    }
    fn fire(&self) {
        self.fast.store(true, Ordering::Release);
        *self.fired.lock().unwrap() = true;
        self.cond.notify_all();
    }
    fn is_fired(&self) -> bool {
        self.fast.load(Ordering::Acquire)
    }
    fn wait(&self) {
        let mut fired = self.fired.lock().unwrap();
        while !*fired {
            fired = self.cond.wait(fired).unwrap();
        }
    }
}

/// The channel idiom: dropping the only sender wakes every `recv` with `Disconnected`.
struct ChannelClose {
    tx: Mutex<Option<crossbeam_channel::Sender<()>>>,
    rx: crossbeam_channel::Receiver<()>,
}

impl Signal for ChannelClose {
    const NAME: &'static str = "crossbeam";
    fn new() -> Self {
        let (tx, rx) = crossbeam_channel::bounded(0);
        ChannelClose {
            tx: Mutex::new(Some(tx)),
            rx,
        }
    }
    fn fire(&self) {
        self.tx.lock().unwrap().take();
    }
    fn is_fired(&self) -> bool {
        matches!(
            self.rx.try_recv(),
            Err(crossbeam_channel::TryRecvError::Disconnected)
        )
    }
    fn wait(&self) {
        let _ = self.rx.recv();
    }
}

/// The floor: a bare flag, which can be checked but not waited on without spinning.
fn check_atomic_bool(c: &mut Criterion) {
    let mut group = c.benchmark_group("core/cancel_check");
    group.throughput(Throughput::Elements(1));
    let flag = Arc::new(AtomicBool::new(false));
    group.bench_function(BenchmarkId::new("atomic_bool", "live"), |b| {
        b.iter(|| black_box(&flag).load(Ordering::Acquire))
    });
    group.finish();
}

fn check<S: Signal>(c: &mut Criterion) {
    let mut group = c.benchmark_group("core/cancel_check");
    group.throughput(Throughput::Elements(1));
    let signal = S::new();
    group.bench_function(BenchmarkId::new(S::NAME, "live"), |b| {
        b.iter(|| black_box(&signal).is_fired())
    });
    group.finish();
}

/// Our token with a deadline reads the clock on every check: measured apart.
fn check_with_deadline(c: &mut Criterion) {
    let mut group = c.benchmark_group("core/cancel_check");
    group.throughput(Throughput::Elements(1));
    let token = patterns_core::CancelToken::with_timeout(Duration::from_secs(3600));
    group.bench_function(BenchmarkId::new("ours", "live_with_deadline"), |b| {
        b.iter(|| black_box(&token).is_cancelled())
    });
    group.finish();
}

fn wake<S: Signal>(c: &mut Criterion) {
    let mut group = c.benchmark_group("core/cancel_wake");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new(S::NAME, "ping_pong"), |b| {
        b.iter_custom(|iters| ping_pong::<S>(iters))
    });
    group.finish();
}

/// `iters` round trips: main fires `ping[i]` and waits on `pong[i]`; the partner waits on
/// `ping[i]` and fires `pong[i]`. Signals are one-shot, so each round has a fresh pair,
/// made before the clock starts.
fn ping_pong<S: Signal>(iters: u64) -> Duration {
    let pairs: Arc<Vec<(S, S)>> = Arc::new((0..iters).map(|_| (S::new(), S::new())).collect());
    let partner = {
        let pairs = Arc::clone(&pairs);
        thread::spawn(move || {
            for (ping, pong) in pairs.iter() {
                ping.wait();
                pong.fire();
            }
        })
    };
    let start = Instant::now();
    for (ping, pong) in pairs.iter() {
        ping.fire();
        pong.wait();
    }
    let elapsed = start.elapsed();
    partner.join().unwrap();
    elapsed
}

fn wake_parked<S: Signal>(c: &mut Criterion) {
    let mut group = c.benchmark_group("core/cancel_wake");
    group.throughput(Throughput::Elements(1));
    // Each iteration also idles 50 µs that the measurement leaves out: keep the count low.
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(1));
    group.bench_function(BenchmarkId::new(S::NAME, "parked"), |b| {
        b.iter_custom(|iters| fire_to_parked::<S>(iters))
    });
    group.finish();
}

/// `iters` one-way wake-ups of a parked thread; returns the sum of their latencies.
fn fire_to_parked<S: Signal>(iters: u64) -> Duration {
    const SETTLE: Duration = Duration::from_micros(50);
    let pairs: Arc<Vec<(S, S)>> = Arc::new((0..iters).map(|_| (S::new(), S::new())).collect());
    let woke = Arc::new(Mutex::new(Vec::with_capacity(iters as usize)));
    let partner = {
        let pairs = Arc::clone(&pairs);
        let woke = Arc::clone(&woke);
        thread::spawn(move || {
            for (ping, pong) in pairs.iter() {
                ping.wait();
                woke.lock().unwrap().push(Instant::now());
                pong.fire();
            }
        })
    };
    let mut fired = Vec::with_capacity(iters as usize);
    for (ping, pong) in pairs.iter() {
        let settle = Instant::now() + SETTLE;
        while Instant::now() < settle {
            std::hint::spin_loop();
        }
        fired.push(Instant::now());
        ping.fire();
        pong.wait();
    }
    partner.join().unwrap();
    let woke = woke.lock().unwrap();
    fired.iter().zip(woke.iter()).map(|(f, w)| *w - *f).sum()
}

pub(crate) fn bench_all(c: &mut Criterion) {
    check::<patterns_core::CancelToken>(c);
    check_with_deadline(c);
    check::<tokio_util::sync::CancellationToken>(c);
    check::<CondvarFlag>(c);
    check::<ChannelClose>(c);
    check_atomic_bool(c);

    wake::<patterns_core::CancelToken>(c);
    wake::<tokio_util::sync::CancellationToken>(c);
    wake::<CondvarFlag>(c);
    wake::<ChannelClose>(c);

    wake_parked::<patterns_core::CancelToken>(c);
    wake_parked::<tokio_util::sync::CancellationToken>(c);
    wake_parked::<CondvarFlag>(c);
    wake_parked::<ChannelClose>(c);
}
