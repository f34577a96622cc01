//! The channel's handles: [`Sender`], [`Receiver`] and [`channel`].

use core::fmt;
use std::collections::VecDeque;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

use patterns_core::CancelToken;

use crate::array::Array;
use crate::error::{
    CapacityError, RecvCancelError, RecvError, RecvTimeoutError, SendCancelError, SendError,
    SendIterError, SendManyError, SendTimeoutError, TryRecvError, TrySendError,
};
use crate::iter::{Iter, TryIter};
use crate::list::List;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::Arc;
use crate::timer::Timer;
use crate::wait::{Failure, Interrupt, Wait};
use crate::zero::Zero;

/// The largest capacity [`channel`] accepts for any `T`: the ring's stamps need two bits
/// above the largest index. For a given `T` the limit may be lower, as the slots must fit
/// in memory: see [`max_capacity`].
pub const MAX_CAPACITY: usize = usize::MAX >> 4;

/// How many values `send_iter` takes from its iterator per batch.
const ITER_BATCH: usize = 64;

/// Creates a channel that holds up to `capacity` values, and returns its two ends.
///
/// With `capacity == 0` it is a rendezvous channel (Go's unbuffered channel): a send
/// completes only when a receiver takes the value. Both ends can be cloned for many
/// producers and many consumers.
///
/// # Panics
///
/// If the `capacity` slots cannot be allocated (see [`try_channel`], which returns the
/// error instead). The memory for `capacity` slots is allocated up front, as
/// `Vec::with_capacity` does.
///
/// # Examples
///
/// ```
/// let (tx, rx) = bounded_buffer::channel(2);
/// tx.send(1).unwrap();
/// tx.try_send(2).unwrap();
/// assert!(tx.try_send(3).unwrap_err().is_full()); // backpressure
/// assert_eq!(rx.recv(), Ok(1));
/// assert_eq!(rx.len(), 1);
/// ```
#[must_use]
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    match try_channel(capacity) {
        Ok(ends) => ends,
        Err(err) => panic!("{err}"),
    }
}

/// [`channel`], with a capacity that cannot be allocated as an error rather than a panic
/// (or an abort, as a failed allocation would be).
///
/// # Errors
///
/// [`CapacityError::TooLarge`] if `capacity > max_capacity::<T>()`;
/// [`CapacityError::OutOfMemory`] if the allocator refused the memory for the slots.
///
/// ```
/// use bounded_buffer::{try_channel, CapacityError};
///
/// let error = try_channel::<u64>(usize::MAX).unwrap_err();
/// assert!(matches!(error, CapacityError::TooLarge { .. }));
/// assert!(try_channel::<u64>(1024).is_ok());
/// ```
pub fn try_channel<T>(capacity: usize) -> Result<(Sender<T>, Receiver<T>), CapacityError> {
    let flavor = if capacity == 0 {
        Flavor::Zero(Zero::new())
    } else {
        Flavor::Array(Array::try_new(capacity)?)
    };
    Ok(Chan::pair(flavor))
}

/// Creates a channel with no capacity limit, and returns its two ends: the unbounded
/// producer–consumer queue (crossbeam-channel's `unbounded`, std's `mpsc::channel`).
///
/// Sends never block and never fail for want of room: [`Sender::send`] and
/// [`Sender::try_send`] fail only once the channel is closed, handing the value back, and
/// `try_send` never returns [`TrySendError::Full`]. Everything else works as on a bounded
/// channel — receives block, time out, and cancel the same way, batches, `close`, the
/// drop rules and [`select!`](crate::select!) are the same — and
/// [`capacity`](Sender::capacity) reports `usize::MAX`, [`is_full`](Sender::is_full) is
/// always false.
///
/// Nothing holds a fast producer back: if the consumers fall behind, the queue grows
/// until memory runs out. Pick it when producers must never wait (a logger, a thread
/// that must not stall on its consumers) or when the number of values is bounded by
/// other means; otherwise a bounded [`channel`] keeps memory bounded by backpressure.
///
/// Values live in blocks of 31 slots, allocated as the queue grows and released as soon
/// as their values have been received (the last 8 released are kept for reuse); an
/// empty channel holds one block and up to 8 spares.
///
/// # Errors
///
/// None at creation. [`send`](Sender::send) returns [`SendError`], holding the value,
/// once the channel is closed ([`close`](Sender::close) from either end, or the last
/// receiver gone); [`recv`](Receiver::recv) returns [`RecvError`] once it is closed and
/// drained.
///
/// # Examples
///
/// ```
/// use bounded_buffer::{SendError, TryRecvError};
/// use std::thread;
///
/// let (tx, rx) = bounded_buffer::unbounded();
/// // Never blocks, however far ahead the producer gets.
/// let producer = thread::spawn(move || {
///     for i in 0..10_000 {
///         tx.send(i).unwrap();
///     }
///     tx // hand the sender back: its drop would close the channel
/// });
/// let tx = producer.join().unwrap();
/// assert_eq!(rx.len(), 10_000);
/// assert!(!tx.is_full());
/// assert_eq!(tx.capacity(), usize::MAX);
///
/// assert_eq!(rx.recv(), Ok(0));
/// rx.close();
/// assert_eq!(tx.send(-1), Err(SendError(-1))); // closed: the value comes back
/// assert_eq!(rx.iter().count(), 9_999); // what was queued is still delivered
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[must_use]
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    Chan::pair(Flavor::List(List::new()))
}

