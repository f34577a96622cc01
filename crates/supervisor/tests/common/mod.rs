//! What the supervisor tests share.
#![allow(dead_code)] // Each test file uses its own part.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use supervisor::{ChildContext, ChildSpec, Event};

/// How long a test waits for something that should happen at once: generous, so a
/// loaded machine does not fail it.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// Waits until `check` holds, for [`PATIENCE`] at most; false if it never did.
pub(crate) fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::yield_now();
    }
    check()
}

/// Every event a supervisor emitted, in order, shared with the test.
#[derive(Clone, Default)]
pub(crate) struct Log {
    events: Arc<Mutex<Vec<Event>>>,
    tx: Arc<Mutex<Option<Sender<Event>>>>,
}

impl Log {
    pub(crate) fn new() -> (Log, Receiver<Event>) {
        let (tx, rx) = mpsc::channel();
        let log = Log {
            events: Arc::default(),
            tx: Arc::new(Mutex::new(Some(tx))),
        };
        (log, rx)
    }

    pub(crate) fn hook(&self) -> impl Fn(&Event) + Send + Sync + 'static {
        let log = self.clone();
        move |e: &Event| {
            log.events.lock().unwrap().push(e.clone());
            if let Some(tx) = &*log.tx.lock().unwrap() {
                let _ = tx.send(e.clone());
            }
        }
    }

    pub(crate) fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

/// Waits for the next event matching `want`, skipping others; panics after [`PATIENCE`].
pub(crate) fn wait_for(rx: &Receiver<Event>, want: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) if want(&e) => return e,
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => panic!("no matching event within {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the supervisor's events ended"),
        }
    }
}

/// What a steered child is told to do.
#[derive(Debug, Clone)]
pub(crate) enum Order {
    /// Return `Err`.
    Fail,
    /// Return `Ok`.
    Exit,
    /// Panic with this text.
    Panic(&'static str),
}

/// A child steered through a channel: it calls `ready`, then waits for an order or its
/// token, and records its starts in `starts`.
pub(crate) struct Steered {
    pub(crate) orders: Sender<Order>,
    rx: Arc<Mutex<Receiver<Order>>>,
}

impl Steered {
    pub(crate) fn new() -> Steered {
        let (orders, rx) = mpsc::channel();
        Steered {
            orders,
            rx: Arc::new(Mutex::new(rx)),
        }
    }

    /// A spec for a child named `name` that logs `start:<name>` and `stop:<name>` to `log`.
    pub(crate) fn spec(&self, name: &str, log: &Arc<Mutex<Vec<String>>>) -> ChildSpec {
        let rx = Arc::clone(&self.rx);
        let log = Arc::clone(log);
        let me = name.to_owned();
        ChildSpec::new(name, move |ctx: &ChildContext| -> Result<(), String> {
            log.lock().unwrap().push(format!("start:{me}"));
            ctx.ready();
            let order = loop {
                if ctx.is_stopping() {
                    log.lock().unwrap().push(format!("stop:{me}"));
                    return Ok(());
                }
                // Polls the orders so that the token is seen too: 1 ms turns, no sleep.
                match rx.lock().unwrap().recv_timeout(Duration::from_millis(1)) {
                    Ok(order) => break order,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        ctx.cancel_token().wait();
                    }
                }
            };
            log.lock().unwrap().push(format!("exit:{me}"));
            match order {
                Order::Fail => Err(format!("{me} failed")),
                Order::Exit => Ok(()),
                Order::Panic(text) => panic!("{text}"),
            }
        })
    }
}

/// An ordered log shared by children.
pub(crate) fn ordered_log() -> Arc<Mutex<Vec<String>>> {
    Arc::default()
}

/// The names of this process's threads whose name starts with `prefix`.
pub(crate) fn threads_named(prefix: &str) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .filter(|name| name.starts_with(prefix))
        .collect()
}
