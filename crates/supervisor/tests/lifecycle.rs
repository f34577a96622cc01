//! Starts, shutdowns, handle calls, heartbeats and dynamic children.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use patterns_core::{CancelToken, ManualClock};
use supervisor::{
    BuildError, ChildContext, ChildError, ChildSpec, ChildState, ChildTemplate, Event, ExitReason,
    Restart, Shutdown, StartError, Strategy, Supervisor,
};

use common::{eventually, ordered_log, wait_for, Log, Order, Steered};

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn children_start_in_order_and_stop_in_reverse() {
    let log = ordered_log();
    let (a, b, c) = (Steered::new(), Steered::new(), Steered::new());
    let (events, _rx) = Log::new();
    let sup = Supervisor::builder("order")
        .on_event(events.hook())
        .child(a.spec("a", &log))
        .child(b.spec("b", &log))
        .child(c.spec("c", &log))
        .start()
        .unwrap();
    assert_eq!(*log.lock().unwrap(), ["start:a", "start:b", "start:c"]);
    let report = sup.shutdown().unwrap();
    assert!(report.abandoned.is_empty());
    assert_eq!(
        *log.lock().unwrap(),
        ["start:a", "start:b", "start:c", "stop:c", "stop:b", "stop:a"]
    );
    let events = events.events();
    let tail: Vec<_> = events
        .iter()
        .skip_while(|e| **e != Event::ShutdownStarted)
        .collect();
    let exited = |name: &str| Event::ChildExited {
        child: name.into(),
        reason: ExitReason::Shutdown,
    };
    assert_eq!(
        tail,
        [
            &Event::ShutdownStarted,
            &exited("c"),
            &exited("b"),
            &exited("a"),
            &Event::ShutdownCompleted { abandoned: 0 }
        ]
    );
    // Calls after the end are refused, and a second shutdown says the same.
    assert_eq!(sup.which_children(), Err(ChildError::SupervisorStopped));
    assert!(sup.shutdown().is_ok());
}

#[test]
fn a_failed_start_stops_the_started_children_in_reverse() {
    for panics in [false, true] {
        let log = ordered_log();
        let (a, b) = (Steered::new(), Steered::new());
        let failing = ChildSpec::new("bad", move |_ctx: &ChildContext| {
            if panics {
                panic!("no config");
            }
            Err("no config")
        });
        let started_c = Arc::new(AtomicBool::new(false));
        let c = {
            let started_c = Arc::clone(&started_c);
            ChildSpec::new("c", move |ctx: &ChildContext| {
                started_c.store(true, Ordering::SeqCst);
                ctx.ready();
                Ok::<(), String>(())
            })
        };
        let result = Supervisor::builder("failstart")
            .child(a.spec("a", &log))
            .child(b.spec("b", &log))
            .child(failing)
            .child(c)
            .start();
        let reason = if panics {
            ExitReason::Panic("no config".into())
        } else {
            ExitReason::Error("no config".into())
        };
        assert_eq!(
            result.unwrap_err(),
            StartError::ChildStart {
                child: "bad".into(),
                reason
            }
        );
        assert_eq!(
            *log.lock().unwrap(),
            ["start:a", "start:b", "stop:b", "stop:a"]
        );
        assert!(!started_c.load(Ordering::SeqCst));
    }
}

#[test]
fn bad_input_is_a_typed_error_with_a_clear_message() {
    let noop = || {
        ChildSpec::new("x", |ctx: &ChildContext| {
            ctx.ready();
            Ok::<(), String>(())
        })
    };
    let dup = Supervisor::builder("dup")
        .child(noop())
        .child(noop())
        .start()
        .unwrap_err();
    assert_eq!(
        dup,
        StartError::Build(BuildError::DuplicateChild("x".into()))
    );
    assert_eq!(dup.to_string(), "two children are named \"x\"");
    let zero = Supervisor::builder("zero")
        .intensity(3, Duration::ZERO)
        .start()
        .unwrap_err();
    assert_eq!(zero, StartError::Build(BuildError::ZeroPeriod));
    assert_eq!(zero.to_string(), "the restart intensity period is zero");
    let beat = Supervisor::builder("beat")
        .child(noop().heartbeat(Duration::ZERO))
        .start()
        .unwrap_err();
    assert_eq!(
        beat,
        StartError::Build(BuildError::ZeroHeartbeat("x".into()))
    );

    let sup = Supervisor::builder("calls").start().unwrap();
    for result in [
        sup.terminate_child("nope"),
        sup.restart_child("nope"),
        sup.delete_child("nope"),
    ] {
        assert_eq!(result, Err(ChildError::UnknownChild("nope".into())));
    }
    assert_eq!(
        ChildError::UnknownChild("nope".into()).to_string(),
        "no child is named \"nope\""
    );
    sup.shutdown().unwrap();
}

