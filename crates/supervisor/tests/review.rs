//! Re-entrancy and robustness cases a review found: a child or an event listener calling
//! its own supervisor, a shutdown while a restart blocks in its start, and panics in
//! user `Drop`/`Display` code. Every wait is bounded: a regression fails, it does not hang.

mod common;

use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use supervisor::{
    ChildContext, ChildError, ChildSpec, Event, ExitReason, Restart, Shutdown, Supervisor,
    SupervisorError, SupervisorHandle,
};

use common::{wait_for, Log, PATIENCE};

type Slot = Arc<OnceLock<Weak<SupervisorHandle>>>;

fn handle_of(slot: &Slot) -> Arc<SupervisorHandle> {
    slot.get()
        .and_then(Weak::upgrade)
        .expect("the handle is set")
}

/// Runs `f` on a thread and waits for its result for [`PATIENCE`] at most.
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{what} did not return within {PATIENCE:?} (deadlock)"))
}

/// A child that calls its own supervisor before `ready` — while the supervisor waits
/// synchronously for that very start — gets `WouldDeadlock` instead of hanging both
/// (a review found the call was deferred until the start ended: a deadlock).
#[test]
fn a_child_calling_its_supervisor_before_ready_gets_would_deadlock() {
    let slot: Slot = Arc::default();
    let sup = Arc::new(Supervisor::builder("reenter").start().unwrap());
    slot.set(Arc::downgrade(&sup)).unwrap();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let spec = {
        let slot = Arc::clone(&slot);
        ChildSpec::new("early", move |ctx: &ChildContext| {
            let answer = handle_of(&slot).which_children().map(|c| c.len());
            let _ = tx.lock().unwrap().send(answer);
            ctx.ready();
            ctx.cancel_token().wait();
            Ok::<(), String>(())
        })
    };
    let started = {
        let sup = Arc::clone(&sup);
        bounded("start_child", move || sup.start_child(spec))
    };
    assert_eq!(started, Ok(()));
    assert_eq!(
        rx.recv_timeout(PATIENCE),
        Ok(Err(ChildError::WouldDeadlock))
    );
    assert!(sup.shutdown().unwrap().abandoned.is_empty());
}

/// A child whose token fired (the supervisor is stopping it, under `Infinity`) and that
/// then calls its supervisor gets `WouldDeadlock`, so the shutdown completes (a review
/// found the call was deferred while the supervisor waited for the child: a hang).
#[test]
fn a_child_calling_its_supervisor_while_being_stopped_does_not_hang_shutdown() {
    let slot: Slot = Arc::default();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let spec = {
        let slot = Arc::clone(&slot);
        ChildSpec::new("late", move |ctx: &ChildContext| {
            ctx.ready();
            ctx.cancel_token().wait();
            let answer = handle_of(&slot).which_children().map(|c| c.len());
            let _ = tx.lock().unwrap().send(answer);
            Ok::<(), String>(())
        })
        .shutdown(Shutdown::Infinity)
    };
    let sup = Arc::new(Supervisor::builder("stopping").child(spec).start().unwrap());
    slot.set(Arc::downgrade(&sup)).unwrap();
    let report = {
        let sup = Arc::clone(&sup);
        bounded("shutdown", move || sup.shutdown())
    };
    assert!(report.unwrap().abandoned.is_empty());
    assert_eq!(
        rx.recv_timeout(PATIENCE),
        Ok(Err(ChildError::WouldDeadlock))
    );
}

