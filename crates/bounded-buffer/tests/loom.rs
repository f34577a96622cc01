//! loom models of the channel's blocking, closing and dropping protocols, exhaustive over
//! every interleaving of their threads up to `LOOM_MAX_PREEMPTIONS` preemptions.
//!
//! Each model runs on the ring (capacity 1 or 2) and, where it applies, on the rendezvous
//! channel (capacity 0). The `unbounded_*` models run on the unbounded flavor, whose
//! blocks have two slots under loom, so that three values cross a block boundary. Run
//! with `cargo xtask loom bounded-buffer`.
#![cfg(loom)]

use bounded_buffer::{channel, unbounded, RecvCancelError, Select, Selector, SendCancelError};
use patterns_core::sync::atomic::{AtomicUsize, Ordering};
use patterns_core::sync::{thread, Arc};
use patterns_core::CancelToken;

/// A value that counts its drops, to prove none is lost or dropped twice.
struct Counted {
    id: u32,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn sorted(mut values: Vec<u32>) -> Vec<u32> {
    values.sort_unstable();
    values
}

fn send_then_recv_in_order(capacity: usize) {
    loom::model(move || {
        let (tx, rx) = channel(capacity);
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        sender.join().unwrap();
        assert!(rx.recv().is_err(), "closed once the sender is gone");
    });
}

#[test]
fn send_recv_capacity_1() {
    send_then_recv_in_order(1);
}

#[test]
fn send_recv_capacity_0() {
    send_then_recv_in_order(0);
}

#[test]
fn batch_send_recv() {
    loom::model(|| {
        let (tx, rx) = channel(2);
        let sender = thread::spawn(move || tx.send_many(vec![1, 2, 3]).unwrap());
        let mut got = Vec::new();
        while got.len() < 3 {
            rx.recv_many(&mut got, 3).unwrap();
        }
        assert_eq!(got, [1, 2, 3]);
        sender.join().unwrap();
    });
}

/// A sender blocked on a full channel and a receiver draining it, while a third thread
/// closes: both wake, and each value is received or handed back, exactly once.
fn close_racing_blocked_ends(capacity: usize) {
    loom::model(move || {
        let (tx, rx) = channel(capacity);
        let closer = tx.clone();
        let sender = thread::spawn(move || {
            let mut handed_back = Vec::new();
            for value in [1, 2] {
                if let Err(err) = tx.send(value) {
                    handed_back.push(err.into_inner());
                }
            }
            handed_back
        });
        let receiver = thread::spawn(move || rx.iter().collect::<Vec<u32>>());
        closer.close();
        let mut all = sender.join().unwrap();
        let received = receiver.join().unwrap();
        assert!(received.windows(2).all(|w| w[0] < w[1]), "FIFO");
        all.extend(received);
        assert_eq!(sorted(all), [1, 2]);
    });
}

#[test]
fn close_racing_blocked_sender_and_receiver_capacity_1() {
    close_racing_blocked_ends(1);
}

#[test]
fn close_racing_blocked_sender_and_receiver_capacity_0() {
    close_racing_blocked_ends(0);
}

/// The receiver blocks on an empty channel; the last sender sends one value and drops.
fn last_sender_dropped_racing_recv(capacity: usize) {
    loom::model(move || {
        let (tx, rx) = channel(capacity);
        let sender = thread::spawn(move || {
            let _ = tx.send(7);
        });
        assert_eq!(rx.recv(), Ok(7));
        assert!(rx.recv().is_err());
        sender.join().unwrap();
    });
}

#[test]
fn last_sender_dropped_racing_recv_capacity_1() {
    last_sender_dropped_racing_recv(1);
}

#[test]
fn last_sender_dropped_racing_recv_capacity_0() {
    last_sender_dropped_racing_recv(0);
}

#[test]
fn last_receiver_dropped_racing_blocked_send() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel(1);
        let counted = |id| Counted {
            id,
            drops: Arc::clone(&drops),
        };
        tx.send(counted(1)).unwrap();
        let blocked = counted(2);
        let sender = thread::spawn(move || tx.send(blocked).map_err(|e| e.into_inner().id));
        drop(rx);
        assert_eq!(
            sender.join().unwrap(),
            Err(2),
            "the blocked value comes back"
        );
        // Both values dropped exactly once: the returned one just now, the queued one
        // with the channel.
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn dropping_a_full_channel_drops_each_value_once() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel(2);
        for id in 0..2 {
            tx.send(Counted {
                id,
                drops: Arc::clone(&drops),
            })
            .unwrap();
        }
        let dropper = thread::spawn(move || drop(tx));
        let taken = rx.try_recv().map(|value| value.id);
        drop(rx);
        dropper.join().unwrap();
        assert_eq!(taken, Ok(0));
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

/// The last receiver's drop discards what is queued while a sender may be halfway
/// through a send (room claimed, value not yet written): the discard waits for the value
/// and drops it, or the send fails on the close and hands its value back — dropped
/// exactly once either way, and by the time both threads are done.
#[test]
fn the_last_receiver_s_drop_discards_the_queue_while_a_sender_writes() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel(2);
        tx.send(Counted {
            id: 0,
            drops: Arc::clone(&drops),
        })
        .unwrap();
        let late = Counted {
            id: 1,
            drops: Arc::clone(&drops),
        };
        let sender = thread::spawn(move || tx.send(late).map_err(|e| e.into_inner().id));
        drop(rx);
        let sent = sender.join().unwrap();
        assert!(matches!(sent, Ok(()) | Err(1)), "{sent:?}");
        assert_eq!(drops.load(Ordering::SeqCst), 2, "each value dropped once");
    });
}

