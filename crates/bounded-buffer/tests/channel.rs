//! Tests for every method and error of the channel, on the ring (capacity ≥ 1) and the
//! rendezvous channel (capacity 0).
//!
//! No test orders threads by sleeping: where one must wait for another to block, it
//! retries a non-blocking operation under a generous bound (`eventually`), or watches a
//! `ManualClock` for a parked thread.

use std::thread;
use std::time::{Duration, Instant};

use bounded_buffer::{
    channel, RecvCancelError, RecvError, RecvTimeoutError, SendCancelError, SendError,
    SendTimeoutError, TryRecvError, TrySendError,
};
use patterns_core::{CancelToken, ManualClock};

/// Retries `attempt` until it returns `Some`, failing the test after 30 s instead of hanging.
fn eventually<R>(what: &str, mut attempt: impl FnMut() -> Option<R>) -> R {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(done) = attempt() {
            return done;
        }
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        thread::yield_now();
    }
}

#[test]
fn smoke() {
    let (tx, rx) = channel(1);
    tx.send(7).unwrap();
    assert_eq!(rx.recv(), Ok(7));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn capacity_len_and_fullness() {
    for cap in [1, 2, 3, 7, 64] {
        let (tx, rx) = channel(cap);
        assert_eq!(tx.capacity(), cap);
        assert_eq!(rx.capacity(), cap);
        assert!(tx.is_empty());
        for i in 0..cap {
            assert!(!tx.is_full());
            assert_eq!(tx.len(), i);
            tx.try_send(i).unwrap();
        }
        assert!(tx.is_full() && rx.is_full());
        assert_eq!(rx.len(), cap);
        assert_eq!(tx.try_send(99), Err(TrySendError::Full(99)));
        for i in 0..cap {
            assert_eq!(rx.try_recv(), Ok(i), "FIFO at capacity {cap}");
        }
        assert!(rx.is_empty());
        // Wrap around the ring several times.
        for i in 0..cap * 5 {
            tx.try_send(i).unwrap();
            assert_eq!(rx.try_recv(), Ok(i));
        }
    }
}

#[test]
fn rendezvous_reports_zero_capacity_and_always_full() {
    let (tx, rx) = channel::<i32>(0);
    assert_eq!(tx.capacity(), 0);
    assert_eq!(rx.len(), 0);
    assert!(tx.is_empty() && tx.is_full());
    assert_eq!(
        tx.try_send(1),
        Err(TrySendError::Full(1)),
        "no receiver is waiting"
    );
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "no sender is waiting"
    );
}

#[test]
fn rendezvous_send_completes_when_a_receiver_takes_it() {
    let (tx, rx) = channel(0);
    let receiver = thread::spawn(move || rx.recv());
    // `try_send` succeeds only once the receiver is parked waiting.
    eventually("a waiting receiver", || tx.try_send(5).ok());
    assert_eq!(receiver.join().unwrap(), Ok(5));

    let (tx, rx) = channel(0);
    let sender = thread::spawn(move || tx.send(6));
    assert_eq!(eventually("a waiting sender", || rx.try_recv().ok()), 6);
    assert_eq!(sender.join().unwrap(), Ok(()));
}

#[test]
fn blocked_send_resumes_when_a_slot_frees() {
    for cap in [0, 1] {
        let (tx, rx) = channel(cap);
        let sender = thread::spawn(move || {
            for i in 0..100 {
                tx.send(i).unwrap();
            }
        });
        for i in 0..100 {
            assert_eq!(rx.recv(), Ok(i));
        }
        sender.join().unwrap();
    }
}

