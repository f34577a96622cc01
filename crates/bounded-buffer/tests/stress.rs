//! Stress tests of the bounded MPMC channel under real contention.
//!
//! * The matrix: producers × consumers in {1×1, 4×1, 1×4, 4×4, 8×8} × capacity
//!   {0, 1, 2, 1024}, every blocking send API (`send`, `send_many`, `send_iter`,
//!   `send_timeout`/`send_deadline`, `send_cancellable`, `try_send` falling back to `send`)
//!   against every receive API (`recv`, `recv_many`, `iter`, `into_iter`,
//!   `recv_timeout`/`recv_deadline`, `try_recv`/`try_recv_many` falling back to `recv`):
//!   every value arrives exactly once, and values of one producer arrive in order at any one
//!   consumer.
//! * Shutdown races: threads blocked in a send while the channel is closed from either side
//!   or every receiver is dropped get their value back; threads blocked in a receive while
//!   the channel closes drain it and then fail; receivers drain a full buffer closed from the
//!   sending side; consumers that quit mid-stream strand no value.
//! * Capacity 0: with 8 senders and 8 receivers, no send completes before a receive that
//!   takes it has started.
//! * Wake-ups: a `send_many` onto an empty ring wakes one parked receiver per value, and a
//!   `recv_many` from a full ring one parked sender per freed slot.
//!
//! Every payload is a [`Counted`], whose drop is recorded per value: each test ends by
//! checking that every value created was dropped exactly once (nothing leaked, nothing
//! dropped twice), and the values handed back in errors plus the values received (plus
//! those dropped with the last receiver) are exactly the values sent.
//!
//! No test sleeps or measures time: threads are ordered with barriers and channels, and
//! every wait of the harness is bounded by [`HANG_LIMIT`] so that a lost wake-up fails the
//! test with a message instead of hanging it.

use std::ops::Range;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bounded_buffer::{
    channel, Receiver, RecvError, RecvTimeoutError, SendCancelError, SendError, SendIterError,
    SendManyError, SendTimeoutError, Sender, TryRecvError, TrySendError,
};
use patterns_core::CancelToken;

/// Values moved by one run of the matrix (and the scale of the other tests). Debug builds
/// are roughly ten times slower, so they move 20_000 values per run instead of 100_000,
/// which keeps the whole file well under a minute on two cores.
const VALUES: usize = if cfg!(debug_assertions) {
    20_000
} else {
    100_000
};

/// The bound on every wait of the harness itself (and on the `_timeout`/`_deadline`
/// operations under test). A healthy run never comes close; it only turns a hang into a
/// failure.
const HANG_LIMIT: Duration = Duration::from_secs(120);

/// The capacities of the matrix, in the order used to vary the APIs between tests.
const CAPACITIES: [usize; 4] = [0, 1, 2, 1024];

/// Ids per producer in the shutdown tests: producer `p` uses ids `p * STRIDE ..`.
const STRIDE: usize = 1 << 16;

// ---------------------------------------------------------------------------------------
// Drop counting
// ---------------------------------------------------------------------------------------

/// Records, for every id, how many times a [`Counted`] with that id was created and
/// dropped.
struct Tracker {
    created: Vec<AtomicU8>,
    dropped: Vec<AtomicU8>,
    created_total: AtomicUsize,
    dropped_total: AtomicUsize,
}

impl Tracker {
    fn new(ids: usize) -> Arc<Tracker> {
        Arc::new(Tracker {
            created: (0..ids).map(|_| AtomicU8::new(0)).collect(),
            dropped: (0..ids).map(|_| AtomicU8::new(0)).collect(),
            created_total: AtomicUsize::new(0),
            dropped_total: AtomicUsize::new(0),
        })
    }

    fn make(self: &Arc<Self>, id: usize) -> Counted {
        let before = self.created[id].fetch_add(1, SeqCst);
        assert_eq!(before, 0, "test bug: value {id} created twice");
        self.created_total.fetch_add(1, SeqCst);
        Counted {
            id,
            tracker: Arc::clone(self),
        }
    }

    fn created(&self) -> usize {
        self.created_total.load(SeqCst)
    }

    /// Values created and not dropped yet (negative if something was dropped twice).
    fn live(&self) -> isize {
        self.created_total.load(SeqCst) as isize - self.dropped_total.load(SeqCst) as isize
    }

    fn assert_each_dropped_once(&self, what: &str) {
        assert_eq!(
            self.live(),
            0,
            "{what}: values leaked (> 0) or dropped twice (< 0)"
        );
        for (id, (created, dropped)) in self.created.iter().zip(&self.dropped).enumerate() {
            let (created, dropped) = (created.load(SeqCst), dropped.load(SeqCst));
            assert_eq!(
                dropped, created,
                "{what}: value {id} was created {created} time(s) but dropped {dropped} time(s)"
            );
        }
    }
}

/// A payload that reports its drop to its [`Tracker`].
struct Counted {
    id: usize,
    tracker: Arc<Tracker>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.tracker.dropped[self.id].fetch_add(1, SeqCst);
        self.tracker.dropped_total.fetch_add(1, SeqCst);
    }
}

fn ids(values: &[Counted]) -> Vec<usize> {
    values.iter().map(|v| v.id).collect()
}

// ---------------------------------------------------------------------------------------
// Threads with a bounded wait
// ---------------------------------------------------------------------------------------

/// The threads of one test. [`Crew::wait`] waits for all of them with a bound, so that a
/// thread stuck forever (a lost wake-up) fails the test instead of hanging it.
struct Crew {
    what: String,
    done_tx: mpsc::Sender<String>,
    done_rx: mpsc::Receiver<String>,
    running: Vec<String>,
}

/// Reports a thread's end, also when it panics.
struct Done(mpsc::Sender<String>, String);

impl Drop for Done {
    fn drop(&mut self) {
        let _ = self.0.send(std::mem::take(&mut self.1));
    }
}

impl Crew {
    fn new(what: impl Into<String>) -> Crew {
        let (done_tx, done_rx) = mpsc::channel();
        Crew {
            what: what.into(),
            done_tx,
            done_rx,
            running: Vec::new(),
        }
    }

    fn spawn<T, F>(&mut self, name: String, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let done = Done(self.done_tx.clone(), name.clone());
        self.running.push(name.clone());
        thread::Builder::new()
            .name(name)
            .spawn(move || {
                let _done = done;
                f()
            })
            .expect("spawning a test thread")
    }

    /// Waits until every thread spawned so far has ended.
    fn wait(&mut self) {
        let deadline = Instant::now() + HANG_LIMIT;
        while !self.running.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.done_rx.recv_timeout(left) {
                Ok(name) => self.running.retain(|n| *n != name),
                Err(_) => panic!(
                    "{}: threads {:?} still blocked after {HANG_LIMIT:?} (lost wake-up?)",
                    self.what, self.running
                ),
            }
        }
    }
}