/// `shutdown()` called from inside a child of that supervisor starts the shutdown and
/// returns `WouldDeadlock` at once instead of joining a thread that waits for the caller
/// (a review found a deadlock under `Shutdown::Infinity`); a later `shutdown` from
/// outside joins and reports normally.
#[test]
fn shutdown_from_inside_a_child_does_not_deadlock() {
    let slot: Slot = Arc::default();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let (go, orders) = mpsc::channel::<()>();
    let orders = Mutex::new(orders);
    let spec = {
        let slot = Arc::clone(&slot);
        ChildSpec::new("quitter", move |ctx: &ChildContext| {
            ctx.ready();
            if orders.lock().unwrap().recv().is_ok() {
                let _ = tx.lock().unwrap().send(handle_of(&slot).shutdown());
            }
            ctx.cancel_token().wait();
            Ok::<(), String>(())
        })
        .shutdown(Shutdown::Infinity)
    };
    let sup = Arc::new(Supervisor::builder("selfstop").child(spec).start().unwrap());
    slot.set(Arc::downgrade(&sup)).unwrap();
    go.send(()).unwrap();
    assert!(matches!(
        rx.recv_timeout(PATIENCE),
        Ok(Err(SupervisorError::WouldDeadlock { .. }))
    ));
    let report = {
        let sup = Arc::clone(&sup);
        bounded("shutdown", move || sup.shutdown())
    };
    assert!(report.unwrap().abandoned.is_empty());
}

/// Dropping the last handle from inside a child shuts the supervisor down without
/// joining it from that child (a review found a deadlock under `Shutdown::Infinity`).
#[test]
fn dropping_the_last_handle_inside_a_child_does_not_deadlock() {
    let holder: Arc<Mutex<Option<SupervisorHandle>>> = Arc::default();
    let (go, orders) = mpsc::channel::<()>();
    let orders = Mutex::new(orders);
    let (log, events) = Log::new();
    let spec = {
        let holder = Arc::clone(&holder);
        ChildSpec::new("dropper", move |ctx: &ChildContext| {
            ctx.ready();
            if orders.lock().unwrap().recv().is_ok() {
                let handle = holder.lock().unwrap().take();
                drop(handle);
            }
            ctx.cancel_token().wait();
            Ok::<(), String>(())
        })
        .restart(Restart::Temporary)
        .shutdown(Shutdown::Infinity)
    };
    let sup = Supervisor::builder("dropped")
        .on_event(log.hook())
        .child(spec)
        .start()
        .unwrap();
    *holder.lock().unwrap() = Some(sup);
    go.send(()).unwrap();
    wait_for(&events, |e| matches!(e, Event::ShutdownCompleted { .. }));
}

/// An event listener runs on the supervisor's thread; calling that supervisor from it
/// gets `WouldDeadlock` (a handle call) or `SupervisorError::WouldDeadlock` (shutdown),
/// and the handle still shuts down normally afterwards (a review found the call hung
/// the supervisor, and `shutdown` from the listener lost the join handle).
#[test]
fn an_event_listener_calling_its_supervisor_gets_would_deadlock() {
    let slot: Slot = Arc::default();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let hook = {
        let slot = Arc::clone(&slot);
        move |e: &Event| {
            if let Event::ChildExited { .. } = e {
                let h = handle_of(&slot);
                let call = h.which_children().map(|c| c.len());
                let stop = h.shutdown().map(|_| ());
                let _ = tx.lock().unwrap().send((call, stop));
            }
        }
    };
    let (fail, fails) = mpsc::channel::<()>();
    let fails = Mutex::new(fails);
    let sup = Arc::new(
        Supervisor::builder("listener")
            .on_event(hook)
            .child(ChildSpec::new("c", move |ctx: &ChildContext| {
                ctx.ready();
                if ctx.restart_count() == 0 && fails.lock().unwrap().recv().is_ok() {
                    return Err("boom");
                }
                ctx.cancel_token().wait();
                Ok(())
            }))
            .start()
            .unwrap(),
    );
    slot.set(Arc::downgrade(&sup)).unwrap();
    fail.send(()).unwrap();
    let (call, stop) = rx.recv_timeout(PATIENCE).expect("the listener returned");
    assert_eq!(call, Err(ChildError::WouldDeadlock));
    assert!(matches!(stop, Err(SupervisorError::WouldDeadlock { .. })));
    let report = {
        let sup = Arc::clone(&sup);
        bounded("shutdown", move || sup.shutdown())
    };
    assert!(report.is_ok(), "{report:?}");
}

