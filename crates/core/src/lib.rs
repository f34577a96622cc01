//! Shared ground for the thread-patterns crates.
//!
//! * [`sync`] — the facade through which every crate of the workspace reaches `Arc`,
//!   `Mutex`, `Condvar`, atomics, threads and `UnsafeCell`: `std`'s in a normal build,
//!   [loom](https://docs.rs/loom)'s under `RUSTFLAGS="--cfg loom"`, so one loom build
//!   model-checks every crate.
//! * [`CancelToken`] — cancellation and deadlines shared by a tree of threads, with
//!   callbacks that wake operations blocked elsewhere.
//! * [`Backoff`] — spin, then yield, then advise parking.
//! * [`Clock`] — monotonic time as a dependency: [`SystemClock`] in production,
//!   [`ManualClock`] in tests, so nothing time-based needs a real sleep to be tested.
//! * [`panic_message`] — the text of a caught panic, for the crates that catch their
//!   users' panics and report them.
//!
//! `patterns-core` needs nothing but `std` (and `thiserror` for its one error type).
//!
//! # Example
//!
//! A worker parks on a token until its job is cancelled, and a callback registered on the
//! token runs exactly once when it fires:
//!
//! ```
//! use patterns_core::{CancelReason, CancelToken};
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use std::thread;
//!
//! let job = CancelToken::new();
//! let fired = Arc::new(AtomicUsize::new(0));
//! let _hook = {
//!     let fired = Arc::clone(&fired);
//!     job.on_cancel(move |_| {
//!         fired.fetch_add(1, Ordering::SeqCst);
//!     })
//! };
//! let worker = {
//!     let task = job.child();
//!     thread::spawn(move || task.wait())
//! };
//! job.cancel();
//! job.cancel(); // idempotent
//! assert_eq!(worker.join().unwrap(), CancelReason::Cancelled);
//! assert_eq!(fired.load(Ordering::SeqCst), 1);
//! ```

mod backoff;
mod cancel;
mod clock;
mod error;
mod panic;
pub mod sync;

#[cfg(loom)]
pub use backoff::with_loom_spins;
pub use backoff::Backoff;
pub use cancel::{CancelRegistration, CancelToken};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::CancelReason;
pub use panic::panic_message;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