/// SEMANTICS: `start_child` with an id running vs present gives distinct errors;
/// `terminate_child` of a stopped child succeeds; `delete_child` of a running one fails.
#[test]
fn handle_calls_on_running_and_stopped_children() {
    let log = ordered_log();
    let a = Steered::new();
    let sup = Supervisor::builder("handle").start().unwrap();
    sup.start_child(a.spec("a", &log)).unwrap();
    assert_eq!(
        sup.start_child(a.spec("a", &log)),
        Err(ChildError::AlreadyRunning("a".into()))
    );
    assert_eq!(sup.delete_child("a"), Err(ChildError::Running("a".into())));
    assert_eq!(sup.restart_child("a"), Err(ChildError::Running("a".into())));
    sup.terminate_child("a").unwrap();
    sup.terminate_child("a").unwrap(); // stopped already: fine
    let info = &sup.which_children().unwrap()[0];
    assert_eq!(info.state, ChildState::Stopped);
    assert_eq!(info.last_exit, Some(ExitReason::Shutdown));
    assert_eq!(
        sup.start_child(a.spec("a", &log)),
        Err(ChildError::AlreadyPresent("a".into()))
    );
    sup.restart_child("a").unwrap();
    sup.terminate_child("a").unwrap();
    sup.delete_child("a").unwrap();
    assert!(sup.which_children().unwrap().is_empty());
    // A failed start_child keeps nothing.
    let bad = ChildSpec::new("bad", |_ctx: &ChildContext| Err::<(), _>("nope"));
    assert!(matches!(
        sup.start_child(bad),
        Err(ChildError::StartFailed { .. })
    ));
    assert!(sup.which_children().unwrap().is_empty());
    assert_eq!(
        *log.lock().unwrap(),
        ["start:a", "stop:a", "start:a", "stop:a"]
    );
    sup.shutdown().unwrap();
}

/// A child that ignores its token is waited for up to its shutdown timeout (on the
/// manual clock), then abandoned and reported; the rest of the shutdown goes on.
#[test]
fn shutdown_timeout_abandons_a_child_that_ignores_its_token() {
    let clock = ManualClock::new();
    let log = ordered_log();
    let a = Steered::new();
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let (done_tx, done) = mpsc::channel::<()>();
    let done_tx = Mutex::new(done_tx);
    let stubborn = ChildSpec::new("stubborn", move |ctx: &ChildContext| {
        ctx.ready();
        released.lock().unwrap().recv().unwrap(); // does not look at its token
        done_tx.lock().unwrap().send(()).unwrap();
        Ok::<(), String>(())
    })
    .shutdown(Shutdown::Timeout(Duration::from_secs(10)));
    let (events, rx) = Log::new();
    let sup = Supervisor::builder("stubborn")
        .clock(clock.clone())
        .on_event(events.hook())
        .child(a.spec("a", &log))
        .child(stubborn)
        .start()
        .unwrap();
    let mover = {
        let clock = clock.clone();
        std::thread::spawn(move || {
            // The supervisor parks on the clock until the stubborn child's deadline.
            assert!(eventually(|| clock.sleepers() == 1));
            clock.advance(Duration::from_secs(9));
            clock.advance(Duration::from_secs(1));
        })
    };
    let report = sup.shutdown().unwrap();
    mover.join().unwrap();
    assert_eq!(report.abandoned, ["stubborn"]);
    wait_for(&rx, |e| {
        *e == Event::ChildExited {
            child: "stubborn".into(),
            reason: ExitReason::Killed,
        }
    });
    assert!(events
        .events()
        .contains(&Event::ShutdownCompleted { abandoned: 1 }));
    // The shutdown went on to the next child.
    assert_eq!(*log.lock().unwrap(), ["start:a", "stop:a"]);
    // The abandoned thread still runs until it returns by itself.
    release.send(()).unwrap();
    done.recv().unwrap();
}

#[test]
fn brutal_kill_does_not_wait() {
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let stubborn = ChildSpec::new("brutal", move |ctx: &ChildContext| {
        ctx.ready();
        let _ = released.lock().unwrap().recv();
        Ok::<(), String>(())
    })
    .shutdown(Shutdown::BrutalKill);
    let sup = Supervisor::builder("brutal")
        .child(stubborn)
        .start()
        .unwrap();
    let report = sup.shutdown().unwrap();
    assert_eq!(report.abandoned, ["brutal"]);
    drop(release);
}

