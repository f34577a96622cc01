//! Tests for the unbounded channel flavor (`unbounded()`): a linked list of blocks of 31
//! slots, so most tests send enough values to cross several block boundaries.
//!
//! No test orders threads by sleeping, and none asserts timing: where one must wait
//! for another, it joins it or meets it on a rendezvous channel. Counts shrink under
//! Miri.

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use bounded_buffer::{
    channel, select, unbounded, RecvCancelError, RecvError, RecvTimeoutError, Select, Selector,
    SendCancelError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use patterns_core::CancelToken;

/// Slots per block (the flavor's, outside loom).
const BLOCK: usize = 31;

/// `normal`, or a hundredth of it (but still more than 2 blocks' worth) under Miri.
fn scaled(normal: usize) -> usize {
    if cfg!(miri) {
        (normal / 100).max(2 * BLOCK + 3)
    } else {
        normal
    }
}

/// A value that counts its drops, and panics in its drop if told to.
struct Counted {
    drops: Arc<AtomicUsize>,
    panics: bool,
}

impl Counted {
    fn new(drops: &Arc<AtomicUsize>) -> Counted {
        Counted {
            drops: Arc::clone(drops),
            panics: false,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if self.panics {
            panic!("a queued value's drop panics");
        }
    }
}

fn must_panic(what: &str, f: impl FnOnce()) {
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    assert!(result.is_err(), "{what} did not panic");
}

#[test]
fn smoke() {
    let (tx, rx) = unbounded();
    tx.send(7).unwrap();
    assert_eq!(rx.recv(), Ok(7));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn capacity_len_and_fullness() {
    let (tx, rx) = unbounded();
    assert_eq!(tx.capacity(), usize::MAX);
    assert_eq!(rx.capacity(), usize::MAX);
    assert!(rx.is_empty() && !tx.is_full());
    let n = scaled(5 * BLOCK + 7);
    for i in 0..n {
        assert_eq!(tx.len(), i);
        tx.try_send(i).unwrap(); // never `Full`
        assert!(!tx.is_full());
    }
    assert_eq!(rx.len(), n);
    for i in 0..n {
        assert_eq!(rx.len(), n - i);
        assert_eq!(rx.try_recv(), Ok(i));
    }
    assert!(rx.is_empty());
    assert_eq!(rx.len(), 0);
    assert!(format!("{tx:?}").contains(&format!("capacity: {}", usize::MAX)));
}

/// Every blocking form of send completes at once, even with a fired token: there is
/// always room.
#[test]
fn sends_never_block_or_fail_for_room() {
    let (tx, rx) = unbounded();
    let fired = CancelToken::new();
    fired.cancel();
    tx.send(1).unwrap();
    tx.try_send(2).unwrap();
    tx.send_timeout(3, Duration::ZERO).unwrap();
    tx.send_deadline(4, Instant::now()).unwrap();
    tx.send_cancellable(5, &fired).unwrap();
    let mut got = Vec::new();
    assert_eq!(rx.try_recv_many(&mut got, 10), Ok(5));
    assert_eq!(got, [1, 2, 3, 4, 5]);
}

#[test]
fn receives_time_out_and_cancel_on_an_empty_channel() {
    let (tx, rx) = unbounded::<u32>();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(1)),
        Err(RecvTimeoutError::Timeout)
    );
    assert_eq!(
        rx.recv_deadline(Instant::now()),
        Err(RecvTimeoutError::Timeout)
    );
    let fired = CancelToken::new();
    fired.cancel();
    assert_eq!(rx.recv_cancellable(&fired), Err(RecvCancelError::Cancelled));
    // A queued value is taken even though the token fired.
    tx.send(9).unwrap();
    assert_eq!(rx.recv_cancellable(&fired), Ok(9));
    tx.send(10).unwrap();
    assert_eq!(rx.recv_timeout(Duration::ZERO), Ok(10));
}

#[test]
fn a_cancel_wakes_a_blocked_receive() {
    let (tx, rx) = unbounded::<u32>();
    let token = CancelToken::new();
    let waiter = {
        let token = token.clone();
        thread::spawn(move || rx.recv_cancellable(&token))
    };
    token.cancel();
    assert_eq!(waiter.join().unwrap(), Err(RecvCancelError::Cancelled));
    drop(tx);
}

#[test]
fn a_blocked_receive_wakes_for_a_send() {
    let (tx, rx) = unbounded();
    let (ready_tx, ready_rx) = channel(0);
    let waiter = thread::spawn(move || {
        ready_tx.send(()).unwrap();
        rx.recv()
    });
    ready_rx.recv().unwrap();
    tx.send("hello").unwrap();
    assert_eq!(waiter.join().unwrap(), Ok("hello"));
}

/// Many producers and consumers: every value arrives exactly once, and each consumer
/// sees each producer's values in the order they were sent.
#[test]
fn mpmc_exactly_once_and_fifo_per_sender() {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    let per_producer = scaled(20_000);
    let (tx, rx) = unbounded::<(usize, usize)>();
    let start = Arc::new(Barrier::new(PRODUCERS + CONSUMERS));
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (tx, start) = (tx.clone(), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                for i in 0..per_producer {
                    if i % 3 == 0 {
                        tx.send_many(vec![(p, i)]).unwrap();
                    } else {
                        tx.send((p, i)).unwrap();
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let (rx, start) = (rx.clone(), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                let mut got = Vec::new();
                let mut last = [None::<usize>; PRODUCERS];
                let mut check = |(p, i): (usize, usize)| {
                    assert!(last[p] < Some(i), "FIFO per sender");
                    last[p] = Some(i);
                    got.push((p, i));
                };
                let mut batch = Vec::with_capacity(50);
                loop {
                    // Mix single and batch receives.
                    let done = if c % 2 == 0 {
                        rx.recv().map(&mut check).is_err()
                    } else {
                        let done = rx.recv_many(&mut batch, 50).is_err();
                        batch.drain(..).for_each(&mut check);
                        done
                    };
                    if done {
                        break;
                    }
                }
                got
            })
        })
        .collect();
    drop(rx);
    for producer in producers {
        producer.join().unwrap();
    }
    let mut seen = HashSet::new();
    for consumer in consumers {
        for value in consumer.join().unwrap() {
            assert!(seen.insert(value), "{value:?} received twice");
        }
    }
    assert_eq!(seen.len(), PRODUCERS * per_producer, "values lost");
}

/// One consumer gets every producer's values in order, across many blocks.
#[test]
fn mpsc_fifo_per_sender() {
    const PRODUCERS: usize = 3;
    let per_producer = scaled(10_000);
    let (tx, rx) = unbounded();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || tx.send_iter((0..per_producer).map(|i| (p, i))).unwrap())
        })
        .collect();
    drop(tx);
    let mut next = [0; PRODUCERS];
    for (p, i) in rx.iter() {
        assert_eq!(i, next[p], "producer {p} out of order");
        next[p] += 1;
    }
    assert_eq!(next, [per_producer; PRODUCERS]);
    for producer in producers {
        producer.join().unwrap();
    }
}

