//! Tests for `Select` (built once, waited on many times; the selected operation completed
//! through `SelectedOperation`), the `select!` macro, and the timer receivers `after`,
//! `tick` and `never`.
//!
//! No test orders threads by sleeping. Timers are checked against the clock they read:
//! a value is never early, and tick instants keep their phase; no test asserts how late
//! something may be, beyond generous bounds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bounded_buffer::{
    after, channel, never, select, tick, RecvError, Select, SelectTimeoutError, SendError,
    TryRecvError, TrySelectError,
};

/// The longest a test waits for another thread before it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(30);

fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < give_up, "timed out waiting for {what}");
        thread::yield_now();
    }
}

/// A value that counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn one_select_is_waited_on_many_times() {
    let (tx_a, rx_a) = channel(4);
    let (tx_b, rx_b) = channel(4);
    // The producer hands its senders back rather than dropping them: a channel closed
    // and drained is ready too, and would be selected (with `RecvError`) while the other
    // still holds a value.
    let producer = thread::spawn(move || {
        for i in 0..500u32 {
            let tx = if i % 2 == 0 { &tx_a } else { &tx_b };
            tx.send(i).unwrap();
        }
        (tx_a, tx_b)
    });
    let mut sel = Select::new();
    let a = sel.recv(&rx_a);
    let b = sel.recv(&rx_b);
    let mut got = Vec::new();
    while got.len() < 500 {
        let oper = sel.select();
        let value = match oper.index() {
            i if i == a => oper.recv(&rx_a),
            i if i == b => oper.recv(&rx_b),
            _ => unreachable!(),
        };
        got.push(value.unwrap());
    }
    producer.join().unwrap();
    got.sort_unstable();
    assert_eq!(got, (0..500).collect::<Vec<_>>());
}

#[test]
fn a_selected_send_takes_its_value_only_when_completed() {
    for cap in [0, 1] {
        let (tx, rx) = channel::<String>(cap);
        let receiver = thread::spawn(move || rx.recv());
        let mut sel = Select::new();
        let send = sel.send(&tx);
        let oper = sel.select();
        assert_eq!(oper.index(), send);
        assert_eq!(oper.send(&tx, "late".to_owned()), Ok(()));
        assert_eq!(
            receiver.join().unwrap().as_deref(),
            Ok("late"),
            "capacity {cap}"
        );
    }
}

#[test]
fn closed_operands_are_selected_and_complete_with_their_error() {
    let (tx, rx) = channel::<u32>(1);
    tx.close();
    let mut sel = Select::new();
    sel.recv(&rx);
    assert_eq!(sel.select().recv(&rx), Err(RecvError));
    let mut sel = Select::new();
    sel.send(&tx);
    assert_eq!(
        sel.select().send(&tx, 9),
        Err(SendError(9)),
        "the value comes back"
    );
}

#[test]
fn removed_operands_are_never_selected() {
    let (tx_a, rx_a) = channel(1);
    let (tx_b, rx_b) = channel(1);
    tx_a.send(1).unwrap();
    tx_b.send(2).unwrap();
    let mut sel = Select::new();
    let a = sel.recv(&rx_a);
    let b = sel.recv(&rx_b);
    assert!(sel.remove(a));
    assert!(!sel.remove(a), "removed already");
    for _ in 0..10 {
        let oper = sel.try_select().unwrap();
        assert_eq!(oper.index(), b);
        assert_eq!(oper.recv(&rx_b), Ok(2));
        tx_b.send(2).unwrap();
    }
    assert_eq!(rx_a.len(), 1);
}

#[test]
#[should_panic(expected = "on another channel or side than was selected")]
fn completing_on_another_channel_than_selected_panics() {
    let (tx_a, rx_a) = channel::<u32>(1);
    let (_tx_b, rx_b) = channel::<u32>(1);
    tx_a.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx_a);
    let oper = sel.select();
    let _ = oper.recv(&rx_b);
}

#[test]
fn empty_selects_give_up_when_their_bound_says() {
    let mut sel = Select::new();
    assert_eq!(sel.try_select().unwrap_err(), TrySelectError);
    let start = Instant::now();
    assert_eq!(
        sel.select_timeout(Duration::from_millis(5)).unwrap_err(),
        SelectTimeoutError
    );
    assert!(start.elapsed() >= Duration::from_millis(5));
}