#[test]
fn cancel_racing_a_blocked_send_hands_the_value_back() {
    loom::model(|| {
        let (tx, rx) = channel(1);
        tx.send(1).unwrap();
        let token = CancelToken::new();
        let sender = {
            let token = token.clone();
            thread::spawn(move || tx.send_cancellable(2, &token))
        };
        token.cancel();
        assert_eq!(sender.join().unwrap(), Err(SendCancelError::Cancelled(2)));
        assert_eq!(rx.try_recv(), Ok(1));
    });
}

#[test]
fn cancel_racing_a_rendezvous_send_either_delivers_or_hands_back() {
    loom::model(|| {
        let (tx, rx) = channel(0);
        let token = CancelToken::new();
        let sender = {
            let token = token.clone();
            thread::spawn(move || tx.send_cancellable(5, &token))
        };
        let received = thread::spawn(move || rx.recv().ok());
        token.cancel();
        let sent = sender.join().unwrap();
        let received = received.join().unwrap();
        match sent {
            Ok(()) => assert_eq!(received, Some(5)),
            Err(err) => {
                assert_eq!(err, SendCancelError::Cancelled(5));
                assert_eq!(received, None, "the receiver sees the sender's drop");
            }
        }
    });
}

#[test]
fn cancel_racing_a_blocked_recv_wakes_it() {
    loom::model(|| {
        let (tx, rx) = channel::<u32>(1);
        let token = CancelToken::new();
        let receiver = {
            let token = token.clone();
            thread::spawn(move || rx.recv_cancellable(&token))
        };
        token.cancel();
        assert_eq!(receiver.join().unwrap(), Err(RecvCancelError::Cancelled));
        drop(tx);
    });
}

/// Two senders race to two channels while the main thread selects over both, twice: it
/// gets each value exactly once, whichever channel flavor and whichever order.
fn select_racing_two_senders(cap_a: usize, cap_b: usize) {
    loom::model(move || {
        let (tx_a, rx_a) = channel(cap_a);
        let (tx_b, rx_b) = channel(cap_b);
        // Each sender hands its handle back rather than dropping it: a closed channel is
        // ready too, and would fire the select with `RecvError`.
        let a = thread::spawn(move || tx_a.send(1).map(|()| tx_a));
        let b = thread::spawn(move || tx_b.send(2).map(|()| tx_b));
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(
                Selector::new()
                    .recv(&rx_a, |v| v.unwrap())
                    .recv(&rx_b, |v| v.unwrap())
                    .wait(),
            );
        }
        assert!(a.join().unwrap().is_ok() && b.join().unwrap().is_ok());
        assert_eq!(sorted(got), [1, 2]);
    });
}

#[test]
fn select_racing_two_senders_capacity_1() {
    select_racing_two_senders(1, 1);
}

#[test]
fn select_racing_two_senders_capacity_0() {
    select_racing_two_senders(0, 0);
}

#[test]
fn select_racing_two_senders_mixed_capacities() {
    select_racing_two_senders(0, 1);
}

