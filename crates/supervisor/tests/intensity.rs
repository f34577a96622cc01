//! Restart intensity, escalation through a tree, failed restarts retried later, and
//! restart backoff — on a manual clock where time matters, so nothing sleeps.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patterns_core::{CancelToken, ManualClock};
use supervisor::{
    ChildContext, ChildError, ChildSpec, ChildState, Event, ExitReason, RestartBackoff, Shutdown,
    Strategy, Supervisor, SupervisorError,
};

use common::{eventually, ordered_log, wait_for, Log, Order, Steered, PATIENCE};

const HOUR: Duration = Duration::from_secs(3600);

/// SEMANTICS: the window includes its edge — a restart exactly `period` after another
/// still counts both.
#[test]
fn the_intensity_window_includes_its_edge() {
    for (gap, gives_up) in [
        (Duration::from_secs(5), true),
        (Duration::from_secs(5) + Duration::from_nanos(1), false),
    ] {
        let clock = ManualClock::new();
        let log = ordered_log();
        let a = Steered::new();
        let (events, rx) = Log::new();
        let sup = Supervisor::builder("edge")
            .intensity(1, Duration::from_secs(5))
            .clock(clock.clone())
            .on_event(events.hook())
            .child(a.spec("a", &log))
            .start()
            .unwrap();
        a.orders.send(Order::Fail).unwrap();
        wait_for(&rx, |e| matches!(e, Event::ChildRestarted { .. }));
        clock.advance(gap);
        a.orders.send(Order::Fail).unwrap();
        if gives_up {
            wait_for(&rx, |e| matches!(e, Event::IntensityExceeded { .. }));
            let exit = sup.join();
            assert_eq!(
                exit,
                Err(SupervisorError::IntensityExceeded {
                    supervisor: "edge".into(),
                    max_restarts: 1,
                    period: Duration::from_secs(5)
                })
            );
            // It did not perform the restart that exceeded the limit.
            let starts = log
                .lock()
                .unwrap()
                .iter()
                .filter(|l| *l == "start:a")
                .count();
            assert_eq!(starts, 2);
        } else {
            wait_for(&rx, |e| {
                matches!(e, Event::ChildRestarted { attempt: 2, .. })
            });
            sup.shutdown().unwrap();
        }
    }
}

/// SEMANTICS: a group restart counts as one restart.
#[test]
fn a_group_restart_counts_once() {
    for strategy in [Strategy::OneForAll, Strategy::RestForOne] {
        let log = ordered_log();
        let (a, b, c) = (Steered::new(), Steered::new(), Steered::new());
        let (events, rx) = Log::new();
        let sup = Supervisor::builder("group")
            .strategy(strategy)
            .intensity(1, HOUR)
            .on_event(events.hook())
            .child(a.spec("a", &log))
            .child(b.spec("b", &log))
            .child(c.spec("c", &log))
            .start()
            .unwrap();
        a.orders.send(Order::Fail).unwrap();
        wait_for(
            &rx,
            |e| matches!(e, Event::ChildRestarted { child, .. } if child == "c"),
        );
        // Three children restarted, one restart counted: still within 1.
        assert!(sup
            .which_children()
            .unwrap()
            .iter()
            .all(|c| c.state == ChildState::Running && c.restarts == 1));
        a.orders.send(Order::Fail).unwrap();
        assert!(matches!(
            sup.join(),
            Err(SupervisorError::IntensityExceeded { .. })
        ));
        // Given up: everything stopped in reverse start order.
        let log = log.lock().unwrap();
        assert_eq!(
            log[log.len() - 3..],
            ["exit:a", "stop:c", "stop:b"],
            "{strategy:?}"
        );
    }
}