#[test]
fn close_keeps_queued_values_and_fails_later_sends() {
    for close_from_receiver in [false, true] {
        let (tx, rx) = unbounded();
        let n = scaled(3 * BLOCK + 5);
        for i in 0..n {
            tx.send(i).unwrap();
        }
        assert!(if close_from_receiver {
            rx.close()
        } else {
            tx.close()
        });
        assert!(!tx.close() && !rx.close(), "a second close is a no-op");
        assert!(tx.is_closed() && rx.is_closed());
        assert_eq!(tx.send(n), Err(SendError(n)));
        assert_eq!(tx.try_send(n), Err(TrySendError::Closed(n)));
        assert_eq!(
            tx.send_timeout(n, Duration::ZERO),
            Err(SendTimeoutError::Closed(n))
        );
        assert_eq!(
            tx.send_cancellable(n, &CancelToken::new()),
            Err(SendCancelError::Closed(n))
        );
        let unsent = tx.send_many(vec![n, n + 1]).unwrap_err();
        assert_eq!(unsent.into_inner(), [n, n + 1]);
        let err = tx.send_iter(n..n + 100).unwrap_err();
        assert_eq!(err.unsent.len(), 64, "one batch taken from the iterator");
        assert_eq!(err.rest.count(), 36, "the rest untouched");
        assert_eq!(rx.len(), n, "nothing was added");
        assert_eq!(rx.iter().collect::<Vec<_>>(), (0..n).collect::<Vec<_>>());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(rx.recv(), Err(RecvError));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(RecvTimeoutError::Closed)
        );
        assert_eq!(
            rx.try_recv_many(&mut Vec::new(), 4),
            Err(TryRecvError::Closed)
        );
    }
}

