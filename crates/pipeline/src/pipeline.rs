//! The builder: a source, then stages, each added by a method; nothing runs until a sink.

use std::fmt;

use bounded_buffer::{Receiver, Sender};
use patterns_core::CancelToken;

use crate::error::{BoxError, BuildError, PipelineError, Skipped};
use crate::link::{self, Inlet};
use crate::ordered;
use crate::run::Run;
use crate::spec::Spec;
use crate::stage::{self, FlatMap, FnStep, OnError, Step, Worker};
use crate::sync::Arc;

/// Starts everything upstream of a link and returns the link's receiving end; its
/// argument is the settings of the stage at the link's sending end.
type Plan<T> = Box<dyn FnOnce(&Arc<Run>, &Spec) -> Result<Inlet<T>, PipelineError> + Send>;

/// A pipeline under construction whose items are `T`: a source and the stages added so
/// far. Each stage runs on its own thread(s), joined to the next by a bounded queue.
/// Nothing runs until a sink ([`for_each`](Pipeline::for_each),
/// [`collect`](Pipeline::collect), [`into_iter`](Pipeline::into_iter), …) starts it.
///
/// Settings methods ([`name`](Pipeline::name), [`buffer`](Pipeline::buffer),
/// [`chunk_size`](Pipeline::chunk_size), [`reorder_window`](Pipeline::reorder_window),
/// [`skip_errors`](Pipeline::skip_errors)) apply to the stage added last.
///
/// See the [crate documentation](crate) for the guarantees.
#[must_use = "a pipeline does nothing until a sink runs it"]
pub struct Pipeline<T> {
    plan: Plan<T>,
    /// The settings of the stage that produces `T`.
    spec: Spec,
    cancel: Option<CancelToken>,
    /// The first setting found wrong: reported by the sink, before anything starts.
    invalid: Option<BuildError>,
}