/// Intensity exceeded in a child supervisor is its exit as a child: the parent restarts
/// it, and when that too happens too often, the parent gives up.
#[test]
fn intensity_exceeded_escalates_through_a_two_level_tree() {
    let log = ordered_log();
    let w = Steered::new();
    let (root_events, root_rx) = Log::new();
    let (mid_events, _mid_rx) = Log::new();
    let mid = Supervisor::builder("mid")
        .intensity(0, HOUR)
        .on_event(mid_events.hook())
        .child(w.spec("w", &log));
    let root = Supervisor::builder("root")
        .intensity(1, HOUR)
        .on_event(root_events.hook())
        .child(mid.into_child("mid"))
        .start()
        .unwrap();
    assert_eq!(*log.lock().unwrap(), ["start:w"]);

    w.orders.send(Order::Fail).unwrap();
    let exited = wait_for(&root_rx, |e| matches!(e, Event::ChildExited { .. }));
    let Event::ChildExited {
        child,
        reason: ExitReason::Error(text),
    } = exited
    else {
        panic!("{exited:?}")
    };
    assert_eq!(child, "mid");
    assert!(text.contains("\"mid\" gave up"), "{text}");
    wait_for(
        &root_rx,
        |e| matches!(e, Event::ChildRestarted { child, .. } if child == "mid"),
    );

    w.orders.send(Order::Fail).unwrap();
    let exit = root.join();
    assert_eq!(
        exit,
        Err(SupervisorError::IntensityExceeded {
            supervisor: "root".into(),
            max_restarts: 1,
            period: HOUR
        })
    );
    assert_eq!(exit.unwrap_err().exit_code(), 75);
    let root_events = root_events.events();
    assert!(root_events.contains(&Event::IntensityExceeded {
        max_restarts: 1,
        period: HOUR
    }));
    assert!(matches!(
        root_events.last(),
        Some(Event::ShutdownCompleted { abandoned: 0 })
    ));
    // The middle supervisor gave up twice, each time stopping its worker first.
    let mid_events = mid_events.events();
    let gave_up = mid_events
        .iter()
        .filter(|e| matches!(e, Event::IntensityExceeded { .. }))
        .count();
    assert_eq!(gave_up, 2);
}

/// A child named `a` whose start fails while `failures` is above zero (each failed
/// start takes one), and that otherwise fails when told to.
fn flaky_start(failures: &Arc<AtomicUsize>) -> (ChildSpec, std::sync::mpsc::Sender<()>) {
    let failures = Arc::clone(failures);
    let (crash, crashes) = std::sync::mpsc::channel::<()>();
    let crashes = Arc::new(std::sync::Mutex::new(crashes));
    let spec = ChildSpec::new("a", move |ctx: &ChildContext| {
        if failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err("cannot bind".to_owned());
        }
        ctx.ready();
        loop {
            if ctx.is_stopping() {
                return Ok(());
            }
            if crashes
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_millis(1))
                .is_ok()
            {
                return Err("crashed".to_owned());
            }
        }
    });
    (spec, crash)
}

