//! [`Select`]: wait on several channel operations at once and complete exactly one.

use core::fmt;
use std::time::{Duration, Instant};

use patterns_core::CancelToken;

use crate::channel::{Receiver, Registration, Sender};
use crate::context::{Context, Operation, Selected, Spin};
use crate::error::{RecvError, SendError};
use crate::wait::{Interrupt, Wait};

/// Waits on several receives and sends at once — Go's `select` — and completes exactly
/// one of them.
///
/// Each operand comes with a closure that turns its outcome into the select's result:
/// `recv(&rx, |msg: Result<T, RecvError>| …)`, `send(&tx, value, |res: Result<(),
/// SendError<T>>| …)`. The select completes the first operand that can complete without
/// blocking — a value is there, there is room, a partner waits, or the channel is closed
/// (which completes with the error) — runs its closure, and returns what it returned.
///
/// # Guarantees
///
/// * **Exactly one arm fires**, and the others leave nothing behind: no value is taken
///   from or put into any other channel. On a rendezvous channel a select never pairs its
///   own send with its own receive.
/// * **Fair by default**: the operands are tried in a fresh random order every time, so
///   no ready operand is starved. [`biased`](Select::biased) tries them in the order they
///   were added.
/// * **Nothing is lost**: a send that fails because its channel is closed gives the value
///   to its closure. The values of send operands that did not fire are dropped with the
///   select, as Go drops them; keep a copy if a timed-out select must retry them.
/// * No operand ready: [`wait`](Select::wait) parks (no CPU) until one is; the
///   [`try_wait`](Select::try_wait), [`wait_timeout`](Select::wait_timeout),
///   [`wait_deadline`](Select::wait_deadline) and
///   [`wait_cancellable`](Select::wait_cancellable) variants bound the wait.
///
/// # Examples
///
/// ```
/// use bounded_buffer::{channel, Select};
/// use std::time::Duration;
///
/// enum Event {
///     Job(u32),
///     Shutdown,
/// }
///
/// let (jobs, job_rx) = channel(8);
/// let (stop, stop_rx) = channel::<()>(1);
/// jobs.send(7).unwrap();
/// let event = Select::new()
///     .recv(&job_rx, |job| Event::Job(job.unwrap()))
///     .recv(&stop_rx, |_| Event::Shutdown)
///     .wait_timeout(Duration::from_secs(1));
/// assert!(matches!(event, Ok(Event::Job(7))));
///
/// stop.send(()).unwrap();
/// let event = Select::new()
///     .recv(&job_rx, |job| Event::Job(job.unwrap()))
///     .recv(&stop_rx, |_| Event::Shutdown)
///     .wait_timeout(Duration::from_secs(1));
/// assert!(matches!(event, Ok(Event::Shutdown)));
/// # drop(jobs);
/// ```
#[must_use = "a select does nothing until one of its `wait` methods runs"]
pub struct Select<'a, R> {
    operands: Vec<Box<dyn Operand<R> + 'a>>,
    biased: bool,
}

/// One operand: the select drives it through try → register → (wake) → complete or undo.
trait Operand<R> {
    /// Completes now if that needs no waiting, running the closure.
    fn try_fire(&mut self) -> Option<R>;
    /// Registers a wake-up under `oper`; false if the operation could complete now.
    fn register(&mut self, oper: Operation, cx: &Context) -> bool;
    /// Undoes a registration that was not selected.
    fn unregister(&mut self, oper: Operation);
    /// Completes after being selected (the select's context is `cx`); `None` if the
    /// wake-up was only a hint and another thread got there first.
    fn fire_selected(&mut self, cx: &Context) -> Option<R>;
}

struct RecvOperand<'a, T, F> {
    rx: &'a Receiver<T>,
    then: Option<F>,
    registration: Option<Registration<T>>,
}

struct SendOperand<'a, T, F> {
    tx: &'a Sender<T>,
    msg: Option<T>,
    then: Option<F>,
    registration: Option<Registration<T>>,
}

