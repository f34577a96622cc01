//! Model-based tests of the channel, single-threaded.
//!
//! A property test (proptest) runs random sequences of non-blocking (or provably
//! non-blocking) operations on channels of capacity 0, 1, 2, 3 and 8 and on an unbounded
//! channel (whose model has capacity `usize::MAX`) — `try_send`, `send`,
//! `send_timeout`/`send_deadline` with a passed limit, `send_cancellable` with a fired
//! token, `send_many`, `send_iter`, `try_recv`, `recv`, `recv_timeout`/`recv_deadline`,
//! `recv_cancellable`, `try_recv_many`, `recv_many`, `try_iter`, `iter`, `close` from either
//! end, cloning and dropping handles, including the last sender and the last receiver —
//! against a `VecDeque` model, and after every operation compares the channel's whole
//! observable state (`len`, `is_empty`, `is_full`, `capacity`, `is_closed`, the handle
//! counts) with the model. Failed sends must hand back the very value they were given; a
//! drop-counting payload checks that exactly the values the model holds are alive, and that
//! every value is dropped exactly once.
//!
//! Plain tests pin the exact `Display` (and `Debug`) text of every error type, the
//! `into_inner` accessors and the `From` conversions.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::error::Error;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bounded_buffer::{
    channel, try_channel, unbounded, CapacityError, Receiver, RecvCancelError, RecvError,
    RecvTimeoutError, SendCancelError, SendError, SendIterError, SendManyError, SendTimeoutError,
    Sender, TryRecvError, TrySendError, MAX_CAPACITY,
};
use patterns_core::CancelToken;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Drop counting
// ---------------------------------------------------------------------------------------

/// How many times each value (by id) has been dropped; ids are handed out in order.
#[derive(Default)]
struct Ledger {
    drops: RefCell<Vec<u8>>,
}

impl Ledger {
    fn make(self: &Rc<Self>) -> Tok {
        let mut drops = self.drops.borrow_mut();
        drops.push(0);
        Tok {
            id: drops.len() - 1,
            ledger: Rc::clone(self),
        }
    }

    /// Values created and not dropped yet.
    fn live(&self) -> usize {
        self.drops.borrow().iter().filter(|&&d| d == 0).count()
    }

    fn assert_each_dropped_once(&self) {
        for (id, &d) in self.drops.borrow().iter().enumerate() {
            assert_eq!(d, 1, "value {id} dropped {d} times");
        }
    }
}

/// A payload that records its drop in its [`Ledger`].
struct Tok {
    id: usize,
    ledger: Rc<Ledger>,
}

impl Drop for Tok {
    fn drop(&mut self) {
        self.ledger.drops.borrow_mut()[self.id] += 1;
    }
}

fn ids(values: &[Tok]) -> Vec<usize> {
    values.iter().map(|v| v.id).collect()
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    TrySend(usize),
    /// Blocking `send`, only when it cannot block: closed, or room.
    Send(usize),
    /// `send_timeout(ZERO)` or `send_deadline(now)`.
    SendExpired(usize, bool),
    /// `send_cancellable` with a token already fired.
    SendCancelled(usize),
    /// Only when it cannot block: empty, closed, or room for all.
    SendMany(usize, usize),
    /// Only when it cannot block: empty, closed, or room for all.
    SendIter(usize, usize),
    TryRecv(usize),
    /// Blocking `recv`, only when it cannot block: something queued, or closed.
    Recv(usize),
    /// `recv_timeout(ZERO)` or `recv_deadline(now)`.
    RecvExpired(usize, bool),
    /// `recv_cancellable` with a token already fired.
    RecvCancelled(usize),
    TryRecvMany(usize, usize),
    /// Only when it cannot block: `max == 0`, something queued, or closed.
    RecvMany(usize, usize),
    TryIter(usize),
    /// Blocking `iter`, only when it cannot block: closed.
    IterClosed(usize),
    CloseFromSender(usize),
    CloseFromReceiver(usize),
    CloneSender(usize),
    CloneReceiver(usize),
    /// Drops a sender, unless it is the last one.
    DropSender(usize),
    /// Drops a receiver, unless it is the last one.
    DropReceiver(usize),
    /// Drops every sender, the last one included: closes the channel.
    DropAllSenders,
    /// Drops every receiver, the last one included: closes the channel.
    DropAllReceivers,
}

