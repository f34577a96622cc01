//! Tests for `Selector`, the closure builder over `Select`: which arm fires, fairness,
//! bounded waits, closed operands, the rendezvous channel's pairing rules, and send
//! values that stay with the caller unless sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bounded_buffer::{
    channel, RecvError, SelectCancelError, SelectTimeoutError, Selector, SendError, TryRecvError,
    TrySelectError,
};
use patterns_core::CancelToken;

#[derive(Debug, PartialEq)]
enum Arm {
    A(Result<u32, RecvError>),
    B(Result<u32, RecvError>),
    Sent(Result<(), SendError<u32>>),
}

#[test]
fn a_ready_receive_fires() {
    let (tx_a, rx_a) = channel(1);
    let (_tx_b, rx_b) = channel::<u32>(1);
    tx_a.send(1).unwrap();
    let arm = Selector::new()
        .recv(&rx_a, Arm::A)
        .recv(&rx_b, Arm::B)
        .wait();
    assert_eq!(arm, Arm::A(Ok(1)));
}

#[test]
fn exactly_one_arm_fires_and_the_others_are_untouched() {
    let (tx_a, rx_a) = channel(1);
    let (tx_b, rx_b) = channel(1);
    let (tx_c, rx_c) = channel(1);
    tx_a.send(1).unwrap();
    tx_b.send(2).unwrap();
    let arm = Selector::new()
        .recv(&rx_a, Arm::A)
        .recv(&rx_b, Arm::B)
        .send(&tx_c, &mut Some(3), Arm::Sent)
        .wait();
    let left = rx_a.len() + rx_b.len() + rx_c.len();
    match arm {
        Arm::A(Ok(1)) | Arm::B(Ok(2)) => assert_eq!(left, 1, "one value taken, nothing sent"),
        Arm::Sent(Ok(())) => {
            assert_eq!(left, 3, "nothing taken, one value sent");
            assert_eq!(rx_c.try_recv(), Ok(3));
        }
        other => panic!("unexpected arm {other:?}"),
    }
}

#[test]
fn fair_by_default() {
    let (tx_a, rx_a) = channel(1);
    let (tx_b, rx_b) = channel(1);
    let mut wins = [0u32; 2];
    for _ in 0..2000 {
        let _ = tx_a.try_send(0);
        let _ = tx_b.try_send(0);
        let arm = Selector::new().recv(&rx_a, |_| 0).recv(&rx_b, |_| 1).wait();
        wins[arm] += 1;
    }
    // Each should win about 1000 times; 600 is far outside any plausible random run.
    assert!(wins[0] > 600 && wins[1] > 600, "unfair: {wins:?}");
}

#[test]
fn biased_takes_the_first_ready_operand() {
    let (tx_a, rx_a) = channel(1);
    let (tx_b, rx_b) = channel(1);
    for _ in 0..100 {
        let _ = tx_a.try_send(0);
        let _ = tx_b.try_send(0);
        let arm = Selector::new()
            .biased()
            .recv(&rx_a, |_| 'a')
            .recv(&rx_b, |_| 'b')
            .wait();
        assert_eq!(arm, 'a');
    }
}

#[test]
fn try_wait_never_blocks() {
    let (tx, rx) = channel::<u32>(1);
    let none = Selector::new().recv(&rx, Arm::A).try_wait();
    assert_eq!(none, Err(TrySelectError));
    assert_eq!(TrySelectError.to_string(), "no select operation was ready");
    tx.send(4).unwrap();
    assert_eq!(
        Selector::new().recv(&rx, Arm::A).try_wait(),
        Ok(Arm::A(Ok(4)))
    );
}

#[test]
fn wait_timeout_runs_out() {
    for cap in [0, 1] {
        let (_tx, rx) = channel::<u32>(cap);
        let start = Instant::now();
        let outcome = Selector::new()
            .recv(&rx, Arm::A)
            .wait_timeout(Duration::from_millis(20));
        assert_eq!(outcome, Err(SelectTimeoutError));
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(
            Selector::new()
                .recv(&rx, Arm::A)
                .wait_deadline(Instant::now()),
            Err(SelectTimeoutError)
        );
    }
    assert_eq!(
        SelectTimeoutError.to_string(),
        "timed out waiting for a select operation"
    );
}

#[test]
fn wait_cancellable_ends_when_the_token_fires() {
    for cap in [0, 1] {
        let (_tx, rx) = channel::<u32>(cap);
        let token = CancelToken::new();
        let waiter = {
            let token = token.clone();
            thread::spawn(move || Selector::new().recv(&rx, Arm::A).wait_cancellable(&token))
        };
        token.cancel();
        assert_eq!(waiter.join().unwrap(), Err(SelectCancelError));
    }
}