/// Joins a thread that [`Crew::wait`] saw end, passing its panic on.
fn join<T>(handle: JoinHandle<T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Yields until `cond` holds or a few seconds pass. Only makes a race more likely to go one
/// way (e.g. senders being parked on a full channel); never used as an assertion.
fn spin_until(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() && Instant::now() < deadline {
        thread::yield_now();
    }
}

// ---------------------------------------------------------------------------------------
// Producers and consumers
// ---------------------------------------------------------------------------------------

/// How a producer sends.
#[derive(Clone, Copy, Debug)]
enum Produce {
    Send,
    SendMany,
    SendIter,
    SendTimeout,
    SendCancellable,
    TrySendThenSend,
}

const PRODUCE: [Produce; 6] = [
    Produce::Send,
    Produce::SendMany,
    Produce::SendIter,
    Produce::SendTimeout,
    Produce::SendCancellable,
    Produce::TrySendThenSend,
];

/// Batch sizes for `send_many`, cycled: smaller and larger than every capacity tested.
const CHUNKS: [usize; 7] = [1, 2, 3, 7, 64, 97, 1500];

/// `max` for `recv_many`, cycled.
const MAXES: [usize; 5] = [1, 3, 16, 100, 5000];

/// How a consumer receives.
#[derive(Clone, Copy, Debug)]
enum Consume {
    Recv,
    RecvMany,
    Iter,
    IntoIter,
    RecvTimeout,
    TryThenBlock,
}

const CONSUME: [Consume; 6] = [
    Consume::Recv,
    Consume::RecvMany,
    Consume::Iter,
    Consume::IntoIter,
    Consume::RecvTimeout,
    Consume::TryThenBlock,
];

/// Sends the values `ids` in order on an open channel: every send must succeed.
fn produce(tx: &Sender<Counted>, tracker: &Arc<Tracker>, ids: Range<usize>, style: Produce) {
    match style {
        Produce::Send => {
            for id in ids {
                tx.send(tracker.make(id)).expect("send on an open channel");
            }
        }
        Produce::SendMany => {
            let mut next = ids.start;
            for round in 0.. {
                if next == ids.end {
                    break;
                }
                let len = CHUNKS[round % CHUNKS.len()].min(ids.end - next);
                let chunk = (next..next + len).map(|id| tracker.make(id)).collect();
                tx.send_many(chunk).expect("send_many on an open channel");
                next += len;
            }
        }
        Produce::SendIter => {
            tx.send_iter(ids.map(|id| tracker.make(id)))
                .expect("send_iter on an open channel");
        }
        Produce::SendTimeout => {
            for id in ids {
                let result = if id % 2 == 0 {
                    tx.send_timeout(tracker.make(id), HANG_LIMIT)
                } else {
                    tx.send_deadline(tracker.make(id), Instant::now() + HANG_LIMIT)
                };
                result.expect("send_timeout on an open channel");
            }
        }
        Produce::SendCancellable => {
            let token = CancelToken::new(); // never fired
            for id in ids {
                tx.send_cancellable(tracker.make(id), &token)
                    .expect("send_cancellable on an open channel");
            }
        }
        Produce::TrySendThenSend => {
            for id in ids {
                match tx.try_send(tracker.make(id)) {
                    Ok(()) => {}
                    Err(TrySendError::Full(v)) => {
                        assert_eq!(v.id, id, "try_send must give back the value it got");
                        tx.send(v).expect("send on an open channel");
                    }
                    Err(TrySendError::Closed(v)) => panic!("closed while sending {}", v.id),
                }
            }
        }
    }
}

/// Receives until the channel is closed and drained, calling `seen` with each id in the
/// order received, and returns the ids.
fn consume(rx: Receiver<Counted>, style: Consume, mut seen: impl FnMut(usize)) -> Vec<usize> {
    let mut got = Vec::new();
    // A second handle to watch `len` through, as `IntoIter` consumes `rx`.
    let probe = rx.clone();
    let mut push = |v: Counted| {
        assert!(probe.len() <= probe.capacity(), "len() above capacity");
        seen(v.id);
        got.push(v.id);
    };
    match style {
        Consume::Recv => {
            while let Ok(v) = rx.recv() {
                push(v);
            }
        }
        Consume::RecvMany => {
            let mut buf = Vec::new();
            for round in 0.. {
                let max = MAXES[round % MAXES.len()];
                match rx.recv_many(&mut buf, max) {
                    Ok(n) => {
                        assert!((1..=max).contains(&n), "recv_many({max}) moved {n}");
                        assert_eq!(buf.len(), n, "recv_many must report what it moved");
                        buf.drain(..).for_each(&mut push);
                    }
                    Err(RecvError) => break,
                }
            }
        }
        Consume::Iter => {
            for v in &rx {
                push(v);
            }
            assert!(rx.iter().next().is_none(), "Iter is fused once drained");
        }
        Consume::IntoIter => {
            let mut iter = rx.into_iter();
            iter.by_ref().for_each(&mut push);
            assert!(iter.next().is_none(), "IntoIter is fused once drained");
            return got;
        }
        Consume::RecvTimeout => {
            for round in 0.. {
                let result = if round % 2 == 0 {
                    rx.recv_timeout(HANG_LIMIT)
                } else {
                    rx.recv_deadline(Instant::now() + HANG_LIMIT)
                };
                match result {
                    Ok(v) => push(v),
                    Err(RecvTimeoutError::Closed) => break,
                    Err(RecvTimeoutError::Timeout) => panic!("recv_timeout timed out: hang"),
                }
            }
        }
        Consume::TryThenBlock => {
            let mut buf = Vec::new();
            for round in 0.. {
                let tried = if round % 2 == 0 {
                    rx.try_recv().map(|v| buf.push(v))
                } else {
                    rx.try_recv_many(&mut buf, 8)
                        .map(|n| assert!((1..=8).contains(&n)))
                };
                match tried {
                    Ok(()) => buf.drain(..).for_each(&mut push),
                    Err(TryRecvError::Empty) => match rx.recv() {
                        Ok(v) => push(v),
                        Err(RecvError) => break,
                    },
                    Err(TryRecvError::Closed) => break,
                }
            }
        }
    }
    // Closed and drained stays so.
    assert!(rx.is_closed());
    assert!(rx.recv().is_err());
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Closed)));
    got
}

