//! Shared-memory MapReduce: map, combine at emit time, partition, merge and reduce in
//! parallel.
//!
//! The pattern of Phoenix and Phoenix++ on the workspace's
//! [`worker-pool`](worker_pool): split a large input into chunks, let a team of mappers map
//! them in parallel into their own containers — combining the values of a key as they are
//! emitted, so a mapper holds one value per key, and splitting the keys into partitions as
//! they come — then let one reducer per partition merge that partition across the mappers
//! and reduce it. Nothing is shared between mappers until the map phase ends, and the merge
//! is as parallel as the map.
//!
//! # Word count
//!
//! ```
//! use mapreduce::MapReduce;
//!
//! let text = "it was the best of times\nit was the worst of times\n";
//! let counts = MapReduce::new(
//!     |line: &str, out| {
//!         for word in line.split_whitespace() {
//!             out.emit(word, 1u64); // keys borrow from `text`
//!         }
//!     },
//!     |_word, counts| counts.sum::<u64>(),
//! )
//! .combiner(|total, n| *total += n) // one count per word per mapper
//! .mappers(2)
//! .reducers(2)
//! .run(text)?;
//!
//! let counts = counts.into_map();
//! assert_eq!(counts["times"], 2);
//! assert_eq!(counts["best"], 1);
//! # Ok::<(), mapreduce::MapReduceError>(())
//! ```
//!
//! # Inverted index, and errors
//!
//! Without a combiner the reduce function gets every value of a key (in no particular
//! order). A panic in any phase is an error that names the phase:
//!
//! ```
//! use mapreduce::{MapReduce, MapReduceError, Phase};
//!
//! let docs = vec![(0, "red fish"), (1, "blue fish"), (2, "red sky")];
//! let index = MapReduce::new(
//!     |&(doc, text): &(usize, &'static str), out| {
//!         for word in text.split_whitespace() {
//!             out.emit(word, doc);
//!         }
//!     },
//!     |_word, docs| {
//!         let mut docs: Vec<usize> = docs.collect();
//!         docs.sort_unstable();
//!         docs
//!     },
//! )
//! .sorted(true)
//! .run(&docs)?;
//! assert_eq!(index.as_slice()[1], ("fish", vec![0, 1]));
//!
//! let broken = MapReduce::new(|n: &u32, out| out.emit(*n, *n), |_, v| {
//!     if v.len() > 1 { panic!("duplicate") }
//!     0
//! })
//! .run(&[1, 2, 2][..]);
//! assert!(matches!(broken, Err(MapReduceError::Panicked { phase: Phase::Reduce, .. })));
//! # Ok::<(), MapReduceError>(())
//! ```
//!
//! # Histogram
//!
//! A dense container is an array per mapper, for small integer keys. With
//! [`dense_from`](MapReduce::dense_from) its slots start at an identity (0 for a count), and
//! a map that returns its pairs ([`flat_map`](MapReduce::flat_map)) puts each straight into
//! its slot: a byte costs what it costs in a hand-written loop. ([`dense`](MapReduce::dense)
//! starts each slot at its key's first value instead, and leaves out keys never emitted.)
//!
//! ```
//! use mapreduce::MapReduce;
//!
//! let pixels: Vec<u8> = (0..200).chain(0..10).collect();
//! let histogram = MapReduce::flat_map(|&b: &u8| [(b, 1u64)], |_, n| n.sum::<u64>())
//!     .combiner(|a, b| *a += b)
//!     .dense_from(256, 0)
//!     .sorted(true)
//!     .run(&pixels)?;
//! assert_eq!(histogram.len(), 256);
//! assert_eq!(histogram.as_slice()[5], (5, 2));
//! assert_eq!(histogram.as_slice()[150], (150, 1));
//! assert_eq!(histogram.as_slice()[250], (250, 0));
//! # Ok::<(), mapreduce::MapReduceError>(())
//! ```
//!
//! # Guarantees
//!
//! * The output is the same as a sequential fold's, for any number of mappers, reducers
//!   and any chunk size, provided the combiner is associative and commutative.
//! * Records are never split: chunks of text, bytes and files are cut just after a line
//!   ending or delimiter ([`input`] has the rules, which are [`str::lines`]'s).
//! * A panic in any user function is caught and fails the run with the phase's name; it
//!   cancels the rest of the run and never aborts or kills a pool worker.
//! * Every mapper and reducer has ended when [`run`](MapReduce::run) returns, whatever
//!   it returns.

#![forbid(unsafe_code)]

mod combine;
mod container;
mod emit;
mod error;
pub mod input;
mod map;
mod mapreduce;
mod output;

mod sealed {
    /// Keeps the engine's traits to this crate's types.
    #[allow(unreachable_pub)]
    pub trait Sealed {}
}

pub use combine::{Collect, Combine, Combiner, Values};
pub use container::{Container, Dense, DenseFrom, DenseKey, Hashed};
pub use emit::Emitter;
pub use error::{BuildError, MapReduceError, Phase};
pub use input::Input;
pub use map::{FlatMap, MapFn};
pub use mapreduce::{CheckContainer, MapReduce};
pub use output::{Output, Progress, ReducerStats, Timings};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
