//! How a run fails, and how a job can be configured wrong.

use core::fmt;
use std::io;
use std::path::PathBuf;

/// The phase of a run, as named in [`MapReduceError::Panicked`] and [`Timings`](crate::Timings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The map function, and the combiner and partitioner it runs through at every emit.
    Map,
    /// A reducer merging one partition's values across the mappers (the combiner again).
    Merge,
    /// The reduce function, and the sort of [`sorted(true)`](crate::MapReduce::sorted).
    Reduce,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Map => "map",
            Phase::Merge => "merge",
            Phase::Reduce => "reduce",
        })
    }
}

/// Why a run did not produce its output. The first failure in time wins: it cancels the
/// rest of the run (mappers stop before their next chunk, reducers within 1024 keys), and
/// failures after it are dropped.
#[derive(Debug, thiserror::Error)]
pub enum MapReduceError {
    /// The job was configured wrong; nothing ran.
    #[error("invalid mapreduce job: {0}")]
    Build(#[from] BuildError),
    /// A user function panicked in `phase`. The panic was caught and cancelled the run.
    #[error("the {phase} phase panicked: {message}")]
    Panicked {
        /// Where the panic happened.
        phase: Phase,
        /// The panic's message, when it was a string (`"<non-string panic payload>"` if not).
        message: String,
    },
    /// The token given to [`with_cancel`](crate::MapReduce::with_cancel) fired before the
    /// run was done.
    #[error("the mapreduce run was cancelled")]
    Cancelled,
    /// Reading a file input failed: it could not be opened or read, or it is not UTF-8.
    #[error("cannot read `{}`: {error}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What the operating system (or the UTF-8 check, as `InvalidData`) said.
        error: io::Error,
    },
    /// The job's own worker pool could not start its threads.
    #[error("cannot start the mapreduce worker pool: {0}")]
    Pool(worker_pool::BuildError),
}

impl MapReduceError {
    /// The phase a panic happened in, for [`MapReduceError::Panicked`].
    #[must_use]
    pub fn phase(&self) -> Option<Phase> {
        match self {
            MapReduceError::Panicked { phase, .. } => Some(*phase),
            _ => None,
        }
    }

    /// True for [`MapReduceError::Cancelled`].
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self, MapReduceError::Cancelled)
    }
}

/// A job that cannot run as configured, found by [`run`](crate::MapReduce::run) (or
/// [`check`](crate::MapReduce::check)) before any work starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// `mappers(0)`.
    #[error("the number of mappers must be at least 1")]
    ZeroMappers,
    /// `reducers(0)`.
    #[error("the number of reducers must be at least 1")]
    ZeroReducers,
    /// `chunk_size(0)`.
    #[error("the chunk size must be at least 1")]
    ZeroChunkSize,
    /// `dense(0)`: a dense container without a key.
    #[error("a dense container needs a key range of at least 1")]
    ZeroDenseRange,
    /// `dense(len)` or `dense_from(len, _)` with more slots than the key type has indices
    /// ([`DenseKey::RANGE`](crate::DenseKey::RANGE)).
    #[error("a dense container of {len} slots is longer than its key type's range of {range}")]
    DenseRangeTooLarge {
        /// The range asked for.
        len: usize,
        /// How many indices the key type has.
        range: usize,
    },
}
