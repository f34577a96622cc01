//! Rate limiters for threads: pace how many calls get through per unit of time.
//!
//! Every limiter implements one object-safe trait, [`RateLimiter`]: `try_acquire` (never
//! blocks; a refusal says when to retry), `acquire` (blocks, in order), with a timeout or
//! a [`CancelToken`](patterns_core::CancelToken), and `available`. Time comes from a
//! [`Clock`](patterns_core::Clock), so every limiter runs on a
//! [`ManualClock`](patterns_core::ManualClock) in tests and nothing needs a real sleep.
//!
//! The algorithms: [`Gcra`], a token bucket of `burst` calls refilled at a [`Rate`] kept
//! in one atomic word (governor's); [`TokenBucket`], the same bucket split into per-core
//! shards so that many threads do not write one cache line; [`LeakyBucket`], an even
//! pace with no burst; and three windows of `limit` calls: [`FixedWindow`],
//! [`SlidingWindowLog`] (exact) and [`SlidingWindowCounter`] (two counters, weighted).
//! [`Keyed`] keeps one limiter per key within a cap on the keys it holds.
//! [`ConcurrencyLimit`] bounds calls in flight instead of calls per second, with RAII
//! [`Permit`]s, and [`AdaptiveLimit`] moves that bound with what the calls report (AIMD
//! or a latency gradient).
//!
//! ```
//! use rate_limit::{Gcra, Rate, RateLimiter};
//!
//! let limiter = Gcra::new(Rate::per_second(100), 10).unwrap();
//! let admitted = (0..50).filter(|_| limiter.try_acquire().is_ok()).count();
//! assert!(admitted >= 10); // the burst, at once (more if time passed meanwhile)
//! limiter.acquire().unwrap(); // waits its turn, about 10 ms
//! ```
//!
//! # Guarantees
//!
//! See [`RateLimiter`]: a new limiter is full; `try_` calls are all-or-nothing; `n == 0`
//! passes and `n` above the burst is an error, never a wait; blocking calls are served in
//! the order they began (GCRA and the leaky bucket reserve ahead; the token bucket and
//! the windows queue, refusing `try_` calls while anyone waits); a wait that would pass
//! its deadline fails at once, and a cancelled one gives back what it set aside; a clock
//! that steps back counts as no time. [`TokenBucket`] never admits more than an exact
//! bucket would, and may admit a little less. Bad settings are [`ConfigError`]s when a
//! limiter is built.

mod adaptive;
mod bucket;
mod cell;
mod concurrency;
mod error;
mod fifo;
mod gcra;
mod keyed;
mod leaky;
mod limiter;
mod rate;
mod timeline;
mod wait;
mod window;

use patterns_core::sync;

pub use crate::adaptive::{AdaptiveLimit, AdaptivePermit, Aimd, Algorithm, Gradient};
pub use crate::bucket::TokenBucket;
pub use crate::concurrency::{ConcurrencyLimit, Permit};
pub use crate::error::{AcquireError, ConfigError, Denied, TryAcquireError};
pub use crate::gcra::Gcra;
pub use crate::keyed::Keyed;
pub use crate::leaky::LeakyBucket;
pub use crate::limiter::RateLimiter;
pub use crate::rate::Rate;
pub use crate::window::{
    Count, Counter, Fixed, FixedWindow, Log, SlidingWindowCounter, SlidingWindowLog, Windowed,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