/// Checks that every id in `0..producers * per` was received exactly once, and that every
/// consumer saw the values of each producer (ids `p * per ..`) in increasing order.
fn check_delivery(received: &[Vec<usize>], producers: usize, per: usize, what: &str) {
    let total = producers * per;
    let mut seen = vec![false; total];
    for (consumer, got) in received.iter().enumerate() {
        let mut last: Vec<Option<usize>> = vec![None; producers];
        for &id in got {
            assert!(id < total, "{what}: received unknown value {id}");
            assert!(!seen[id], "{what}: value {id} received twice");
            seen[id] = true;
            let producer = id / per;
            if let Some(prev) = last[producer] {
                assert!(
                    prev < id,
                    "{what}: consumer {consumer} got {id} after {prev} from producer {producer}: \
                     per-producer FIFO broken"
                );
            }
            last[producer] = Some(id);
        }
    }
    let missing: Vec<usize> = (0..total).filter(|&id| !seen[id]).collect();
    assert!(
        missing.is_empty(),
        "{what}: {} values never received, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

// ---------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------

/// `producers` threads send `VALUES` distinct values in all through a channel of
/// `capacity` to `consumers` threads. Which send and receive APIs each thread uses rotates
/// with the thread's index and the test's shape, so that every API meets every capacity.
fn run_matrix(producers: usize, consumers: usize, capacity: usize) {
    let what = format!("{producers}x{consumers} capacity {capacity}");
    let per = VALUES / producers;
    let salt = producers + CAPACITIES.iter().position(|&c| c == capacity).unwrap();
    let tracker = Tracker::new(per * producers);
    let (tx, rx) = channel::<Counted>(capacity);
    let start = Arc::new(Barrier::new(producers + consumers));
    let mut crew = Crew::new(what.clone());

    let producer_threads: Vec<_> = (0..producers)
        .map(|p| {
            let (tx, tracker, start) = (tx.clone(), Arc::clone(&tracker), Arc::clone(&start));
            let style = PRODUCE[(p + salt) % PRODUCE.len()];
            crew.spawn(format!("producer {p} {style:?}"), move || {
                start.wait();
                produce(&tx, &tracker, p * per..(p + 1) * per, style);
            })
        })
        .collect();
    drop(tx);
    let consumer_threads: Vec<_> = (0..consumers)
        .map(|c| {
            let (rx, start) = (rx.clone(), Arc::clone(&start));
            let style = CONSUME[(c + salt) % CONSUME.len()];
            crew.spawn(format!("consumer {c} {style:?}"), move || {
                start.wait();
                consume(rx, style, |_| {})
            })
        })
        .collect();
    drop(rx);

    crew.wait();
    producer_threads.into_iter().for_each(join);
    let received: Vec<Vec<usize>> = consumer_threads.into_iter().map(join).collect();
    check_delivery(&received, producers, per, &what);
    assert_eq!(tracker.created(), per * producers, "{what}");
    tracker.assert_each_dropped_once(&what);
}

macro_rules! matrix {
    ($($name:ident: $producers:literal x $consumers:literal, capacity $capacity:literal;)*) => {
        $(
            #[test]
            fn $name() {
                run_matrix($producers, $consumers, $capacity);
            }
        )*
    };
}

matrix! {
    stress_1x1_cap_0: 1 x 1, capacity 0;
    stress_1x1_cap_1: 1 x 1, capacity 1;
    stress_1x1_cap_2: 1 x 1, capacity 2;
    stress_1x1_cap_1024: 1 x 1, capacity 1024;
    stress_4x1_cap_0: 4 x 1, capacity 0;
    stress_4x1_cap_1: 4 x 1, capacity 1;
    stress_4x1_cap_2: 4 x 1, capacity 2;
    stress_4x1_cap_1024: 4 x 1, capacity 1024;
    stress_1x4_cap_0: 1 x 4, capacity 0;
    stress_1x4_cap_1: 1 x 4, capacity 1;
    stress_1x4_cap_2: 1 x 4, capacity 2;
    stress_1x4_cap_1024: 1 x 4, capacity 1024;
    stress_4x4_cap_0: 4 x 4, capacity 0;
    stress_4x4_cap_1: 4 x 4, capacity 1;
    stress_4x4_cap_2: 4 x 4, capacity 2;
    stress_4x4_cap_1024: 4 x 4, capacity 1024;
    stress_8x8_cap_0: 8 x 8, capacity 0;
    stress_8x8_cap_1: 8 x 8, capacity 1;
    stress_8x8_cap_2: 8 x 8, capacity 2;
    stress_8x8_cap_1024: 8 x 8, capacity 1024;
}

// ---------------------------------------------------------------------------------------
// Sending until the channel closes
// ---------------------------------------------------------------------------------------

/// What one producer of the shutdown tests did.
struct Outcome {
    producer: usize,
    /// The ids the channel accepted, in order: always `base .. base + accepted.len()`.
    accepted: Vec<usize>,
    /// The values handed back by failed sends (and one probe `try_send` after the
    /// failure), in order.
    returned: Vec<Counted>,
}

/// Sends ids `producer * STRIDE ..` with `style` until a send fails because the channel
/// closed (or `limit` values went through), checking that each failure hands back exactly
/// the values not sent, and that a `try_send` after the failure fails too.
fn send_until_closed(
    tx: &Sender<Counted>,
    tracker: &Arc<Tracker>,
    producer: usize,
    style: Produce,
    limit: usize,
) -> Outcome {
    assert!(limit < STRIDE);
    let base = producer * STRIDE;
    let mut accepted = Vec::new();
    let mut returned = Vec::new();
    let token = CancelToken::new(); // never fired
    match style {
        Produce::SendMany => {
            let mut next = base;
            for round in 0.. {
                if next == base + limit {
                    break;
                }
                let len = CHUNKS[round % CHUNKS.len()].min(base + limit - next);
                let chunk: Vec<Counted> = (next..next + len).map(|id| tracker.make(id)).collect();
                match tx.send_many(chunk) {
                    Ok(()) => accepted.extend(next..next + len),
                    Err(SendManyError(rest)) => {
                        let unsent = rest.len();
                        assert!(unsent >= 1 && unsent <= len, "{unsent} of {len} unsent");
                        let sent = len - unsent;
                        assert_eq!(
                            ids(&rest),
                            (next + sent..next + len).collect::<Vec<_>>(),
                            "send_many must hand back exactly the unsent suffix, in order"
                        );
                        accepted.extend(next..next + sent);
                        returned.extend(rest);
                        break;
                    }
                }
                next += len;
            }
        }
        Produce::SendIter => {
            match tx.send_iter((base..base + limit).map(|id| tracker.make(id))) {
                Ok(()) => accepted.extend(base..base + limit),
                Err(SendIterError { unsent, mut rest }) => {
                    let first = unsent
                        .first()
                        .expect("a failed send_iter has unsent values")
                        .id;
                    let last = unsent.last().unwrap().id;
                    assert_eq!(
                        ids(&unsent),
                        (first..=last).collect::<Vec<_>>(),
                        "send_iter's unsent values must be contiguous and in order"
                    );
                    accepted.extend(base..first);
                    returned.extend(unsent);
                    // The iterator was not advanced past the unsent values.
                    match rest.next() {
                        Some(v) => {
                            assert_eq!(v.id, last + 1, "send_iter skipped values");
                            returned.push(v);
                        }
                        None => assert_eq!(last + 1, base + limit),
                    }
                }
            }
        }
        _ => {
            for id in base..base + limit {
                let v = tracker.make(id);
                let back = match style {
                    Produce::Send => tx.send(v).err().map(|SendError(v)| v),
                    Produce::SendTimeout => match tx.send_timeout(v, HANG_LIMIT) {
                        Ok(()) => None,
                        Err(SendTimeoutError::Closed(v)) => Some(v),
                        Err(SendTimeoutError::Timeout(_)) => panic!("send_timeout: hang"),
                    },
                    Produce::SendCancellable => match tx.send_cancellable(v, &token) {
                        Ok(()) => None,
                        Err(SendCancelError::Closed(v)) => Some(v),
                        Err(SendCancelError::Cancelled(_)) => panic!("cancelled without cancel"),
                    },
                    Produce::TrySendThenSend => match tx.try_send(v) {
                        Ok(()) => None,
                        Err(TrySendError::Full(v)) => tx.send(v).err().map(|SendError(v)| v),
                        Err(TrySendError::Closed(v)) => Some(v),
                    },
                    Produce::SendMany | Produce::SendIter => unreachable!(),
                };
                match back {
                    None => accepted.push(id),
                    Some(v) => {
                        assert_eq!(v.id, id, "a failed send must hand back its own value");
                        returned.push(v);
                        break;
                    }
                }
            }
        }
    }
    if !returned.is_empty() {
        // Closed stays closed.
        assert!(tx.is_closed());
        let probe = base + STRIDE - 1;
        match tx.try_send(tracker.make(probe)) {
            Err(TrySendError::Closed(v)) => {
                assert_eq!(v.id, probe);
                returned.push(v);
            }
            other => panic!("try_send after close: {other:?}"),
        }
    }
    Outcome {
        producer,
        accepted,
        returned,
    }
}

/// Checks the shape of each outcome: accepted ids are a prefix of the producer's ids, and
/// the values handed back follow them. Returns all accepted ids, sorted.
fn check_outcomes(outcomes: &[Outcome], what: &str) -> Vec<usize> {
    let mut all = Vec::new();
    for o in outcomes {
        let base = o.producer * STRIDE;
        let n = o.accepted.len();
        assert_eq!(
            o.accepted,
            (base..base + n).collect::<Vec<_>>(),
            "{what}: producer {} accepted ids out of order",
            o.producer
        );
        if let Some(first) = o.returned.first() {
            assert_eq!(
                first.id,
                base + n,
                "{what}: producer {}: the first value handed back must follow the last \
                 value accepted",
                o.producer
            );
        }
        all.extend_from_slice(&o.accepted);
    }
    all.sort_unstable();
    all
}

fn sorted(mut ids: Vec<usize>) -> Vec<usize> {
    ids.sort_unstable();
    ids
}

/// Checks that, at one consumer, the values of each producer arrived in increasing order.
fn check_fifo(got: &[usize], what: &str) {
    let mut last = std::collections::HashMap::new();
    for &id in got {
        if let Some(prev) = last.insert(id / STRIDE, id) {
            assert!(prev < id, "{what}: {id} received after {prev}: FIFO broken");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Senders blocked on a full channel while it shuts down
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum SendShutdown {
    /// A `Sender` calls `close`.
    CloseFromSender,
    /// A `Receiver` calls `close`; it then drains the channel.
    CloseFromReceiver,
    /// Both receivers are dropped; the values left in the channel are dropped with it.
    DropReceivers,
}

/// Six producers (one per send API) keep sending into a channel that the test thread only
/// drains a little, so they end up blocked in their sends; then the channel shuts down.
/// Every producer must get its value back; the values accepted must be exactly the values
/// received plus those left in the channel.
fn blocked_senders(capacity: usize, shutdown: SendShutdown) {
    let what = format!("blocked senders, capacity {capacity}, {shutdown:?}");
    let producers = PRODUCE.len();
    let tracker = Tracker::new(producers * STRIDE);
    let (tx, rx) = channel::<Counted>(capacity);
    let mut receivers = Some((rx.clone(), rx));
    let start = Arc::new(Barrier::new(producers + 1));
    let mut crew = Crew::new(what.clone());
    let threads: Vec<_> = PRODUCE
        .iter()
        .enumerate()
        .map(|(p, &style)| {
            let (tx, tracker, start) = (tx.clone(), Arc::clone(&tracker), Arc::clone(&start));
            crew.spawn(format!("producer {p} {style:?}"), move || {
                start.wait();
                send_until_closed(&tx, &tracker, p, style, STRIDE - 1)
            })
        })
        .collect();
    start.wait();

    // Take a few values so the producers are surely running, then let them fill the
    // buffer again: they end up blocked in (or on their way into) their sends.
    let mut received = Vec::new();
    {
        let (rx, _) = receivers.as_ref().unwrap();
        for _ in 0..2 * producers {
            let v = rx.recv_timeout(HANG_LIMIT).expect("producers are running");
            received.push(v.id);
        }
        spin_until(|| rx.is_full());
    }
    match shutdown {
        SendShutdown::CloseFromSender => {
            assert!(tx.close(), "{what}: first close");
            assert!(!tx.close(), "{what}: second close");
        }
        SendShutdown::CloseFromReceiver => {
            let (rx, _) = receivers.as_ref().unwrap();
            assert!(rx.close(), "{what}: first close");
            assert!(!rx.close(), "{what}: second close");
        }
        SendShutdown::DropReceivers => drop(receivers.take()),
    }

    crew.wait();
    let outcomes: Vec<Outcome> = threads.into_iter().map(join).collect();
    let accepted = check_outcomes(&outcomes, &what);
    for o in &outcomes {
        assert!(
            o.accepted.len() < STRIDE - 1 && !o.returned.is_empty(),
            "{what}: producer {} was never refused",
            o.producer
        );
    }
    assert!(tx.is_closed());

    match receivers.take() {
        Some((rx, rx2)) => {
            // Everything accepted is still delivered, then the channel reports closed.
            while let Ok(v) = rx.recv() {
                received.push(v.id);
            }
            assert!(matches!(rx2.try_recv(), Err(TryRecvError::Closed)));
            check_fifo(&received, &what);
            assert_eq!(sorted(received), accepted, "{what}: accepted != received");
            assert_eq!(tx.len(), 0);
        }
        None => {
            // No receiver is left: what was accepted and not received was dropped with
            // the last receiver (the drop count at the end shows each value went once).
            let received = sorted(received);
            assert!(
                received.iter().all(|id| accepted.binary_search(id).is_ok()),
                "{what}: received a value that no send accepted"
            );
            assert_eq!(tx.len(), 0, "{what}: values left queued with no receiver");
        }
    }
    let returned: usize = outcomes.iter().map(|o| o.returned.len()).sum();
    assert_eq!(
        tracker.created(),
        accepted.len() + returned,
        "{what}: every value created was either accepted or handed back"
    );
    drop(outcomes);
    drop(tx);
    tracker.assert_each_dropped_once(&what);
}

#[test]
fn blocked_senders_get_values_back_when_a_sender_closes() {
    for capacity in CAPACITIES {
        blocked_senders(capacity, SendShutdown::CloseFromSender);
    }
}

#[test]
fn blocked_senders_get_values_back_when_a_receiver_closes() {
    for capacity in CAPACITIES {
        blocked_senders(capacity, SendShutdown::CloseFromReceiver);
    }
}

#[test]
fn blocked_senders_get_values_back_when_all_receivers_drop() {
    for capacity in CAPACITIES {
        blocked_senders(capacity, SendShutdown::DropReceivers);
    }
}

// ---------------------------------------------------------------------------------------
// Receivers blocked on an empty channel while it shuts down
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RecvShutdown {
    CloseFromSender,
    CloseFromReceiver,
    DropSenders,
}

/// Six consumers (one per receive API) wait on a channel; the test thread feeds them a few
/// values, waits until they got them (so they are back in, or on their way into, a blocking
/// receive), queues a few more and shuts the channel down. Every consumer must end, and
/// every value must be received exactly once.
fn blocked_receivers(capacity: usize, shutdown: RecvShutdown) {
    let what = format!("blocked receivers, capacity {capacity}, {shutdown:?}");
    let consumers = CONSUME.len();
    let first = 2 * consumers;
    let total = first + capacity.min(16);
    let tracker = Tracker::new(total + 1);
    let (tx, rx) = channel::<Counted>(capacity);
    let mut senders = Some((tx.clone(), tx));
    let start = Arc::new(Barrier::new(consumers + 1));
    let (ack_tx, ack_rx) = mpsc::channel::<usize>();
    let mut crew = Crew::new(what.clone());
    let threads: Vec<_> = CONSUME
        .iter()
        .enumerate()
        .map(|(c, &style)| {
            let (rx, start, ack) = (rx.clone(), Arc::clone(&start), ack_tx.clone());
            crew.spawn(format!("consumer {c} {style:?}"), move || {
                start.wait();
                consume(rx, style, |id| ack.send(id).unwrap())
            })
        })
        .collect();
    drop(ack_tx);
    start.wait();

    {
        let (tx, _) = senders.as_ref().unwrap();
        for id in 0..first {
            tx.send_timeout(tracker.make(id), HANG_LIMIT)
                .expect("consumers are running");
        }
        for _ in 0..first {
            ack_rx
                .recv_timeout(HANG_LIMIT)
                .expect("consumers got the values");
        }
        // The consumers are now blocked (or about to block) on an empty channel. Queue a
        // few more values (with room for them: this never blocks) for them to drain.
        for id in first..total {
            tx.send_timeout(tracker.make(id), HANG_LIMIT)
                .expect("there is room");
        }
    }
    match shutdown {
        RecvShutdown::CloseFromSender => {
            assert!(senders.as_ref().unwrap().0.close(), "{what}: first close");
        }
        RecvShutdown::CloseFromReceiver => assert!(rx.close(), "{what}: first close"),
        RecvShutdown::DropSenders => drop(senders.take()),
    }

    crew.wait();
    let received: Vec<Vec<usize>> = threads.into_iter().map(join).collect();
    check_delivery(&received, 1, total, &what);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Closed)));
    if let Some((tx, _)) = &senders {
        // Sends fail on the closed channel and hand the value back.
        match tx.try_send(tracker.make(total)) {
            Err(TrySendError::Closed(v)) => assert_eq!(v.id, total),
            other => panic!("{what}: try_send after close: {other:?}"),
        }
    }
    drop((rx, senders));
    assert_eq!(
        tracker.created(),
        total + usize::from(shutdown != RecvShutdown::DropSenders)
    );
    tracker.assert_each_dropped_once(&what);
}

#[test]
fn blocked_receivers_drain_then_fail_when_a_sender_closes() {
    for capacity in CAPACITIES {
        blocked_receivers(capacity, RecvShutdown::CloseFromSender);
    }
}

#[test]
fn blocked_receivers_drain_then_fail_when_a_receiver_closes() {
    for capacity in CAPACITIES {
        blocked_receivers(capacity, RecvShutdown::CloseFromReceiver);
    }
}

#[test]
fn blocked_receivers_drain_then_fail_when_all_senders_drop() {
    for capacity in CAPACITIES {
        blocked_receivers(capacity, RecvShutdown::DropSenders);
    }
}

// ---------------------------------------------------------------------------------------
// A full buffer closed from the sending side
// ---------------------------------------------------------------------------------------

/// A full buffer is closed by a sender (or by dropping every sender); four consumers
/// started afterwards still receive every queued value exactly once, in order, and then
/// see the channel closed.
fn drain_after_sender_side_close(capacity: usize, by_drop: bool) {
    let what = format!("drain after close, capacity {capacity}, by drop: {by_drop}");
    let tracker = Tracker::new(capacity + 1);
    let (tx, rx) = channel::<Counted>(capacity);
    let tx2 = tx.clone();
    tx.send_many((0..capacity).map(|id| tracker.make(id)).collect())
        .expect("there is room for a full buffer");
    assert!(rx.is_full() && tx.is_full(), "{what}");
    assert_eq!(rx.len(), capacity, "{what}");

    let senders = if by_drop {
        drop((tx, tx2));
        None
    } else {
        assert!(tx2.close(), "{what}");
        match tx.try_send(tracker.make(capacity)) {
            Err(TrySendError::Closed(v)) => assert_eq!(v.id, capacity, "{what}"),
            other => panic!("{what}: try_send after close: {other:?}"),
        }
        Some((tx, tx2))
    };
    assert!(rx.is_closed(), "{what}");
    assert_eq!(
        rx.len(),
        capacity,
        "{what}: closing must not discard queued values"
    );
    assert_eq!(tracker.live(), capacity as isize, "{what}");

    let mut crew = Crew::new(what.clone());
    let threads: Vec<_> = [
        Consume::Recv,
        Consume::RecvMany,
        Consume::IntoIter,
        Consume::TryThenBlock,
    ]
    .into_iter()
    .map(|style| {
        let rx = rx.clone();
        crew.spawn(format!("consumer {style:?}"), move || {
            consume(rx, style, |_| {})
        })
    })
    .collect();
    crew.wait();
    let received: Vec<Vec<usize>> = threads.into_iter().map(join).collect();
    check_delivery(&received, 1, capacity, &what);
    assert!(rx.is_empty(), "{what}");
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Closed)), "{what}");
    drop((rx, senders));
    tracker.assert_each_dropped_once(&what);
}