/// The largest capacity a channel of `T` can be asked for: [`MAX_CAPACITY`], or fewer
/// when that many slots of `T` (one value and one stamp word each) would not fit in
/// `isize::MAX` bytes. Whether the allocator grants that much is another matter:
/// [`try_channel`] reports a refusal as [`CapacityError::OutOfMemory`].
///
/// ```
/// assert_eq!(bounded_buffer::max_capacity::<()>(), bounded_buffer::MAX_CAPACITY);
/// assert!(bounded_buffer::max_capacity::<u64>() < bounded_buffer::MAX_CAPACITY);
/// ```
#[must_use]
pub fn max_capacity<T>() -> usize {
    Array::<T>::max_capacity()
}

/// A receiver that never gets a value and never closes on its own: an operand that
/// disables a [`Select`](crate::Select) arm, or a stand-in for a channel that does not
/// exist (Go's nil channel, crossbeam's `never`). Like every receiver it can still be
/// [closed](Receiver::close), which readies it with [`RecvError`].
///
/// ```
/// use std::time::Duration;
///
/// let nothing = bounded_buffer::never::<u32>();
/// assert!(nothing.recv_timeout(Duration::from_millis(1)).is_err());
/// assert!(!nothing.is_closed());
/// ```
#[must_use]
pub fn never<T>() -> Receiver<T> {
    // A rendezvous channel with one sender that exists only in the count: nothing is
    // ever sent, and the count never drops to zero.
    Chan::receiver_only(Flavor::Zero(Zero::new()))
}

/// A receiver that gets one value, the `Instant` it became due, `duration` from now; a
/// timeout operand for a [`Select`](crate::Select) (crossbeam's `after`, Go's
/// `time.After`). No thread runs for it: a receive parks until the instant. After its one
/// value it stays empty (and open) for ever. A `duration` too long for `Instant` to
/// represent never comes due.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let timeout = bounded_buffer::after(Duration::from_millis(5));
/// let due = timeout.recv().unwrap();
/// assert!(due >= start + Duration::from_millis(5) && Instant::now() >= due);
/// assert!(timeout.try_recv().is_err()); // only one
/// ```
#[must_use]
pub fn after(duration: Duration) -> Receiver<Instant> {
    let due = Instant::now().checked_add(duration);
    Chan::receiver_only(Flavor::Timer(Timer::once(due, identity)))
}

/// A receiver that gets the instant of every `period` from now (crossbeam's `tick`, Go's
/// `time.Ticker`): `start + period`, `start + 2 * period`, …. No thread runs for it. A
/// receiver that falls behind gets one overdue tick (the instant it was due), then the
/// ticks still to come: those missed in between are dropped, so the ticks keep their
/// phase and never arrive in a burst.
///
/// ```
/// use std::time::Duration;
///
/// let ticks = bounded_buffer::tick(Duration::from_millis(2));
/// let first = ticks.recv().unwrap();
/// let second = ticks.recv().unwrap();
/// assert!(second >= first + Duration::from_millis(2));
/// ```
#[must_use]
pub fn tick(period: Duration) -> Receiver<Instant> {
    Chan::receiver_only(Flavor::Timer(Timer::every(
        Instant::now(),
        period,
        identity,
    )))
}

