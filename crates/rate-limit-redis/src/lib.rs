//! GCRA rate limiters whose state lives in Redis, so that many processes share one limit.
//!
//! [`RedisGcra`] is `rate_limit::Gcra`'s algorithm with its one word of state — the
//! theoretical arrival time (TAT) — in a Redis key instead of an atomic: every process that
//! checks the same key shares the limit. [`RedisKeyed`] keeps one such limit per key (a
//! user, a tenant, a host) under a prefix. Both implement the workspace's
//! [`RateLimiter`](rate_limit::RateLimiter) semantics: a burst at once, then an even rate;
//! `try_` calls all-or-nothing with an exact `retry_after`; blocking calls that reserve
//! ahead and are served in order; deadlines that fail fast; cancellation that gives back.
//!
//! ```no_run
//! use rate_limit::{Rate, RateLimiter};
//! use rate_limit_redis::{RedisGcra, RedisKeyed};
//!
//! let url = std::env::var("REDIS_URL").unwrap_or("redis://127.0.0.1:6379".into());
//! let client = redis::Client::open(url).unwrap();
//!
//! // One limit for every process of the fleet: 100 calls a second, bursts of 20.
//! let api = RedisGcra::new(client.clone(), "rl:partner-api", Rate::per_second(100), 20).unwrap();
//! api.acquire().unwrap(); // blocks until this process's turn
//!
//! // One limit per user: 5 a second, bursts of 10.
//! let per_user = RedisKeyed::new(client, "rl:user:", Rate::per_second(5), 10).unwrap();
//! if let Err(error) = per_user.check("alice") {
//!     println!("alice: {error}"); // "rate limit reached: retry after …", or a Redis failure
//! }
//! ```
//!
//! # How a check runs
//!
//! One Lua script per check (`EVALSHA`, loaded again when the server does not know it),
//! which the server runs atomically: concurrent processes never admit more than the limit.
//! It reads the time from the server (`TIME`), so processes whose clocks disagree still
//! agree, and it sets the key to expire when the limiter would be full again (TAT − now):
//! a limit at rest takes no memory, which is also the keyed limiter's eviction. A check
//! costs one round trip; a cancelled wait, two.
//!
//! # When Redis fails: fail-closed or fail-open
//!
//! The typed methods ([`RedisGcra::check_n`], [`RedisGcra::wait_n_until`] and
//! [`RedisKeyed`]'s) report a failure as [`RedisLimitError::Redis`]. The
//! [`RateLimiter`](rate_limit::RateLimiter) methods must answer yes or no, and follow the
//! limiter's [`FailurePolicy`]: [`Closed`](FailurePolicy::Closed) by default — refuse, with
//! a `retry_after` of [`Builder::retry_after_failure`]; blocking calls wait for Redis
//! within their deadline — or [`Open`](FailurePolicy::Open) — admit. Never a panic; never a
//! pass unless the policy says so. The connection is dropped after a failure and made
//! again on the next call.

mod builder;
mod error;
mod keyed;
mod limiter;
mod pool;
mod script;
mod shared;
mod wait;

pub use crate::builder::{Builder, FailurePolicy};
pub use crate::error::RedisLimitError;
pub use crate::keyed::RedisKeyed;
pub use crate::limiter::RedisGcra;

/// The README's examples, compiled (not run: they need a server) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
