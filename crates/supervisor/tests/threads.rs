//! No thread the supervisor started outlives it: one test, alone in its binary, so that
//! no other test's threads are counted.

mod common;

use std::time::Duration;

use supervisor::{ChildContext, ChildSpec, Restart, Supervisor};

use common::{eventually, ordered_log, threads_named, Order, Steered};

/// The threads of this test: children named `tt-…`, supervisors `supervisor-tt…`.
fn ours() -> Vec<String> {
    let mut names = threads_named("tt-");
    names.extend(threads_named("supervisor-tt"));
    names
}

/// A joined thread's entry in `/proc` goes a moment after `join` returns; a thread that
/// was not joined and still runs stays and fails this.
fn none_left() -> bool {
    eventually(|| ours().is_empty())
}

#[test]
fn every_thread_is_joined_after_shutdown() {
    // A tree with a restart in it, shut down from the root.
    let log = ordered_log();
    let (a, c) = (Steered::new(), Steered::new());
    let mid = Supervisor::builder("tt-mid").child(c.spec("tt-c", &log));
    let root = Supervisor::builder("tt-root")
        .child(a.spec("tt-a", &log))
        .child(mid.into_child("tt-mid"))
        .child(
            ChildSpec::new("tt-once", |_: &ChildContext| Ok::<(), String>(()))
                .restart(Restart::Temporary),
        )
        .start()
        .unwrap();
    assert!(eventually(|| ours().len() >= 5), "{:?}", ours());
    a.orders.send(Order::Fail).unwrap();
    assert!(
        eventually(|| log.lock().unwrap().len() == 4),
        "{:?}",
        log.lock().unwrap()
    );
    root.shutdown().unwrap();
    assert!(none_left(), "after a shutdown: {:?}", ours());

    // A supervisor that gave up.
    let a = Steered::new();
    let sup = Supervisor::builder("tt-giveup")
        .intensity(0, Duration::from_secs(3600))
        .child(a.spec("tt-a", &log))
        .start()
        .unwrap();
    a.orders.send(Order::Fail).unwrap();
    assert!(sup.join().is_err());
    assert!(none_left(), "after giving up: {:?}", ours());

    // A failed start.
    let bad = ChildSpec::new("tt-bad", |_: &ChildContext| Err::<(), _>("no"));
    let a = Steered::new();
    assert!(Supervisor::builder("tt-failed")
        .child(a.spec("tt-a", &log))
        .child(bad)
        .start()
        .is_err());
    assert!(none_left(), "after a failed start: {:?}", ours());

    // A dropped handle shuts down.
    let a = Steered::new();
    drop(
        Supervisor::builder("tt-dropped")
            .child(a.spec("tt-a", &log))
            .start()
            .unwrap(),
    );
    assert!(none_left(), "after a drop: {:?}", ours());
}