/// A shutdown that arrives while a restart blocks in its start (waiting on its token
/// before `ready`) fires that child's token, so the start ends and the shutdown
/// completes (a review found the `Stop` was only noted, and the supervisor kept waiting
/// for a `ready` that never came).
#[test]
fn shutdown_while_a_restart_blocks_in_start_cancels_the_starting_child() {
    let (fail, fails) = mpsc::channel::<()>();
    let fails = Mutex::new(fails);
    let (log, events) = Log::new();
    let sup = Arc::new(
        Supervisor::builder("stuck")
            .on_event(log.hook())
            .child(
                ChildSpec::new("c", move |ctx: &ChildContext| {
                    if ctx.restart_count() == 0 {
                        ctx.ready();
                        let _ = fails.lock().unwrap().recv();
                        return Err("boom");
                    }
                    // The restart never gets ready; it waits for its token.
                    ctx.cancel_token().wait();
                    Err("cancelled in start")
                })
                // Only the shutdown may end this start, not a start timeout.
                .start_timeout(Duration::MAX),
            )
            .start()
            .unwrap(),
    );
    fail.send(()).unwrap();
    wait_for(&events, |e| matches!(e, Event::ChildExited { .. }));
    let report = {
        let sup = Arc::clone(&sup);
        bounded("shutdown", move || sup.shutdown())
    };
    assert!(report.unwrap().abandoned.is_empty());
    // What the stopped start returned after its token fired is a shutdown exit, as it
    // would be for a running child.
    let failed: Vec<Event> = log
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::ChildStartFailed { .. }))
        .collect();
    assert_eq!(
        failed,
        [Event::ChildStartFailed {
            child: "c".into(),
            reason: ExitReason::Shutdown,
        }]
    );
}

/// An error whose `Drop` panics.
struct Exploding;

impl fmt::Debug for Exploding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Exploding")
    }
}

impl fmt::Display for Exploding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("exploding error")
    }
}

impl std::error::Error for Exploding {}

impl Drop for Exploding {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("exploding drop");
        }
    }
}

/// A child whose error panics when dropped still reports an (abnormal) exit and is
/// restarted (a review found the error was dropped outside `catch_unwind`: the thread
/// died without an `Exited`, and the supervisor believed the child still ran).
#[test]
fn an_error_whose_drop_panics_is_still_an_exit() {
    let (log, events) = Log::new();
    let sup = Supervisor::builder("drops")
        .on_event(log.hook())
        .child(
            ChildSpec::new("c", |ctx: &ChildContext| {
                ctx.ready();
                if ctx.restart_count() == 0 {
                    return Err(Exploding);
                }
                ctx.cancel_token().wait();
                Ok(())
            })
            .shutdown(Shutdown::Timeout(Duration::from_secs(3600))),
        )
        .start()
        .unwrap();
    wait_for(&events, |e| matches!(e, Event::ChildRestarted { .. }));
    assert!(sup.shutdown().unwrap().abandoned.is_empty());
}

/// Something whose `Drop` panics, captured by a child's body.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("captured state panicked in drop");
        }
    }
}

/// A temporary child's spec is forgotten on the supervisor's thread when it exits; a
/// panic in the `Drop` of what its body captured must not take the supervisor down (a
/// review found the supervisor thread panicked, ending every other child's supervision).
#[test]
fn a_forgotten_spec_whose_drop_panics_does_not_kill_the_supervisor() {
    let (log, events) = Log::new();
    let captured = PanicOnDrop;
    let sup = Supervisor::builder("forget")
        .on_event(log.hook())
        .child(
            ChildSpec::new("once", move |ctx: &ChildContext| {
                let _keep = &captured;
                ctx.ready();
                Ok::<(), String>(())
            })
            .restart(Restart::Temporary),
        )
        .child(ChildSpec::new("other", |ctx: &ChildContext| {
            ctx.ready();
            ctx.cancel_token().wait();
            Ok::<(), String>(())
        }))
        .start()
        .unwrap();
    wait_for(
        &events,
        |e| matches!(e, Event::ChildExited { child, .. } if child == "once"),
    );
    let children = sup.which_children().expect("the supervisor still runs");
    assert_eq!(children.len(), 1);
    assert!(sup.shutdown().is_ok());
}