#[test]
fn dropping_every_sender_closes_after_the_queue_drains() {
    let (tx, rx) = unbounded();
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    tx2.send(2).unwrap();
    drop(tx);
    assert!(!rx.is_closed(), "one sender is left");
    drop(tx2);
    assert!(rx.is_closed());
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.recv(), Ok(2));
    assert_eq!(rx.recv(), Err(RecvError));
}

#[test]
fn close_wakes_blocked_receivers() {
    let (tx, rx) = unbounded::<u32>();
    let (ready_tx, ready_rx) = channel(0);
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (rx, ready_tx) = (rx.clone(), ready_tx.clone());
            thread::spawn(move || {
                ready_tx.send(()).unwrap();
                rx.recv()
            })
        })
        .collect();
    for _ in 0..3 {
        ready_rx.recv().unwrap();
    }
    // Blocked or about to block: either way the close must reach them.
    tx.close();
    for waiter in waiters {
        assert_eq!(waiter.join().unwrap(), Err(RecvError));
    }
}

#[test]
fn the_last_receiver_s_drop_drops_the_queue_at_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = unbounded();
    let n = scaled(4 * BLOCK + 3);
    for _ in 0..n {
        tx.send(Counted::new(&drops)).unwrap();
    }
    // Some taken first, so the head is inside a block.
    for _ in 0..5 {
        drop(rx.recv().unwrap());
    }
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    let second = rx.clone();
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 5, "one receiver is left");
    drop(second);
    assert_eq!(drops.load(Ordering::SeqCst), n, "dropped at once");
    assert!(tx.is_closed() && tx.is_empty());
    let back = tx.send(Counted::new(&drops)).unwrap_err().into_inner();
    drop(back);
    assert_eq!(drops.load(Ordering::SeqCst), n + 1);
}

#[test]
fn dropping_the_channel_drops_what_is_queued() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = unbounded();
    let n = scaled(3 * BLOCK);
    for _ in 0..n {
        tx.send(Counted::new(&drops)).unwrap();
    }
    drop(tx);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "still receivable");
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), n);
}

/// A queue spanning several blocks, the head inside the first, with one value whose drop
/// panics in the second block.
fn queue_with_a_panicking_value() -> (
    bounded_buffer::Sender<Counted>,
    bounded_buffer::Receiver<Counted>,
    Arc<AtomicUsize>,
) {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = unbounded();
    for n in 0..3 * BLOCK {
        let mut value = Counted::new(&drops);
        value.panics = n == BLOCK + 2;
        tx.send(value).unwrap();
    }
    for _ in 0..4 {
        drop(rx.recv().unwrap());
    }
    drops.store(0, Ordering::SeqCst);
    (tx, rx, drops)
}

/// As a `Vec` does: a panic in one queued value's drop does not leak the others.
#[test]
fn a_panicking_drop_of_a_queued_value_still_drops_the_rest() {
    let queued = 3 * BLOCK - 4;
    // When the last receiver goes, senders still there...
    let (tx, rx, drops) = queue_with_a_panicking_value();
    must_panic("dropping the last receiver", || drop(rx));
    assert_eq!(drops.load(Ordering::SeqCst), queued);
    assert!(tx.is_empty() && tx.is_closed());
    tx.send(Counted::new(&drops)).unwrap_err();
    assert_eq!(drops.load(Ordering::SeqCst), queued + 1);
    // ... or with the channel (the senders went first).
    let (tx, rx, drops) = queue_with_a_panicking_value();
    drop(tx);
    must_panic("dropping the channel", || drop(rx));
    assert_eq!(drops.load(Ordering::SeqCst), queued);
}

