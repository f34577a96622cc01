//! A bounded multi-producer multi-consumer channel for threads, with backpressure, close,
//! batching, cancellation and select — model-checked with [loom](https://docs.rs/loom) —
//! and its unbounded sibling, [`unbounded()`](unbounded), with the same API.
//!
//! # Hello, channel
//!
//! [`channel(capacity)`](channel) returns a [`Sender`] and a [`Receiver`]; clone either for
//! more producers or consumers. Each value goes to exactly one receiver, in the order it
//! was sent by its sender.
//!
//! ```
//! use std::thread;
//!
//! let (tx, rx) = bounded_buffer::channel(16);
//! let producers: Vec<_> = (0..4)
//!     .map(|p| {
//!         let tx = tx.clone();
//!         thread::spawn(move || {
//!             for i in 0..100 {
//!                 tx.send(p * 100 + i).unwrap(); // blocks while 16 are queued: backpressure
//!             }
//!         })
//!     })
//!     .collect();
//! drop(tx); // the channel closes when the last sender goes
//! let total: u32 = rx.iter().sum(); // ends once closed and drained
//! assert_eq!(total, (0..400).sum());
//! for p in producers {
//!     p.join().unwrap();
//! }
//! ```
//!
//! # Capacity
//!
//! A channel holds at most `capacity` values: senders block (or `try_send` fails with
//! [`TrySendError::Full`]) until a receiver makes room. Capacity 0 makes a *rendezvous*
//! channel, Go's unbuffered channel: a send completes only when a receiver takes the
//! value, hand to hand.
//!
//! # Unbounded
//!
//! [`unbounded()`](unbounded) makes a channel without a limit (crossbeam-channel's
//! `unbounded`, std's `mpsc::channel`): sends never block and fail only once the channel
//! is closed, `try_send` is never [`Full`](TrySendError::Full), `is_full()` is always
//! false and `capacity()` reports `usize::MAX`. Everything else — blocking, timed and
//! cancellable receives, batches, closing, the drop rules, select — is the same. Use it
//! when producers must never wait on consumers; nothing then stops a queue that is fed
//! faster than it is drained from growing until memory runs out.
//!
//! ```
//! use bounded_buffer::TrySendError;
//!
//! let (tx, rx) = bounded_buffer::unbounded();
//! for i in 0..1000 {
//!     tx.try_send(i).unwrap(); // never `Full`
//! }
//! rx.close();
//! assert_eq!(tx.try_send(1000), Err(TrySendError::Closed(1000))); // only a close fails it
//! assert_eq!(rx.iter().sum::<i32>(), (0..1000).sum()); // the queued values still arrive
//! ```
//!
//! # Closing
//!
//! [`close`](Sender::close) — from either end, any number of times — stops the channel
//! taking values: every later send fails and gives its value back, and blocked senders
//! wake and fail the same way. Receivers still get **everything already queued**, in
//! order, and only then see [`RecvError`] (or `Closed`), every time after. Dropping the
//! last sender closes the channel the same way; dropping the last receiver closes it too,
//! so senders fail at once instead of filling a channel no one reads.
//!
//! ```
//! use bounded_buffer::{SendError, TryRecvError};
//!
//! let (tx, rx) = bounded_buffer::channel(4);
//! tx.send("queued").unwrap();
//! rx.close();
//! assert_eq!(tx.send("late"), Err(SendError("late"))); // the value comes back
//! assert_eq!(rx.recv(), Ok("queued")); // nothing queued is lost
//! assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
//! ```
//!
//! # Blocking operations
//!
//! Every blocking operation comes in five forms with one implementation underneath:
//! `send` (blocks), [`try_send`](Sender::try_send) (never blocks),
//! [`send_timeout`](Sender::send_timeout), [`send_deadline`](Sender::send_deadline), and
//! [`send_cancellable`](Sender::send_cancellable), which gives up when a
//! [`CancelToken`](patterns_core::CancelToken) fires or its deadline passes; the same for
//! `recv`. A blocked thread spins and yields for a few microseconds, then parks and uses
//! no CPU.
//!
//! ```
//! use bounded_buffer::RecvCancelError;
//! use patterns_core::CancelToken;
//! use std::thread;
//!
//! let (_tx, rx) = bounded_buffer::channel::<u64>(1);
//! let shutdown = CancelToken::new();
//! let worker = {
//!     let shutdown = shutdown.clone();
//!     thread::spawn(move || rx.recv_cancellable(&shutdown))
//! };
//! shutdown.cancel(); // wakes the blocked receive
//! assert_eq!(worker.join().unwrap(), Err(RecvCancelError::Cancelled));
//! ```
//!
//! # Batches
//!
//! [`send_many`](Sender::send_many) and [`send_iter`](Sender::send_iter) claim as many free
//! slots as there are with one compare-and-swap and fill them all;
//! [`recv_many`](Receiver::recv_many) blocks for the first value and then takes up to `max`
//! queued values the same way. A batch costs little more than a single operation.
//!
//! ```
//! let (tx, rx) = bounded_buffer::channel(1024);
//! tx.send_many((0..500).collect()).unwrap();
//! let mut batch = Vec::with_capacity(256);
//! assert_eq!(rx.recv_many(&mut batch, 256), Ok(256));
//! assert_eq!(batch[255], 255);
//! ```
//!
//! # Select
//!
//! [`select!`] waits on several receives and sends at once and runs the arm of the one
//! that completes — Go's `select` statement. It is fair (operands are tried in a random
//! order), never takes a send's value unless that send is the one selected, and takes a
//! `default` arm (nothing ready now) or `default(timeout)`. [`after`], [`tick`] and
//! [`never`](fn@never) are receivers of timer events, for time-outs and periodic work inside a
//! select.
//!
//! ```
//! use bounded_buffer::{after, channel, select, tick};
//! use std::time::Duration;
//!
//! let (data_tx, data) = channel::<u32>(8);
//! data_tx.send_many(vec![1, 2, 3]).unwrap();
//! drop(data_tx);
//! let heartbeat = tick(Duration::from_secs(3600));
//! let give_up = after(Duration::from_secs(10));
//! let mut sum = 0;
//! loop {
//!     select! {
//!         recv(data) -> msg => match msg {
//!             Ok(n) => sum += n,
//!             Err(_) => break, // closed and drained
//!         },
//!         recv(heartbeat) -> _ => println!("still working"),
//!         recv(give_up) -> _ => panic!("stalled"),
//!     }
//! }
//! assert_eq!(sum, 6);
//! ```
//!
//! Underneath, a [`Select`] is built once and waited on as often as needed, returning a
//! [`SelectedOperation`] to complete; [`Selector`] pairs each operand with a closure.
//! Each has the bounded forms (`try_…`, `…_timeout`, `…_deadline`, `…_cancellable`), and
//! a non-blocking select reports nothing ready only if, at some instant during the call,
//! nothing was.
//!
//! # Guarantees
//!
//! * **Each value is received exactly once**, or handed back to its sender, or — if it was
//!   still queued when the last receiver went — dropped exactly once, right then. If a
//!   value's `Drop` panics, the others queued with it are still dropped (as a `Vec`
//!   drops all its elements), then the panic goes on.
//! * **Panic safe**: no panic in user code (a value's `Drop`, a `Vec` growing in
//!   [`recv_many`](Receiver::recv_many)) leaves the channel unusable or loses a value
//!   that was not being dropped: batch receives make room in the `Vec` before they take
//!   values from the ring.
//! * **FIFO** per sender: values from one sender arrive in the order it sent them.
//! * **No lost wake-ups, no busy waiting**: a blocked operation wakes when it can proceed,
//!   the channel closes, its deadline passes or its token fires; while blocked it is
//!   parked. A few microseconds of spinning and yielding first save a trip through the
//!   scheduler when the partner is about to arrive (a rendezvous spins longest; a wait
//!   on the ring yields sooner, as its partner may need this very core).
//! * **Memory**: `capacity` slots of `T` plus one stamp word each, allocated up front;
//!   no allocation per value. A blocked operation reuses its thread's wait record (a
//!   rendezvous also allocates one small packet per hand-over). An unbounded channel
//!   holds its values in blocks of 31 slots (a value and a state word each), allocated
//!   as the queue grows — at most one allocation per 31 values — and each released as
//!   soon as its last value has been received (up to 8 kept, reset, for reuse); an
//!   empty one holds a single block and those spares.
//! * **Verified**: every blocking, closing and dropping protocol has a loom model in
//!   `tests/loom.rs`; every `unsafe` block states its invariant and the model that covers
//!   it.
//!
//! The ring for capacity ≥ 1 is Dmitry Vyukov's bounded MPMC queue with per-slot stamps,
//! as crossbeam-channel's array flavor uses it, extended with batch claims; the rendezvous
//! channel pairs waiting threads under a lock and moves the value outside it; the
//! unbounded channel is a linked list of blocks of slots with per-slot state bits, as
//! crossbeam-channel's list flavor, also extended with batch claims (up to a block per
//! compare-and-swap).

mod array;
mod channel;
mod context;
mod error;
mod iter;
mod list;
mod operand;
mod select;
mod select_macro;
mod selector;
mod timer;
mod wait;
mod waker;
mod zero;

use patterns_core::sync;

pub use channel::{
    after, channel, max_capacity, never, tick, try_channel, unbounded, Receiver, Sender,
    MAX_CAPACITY,
};
pub use error::{
    CapacityError, RecvCancelError, RecvError, RecvTimeoutError, SendCancelError, SendError,
    SendIterError, SendManyError, SendTimeoutError, TryRecvError, TrySendError,
};
pub use iter::{IntoIter, Iter, TryIter};
pub use select::{
    Select, SelectCancelError, SelectTimeoutError, SelectedOperation, TrySelectError,
};
pub use selector::Selector;

/// What [`select!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    use crate::{Receiver, Sender};

    /// A `&Receiver` from a receiver or a reference to one (deref coercion).
    pub fn receiver<T>(rx: &Receiver<T>) -> &Receiver<T> {
        rx
    }

    /// A `&Sender` from a sender or a reference to one.
    pub fn sender<T>(tx: &Sender<T>) -> &Sender<T> {
        tx
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