impl<T, F, R> Operand<R> for RecvOperand<'_, T, F>
where
    F: FnOnce(Result<T, RecvError>) -> R,
{
    fn try_fire(&mut self) -> Option<R> {
        let outcome = self.rx.select_try()?;
        Some(self.fire(outcome))
    }

    fn register(&mut self, oper: Operation, cx: &Context) -> bool {
        self.registration = self.rx.select_register(oper, cx);
        self.registration.is_some()
    }

    fn unregister(&mut self, oper: Operation) {
        if self.registration.take().is_some() {
            self.rx.select_unregister(oper);
        }
    }

    fn fire_selected(&mut self, cx: &Context) -> Option<R> {
        let registration = self.registration.take()?;
        let outcome = self.rx.select_complete(registration, cx)?;
        Some(self.fire(outcome))
    }
}

impl<T, F> RecvOperand<'_, T, F> {
    fn fire<R>(&mut self, outcome: Result<T, RecvError>) -> R
    where
        F: FnOnce(Result<T, RecvError>) -> R,
    {
        let then = self.then.take().expect("a select fires one operand once");
        then(outcome)
    }
}

impl<T, F, R> Operand<R> for SendOperand<'_, T, F>
where
    F: FnOnce(Result<(), SendError<T>>) -> R,
{
    fn try_fire(&mut self) -> Option<R> {
        let outcome = self.tx.select_try(&mut self.msg)?;
        Some(self.fire(outcome))
    }

    fn register(&mut self, oper: Operation, cx: &Context) -> bool {
        self.registration = self.tx.select_register(&mut self.msg, oper, cx);
        self.registration.is_some()
    }

    fn unregister(&mut self, oper: Operation) {
        if let Some(registration) = self.registration.take() {
            self.tx.select_undo(oper, registration, &mut self.msg);
        }
    }

    fn fire_selected(&mut self, _cx: &Context) -> Option<R> {
        let registration = self.registration.take()?;
        let outcome = self.tx.select_complete(registration, &mut self.msg)?;
        Some(self.fire(outcome))
    }
}

impl<T, F> SendOperand<'_, T, F> {
    fn fire<R>(&mut self, outcome: Result<(), SendError<T>>) -> R
    where
        F: FnOnce(Result<(), SendError<T>>) -> R,
    {
        let then = self.then.take().expect("a select fires one operand once");
        then(outcome)
    }
}

impl<'a, R> Select<'a, R> {
    /// An empty, fair select.
    pub fn new() -> Self {
        Select {
            operands: Vec::new(),
            biased: false,
        }
    }

    /// Tries the operands in the order they were added, instead of a random one: the
    /// first ready operand always wins (a priority order; later ones can starve).
    pub fn biased(mut self) -> Self {
        self.biased = true;
        self
    }