fn op() -> impl Strategy<Value = Op> {
    let h = 0..4usize;
    // Sends outweigh receives so that the larger rings fill up, and the operations that
    // close the channel are rare so that most of a sequence runs on an open channel.
    prop_oneof![
        24 => h.clone().prop_map(Op::TrySend),
        10 => h.clone().prop_map(Op::Send),
        5 => (h.clone(), any::<bool>()).prop_map(|(i, d)| Op::SendExpired(i, d)),
        4 => h.clone().prop_map(Op::SendCancelled),
        10 => (h.clone(), 0..6usize).prop_map(|(i, n)| Op::SendMany(i, n)),
        6 => (h.clone(), 0..6usize).prop_map(|(i, n)| Op::SendIter(i, n)),
        12 => h.clone().prop_map(Op::TryRecv),
        4 => h.clone().prop_map(Op::Recv),
        4 => (h.clone(), any::<bool>()).prop_map(|(i, d)| Op::RecvExpired(i, d)),
        4 => h.clone().prop_map(Op::RecvCancelled),
        6 => (h.clone(), 0..6usize).prop_map(|(i, n)| Op::TryRecvMany(i, n)),
        4 => (h.clone(), 0..6usize).prop_map(|(i, n)| Op::RecvMany(i, n)),
        2 => h.clone().prop_map(Op::TryIter),
        2 => h.clone().prop_map(Op::IterClosed),
        1 => h.clone().prop_map(Op::CloseFromSender),
        1 => h.clone().prop_map(Op::CloseFromReceiver),
        3 => h.clone().prop_map(Op::CloneSender),
        3 => h.clone().prop_map(Op::CloneReceiver),
        3 => h.clone().prop_map(Op::DropSender),
        3 => h.prop_map(Op::DropReceiver),
        1 => Just(Op::DropAllSenders),
        1 => Just(Op::DropAllReceivers),
    ]
}

/// What the channel should hold.
#[derive(Debug)]
struct Model {
    capacity: usize,
    queue: VecDeque<usize>,
    closed: bool,
    senders: usize,
    receivers: usize,
}

impl Model {
    fn room(&self) -> usize {
        self.capacity - self.queue.len()
    }

    fn pop(&mut self, max: usize) -> Vec<usize> {
        let n = max.min(self.queue.len());
        self.queue.drain(..n).collect()
    }
}

/// A channel under test, its handles, and its model.
struct Harness {
    model: Model,
    senders: Vec<Sender<Tok>>,
    receivers: Vec<Receiver<Tok>>,
    ledger: Rc<Ledger>,
    fired: CancelToken,
}

fn try_send_ids(result: Result<(), TrySendError<Tok>>) -> Result<(), TrySendError<usize>> {
    result.map_err(|err| match err {
        TrySendError::Full(v) => TrySendError::Full(v.id),
        TrySendError::Closed(v) => TrySendError::Closed(v.id),
    })
}

/// The model's capacity for an `unbounded()` channel: what its `capacity()` reports.
const UNBOUNDED: usize = usize::MAX;

impl Harness {
    fn new(capacity: usize) -> Harness {
        let (tx, rx) = if capacity == UNBOUNDED {
            unbounded()
        } else {
            channel(capacity)
        };
        let fired = CancelToken::new();
        fired.cancel();
        Harness {
            model: Model {
                capacity,
                queue: VecDeque::new(),
                closed: false,
                senders: 1,
                receivers: 1,
            },
            senders: vec![tx],
            receivers: vec![rx],
            ledger: Rc::default(),
            fired,
        }
    }

    fn sender(&self, i: usize) -> Option<&Sender<Tok>> {
        (!self.senders.is_empty()).then(|| &self.senders[i % self.senders.len()])
    }

    fn receiver(&self, i: usize) -> Option<&Receiver<Tok>> {
        (!self.receivers.is_empty()).then(|| &self.receivers[i % self.receivers.len()])
    }