#[test]
fn full_buffer_closed_by_a_sender_is_drained() {
    for capacity in [1, 2, 3, 1024] {
        drain_after_sender_side_close(capacity, false);
    }
}

#[test]
fn full_buffer_closed_by_dropping_every_sender_is_drained() {
    for capacity in [1, 2, 3, 1024] {
        drain_after_sender_side_close(capacity, true);
    }
}

// ---------------------------------------------------------------------------------------
// Dropping handles with values inside
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum DropOrder {
    SendersFirst,
    ReceiversFirst,
    Interleaved,
}

/// Fills the ring, takes `taken` values out and refills it (so the queued values wrap
/// around the end of the ring), then drops all handles in `order`: the values still queued
/// are dropped exactly once, when the last handle goes, and not before.
fn drop_with_full_buffer(capacity: usize, taken: usize, order: DropOrder) {
    let what = format!("drop full, capacity {capacity}, {taken} taken, {order:?}");
    let tracker = Tracker::new(capacity + taken + 1);
    let (tx, rx) = channel::<Counted>(capacity);
    let (tx2, rx2) = (tx.clone(), rx.clone());
    for id in 0..capacity {
        assert!(
            tx.try_send(tracker.make(id)).is_ok(),
            "{what}: room for {id}"
        );
    }
    match tx2.try_send(tracker.make(capacity + taken)) {
        Err(TrySendError::Full(v)) => assert_eq!(v.id, capacity + taken, "{what}"),
        other => panic!("{what}: try_send on a full channel: {other:?}"),
    }
    for expected in 0..taken {
        match rx2.try_recv() {
            Ok(v) => assert_eq!(v.id, expected, "{what}: FIFO"),
            Err(err) => panic!("{what}: try_recv on a full channel: {err:?}"),
        }
    }
    for id in capacity..capacity + taken {
        assert!(
            tx2.try_send(tracker.make(id)).is_ok(),
            "{what}: room for {id}"
        );
    }
    assert!(rx.is_full(), "{what}");
    assert_eq!(
        tracker.live(),
        capacity as isize,
        "{what}: only queued values live"
    );

    let handles: Vec<Box<dyn FnOnce()>> = match order {
        DropOrder::SendersFirst => vec![
            Box::new(move || drop(tx)),
            Box::new(move || drop(tx2)),
            Box::new(move || drop(rx)),
            Box::new(move || drop(rx2)),
        ],
        DropOrder::ReceiversFirst => vec![
            Box::new(move || drop(rx2)),
            Box::new(move || drop(rx)),
            Box::new(move || drop(tx)),
            Box::new(move || drop(tx2)),
        ],
        DropOrder::Interleaved => vec![
            Box::new(move || drop(rx)),
            Box::new(move || drop(tx)),
            Box::new(move || drop(rx2)),
            Box::new(move || drop(tx2)),
        ],
    };
    // Which handle is the last receiver: the queued values go with it, not before.
    let last_receiver = match order {
        DropOrder::SendersFirst => 3,
        DropOrder::ReceiversFirst => 1,
        DropOrder::Interleaved => 2,
    };
    for (i, drop_handle) in handles.into_iter().enumerate() {
        drop_handle();
        let expected = if i < last_receiver {
            capacity as isize
        } else {
            0
        };
        assert_eq!(
            tracker.live(),
            expected,
            "{what}: queued values must be dropped with the last receiver, and only then"
        );
    }
    assert_eq!(tracker.created(), capacity + taken + 1, "{what}");
    tracker.assert_each_dropped_once(&what);
}

