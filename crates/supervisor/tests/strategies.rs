//! Every strategy × restart type × way of ending, with children that end on command.

mod common;

use std::time::Duration;

use supervisor::{ChildState, Event, ExitReason, Restart, Strategy, Supervisor};

use common::{ordered_log, wait_for, Log, Order, Steered};

/// Three children a, b, c; b has restart type `restart` and ends by `order`; a and c are
/// permanent. Returns what the children logged after b's exit, and b's state (None if
/// it was forgotten).
fn case(strategy: Strategy, restart: Restart, order: Order) -> (Vec<String>, Option<ChildState>) {
    let log = ordered_log();
    let (a, b, c) = (Steered::new(), Steered::new(), Steered::new());
    let (events, rx) = Log::new();
    let sup = Supervisor::builder("matrix")
        .strategy(strategy)
        .intensity(10, Duration::from_secs(3600))
        .on_event(events.hook())
        .child(a.spec("a", &log))
        .child(b.spec("b", &log).restart(restart))
        .child(c.spec("c", &log))
        .start()
        .unwrap();
    assert_eq!(*log.lock().unwrap(), ["start:a", "start:b", "start:c"]);

    let abnormal = !matches!(order, Order::Exit);
    let restarted = match restart {
        Restart::Permanent => true,
        Restart::Transient => abnormal,
        Restart::Temporary => false,
    };
    b.orders.send(order).unwrap();
    if restarted {
        let last = if strategy == Strategy::OneForOne {
            "b"
        } else {
            "c"
        };
        wait_for(
            &rx,
            |e| matches!(e, Event::ChildRestarted { child, .. } if child == last),
        );
    } else {
        wait_for(
            &rx,
            |e| matches!(e, Event::ChildExited { child, .. } if child == "b"),
        );
    }
    let children = sup.which_children().unwrap();
    let b_state = children.iter().find(|c| c.name == "b").map(|c| c.state);
    let after = log.lock().unwrap()[3..].to_vec();
    sup.shutdown().unwrap();
    (after, b_state)
}

#[test]
fn every_strategy_and_restart_type() {
    for strategy in [
        Strategy::OneForOne,
        Strategy::OneForAll,
        Strategy::RestForOne,
    ] {
        for restart in [Restart::Permanent, Restart::Transient, Restart::Temporary] {
            for order in [Order::Fail, Order::Exit, Order::Panic("b panicked")] {
                let abnormal = !matches!(order, Order::Exit);
                let restarted = match restart {
                    Restart::Permanent => true,
                    Restart::Transient => abnormal,
                    Restart::Temporary => false,
                };
                let what = format!("{strategy:?} {restart:?} {order:?}");
                let (after, b_state) = case(strategy, restart, order);
                let expected: &[&str] = match (restarted, strategy) {
                    (false, _) => &["exit:b"],
                    (true, Strategy::OneForOne) => &["exit:b", "start:b"],
                    (true, Strategy::OneForAll) => &[
                        "exit:b", "stop:c", "stop:a", "start:a", "start:b", "start:c",
                    ],
                    (true, Strategy::RestForOne) => &["exit:b", "stop:c", "start:b", "start:c"],
                };
                assert_eq!(after, expected, "{what}");
                let expected_state = match (restarted, restart) {
                    (true, _) => Some(ChildState::Running),
                    (false, Restart::Temporary) => None,
                    (false, _) => Some(ChildState::Stopped),
                };
                assert_eq!(b_state, expected_state, "{what}");
            }
        }
    }
}

#[test]
fn a_temporary_sibling_brought_down_by_a_group_restart_is_forgotten() {
    let log = ordered_log();
    let (a, t) = (Steered::new(), Steered::new());
    let (events, rx) = Log::new();
    let sup = Supervisor::builder("temp")
        .strategy(Strategy::OneForAll)
        .intensity(10, Duration::from_secs(3600))
        .on_event(events.hook())
        .child(a.spec("a", &log))
        .child(t.spec("t", &log).restart(Restart::Temporary))
        .start()
        .unwrap();
    a.orders.send(Order::Fail).unwrap();
    wait_for(
        &rx,
        |e| matches!(e, Event::ChildRestarted { child, .. } if child == "a"),
    );
    let children = sup.which_children().unwrap();
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(children[0].name, "a");
    assert_eq!(
        *log.lock().unwrap(),
        ["start:a", "start:t", "exit:a", "stop:t", "start:a"]
    );
    sup.shutdown().unwrap();
}

#[test]
fn exit_reasons_reach_which_children_and_events() {
    let log = ordered_log();
    let a = Steered::new();
    let (events, rx) = Log::new();
    let sup = Supervisor::builder("reasons")
        .intensity(10, Duration::from_secs(3600))
        .on_event(events.hook())
        .child(a.spec("a", &log))
        .start()
        .unwrap();
    a.orders.send(Order::Panic("disk on fire")).unwrap();
    let exited = wait_for(&rx, |e| matches!(e, Event::ChildExited { .. }));
    assert_eq!(
        exited,
        Event::ChildExited {
            child: "a".into(),
            reason: ExitReason::Panic("disk on fire".into())
        }
    );
    let restarted = wait_for(&rx, |e| matches!(e, Event::ChildRestarted { .. }));
    assert_eq!(
        restarted,
        Event::ChildRestarted {
            child: "a".into(),
            attempt: 1,
            after: Duration::ZERO
        }
    );
    a.orders.send(Order::Fail).unwrap();
    wait_for(&rx, |e| {
        matches!(e, Event::ChildRestarted { attempt: 2, .. })
    });
    let info = &sup.which_children().unwrap()[0];
    assert_eq!(info.restarts, 2);
    assert_eq!(info.last_exit, Some(ExitReason::Error("a failed".into())));
    sup.shutdown().unwrap();
    let events = events.events();
    assert!(matches!(
        events.last(),
        Some(Event::ShutdownCompleted { abandoned: 0 })
    ));
}
