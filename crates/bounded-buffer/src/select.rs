//! [`Select`]: wait on several channel operations at once, built once and waited on as
//! often as needed; one operation is selected each time, and completed through its
//! [`SelectedOperation`].

use core::fmt;
use core::marker::PhantomData;
use std::time::{Duration, Instant};

use patterns_core::CancelToken;

use crate::channel::{Chan, Receiver, Sender};
use crate::context::{Context, Operation, Selected, Side, Spin};
use crate::error::{RecvError, SendError};
use crate::operand::{Registration, Token};
use crate::wait::{Interrupt, Wait};

/// Waits on several receives and sends at once — Go's `select`, crossbeam's `Select` —
/// and selects exactly one of them each time, to be completed through the
/// [`SelectedOperation`] it returns.
///
/// A `Select` is built once ([`recv`](Select::recv) and [`send`](Select::send) add
/// operands, each with an index) and waited on as often as needed
/// ([`select`](Select::select) and its bounded forms). Selecting an operation claims it:
/// the value to receive, or the room (or the waiting receiver) to send to, is set aside
/// for it, and nothing else can take it. A send's value is only given when the operation
/// is completed, with [`SelectedOperation::send`], so the values of sends that are not
/// selected are never taken from the caller at all.
///
/// [`select!`](crate::select!) writes the loop below for you, and
/// [`Selector`](crate::Selector) pairs each operand with a closure.
///
/// # Guarantees
///
/// * **Exactly one operation is selected** per wait; the others are left untouched.
/// * **Fair by default**: operands are tried in a fresh random order each time, so no
///   ready operand is starved; [`new_biased`](Select::new_biased) tries them in the
///   order they were added.
/// * **Non-blocking waits are linearizable**: [`try_select`](Select::try_select) (and a
///   bounded wait that runs out) report nothing ready only if there was an instant,
///   during the call, when no operand was ready: before giving up they re-read every
///   operand's state and try again if any changed while they looked.
/// * A closed channel's operand is ready: its operation completes with the error (a
///   send's value comes back in it).
/// * A select never pairs its own send with its own receive on a rendezvous channel.
///
/// # Complete promptly
///
/// A selected operation holds what it claimed until it completes: a receiver that wants
/// the next value of a ring waits for a claimed slot, and a rendezvous receiver paired
/// with a selected send waits for its value. Complete it right away. Dropping a
/// `SelectedOperation` without completing it gives its claim up: a receive's value is
/// dropped, a send's room or partner released.
///
/// # Examples
///
/// ```
/// use bounded_buffer::{channel, Select};
///
/// let (jobs_tx, jobs) = channel::<u32>(8);
/// let (stop_tx, stop) = channel::<()>(1);
/// jobs_tx.send_many(vec![1, 2, 3]).unwrap();
/// stop_tx.send(()).unwrap();
///
/// let mut sel = Select::new_biased(); // jobs first, then the stop signal
/// let job = sel.recv(&jobs);
/// let quit = sel.recv(&stop);
/// let mut done = Vec::new();
/// loop {
///     let oper = sel.select();
///     match oper.index() {
///         i if i == job => done.push(oper.recv(&jobs).unwrap()),
///         i if i == quit => {
///             oper.recv(&stop).unwrap();
///             break;
///         }
///         _ => unreachable!(),
///     }
/// }
/// assert_eq!(done, [1, 2, 3]);
/// ```
pub struct Select<'a> {
    operands: Vec<Entry<'a>>,
    next_index: usize,
    biased: bool,
    /// The order operands are tried in, kept between waits.
    order: Vec<usize>,
    /// Each operand's version before its try (see `Select::run`), kept between waits.
    versions: Vec<[usize; 2]>,
}

struct Entry<'a> {
    index: usize,
    /// Boxed: its address is the operation's id while it is registered.
    operand: Box<dyn Operand<'a> + 'a>,
}

