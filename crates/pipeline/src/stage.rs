//! What a stage does to each item, and the loop a stage thread runs.

use std::time::Instant;

use bounded_buffer::Sender;

use crate::error::{BoxError, PipelineError, Skipped};
use crate::link::{self, Inlet, Outlet};
use crate::report::{Meter, Tally};
use crate::run::{Run, Stop};
use crate::spec::Spec;
use crate::sync::Arc;

/// The work of a stage: items in, items out.
pub(crate) trait Step<T, U>: Send + 'static {
    /// Handles one item, pushing what it yields onto `out`, or holding it back for
    /// [`resume`](Step::resume).
    fn step(&mut self, item: T, out: &mut Vec<U>) -> Result<(), BoxError>;

    /// Pushes up to `room` more of what the last item yields (a `flat_map`'s iterator,
    /// which may be longer than a queue, or endless); true while there is more.
    fn resume(&mut self, _out: &mut Vec<U>, _room: usize) -> bool {
        false
    }

    /// Pushes what is held back once the input has run out (a partial batch).
    fn finish(&mut self, _out: &mut Vec<U>) {}
}

/// The step of `flat_map`: the iterator of the item in hand, pulled a chunk's room at a
/// time, so that its items are handed on as they come.
pub(crate) struct FlatMap<F, I> {
    pub(crate) f: F,
    pub(crate) pending: Option<I>,
}

impl<T, U, F, J> Step<T, U> for FlatMap<F, J::IntoIter>
where
    F: FnMut(T) -> J + Send + 'static,
    J: IntoIterator<Item = U>,
    J::IntoIter: Send + 'static,
{
    fn step(&mut self, item: T, _out: &mut Vec<U>) -> Result<(), BoxError> {
        self.pending = Some((self.f)(item).into_iter());
        Ok(())
    }

    fn resume(&mut self, out: &mut Vec<U>, room: usize) -> bool {
        let Some(items) = &mut self.pending else {
            return false;
        };
        let before = out.len();
        out.extend(items.by_ref().take(room));
        if out.len() - before < room {
            self.pending = None;
            return false;
        }
        true
    }
}

/// A closure as a [`Step`].
#[derive(Clone)]
pub(crate) struct FnStep<F>(pub(crate) F);

impl<T, U, F> Step<T, U> for FnStep<F>
where
    F: FnMut(T, &mut Vec<U>) -> Result<(), BoxError> + Send + 'static,
{
    #[inline]
    fn step(&mut self, item: T, out: &mut Vec<U>) -> Result<(), BoxError> {
        (self.0)(item, out)
    }
}

/// What a stage does with an item its step failed on.
#[derive(Debug, Clone)]
pub(crate) enum OnError {
    /// Fail the run with the error (the default).
    Fail,
    /// Drop the item, count it, hand the error to the sender if there is one, and go on.
    Skip(Option<Sender<Skipped>>),
}

/// One stage thread's view of its stage.
#[derive(Debug)]
pub(crate) struct Worker<'a> {
    pub(crate) run: &'a Run,
    pub(crate) stage: &'a str,
    pub(crate) on_error: OnError,
    pub(crate) tally: Tally,
    started: Instant,
}

impl<'a> Worker<'a> {
    pub(crate) fn new(run: &'a Run, stage: &'a str, on_error: OnError) -> Self {
        Worker {
            run,
            stage,
            on_error,
            tally: Tally::default(),
            started: Instant::now(),
        }
    }

    /// Applies `step` to every item of `chunk`, pushing onto `out`.
    ///
    /// # Errors
    ///
    /// `Stop` after recording the first error, unless errors are skipped.
    #[inline]
    pub(crate) fn apply<T, U>(
        &mut self,
        step: &mut impl Step<T, U>,
        chunk: &mut Vec<T>,
        out: &mut Vec<U>,
    ) -> Result<(), Stop> {
        for item in chunk.drain(..) {
            if let Err(error) = step.step(item, out) {
                self.failed(error)?;
            }
        }
        Ok(())
    }

    fn failed(&mut self, error: BoxError) -> Result<(), Stop> {
        match &self.on_error {
            OnError::Skip(errors) => {
                self.tally.skipped += 1;
                if let Some(errors) = errors {
                    let skipped = Skipped {
                        stage: self.stage.to_owned(),
                        error,
                    };
                    // Gone or cancelled: nobody is left to tell.
                    let _ = errors.send_cancellable(skipped, &self.run.token);
                }
                Ok(())
            }
            OnError::Fail => {
                self.run.fail(PipelineError::Stage {
                    stage: self.stage.to_owned(),
                    error,
                });
                Err(Stop)
            }
        }
    }

    /// Adds this thread's counts to the stage's report: time not spent waiting was busy.
    pub(crate) fn settle(mut self, meter: &Meter) {
        self.tally.settle(self.started);
        meter.add(&self.tally);
    }
}

/// A sequential stage (or one thread of an unordered parallel one): receive a chunk,
/// step through it, hand on what it yields; at the end of the input, hand on what the
/// step held back.
///
/// Everything produced from a chunk is handed on before the next chunk is awaited, so
/// no item waits in this stage while it blocks on input.
pub(crate) fn run_stage<T, U>(
    worker: &mut Worker<'_>,
    input: &Inlet<T>,
    output: &mut Outlet<U>,
    step: &mut impl Step<T, U>,
) -> Result<(), Stop> {
    let token = &worker.run.token;
    let mut chunk = link::chunk_vec(input.chunk);
    while input.recv(&mut chunk, token, &mut worker.tally)? {
        for item in chunk.drain(..) {
            if let Err(error) = step.step(item, &mut output.buf) {
                worker.failed(error)?;
            }
            loop {
                let room = output.room();
                if !step.resume(&mut output.buf, room) {
                    break;
                }
                output.flush(token, &mut worker.tally)?;
            }
            if output.room() == 0 {
                output.flush(token, &mut worker.tally)?;
            }
        }
        output.flush(token, &mut worker.tally)?;
    }
    step.finish(&mut output.buf);
    output.flush(token, &mut worker.tally)
}

/// Starts thread `index` of the stage with settings `spec`: [`run_stage`] from `input`
/// into `output` with `step`, reporting to `meter`.
pub(crate) fn spawn<T, U>(
    run: &Arc<Run>,
    spec: &Spec,
    index: usize,
    input: Inlet<T>,
    mut output: Outlet<U>,
    meter: &Arc<Meter>,
    mut step: impl Step<T, U>,
) -> Result<(), PipelineError>
where
    T: Send + 'static,
    U: Send + 'static,
{
    let (run_, spec_, meter) = (Arc::clone(run), spec.clone(), Arc::clone(meter));
    Run::spawn(run, &spec.name, index, move || {
        let mut worker = Worker::new(&run_, &spec_.name, spec_.on_error.clone());
        let result = run_stage(&mut worker, &input, &mut output, &mut step);
        worker.settle(&meter);
        result
    })
}

/// A source: pull up to a chunk from `items`, hand it on, until `items` ends. The
/// iterator is not polled again once the run is cancelled.
pub(crate) fn run_source<T>(
    worker: &mut Worker<'_>,
    items: &mut impl Iterator<Item = T>,
    output: &mut Outlet<T>,
    chunk: usize,
) -> Result<(), Stop> {
    let token = &worker.run.token;
    loop {
        if token.is_cancelled() {
            return Err(Stop);
        }
        output.buf.extend(items.by_ref().take(chunk));
        if output.buf.is_empty() {
            return Ok(());
        }
        output.flush(token, &mut worker.tally)?;
    }
}
