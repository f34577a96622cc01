//! The ends of a pipeline: they start it, take its output on the caller's thread, and
//! join every stage thread before they return.

use std::fmt;
use std::time::Instant;

use bounded_buffer::Receiver;

use crate::error::{BoxError, PipelineError};
use crate::link::{self, Channel, Inlet};
use crate::pipeline::Pipeline;
use crate::report::{Meter, RunReport, Tally};
use crate::run::{Run, Stop};
use crate::sync::Arc;

/// What a sink returns from a run that completed: its result and the run's report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finished<R> {
    /// The sink's result: the collection, the fold's accumulator, or `()`.
    pub value: R,
    /// What every stage did; the sink is the last stage in it.
    pub report: RunReport,
}

/// The sink's end of a running pipeline, taking items on the caller's thread. Dropping
/// it before the end cancels the run and joins every stage thread.
struct Drain<T> {
    run: Arc<Run>,
    input: Inlet<T>,
    meter: Arc<Meter>,
    tally: Tally,
    started: Instant,
    /// False once the run is joined.
    open: bool,
}

impl<T: Send + 'static> Drain<T> {
    fn new(pipeline: Pipeline<T>, name: &str) -> Result<Self, PipelineError> {
        let (run, input) = pipeline.launch()?;
        let meter = run.meter(name, 0);
        Ok(Drain {
            run,
            input,
            meter,
            tally: Tally::default(),
            started: Instant::now(),
            open: true,
        })
    }

    /// The next chunk, into `buf`; `Ok(false)` at the end of the input.
    fn recv(&mut self, buf: &mut Vec<T>) -> Result<bool, Stop> {
        let got = self.input.recv(buf, &self.run.token, &mut self.tally);
        if got.is_err() {
            // Cancelled from outside, perhaps, with every stage already done: the run
            // still did not deliver everything.
            self.run.stop();
        }
        got
    }

    /// Feeds every item to `f` until the input ends, `f` fails or the run stops, then
    /// joins the run.
    fn drive(
        mut self,
        mut f: impl FnMut(T) -> Result<(), BoxError>,
    ) -> Result<RunReport, PipelineError> {
        let mut chunk = link::chunk_vec(self.input.chunk);
        'run: while let Ok(true) = self.recv(&mut chunk) {
            for item in chunk.drain(..) {
                if let Err(error) = f(item) {
                    let stage = self.meter.name();
                    self.run.fail(PipelineError::Stage { stage, error });
                    break 'run;
                }
            }
        }
        self.finish()
    }

    /// Joins the run (stopping it first if the input has not ended) and says how it
    /// ended.
    fn finish(mut self) -> Result<RunReport, PipelineError> {
        self.tally.settle(self.started);
        self.meter.add(&self.tally);
        self.open = false;
        self.run.finish()
    }
}

impl<T> Drop for Drain<T> {
    fn drop(&mut self) {
        if self.open {
            self.run.stop();
            self.run.join();
        }
    }
}