/// One operand, whatever its channel's value type.
trait Operand<'a> {
    fn chan(&self) -> *const ();
    fn side(&self) -> Side;
    fn claim(&self) -> Option<Token>;
    fn version(&self) -> [usize; 2];
    fn due(&self) -> Option<Instant>;
    /// Registers under `oper`; false if the operation is ready after all.
    fn register(&mut self, oper: Operation, cx: &Context) -> bool;
    fn unregister(&mut self, oper: Operation);
    /// After a wake-up for this registration: the token, or `None` to try again.
    fn accept(&mut self, cx: &Context) -> Option<Token>;
    /// Gives up a token this operand claimed.
    fn abandoner(&self) -> Abandon;
}

/// Gives up a token claimed on the channel at the pointer (a `Chan<T>`) for the side.
type Abandon = unsafe fn(*const (), Side, Token);

/// An operand on the channel `chan`, receiving or sending.
struct Typed<'a, T> {
    chan: &'a Chan<T>,
    side: Side,
    registration: Option<Registration<T>>,
}

impl<'a, T> Operand<'a> for Typed<'a, T> {
    fn chan(&self) -> *const () {
        (self.chan as *const Chan<T>).cast()
    }

    fn side(&self) -> Side {
        self.side
    }

    fn claim(&self) -> Option<Token> {
        self.chan.select_claim(self.side)
    }

    fn version(&self) -> [usize; 2] {
        self.chan.select_version()
    }

    fn due(&self) -> Option<Instant> {
        self.chan.select_due()
    }

    fn register(&mut self, oper: Operation, cx: &Context) -> bool {
        self.registration = self.chan.select_register(self.side, oper, cx);
        self.registration.is_some()
    }

    fn unregister(&mut self, oper: Operation) {
        if self.registration.take().is_some() {
            self.chan.select_unregister(self.side, oper);
        }
    }

    fn accept(&mut self, cx: &Context) -> Option<Token> {
        let registration = self.registration.take()?;
        self.chan.select_accept(self.side, registration, cx)
    }

    fn abandoner(&self) -> Abandon {
        abandon::<T>
    }
}

/// # Safety
///
/// `chan` points to the live `Chan<T>` on which `token` was claimed for `side`.
unsafe fn abandon<T>(chan: *const (), side: Side, token: Token) {
    // SAFETY: the caller's contract.
    unsafe { (*chan.cast::<Chan<T>>()).select_abandon(side, token) }
}

impl<'a> Select<'a> {
    /// An empty, fair select.
    pub fn new() -> Self {
        Select {
            operands: Vec::new(),
            next_index: 0,
            biased: false,
            order: Vec::new(),
            versions: Vec::new(),
        }
    }

    /// An empty select that tries its operands in the order they were added: the first
    /// ready operand always wins (a priority order; later ones can starve).
    pub fn new_biased() -> Self {
        Select {
            biased: true,
            ..Select::new()
        }
    }

    /// Makes the select try its operands in the order they were added.
    pub(crate) fn set_biased(&mut self) {
        self.biased = true;
    }