/// What a timer delivers: the instant it was due.
fn identity(instant: Instant) -> Instant {
    instant
}

/// What every handle of one channel shares.
pub(crate) struct Chan<T> {
    pub(crate) flavor: Flavor<T>,
    senders: AtomicUsize,
    receivers: AtomicUsize,
}

// One per channel, behind the `Arc`: boxing the large ring would only add a pointer hop
// to every operation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Flavor<T> {
    Array(Array<T>),
    Zero(Zero<T>),
    /// `unbounded`: a linked list of blocks.
    List(List<T>),
    /// `after` and `tick`: a `Receiver<Instant>` and no sender.
    Timer(Timer<T>),
}

impl<T> Chan<T> {
    /// The two ends of a new channel of `flavor`.
    fn pair(flavor: Flavor<T>) -> (Sender<T>, Receiver<T>) {
        let chan = Arc::new(Chan {
            flavor,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        });
        (
            Sender {
                chan: Arc::clone(&chan),
            },
            Receiver { chan },
        )
    }

    /// A receiver of a channel that has no sender to drop: its sender count is one for
    /// ever, so it closes only when closed.
    fn receiver_only(flavor: Flavor<T>) -> Receiver<T> {
        Receiver {
            chan: Arc::new(Chan {
                flavor,
                senders: AtomicUsize::new(1),
                receivers: AtomicUsize::new(1),
            }),
        }
    }
}

// `send` and `recv` are inlined into the handles' methods, where `wait` is a constant.
// Called, each copied `wait` out of the `Option` with one 16-byte load of what the caller
// had just stored in smaller pieces: a failed store-to-load forward on every operation.
// Measured: an uncontended send and receive went from 20 to 12 ns. `always`, since with
// four flavors a plain hint stopped taking: called again, the ring's send and receive
// at capacity 1024 took half as long again (2.0–2.7 → 2.6–3.7 ms per 100k, 2-core AMD
// EPYC, 2026-12-03).
impl<T> Chan<T> {
    #[inline(always)]
    fn send(&self, msg: T, wait: Option<Wait<'_>>) -> Result<(), (T, Failure)> {
        match (&self.flavor, wait) {
            (Flavor::Array(array), None) => array.try_send(msg),
            (Flavor::Array(array), Some(wait)) => array.send(msg, wait),
            (Flavor::Zero(zero), wait) => zero.send(msg, wait),
            // Never blocks: nothing to wait for.
            (Flavor::List(list), _) => list.send(msg),
            (Flavor::Timer(_), _) => unreachable!("a timer has no sender"),
        }
    }

    #[inline(always)]
    fn recv(&self, wait: Option<Wait<'_>>) -> Result<T, Failure> {
        match (&self.flavor, wait) {
            (Flavor::Array(array), None) => array.try_recv(),
            (Flavor::Array(array), Some(wait)) => array.recv(wait),
            (Flavor::Zero(zero), wait) => zero.recv(wait),
            (Flavor::List(list), None) => list.try_recv(),
            (Flavor::List(list), Some(wait)) => list.recv(wait),
            (Flavor::Timer(timer), wait) => timer.recv(wait),
        }
    }

    /// Sends from the front of `values` until it is empty or a send fails.
    fn send_many(&self, values: &mut VecDeque<T>, wait: Wait<'_>) -> Result<(), Failure> {
        match &self.flavor {
            Flavor::Array(array) => array.send_many(values, wait),
            Flavor::List(list) => list.send_many(values),
            Flavor::Zero(zero) => {
                while let Some(msg) = values.pop_front() {
                    if let Err((msg, failure)) = zero.send(msg, Some(wait)) {
                        values.push_front(msg);
                        return Err(failure);
                    }
                }
                Ok(())
            }
            Flavor::Timer(_) => unreachable!("a timer has no sender"),
        }
    }