/// A select sending on a rendezvous channel while a receiver arrives and a token fires:
/// the value is delivered or the select is cancelled, never both, never neither.
#[test]
fn select_send_racing_cancel_delivers_or_not_at_all() {
    loom::model(|| {
        let (tx, rx) = channel(0);
        let token = CancelToken::new();
        let selector = {
            let token = token.clone();
            thread::spawn(move || {
                let mut value = Some(3);
                let sent = Selector::new()
                    .send(&tx, &mut value, |sent| sent.is_ok())
                    .wait_cancellable(&token);
                assert_eq!(sent.is_err(), value == Some(3), "kept unless sent");
                sent
            })
        };
        let receiver = thread::spawn(move || rx.recv().ok());
        token.cancel();
        let sent = selector.join().unwrap();
        let received = receiver.join().unwrap();
        match sent {
            Ok(true) => assert_eq!(received, Some(3)),
            Ok(false) => panic!("the channel was never closed"),
            Err(_) => assert_eq!(received, None),
        }
    });
}

/// A select sending on a channel selects it (a receiver waiting on a rendezvous, or a
/// free slot of the ring) and then drops the selected operation unsent, racing a
/// receiver: the receiver is let go (a declined rendezvous; a hole in the ring it skips)
/// and takes the next value sent, which is the only one it ever sees.
fn a_selected_send_dropped_unsent_racing_a_receiver(capacity: usize) {
    loom::model(move || {
        let (tx, rx) = channel::<u32>(capacity);
        let receiver = thread::spawn(move || rx.recv());
        {
            let mut sel = Select::new();
            sel.send(&tx);
            drop(sel.select());
        }
        tx.send(7).unwrap();
        assert_eq!(receiver.join().unwrap(), Ok(7));
    });
}

#[test]
fn a_selected_send_dropped_unsent_racing_a_receiver_capacity_0() {
    a_selected_send_dropped_unsent_racing_a_receiver(0);
}

#[test]
fn a_selected_send_dropped_unsent_racing_a_receiver_capacity_1() {
    a_selected_send_dropped_unsent_racing_a_receiver(1);
}

/// One `Select` waited on twice while two senders race: the operand that fired first is
/// registered again for the second wait, and each value arrives once.
#[test]
fn one_select_waited_on_twice_racing_two_senders() {
    loom::model(|| {
        let (tx_a, rx_a) = channel(0);
        let (tx_b, rx_b) = channel(1);
        let a = thread::spawn(move || tx_a.send(1).map(|()| tx_a));
        let b = thread::spawn(move || tx_b.send(2).map(|()| tx_b));
        let mut sel = Select::new();
        let ia = sel.recv(&rx_a);
        let mut got = Vec::new();
        sel.recv(&rx_b);
        for _ in 0..2 {
            let oper = sel.select();
            let value = if oper.index() == ia {
                oper.recv(&rx_a)
            } else {
                oper.recv(&rx_b)
            };
            got.push(value.unwrap());
        }
        assert!(a.join().unwrap().is_ok() && b.join().unwrap().is_ok());
        assert_eq!(sorted(got), [1, 2]);
    });
}

/// Two receivers race on one ring's `head` while a sender fills it: each value is taken
/// once. (A plain store in place of the cursor's compare-and-swap lets both take the
/// same slot: this model fails then.)
#[test]
fn two_receivers_race_on_one_ring() {
    loom::model(|| {
        let (tx, rx) = channel::<u32>(2);
        let rx2 = rx.clone();
        let other = thread::spawn(move || rx2.recv().unwrap());
        tx.send_many(vec![1, 2]).unwrap();
        let mine = rx.recv().unwrap();
        assert_eq!(sorted(vec![mine, other.join().unwrap()]), [1, 2]);
    });
}

/// Two senders race on one ring's `tail`: both values arrive, once each.
#[test]
fn two_senders_race_on_one_ring() {
    loom::model(|| {
        let (tx, rx) = channel::<u32>(2);
        let tx2 = tx.clone();
        let other = thread::spawn(move || tx2.send(2).unwrap());
        tx.send(1).unwrap();
        other.join().unwrap();
        let mut got = Vec::new();
        assert_eq!(rx.try_recv_many(&mut got, 2), Ok(2));
        assert_eq!(sorted(got), [1, 2]);
    });
}