#[test]
fn dropping_handles_with_a_full_buffer_drops_each_value_once() {
    for capacity in [1, 2, 3, 7, 1024] {
        for taken in [0, 1, capacity / 2, capacity - 1, capacity] {
            for order in [
                DropOrder::SendersFirst,
                DropOrder::ReceiversFirst,
                DropOrder::Interleaved,
            ] {
                drop_with_full_buffer(capacity, taken, order);
            }
        }
    }
}

/// Four producers keep sending while four consumers each take a fixed number of values and
/// then drop their receiver. Once the last receiver is gone every producer is refused, and
/// each value accepted is either received or still queued, until the last sender goes.
fn consumers_quit_mid_stream(capacity: usize) {
    let what = format!("consumers quit, capacity {capacity}");
    let quota = VALUES / 16;
    let producers = 4;
    let tracker = Tracker::new(producers * STRIDE);
    let (tx, rx) = channel::<Counted>(capacity);
    let start = Arc::new(Barrier::new(2 * producers));
    let mut crew = Crew::new(what.clone());
    let producer_threads: Vec<_> = (0..producers)
        .map(|p| {
            let (tx, tracker, start) = (tx.clone(), Arc::clone(&tracker), Arc::clone(&start));
            let style = [
                Produce::Send,
                Produce::SendMany,
                Produce::SendIter,
                Produce::TrySendThenSend,
            ][p];
            crew.spawn(format!("producer {p} {style:?}"), move || {
                start.wait();
                send_until_closed(&tx, &tracker, p, style, STRIDE - 1)
            })
        })
        .collect();
    let consumer_threads: Vec<_> = (0..4)
        .map(|c| {
            let (rx, start) = (rx.clone(), Arc::clone(&start));
            crew.spawn(format!("consumer {c}"), move || {
                start.wait();
                let mut got = Vec::with_capacity(quota);
                let mut buf = Vec::new();
                while got.len() < quota {
                    if (c + got.len()) % 2 == 0 {
                        got.push(rx.recv().expect("senders are alive").id);
                    } else {
                        let max = (quota - got.len()).min(MAXES[c]);
                        let n = rx.recv_many(&mut buf, max).expect("senders are alive");
                        assert!((1..=max).contains(&n));
                        got.extend(buf.drain(..).map(|v| v.id));
                    }
                }
                got // `rx` is dropped here, with the channel still running
            })
        })
        .collect();
    drop(rx);

    crew.wait();
    let outcomes: Vec<Outcome> = producer_threads.into_iter().map(join).collect();
    let received: Vec<Vec<usize>> = consumer_threads.into_iter().map(join).collect();
    let accepted = check_outcomes(&outcomes, &what);
    for o in &outcomes {
        assert!(
            !o.returned.is_empty(),
            "{what}: producer {} never refused",
            o.producer
        );
    }
    for got in &received {
        assert_eq!(got.len(), quota, "{what}");
        check_fifo(got, &what);
    }
    let received = sorted(received.concat());
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "{what}: a value was received twice"
    );
    assert!(
        received.iter().all(|id| accepted.binary_search(id).is_ok()),
        "{what}: received a value that no send accepted"
    );
    assert!(tx.is_closed(), "{what}");
    assert_eq!(tx.receiver_count(), 0, "{what}");
    assert_eq!(
        tx.len(),
        0,
        "{what}: values accepted and not received are dropped with the last receiver"
    );
    let returned: usize = outcomes.iter().map(|o| o.returned.len()).sum();
    assert_eq!(tracker.created(), accepted.len() + returned, "{what}");
    drop((outcomes, tx));
    tracker.assert_each_dropped_once(&what);
}