    fn recv_many(
        &self,
        out: &mut Vec<T>,
        max: usize,
        wait: Option<Wait<'_>>,
    ) -> Result<usize, Failure> {
        match (&self.flavor, wait) {
            (Flavor::Array(array), None) => array.try_recv_many(out, max),
            (Flavor::List(list), None) => list.try_recv_many(out, max),
            (_, _) if max == 0 => Ok(0),
            // Blocks for the first value, then claims what else is queued in batches.
            (Flavor::Array(_) | Flavor::List(_), Some(wait)) => {
                // Room first: a value taken must not be lost to a panic growing `out`.
                out.reserve(1);
                out.push(self.recv(Some(wait))?);
                Ok(1 + self.recv_many(out, max - 1, None).unwrap_or(0))
            }
            // No batches to claim: one value at a time, as long as they come without
            // waiting.
            (_, wait) => {
                // Room first: a value taken must not be lost to a panic growing `out`.
                out.reserve(1);
                out.push(self.recv(wait)?);
                let mut taken = 1;
                while taken < max {
                    out.reserve(1);
                    match self.recv(None) {
                        Ok(msg) => out.push(msg),
                        Err(_) => break,
                    }
                    taken += 1;
                }
                Ok(taken)
            }
        }
    }

    fn close(&self) -> bool {
        match &self.flavor {
            Flavor::Array(array) => array.close(),
            Flavor::List(list) => list.close(),
            Flavor::Zero(zero) => zero.close(),
            Flavor::Timer(timer) => timer.close(),
        }
    }

    /// The last receiver is gone: drops what no one will ever receive.
    fn discard_all(&self) {
        match &self.flavor {
            Flavor::Array(array) => array.discard_all(),
            Flavor::List(list) => list.discard_all(),
            // Parked senders hold their own values, and get them back as the close wakes
            // them; a timer holds none.
            Flavor::Zero(_) | Flavor::Timer(_) => {}
        }
    }

    fn is_closed(&self) -> bool {
        match &self.flavor {
            Flavor::Array(array) => array.is_closed(),
            Flavor::List(list) => list.is_closed(),
            Flavor::Zero(zero) => zero.is_closed(),
            Flavor::Timer(timer) => timer.is_closed(),
        }
    }

    fn len(&self) -> usize {
        match &self.flavor {
            Flavor::Array(array) => array.len(),
            Flavor::List(list) => list.len(),
            Flavor::Zero(_) => 0,
            Flavor::Timer(timer) => timer.len(),
        }
    }

    fn capacity(&self) -> usize {
        match &self.flavor {
            Flavor::Array(array) => array.capacity(),
            Flavor::List(_) => usize::MAX,
            Flavor::Zero(_) => 0,
            Flavor::Timer(_) => 1,
        }
    }

    fn is_empty(&self) -> bool {
        match &self.flavor {
            Flavor::Array(array) => array.is_empty(),
            Flavor::List(list) => list.is_empty(),
            Flavor::Zero(_) => true,
            Flavor::Timer(timer) => timer.len() == 0,
        }
    }

    fn is_full(&self) -> bool {
        match &self.flavor {
            Flavor::Array(array) => array.is_full(),
            Flavor::List(_) => false,
            Flavor::Zero(_) => true,
            Flavor::Timer(timer) => timer.len() == 1,
        }
    }
}