/// A batch receive claims as many adjacent slots as are filled, while a sender is still
/// filling them one by one: it never takes a slot not yet written. (`recv_many` blocks
/// for its first value, then claims up to two more at once. Counting the slots of a
/// claim without checking their stamps fails this model.)
#[test]
fn a_batch_receive_claims_only_filled_slots() {
    loom::model(|| {
        let (tx, rx) = channel::<u32>(3);
        let sender = thread::spawn(move || {
            for value in 1..=3 {
                tx.send(value).unwrap();
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            rx.recv_many(&mut got, 3).unwrap();
        }
        sender.join().unwrap();
        assert_eq!(got, [1, 2, 3]);
    });
}

/// With back-offs that spin (`with_loom_spins`), so that blocked operations take their
/// spin-phase paths — the loose probe of a receiver on an empty ring, and a sender on a
/// full one waiting for a stretch of room (`await_room`, capacity 3: one slot past its
/// own) — a sender blocked on a full ring whose receiver frees just one slot and then
/// waits for the sender still gets in. (An `await_room` that waits for its stretch
/// without end fails this model: the stretch never comes.)
#[test]
fn spinning_waits_end_when_one_slot_is_freed() {
    patterns_core::with_loom_spins(2, || {
        loom::model(|| {
            let (tx, rx) = channel::<u32>(3);
            let sender = thread::spawn(move || {
                for value in 0..4 {
                    tx.send(value).unwrap();
                }
            });
            assert_eq!(rx.recv(), Ok(0));
            sender.join().unwrap();
            let mut rest = Vec::new();
            assert_eq!(rx.try_recv_many(&mut rest, 4), Ok(3));
            assert_eq!(rest, [1, 2, 3]);
        });
    });
}

/// A thread reuses its wait record from one blocking call to the next; a cancel callback
/// of the first wait that fires late must not abort the second (a plain `recv` would
/// then report the channel closed).
#[test]
fn late_cancel_callback_does_not_abort_the_next_wait() {
    loom::model(|| {
        let (tx, rx) = channel::<u32>(1);
        let (tx2, rx2) = channel::<u32>(0);
        let token = CancelToken::new();
        let waiter = {
            let token = token.clone();
            thread::spawn(move || {
                let first = rx.recv_cancellable(&token);
                let second = rx2.recv();
                (first, second)
            })
        };
        // The send fails if the waiter was cancelled and dropped `rx`: fine either way.
        let sender = thread::spawn(move || {
            let _ = tx.send(1);
        });
        token.cancel();
        tx2.send(2).unwrap();
        let (first, second) = waiter.join().unwrap();
        sender.join().unwrap();
        assert!(
            matches!(first, Ok(1) | Err(RecvCancelError::Cancelled)),
            "{first:?}"
        );
        assert_eq!(second, Ok(2));
    });
}

// The unbounded flavor. Under loom a block has 2 slots: values 1 and 2 fill the first
// block (the second's send links the next block, its receive frees the first), value 3
// goes into the next.

/// A receiver blocks on an empty channel while a sender sends three values, crossing
/// into a second block: each arrives once and in order, and the receiver sees the close
/// when the sender goes.
#[test]
fn unbounded_send_racing_recv_across_a_block_boundary() {
    loom::model(|| {
        let (tx, rx) = unbounded();
        let sender = thread::spawn(move || {
            for value in [1, 2, 3] {
                tx.send(value).unwrap();
            }
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.recv(), Ok(3));
        assert!(rx.recv().is_err(), "closed once the sender is gone");
        sender.join().unwrap();
    });
}

/// Two receivers each take one value of a full block while the sender fills it: the
/// one that reads the last slot frees the block, or hands that over to the other if it
/// is still reading its slot (`DESTROY`); either way the block is freed once, after both
/// reads, and the sender's next value goes into the next block.
#[test]
fn unbounded_receivers_racing_to_free_a_block() {
    loom::model(|| {
        let (tx, rx) = unbounded();
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.recv().unwrap())
            })
            .collect();
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        let got: Vec<u32> = receivers.into_iter().map(|r| r.join().unwrap()).collect();
        assert_eq!(sorted(got), [1, 2]);
        tx.send(3).unwrap();
        assert_eq!(rx.try_recv(), Ok(3));
    });
}

/// Batches across a block boundary: `send_many` claims the rest of a block per
/// compare-and-swap and links the next, `recv_many` takes what is there.
#[test]
fn unbounded_batches_across_a_block_boundary() {
    loom::model(|| {
        let (tx, rx) = unbounded();
        let sender = thread::spawn(move || tx.send_many(vec![1, 2, 3]).unwrap());
        let mut got = Vec::new();
        while got.len() < 3 {
            rx.recv_many(&mut got, 3).unwrap();
        }
        assert_eq!(got, [1, 2, 3]);
        sender.join().unwrap();
    });
}