/// Dropping a selected receive without completing it drops the value it claimed; the
/// ring goes on with the next one.
#[test]
fn a_dropped_selected_receive_gives_its_value_up() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel(2);
    tx.send(Counted(drops.clone())).unwrap();
    tx.send(Counted(drops.clone())).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    drop(sel.select());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(rx.len(), 1);
    drop(rx.try_recv().unwrap());
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// A selected send that is dropped leaves its claimed slot empty: receivers skip it, and
/// neither they nor the channel's drop take a value from it.
#[test]
fn a_dropped_selected_send_leaves_a_hole_that_receivers_skip() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel(2);
    let mut sel = Select::new();
    sel.send(&tx);
    drop(sel.select()); // slot 0: a hole
    drop(sel);
    tx.try_send(Counted(drops.clone())).unwrap(); // slot 1
    assert!(
        tx.is_full(),
        "the hole holds its slot until a receiver passes it"
    );
    drop(rx.recv().unwrap());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(rx.try_recv().map(|_| ()), Err(TryRecvError::Empty));
    // Around the ring again, with a hole left in the channel when it is dropped.
    tx.send(Counted(drops.clone())).unwrap();
    let mut sel = Select::new();
    sel.send(&tx);
    drop(sel.select());
    drop(sel);
    drop((tx, rx));
    assert_eq!(drops.load(Ordering::SeqCst), 2, "the hole dropped nothing");
}

/// A rendezvous receiver that a select's send paired with waits for the value; if the
/// selected operation is dropped instead, it goes back to waiting for another sender.
#[test]
fn a_dropped_rendezvous_send_lets_its_receiver_wait_for_another() {
    let (tx, rx) = channel::<u32>(0);
    let receiver = thread::spawn(move || rx.recv());
    let mut sel = Select::new();
    sel.send(&tx);
    let oper = loop {
        // Ready once the receiver is parked.
        if let Ok(oper) = sel.try_select() {
            break oper;
        }
        thread::yield_now();
    };
    drop(oper);
    tx.send(7).unwrap();
    let receiver_result = {
        let start = Instant::now();
        while !receiver.is_finished() {
            assert!(
                start.elapsed() < PATIENCE,
                "the receiver never got the value"
            );
            thread::yield_now();
        }
        receiver.join().unwrap()
    };
    assert_eq!(receiver_result, Ok(7));
}

/// A select parked on a rendezvous send is chosen by a receiver that arrives; the
/// receiver waits until the select completes — or, dropped, declines — the send.
#[test]
fn a_receiver_waits_for_the_select_it_paired_with() {
    for complete in [true, false] {
        let (tx, rx) = channel::<u32>(0);
        let (ready_tx, ready_rx) = channel::<()>(1);
        let selector = thread::spawn(move || {
            let mut sel = Select::new();
            sel.send(&tx);
            ready_tx.send(()).unwrap();
            let oper = sel.select();
            if complete {
                oper.send(&tx, 5).unwrap();
            } else {
                drop(oper);
                tx.send(6).unwrap(); // a plain send after the decline
            }
        });
        ready_rx.recv().unwrap();
        assert_eq!(rx.recv(), Ok(if complete { 5 } else { 6 }));
        selector.join().unwrap();
    }
}