    /// Adds a receive from `rx`; returns its index, which
    /// [`SelectedOperation::index`] reports when it is selected.
    pub fn recv<T: 'a>(&mut self, rx: &'a Receiver<T>) -> usize {
        self.add(rx.chan(), Side::Receivers)
    }

    /// Adds a send on `tx` (the value is given when it is completed, with
    /// [`SelectedOperation::send`]); returns its index.
    pub fn send<T: 'a>(&mut self, tx: &'a Sender<T>) -> usize {
        self.add(tx.chan(), Side::Senders)
    }

    fn add<T: 'a>(&mut self, chan: &'a Chan<T>, side: Side) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.operands.push(Entry {
            index,
            operand: Box::new(Typed {
                chan,
                side,
                registration: None,
            }),
        });
        index
    }

    /// Removes the operand at `index` (indices of the others do not change). Returns
    /// false if there was none.
    pub fn remove(&mut self, index: usize) -> bool {
        match self.operands.iter().position(|e| e.index == index) {
            Some(at) => {
                self.operands.remove(at);
                true
            }
            None => false,
        }
    }

    /// Selects an operation that is ready now, if any; never blocks.
    ///
    /// # Errors
    ///
    /// [`TrySelectError`] if no operand was ready (see *Guarantees*).
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        self.run(None).map_err(|_| TrySelectError)
    }

    /// Blocks until an operation is ready, and selects it.
    ///
    /// # Panics
    ///
    /// If the select has no operand: it could never return.
    pub fn select(&mut self) -> SelectedOperation<'a> {
        assert!(
            !self.operands.is_empty(),
            "Select::select with no operand would block for ever"
        );
        match self.run(Some(Wait::Forever)) {
            Ok(oper) => oper,
            Err(_) => unreachable!("an unbounded select returns only with an operation"),
        }
    }

    /// Blocks at most `timeout` for an operation to be ready.
    ///
    /// # Errors
    ///
    /// [`SelectTimeoutError`] if none was in time.
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.run(Some(Wait::timeout(timeout)))
            .map_err(|_| SelectTimeoutError)
    }

    /// Blocks until `deadline` at most for an operation to be ready.
    ///
    /// # Errors
    ///
    /// [`SelectTimeoutError`] if none was in time.
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        self.run(Some(Wait::Until(deadline)))
            .map_err(|_| SelectTimeoutError)
    }

    /// Blocks until an operation is ready or `token` fires (or its deadline passes).
    ///
    /// # Errors
    ///
    /// [`SelectCancelError`] if the token fired first.
    pub fn select_cancellable(
        &mut self,
        token: &CancelToken,
    ) -> Result<SelectedOperation<'a>, SelectCancelError> {
        self.run(Some(Wait::Cancellable(token)))
            .map_err(|_| SelectCancelError)
    }

    /// The one implementation under every wait: `None` never blocks.
    ///
    /// Each round reads every operand's version, then tries it. Before giving up it
    /// reads the versions again: if none changed, every operand was unready from its
    /// first reading to its second, which all overlap at the end of the round — an
    /// instant when nothing was ready. If one changed, the round runs again.
    fn run(&mut self, wait: Option<Wait<'_>>) -> Result<SelectedOperation<'a>, Interrupt> {
        self.order.clear();
        self.order.extend(0..self.operands.len());
        if !self.biased {
            shuffle(&mut self.order);
        }
        self.versions.resize(self.operands.len(), [0; 2]);
        loop {
            for (k, &at) in self.order.iter().enumerate() {
                let operand = &self.operands[at].operand;
                self.versions[k] = operand.version();
                if let Some(token) = operand.claim() {
                    return Ok(self.selected(at, token));
                }
            }
            let give_up = match wait {
                None => Some(Interrupt::TimedOut),
                Some(wait) => wait.interrupted(),
            };
            if let Some(interrupt) = give_up {
                if self.unchanged() {
                    return Err(interrupt);
                }
                continue;
            }
            if let Some(oper) = self.park(wait.expect("a wait that may block")) {
                return Ok(oper);
            }
        }
    }

    /// Whether every operand still reads the version it read before its last try.
    fn unchanged(&self) -> bool {
        self.order
            .iter()
            .zip(&self.versions)
            .all(|(&at, &version)| self.operands[at].operand.version() == version)
    }

    /// Registers every operand, parks until one is selected (or the wait ends, a timer
    /// comes due, or one turns out ready while registering), unregisters the rest, and
    /// accepts the selected one if the wake-up carried it.
    fn park(&mut self, wait: Wait<'_>) -> Option<SelectedOperation<'a>> {
        let wake_at = self
            .operands
            .iter()
            .filter_map(|entry| entry.operand.due())
            .min();
        let hook = |entry: &Entry<'a>| Operation::hook(&*entry.operand);
        Context::with(|cx| {
            let mut registered = 0;
            for &at in &self.order {
                let entry = &mut self.operands[at];
                let oper = hook(entry);
                if !entry.operand.register(oper, cx) {
                    let _ = cx.try_select(Selected::Aborted);
                    break;
                }
                registered += 1;
                if cx.selected() != Selected::Waiting {
                    break; // a partner chose one already
                }
            }
            let selected = cx.wait_until(wait, Spin::Never, wake_at);
            let mut chosen = None;
            for &at in &self.order[..registered] {
                let entry = &mut self.operands[at];
                let oper = hook(entry);
                if selected == Selected::Operation(oper) {
                    chosen = Some(at);
                } else {
                    entry.operand.unregister(oper);
                }
            }
            let at = chosen?;
            let token = self.operands[at].operand.accept(cx)?;
            Some(self.selected(at, token))
        })
    }

    fn selected(&self, at: usize, token: Token) -> SelectedOperation<'a> {
        let entry = &self.operands[at];
        SelectedOperation {
            index: entry.index,
            chan: entry.operand.chan(),
            side: entry.operand.side(),
            token: Some(token),
            abandon: entry.operand.abandoner(),
            channels: PhantomData,
        }
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

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operands", &self.operands.len())
            .field("biased", &self.biased)
            .finish()
    }
}