/// SEMANTICS: a restart whose start fails counts toward intensity and is retried later
/// (after the next backoff delay), not in a blocking loop; the child reads `Restarting`
/// meanwhile, and `restart_child` / `delete_child` refuse it with a typed error.
#[test]
fn a_failed_restart_is_retried_later_and_counts_toward_intensity() {
    let clock = ManualClock::new();
    let failures = Arc::new(AtomicUsize::new(0));
    let (spec, crash) = flaky_start(&failures);
    let (events, rx) = Log::new();
    let backoff = RestartBackoff::new(Duration::from_secs(1), Duration::from_secs(60));
    let sup = Supervisor::builder("retry")
        .intensity(2, HOUR)
        .clock(clock.clone())
        .backoff(backoff)
        .on_event(events.hook())
        .child(spec)
        .start()
        .unwrap();

    failures.store(1, Ordering::SeqCst);
    crash.send(()).unwrap();
    wait_for(&rx, |e| matches!(e, Event::ChildExited { .. }));
    // The supervisor serves calls while the restart waits.
    let info = &sup.which_children().unwrap()[0];
    assert_eq!(info.state, ChildState::Restarting);
    assert_eq!(
        sup.restart_child("a"),
        Err(ChildError::Restarting("a".into()))
    );
    assert_eq!(
        sup.delete_child("a"),
        Err(ChildError::Restarting("a".into()))
    );

    clock.advance(Duration::from_secs(1));
    let failed = wait_for(&rx, |e| matches!(e, Event::ChildStartFailed { .. }));
    assert_eq!(
        failed,
        Event::ChildStartFailed {
            child: "a".into(),
            reason: ExitReason::Error("cannot bind".into())
        }
    );
    let info = &sup.which_children().unwrap()[0];
    assert_eq!((info.state, info.restarts), (ChildState::Restarting, 1));

    // Retried after the next delay (2 s), not at once.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        sup.which_children().unwrap()[0].state,
        ChildState::Restarting
    );
    clock.advance(Duration::from_secs(1));
    let restarted = wait_for(&rx, |e| matches!(e, Event::ChildRestarted { .. }));
    assert_eq!(
        restarted,
        Event::ChildRestarted {
            child: "a".into(),
            attempt: 2,
            after: Duration::from_secs(2)
        }
    );
    // Two restarts counted (the crash and the failed start): one more crash exceeds 2.
    crash.send(()).unwrap();
    assert!(matches!(
        sup.join(),
        Err(SupervisorError::IntensityExceeded { .. })
    ));
}

/// Backoff delays grow by the multiplier up to the cap, and no restart happens before
/// its delay is over.
#[test]
fn backoff_delays_on_the_manual_clock() {
    let clock = ManualClock::new();
    let failures = Arc::new(AtomicUsize::new(0));
    let (spec, crash) = flaky_start(&failures);
    let (events, rx) = Log::new();
    let sup = Supervisor::builder("backoff")
        .intensity(100, HOUR)
        .clock(clock.clone())
        .on_event(events.hook())
        .child(
            spec.backoff(
                RestartBackoff::new(Duration::from_millis(100), Duration::from_millis(500))
                    .multiplier(2.0)
                    .reset_after(HOUR),
            ),
        )
        .start()
        .unwrap();
    for (attempt, delay_ms) in [(1, 100), (2, 200), (3, 400), (4, 500), (5, 500)] {
        let delay = Duration::from_millis(delay_ms);
        crash.send(()).unwrap();
        wait_for(&rx, |e| matches!(e, Event::ChildExited { .. }));
        // A call is served after the exit is handled (the restart scheduled on the clock).
        assert_eq!(
            sup.which_children().unwrap()[0].state,
            ChildState::Restarting
        );
        clock.advance(delay - Duration::from_millis(1));
        assert_eq!(
            sup.which_children().unwrap()[0].state,
            ChildState::Restarting,
            "attempt {attempt} restarted early"
        );
        clock.advance(Duration::from_millis(1));
        let restarted = wait_for(&rx, |e| matches!(e, Event::ChildRestarted { .. }));
        assert_eq!(
            restarted,
            Event::ChildRestarted {
                child: "a".into(),
                attempt,
                after: delay
            }
        );
    }
    sup.shutdown().unwrap();
}