/// The reproduction: two channels of capacity 1, at every instant one of which
/// holds a value while a mover shifts values between them. A non-blocking select over
/// both must never report nothing ready — checking each operand once in turn did, about
/// once in a thousand tries (the value moved from the one not yet checked to the one
/// checked already).
#[test]
fn a_non_blocking_select_never_misses_an_operand_that_was_always_ready() {
    let tries = if cfg!(miri) { 200 } else { 20_000 };
    for bounded_wait in [false, true] {
        let (tx_a, rx_a) = channel::<u32>(1);
        let (tx_b, rx_b) = channel::<u32>(1);
        tx_a.send(0).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mover = {
            let (tx_a, rx_a, tx_b, rx_b) = (tx_a.clone(), rx_a.clone(), tx_b.clone(), rx_b.clone());
            let stop = stop.clone();
            thread::spawn(move || {
                // The mover holds at most one of the two values, so the channels hold
                // the other, or both.
                let mut hand = 1;
                while !stop.load(Ordering::Relaxed) {
                    for (into, from) in [(&tx_b, &rx_a), (&tx_a, &rx_b)] {
                        into.send(hand).unwrap();
                        hand = from.recv().unwrap();
                    }
                }
                hand
            })
        };
        let mut sel = Select::new();
        let a = sel.recv(&rx_a);
        sel.recv(&rx_b);
        let mut missed = 0;
        for _ in 0..tries {
            let selected = if bounded_wait {
                sel.select_timeout(Duration::ZERO).ok()
            } else {
                sel.try_select().ok()
            };
            let Some(oper) = selected else {
                missed += 1;
                continue;
            };
            let value = if oper.index() == a {
                oper.recv(&rx_a)
            } else {
                oper.recv(&rx_b)
            }
            .unwrap();
            // Put it back where there is room, so the two values stay in play.
            let mut value = Some(value);
            while let Some(v) = value.take() {
                if let Err(full) = tx_a.try_send(v) {
                    if let Err(full) = tx_b.try_send(full.into_inner()) {
                        value = Some(full.into_inner());
                        thread::yield_now();
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        // The mover may be blocked on a send (needs room) or a receive (needs a value):
        // alternate the two until it has seen `stop` and returned.
        while !mover.is_finished() {
            let _ = (rx_a.try_recv(), rx_b.try_recv());
            let _ = (tx_a.try_send(0), tx_b.try_send(0));
            thread::yield_now();
        }
        mover.join().unwrap();
        assert_eq!(
            missed, 0,
            "bounded_wait: {bounded_wait}: missed {missed} of {tries}"
        );
    }
}

#[test]
fn the_macro_runs_the_arm_of_the_selected_operation() {
    let (tx, rx) = channel(1);
    let (_idle_tx, idle) = channel::<u32>(1);
    tx.send(3).unwrap();
    let got = select! {
        recv(idle) -> _ => "idle",
        recv(rx) -> value => {
            assert_eq!(value, Ok(3));
            "rx"
        }
        default => "nothing",
    };
    assert_eq!(got, "rx");
    let got = select! {
        recv(idle) -> _ => "idle",
        default => "nothing",
    };
    assert_eq!(got, "nothing");
}

/// A send arm's value expression runs only if its arm is selected.
#[test]
fn the_macro_evaluates_a_send_value_only_when_its_arm_is_selected() {
    let (full_tx, _full_rx) = channel(1);
    full_tx.send(0).unwrap();
    let (tx, rx) = channel(1);
    let made = AtomicUsize::new(0);
    let make = |n| {
        made.fetch_add(1, Ordering::SeqCst);
        n
    };
    for _ in 0..50 {
        let sent = select! {
            send(full_tx, make(1)) -> _ => unreachable!("the channel is full"),
            send(tx, make(2)) -> res => res.is_ok(),
        };
        assert!(sent);
        assert_eq!(rx.recv(), Ok(2));
    }
    assert_eq!(
        made.load(Ordering::SeqCst),
        50,
        "the full channel's value was never made"
    );
    // A variable named by an unselected arm is not moved: it can be sent later.
    let (full_tx, _full_rx) = channel(1);
    full_tx.send(String::new()).unwrap();
    let pending = String::from("kept");
    let outcome = select! {
        send(full_tx, pending) -> _ => return,
        default(Duration::from_millis(1)) => "timed out",
    };
    assert_eq!(outcome, "timed out");
    assert_eq!(full_tx.try_send(pending).unwrap_err().into_inner(), "kept");
}

#[test]
fn macro_arms_may_break_out_of_a_loop_and_take_temporaries() {
    let (tx, rx) = channel(8);
    tx.send_many(vec![1, 2, 3]).unwrap();
    drop(tx);
    let mut sum = 0;
    loop {
        select! {
            recv(rx) -> value => match value {
                Ok(n) => sum += n,
                Err(_) => break,
            },
            recv(after(PATIENCE)) -> _ => panic!("the channel never closed"),
        }
    }
    assert_eq!(sum, 6);
}

#[test]
fn after_delivers_once_never_early() {
    let start = Instant::now();
    let timer = after(Duration::from_millis(3));
    let due = timer.recv().unwrap();
    assert!(due >= start + Duration::from_millis(3));
    assert!(Instant::now() >= due);
    assert_eq!(timer.try_recv(), Err(TryRecvError::Empty), "one value only");
    assert!(!timer.is_closed());
    timer.close();
    assert_eq!(timer.recv(), Err(RecvError));
    // A duration past what `Instant` can hold never comes due.
    let never_due = after(Duration::MAX);
    assert!(never_due.recv_timeout(Duration::from_millis(1)).is_err());
}

#[test]
fn after_is_a_select_timeout() {
    let (_tx, rx) = channel::<u32>(1);
    let start = Instant::now();
    let outcome = select! {
        recv(rx) -> _ => "value",
        recv(after(Duration::from_millis(5))) -> _ => "timed out",
    };
    assert_eq!(outcome, "timed out");
    assert!(start.elapsed() >= Duration::from_millis(5));
}

/// Ticks keep their phase: every instant delivered is a whole number of periods after
/// the first, even for a receiver that falls behind (its missed ticks are dropped).
#[test]
fn tick_keeps_its_phase_and_drops_missed_ticks() {
    let period = Duration::from_millis(2);
    let ticks = tick(period);
    let first = ticks.recv().unwrap();
    assert!(Instant::now() >= first);
    let whole_periods = |t: Instant| {
        let since = (t - first).as_nanos();
        since % period.as_nanos() == 0 && since > 0
    };
    let second = ticks.recv().unwrap();
    assert!(whole_periods(second), "{:?}", second - first);
    // Fall five periods behind: one late tick, then the schedule resumes after now.
    let behind = Instant::now() + 5 * period;
    eventually("five periods to pass", || Instant::now() >= behind);
    let late = ticks.recv().unwrap();
    assert!(whole_periods(late) && late > second);
    let resumed = ticks.recv().unwrap();
    assert!(whole_periods(resumed));
    assert!(resumed >= behind, "the ticks missed meanwhile were dropped");
}

#[test]
fn never_is_never_ready_until_closed() {
    let rx = never::<u32>();
    let mut sel = Select::new();
    sel.recv(&rx);
    assert!(sel.try_select().is_err());
    assert!(sel.select_timeout(Duration::from_millis(1)).is_err());
    rx.close();
    assert_eq!(sel.select().recv(&rx), Err(RecvError));
}