    /// What a send of one value should do: `Ok(true)` sent, `Ok(false)` would block,
    /// `Err(())` closed. Pushes `id` if sent.
    fn model_send(&mut self, id: usize) -> Result<bool, ()> {
        if self.model.closed {
            Err(())
        } else if self.model.room() == 0 {
            Ok(false)
        } else {
            self.model.queue.push_back(id);
            Ok(true)
        }
    }

    /// Runs `op` on the channel and the model and compares the results.
    fn apply(&mut self, op: &Op) {
        let m = &mut self.model;
        match *op {
            Op::TrySend(i) => {
                let Some(tx) = self.sender(i) else { return };
                let v = self.ledger.make();
                let id = v.id;
                let got = try_send_ids(tx.try_send(v));
                let want = match self.model_send(id) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(TrySendError::Full(id)),
                    Err(()) => Err(TrySendError::Closed(id)),
                };
                assert_eq!(got, want, "try_send of value {id}");
            }
            Op::Send(i) => {
                if !(m.closed || m.room() > 0) {
                    return;
                }
                let Some(tx) = self.sender(i) else { return };
                let v = self.ledger.make();
                let id = v.id;
                let got = tx.send(v).map_err(|SendError(v)| v.id);
                let want = self.model_send(id).map(|_| ()).map_err(|()| id);
                assert_eq!(got, want, "send of value {id}");
            }
            Op::SendExpired(i, deadline) => {
                let Some(tx) = self.sender(i) else { return };
                let v = self.ledger.make();
                let id = v.id;
                let got = if deadline {
                    tx.send_deadline(v, Instant::now())
                } else {
                    tx.send_timeout(v, Duration::ZERO)
                };
                let got = got.map_err(|err| match err {
                    SendTimeoutError::Timeout(v) => SendTimeoutError::Timeout(v.id),
                    SendTimeoutError::Closed(v) => SendTimeoutError::Closed(v.id),
                });
                let want = match self.model_send(id) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(SendTimeoutError::Timeout(id)),
                    Err(()) => Err(SendTimeoutError::Closed(id)),
                };
                assert_eq!(got, want, "send with an expired limit of value {id}");
            }
            Op::SendCancelled(i) => {
                let Some(tx) = self.sender(i) else { return };
                let v = self.ledger.make();
                let id = v.id;
                let got = tx
                    .send_cancellable(v, &self.fired)
                    .map_err(|err| match err {
                        SendCancelError::Cancelled(v) => SendCancelError::Cancelled(v.id),
                        SendCancelError::Closed(v) => SendCancelError::Closed(v.id),
                    });
                let want = match self.model_send(id) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(SendCancelError::Cancelled(id)),
                    Err(()) => Err(SendCancelError::Closed(id)),
                };
                assert_eq!(got, want, "send_cancellable of value {id}");
            }
            Op::SendMany(i, n) | Op::SendIter(i, n) => {
                if !(n == 0 || m.closed || m.room() >= n) {
                    return;
                }
                let Some(tx) = self.sender(i) else { return };
                let values: Vec<Tok> = (0..n).map(|_| self.ledger.make()).collect();
                let sent = ids(&values);
                let got = if let Op::SendMany(..) = op {
                    tx.send_many(values)
                        .map_err(|SendManyError(back)| ids(&back))
                } else {
                    tx.send_iter(values)
                        .map_err(|SendIterError { unsent, mut rest }| {
                            assert!(rest.next().is_none(), "send_iter: {n} values fit one batch");
                            ids(&unsent)
                        })
                };
                let want = if n == 0 {
                    Ok(()) // nothing to send: nothing fails, even when closed
                } else if self.model.closed {
                    Err(sent)
                } else {
                    self.model.queue.extend(&sent);
                    Ok(())
                };
                assert_eq!(got, want, "{op:?}");
            }
            Op::TryRecv(i) => {
                let Some(rx) = self.receiver(i) else { return };
                let got = rx.try_recv().map(|v| v.id);
                let want = match self.model.queue.pop_front() {
                    Some(id) => Ok(id),
                    None if self.model.closed => Err(TryRecvError::Closed),
                    None => Err(TryRecvError::Empty),
                };
                assert_eq!(got, want, "try_recv");
            }
            Op::Recv(i) => {
                if m.queue.is_empty() && !m.closed {
                    return;
                }
                let Some(rx) = self.receiver(i) else { return };
                let got = rx.recv().map(|v| v.id);
                let want = self.model.queue.pop_front().ok_or(RecvError);
                assert_eq!(got, want, "recv");
            }
            Op::RecvExpired(i, deadline) => {
                let Some(rx) = self.receiver(i) else { return };
                let got = if deadline {
                    rx.recv_deadline(Instant::now())
                } else {
                    rx.recv_timeout(Duration::ZERO)
                };
                let want = match self.model.queue.pop_front() {
                    Some(id) => Ok(id),
                    None if self.model.closed => Err(RecvTimeoutError::Closed),
                    None => Err(RecvTimeoutError::Timeout),
                };
                assert_eq!(got.map(|v| v.id), want, "receive with an expired limit");
            }
            Op::RecvCancelled(i) => {
                let Some(rx) = self.receiver(i) else { return };
                let got = rx.recv_cancellable(&self.fired).map(|v| v.id);
                // A queued value is taken even though the token has fired.
                let want = match self.model.queue.pop_front() {
                    Some(id) => Ok(id),
                    None if self.model.closed => Err(RecvCancelError::Closed),
                    None => Err(RecvCancelError::Cancelled),
                };
                assert_eq!(got, want, "recv_cancellable");
            }
            Op::TryRecvMany(i, max) => {
                let Some(rx) = self.receiver(i) else { return };
                let sentinel = self.ledger.make();
                let sentinel_id = sentinel.id;
                let mut out = vec![sentinel];
                let got = rx.try_recv_many(&mut out, max);
                let want = if max == 0 {
                    Ok(0)
                } else if !self.model.queue.is_empty() {
                    Ok(self.model.queue.len().min(max))
                } else if self.model.closed {
                    Err(TryRecvError::Closed)
                } else {
                    Err(TryRecvError::Empty)
                };
                assert_eq!(got, want, "try_recv_many({max})");
                let mut expected = vec![sentinel_id];
                expected.extend(self.model.pop(max));
                assert_eq!(ids(&out), expected, "try_recv_many({max}) appends to `out`");
            }
            Op::RecvMany(i, max) => {
                if !(max == 0 || !m.queue.is_empty() || m.closed) {
                    return;
                }
                let Some(rx) = self.receiver(i) else { return };
                let mut out = Vec::new();
                let got = rx.recv_many(&mut out, max);
                let want = if max == 0 {
                    Ok(0)
                } else if self.model.queue.is_empty() {
                    Err(RecvError)
                } else {
                    Ok(self.model.queue.len().min(max))
                };
                assert_eq!(got, want, "recv_many({max})");
                assert_eq!(ids(&out), self.model.pop(max), "recv_many({max})");
            }
            Op::TryIter(i) => {
                let Some(rx) = self.receiver(i) else { return };
                let got: Vec<usize> = rx.try_iter().map(|v| v.id).collect();
                assert_eq!(got, self.model.pop(usize::MAX), "try_iter");
            }
            Op::IterClosed(i) => {
                if !m.closed {
                    return;
                }
                let Some(rx) = self.receiver(i) else { return };
                let mut got = Vec::new();
                for v in rx {
                    got.push(v.id);
                }
                assert!(rx.iter().next().is_none(), "iter stays ended");
                assert_eq!(got, self.model.pop(usize::MAX), "iter on a closed channel");
            }
            Op::CloseFromSender(i) => {
                let Some(tx) = self.sender(i) else { return };
                assert_eq!(tx.close(), !self.model.closed, "close from a sender");
                self.model.closed = true;
            }
            Op::CloseFromReceiver(i) => {
                let Some(rx) = self.receiver(i) else { return };
                assert_eq!(rx.close(), !self.model.closed, "close from a receiver");
                self.model.closed = true;
            }
            Op::CloneSender(i) => {
                let Some(tx) = self.sender(i) else { return };
                let tx = tx.clone();
                self.senders.push(tx);
                self.model.senders += 1;
            }
            Op::CloneReceiver(i) => {
                let Some(rx) = self.receiver(i) else { return };
                let rx = rx.clone();
                self.receivers.push(rx);
                self.model.receivers += 1;
            }
            Op::DropSender(i) => {
                if self.senders.len() > 1 {
                    let at = i % self.senders.len();
                    self.senders.swap_remove(at);
                    self.model.senders -= 1;
                }
            }
            Op::DropReceiver(i) => {
                if self.receivers.len() > 1 {
                    let at = i % self.receivers.len();
                    self.receivers.swap_remove(at);
                    self.model.receivers -= 1;
                }
            }
            Op::DropAllSenders => {
                if !self.senders.is_empty() {
                    self.senders.clear();
                    self.model.senders = 0;
                    self.model.closed = true;
                }
            }
            Op::DropAllReceivers => {
                if !self.receivers.is_empty() {
                    self.receivers.clear();
                    self.model.receivers = 0;
                    self.model.closed = true;
                }
            }
        }
        if self.receivers.is_empty() {
            // No one can receive what is queued: it is dropped with the last receiver.
            self.model.queue.clear();
        }
    }

    /// Compares everything observable through every handle with the model.
    fn check(&self) {
        let m = &self.model;
        assert_eq!(
            self.ledger.live(),
            m.queue.len(),
            "exactly the values queued (and, once every receiver is gone, none) are alive"
        );
        let full = m.queue.len() == m.capacity;
        macro_rules! check_handle {
            ($h:expr, $kind:literal) => {{
                let h = $h;
                assert_eq!(h.len(), m.queue.len(), "{} len", $kind);
                assert_eq!(h.is_empty(), m.queue.is_empty(), "{} is_empty", $kind);
                assert_eq!(h.is_full(), full, "{} is_full", $kind);
                assert_eq!(h.capacity(), m.capacity, "{} capacity", $kind);
                assert_eq!(h.is_closed(), m.closed, "{} is_closed", $kind);
                assert_eq!(h.sender_count(), m.senders, "{} sender_count", $kind);
                assert_eq!(h.receiver_count(), m.receivers, "{} receiver_count", $kind);
            }};
        }
        for tx in &self.senders {
            check_handle!(tx, "sender");
            assert!(tx.same_channel(&self.senders[0]));
        }
        for rx in &self.receivers {
            check_handle!(rx, "receiver");
            assert!(rx.same_channel(&self.receivers[0]));
        }
    }
}

