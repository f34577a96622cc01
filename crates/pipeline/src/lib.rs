//! Backpressured multi-stage pipelines on threads.
//!
//! An assembly line: a source, then stages, each on its own thread (or several, for a
//! parallel stage), joined by bounded queues, so a slow stage holds the ones before it
//! back instead of letting work pile up. Errors and panics stop every stage, a
//! [`CancelToken`](patterns_core::CancelToken) reaches every stage, and every thread is
//! joined before a sink returns. The shape is Intel TBB's `parallel_pipeline` (serial
//! and parallel filters, in order or not, under a bound on the items in flight) and Go's
//! pipeline idioms, with rayon's missing piece: a parallel map that keeps input order.
//!
//! ```
//! use pipeline::Pipeline;
//!
//! let done = Pipeline::from_iter(1..=10_000u64)
//!     .map(|x| x * x)
//!     .name("square")
//!     .filter(|x| x % 2 == 0)
//!     .par_map(2, |x| x / 2) // two threads, results in input order
//!     .fold(0u64, |sum, x| sum + x)?;
//! assert_eq!(done.value, (1..=10_000u64).map(|x| x * x).filter(|x| x % 2 == 0).map(|x| x / 2).sum());
//! // Source, square, filter, par_map, fold: what each did, and which was busiest.
//! assert_eq!(done.report.stages.len(), 5);
//! assert_eq!(done.report.stages[1].name, "square");
//! # Ok::<(), pipeline::PipelineError>(())
//! ```
//!
//! # Building a pipeline
//!
//! * Sources: [`Pipeline::from_iter`], [`Pipeline::generate`],
//!   [`Pipeline::from_receiver`] (a [`bounded_buffer`] channel).
//! * Sequential stages: [`map`](Pipeline::map), [`filter`](Pipeline::filter),
//!   [`filter_map`](Pipeline::filter_map), [`flat_map`](Pipeline::flat_map),
//!   [`inspect`](Pipeline::inspect), [`try_map`](Pipeline::try_map),
//!   [`batch`](Pipeline::batch), [`unbatch`](Pipeline::unbatch).
//! * Parallel stages: [`par_map`](Pipeline::par_map) and
//!   [`par_try_map`](Pipeline::par_try_map) keep input order;
//!   [`par_map_unordered`](Pipeline::par_map_unordered) and
//!   [`par_try_map_unordered`](Pipeline::par_try_map_unordered) do not.
//! * Settings of the stage just added: [`name`](Pipeline::name),
//!   [`buffer`](Pipeline::buffer), [`chunk_size`](Pipeline::chunk_size),
//!   [`reorder_window`](Pipeline::reorder_window), [`skip_errors`](Pipeline::skip_errors),
//!   [`skip_errors_to`](Pipeline::skip_errors_to);
//!   of the whole run: [`with_cancel`](Pipeline::with_cancel).
//! * Sinks, which run it: [`for_each`](Pipeline::for_each),
//!   [`try_for_each`](Pipeline::try_for_each), [`fold`](Pipeline::fold),
//!   [`collect`](Pipeline::collect), [`into_iter`](Pipeline::into_iter) (a blocking
//!   iterator: the parallel-to-sequential bridge), [`into_receiver`](Pipeline::into_receiver).
//!   Each returns a [`RunReport`] with what it returns when the run completes.
//! * By hand, on channels: [`fan_out`], [`fan_in`], [`broadcast`], [`partition`].
//!
//! Items cross from stage to stage in chunks (256 by default; see
//! [`chunk_size`](Pipeline::chunk_size)), so a cheap stage does not pay for a thread
//! hand-off per item; a stage hands on what it made from a chunk before it waits for the
//! next one, so no item waits in a stage that is idle.
//!
//! # Guarantees
//!
//! * **Order.** Sequential stages and ordered parallel stages keep the order of their
//!   input; the sink sees items in source order unless an unordered stage is in the way.
//! * **Bounded memory.** Each queue holds at most its [`buffer`](Pipeline::buffer) of
//!   items, rounded up to whole chunks; an ordered parallel stage holds at most its
//!   [`reorder_window`](Pipeline::reorder_window) of chunks; a stage holds at most a
//!   chunk in hand (a `flat_map` pulls its iterator a chunk at a time).
//! * **The first error in time wins and cancels.** A failed stage (or a panic) records
//!   its error, and every stage stops at its next chunk; items before the failing one
//!   may not reach the sink. The source is polled for at most the rest of the chunk it is
//!   filling, then never again.
//! * **A panic is caught**, cancels at once, and is returned as
//!   [`PipelineError::Panicked`] with the stage's name and the panic message.
//! * **Every stage thread is joined before a sink returns**, also on error, and when an
//!   [`IntoIter`] is dropped early (which cancels the run). The only threads that are
//!   not joined are those of [`into_receiver`](Pipeline::into_receiver) when its
//!   [`Running`] is dropped, and those of the hand-built topologies: they end with their
//!   channels.
//! * **Cancellation** (a token given to [`with_cancel`](Pipeline::with_cancel)) stops
//!   every stage at its next chunk, including stages blocked on a full or empty queue;
//!   the sink returns [`PipelineError::Cancelled`] — or the result, if it had taken every
//!   item before it saw the token fire, but never a result with items missing.
//! * **Bad settings are errors**, not panics: a parallel stage of 0 threads, a chunk,
//!   batch or window of 0, or a buffer or window too large to allocate is a
//!   [`BuildError`], returned by the sink before any thread starts (a window too large
//!   is found as its stage starts; the stages already started are cancelled and joined).

mod error;
mod link;
mod ordered;
mod pipeline;
mod report;
mod run;
mod sink;
mod spec;
mod stage;
mod topology;

use patterns_core::sync;

pub use crate::error::{BoxError, BuildError, PipelineError, Skipped};
pub use crate::pipeline::Pipeline;
pub use crate::report::{RunReport, StageReport};
pub use crate::sink::{Finished, IntoIter, Running};
pub use crate::topology::{broadcast, fan_in, fan_out, partition};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