/// A sender blocked on a full ring first waits for a stretch of free slots, not just one
/// (see `Array::await_room`); it must still complete when only one slot is freed and no
/// more ever will be, by `send` and by `send_many`.
#[test]
fn blocked_send_completes_when_only_one_slot_frees() {
    for cap in [2, 3, 64, 1024] {
        for batch in [false, true] {
            let (tx, rx) = channel(cap);
            for i in 0..cap {
                tx.send(i).unwrap();
            }
            let (started_tx, started_rx) = channel(1);
            let sender = thread::spawn(move || {
                started_tx.send(()).unwrap();
                if batch {
                    tx.send_many(vec![cap]).unwrap();
                } else {
                    tx.send(cap).unwrap();
                }
            });
            // Nearly always the sender is blocked by the time this thread has woken up
            // from `started` and freed a slot; it cannot be observed, but every round that
            // races ahead is also a correct run.
            started_rx.recv().unwrap();
            assert_eq!(rx.recv(), Ok(0));
            eventually("the blocked sender to finish", || {
                sender.is_finished().then_some(())
            });
            sender.join().unwrap();
            assert!(rx.is_full(), "capacity {cap}");
            assert_eq!(rx.iter().collect::<Vec<_>>(), (1..=cap).collect::<Vec<_>>());
        }
    }
}

#[test]
fn try_send_on_a_closed_channel_hands_the_value_back() {
    for cap in [0, 1] {
        let (tx, rx) = channel(cap);
        assert!(rx.close());
        assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
        assert_eq!(tx.send(4), Err(SendError(4)));
        assert_eq!(
            tx.send_timeout(5, Duration::from_secs(1)),
            Err(SendTimeoutError::Closed(5))
        );
        assert_eq!(
            tx.send_cancellable(6, &CancelToken::new()),
            Err(SendCancelError::Closed(6))
        );
    }
}

#[test]
fn close_keeps_queued_values_for_receivers() {
    let (tx, rx) = channel(4);
    tx.send_many(vec![1, 2, 3]).unwrap();
    assert!(tx.close());
    assert!(!tx.close(), "closing twice is a no-op");
    assert!(!rx.close());
    assert!(tx.is_closed() && rx.is_closed());
    assert_eq!(tx.send(9), Err(SendError(9)));
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Ok(3));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(1)),
        Err(RecvTimeoutError::Closed)
    );
    assert_eq!(
        rx.recv_cancellable(&CancelToken::new()),
        Err(RecvCancelError::Closed)
    );
    assert_eq!(rx.recv(), Err(RecvError), "closed stays closed");
}

#[test]
fn close_wakes_blocked_receivers_and_senders() {
    for cap in [0, 1] {
        let (tx, rx) = channel::<u8>(cap);
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.recv())
            })
            .collect();
        tx.close();
        for receiver in receivers {
            assert_eq!(receiver.join().unwrap(), Err(RecvError));
        }

        let (tx, rx) = channel(cap);
        if cap > 0 {
            tx.send(0).unwrap();
        }
        let senders: Vec<_> = (1..4)
            .map(|i| {
                let tx = tx.clone();
                thread::spawn(move || tx.send(i))
            })
            .collect();
        rx.close();
        for (i, sender) in (1..4).zip(senders) {
            assert_eq!(sender.join().unwrap(), Err(SendError(i)));
        }
    }
}