/// SEMANTICS: the backoff starts again from its minimum once the child has run for the
/// stable period.
#[test]
fn backoff_resets_after_a_stable_period() {
    let clock = ManualClock::new();
    let failures = Arc::new(AtomicUsize::new(0));
    let (spec, crash) = flaky_start(&failures);
    let (events, rx) = Log::new();
    let sup = Supervisor::builder("reset")
        .intensity(100, HOUR)
        .clock(clock.clone())
        .backoff(
            RestartBackoff::new(Duration::from_millis(100), Duration::from_secs(10))
                .reset_after(Duration::from_secs(30)),
        )
        .on_event(events.hook())
        .child(spec)
        .start()
        .unwrap();
    let crash_and_restart = |expected_ms: u64| {
        crash.send(()).unwrap();
        wait_for(&rx, |e| matches!(e, Event::ChildExited { .. }));
        assert_eq!(
            sup.which_children().unwrap()[0].state,
            ChildState::Restarting
        );
        clock.advance(Duration::from_millis(expected_ms));
        let restarted = wait_for(&rx, |e| matches!(e, Event::ChildRestarted { .. }));
        let Event::ChildRestarted { after, .. } = restarted else {
            unreachable!()
        };
        assert_eq!(after, Duration::from_millis(expected_ms));
    };
    crash_and_restart(100);
    crash_and_restart(200);
    crash_and_restart(400);
    clock.advance(Duration::from_secs(30)); // runs stably for the whole period
    crash_and_restart(100);
    crash_and_restart(200);
    sup.shutdown().unwrap();
}

/// SEMANTICS: `restart_child` does not count toward intensity.
#[test]
fn restart_child_does_not_count_toward_intensity() {
    let log = ordered_log();
    let a = Steered::new();
    let sup = Supervisor::builder("manual")
        .intensity(0, HOUR)
        .child(a.spec("a", &log))
        .start()
        .unwrap();
    for _ in 0..3 {
        sup.terminate_child("a").unwrap();
        sup.restart_child("a").unwrap();
    }
    let info = &sup.which_children().unwrap()[0];
    assert_eq!((info.state, info.restarts), (ChildState::Running, 0));
    // Any restart of its own exceeds 0.
    a.orders.send(Order::Fail).unwrap();
    assert!(matches!(
        sup.join(),
        Err(SupervisorError::IntensityExceeded { .. })
    ));
}

/// An exit that reaches the supervisor after its `Stop` — here a hung child's, while the
/// supervisor stops it for the missed heartbeat — is neither restarted nor counted: at
/// `intensity(0, …)` one counted restart would make the supervisor give up. (The loom
/// models cannot reach this: only a timed path, the heartbeat stop, receives a `Stop` in
/// the middle of a turn and then decides on a restart.)
#[test]
fn an_exit_after_the_stop_is_not_counted_toward_intensity() {
    let clock = ManualClock::new();
    let token = CancelToken::new();
    let (fired_tx, fired) = mpsc::channel::<()>();
    let fired_tx = Mutex::new(fired_tx);
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let stuck = ChildSpec::new("stuck", move |ctx: &ChildContext| {
        ctx.ready();
        ctx.cancel_token().wait(); // never beats; fired for the missed heartbeat
        fired_tx.lock().unwrap().send(()).unwrap();
        released.lock().unwrap().recv_timeout(PATIENCE).unwrap();
        Ok::<(), String>(())
    })
    .heartbeat(Duration::from_secs(1))
    .shutdown(Shutdown::Infinity);
    let (events, rx) = Log::new();
    let sup = Supervisor::builder("late")
        .clock(clock.clone())
        .intensity(0, HOUR)
        .cancel_token(&token)
        .on_event(events.hook())
        .child(stuck)
        .start()
        .unwrap();
    // The supervisor parks until the heartbeat check; the check finds no beat.
    assert!(eventually(|| clock.sleepers() == 1));
    clock.advance(Duration::from_secs(1));
    fired.recv_timeout(PATIENCE).unwrap();
    // `Stop` is in the mailbox (the token's callback sends it) before the child returns.
    token.cancel();
    release.send(()).unwrap();
    assert!(sup.join().unwrap().abandoned.is_empty());
    wait_for(&rx, |e| matches!(e, Event::ShutdownCompleted { .. }));
    let events = events.events();
    assert!(
        events.contains(&Event::ChildExited {
            child: "stuck".into(),
            reason: ExitReason::Hung,
        }),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(
            e,
            Event::IntensityExceeded { .. } | Event::ChildRestarted { .. }
        )),
        "{events:?}"
    );
}
