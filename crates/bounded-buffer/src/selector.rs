//! [`Selector`]: a [`Select`] whose operands each come with the closure that handles
//! their outcome — flume's `Selector`, for one wait.

use core::fmt;
use std::time::{Duration, Instant};

use patterns_core::CancelToken;

use crate::channel::{Receiver, Sender};
use crate::error::{RecvError, SendError};
use crate::select::{
    Select, SelectCancelError, SelectTimeoutError, SelectedOperation, TrySelectError,
};

/// Waits on several receives and sends and completes exactly one, handing its outcome to
/// that operand's closure: `recv(&rx, |msg: Result<T, RecvError>| …)`,
/// `send(&tx, &mut value, |sent: Result<(), SendError<T>>| …)`. The wait returns what
/// the closure returned.
///
/// A send's value stays in the caller's `Option` until the send completes: if another
/// operand, the time-out or the non-blocking default fires, it is still there to retry
/// or keep; an operand whose `Option` is `None` is left out, which disables it. A send
/// on a closed channel takes the value and hands it to the closure in its error.
///
/// Everything [`Select`] guarantees holds: exactly one operand completes, fairly (or in
/// order, [`biased`](Selector::biased)), and a non-blocking wait reports nothing ready
/// only if nothing was, at some instant of the call.
///
/// # Examples
///
/// ```
/// use bounded_buffer::{channel, Selector};
/// use std::time::Duration;
///
/// enum Event {
///     Job(u32),
///     Shutdown,
///     Sent,
/// }
///
/// let (jobs, job_rx) = channel(8);
/// let (stop, stop_rx) = channel::<()>(1);
/// let (log, log_rx) = channel::<String>(1);
/// log.send("full".to_owned()).unwrap();
/// let mut line = Some("hello".to_owned());
/// jobs.send(7).unwrap();
/// let event = Selector::new()
///     .recv(&job_rx, |job| Event::Job(job.unwrap()))
///     .recv(&stop_rx, |_| Event::Shutdown)
///     .send(&log, &mut line, |_| Event::Sent)
///     .wait_timeout(Duration::from_secs(1));
/// assert!(matches!(event, Ok(Event::Job(7))));
/// assert_eq!(line.as_deref(), Some("hello"), "the log was full: the line is still ours");
/// # drop((stop, log_rx));
/// ```
#[must_use = "a selector does nothing until one of its `wait` methods runs"]
pub struct Selector<'a, R> {
    select: Select<'a>,
    /// By operand index.
    arms: Vec<Box<dyn Arm<R> + 'a>>,
}

/// One operand's completion and closure.
trait Arm<R> {
    fn fire(self: Box<Self>, oper: SelectedOperation<'_>) -> R;
}

struct RecvArm<'a, T, F> {
    rx: &'a Receiver<T>,
    then: F,
}

struct SendArm<'a, T, F> {
    tx: &'a Sender<T>,
    msg: &'a mut Option<T>,
    then: F,
}

impl<T, F, R> Arm<R> for RecvArm<'_, T, F>
where
    F: FnOnce(Result<T, RecvError>) -> R,
{
    fn fire(self: Box<Self>, oper: SelectedOperation<'_>) -> R {
        (self.then)(oper.recv(self.rx))
    }
}

impl<T, F, R> Arm<R> for SendArm<'_, T, F>
where
    F: FnOnce(Result<(), SendError<T>>) -> R,
{
    fn fire(self: Box<Self>, oper: SelectedOperation<'_>) -> R {
        let msg = self
            .msg
            .take()
            .expect("only a send with a value is an operand");
        (self.then)(oper.send(self.tx, msg))
    }
}

impl<'a, R> Selector<'a, R> {
    /// An empty, fair selector.
    pub fn new() -> Self {
        Selector {
            select: Select::new(),
            arms: Vec::new(),
        }
    }

    /// Tries the operands in the order they were added, instead of a random one: the
    /// first ready operand always wins (a priority order; later ones can starve).
    pub fn biased(mut self) -> Self {
        self.select.set_biased();
        self
    }

    /// Adds a receive from `rx`; if it fires, `then` gets the value, or [`RecvError`] if
    /// the channel is closed and drained.
    pub fn recv<T, F>(mut self, rx: &'a Receiver<T>, then: F) -> Self
    where
        T: 'a,
        F: FnOnce(Result<T, RecvError>) -> R + 'a,
    {
        self.select.recv(rx);
        self.arms.push(Box::new(RecvArm { rx, then }));
        self
    }

    /// Adds a send of the value in `msg` on `tx`, if there is one (else the operand is
    /// left out). If it fires, the value is taken and `then` gets `Ok(())`, or the value
    /// back in a [`SendError`] if the channel is closed; if it does not, the value stays
    /// in `msg`.
    pub fn send<T, F>(mut self, tx: &'a Sender<T>, msg: &'a mut Option<T>, then: F) -> Self
    where
        T: 'a,
        F: FnOnce(Result<(), SendError<T>>) -> R + 'a,
    {
        if msg.is_some() {
            self.select.send(tx);
            self.arms.push(Box::new(SendArm { tx, msg, then }));
        }
        self
    }

    /// Blocks until one operand fires, and returns its closure's result.
    ///
    /// # Panics
    ///
    /// If no operand was added: such a wait could never return.
    pub fn wait(mut self) -> R {
        let oper = self.select.select();
        self.fire(oper)
    }

    /// Fires an operand that is ready now, if any; never blocks.
    ///
    /// # Errors
    ///
    /// [`TrySelectError`] if no operand was ready.
    pub fn try_wait(mut self) -> Result<R, TrySelectError> {
        let oper = self.select.try_select()?;
        Ok(self.fire(oper))
    }

    /// Blocks at most `timeout` for an operand to fire.
    ///
    /// # Errors
    ///
    /// [`SelectTimeoutError`] if none fired in time.
    pub fn wait_timeout(mut self, timeout: Duration) -> Result<R, SelectTimeoutError> {
        let oper = self.select.select_timeout(timeout)?;
        Ok(self.fire(oper))
    }

    /// Blocks until `deadline` at most for an operand to fire.
    ///
    /// # Errors
    ///
    /// [`SelectTimeoutError`] if none fired in time.
    pub fn wait_deadline(mut self, deadline: Instant) -> Result<R, SelectTimeoutError> {
        let oper = self.select.select_deadline(deadline)?;
        Ok(self.fire(oper))
    }

    /// Blocks until an operand fires or `token` fires (or its deadline passes).
    ///
    /// # Errors
    ///
    /// [`SelectCancelError`] if the token fired first.
    pub fn wait_cancellable(mut self, token: &CancelToken) -> Result<R, SelectCancelError> {
        let oper = self.select.select_cancellable(token)?;
        Ok(self.fire(oper))
    }

    fn fire(&mut self, oper: SelectedOperation<'_>) -> R {
        let arm = self.arms.swap_remove(oper.index());
        arm.fire(oper)
    }
}

impl<R> Default for Selector<'_, R> {
    fn default() -> Self {
        Selector::new()
    }
}

impl<R> fmt::Debug for Selector<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selector")
            .field("select", &self.select)
            .finish_non_exhaustive()
    }
}