#[test]
fn consumers_dropping_their_receivers_mid_stream_strand_no_value() {
    for capacity in CAPACITIES {
        consumers_quit_mid_stream(capacity);
    }
}

// ---------------------------------------------------------------------------------------
// Closing while everything runs
// ---------------------------------------------------------------------------------------

/// Six producers (one per send API) and three consumers run at full speed; the test thread
/// closes the channel part-way, from a sender or a receiver, and then receives too. The
/// consumers drain what is queued, so the values received must be exactly the values
/// whose sends succeeded, and every other value must have come back in an error.
fn close_mid_stream(capacity: usize, from_receiver: bool) {
    let what = format!("close mid-stream, capacity {capacity}, from receiver: {from_receiver}");
    let producers = PRODUCE.len();
    let tracker = Tracker::new(producers * STRIDE);
    let (tx, rx) = channel::<Counted>(capacity);
    let start = Arc::new(Barrier::new(producers + 4));
    let mut crew = Crew::new(what.clone());
    let producer_threads: Vec<_> = PRODUCE
        .iter()
        .enumerate()
        .map(|(p, &style)| {
            let (tx, tracker, start) = (tx.clone(), Arc::clone(&tracker), Arc::clone(&start));
            crew.spawn(format!("producer {p} {style:?}"), move || {
                start.wait();
                send_until_closed(&tx, &tracker, p, style, STRIDE - 1)
            })
        })
        .collect();
    // The consumers signal once they have received `threshold` values between them.
    let threshold = VALUES / 4;
    let counter = Arc::new(AtomicUsize::new(0));
    let (progress_tx, progress_rx) = mpsc::channel::<()>();
    let consumer_threads: Vec<_> = [Consume::RecvMany, Consume::Iter, Consume::TryThenBlock]
        .into_iter()
        .enumerate()
        .map(|(c, style)| {
            let (rx, start) = (rx.clone(), Arc::clone(&start));
            let (counter, progress) = (Arc::clone(&counter), progress_tx.clone());
            crew.spawn(format!("consumer {c} {style:?}"), move || {
                start.wait();
                consume(rx, style, |_| {
                    if counter.fetch_add(1, SeqCst) + 1 == threshold {
                        let _ = progress.send(());
                    }
                })
            })
        })
        .collect();
    drop(progress_tx);
    start.wait();

    // Close part-way (the test thread holds a sender, so only `close` ends the stream),
    // then help drain.
    progress_rx
        .recv_timeout(HANG_LIMIT)
        .expect("consumers are receiving");
    let first_close = if from_receiver {
        rx.close()
    } else {
        tx.close()
    };
    assert!(first_close, "{what}");
    let mut mine = Vec::new();
    while let Ok(v) = rx.recv() {
        mine.push(v.id);
    }

    crew.wait();
    let outcomes: Vec<Outcome> = producer_threads.into_iter().map(join).collect();
    let mut received: Vec<Vec<usize>> = consumer_threads.into_iter().map(join).collect();
    received.push(mine);
    for got in &received {
        check_fifo(got, &what);
    }
    let accepted = check_outcomes(&outcomes, &what);
    assert_eq!(
        sorted(received.concat()),
        accepted,
        "{what}: the values received must be exactly the values accepted"
    );
    assert!(rx.is_empty() && tx.is_empty(), "{what}");
    let returned: usize = outcomes.iter().map(|o| o.returned.len()).sum();
    assert_eq!(tracker.created(), accepted.len() + returned, "{what}");
    drop(outcomes);
    tracker.assert_each_dropped_once(&what);
    drop((tx, rx));
}