/// The operation a [`Select`] selected, claimed for this thread: complete it with
/// [`recv`](SelectedOperation::recv) or [`send`](SelectedOperation::send) on the same
/// channel, promptly (see [`Select`]'s *Complete promptly*). Dropped without completing,
/// it gives its claim up.
#[must_use = "a selected operation holds its claim until it is completed"]
pub struct SelectedOperation<'a> {
    index: usize,
    /// The selected channel's `Chan<T>`, alive for `'a` (the select borrowed its handle).
    chan: *const (),
    side: Side,
    /// `None` once completed.
    token: Option<Token>,
    abandon: Abandon,
    channels: PhantomData<&'a ()>,
}

impl SelectedOperation<'_> {
    /// The index of the selected operand, as [`Select::recv`] or [`Select::send`]
    /// returned it.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes the selected receive: the value it claimed.
    ///
    /// # Errors
    ///
    /// [`RecvError`] if the channel is closed and drained.
    ///
    /// # Panics
    ///
    /// If `rx` is not the receiver of the selected operand, or the operand was a send: a
    /// mistake in the caller's `match`, which no other value could complete.
    pub fn recv<T>(mut self, rx: &Receiver<T>) -> Result<T, RecvError> {
        let token = self.take_token(rx.chan(), Side::Receivers);
        // SAFETY: the token was claimed on this very channel (`take_token` checked its
        // address), for a receive.
        unsafe { rx.chan().select_recv(token) }
    }

    /// Completes the selected send with `msg`.
    ///
    /// # Errors
    ///
    /// [`SendError`] with `msg` if the channel is closed.
    ///
    /// # Panics
    ///
    /// If `tx` is not the sender of the selected operand, or the operand was a receive.
    pub fn send<T>(mut self, tx: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        let token = self.take_token(tx.chan(), Side::Senders);
        // SAFETY: as in `recv`, for a send.
        unsafe { tx.chan().select_send(token, msg) }
    }

    fn take_token<T>(&mut self, chan: &Chan<T>, side: Side) -> Token {
        let same = core::ptr::eq(self.chan, (chan as *const Chan<T>).cast());
        assert!(
            same && side == self.side,
            "completed the selected operation {} on another channel or side than was selected",
            self.index
        );
        self.token.take().expect("completed once")
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            // SAFETY: `chan` is the `Chan<T>` the token was claimed on, for `side`, and
            // alive for `'a`; `abandon` is that operand's, for its `T`.
            unsafe { (self.abandon)(self.chan, self.side, token) }
        }
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// [`Select::try_select`] (or [`Selector::try_wait`](crate::Selector::try_wait)) found
/// no operand ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("no select operation was ready")]
pub struct TrySelectError;

/// A bounded select wait ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("timed out waiting for a select operation")]
pub struct SelectTimeoutError;

/// A cancellable select wait's token fired first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("cancelled while waiting for a select operation")]
pub struct SelectCancelError;