/// SEMANTICS: an exit that races a shutdown is never restarted. The last child, as it is
/// stopped, makes the first fail on its own; the first's failure is recorded with its
/// own reason, and nothing starts after the shutdown began.
#[test]
fn an_exit_racing_shutdown_is_never_restarted() {
    let log = ordered_log();
    let a = Steered::new();
    let a_orders = a.orders.clone();
    let a_exited = Arc::new(AtomicBool::new(false));
    let last = {
        let log = Arc::clone(&log);
        let a_exited = Arc::clone(&a_exited);
        ChildSpec::new("last", move |ctx: &ChildContext| {
            ctx.ready();
            ctx.cancel_token().wait();
            a_orders.send(Order::Fail).unwrap();
            // Wait until a has logged its exit (its Exited follows at once).
            while !log.lock().unwrap().iter().any(|l| l == "exit:a") {
                std::thread::yield_now();
            }
            a_exited.store(true, Ordering::SeqCst);
            Ok::<(), String>(())
        })
    };
    let (events, _rx) = Log::new();
    let sup = Supervisor::builder("race")
        .strategy(Strategy::OneForAll)
        .on_event(events.hook())
        .child(a.spec("a", &log))
        .child(last)
        .start()
        .unwrap();
    sup.shutdown().unwrap();
    assert!(a_exited.load(Ordering::SeqCst));
    let events = events.events();
    let after: Vec<_> = events
        .iter()
        .skip_while(|e| **e != Event::ShutdownStarted)
        .collect();
    assert!(
        !after
            .iter()
            .any(|e| matches!(e, Event::ChildStarted { .. } | Event::ChildRestarted { .. })),
        "{after:?}"
    );
    assert!(after.contains(&&Event::ChildExited {
        child: "a".into(),
        reason: ExitReason::Error("a failed".into())
    }));
    assert_eq!(
        log.lock()
            .unwrap()
            .iter()
            .filter(|l| *l == "start:a")
            .count(),
        1
    );
}

/// A child that returns an error once its token fired is shutting down, not failing.
#[test]
fn an_error_after_the_token_fired_is_a_shutdown_exit() {
    let (events, _rx) = Log::new();
    let sup = Supervisor::builder("cancelled")
        .on_event(events.hook())
        .child(ChildSpec::new("w", |ctx: &ChildContext| {
            ctx.ready();
            ctx.cancel_token().wait();
            ctx.cancel_token().check()
        }))
        .start()
        .unwrap();
    sup.shutdown().unwrap();
    assert!(events.events().contains(&Event::ChildExited {
        child: "w".into(),
        reason: ExitReason::Shutdown
    }));
}

/// A supervisor's cancel token shuts it down, as its parent's does.
#[test]
fn a_cancel_token_shuts_the_supervisor_down() {
    let token = CancelToken::new();
    let log = ordered_log();
    let a = Steered::new();
    let sup = Supervisor::builder("token")
        .cancel_token(&token)
        .child(a.spec("a", &log))
        .start()
        .unwrap();
    token.cancel();
    assert!(sup.join().unwrap().abandoned.is_empty());
    assert_eq!(*log.lock().unwrap(), ["start:a", "stop:a"]);
}