#[test]
fn dropping_every_sender_closes_after_the_queue_drains() {
    let (tx, rx) = channel(2);
    let tx2 = tx.clone();
    assert_eq!(rx.sender_count(), 2);
    tx.send(1).unwrap();
    drop(tx);
    assert!(!rx.is_closed());
    tx2.send(2).unwrap();
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(rx.sender_count(), 0);
    assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn dropping_every_receiver_fails_sends_at_once() {
    for cap in [0, 1, 8] {
        let (tx, rx) = channel(cap);
        let rx2 = rx.clone();
        assert_eq!(tx.receiver_count(), 2);
        drop(rx);
        assert!(!tx.is_closed());
        drop(rx2);
        assert_eq!(tx.receiver_count(), 0);
        assert!(tx.is_closed());
        assert_eq!(tx.send(1), Err(SendError(1)));
    }
}

#[test]
fn send_timeout_gives_up_and_hands_the_value_back() {
    for cap in [0, 1] {
        let (tx, _rx) = channel(cap);
        if cap > 0 {
            tx.send(0).unwrap();
        }
        let start = Instant::now();
        assert_eq!(
            tx.send_timeout(1, Duration::from_millis(20)),
            Err(SendTimeoutError::Timeout(1))
        );
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(
            tx.send_deadline(2, Instant::now()),
            Err(SendTimeoutError::Timeout(2))
        );
    }
}

#[test]
fn recv_timeout_gives_up() {
    for cap in [0, 1] {
        let (_tx, rx) = channel::<u8>(cap);
        let start = Instant::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(
            rx.recv_deadline(Instant::now()),
            Err(RecvTimeoutError::Timeout)
        );
    }
}

#[test]
fn timed_operations_succeed_when_they_can() {
    let (tx, rx) = channel(1);
    tx.send_timeout(1, Duration::from_secs(3600)).unwrap();
    assert_eq!(
        rx.recv_deadline(Instant::now()),
        Ok(1),
        "ready values need no wait"
    );
    tx.send_deadline(2, Instant::now()).unwrap();
    assert_eq!(rx.recv_timeout(Duration::MAX), Ok(2));
    tx.send_timeout(3, Duration::MAX).unwrap(); // an unrepresentable deadline: no limit
    assert_eq!(rx.recv(), Ok(3));
}

#[test]
fn a_fired_token_fails_blocked_operations_at_once_but_not_ready_ones() {
    for cap in [0, 1] {
        let (tx, rx) = channel(cap);
        let token = CancelToken::new();
        token.cancel();
        if cap > 0 {
            tx.send_cancellable(1, &token).unwrap();
            assert_eq!(rx.recv_cancellable(&token), Ok(1));
            tx.send(2).unwrap();
        }
        assert_eq!(
            tx.send_cancellable(3, &token),
            Err(SendCancelError::Cancelled(3))
        );
        if cap > 0 {
            assert_eq!(rx.recv(), Ok(2));
        }
        assert_eq!(rx.recv_cancellable(&token), Err(RecvCancelError::Cancelled));
    }
}

#[test]
fn cancel_wakes_blocked_operations() {
    for cap in [0, 1] {
        let (tx, rx) = channel::<u8>(cap);
        let token = CancelToken::new();
        let receiver = {
            let (rx, token) = (rx.clone(), token.clone());
            thread::spawn(move || rx.recv_cancellable(&token))
        };
        if cap > 0 {
            tx.send(0).unwrap();
            eventually("the value to be taken", || rx.is_empty().then_some(()));
        }
        let sender = {
            let (tx, token) = (tx.clone(), token.clone());
            thread::spawn(move || tx.send_cancellable(9, &token))
        };
        // Whichever blocked first, both end: by cancel, or by meeting each other.
        token.cancel();
        let received = receiver.join().unwrap();
        let sent = sender.join().unwrap();
        match (cap, received, sent) {
            (_, Err(RecvCancelError::Cancelled), Err(SendCancelError::Cancelled(9))) => {}
            (0, Ok(9), Ok(())) => {}
            (1, Ok(0), Err(SendCancelError::Cancelled(9)) | Ok(())) => {}
            (1, Err(RecvCancelError::Cancelled), Ok(())) => {}
            other => panic!("unexpected outcome at capacity {cap}: {other:?}"),
        }
    }
}

#[test]
fn a_token_deadline_bounds_the_wait_on_its_own_clock() {
    let clock = ManualClock::new();
    let token = CancelToken::with_clock(clock.clone()).child_with_timeout(Duration::from_secs(5));
    let (tx, rx) = channel::<u8>(1);
    let receiver = thread::spawn(move || rx.recv_cancellable(&token));
    eventually("the receiver to park on the clock", || {
        (clock.sleepers() == 1).then_some(())
    });
    clock.advance(Duration::from_secs(5));
    assert_eq!(receiver.join().unwrap(), Err(RecvCancelError::Cancelled));
    drop(tx);
}

#[test]
fn send_many_and_recv_many_move_batches_in_order() {
    for cap in [0, 1, 3, 16] {
        let (tx, rx) = channel(cap);
        let values: Vec<u32> = (0..1000).collect();
        let sender = {
            let values = values.clone();
            thread::spawn(move || tx.send_many(values))
        };
        let mut got = Vec::new();
        while got.len() < values.len() {
            let before = got.len();
            let n = rx.recv_many(&mut got, 7).unwrap();
            assert!((1..=7).contains(&n));
            assert_eq!(got.len(), before + n);
        }
        assert_eq!(got, values, "capacity {cap}");
        sender.join().unwrap().unwrap();
        assert_eq!(rx.recv_many(&mut got, 7), Err(RecvError));
    }
}

#[test]
fn recv_many_with_max_zero_takes_nothing() {
    let (tx, rx) = channel(2);
    tx.send(1).unwrap();
    let mut out = Vec::new();
    assert_eq!(rx.recv_many(&mut out, 0), Ok(0));
    assert_eq!(rx.try_recv_many(&mut out, 0), Ok(0));
    assert!(out.is_empty());
    assert_eq!(rx.len(), 1);
}

#[test]
fn try_recv_many_takes_what_is_queued_across_the_ring_end() {
    let (tx, rx) = channel(4);
    tx.send_many(vec![0, 1, 2]).unwrap();
    let mut out = Vec::new();
    assert_eq!(rx.try_recv_many(&mut out, 2), Ok(2));
    tx.send_many(vec![3, 4, 5]).unwrap(); // wraps past the ring's end
    assert_eq!(rx.try_recv_many(&mut out, 10), Ok(4));
    assert_eq!(out, [0, 1, 2, 3, 4, 5]);
    assert_eq!(rx.try_recv_many(&mut out, 10), Err(TryRecvError::Empty));
    drop(tx);
    assert_eq!(rx.try_recv_many(&mut out, 10), Err(TryRecvError::Closed));
}

#[test]
fn send_many_on_close_hands_back_the_unsent_values() {
    let (tx, rx) = channel(2);
    let sender = thread::spawn(move || tx.send_many(vec![1, 2, 3, 4, 5]));
    let mut got = eventually("the channel to fill", || rx.is_full().then(Vec::new));
    rx.close();
    let unsent = sender.join().unwrap().unwrap_err().into_inner();
    got.extend(rx.iter());
    assert_eq!(got, [1, 2]);
    assert_eq!(unsent, [3, 4, 5]);
}

#[test]
fn send_iter_on_close_returns_the_rest_untouched() {
    let (tx, rx) = channel(3);
    rx.close();
    let err = tx.send_iter(0..100).unwrap_err();
    assert_eq!(err.to_string(), "sending on a closed channel");
    assert_eq!(err.unsent, (0..64).collect::<Vec<_>>(), "the first batch");
    assert_eq!(err.rest.collect::<Vec<_>>(), (64..100).collect::<Vec<_>>());

    let (tx, rx) = channel(3);
    let sender = thread::spawn(move || tx.send_iter((0..500).map(|i| i * 2)));
    assert_eq!(rx.iter().count(), 500);
    sender.join().unwrap().unwrap();
}

#[test]
fn iterators() {
    let (tx, rx) = channel(8);
    tx.send_many(vec![1, 2, 3]).unwrap();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(rx.try_iter().next(), None);
    tx.send_many(vec![4, 5]).unwrap();
    drop(tx);
    let mut borrowed = Vec::new();
    for value in &rx {
        borrowed.push(value);
        if value == 4 {
            break;
        }
    }
    assert_eq!(borrowed, [4]);
    assert_eq!(rx.into_iter().collect::<Vec<_>>(), [5]);
}

#[test]
fn clones_share_the_channel() {
    let (tx, rx) = channel::<u8>(1);
    let (other_tx, _other_rx) = channel::<u8>(1);
    assert!(tx.same_channel(&tx.clone()));
    assert!(!tx.same_channel(&other_tx));
    assert!(rx.same_channel(&rx.clone()));
    assert_eq!(rx.receiver_count(), 1);
}

#[test]
fn debug_needs_no_debug_payload() {
    struct Opaque;
    let (tx, rx) = channel(2);
    tx.send(Opaque).unwrap();
    assert_eq!(
        format!("{tx:?}"),
        "Sender { len: 1, capacity: 2, closed: false, senders: 1, receivers: 1 }"
    );
    assert!(format!("{rx:?}").starts_with("Receiver {"));
    assert_eq!(format!("{:?}", TrySendError::Full(Opaque)), "Full(..)");
    assert_eq!(format!("{:?}", SendError(Opaque)), "SendError(..)");
    assert_eq!(
        format!("{:?}", SendTimeoutError::Timeout(Opaque)),
        "Timeout(..)"
    );
    assert_eq!(
        format!("{:?}", SendCancelError::Cancelled(Opaque)),
        "Cancelled(..)"
    );
}

#[test]
fn try_send_error_predicates() {
    // Display, `into_inner` and the `From` conversions of every error: tests/model.rs.
    assert!(TrySendError::Full(1).is_full());
    assert!(!TrySendError::Full(1).is_closed());
    assert!(TrySendError::Closed(1).is_closed());
    assert!(!TrySendError::Closed(1).is_full());
}

/// As std's and crossbeam's: a handle can be used inside `catch_unwind` without
/// `AssertUnwindSafe`, whatever the value type (here one that is not unwind safe).
#[test]
fn handles_are_unwind_safe() {
    fn assert_unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>(_: &T) {}
    let (tx, rx) = channel::<std::cell::Cell<u8>>(1);
    assert_unwind_safe(&tx);
    assert_unwind_safe(&rx);
    let sent = std::panic::catch_unwind(|| tx.send(std::cell::Cell::new(7)).is_ok());
    assert_eq!(sent.ok(), Some(true));
    let received = std::panic::catch_unwind(|| rx.recv().map(std::cell::Cell::into_inner));
    assert_eq!(received.ok(), Some(Ok(7)));
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<bounded_buffer::Sender<Vec<u8>>>();
    assert_send_sync::<bounded_buffer::Receiver<Vec<u8>>>();
}

/// A zero-sized value that counts its drops in `ZST_DROPS`.
#[derive(Debug, PartialEq)]
struct Zst;

static ZST_DROPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for Zst {
    fn drop(&mut self) {
        ZST_DROPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A `Vec` that cannot grow by a single element: pushing or reserving panics with
/// "capacity overflow" — what a batch receive meets when its `Vec` cannot grow.
// The lint is about sized elements, whose `set_len` exposes uninitialized memory.
#[allow(clippy::uninit_vec)]
fn full_vec() -> Vec<Zst> {
    let mut full = Vec::new();
    // SAFETY: `Zst` is zero-sized, so `usize::MAX` of them need no memory and no
    // initialization; the vector is only ever forgotten, never read or dropped.
    unsafe { full.set_len(usize::MAX) };
    full
}

/// Runs `f`, which must panic.
fn must_panic(what: &str, f: impl FnOnce()) {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    assert!(result.is_err(), "{what} did not panic");
}

/// A batch receive whose `Vec` cannot grow panics before it takes anything: the values
/// stay queued and the channel works on (it used to claim the slots first, and every
/// later operation on the ring spun for ever on them).
#[test]
fn a_panic_growing_the_batch_vec_takes_nothing_and_wedges_nothing() {
    let (tx, rx) = channel(4);
    for _ in 0..3 {
        tx.send(Zst).unwrap();
    }
    for blocking in [false, true] {
        let mut full = full_vec();
        must_panic("the batch receive", || {
            let _ = if blocking {
                rx.recv_many(&mut full, 2)
            } else {
                rx.try_recv_many(&mut full, 2).map_err(|_| RecvError)
            };
        });
        std::mem::forget(full);
    }
    // Bounded: before the fix these spun for ever.
    let worker = thread::spawn(move || {
        tx.try_send(Zst).unwrap();
        let mut got = Vec::new();
        let taken = rx.try_recv_many(&mut got, 10);
        (taken, got.len())
    });
    eventually("the channel to work after the panic", || {
        worker.is_finished().then_some(())
    });
    let (taken, len) = worker.join().unwrap();
    assert_eq!((taken, len), (Ok(4), 4), "every value is still there");
}

#[test]
fn a_panic_growing_the_batch_vec_loses_no_rendezvous_value() {
    let (tx, rx) = channel(0);
    let sender = thread::spawn(move || tx.send(Zst).is_ok());
    let mut full = full_vec();
    must_panic("the rendezvous batch receive", || {
        let _ = rx.recv_many(&mut full, 2);
    });
    std::mem::forget(full);
    let drops = ZST_DROPS.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        rx.recv(),
        Ok(Zst),
        "the sender's value was not taken and lost"
    );
    assert!(sender.join().unwrap());
    assert!(ZST_DROPS.load(std::sync::atomic::Ordering::SeqCst) > drops);
}

/// A value that counts its drops, and panics in its drop if told to.
struct Noisy {
    drops: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    panics: bool,
}

impl Drop for Noisy {
    fn drop(&mut self) {
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.panics {
            panic!("a queued value's drop panics");
        }
    }
}

/// Fills a ring of 8 whose head is not at slot 0 (so the queue wraps) with values of
/// which one panics when dropped; returns the ends and the drop count.
fn wrapped_ring_with_a_panicking_value() -> (
    bounded_buffer::Sender<Noisy>,
    bounded_buffer::Receiver<Noisy>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let drops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let noisy = |panics| Noisy {
        drops: drops.clone(),
        panics,
    };
    let (tx, rx) = channel(8);
    for _ in 0..3 {
        tx.send(noisy(false)).unwrap();
        drop(rx.recv().unwrap());
    }
    for n in 0..8 {
        tx.send(noisy(n == 2)).unwrap();
    }
    drops.store(0, std::sync::atomic::Ordering::SeqCst);
    (tx, rx, drops)
}

/// As a `Vec` does: a panic in one queued value's drop does not leak the others.
#[test]
fn a_panicking_drop_of_a_queued_value_still_drops_the_rest() {
    // Dropped with the channel (the senders went first)...
    let (tx, rx, drops) = wrapped_ring_with_a_panicking_value();
    drop(tx);
    must_panic("dropping the channel", || drop(rx));
    assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 8);
    // ... or when the last receiver goes, senders still there.
    let (tx, rx, drops) = wrapped_ring_with_a_panicking_value();
    must_panic("dropping the last receiver", || drop(rx));
    assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 8);
    assert!(tx.is_empty() && tx.is_closed());
}

