//! The ways a send or receive can fail. Every failed send gives the value back.
//!
//! `Debug` is written by hand (`Full(..)`) so that no error needs `T: Debug`.

use core::fmt;

/// [`Sender::send`](crate::Sender::send) failed: the channel is closed, or every receiver
/// is gone. The value comes back.
///
/// ```
/// let (tx, rx) = bounded_buffer::channel(1);
/// drop(rx);
/// let err = tx.send(7).unwrap_err();
/// assert_eq!(err.to_string(), "sending on a closed channel");
/// assert_eq!(err.into_inner(), 7);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sending on a closed channel")]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// [`Sender::try_send`](crate::Sender::try_send) failed. The value comes back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<T> {
    /// The channel is full (for capacity 0: no receiver is waiting).
    #[error("sending on a full channel")]
    Full(T),
    /// The channel is closed, or every receiver is gone.
    #[error("sending on a closed channel")]
    Closed(T),
}

/// [`Sender::send_timeout`](crate::Sender::send_timeout) and
/// [`send_deadline`](crate::Sender::send_deadline) failed. The value comes back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendTimeoutError<T> {
    /// The channel stayed full until the deadline.
    #[error("timed out sending on a full channel")]
    Timeout(T),
    /// The channel is closed, or every receiver is gone.
    #[error("sending on a closed channel")]
    Closed(T),
}

/// [`Sender::send_cancellable`](crate::Sender::send_cancellable) failed. The value comes
/// back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendCancelError<T> {
    /// The token fired (or its deadline passed) while the channel was full.
    #[error("cancelled while sending on a full channel")]
    Cancelled(T),
    /// The channel is closed, or every receiver is gone.
    #[error("sending on a closed channel")]
    Closed(T),
}

/// [`Sender::send_many`](crate::Sender::send_many) failed part-way: the channel closed.
/// The values not sent come back, in order.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("sending on a closed channel ({} values not sent)", .0.len())]
pub struct SendManyError<T>(pub Vec<T>);

impl<T> SendManyError<T> {
    /// The values that were not sent, in their original order.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

/// [`Sender::send_iter`](crate::Sender::send_iter) failed part-way: the channel closed.
/// The values not sent come back: those already taken from the iterator, and the rest of
/// the iterator, untouched.
#[derive(thiserror::Error)]
#[error("sending on a closed channel")]
pub struct SendIterError<T, I> {
    /// Values taken from the iterator but not sent, in order.
    pub unsent: Vec<T>,
    /// The rest of the iterator, not advanced past `unsent`.
    pub rest: I,
}

/// [`Receiver::recv`](crate::Receiver::recv) failed: the channel is closed (or every
/// sender is gone) and nothing is left in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("receiving on a closed and empty channel")]
pub struct RecvError;

/// [`Receiver::try_recv`](crate::Receiver::try_recv) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TryRecvError {
    /// Nothing is queued now (for capacity 0: no sender is waiting).
    #[error("receiving on an empty channel")]
    Empty,
    /// The channel is closed and drained.
    #[error("receiving on a closed and empty channel")]
    Closed,
}

/// [`Receiver::recv_timeout`](crate::Receiver::recv_timeout) and
/// [`recv_deadline`](crate::Receiver::recv_deadline) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RecvTimeoutError {
    /// Nothing arrived before the deadline.
    #[error("timed out receiving on an empty channel")]
    Timeout,
    /// The channel is closed and drained.
    #[error("receiving on a closed and empty channel")]
    Closed,
}

/// [`Receiver::recv_cancellable`](crate::Receiver::recv_cancellable) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RecvCancelError {
    /// The token fired (or its deadline passed) while the channel was empty.
    #[error("cancelled while receiving on an empty channel")]
    Cancelled,
    /// The channel is closed and drained.
    #[error("receiving on a closed and empty channel")]
    Closed,
}

macro_rules! value_errors {
    ($($name:ident { $($variant:ident),+ })+) => {$(
        impl<T> $name<T> {
            /// The value that was not sent.
            pub fn into_inner(self) -> T {
                match self {
                    $($name::$variant(value) => value,)+
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant(_) => f.write_str(concat!(stringify!($variant), "(..)")),)+
                }
            }
        }
    )+};
}

value_errors! {
    TrySendError { Full, Closed }
    SendTimeoutError { Timeout, Closed }
    SendCancelError { Cancelled, Closed }
}

impl<T> TrySendError<T> {
    /// True if the channel was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True if the channel was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Debug for SendManyError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SendManyError({} values)", self.0.len())
    }
}

impl<T, I> fmt::Debug for SendIterError<T, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendIterError")
            .field("unsent", &self.unsent.len())
            .finish_non_exhaustive()
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(err: SendError<T>) -> Self {
        TrySendError::Closed(err.0)
    }
}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(err: SendError<T>) -> Self {
        SendTimeoutError::Closed(err.0)
    }
}

impl<T> From<SendError<T>> for SendCancelError<T> {
    fn from(err: SendError<T>) -> Self {
        SendCancelError::Closed(err.0)
    }
}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        TryRecvError::Closed
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Closed
    }
}

impl From<RecvError> for RecvCancelError {
    fn from(_: RecvError) -> Self {
        RecvCancelError::Closed
    }
}

/// [`try_channel`](crate::try_channel) could not make a channel of the capacity asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapacityError {
    /// More slots than a channel of this value type can have: see
    /// [`max_capacity`](crate::max_capacity).
    #[error("channel capacity {capacity} exceeds the maximum of {max} for this value type")]
    TooLarge {
        /// The capacity asked for.
        capacity: usize,
        /// The largest capacity for this value type.
        max: usize,
    },
    /// The allocator refused the memory for the slots.
    #[error("cannot allocate {bytes} bytes for a channel of capacity {capacity}")]
    OutOfMemory {
        /// The capacity asked for.
        capacity: usize,
        /// The bytes the slots need.
        bytes: usize,
    },
}

impl CapacityError {
    /// The capacity that was asked for.
    pub fn capacity(&self) -> usize {
        match *self {
            CapacityError::TooLarge { capacity, .. }
            | CapacityError::OutOfMemory { capacity, .. } => capacity,
        }
    }
}