/// A child that misses its heartbeat is stopped and restarted; one that beats is not.
#[test]
fn a_missed_heartbeat_restarts_the_child() {
    let clock = ManualClock::new();
    let beats = Arc::new(AtomicUsize::new(0));
    let alive_beats = Arc::clone(&beats);
    let alive = ChildSpec::new("alive", move |ctx: &ChildContext| {
        ctx.ready();
        while !ctx.is_stopping() {
            ctx.heartbeat();
            alive_beats.fetch_add(1, Ordering::SeqCst);
            let _ = ctx.cancel_token().wait_timeout(Duration::from_millis(1));
        }
        Ok::<(), String>(())
    })
    .heartbeat(Duration::from_secs(1));
    let stuck_runs = Arc::new(AtomicUsize::new(0));
    let stuck = {
        let runs = Arc::clone(&stuck_runs);
        ChildSpec::new("stuck", move |ctx: &ChildContext| {
            runs.fetch_add(1, Ordering::SeqCst);
            ctx.ready();
            ctx.cancel_token().wait(); // never beats
            Ok::<(), String>(())
        })
        .heartbeat(Duration::from_secs(1))
    };
    let (events, rx) = Log::new();
    let sup = Supervisor::builder("beats")
        .clock(clock.clone())
        .intensity(10, HOUR)
        .on_event(events.hook())
        .child(alive)
        .child(stuck)
        .start()
        .unwrap();
    for attempt in 1..=2 {
        // `alive` beats (at least once more) before the interval passes on the clock.
        let before = beats.load(Ordering::SeqCst);
        assert!(eventually(|| beats.load(Ordering::SeqCst) > before));
        clock.advance(Duration::from_secs(1));
        let exited = wait_for(&rx, |e| matches!(e, Event::ChildExited { .. }));
        assert_eq!(
            exited,
            Event::ChildExited {
                child: "stuck".into(),
                reason: ExitReason::Hung
            }
        );
        wait_for(
            &rx,
            |e| matches!(e, Event::ChildRestarted { child, attempt: a, .. } if child == "stuck" && *a == attempt),
        );
    }
    let children = sup.which_children().unwrap();
    assert_eq!(children[0].restarts, 0, "{children:?}");
    assert_eq!(stuck_runs.load(Ordering::SeqCst), 3);
    sup.shutdown().unwrap();
}

#[test]
fn dynamic_children_come_from_one_template() {
    let (events, rx) = Log::new();
    // Orders for the connections, each taken by the child it names (or any, for "exit").
    let orders: Arc<Mutex<Vec<String>>> = Arc::default();
    let crash = {
        let orders = Arc::clone(&orders);
        move |who: &str| orders.lock().unwrap().push(who.to_owned())
    };
    let template = ChildTemplate::new("conn", move |ctx: &ChildContext, peer: &String| {
        ctx.ready();
        loop {
            if ctx.is_stopping() {
                return Ok(());
            }
            let mut pending = orders.lock().unwrap();
            if let Some(i) = pending.iter().position(|o| o == peer || o == "exit") {
                let order = pending.remove(i);
                drop(pending);
                if &order == peer {
                    return Err(format!("{peer} reset the connection"));
                }
                return Ok(());
            }
            drop(pending);
            let _ = ctx.cancel_token().wait_timeout(Duration::from_millis(1));
        }
    })
    .restart(Restart::Transient);
    let sup = Supervisor::builder("dyn")
        .intensity(10, HOUR)
        .on_event(events.hook())
        .start_dynamic(template)
        .unwrap();
    let names: Vec<String> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        .iter()
        .map(|peer| sup.start_child((*peer).to_owned()).unwrap())
        .collect();
    assert_eq!(names, ["conn-1", "conn-2", "conn-3"]);
    crash("10.0.0.2");
    wait_for(
        &rx,
        |e| matches!(e, Event::ChildRestarted { child, .. } if child == "conn-2"),
    );
    sup.terminate_child("conn-1").unwrap();
    let left: Vec<_> = sup
        .which_children()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(left, ["conn-2", "conn-3"]);
    // A normal exit of a transient dynamic child forgets it.
    crash("exit");
    wait_for(&rx, |e| {
        matches!(
            e,
            Event::ChildExited {
                reason: ExitReason::Normal,
                ..
            }
        )
    });
    assert_eq!(sup.which_children().unwrap().len(), 1);
    sup.shutdown().unwrap();

    let err = Supervisor::builder("dyn-static")
        .child(ChildSpec::new("x", |_: &ChildContext| Ok::<(), String>(())))
        .start_dynamic(ChildTemplate::new("t", |_: &ChildContext, _: &u8| {
            Ok::<(), String>(())
        }))
        .unwrap_err();
    assert_eq!(err, StartError::Build(BuildError::StaticChildrenInDynamic));
}

#[test]
fn a_child_that_returns_ok_without_ready_counts_as_started() {
    let (events, rx) = Log::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let sup = {
        let runs = Arc::clone(&runs);
        Supervisor::builder("oneshot")
            .on_event(events.hook())
            .child(
                ChildSpec::new("job", move |_: &ChildContext| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), String>(())
                })
                .restart(Restart::Transient),
            )
            .start()
            .unwrap()
    };
    wait_for(&rx, |e| {
        matches!(
            e,
            Event::ChildExited {
                reason: ExitReason::Normal,
                ..
            }
        )
    });
    let info = &sup.which_children().unwrap()[0];
    assert_eq!(info.state, ChildState::Stopped);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    sup.shutdown().unwrap();
}
