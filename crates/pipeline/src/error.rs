//! How a pipeline run fails, and how a pipeline can be built wrong.

use std::io;

/// The error a fallible stage returns, boxed: stages with different error types compose
/// into one pipeline, and the caller recovers the concrete type with `downcast_ref` (an
/// inherent method of `dyn Error`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a pipeline run did not complete. The first failure in time wins: it cancels every
/// stage, and later failures (often just consequences of the cancellation) are dropped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError<E = BoxError> {
    /// A fallible stage (`try_map`, `par_try_map`, `try_for_each`) returned an error.
    #[error("stage `{stage}` failed: {error}")]
    Stage {
        /// The stage's name: the one given with [`name`](crate::Pipeline::name), or its kind.
        stage: String,
        /// What the stage returned.
        error: E,
    },
    /// A stage's closure panicked; the panic was caught and cancelled the run.
    #[error("stage `{stage}` panicked: {message}")]
    Panicked {
        /// The stage's name.
        stage: String,
        /// The panic's message, when it was a string (`"<non-string panic payload>"` if not).
        message: String,
    },
    /// The run was cancelled from outside (the token given to
    /// [`with_cancel`](crate::Pipeline::with_cancel) fired) before every item was through.
    #[error("the pipeline was cancelled")]
    Cancelled,
    /// The pipeline was built wrong; nothing ran.
    #[error("invalid pipeline: {0}")]
    Build(#[from] BuildError),
    /// The operating system refused a thread for a stage; the stages already started
    /// were cancelled and joined.
    #[error("could not start a thread for stage `{stage}`: {error}")]
    Spawn {
        /// The stage whose thread did not start.
        stage: String,
        /// What the operating system said.
        error: io::Error,
    },
}

impl<E> PipelineError<E> {
    /// The name of the stage that failed, for the variants that have one.
    pub fn stage(&self) -> Option<&str> {
        match self {
            PipelineError::Stage { stage, .. }
            | PipelineError::Panicked { stage, .. }
            | PipelineError::Spawn { stage, .. } => Some(stage),
            PipelineError::Build(error) => Some(error.stage()),
            PipelineError::Cancelled => None,
        }
    }

    /// True for [`PipelineError::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, PipelineError::Cancelled)
    }
}

/// An item a stage dropped under [`skip_errors_to`](crate::Pipeline::skip_errors_to):
/// the stage and the error. To keep the item itself, return it inside the error.
#[derive(Debug, thiserror::Error)]
#[error("stage `{stage}` skipped an item: {error}")]
pub struct Skipped {
    /// The stage's name.
    pub stage: String,
    /// What its closure returned.
    pub error: BoxError,
}

/// A pipeline that cannot run as built: found when a sink starts it, before any thread
/// starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A parallel stage was given 0 threads.
    #[error("stage `{stage}` needs at least one thread")]
    ZeroThreads {
        /// The stage.
        stage: String,
    },
    /// A chunk size, batch size or reorder window of 0.
    #[error("stage `{stage}`: {what} must be at least 1")]
    Zero {
        /// The stage.
        stage: String,
        /// Which setting: `"chunk size"`, `"batch size"`, `"reorder window"` or
        /// `"output count"`.
        what: &'static str,
    },
    /// A setting too large to allocate for.
    #[error("stage `{stage}`: a {what} of {value} cannot be allocated")]
    TooLarge {
        /// The stage.
        stage: String,
        /// Which setting: `"reorder window"` or `"chunk size"`.
        what: &'static str,
        /// Its value.
        value: usize,
    },
    /// A buffer larger than a channel can allocate for the item type.
    #[error("stage `{stage}`: a buffer of {capacity} items cannot be allocated")]
    Buffer {
        /// The stage.
        stage: String,
        /// The capacity asked for.
        capacity: usize,
    },
}

impl BuildError {
    /// The stage that was built wrong.
    pub fn stage(&self) -> &str {
        match self {
            BuildError::ZeroThreads { stage }
            | BuildError::Zero { stage, .. }
            | BuildError::TooLarge { stage, .. }
            | BuildError::Buffer { stage, .. } => stage,
        }
    }
}
