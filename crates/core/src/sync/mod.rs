//! The one door to synchronization primitives for every crate of the workspace.
//!
//! In a normal build these are `std`'s; in a build with `RUSTFLAGS="--cfg loom"` they are
//! [loom](https://docs.rs/loom)'s, so one loom build model-checks every crate that goes
//! through here. Code that wants to be checked must never name `std::sync`, `std::thread`,
//! `std::cell::UnsafeCell` or `std::hint::spin_loop` itself (`cargo xtask lint` enforces it).
//!
//! The two backends expose the same API, which is where they differ from `std`:
//!
//! * [`Mutex::lock`] (and [`RwLock::read`] and [`RwLock::write`]) return the guard
//!   directly: a panic while holding the lock does not poison it for everybody else (the data structures in this workspace restore their
//!   invariants before anything that can panic runs).
//! * [`Condvar::wait`] and [`Condvar::wait_timeout`] likewise return the guard directly.
//! * [`UnsafeCell`] has loom's closure-based access, [`UnsafeCell::with`] and
//!   [`UnsafeCell::with_mut`], so loom can check every access for data races.
//! * [`Parker`] is a park token for one thread: the thread's own under `std`, a loom
//!   `Notify` under loom, where `Thread::unpark` would also wake the thread out of a mutex
//!   wait and abort the model (tokio-rs/loom#249). Code that unparks another thread it
//!   does not otherwise synchronize with uses a `Parker`.
//! * [`thread::park_timeout`] exists in both; under loom, which has no model of time, it
//!   yields and returns — a spurious wake-up, which every caller must tolerate anyway.
//! * [`thread_local!`] is loom's under loom, where each model thread gets its own value,
//!   dropped when that thread ends: a `std` thread-local would carry loom objects from one
//!   execution into the next. Loom's macro accepts only the `static NAME: T = init;` form
//!   (no `const { … }` initializer), and its keys have `with` and `try_with` only.
//!
//! [`UnmodeledArc`] is `std::sync::Arc` in both builds, for immutable shared values that
//! loom need not follow and that must be unsized (loom's `Arc` cannot hold a `dyn Trait`).

#[cfg(loom)]
#[path = "loom.rs"]
mod imp;
#[cfg(not(loom))]
#[path = "std.rs"]
mod imp;

pub use imp::{
    thread_local, Arc, Condvar, Mutex, MutexGuard, Parker, RwLock, RwLockReadGuard,
    RwLockWriteGuard, UnsafeCell,
};

/// `std::sync::Arc` in every build, for immutable values that loom need not model, such
/// as a shared `dyn` [`Clock`](crate::Clock).
pub use std::sync::Arc as UnmodeledArc;

/// Atomic types and memory orderings.
pub mod atomic {
    pub use super::imp::atomic::*;
}

/// Threads: spawning, parking, yielding.
pub mod thread {
    pub use super::imp::thread::*;
}

/// Spin-loop hints.
pub mod hint {
    pub use super::imp::hint::*;
}