    /// Adds a receive from `rx`; if it fires, `then` gets the value, or [`RecvError`] if
    /// the channel is closed and drained.
    pub fn recv<T, F>(mut self, rx: &'a Receiver<T>, then: F) -> Self
    where
        T: 'a,
        F: FnOnce(Result<T, RecvError>) -> R + 'a,
    {
        self.operands.push(Box::new(RecvOperand {
            rx,
            then: Some(then),
            registration: None,
        }));
        self
    }

    /// Adds a send of `msg` on `tx`; if it fires, `then` gets `Ok(())`, or the value back
    /// in a [`SendError`] if the channel is closed.
    pub fn send<T, F>(mut self, tx: &'a Sender<T>, msg: T, then: F) -> Self
    where
        T: 'a,
        F: FnOnce(Result<(), SendError<T>>) -> R + 'a,
    {
        self.operands.push(Box::new(SendOperand {
            tx,
            msg: Some(msg),
            then: Some(then),
            registration: None,
        }));
        self
    }

    /// Blocks until one operand fires, and returns its closure's result.
    ///
    /// # Panics
    ///
    /// If no operand was added: such a select could never return.
    pub fn wait(self) -> R {
        assert!(
            !self.operands.is_empty(),
            "Select::wait with no operands would block forever"
        );
        match self.run(Some(Wait::Forever)) {
            Ok(result) => result,
            Err(_) => unreachable!("an unbounded select returns only when an operand fires"),
        }
    }

    /// Fires an operand that is ready now, if any; never blocks.
    ///
    /// # Errors
    ///
    /// [`TrySelectError`] if no operand was ready.
    pub fn try_wait(self) -> Result<R, TrySelectError> {
        self.run(None).map_err(|_| TrySelectError)
    }

    /// Blocks at most `timeout` for an operand to fire.
    ///
    /// # Errors
    ///
    /// [`SelectTimeoutError`] if none fired in time.
    pub fn wait_timeout(self, timeout: Duration) -> Result<R, SelectTimeoutError> {
        self.run(Some(Wait::timeout(timeout)))
            .map_err(|_| SelectTimeoutError)
    }

    /// Blocks until `deadline` at most for an operand to fire.
    ///
    /// # Errors
    ///
    /// [`SelectTimeoutError`] if none fired in time.
    pub fn wait_deadline(self, deadline: Instant) -> Result<R, SelectTimeoutError> {
        self.run(Some(Wait::Until(deadline)))
            .map_err(|_| SelectTimeoutError)
    }

    /// Blocks until an operand fires or `token` fires (or its deadline passes).
    ///
    /// # Errors
    ///
    /// [`SelectCancelError`] if the token fired first.
    pub fn wait_cancellable(self, token: &CancelToken) -> Result<R, SelectCancelError> {
        self.run(Some(Wait::Cancellable(token)))
            .map_err(|_| SelectCancelError)
    }

    /// The one implementation under every `wait`: `None` never blocks.
    fn run(mut self, wait: Option<Wait<'_>>) -> Result<R, Interrupt> {
        let mut order: Vec<usize> = (0..self.operands.len()).collect();
        loop {
            if !self.biased {
                shuffle(&mut order);
            }
            for &i in &order {
                if let Some(result) = self.operands[i].try_fire() {
                    return Ok(result);
                }
            }
            let Some(wait) = wait else {
                return Err(Interrupt::TimedOut);
            };
            if let Some(interrupt) = wait.interrupted() {
                return Err(interrupt);
            }
            if let Some(result) = self.park(&order, wait) {
                return Ok(result);
            }
        }
    }

    /// Registers every operand, parks until one is selected (or the wait ends, or one
    /// turns out ready while registering), unregisters the rest, and completes the
    /// selected one if the wake-up carried it.
    fn park(&mut self, order: &[usize], wait: Wait<'_>) -> Option<R> {
        // The selected operand completes, and runs its closure, inside `with`: a zero
        // channel's receive still waits on `cx` for its value, and a closure that blocks
        // again simply gets a context of its own.
        Context::with(|cx| {
            let opers: Vec<Operation> = self
                .operands
                .iter()
                .map(Operation::hook) // each operand's slot in the vector, which stays put
                .collect();
            let mut registered = Vec::with_capacity(order.len());
            for &i in order {
                if !self.operands[i].register(opers[i], cx) {
                    let _ = cx.try_select(Selected::Aborted);
                    break;
                }
                registered.push(i);
            }
            let selected = cx.wait_until(wait, Spin::Never);
            let mut fired = None;
            for i in registered {
                if selected == Selected::Operation(opers[i]) {
                    fired = Some(i);
                } else {
                    self.operands[i].unregister(opers[i]);
                }
            }
            fired.and_then(|i| self.operands[i].fire_selected(cx))
        })
    }
}

/// A random permutation, for fairness. Under loom the order stays as it is: a model must
/// replay the same choices on every run.
fn shuffle(order: &mut [usize]) {
    if cfg!(loom) {
        return;
    }
    fastrand::shuffle(order);
}

impl<R> Default for Select<'_, R> {
    fn default() -> Self {
        Select::new()
    }
}

impl<R> fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operands", &self.operands.len())
            .field("biased", &self.biased)
            .finish()
    }
}

/// [`Select::try_wait`] found no operand ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("no select operation was ready")]
pub struct TrySelectError;

/// [`Select::wait_timeout`] or [`Select::wait_deadline`] ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("timed out waiting for a select operation")]
pub struct SelectTimeoutError;

/// [`Select::wait_cancellable`]'s token fired first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("cancelled while waiting for a select operation")]
pub struct SelectCancelError;