/// std's channel drops what no one can receive any more when the last receiver goes; so
/// do we, instead of keeping the values until the last sender goes too.
#[test]
fn values_still_queued_are_dropped_when_the_last_receiver_goes() {
    let drops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let noisy = || Noisy {
        drops: drops.clone(),
        panics: false,
    };
    let (tx, rx) = channel(4);
    for _ in 0..3 {
        tx.send(noisy()).unwrap();
    }
    let second = rx.clone();
    drop(rx);
    assert_eq!(
        drops.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "one receiver is left"
    );
    drop(second);
    assert_eq!(
        drops.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "dropped at once"
    );
    assert!(tx.is_empty());
    let back = tx.send(noisy()).unwrap_err().into_inner();
    drop(back);
    assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 4);
}

/// A capacity is often configuration: one that cannot be allocated is an error, never a
/// panic inside the allocator's arithmetic or an abort on a refused allocation.
#[test]
fn capacities_that_cannot_be_allocated_are_errors() {
    use bounded_buffer::{max_capacity, try_channel, CapacityError, MAX_CAPACITY};
    let max = max_capacity::<u64>();
    assert!(max < MAX_CAPACITY, "16-byte slots cannot all fit");
    assert_eq!(
        try_channel::<u64>(MAX_CAPACITY).unwrap_err(),
        CapacityError::TooLarge {
            capacity: MAX_CAPACITY,
            max
        }
    );
    assert!(matches!(
        try_channel::<u64>(max + 1),
        Err(CapacityError::TooLarge { .. })
    ));
    assert_eq!(max_capacity::<()>(), MAX_CAPACITY);
    if cfg!(miri) {
        return; // Miri backs an allocation with host memory: it would take the 16 TiB.
    }
    // 16 TiB: a valid layout that no allocator here grants.
    let error = try_channel::<u64>(1 << 40).unwrap_err();
    assert_eq!(
        error,
        CapacityError::OutOfMemory {
            capacity: 1 << 40,
            bytes: 16 << 40
        }
    );
    assert_eq!(error.capacity(), 1 << 40);
    assert_eq!(
        error.to_string(),
        "cannot allocate 17592186044416 bytes for a channel of capacity 1099511627776"
    );
}