/// The sending end of a channel. Clone it for more producers.
///
/// Dropping the last `Sender` closes the channel: receivers take what is queued, then
/// see [`RecvError`].
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving end of a channel. Clone it for more consumers; each value goes to exactly
/// one of them.
///
/// Dropping the last `Receiver` closes the channel: sends fail at once and give the value
/// back, and the values still queued are dropped there and then, as no one can receive
/// them any more (std's channel does the same). If one of their drops panics, the others
/// are still dropped, then the panic goes on out of the `Receiver`'s drop, as from a
/// `Vec`'s.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `msg`, blocking while the channel is full (an [`unbounded`] channel never
    /// is: there it never blocks).
    ///
    /// # Errors
    ///
    /// [`SendError`] holding `msg` if the channel is closed or every receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = bounded_buffer::channel(1);
    /// tx.send("ping").unwrap();
    /// rx.close();
    /// assert_eq!(tx.send("pong").unwrap_err().into_inner(), "pong");
    /// assert_eq!(rx.recv(), Ok("ping")); // what was queued is still delivered
    /// ```
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        self.chan
            .send(msg, Some(Wait::Forever))
            .map_err(|(msg, _)| SendError(msg))
    }

    /// Sends `msg` if there is room now (for capacity 0: if a receiver is waiting; an
    /// [`unbounded`] channel always has room); never blocks.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] (never from an [`unbounded`] channel) or
    /// [`TrySendError::Closed`], holding `msg`.
    ///
    /// ```
    /// use bounded_buffer::TrySendError;
    /// let (tx, _rx) = bounded_buffer::channel(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        self.chan
            .send(msg, None)
            .map_err(|(msg, failure)| match failure {
                Failure::Closed => TrySendError::Closed(msg),
                _ => TrySendError::Full(msg),
            })
    }

    /// Sends `msg`, blocking at most `timeout` while the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Closed`], holding `msg`.
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_waiting(msg, Wait::timeout(timeout))
    }

    /// Sends `msg`, blocking until `deadline` at most while the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Closed`], holding `msg`.
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_waiting(msg, Wait::Until(deadline))
    }

    fn send_waiting(&self, msg: T, wait: Wait<'_>) -> Result<(), SendTimeoutError<T>> {
        self.chan
            .send(msg, Some(wait))
            .map_err(|(msg, failure)| match failure {
                Failure::Closed => SendTimeoutError::Closed(msg),
                _ => SendTimeoutError::Timeout(msg),
            })
    }

    /// Sends `msg`, blocking while the channel is full until `token` fires (or its deadline
    /// passes). A token that has already fired fails at once if the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendCancelError::Cancelled`] or [`SendCancelError::Closed`], holding `msg`.
    ///
    /// ```
    /// use bounded_buffer::SendCancelError;
    /// use patterns_core::CancelToken;
    ///
    /// let (tx, _rx) = bounded_buffer::channel(1);
    /// tx.send(1).unwrap();
    /// let token = CancelToken::new();
    /// token.cancel();
    /// assert_eq!(tx.send_cancellable(2, &token), Err(SendCancelError::Cancelled(2)));
    /// ```
    pub fn send_cancellable(&self, msg: T, token: &CancelToken) -> Result<(), SendCancelError<T>> {
        self.chan.send(msg, Some(Wait::Cancellable(token))).map_err(
            |(msg, failure)| match failure {
                Failure::Closed => SendCancelError::Closed(msg),
                _ => SendCancelError::Cancelled(msg),
            },
        )
    }

    /// Sends every value of `values` in order, blocking while the channel is full. Values
    /// move in batches: each synchronization claims as many free slots as there are, so a
    /// batch costs about as much as one `send`.
    ///
    /// # Errors
    ///
    /// [`SendManyError`] with the values not sent, in order, if the channel closes.
    ///
    /// ```
    /// let (tx, rx) = bounded_buffer::channel(8);
    /// tx.send_many(vec![1, 2, 3]).unwrap();
    /// let mut got = Vec::new();
    /// assert_eq!(rx.recv_many(&mut got, 10), Ok(3));
    /// assert_eq!(got, [1, 2, 3]);
    /// ```
    pub fn send_many(&self, values: Vec<T>) -> Result<(), SendManyError<T>> {
        let mut values = VecDeque::from(values);
        self.chan
            .send_many(&mut values, Wait::Forever)
            .map_err(|_| SendManyError(values.into()))
    }

    /// Sends every value of `values` in order, in batches as [`send_many`](Sender::send_many)
    /// does, blocking while the channel is full until `token` fires (or its deadline
    /// passes). Values that find room are sent even if the token has fired.
    ///
    /// # Errors
    ///
    /// [`SendCancelError::Cancelled`] or [`SendCancelError::Closed`], holding the values
    /// not sent, in order.
    ///
    /// ```
    /// use bounded_buffer::SendCancelError;
    /// use patterns_core::CancelToken;
    ///
    /// let (tx, _rx) = bounded_buffer::channel(2);
    /// let token = CancelToken::new();
    /// token.cancel();
    /// let unsent = tx.send_many_cancellable(vec![1, 2, 3, 4], &token);
    /// assert_eq!(unsent, Err(SendCancelError::Cancelled(vec![3, 4])));
    /// ```
    pub fn send_many_cancellable(
        &self,
        values: Vec<T>,
        token: &CancelToken,
    ) -> Result<(), SendCancelError<Vec<T>>> {
        let mut values = VecDeque::from(values);
        self.chan
            .send_many(&mut values, Wait::Cancellable(token))
            .map_err(|failure| match failure {
                Failure::Closed => SendCancelError::Closed(values.into()),
                _ => SendCancelError::Cancelled(values.into()),
            })
    }

    /// Sends every value `values` yields, in order, blocking while the channel is full;
    /// takes up to 64 values at a time from the iterator and sends them as a batch, like
    /// [`send_many`](Sender::send_many).
    ///
    /// # Errors
    ///
    /// [`SendIterError`] if the channel closes: the values taken but not sent, and the
    /// iterator itself, not advanced past them.
    pub fn send_iter<I>(&self, values: I) -> Result<(), SendIterError<T, I::IntoIter>>
    where
        I: IntoIterator<Item = T>,
    {
        let mut rest = values.into_iter();
        let mut batch = VecDeque::with_capacity(ITER_BATCH);
        loop {
            batch.extend(rest.by_ref().take(ITER_BATCH));
            if batch.is_empty() {
                return Ok(());
            }
            if self.chan.send_many(&mut batch, Wait::Forever).is_err() {
                return Err(SendIterError {
                    unsent: batch.into(),
                    rest,
                });
            }
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the oldest value, blocking while the channel is empty.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is closed (or every sender is gone) and drained.
    ///
    /// ```
    /// let (tx, rx) = bounded_buffer::channel(4);
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert!(rx.recv().is_err());
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.recv(Some(Wait::Forever)).map_err(|_| RecvError)
    }

    /// Takes the oldest value if there is one now (for capacity 0: if a sender is
    /// waiting); never blocks.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], or [`TryRecvError::Closed`] once closed and drained.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.recv(None).map_err(|failure| match failure {
            Failure::Closed => TryRecvError::Closed,
            _ => TryRecvError::Empty,
        })
    }

    /// Takes the oldest value, blocking at most `timeout` while the channel is empty.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`], or [`RecvTimeoutError::Closed`] once closed and
    /// drained.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_waiting(Wait::timeout(timeout))
    }

    /// Takes the oldest value, blocking until `deadline` at most while the channel is
    /// empty.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`], or [`RecvTimeoutError::Closed`] once closed and
    /// drained.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_waiting(Wait::Until(deadline))
    }

    fn recv_waiting(&self, wait: Wait<'_>) -> Result<T, RecvTimeoutError> {
        self.chan.recv(Some(wait)).map_err(|failure| match failure {
            Failure::Closed => RecvTimeoutError::Closed,
            _ => RecvTimeoutError::Timeout,
        })
    }

    /// Takes the oldest value, blocking while the channel is empty until `token` fires (or
    /// its deadline passes). A queued value is taken even if the token has fired.
    ///
    /// # Errors
    ///
    /// [`RecvCancelError::Cancelled`], or [`RecvCancelError::Closed`] once closed and
    /// drained.
    pub fn recv_cancellable(&self, token: &CancelToken) -> Result<T, RecvCancelError> {
        self.chan
            .recv(Some(Wait::Cancellable(token)))
            .map_err(|failure| match failure {
                Failure::Closed => RecvCancelError::Closed,
                _ => RecvCancelError::Cancelled,
            })
    }

    /// Blocks until at least one value is queued, then moves up to `max` values into
    /// `out` in as few synchronizations as the ring allows. Returns how many it moved
    /// (0 only when `max` is 0).
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is closed and drained.
    pub fn recv_many(&self, out: &mut Vec<T>, max: usize) -> Result<usize, RecvError> {
        self.chan
            .recv_many(out, max, Some(Wait::Forever))
            .map_err(|_| RecvError)
    }

    /// Like [`recv_many`](Receiver::recv_many), but waits for the first value only until
    /// `token` fires (or its deadline passes). Queued values are taken even if the token
    /// has fired.
    ///
    /// # Errors
    ///
    /// [`RecvCancelError::Cancelled`], or [`RecvCancelError::Closed`] once closed and
    /// drained.
    ///
    /// ```
    /// use bounded_buffer::RecvCancelError;
    /// use patterns_core::CancelToken;
    ///
    /// let (tx, rx) = bounded_buffer::channel(4);
    /// let token = CancelToken::new();
    /// tx.send(1).unwrap();
    /// token.cancel();
    /// let mut got = Vec::new();
    /// assert_eq!(rx.recv_many_cancellable(&mut got, 8, &token), Ok(1));
    /// assert_eq!(rx.recv_many_cancellable(&mut got, 8, &token), Err(RecvCancelError::Cancelled));
    /// ```
    pub fn recv_many_cancellable(
        &self,
        out: &mut Vec<T>,
        max: usize,
        token: &CancelToken,
    ) -> Result<usize, RecvCancelError> {
        self.chan
            .recv_many(out, max, Some(Wait::Cancellable(token)))
            .map_err(|failure| match failure {
                Failure::Closed => RecvCancelError::Closed,
                _ => RecvCancelError::Cancelled,
            })
    }

    /// Moves up to `max` values that are queued now into `out`; never blocks. Returns how
    /// many it moved (0 only when `max` is 0).
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], or [`TryRecvError::Closed`] once closed and drained.
    pub fn try_recv_many(&self, out: &mut Vec<T>, max: usize) -> Result<usize, TryRecvError> {
        if max == 0 {
            return Ok(0);
        }
        self.chan
            .recv_many(out, max, None)
            .map_err(|failure| match failure {
                Failure::Closed => TryRecvError::Closed,
                _ => TryRecvError::Empty,
            })
    }

    /// A blocking iterator over received values; it ends when the channel is closed and
    /// drained.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter::new(self)
    }

    /// An iterator over the values queued now; it never blocks.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter::new(self)
    }
}

