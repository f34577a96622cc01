//! The settings of one stage, as the builder collects them.

use crate::error::BuildError;
use crate::stage::OnError;

/// Items a stage hands on at once unless told otherwise: enough that a cheap stage pays
/// for a hand-off once per many items, few enough that the next stage starts early.
pub(crate) const DEFAULT_CHUNK: usize = 256;
/// Items a stage's output queue holds unless told otherwise: 16 chunks.
pub(crate) const DEFAULT_BUFFER: usize = 4096;
/// Chunks an ordered parallel stage lets be in flight per thread unless told otherwise.
pub(crate) const DEFAULT_WINDOW_PER_THREAD: usize = 4;

/// What [`name`](crate::Pipeline::name), [`buffer`](crate::Pipeline::buffer),
/// [`chunk_size`](crate::Pipeline::chunk_size),
/// [`reorder_window`](crate::Pipeline::reorder_window) and
/// [`skip_errors`](crate::Pipeline::skip_errors) set for the stage just added, with what the
/// stage itself was built with.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) name: String,
    /// Capacity of the queue after the stage, in items.
    pub(crate) buffer: usize,
    /// Items per hand-off to the next stage.
    pub(crate) chunk: usize,
    /// For an ordered parallel stage, chunks in flight at most; `None` for the default.
    pub(crate) window: Option<usize>,
    /// What a fallible stage does with an item it failed on.
    pub(crate) on_error: OnError,
    /// The queue after the stage is a channel of items (the one
    /// [`into_receiver`](crate::Pipeline::into_receiver) hands out), not of chunks.
    pub(crate) per_item: bool,
    /// Threads of a parallel stage (1 for the others).
    pub(crate) threads: usize,
    /// The size of `batch`'s batches.
    pub(crate) batch: Option<usize>,
}

impl Spec {
    pub(crate) fn new(kind: &str) -> Self {
        Spec {
            name: kind.to_owned(),
            buffer: DEFAULT_BUFFER,
            chunk: DEFAULT_CHUNK,
            window: None,
            on_error: OnError::Fail,
            per_item: false,
            threads: 1,
            batch: None,
        }
    }

    /// Checks the settings of a stage that outputs `T`, once they are final (the stage's
    /// name included).
    pub(crate) fn check<T>(&self) -> Result<(), BuildError> {
        let zero = |what| BuildError::Zero {
            stage: self.name.clone(),
            what,
        };
        if self.threads == 0 {
            return Err(BuildError::ZeroThreads {
                stage: self.name.clone(),
            });
        }
        if self.chunk == 0 {
            return Err(zero("chunk size"));
        }
        if self.batch == Some(0) {
            return Err(zero("batch size"));
        }
        if self.window == Some(0) {
            return Err(zero("reorder window"));
        }
        let fits = if self.per_item {
            self.buffer <= bounded_buffer::max_capacity::<T>()
        } else {
            self.buffer.div_ceil(self.chunk) <= bounded_buffer::max_capacity::<Vec<T>>()
        };
        if !fits {
            return Err(BuildError::Buffer {
                stage: self.name.clone(),
                capacity: self.buffer,
            });
        }
        Ok(())
    }
}