/// A receiver blocked on an empty channel while a sender sends and a third thread
/// closes: the receiver wakes, each value is received or handed back exactly once, and
/// those received arrive in order.
#[test]
fn unbounded_close_racing_a_blocked_receiver() {
    loom::model(|| {
        let (tx, rx) = unbounded();
        let closer = tx.clone();
        let sender = thread::spawn(move || {
            let mut handed_back = Vec::new();
            for value in [1, 2, 3] {
                if let Err(err) = tx.send(value) {
                    handed_back.push(err.into_inner());
                }
            }
            handed_back
        });
        let receiver = thread::spawn(move || rx.iter().collect::<Vec<u32>>());
        closer.close();
        let mut all = sender.join().unwrap();
        let received = receiver.join().unwrap();
        assert!(received.windows(2).all(|w| w[0] < w[1]), "FIFO");
        all.extend(received);
        assert_eq!(sorted(all), [1, 2, 3]);
    });
}

/// The last receiver's drop discards the queue while a sender sends two more values,
/// the first of them into the block's last slot (linking the next block): each value
/// is dropped exactly once, in the discard or handed back, and every block is freed.
#[test]
fn unbounded_last_receiver_drop_racing_a_send() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let counted = |id| Counted {
            id,
            drops: Arc::clone(&drops),
        };
        let (tx, rx) = unbounded();
        tx.send(counted(0)).unwrap();
        let late = [counted(1), counted(2)];
        let sender =
            thread::spawn(move || late.map(|value| tx.send(value).map_err(|e| e.into_inner().id)));
        drop(rx);
        let sent = sender.join().unwrap();
        for result in sent {
            assert!(matches!(result, Ok(()) | Err(1 | 2)), "{result:?}");
        }
        assert!(
            !(sent[0].is_err() && sent[1].is_ok()),
            "a send after a failed one fails too"
        );
        assert_eq!(drops.load(Ordering::SeqCst), 3, "each value dropped once");
    });
}

/// A select receiving from an unbounded channel and a ring while two senders race.
#[test]
fn unbounded_select_racing_two_senders() {
    loom::model(|| {
        let (tx_a, rx_a) = unbounded();
        let (tx_b, rx_b) = channel(1);
        let a = thread::spawn(move || tx_a.send(1).map(|()| tx_a));
        let b = thread::spawn(move || tx_b.send(2).map(|()| tx_b));
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(
                Selector::new()
                    .recv(&rx_a, |v| v.unwrap())
                    .recv(&rx_b, |v| v.unwrap())
                    .wait(),
            );
        }
        assert!(a.join().unwrap().is_ok() && b.join().unwrap().is_ok());
        assert_eq!(sorted(got), [1, 2]);
    });
}

/// Five values through blocks of two while the receiver keeps up: the third block is
/// linked when value 4 is claimed, and is the first block, recycled, whenever values 1
/// and 2 were read by then. Value 5 is written into it: the reset (and the reads of the
/// block's last use) happen before that write, and each value arrives once, in order.
#[test]
fn unbounded_a_freed_block_is_reused() {
    loom::model(|| {
        let (tx, rx) = unbounded();
        let sender = thread::spawn(move || {
            for value in 1..=5 {
                tx.send(value).unwrap();
            }
        });
        for value in 1..=5 {
            assert_eq!(rx.recv(), Ok(value));
        }
        assert!(rx.recv().is_err(), "closed once the sender is gone");
        sender.join().unwrap();
    });
}

/// Two receivers race to complete the first block's count (each reads one of its two
/// values) while the sender goes on into a third block, which is the first one,
/// recycled by whichever receiver completed the count, if that happened before value 4
/// was claimed: both receivers' reads and the reset happen before value 5 is written
/// into it.
#[test]
fn unbounded_a_block_freed_by_racing_receivers_is_reused() {
    loom::model(|| {
        let (tx, rx) = unbounded();
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.recv().unwrap())
            })
            .collect();
        for value in 1..=5 {
            tx.send(value).unwrap();
        }
        let got: Vec<u32> = receivers.into_iter().map(|r| r.join().unwrap()).collect();
        assert_eq!(sorted(got), [1, 2]);
        for value in 3..=5 {
            assert_eq!(rx.try_recv(), Ok(value));
        }
    });
}