/// Methods on both ends. They see the same channel.
macro_rules! shared_methods {
    ($handle:ident) => {
        impl<T> $handle<T> {
            /// The channel, for a select.
            pub(crate) fn chan(&self) -> &Chan<T> {
                &self.chan
            }

            /// How many values are queued (always 0 for capacity 0).
            pub fn len(&self) -> usize {
                self.chan.len()
            }

            /// True if no value is queued.
            pub fn is_empty(&self) -> bool {
                self.chan.is_empty()
            }

            /// True if a send would block (always true for capacity 0, never for an
            /// [`unbounded`](crate::unbounded) channel).
            pub fn is_full(&self) -> bool {
                self.chan.is_full()
            }

            /// The capacity the channel was made with; `usize::MAX` for an
            /// [`unbounded`](crate::unbounded) channel, which has no limit (`len()`
            /// never reaches it: memory runs out first).
            pub fn capacity(&self) -> usize {
                self.chan.capacity()
            }

            /// Closes the channel: every later send fails and hands its value back, blocked
            /// senders wake and fail, and receivers take everything already queued before
            /// they see `Closed`. Returns false if it was closed already (closing twice is
            /// harmless).
            pub fn close(&self) -> bool {
                self.chan.close()
            }

            /// True once closed: by [`close`](Self::close), or because every sender or
            /// every receiver is gone.
            pub fn is_closed(&self) -> bool {
                self.chan.is_closed()
            }

            /// How many `Sender`s of this channel exist. A timer receiver
            /// ([`after`](crate::after), [`tick`](crate::tick), [`never`](fn@crate::never)) has no sender and reports one — its
            /// source.
            pub fn sender_count(&self) -> usize {
                self.chan.senders.load(Ordering::SeqCst)
            }

            /// How many `Receiver`s of this channel exist.
            pub fn receiver_count(&self) -> usize {
                self.chan.receivers.load(Ordering::SeqCst)
            }

            /// True if `other` is an end of the same channel.
            pub fn same_channel(&self, other: &$handle<T>) -> bool {
                Arc::ptr_eq(&self.chan, &other.chan)
            }
        }

        impl<T> fmt::Debug for $handle<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($handle))
                    .field("len", &self.len())
                    .field("capacity", &self.capacity())
                    .field("closed", &self.is_closed())
                    .field("senders", &self.sender_count())
                    .field("receivers", &self.receiver_count())
                    .finish()
            }
        }
    };
}

shared_methods!(Sender);
shared_methods!(Receiver);

// A handle is unwind safe whatever `T` is, as std's and crossbeam's are: a panic cannot
// leave the channel half-updated for another thread or a `catch_unwind` caller to see —
// every operation either completed or left the queue as it was (see the crate's
// *Guarantees*).
impl<T> UnwindSafe for Sender<T> {}
impl<T> RefUnwindSafe for Sender<T> {}
impl<T> UnwindSafe for Receiver<T> {}
impl<T> RefUnwindSafe for Receiver<T> {}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
            self.chan.discard_all();
        }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = crate::iter::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        crate::iter::IntoIter::new(self)
    }
}

impl From<Interrupt> for Failure {
    fn from(interrupt: Interrupt) -> Self {
        Failure::Interrupted(interrupt)
    }
}