#[test]
fn closed_operands_fire_with_their_error() {
    let (tx, rx) = channel::<u32>(1);
    tx.close();
    assert_eq!(
        Selector::new().recv(&rx, Arm::A).wait(),
        Arm::A(Err(RecvError))
    );
    let mut value = Some(9);
    let arm = Selector::new().send(&tx, &mut value, Arm::Sent).wait();
    assert_eq!(arm, Arm::Sent(Err(SendError(9))), "the value comes back");
    assert_eq!(value, None, "in the error");
}

#[test]
fn a_parked_select_wakes_for_a_send_from_another_thread() {
    for cap in [0, 1, 4] {
        let (tx_a, rx_a) = channel(cap);
        let (_tx_b, rx_b) = channel::<u32>(cap);
        let sender = thread::spawn(move || tx_a.send(11));
        let arm = Selector::new()
            .recv(&rx_a, Arm::A)
            .recv(&rx_b, Arm::B)
            .wait();
        assert_eq!(arm, Arm::A(Ok(11)), "capacity {cap}");
        sender.join().unwrap().unwrap();
    }
}

#[test]
fn a_select_send_meets_a_blocked_receiver() {
    let (tx, rx) = channel(0);
    let receiver = thread::spawn(move || rx.recv());
    let mut value = Some(5);
    let arm = Selector::new().send(&tx, &mut value, Arm::Sent).wait();
    assert_eq!(arm, Arm::Sent(Ok(())));
    assert_eq!(value, None, "sent");
    assert_eq!(receiver.join().unwrap(), Ok(5));
}

#[test]
fn a_rendezvous_select_never_pairs_with_itself() {
    let (tx, rx) = channel::<u32>(0);
    let outcome = Selector::new()
        .send(&tx, &mut Some(1), Arm::Sent)
        .recv(&rx, Arm::A)
        .wait_timeout(Duration::from_millis(20));
    assert_eq!(outcome, Err(SelectTimeoutError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

/// flume drops an unfired send's value; here it stays in the caller's `Option` whatever
/// fired instead — another arm, the time-out, or nothing (the non-blocking wait).
#[test]
fn unfired_send_values_stay_with_the_caller() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    for cap in [0, 1] {
        let (tx, _rx) = channel(cap);
        if cap > 0 {
            tx.send(Counted(Arc::clone(&drops))).unwrap();
        }
        let (other_tx, other_rx) = channel(1);
        let mut value = Some(Counted(Arc::clone(&drops)));
        let before = drops.load(Ordering::SeqCst);
        let outcome = Selector::new()
            .send(&tx, &mut value, |_| "sent")
            .wait_timeout(Duration::from_millis(5));
        assert_eq!(outcome, Err(SelectTimeoutError));
        let outcome = Selector::new().send(&tx, &mut value, |_| "sent").try_wait();
        assert_eq!(outcome, Err(TrySelectError));
        other_tx.send(1).unwrap();
        let outcome = Selector::new()
            .send(&tx, &mut value, |_| "sent")
            .recv(&other_rx, |_| "received")
            .wait();
        assert_eq!(outcome, "received");
        assert!(
            value.is_some(),
            "capacity {cap}: still ours after three waits"
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            before,
            "nothing dropped meanwhile"
        );
    }
}

#[test]
fn a_send_without_a_value_is_left_out() {
    let (tx, rx) = channel::<u32>(1);
    let mut nothing = None;
    let outcome = Selector::new()
        .send(&tx, &mut nothing, Arm::Sent)
        .try_wait();
    assert_eq!(
        outcome,
        Err(TrySelectError),
        "the free slot did not make it ready"
    );
    assert!(rx.is_empty());
}

#[test]
fn many_selecting_consumers_receive_every_value_once() {
    const PER_PRODUCER: u32 = 20_000;
    for cap in [0, 1, 64] {
        let (tx_a, rx_a) = channel(cap);
        let (tx_b, rx_b) = channel(cap);
        let producers: Vec<_> = [(tx_a, 0u32), (tx_b, 1)]
            .into_iter()
            .map(|(tx, tag)| {
                thread::spawn(move || {
                    for i in 0..PER_PRODUCER {
                        tx.send(i * 2 + tag).unwrap();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let (rx_a, rx_b) = (rx_a.clone(), rx_b.clone());
                thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut open = 2;
                    while open > 0 {
                        match Selector::new().recv(&rx_a, |m| m).recv(&rx_b, |m| m).wait() {
                            Ok(value) => got.push(value),
                            Err(RecvError) => {
                                // One side is drained and closed: finish the other alone.
                                open = 0;
                                got.extend(rx_a.iter());
                                got.extend(rx_b.iter());
                            }
                        }
                    }
                    got
                })
            })
            .collect();
        drop((rx_a, rx_b));
        for producer in producers {
            producer.join().unwrap();
        }
        let mut all: Vec<u32> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..PER_PRODUCER * 2).collect::<Vec<_>>(),
            "capacity {cap}"
        );
    }
}