/// A batch receive whose `Vec` cannot grow panics before it takes anything.
#[test]
fn a_panic_growing_the_batch_vec_takes_nothing() {
    let (tx, rx) = unbounded::<Zst>();
    for _ in 0..BLOCK + 3 {
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
    let mut got = Vec::new();
    assert_eq!(rx.try_recv_many(&mut got, 100), Ok(BLOCK + 3));
}

/// A zero-sized value that counts its drops in `ZST_DROPS`.
#[derive(Debug, PartialEq)]
struct Zst;

static ZST_DROPS: AtomicUsize = AtomicUsize::new(0);

impl Drop for Zst {
    fn drop(&mut self) {
        ZST_DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

/// A `Vec` that cannot grow by a single element.
// The lint is about sized elements, whose `set_len` exposes uninitialized memory.
#[allow(clippy::uninit_vec)]
fn full_vec() -> Vec<Zst> {
    let mut full = Vec::new();
    // SAFETY: `Zst` is zero-sized, so `usize::MAX` of them need no memory and no
    // initialization; the vector is only ever forgotten, never read or dropped.
    unsafe { full.set_len(usize::MAX) };
    full
}

#[test]
fn zero_sized_values_cross_blocks_and_are_dropped_once() {
    let n = scaled(10 * BLOCK + 1);
    let (tx, rx) = unbounded();
    for _ in 0..n {
        tx.send(()).unwrap();
    }
    assert_eq!(rx.len(), n);
    assert_eq!(rx.try_iter().count(), n);

    let before = ZST_DROPS.load(Ordering::SeqCst);
    let (tx, rx) = unbounded();
    tx.send_many((0..n).map(|_| Zst).collect()).unwrap();
    let mut got = Vec::new();
    assert_eq!(rx.recv_many(&mut got, n / 2), Ok(n / 2));
    drop(got);
    drop(rx); // drops the rest
              // Other tests drop `Zst`s too, concurrently: at least ours have been counted.
    assert!(ZST_DROPS.load(Ordering::SeqCst) - before >= n);
    assert!(tx.is_empty());
}

/// Many values in batches of awkward sizes: order kept across every block boundary.
#[test]
fn batches_cross_block_boundaries_in_order() {
    let n = scaled(20_000);
    let (tx, rx) = unbounded();
    let producer = thread::spawn(move || {
        let mut next = 0;
        let mut size = 1;
        while next < n {
            let end = (next + size).min(n);
            tx.send_many((next..end).collect()).unwrap();
            next = end;
            size = size % 97 + 13;
        }
    });
    let mut got = Vec::with_capacity(n);
    let mut max = 1;
    while let Ok(taken) = rx.recv_many(&mut got, max) {
        assert!((1..=max).contains(&taken));
        max = max % 61 + 7;
    }
    producer.join().unwrap();
    assert_eq!(got, (0..n).collect::<Vec<_>>());
}

#[test]
fn try_recv_many_takes_everything_queued_across_blocks() {
    let (tx, rx) = unbounded();
    let n = 5 * BLOCK + 2;
    tx.send_many((0..n).collect()).unwrap();
    let mut got = Vec::new();
    assert_eq!(rx.try_recv_many(&mut got, 0), Ok(0));
    assert_eq!(rx.try_recv_many(&mut got, BLOCK + 5), Ok(BLOCK + 5));
    assert_eq!(rx.try_recv_many(&mut got, usize::MAX), Ok(n - BLOCK - 5));
    assert_eq!(got, (0..n).collect::<Vec<_>>());
    assert_eq!(rx.try_recv_many(&mut got, 1), Err(TryRecvError::Empty));
}

#[test]
fn iterators_and_clones() {
    let (tx, rx) = unbounded();
    let rx2 = rx.clone();
    assert!(rx.same_channel(&rx2));
    assert_eq!((tx.sender_count(), rx.receiver_count()), (1, 2));
    tx.send_many(vec![1, 2, 3]).unwrap();
    assert_eq!(rx.try_iter().take(2).collect::<Vec<_>>(), [1, 2]);
    drop(tx);
    assert_eq!(rx2.into_iter().collect::<Vec<_>>(), [3]);
}

#[test]
fn select_receives_from_an_unbounded_channel() {
    let (tx, rx) = unbounded();
    let (btx, brx) = channel::<u32>(1);
    let n = scaled(3 * BLOCK) as u32;
    let producer = thread::spawn(move || {
        for i in 0..n {
            tx.send(i).unwrap();
        }
        btx.send(u32::MAX).unwrap();
    });
    let mut got = Vec::new();
    let mut closed = false;
    while !closed {
        select! {
            recv(rx) -> msg => match msg {
                Ok(i) => got.push(i),
                Err(_) => closed = true,
            },
            recv(brx) -> msg => {
                // Once closed it stays ready: leave the select, and drain `rx` below.
                if msg.is_err() {
                    closed = true;
                }
            },
        }
    }
    producer.join().unwrap();
    got.extend(rx.iter());
    assert_eq!(got, (0..n).collect::<Vec<_>>());
}

/// A send on an unbounded channel is always ready: a select with it never blocks, and
/// its value is only taken when its arm runs.
#[test]
fn select_sends_on_an_unbounded_channel() {
    let (tx, rx) = unbounded();
    let (_full_tx, full_rx) = channel::<u32>(1);
    for i in 0..5 {
        let sent = select! {
            recv(full_rx) -> _ => unreachable!("nothing is sent there"),
            send(tx, i) -> res => res.is_ok(),
            default => false,
        };
        assert!(sent);
    }
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);

    let mut value = Some(7);
    let outcome = Selector::new()
        .send(&tx, &mut value, |res| res.map_err(|err| err.into_inner()))
        .try_wait();
    assert_eq!(outcome, Ok(Ok(())));
    assert_eq!(value, None);
    assert_eq!(rx.try_recv(), Ok(7));

    // A selected send dropped unsent leaves nothing behind.
    let mut sel = Select::new();
    sel.send(&tx);
    drop(sel.try_select().unwrap());
    assert!(rx.is_empty());

    // Closed between select and completion: the value comes back.
    let mut sel = Select::new();
    let index = sel.send(&tx);
    let oper = sel.try_select().unwrap();
    assert_eq!(oper.index(), index);
    rx.close();
    assert_eq!(oper.send(&tx, 8), Err(SendError(8)));
    // And a closed channel is ready too, with the error.
    let mut sel = Select::new();
    sel.send(&tx);
    assert_eq!(sel.try_select().unwrap().send(&tx, 9), Err(SendError(9)));
}

#[test]
fn a_selected_receive_dropped_uncompleted_drops_its_value() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = unbounded();
    for _ in 0..BLOCK + 1 {
        tx.send(Counted::new(&drops)).unwrap();
    }
    for taken in 1..=BLOCK + 1 {
        let mut sel = Select::new();
        sel.recv(&rx);
        drop(sel.select());
        assert_eq!(drops.load(Ordering::SeqCst), taken);
    }
    assert!(rx.is_empty());
    let mut sel = Select::new();
    sel.recv(&rx);
    assert!(sel.try_select().is_err(), "empty and open: nothing ready");
    drop(tx);
    let mut sel = Select::new();
    sel.recv(&rx);
    let oper = sel.try_select().expect("closed: ready");
    assert_eq!(oper.recv(&rx).map(|_| ()), Err(RecvError));
}

/// A blocked select wakes for a send on an unbounded channel, among other operands.
#[test]
fn a_blocked_select_wakes_for_an_unbounded_send() {
    let (tx, rx) = unbounded();
    let (_other_tx, other) = channel::<u32>(0);
    let (ready_tx, ready_rx) = channel(0);
    let selector = thread::spawn(move || {
        ready_tx.send(()).unwrap();
        let mut got = Vec::new();
        while got.len() < 2 * BLOCK {
            select! {
                recv(other) -> _ => unreachable!(),
                recv(rx) -> msg => got.push(msg.unwrap()),
            }
        }
        got
    });
    ready_rx.recv().unwrap();
    for i in 0..2 * BLOCK {
        tx.send(i).unwrap();
    }
    assert_eq!(selector.join().unwrap(), (0..2 * BLOCK).collect::<Vec<_>>());
}

/// A consumer far behind its producer: the queue grows to many blocks and drains again,
/// with receivers woken as values arrive.
#[test]
fn a_fast_producer_never_waits_for_a_slow_consumer() {
    let n = scaled(50_000);
    let (tx, rx) = unbounded();
    let (done_tx, done_rx) = channel::<()>(0);
    let producer = thread::spawn(move || {
        for i in 0..n {
            tx.send(i).unwrap();
        }
        // Finished without any receive having run.
        done_tx.send(()).unwrap();
    });
    done_rx.recv().unwrap();
    assert_eq!(rx.len(), n, "every value queued before the first receive");
    producer.join().unwrap();
    assert!(rx.is_closed(), "the producer's sender is gone");
    assert_eq!(rx.iter().count(), n);
}