impl<T> fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("last_stage", &self.spec.name)
            .field("invalid", &self.invalid)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Pipeline<T> {
    /// A pipeline whose source is `items`, pulled on a thread of its own (named
    /// `pipeline-source-0`) a chunk at a time. Once the run is cancelled or fails, the
    /// iterator is polled for at most the rest of the chunk it is filling.
    ///
    /// The source cannot be interrupted while `next` blocks: an iterator that blocks for
    /// long (`stdin().lines()`, a socket) holds up cancellation and the sink's return
    /// until it yields. Feed such input through a channel and
    /// [`from_receiver`](Pipeline::from_receiver) instead.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let squares: Vec<u64> = Pipeline::from_iter(1..=4u64).map(|x| x * x).collect()?.value;
    /// assert_eq!(squares, [1, 4, 9, 16]);
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    #[allow(clippy::should_implement_trait)] // A pipeline is a builder, not a collection.
    pub fn from_iter<I>(items: I) -> Pipeline<T>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        let mut items = items.into_iter();
        Pipeline::start(
            "source",
            Box::new(move |run, spec| {
                let (mut output, inlet) = link::open(spec)?;
                let meter = run.meter(&spec.name, 1);
                let (run_, name, chunk) = (Arc::clone(run), spec.name.clone(), spec.chunk);
                Run::spawn(run, &spec.name, 0, move || {
                    let mut worker = Worker::new(&run_, &name, OnError::Fail);
                    let result = stage::run_source(&mut worker, &mut items, &mut output, chunk);
                    worker.settle(&meter);
                    result
                })?;
                Ok(inlet)
            }),
        )
    }

    /// A pipeline whose source calls `next` until it returns `None`, on a thread of its
    /// own, as [`from_iter`](Pipeline::from_iter) does.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let mut n = 0;
    /// let count = Pipeline::generate(move || { n += 1; (n <= 100).then_some(n) })
    ///     .fold(0, |count, _| count + 1)?
    ///     .value;
    /// assert_eq!(count, 100);
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn generate<F>(next: F) -> Pipeline<T>
    where
        F: FnMut() -> Option<T> + Send + 'static,
    {
        Pipeline::from_iter(std::iter::from_fn(next))
    }

    /// A pipeline whose source is a channel: the first stage reads `rx` directly (no
    /// source thread), until it is closed and drained or the run stops.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let (tx, rx) = bounded_buffer::channel(16);
    /// tx.send_many(vec![1, 2, 3]).unwrap();
    /// drop(tx);
    /// let sum = Pipeline::from_receiver(rx).map(|x| x * 10).fold(0, |a, x| a + x)?.value;
    /// assert_eq!(sum, 60);
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn from_receiver(rx: Receiver<T>) -> Pipeline<T> {
        Pipeline::start(
            "receiver",
            Box::new(move |_, spec| Ok(Inlet::items(rx, spec.chunk))),
        )
    }

    fn start(kind: &str, plan: Plan<T>) -> Pipeline<T> {
        Pipeline {
            plan,
            spec: Spec::new(kind),
            cancel: None,
            invalid: None,
        }
    }

    /// Adds a stage of kind `kind`: `start` starts it, given its settings and the
    /// receiving end of its input, and returns the receiving end of its output.
    fn then<U>(
        self,
        kind: &str,
        start: impl FnOnce(&Arc<Run>, &Spec, Inlet<T>) -> Result<Inlet<U>, PipelineError>
            + Send
            + 'static,
    ) -> Pipeline<U> {
        let Pipeline {
            plan,
            spec,
            cancel,
            invalid,
        } = self;
        // The settings of the stage that produces `T` are final now: check them, so that
        // a bad one is reported before anything starts.
        let invalid = invalid.or_else(|| spec.check::<T>().err());
        Pipeline {
            plan: Box::new(move |run, mine| {
                let input = plan(run, &spec)?;
                start(run, mine, input)
            }),
            spec: Spec::new(kind),
            cancel,
            invalid,
        }
    }

    /// Adds a sequential stage that runs `step` on one thread.
    fn sequential<U, S>(self, kind: &str, step: S) -> Pipeline<U>
    where
        U: Send + 'static,
        S: Step<T, U>,
    {
        self.then(kind, move |run, spec, input| {
            let (output, inlet) = link::open(spec)?;
            let meter = run.meter(&spec.name, 1);
            stage::spawn(run, spec, 0, input, output, &meter, step)?;
            Ok(inlet)
        })
    }

    /// Adds a parallel stage of `threads` threads, each with a clone of `step`, keeping
    /// input order if `ordered`.
    fn parallel<U, S>(self, kind: &str, threads: usize, ordered: bool, step: S) -> Pipeline<U>
    where
        U: Send + 'static,
        S: Step<T, U> + Clone,
    {
        let mut next = self.then(kind, move |run, spec, input| {
            let (output, inlet) = link::open(spec)?;
            if ordered {
                ordered::start(run, spec, input, &output, threads, step)?;
            } else {
                let meter = run.meter(&spec.name, threads);
                for index in 0..threads {
                    let (input, output, step) = (input.clone(), output.clone(), step.clone());
                    stage::spawn(run, spec, index, input, output, &meter, step)?;
                }
            }
            Ok(inlet)
        });
        next.spec.threads = threads;
        next
    }

    /// Adds a stage that maps every item with `f`.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let lengths: Vec<usize> = Pipeline::from_iter(["a", "bb", "ccc"]).map(str::len).collect()?.value;
    /// assert_eq!(lengths, [1, 2, 3]);
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn map<U, F>(self, mut f: F) -> Pipeline<U>
    where
        U: Send + 'static,
        F: FnMut(T) -> U + Send + 'static,
    {
        self.sequential(
            "map",
            FnStep(move |item, out: &mut Vec<U>| {
                out.push(f(item));
                Ok(())
            }),
        )
    }

    /// Adds a stage that keeps the items for which `keep` is true.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let evens: Vec<u32> = Pipeline::from_iter(1..=6u32).filter(|x| x % 2 == 0).collect()?.value;
    /// assert_eq!(evens, [2, 4, 6]);
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn filter<F>(self, mut keep: F) -> Pipeline<T>
    where
        F: FnMut(&T) -> bool + Send + 'static,
    {
        self.sequential(
            "filter",
            FnStep(move |item, out: &mut Vec<T>| {
                if keep(&item) {
                    out.push(item);
                }
                Ok(())
            }),
        )
    }

    /// Adds a stage that maps every item with `f` and keeps the `Some`s.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let numbers: Vec<u8> = Pipeline::from_iter(["1", "x", "3"]).filter_map(|s| s.parse().ok()).collect()?.value;
    /// assert_eq!(numbers, [1, 3]);
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn filter_map<U, F>(self, mut f: F) -> Pipeline<U>
    where
        U: Send + 'static,
        F: FnMut(T) -> Option<U> + Send + 'static,
    {
        self.sequential(
            "filter_map",
            FnStep(move |item, out: &mut Vec<U>| {
                out.extend(f(item));
                Ok(())
            }),
        )
    }

    /// Adds a stage that maps every item to an iterator with `f` and hands on what each
    /// yields. The items of one iterator are handed on in chunks as they come, so one
    /// item may yield more than a queue holds.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let words: Vec<String> = Pipeline::from_iter(["a b", "c"])
    ///     .flat_map(|line| line.split(' ').map(String::from).collect::<Vec<_>>())
    ///     .collect()?
    ///     .value;
    /// assert_eq!(words, ["a", "b", "c"]);
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn flat_map<U, I, F>(self, f: F) -> Pipeline<U>
    where
        U: Send + 'static,
        I: IntoIterator<Item = U>,
        I::IntoIter: Send + 'static,
        F: FnMut(T) -> I + Send + 'static,
    {
        self.sequential("flat_map", FlatMap { f, pending: None })
    }

    /// Adds a stage that calls `f` on every item and hands it on unchanged.
    ///
    /// ```
    /// use pipeline::Pipeline;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&seen);
    /// Pipeline::from_iter(0..10).inspect(move |_| { counter.fetch_add(1, Ordering::Relaxed); }).for_each(drop)?;
    /// assert_eq!(seen.load(Ordering::Relaxed), 10);
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn inspect<F>(self, mut f: F) -> Pipeline<T>
    where
        F: FnMut(&T) + Send + 'static,
    {
        self.sequential(
            "inspect",
            FnStep(move |item, out: &mut Vec<T>| {
                f(&item);
                out.push(item);
                Ok(())
            }),
        )
    }

    /// Adds a fallible stage. The first error fails the run (unless the stage
    /// [skips errors](Pipeline::skip_errors)): the run is cancelled, and the sink returns
    /// [`PipelineError::Stage`] with the error, boxed.
    ///
    /// ```
    /// use pipeline::{Pipeline, PipelineError};
    ///
    /// let parsed = Pipeline::from_iter(["1", "2", "x", "4"])
    ///     .try_map(|s| s.parse::<u32>())
    ///     .name("parse")
    ///     .collect::<Vec<_>>();
    /// match parsed {
    ///     Err(PipelineError::Stage { stage, error }) => {
    ///         assert_eq!(stage, "parse");
    ///         assert!(error.downcast_ref::<std::num::ParseIntError>().is_some());
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn try_map<U, E, F>(self, mut f: F) -> Pipeline<U>
    where
        U: Send + 'static,
        E: Into<BoxError>,
        F: FnMut(T) -> Result<U, E> + Send + 'static,
    {
        self.sequential(
            "try_map",
            FnStep(move |item, out: &mut Vec<U>| {
                out.push(f(item).map_err(Into::into)?);
                Ok(())
            }),
        )
    }

    /// Adds a stage that maps every item with `f` on `threads` threads, handing the
    /// results on **in input order**.
    ///
    /// Threads take a chunk at a time; a finished chunk waits until the chunks before it
    /// have left. At most [`reorder_window`](Pipeline::reorder_window) chunks are in
    /// flight (by default 4 per thread), so memory stays bounded whatever the per-item
    /// delays: a thread that runs ahead waits. This is the order-preserving `par_bridge`
    /// rayon lacks.
    ///
    /// `threads` of 0 is a [`BuildError`], reported by the sink.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let squares: Vec<u64> = Pipeline::from_iter(0..1000u64).par_map(4, |x| x * x).collect()?.value;
    /// assert!(squares.iter().enumerate().all(|(i, &s)| s == (i * i) as u64));
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn par_map<U, F>(self, threads: usize, f: F) -> Pipeline<U>
    where
        U: Send + 'static,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.parallel("par_map", threads, true, shared_map(f))
    }

    /// As [`par_map`](Pipeline::par_map), for a fallible `f`: the first error fails the
    /// run as in [`try_map`](Pipeline::try_map).
    pub fn par_try_map<U, E, F>(self, threads: usize, f: F) -> Pipeline<U>
    where
        U: Send + 'static,
        E: Into<BoxError> + 'static,
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
    {
        self.parallel("par_try_map", threads, true, shared_try_map(f))
    }

    /// As [`par_map`](Pipeline::par_map), handing results on as they are ready, in no
    /// particular order: no reordering, no window.
    pub fn par_map_unordered<U, F>(self, threads: usize, f: F) -> Pipeline<U>
    where
        U: Send + 'static,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        self.parallel("par_map_unordered", threads, false, shared_map(f))
    }

    /// As [`par_try_map`](Pipeline::par_try_map), handing results on as they are ready.
    pub fn par_try_map_unordered<U, E, F>(self, threads: usize, f: F) -> Pipeline<U>
    where
        U: Send + 'static,
        E: Into<BoxError> + 'static,
        F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
    {
        self.parallel("par_try_map_unordered", threads, false, shared_try_map(f))
    }

    /// Adds a stage that groups items into `Vec`s of `size` (the last may be shorter).
    ///
    /// A `size` of 0 is a [`BuildError`], reported by the sink.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let batches: Vec<Vec<u8>> = Pipeline::from_iter(1..=5u8).batch(2).collect()?.value;
    /// assert_eq!(batches, [vec![1, 2], vec![3, 4], vec![5]]);
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn batch(self, size: usize) -> Pipeline<Vec<T>> {
        let mut next = self.sequential(
            "batch",
            Batch {
                size,
                batch: Vec::new(),
            },
        );
        next.spec.batch = Some(size);
        next
    }

    /// Sets the capacity, in items, of the queue after the stage added last (by default
    /// 4096), rounded up to whole chunks. A full queue blocks the stage: backpressure.
    /// Capacity 0 makes every hand-off a rendezvous.
    pub fn buffer(mut self, capacity: usize) -> Pipeline<T> {
        self.spec.buffer = capacity;
        self
    }

    /// Sets how many items the stage added last hands on at once (by default 256): the
    /// next stage pays for one hand-off per chunk. 1 gives the lowest latency; 0 is a
    /// [`BuildError`], reported by the sink.
    pub fn chunk_size(mut self, items: usize) -> Pipeline<T> {
        self.spec.chunk = items;
        self
    }

    /// Sets how many chunks the ordered parallel stage added last may have in flight (by
    /// default 4 per thread): at most `chunks - 1` finished chunks wait for their turn.
    /// No effect on other stages; 0 is a [`BuildError`], reported by the sink.
    pub fn reorder_window(mut self, chunks: usize) -> Pipeline<T> {
        self.spec.window = Some(chunks);
        self
    }

    /// Names the stage added last: its threads are named `pipeline-<name>-<n>`, and its
    /// name is in errors and in the run report.
    pub fn name(mut self, name: impl Into<String>) -> Pipeline<T> {
        self.spec.name = name.into();
        self
    }

    /// Makes the fallible stage added last drop an item it fails on, and go on, instead
    /// of failing the run; the report counts the items skipped. No effect on other
    /// stages (they cannot fail).
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let done = Pipeline::from_iter(["1", "x", "3"]).try_map(|s| s.parse::<u8>()).skip_errors().collect::<Vec<_>>()?;
    /// assert_eq!(done.value, [1, 3]);
    /// assert_eq!(done.report.stages[1].skipped, 1);
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn skip_errors(mut self) -> Pipeline<T> {
        self.spec.on_error = OnError::Skip(None);
        self
    }

    /// As [`skip_errors`](Pipeline::skip_errors), and hands every error, with the
    /// stage's name, to `errors`: the error channel of an ETL job that keeps going.
    ///
    /// The stage blocks while `errors` is full, so drain it on another thread, or make it
    /// [`unbounded`](bounded_buffer::unbounded); errors sent after `errors`' receiver is
    /// gone are dropped.
    ///
    /// ```
    /// use pipeline::Pipeline;
    ///
    /// let (errors_tx, errors) = bounded_buffer::unbounded();
    /// let done = Pipeline::from_iter(["7", "x", "8"])
    ///     .try_map(|s| s.parse::<u8>())
    ///     .name("parse")
    ///     .skip_errors_to(errors_tx)
    ///     .collect::<Vec<_>>()?;
    /// assert_eq!(done.value, [7, 8]);
    /// let skipped = errors.recv().unwrap();
    /// assert_eq!(skipped.to_string(), "stage `parse` skipped an item: invalid digit found in string");
    /// # Ok::<(), pipeline::PipelineError>(())
    /// ```
    pub fn skip_errors_to(mut self, errors: Sender<Skipped>) -> Pipeline<T> {
        self.spec.on_error = OnError::Skip(Some(errors));
        self
    }

    /// Ties the run to `token`: when it fires, every stage stops at its next chunk and
    /// the sink returns [`PipelineError::Cancelled`] (or its result, if it had taken
    /// every item before it saw the token fire). The run cancels a child of `token`,
    /// never `token` itself.
    pub fn with_cancel(mut self, token: &CancelToken) -> Pipeline<T> {
        self.cancel = Some(token.clone());
        self
    }

    /// Makes the queue after the last stage a channel of items, for
    /// [`into_receiver`](Pipeline::into_receiver).
    pub(crate) fn per_item(mut self) -> Pipeline<T> {
        self.spec.per_item = true;
        self
    }

    /// Starts every stage; the caller drains the returned link.
    pub(crate) fn launch(self) -> Result<(Arc<Run>, Inlet<T>), PipelineError> {
        if let Some(error) = self.invalid.or_else(|| self.spec.check::<T>().err()) {
            return Err(error.into());
        }
        let run = Run::new(self.cancel.as_ref());
        let planned = (self.plan)(&run, &self.spec);
        run.open(planned.is_ok());
        match planned {
            Ok(inlet) => Ok((run, inlet)),
            Err(error) => {
                run.fail(error);
                Err(run.finish().expect_err("a failure was recorded"))
            }
        }
    }
}