fn run_model(capacity: usize, ops: &[Op]) {
    let mut h = Harness::new(capacity);
    h.check();
    for (step, op) in ops.iter().enumerate() {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            h.apply(op);
            h.check();
        }));
        if let Err(panic) = outcome {
            eprintln!("failed at step {step}: {op:?}; model: {:?}", h.model);
            std::panic::resume_unwind(panic);
        }
    }
    let ledger = Rc::clone(&h.ledger);
    drop(h);
    assert_eq!(ledger.live(), 0, "values leaked");
    ledger.assert_each_dropped_once();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn channel_matches_vecdeque_model(
        capacity in prop::sample::select(vec![0usize, 1, 2, 3, 8, UNBOUNDED]),
        ops in prop::collection::vec(op(), 0..100),
    ) {
        run_model(capacity, &ops);
    }
}

// ---------------------------------------------------------------------------------------
// Fixed sequences the model covers, spelled out
// ---------------------------------------------------------------------------------------

#[test]
fn rendezvous_in_one_thread_never_pairs_up() {
    let (tx, rx) = channel::<&str>(0);
    assert_eq!(tx.try_send("a"), Err(TrySendError::Full("a")));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(tx.is_full() && tx.is_empty());
    assert_eq!((tx.len(), tx.capacity()), (0, 0));
    assert!(rx.close());
    assert_eq!(tx.try_send("b"), Err(TrySendError::Closed("b")));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.recv(), Err(RecvError));
}