impl<T: Send + 'static> Pipeline<T> {
    /// Runs the pipeline, calling `f` on every item on the caller's thread.
    ///
    /// # Errors
    ///
    /// The first failure of any stage, [`PipelineError::Cancelled`], or a
    /// [`BuildError`](crate::BuildError). Every stage thread has been joined, whatever
    /// the outcome; if `f` panics, the run is cancelled and joined before the panic goes
    /// on.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let mut seen = Vec::new();
    /// let done = Pipeline::from_iter(1..=3).map(|x| x * 2).for_each(|x| seen.push(x))?;
    /// assert_eq!(seen, [2, 4, 6]);
    /// assert_eq!(done.report.stages.len(), 3); // source, map, for_each
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn for_each<F>(self, mut f: F) -> Result<Finished<()>, PipelineError>
    where
        F: FnMut(T),
    {
        let report = Drain::new(self, "for_each")?.drive(|item| {
            f(item);
            Ok(())
        })?;
        Ok(Finished { value: (), report })
    }

    /// Runs the pipeline, calling the fallible `f` on every item on the caller's thread;
    /// its first error cancels the run.
    ///
    /// # Errors
    ///
    /// As [`for_each`](Pipeline::for_each), and [`PipelineError::Stage`] with the stage
    /// `"try_for_each"` when `f` fails.
    pub fn try_for_each<E, F>(self, mut f: F) -> Result<Finished<()>, PipelineError>
    where
        E: Into<BoxError>,
        F: FnMut(T) -> Result<(), E>,
    {
        let report = Drain::new(self, "try_for_each")?.drive(|item| f(item).map_err(Into::into))?;
        Ok(Finished { value: (), report })
    }

    /// Runs the pipeline, folding every item into `init` with `f` on the caller's thread.
    ///
    /// # Errors
    ///
    /// As [`for_each`](Pipeline::for_each).
    pub fn fold<A, F>(self, init: A, mut f: F) -> Result<Finished<A>, PipelineError>
    where
        F: FnMut(A, T) -> A,
    {
        let mut acc = Some(init);
        let report = Drain::new(self, "fold")?.drive(|item| {
            let a = acc
                .take()
                .expect("the accumulator is put back after every item");
            acc = Some(f(a, item));
            Ok(())
        })?;
        let value = acc.expect("the accumulator is put back after every item");
        Ok(Finished { value, report })
    }

    /// Runs the pipeline, collecting its items, in order, into a `C`.
    ///
    /// # Errors
    ///
    /// As [`for_each`](Pipeline::for_each); what was collected before the failure is
    /// dropped.
    pub fn collect<C>(self) -> Result<Finished<C>, PipelineError>
    where
        C: FromIterator<T>,
    {
        let mut items = self.drain_into_iter("collect");
        let mut failure = None;
        let value = C::from_iter(items.by_ref().map_while(|item| match item {
            Ok(item) => Some(item),
            Err(error) => {
                failure = Some(error);
                None
            }
        }));
        if let Some(error) = failure {
            return Err(error);
        }
        let report = items.finish()?;
        Ok(Finished { value, report })
    }

    /// Runs the pipeline, handing its items to the caller as a blocking iterator of
    /// `Result`s: the items in order, then, if the run failed, one `Err`.
    ///
    /// Dropping the iterator before the end cancels the run and joins every stage
    /// thread; [`IntoIter::report`] has the run report once it has ended.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let mut items = Pipeline::from_iter(0..1_000_000u64).map(|x| x + 1).into_iter();
    /// assert_eq!(items.next().unwrap().unwrap(), 1);
    /// drop(items); // cancels the run; every stage thread is joined here
    /// ```
    #[allow(clippy::should_implement_trait)] // `IntoIterator` too, below; this one is inherent for discoverability.
    pub fn into_iter(self) -> IntoIter<T> {
        self.drain_into_iter("iter")
    }

    /// The iterator of [`into_iter`](Pipeline::into_iter), its sink named `name` in the
    /// report.
    fn drain_into_iter(self, name: &str) -> IntoIter<T> {
        match Drain::new(self, name) {
            Ok(drain) => IntoIter {
                drain: Some(drain),
                chunk: Vec::new().into_iter(),
                ended: None,
            },
            Err(error) => IntoIter {
                drain: None,
                chunk: Vec::new().into_iter(),
                ended: Some(Err(error)),
            },
        }
    }

    /// Starts the pipeline and hands back the receiving end of its last queue, and the
    /// run: the Go idiom, for topologies built by hand.
    ///
    /// The stage threads run on while the receiver has room. They end when the input
    /// ends, when the run fails or is cancelled ([`Running::cancel`]), or, once the
    /// receiver is dropped, when the last stage next hands on a chunk (a stage idle on its
    /// input does not notice: cancel to stop it at once). [`Running::join`] waits for
    /// them and says how the run ended: drain or drop the receiver first, or the last
    /// stage may wait for room for ever. Dropping the [`Running`] detaches the threads,
    /// which still end in those ways.
    ///
    /// # Errors
    ///
    /// A [`BuildError`](crate::BuildError), or [`PipelineError::Spawn`], before anything
    /// runs.
    pub fn into_receiver(self) -> Result<(Receiver<T>, Running), PipelineError> {
        let (run, input) = self.per_item().launch()?;
        match input.rx {
            Channel::Items(rx) => Ok((rx, Running { run })),
            // `per_item` made the last queue a channel of items (or, with no stage at
            // all, it is the caller's own receiver, handed back).
            Channel::Chunks(_) => unreachable!("the last queue was opened per item"),
        }
    }
}

impl<T: Send + 'static> IntoIterator for Pipeline<T> {
    type Item = Result<T, PipelineError>;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        Pipeline::into_iter(self)
    }
}

/// The blocking iterator of [`Pipeline::into_iter`]: the items, in order, then one `Err`
/// if the run failed.
pub struct IntoIter<T> {
    /// `None` once the run is over.
    drain: Option<Drain<T>>,
    chunk: std::vec::IntoIter<T>,
    /// How the run ended, once it has; an error is handed out once, by `next`.
    ended: Option<Result<RunReport, PipelineError>>,
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter")
            .field("buffered", &self.chunk.len())
            .field("running", &self.drain.is_some())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> IntoIter<T> {
    /// The run report, once the iterator has returned `None` after a run that completed.
    pub fn report(&self) -> Option<&RunReport> {
        self.ended.as_ref().and_then(|ended| ended.as_ref().ok())
    }

    /// Takes what is left, and returns how the run ended.
    fn finish(&mut self) -> Result<RunReport, PipelineError> {
        for item in self.by_ref() {
            item?;
        }
        self.ended.take().unwrap_or(Err(PipelineError::Cancelled))
    }
}

impl<T: Send + 'static> std::iter::FusedIterator for IntoIter<T> {}

impl<T: Send + 'static> Iterator for IntoIter<T> {
    type Item = Result<T, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(item) = self.chunk.next() {
            return Some(Ok(item));
        }
        let Some(drain) = &mut self.drain else {
            // Over: hand out an error once, then nothing.
            return match self.ended.take() {
                Some(Err(error)) => Some(Err(error)),
                ended => {
                    self.ended = ended;
                    None
                }
            };
        };
        let mut chunk = link::chunk_vec(drain.input.chunk);
        if let Ok(true) = drain.recv(&mut chunk) {
            self.chunk = chunk.into_iter();
            return self.chunk.next().map(Ok);
        }
        let drain = self.drain.take().expect("matched above");
        match drain.finish() {
            Ok(report) => {
                self.ended = Some(Ok(report));
                None
            }
            Err(error) => Some(Err(error)),
        }
    }
}

/// A pipeline started by [`Pipeline::into_receiver`].
#[must_use = "dropping a `Running` detaches its threads; `join` waits for them"]
#[derive(Debug)]
pub struct Running {
    run: Arc<Run>,
}

impl Running {
    /// Cancels the run: every stage stops at its next chunk.
    pub fn cancel(&self) {
        self.run.stop();
    }

    /// Waits for every stage thread, and says how the run ended.
    ///
    /// # Errors
    ///
    /// The first failure, or [`PipelineError::Cancelled`] if the run was cancelled or
    /// its receiver dropped before the end.
    pub fn join(self) -> Result<RunReport, PipelineError> {
        self.run.finish()
    }
}