impl<T: Send + 'static> Pipeline<Vec<T>> {
    /// Adds a stage that hands on the items of every `Vec`, in order: the inverse of
    /// [`batch`](Pipeline::batch).
    pub fn unbatch(self) -> Pipeline<T> {
        let identity = |batch: Vec<T>| batch;
        self.sequential(
            "unbatch",
            FlatMap {
                f: identity,
                pending: None,
            },
        )
    }
}

/// `f` as a step every thread of a parallel stage can clone.
fn shared_map<T, U, F>(f: F) -> FnStep<impl FnMut(T, &mut Vec<U>) -> Result<(), BoxError> + Clone>
where
    F: Fn(T) -> U + Send + Sync + 'static,
{
    shared_try_map(move |item| Ok::<U, std::convert::Infallible>(f(item)))
}

fn shared_try_map<T, U, E, F>(
    f: F,
) -> FnStep<impl FnMut(T, &mut Vec<U>) -> Result<(), BoxError> + Clone>
where
    E: Into<BoxError>,
    F: Fn(T) -> Result<U, E> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    FnStep(move |item, out: &mut Vec<U>| {
        out.push(f(item).map_err(Into::into)?);
        Ok(())
    })
}

/// The step of [`Pipeline::batch`].
struct Batch<T> {
    size: usize,
    batch: Vec<T>,
}

impl<T: Send + 'static> Step<T, Vec<T>> for Batch<T> {
    fn step(&mut self, item: T, out: &mut Vec<Vec<T>>) -> Result<(), BoxError> {
        self.batch.push(item);
        if self.batch.len() >= self.size {
            out.push(std::mem::replace(
                &mut self.batch,
                link::chunk_vec(self.size),
            ));
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Vec<T>>) {
        if !self.batch.is_empty() {
            out.push(std::mem::take(&mut self.batch));
        }
    }
}