#[test]
fn close_by_a_sender_mid_stream_accounts_for_every_value() {
    for capacity in CAPACITIES {
        close_mid_stream(capacity, false);
    }
}

#[test]
fn close_by_a_receiver_mid_stream_accounts_for_every_value() {
    for capacity in CAPACITIES {
        close_mid_stream(capacity, true);
    }
}

// ---------------------------------------------------------------------------------------
// Rendezvous
// ---------------------------------------------------------------------------------------

/// Capacity 0 with 8 senders and 8 receivers: a send completes only once a receive that
/// takes the value has started. Receivers count the values they may take before they
/// start a receive (`started`), senders count completed sends (`completed`); a completed
/// send was taken by a receive counted before it, so `completed <= started` whenever a
/// sender looks, and in the end every completed send was received.
#[test]
fn rendezvous_8x8_every_send_completes_only_when_received() {
    let (senders, receivers) = (8, 8);
    let per = VALUES / 2 / senders;
    let total = senders * per;
    let what = "rendezvous 8x8";
    let (tx, rx) = channel::<usize>(0);
    let started = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(senders + receivers));
    let mut crew = Crew::new(what);
    let sender_threads: Vec<_> = (0..senders)
        .map(|s| {
            let (tx, start) = (tx.clone(), Arc::clone(&start));
            let (started, completed) = (Arc::clone(&started), Arc::clone(&completed));
            crew.spawn(format!("sender {s}"), move || {
                let token = CancelToken::new(); // never fired
                start.wait();
                for id in s * per..(s + 1) * per {
                    let sent = match s % 4 {
                        0 => tx.send(id).is_ok(),
                        1 => tx.send_timeout(id, HANG_LIMIT).is_ok(),
                        2 => tx.send_cancellable(id, &token).is_ok(),
                        _ => match tx.try_send(id) {
                            Ok(()) => true, // a receiver was waiting
                            Err(TrySendError::Full(id)) => tx.send(id).is_ok(),
                            Err(TrySendError::Closed(_)) => false,
                        },
                    };
                    assert!(sent, "{what}: send of {id} failed on an open channel");
                    let done = completed.fetch_add(1, SeqCst) + 1;
                    let taking = started.load(SeqCst);
                    assert!(
                        done <= taking,
                        "{what}: {done} sends completed but only {taking} receives started"
                    );
                    assert!(tx.is_empty() && tx.is_full());
                    assert_eq!(tx.len(), 0);
                }
            })
        })
        .collect();
    drop(tx);
    let receiver_threads: Vec<_> = (0..receivers)
        .map(|r| {
            let (rx, start, started) = (rx.clone(), Arc::clone(&start), Arc::clone(&started));
            crew.spawn(format!("receiver {r}"), move || {
                start.wait();
                let mut got = Vec::new();
                let mut buf = Vec::new();
                loop {
                    let result = match r % 4 {
                        0 => {
                            started.fetch_add(1, SeqCst);
                            rx.recv().map(|id| got.push(id))
                        }
                        1 => {
                            started.fetch_add(1, SeqCst);
                            rx.recv_timeout(HANG_LIMIT)
                                .map(|id| got.push(id))
                                .map_err(|err| match err {
                                    RecvTimeoutError::Closed => RecvError,
                                    RecvTimeoutError::Timeout => panic!("{what}: hang"),
                                })
                        }
                        2 => {
                            // Takes up to 4 values: counts all 4 up front.
                            started.fetch_add(4, SeqCst);
                            rx.recv_many(&mut buf, 4).map(|n| {
                                assert!((1..=4).contains(&n));
                                got.append(&mut buf);
                            })
                        }
                        _ => {
                            started.fetch_add(1, SeqCst);
                            rx.iter().next().map(|id| got.push(id)).ok_or(RecvError)
                        }
                    };
                    if result.is_err() {
                        break got;
                    }
                }
            })
        })
        .collect();
    drop(rx);

    crew.wait();
    sender_threads.into_iter().for_each(join);
    let received: Vec<Vec<usize>> = receiver_threads.into_iter().map(join).collect();
    assert_eq!(completed.load(SeqCst), total, "{what}");
    assert_eq!(
        received.iter().map(Vec::len).sum::<usize>(),
        total,
        "{what}"
    );
    check_delivery(&received, senders, per, what);
}