#[test]
fn dropping_the_last_receiver_fails_sends_and_dropping_the_last_sender_ends_receives() {
    let (tx, rx) = channel(2);
    tx.send(1).unwrap();
    drop(tx);
    assert!(rx.is_closed());
    assert_eq!(rx.sender_count(), 0);
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.recv(), Err(RecvError));

    let (tx, rx) = channel(2);
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(
        tx.send(String::from("x")),
        Err(SendError(String::from("x")))
    );
    assert_eq!(
        tx.send_many(vec![1, 2].into_iter().map(|i: i32| i.to_string()).collect())
            .unwrap_err()
            .into_inner(),
        ["1", "2"]
    );
}

#[test]
fn send_iter_on_a_closed_channel_hands_back_one_batch_and_the_untouched_rest() {
    let (tx, _rx) = channel::<u32>(3);
    tx.close();
    let SendIterError { unsent, rest } = tx.send_iter(0..100).unwrap_err();
    assert_eq!(
        unsent,
        (0..64).collect::<Vec<_>>(),
        "one batch of 64 was taken"
    );
    assert_eq!(rest.collect::<Vec<_>>(), (64..100).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------
// Error types
// ---------------------------------------------------------------------------------------

#[test]
fn send_error_display_and_into_inner() {
    let err = SendError(String::from("v"));
    assert_eq!(err.to_string(), "sending on a closed channel");
    assert_eq!(format!("{err:?}"), "SendError(..)");
    assert_eq!(err.into_inner(), "v");
}

#[test]
fn try_send_error_display_and_into_inner() {
    let full = TrySendError::Full(1);
    let closed = TrySendError::Closed(2);
    assert_eq!(full.to_string(), "sending on a full channel");
    assert_eq!(closed.to_string(), "sending on a closed channel");
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert_eq!(format!("{closed:?}"), "Closed(..)");
    assert!(full.is_full() && !full.is_closed());
    assert!(closed.is_closed() && !closed.is_full());
    assert_eq!(full.into_inner(), 1);
    assert_eq!(closed.into_inner(), 2);
}

#[test]
fn send_timeout_error_display_and_into_inner() {
    let timeout = SendTimeoutError::Timeout(1);
    let closed = SendTimeoutError::Closed(2);
    assert_eq!(timeout.to_string(), "timed out sending on a full channel");
    assert_eq!(closed.to_string(), "sending on a closed channel");
    assert_eq!(format!("{timeout:?}"), "Timeout(..)");
    assert_eq!(timeout.into_inner(), 1);
    assert_eq!(closed.into_inner(), 2);
}

#[test]
fn send_cancel_error_display_and_into_inner() {
    let cancelled = SendCancelError::Cancelled(1);
    let closed = SendCancelError::Closed(2);
    assert_eq!(
        cancelled.to_string(),
        "cancelled while sending on a full channel"
    );
    assert_eq!(closed.to_string(), "sending on a closed channel");
    assert_eq!(format!("{cancelled:?}"), "Cancelled(..)");
    assert_eq!(cancelled.into_inner(), 1);
    assert_eq!(closed.into_inner(), 2);
}

#[test]
fn send_many_error_display_and_into_inner() {
    let err = SendManyError(vec![1, 2, 3]);
    assert_eq!(
        err.to_string(),
        "sending on a closed channel (3 values not sent)"
    );
    assert_eq!(format!("{err:?}"), "SendManyError(3 values)");
    assert_eq!(err.into_inner(), [1, 2, 3]);
    assert_eq!(
        SendManyError::<u8>(Vec::new()).to_string(),
        "sending on a closed channel (0 values not sent)"
    );
}

#[test]
fn send_iter_error_display_and_fields() {
    let err = SendIterError {
        unsent: vec![1, 2],
        rest: 3..5,
    };
    assert_eq!(err.to_string(), "sending on a closed channel");
    assert_eq!(format!("{err:?}"), "SendIterError { unsent: 2, .. }");
    assert_eq!(err.unsent, [1, 2]);
    assert_eq!(err.rest.collect::<Vec<_>>(), [3, 4]);
}

#[test]
fn receive_errors_display() {
    assert_eq!(
        RecvError.to_string(),
        "receiving on a closed and empty channel"
    );
    assert_eq!(
        TryRecvError::Empty.to_string(),
        "receiving on an empty channel"
    );
    assert_eq!(
        TryRecvError::Closed.to_string(),
        "receiving on a closed and empty channel"
    );
    assert_eq!(
        RecvTimeoutError::Timeout.to_string(),
        "timed out receiving on an empty channel"
    );
    assert_eq!(
        RecvTimeoutError::Closed.to_string(),
        "receiving on a closed and empty channel"
    );
    assert_eq!(
        RecvCancelError::Cancelled.to_string(),
        "cancelled while receiving on an empty channel"
    );
    assert_eq!(
        RecvCancelError::Closed.to_string(),
        "receiving on a closed and empty channel"
    );
}

#[test]
fn capacity_error_display() {
    let max = bounded_buffer::max_capacity::<u8>();
    let err = try_channel::<u8>(usize::MAX).unwrap_err();
    assert_eq!(
        err,
        CapacityError::TooLarge {
            capacity: usize::MAX,
            max
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "channel capacity {} exceeds the maximum of {max} for this value type",
            usize::MAX
        )
    );
    assert!(try_channel::<u8>(MAX_CAPACITY + 1).is_err());
}

#[test]
#[should_panic(expected = "exceeds the maximum of")]
fn channel_panics_above_max_capacity() {
    let _ = channel::<u8>(MAX_CAPACITY + 1);
}

#[test]
fn conversions_between_errors_keep_the_value() {
    assert_eq!(TrySendError::from(SendError(1)), TrySendError::Closed(1));
    assert_eq!(
        SendTimeoutError::from(SendError(2)),
        SendTimeoutError::Closed(2)
    );
    assert_eq!(
        SendCancelError::from(SendError(3)),
        SendCancelError::Closed(3)
    );
    assert_eq!(TryRecvError::from(RecvError), TryRecvError::Closed);
    assert_eq!(RecvTimeoutError::from(RecvError), RecvTimeoutError::Closed);
    assert_eq!(RecvCancelError::from(RecvError), RecvCancelError::Closed);
}

#[test]
fn errors_are_std_errors_without_requiring_debug_values() {
    /// A value with no `Debug`.
    struct Opaque;
    let errors: Vec<Box<dyn Error>> = vec![
        Box::new(SendError(Opaque)),
        Box::new(TrySendError::Full(Opaque)),
        Box::new(SendTimeoutError::Timeout(Opaque)),
        Box::new(SendCancelError::Cancelled(Opaque)),
        Box::new(SendManyError(vec![Opaque])),
        Box::new(SendIterError {
            unsent: vec![Opaque],
            rest: std::iter::empty::<Opaque>(),
        }),
        Box::new(RecvError),
        Box::new(TryRecvError::Empty),
        Box::new(RecvTimeoutError::Timeout),
        Box::new(RecvCancelError::Cancelled),
        Box::new(CapacityError::TooLarge {
            capacity: 0,
            max: 0,
        }),
    ];
    for err in &errors {
        assert!(!err.to_string().is_empty());
        assert!(err.source().is_none());
    }
}

#[test]
fn failed_operations_hand_back_the_same_value() {
    let (tx, rx) = channel::<Box<u32>>(1);
    tx.send(Box::new(1)).unwrap();
    let second = Box::new(2);
    let addr: *const u32 = &*second;
    let back = tx.try_send(second).unwrap_err().into_inner();
    assert_eq!(
        &*back as *const u32, addr,
        "the very same allocation comes back"
    );
    let back = tx
        .send_timeout(back, Duration::ZERO)
        .unwrap_err()
        .into_inner();
    assert_eq!(&*back as *const u32, addr);
    rx.close();
    let back = tx.send(back).unwrap_err().into_inner();
    assert_eq!(&*back as *const u32, addr);
    assert_eq!(*back, 2);
    assert_eq!(rx.recv().map(|b| *b), Ok(1));
}