// ---------------------------------------------------------------------------------------
// Batches wake as many waiters as they make progress for
// ---------------------------------------------------------------------------------------

/// Threads blocked on the ring per round in the batch wake-up tests.
const WAITERS: usize = 4;

/// Runs `rounds` rounds in which `WAITERS` threads each do `one_op` once (most of them
/// park, on an empty or a full ring) and the test thread then does one batch operation
/// (`batch`) that lets all of them proceed. The batch must wake enough of them: a waiter
/// left parked is a lost wake-up, reported after `HANG_LIMIT`.
fn batch_wakes_every_waiter<W, B>(what: &str, rounds: usize, one_op: W, mut batch: B)
where
    W: Fn(usize, usize) + Send + Sync + 'static,
    B: FnMut(usize),
{
    let go = Arc::new(Barrier::new(WAITERS + 1));
    let one_op = Arc::new(one_op);
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let mut crew = Crew::new(what);
    let threads: Vec<_> = (0..WAITERS)
        .map(|w| {
            let (go, one_op, ack) = (Arc::clone(&go), Arc::clone(&one_op), ack_tx.clone());
            crew.spawn(format!("waiter {w}"), move || {
                for round in 0..rounds {
                    go.wait();
                    one_op(w, round);
                    ack.send(()).unwrap();
                }
            })
        })
        .collect();
    for round in 0..rounds {
        go.wait();
        // Let the waiters get parked. Only a heuristic that makes the race likely: the
        // assertions hold however the threads interleave.
        for _ in 0..4 * WAITERS {
            thread::yield_now();
        }
        batch(round);
        for done in 0..WAITERS {
            if ack_rx.recv_timeout(HANG_LIMIT).is_err() {
                panic!(
                    "{what}: round {round}: only {done} of {WAITERS} waiters proceeded after \
                     the batch (lost wake-up)"
                );
            }
        }
    }
    crew.wait();
    threads.into_iter().for_each(join);
}

/// A `send_many` of `WAITERS` values onto an empty ring, with `WAITERS` receivers parked,
/// must wake one receiver per value queued, not just one.
#[test]
fn send_many_wakes_a_parked_receiver_per_value() {
    let rounds = VALUES / 20;
    let what = "send_many wake-ups";
    let (tx, rx) = channel::<usize>(WAITERS);
    let (got_tx, got_rx) = mpsc::channel::<usize>();
    batch_wakes_every_waiter(
        what,
        rounds,
        move |_, _| {
            let v = rx.recv().expect("the channel stays open");
            got_tx.send(v).unwrap();
        },
        |round| {
            tx.send_many((round * WAITERS..(round + 1) * WAITERS).collect())
                .expect("there is room for the batch");
        },
    );
    let mut got: Vec<usize> = got_rx.try_iter().collect();
    got.sort_unstable();
    assert_eq!(got, (0..rounds * WAITERS).collect::<Vec<_>>(), "{what}");
}

/// A `recv_many` that empties a full ring, with `WAITERS` senders parked on it, must wake
/// one sender per slot freed, not just one.
#[test]
fn recv_many_wakes_a_parked_sender_per_slot() {
    let rounds = VALUES / 20;
    let what = "recv_many wake-ups";
    let (tx, rx) = channel::<usize>(WAITERS);
    // Full before the first round, and again after every round.
    tx.send_many((0..WAITERS).map(|i| usize::MAX - i).collect())
        .unwrap();
    let mut got = Vec::new();
    let mut buf = Vec::new();
    batch_wakes_every_waiter(
        what,
        rounds,
        move |w, round| {
            tx.send(round * WAITERS + w)
                .expect("the channel stays open")
        },
        |_| {
            let n = rx
                .recv_many(&mut buf, WAITERS)
                .expect("the channel is full");
            assert_eq!(n, WAITERS, "{what}: recv_many on a full ring takes `max`");
            got.append(&mut buf);
        },
    );
    let got = sorted(got);
    let mut expected: Vec<usize> = (0..(rounds - 1) * WAITERS).collect();
    expected.extend((0..WAITERS).map(|i| usize::MAX - i));
    expected.sort_unstable();
    assert_eq!(got, expected, "{what}");
}
