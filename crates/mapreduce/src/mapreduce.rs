//! [`MapReduce`]: the job's settings, and its run.

use core::fmt;
use core::hash::BuildHasher;
use core::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use crossbeam_utils::CachePadded;
use patterns_core::sync::atomic::{AtomicU64, Ordering};
use patterns_core::sync::{Arc, Mutex};
use patterns_core::{panic_message, CancelToken};
use worker_pool::WorkerPool;

use crate::combine::{Collect, Combine, Combiner, Values};
use crate::container::{Container, Dense, DenseFrom, DenseKey, Hashed, PartitionFn};
use crate::emit::{Emitter, Sink};
use crate::error::{BuildError, MapReduceError, Phase};
use crate::input::{Input, Source};
use crate::map::{FlatMap, MapFn};
use crate::output::{Output, Progress, ReducerStats, Timings};

/// Keys between two looks at the cancel token while a reducer reduces.
const CANCEL_STRIDE: usize = 1024;

type ProgressFn = dyn Fn(Progress) + Send + Sync;

/// The job's type parameters, as data: `Send` and `Sync` whatever they are.
type Types<I, K, V, O> = PhantomData<fn(I) -> (K, V, O)>;

/// A map–combine–partition–reduce job: Phoenix++'s shared-memory MapReduce on the
/// workspace's [`WorkerPool`].
///
/// Built with [`new(map, reduce)`](MapReduce::new), tuned with the other methods, started
/// with [`run(input)`](MapReduce::run) — as many times as needed, on different inputs.
///
/// * `map(item, &mut emitter)` runs once per input item (a line, a record, an element) and
///   [`emit`](Emitter::emit)s key–value pairs.
/// * With a [`combiner`](MapReduce::combiner), each mapper keeps one value per key and
///   folds every emit into it; without one, it keeps every value.
/// * Pairs go, by the key's hash (or the [`partitioner`](MapReduce::partitioner)), into
///   one of [`reducers`](MapReduce::reducers) partitions, still inside the mapper.
/// * Once every mapper is done, reducer `p` merges partition `p` of every mapper and calls
///   `reduce(&key, values)` once per key; its result is the output's value for that key.
///
/// The types: `I` the input's item, `K` and `V` what `map` emits, `O` what `reduce`
/// returns, `C` the combiner ([`Collect`] or [`Combiner`]), `Ct` the container
/// ([`Hashed`], [`Dense`] or [`DenseFrom`]); `M` the map function, a closure
/// `map(item, &mut Emitter)` ([`new`](MapReduce::new)) or one that returns its pairs
/// ([`flat_map`](MapReduce::flat_map)).
///
/// # Examples
///
/// ```
/// use mapreduce::MapReduce;
///
/// let text = "the cat\nthe hat\r\nthe end";
/// let counts = MapReduce::new(
///     |line: &str, out| {
///         for word in line.split_whitespace() {
///             out.emit(word, 1u64); // the key borrows from `text`: no allocation
///         }
///     },
///     |_word, counts| counts.sum::<u64>(),
/// )
/// .combiner(|total, n| *total += n)
/// .mappers(2)
/// .sorted(true)
/// .run(text)?;
/// assert_eq!(counts.into_vec(), [("cat", 1), ("end", 1), ("hat", 1), ("the", 3)]);
/// # Ok::<(), mapreduce::MapReduceError>(())
/// ```
pub struct MapReduce<I, K, V, O, M, R, C = Collect, Ct = Hashed> {
    map: M,
    reduce: R,
    combine: C,
    container: Ct,
    mappers: usize,
    reducers: Option<usize>,
    chunk_size: Option<usize>,
    partitioner: Option<Box<PartitionFn<K>>>,
    sort: Option<Sorter<K, O>>,
    cancel: Option<CancelToken>,
    progress: Option<Box<ProgressFn>>,
    pool: Option<Arc<WorkerPool>>,
    /// The pool this job made for itself, at its first run.
    own_pool: Mutex<Option<Arc<WorkerPool>>>,
    types: Types<I, K, V, O>,
}

/// Sorting for `sorted(true)`, captured where `K: Ord` is known.
struct Sorter<K, O> {
    /// A reducer's partition.
    partition: fn(&mut [(K, O)]),
    /// The concatenated, each-sorted partitions.
    runs: fn(&mut [(K, O)]),
}

impl<K, O> Clone for Sorter<K, O> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, O> Copy for Sorter<K, O> {}

fn sort_partition<K: Ord, O>(pairs: &mut [(K, O)]) {
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
}

fn sort_runs<K: Ord, O>(pairs: &mut [(K, O)]) {
    // A stable sort finds the sorted runs and merges them: O(n log runs).
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
}

/// The default number of mappers: the machine's parallelism.
fn default_mappers() -> usize {
    // tidy: allow(std-path): a query of the machine, not synchronization.
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl<I, K, V, O, M, R> MapReduce<I, K, V, O, M, R> {
    /// A job that maps each input item with `map` and reduces each key's values with
    /// `reduce`; by default with one mapper per core, as many reducers as mappers, no
    /// combiner, a hash container on std's hasher, and unsorted output.
    ///
    /// Without a [`combiner`](MapReduce::combiner), `reduce` gets every value emitted for
    /// the key, in no particular order; with one, the single combined value.
    #[must_use]
    pub fn new(map: M, reduce: R) -> Self
    where
        M: Fn(I, &mut Emitter<'_, K, V>) + Sync,
        R: Fn(&K, Values<V>) -> O + Sync,
    {
        Self::with_fns(map, reduce)
    }

    /// The default settings around `map` and `reduce`.
    fn with_fns(map: M, reduce: R) -> Self {
        MapReduce {
            map,
            reduce,
            combine: Collect,
            container: Hashed::default(),
            mappers: default_mappers(),
            reducers: None,
            chunk_size: None,
            partitioner: None,
            sort: None,
            cancel: None,
            progress: None,
            pool: None,
            own_pool: Mutex::new(None),
            types: PhantomData,
        }
    }
}

impl<I, K, V, O, M, R> MapReduce<I, K, V, O, FlatMap<M>, R> {
    /// A job whose map function returns the pairs of an item — an array, an `Option`, an
    /// iterator — instead of emitting them, with the same defaults as
    /// [`new`](MapReduce::new).
    ///
    /// The result is the same as with an [`Emitter`]; what differs is the cost of a pair.
    /// The mappers' loop is compiled for the job's combiner and container, so each pair
    /// is combined into its slot where it is produced, with no buffer and no dynamic call:
    /// the fast shape for maps that do little per pair (a histogram of bytes is an index
    /// check and an add per byte). An emitter suits a map that cannot return its pairs
    /// (they borrow from an owned item, such as a [`Files`](crate::input::Files) line).
    ///
    /// ```
    /// use mapreduce::MapReduce;
    ///
    /// let bytes = b"abracadabra";
    /// let histogram = MapReduce::flat_map(|&b: &u8| [(b, 1u64)], |_, n| n.sum::<u64>())
    ///     .combiner(|a, b| *a += b)
    ///     .dense(256)
    ///     .sorted(true)
    ///     .run(&bytes[..])?;
    /// assert_eq!(histogram.as_slice()[..2], [(b'a', 5), (b'b', 2)]);
    ///
    /// let text = "to be or\nnot to be";
    /// let counts = MapReduce::flat_map(
    ///     |line: &str| line.split_whitespace().map(|word| (word, 1u64)),
    ///     |_, n| n.sum::<u64>(),
    /// )
    /// .combiner(|a, b| *a += b)
    /// .run(text)?
    /// .into_map();
    /// assert_eq!(counts["be"], 2);
    /// # Ok::<(), mapreduce::MapReduceError>(())
    /// ```
    #[must_use]
    pub fn flat_map<P>(map: M, reduce: R) -> Self
    where
        M: Fn(I) -> P + Sync,
        P: IntoIterator<Item = (K, V)>,
        R: Fn(&K, Values<V>) -> O + Sync,
    {
        MapReduce::with_fns(FlatMap(map), reduce)
    }
}

impl<I, K, V, O, M, R, C, Ct> MapReduce<I, K, V, O, M, R, C, Ct> {
    /// The same job with another combiner or container.
    fn retype<C2, Ct2>(
        self,
        parts: impl FnOnce(C, Ct) -> (C2, Ct2),
    ) -> MapReduce<I, K, V, O, M, R, C2, Ct2> {
        let (combine, container) = parts(self.combine, self.container);
        MapReduce {
            map: self.map,
            reduce: self.reduce,
            combine,
            container,
            mappers: self.mappers,
            reducers: self.reducers,
            chunk_size: self.chunk_size,
            partitioner: self.partitioner,
            sort: self.sort,
            cancel: self.cancel,
            progress: self.progress,
            pool: self.pool,
            own_pool: Mutex::new(None),
            types: PhantomData,
        }
    }

    /// Merges the values of a key with `f(&mut acc, value)` at every emit, so that a
    /// mapper holds one value per key (Phoenix's combiner), and again when a reducer merges
    /// the mappers' values; `reduce` then gets that one value.
    ///
    /// `f` must be **associative and commutative**: how the input is cut into chunks, and
    /// which mapper takes which chunk, decide which values meet in which order. (Summing,
    /// min/max, set union are; string concatenation is not commutative.)
    pub fn combiner<F>(self, f: F) -> MapReduce<I, K, V, O, M, R, Combiner<F>, Ct>
    where
        F: Fn(&mut V, V) + Sync,
    {
        self.retype(|_, container| (Combiner(f), container))
    }

    /// Keeps the pairs in an array of `len` slots per mapper indexed by
    /// [`DenseKey::index`] instead of hash tables: for small integer key ranges such as a
    /// histogram's bins. Reducer `j` of `r` merges the slots `j·len/r .. (j+1)·len/r`; the
    /// [`partitioner`](MapReduce::partitioner) is not used.
    ///
    /// A key whose index is `len` or more makes its emit panic (the run fails in
    /// [`Phase::Map`]). `len` of 0 is [`BuildError::ZeroDenseRange`]; more than the key
    /// type's [`RANGE`](DenseKey::RANGE) is [`BuildError::DenseRangeTooLarge`].
    pub fn dense(self, len: usize) -> MapReduce<I, K, V, O, M, R, C, Dense>
    where
        K: DenseKey,
    {
        self.retype(|combine, _| (combine, Dense { len }))
    }

    /// Like [`dense`](MapReduce::dense), with every slot starting at `identity` instead of
    /// at its key's first value ([`DenseFrom`]): a pair is then an index and a call of the
    /// combiner, with no check whether its key was seen, and every key of `0..len` is
    /// reduced and in the output — with `identity` where nothing was emitted, as in a
    /// histogram's empty bins. Set it after the [`combiner`](MapReduce::combiner) (it holds
    /// the combiner's value).
    ///
    /// `identity` must leave what it is combined with unchanged (0 for a sum, 1 for a
    /// product, `Vec::new()` without a combiner): each mapper folds it in once. It is
    /// cloned into every slot of every mapper, so it must be `Clone` (without a combiner,
    /// `Vec<V>`, which needs `V: Clone`). `len` of 0
    /// is [`BuildError::ZeroDenseRange`]; more than the key type's
    /// [`RANGE`](DenseKey::RANGE) is [`BuildError::DenseRangeTooLarge`].
    ///
    /// ```
    /// use mapreduce::MapReduce;
    ///
    /// let histogram = MapReduce::flat_map(|&b: &u8| [(b, 1u64)], |_, n| n.sum::<u64>())
    ///     .combiner(|a, b| *a += b)
    ///     .dense_from(256, 0)
    ///     .sorted(true)
    ///     .run(&b"abracadabra"[..])?
    ///     .into_vec();
    /// assert_eq!(histogram.len(), 256);
    /// assert_eq!(histogram[usize::from(b'a')], (b'a', 5));
    /// assert_eq!(histogram[usize::from(b'z')], (b'z', 0));
    /// # Ok::<(), mapreduce::MapReduceError>(())
    /// ```
    pub fn dense_from(
        self,
        len: usize,
        identity: C::Acc,
    ) -> MapReduce<I, K, V, O, M, R, C, DenseFrom<C::Acc>>
    where
        K: DenseKey,
        C: Combine<V>,
    {
        self.retype(|combine, _| (combine, DenseFrom { len, identity }))
    }

    /// The number of mappers: jobs on the pool that take chunks of the input in turn until
    /// none is left (default: the machine's parallelism). 0 is [`BuildError::ZeroMappers`].
    #[must_use]
    pub fn mappers(mut self, n: usize) -> Self {
        self.mappers = n;
        self
    }

    /// The number of reducers, which is the number of partitions each mapper splits its
    /// pairs into (default: as many as mappers). 0 is [`BuildError::ZeroReducers`].
    #[must_use]
    pub fn reducers(mut self, n: usize) -> Self {
        self.reducers = Some(n);
        self
    }

    /// The size of a chunk, the unit a mapper takes at a time: items for slices, vectors
    /// and iterators (default 4096), bytes for text, byte and file inputs (default 1 MiB;
    /// cut at a record boundary at or after that many bytes). 0 is
    /// [`BuildError::ZeroChunkSize`].
    #[must_use]
    pub fn chunk_size(mut self, n: usize) -> Self {
        self.chunk_size = Some(n);
        self
    }

    /// Picks each key's partition with `f(&key, partitions)` (taken modulo `partitions`)
    /// instead of its hash; a dense container ([`Dense`], [`DenseFrom`]) ignores it. The output does not depend
    /// on the partitioner, only the balance between reducers does.
    #[must_use]
    pub fn partitioner(mut self, f: impl Fn(&K, usize) -> usize + Send + Sync + 'static) -> Self {
        self.partitioner = Some(Box::new(f));
        self
    }

    /// Sorts the output by key (each reducer sorts its partition, then the sorted
    /// partitions are merged), or not (the default).
    #[must_use]
    pub fn sorted(mut self, sorted: bool) -> Self
    where
        K: Ord,
    {
        self.sort = sorted.then_some(Sorter {
            partition: sort_partition::<K, O>,
            runs: sort_runs::<K, O>,
        });
        self
    }

    /// Runs under `token` (a child of it): when it fires, mappers stop before their next
    /// chunk and reducers within 1024 keys, and the run returns
    /// [`MapReduceError::Cancelled`] — or its output, if every reducer had finished.
    #[must_use]
    pub fn with_cancel(mut self, token: &CancelToken) -> Self {
        self.cancel = Some(token.clone());
        self
    }

    /// Calls `f` after each chunk is mapped, on the mapper's thread, with the totals so far.
    /// A panic in `f` fails the run in [`Phase::Map`].
    #[must_use]
    pub fn progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Box::new(f));
        self
    }

    /// Runs the mappers and reducers on `pool` rather than on a pool of the job's own
    /// (which it starts at its first run with `max(mappers, reducers)` workers named
    /// `mapreduce-…`, and joins when it is dropped). A pool with fewer workers than mappers
    /// runs them in turn. A run from inside one of `pool`'s own jobs needs another of its
    /// workers free.
    #[must_use]
    pub fn pool(mut self, pool: Arc<WorkerPool>) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The settings' errors, which [`run`](MapReduce::run) returns before doing anything.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroMappers`], [`BuildError::ZeroReducers`],
    /// [`BuildError::ZeroChunkSize`], [`BuildError::ZeroDenseRange`] or
    /// [`BuildError::DenseRangeTooLarge`].
    pub fn check(&self) -> Result<(), BuildError>
    where
        Ct: CheckContainer<K>,
    {
        if self.mappers == 0 {
            return Err(BuildError::ZeroMappers);
        }
        if self.reducers == Some(0) {
            return Err(BuildError::ZeroReducers);
        }
        if self.chunk_size == Some(0) {
            return Err(BuildError::ZeroChunkSize);
        }
        self.container.check()
    }

    fn reducer_count(&self) -> usize {
        self.reducers.unwrap_or(self.mappers)
    }

    fn worker_pool(&self) -> Result<Arc<WorkerPool>, MapReduceError> {
        if let Some(pool) = &self.pool {
            return Ok(Arc::clone(pool));
        }
        let mut own = self.own_pool.lock();
        if let Some(pool) = &*own {
            return Ok(Arc::clone(pool));
        }
        let pool = WorkerPool::builder()
            .workers(self.mappers.max(self.reducer_count()))
            .name("mapreduce")
            .build()
            .map_err(MapReduceError::Pool)?;
        let pool = Arc::new(pool);
        *own = Some(Arc::clone(&pool));
        Ok(pool)
    }
}

impl<I, K, V, O, M, R, C, S> MapReduce<I, K, V, O, M, R, C, Hashed<S>> {
    /// Hashes keys with `hasher` (std's `RandomState` by default). One hash per emit picks
    /// the partition and the bucket, and is stored beside the key.
    pub fn hasher<S2: BuildHasher + Sync>(
        self,
        hasher: S2,
    ) -> MapReduce<I, K, V, O, M, R, C, Hashed<S2>> {
        self.retype(|combine, _| (combine, Hashed { hasher }))
    }
}

/// The container's own settings check (a dense range of 0, or longer than the key type's).
pub trait CheckContainer<K> {
    #[doc(hidden)]
    fn check(&self) -> Result<(), BuildError>;
}

impl<K, S> CheckContainer<K> for Hashed<S> {
    fn check(&self) -> Result<(), BuildError> {
        Ok(())
    }
}

/// The range check of [`Dense`] and [`DenseFrom`].
fn check_dense<K: DenseKey>(len: usize) -> Result<(), BuildError> {
    if len == 0 {
        Err(BuildError::ZeroDenseRange)
    } else if len > K::RANGE {
        Err(BuildError::DenseRangeTooLarge {
            len,
            range: K::RANGE,
        })
    } else {
        Ok(())
    }
}

impl<K: DenseKey> CheckContainer<K> for Dense {
    fn check(&self) -> Result<(), BuildError> {
        check_dense::<K>(self.len)
    }
}

impl<K: DenseKey, A> CheckContainer<K> for DenseFrom<A> {
    fn check(&self) -> Result<(), BuildError> {
        check_dense::<K>(self.len)
    }
}

/// The first failure of a run, and the token that stops the rest.
struct Failure {
    first: Mutex<Option<MapReduceError>>,
    token: CancelToken,
}

impl Failure {
    fn set(&self, error: MapReduceError) {
        {
            let mut first = self.first.lock();
            if first.is_none() {
                *first = Some(error);
            }
        }
        self.token.cancel();
    }

    fn panicked(&self, phase: Phase, payload: &(dyn std::any::Any + Send)) {
        let message = panic_message(payload)
            .unwrap_or("<non-string panic payload>")
            .to_owned();
        self.set(MapReduceError::Panicked { phase, message });
    }

    fn take(&self) -> Option<MapReduceError> {
        self.first.lock().take()
    }
}

/// The totals behind [`Progress`], each on its own cache line.
#[derive(Default)]
struct Counters {
    chunks: CachePadded<AtomicU64>,
    items: CachePadded<AtomicU64>,
    bytes: CachePadded<AtomicU64>,
}

impl Counters {
    fn add(&self, items: u64, bytes: u64) -> Progress {
        Progress {
            chunks: self.chunks.fetch_add(1, Ordering::Relaxed) + 1,
            items: self.items.fetch_add(items, Ordering::Relaxed) + items,
            bytes: self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes,
        }
    }
}

/// A mapper's containers, as the emitter's sink.
struct LocalSink<'a, K, A, C, Ct: Container<K, A>> {
    container: &'a Ct,
    combine: &'a C,
    partitioner: Option<&'a PartitionFn<K>>,
    local: Ct::Local,
}

impl<K, V, C, Ct> Sink<K, V> for LocalSink<'_, K, C::Acc, C, Ct>
where
    C: Combine<V>,
    Ct: Container<K, C::Acc>,
{
    #[inline]
    fn put(&mut self, key: K, value: V) {
        self.container
            .put(&mut self.local, key, value, self.combine, self.partitioner);
    }
}

/// What one reducer gives back.
struct Reduced<K, O> {
    pairs: Vec<(K, O)>,
    stats: ReducerStats,
}

impl<I, K, V, O, M, R, C, Ct> MapReduce<I, K, V, O, M, R, C, Ct>
where
    M: MapFn<I, K, V>,
    R: Fn(&K, Values<V>) -> O + Sync,
    C: Combine<V>,
    Ct: Container<K, C::Acc> + CheckContainer<K>,
    K: Send,
    V: Send,
    O: Send,
{
    /// Maps every item of `input` (see [`input`](crate::input) for the kinds and how they
    /// are chunked), then reduces every key, and returns one pair per distinct key.
    ///
    /// # Errors
    ///
    /// * [`MapReduceError::Build`] for a zero setting ([`check`](MapReduce::check)); nothing
    ///   runs.
    /// * [`MapReduceError::Panicked`] if `map`, the combiner, the partitioner, the progress
    ///   callback, `reduce` or the sort's `Ord` panicked, naming the phase: the panic is
    ///   caught on its worker (never an abort), the rest of the run is cancelled, and the
    ///   pool's workers carry on.
    /// * [`MapReduceError::Cancelled`] if the [`with_cancel`](MapReduce::with_cancel) token
    ///   fired first.
    /// * [`MapReduceError::Input`] if a file could not be read.
    /// * [`MapReduceError::Pool`] if the job's own pool could not start its threads.
    pub fn run<In>(&self, input: In) -> Result<Output<K, O>, MapReduceError>
    where
        In: Input<Item = I>,
    {
        self.check()?;
        let started = Instant::now();
        let token = match &self.cancel {
            Some(token) => token.child(),
            None => CancelToken::new(),
        };
        if token.is_cancelled() {
            return Err(MapReduceError::Cancelled);
        }
        let pool = self.worker_pool()?;
        let failure = Failure {
            first: Mutex::new(None),
            token,
        };
        let parts = self.reducer_count();
        let source = input.into_source(self.chunk_size);
        let counters = Counters::default();

        // Map: `mappers` jobs, each taking chunks until none is left.
        let mapped: Vec<Option<Vec<Ct::Part>>> = pool.scope(|s| {
            let mut done = Vec::with_capacity(self.mappers);
            let mut handles = Vec::with_capacity(self.mappers);
            for _ in 0..self.mappers {
                let job = || self.mapper(&source, &failure, &counters, parts);
                match s.submit(job) {
                    Ok(handle) => handles.push(handle),
                    // A pool that refuses (shut down, or full under `Reject`): map here.
                    Err(refused) => done.push(refused.into_inner()()),
                }
            }
            done.extend(handles.into_iter().map(|h| h.join().ok().flatten()));
            done
        });
        let map_time = started.elapsed();
        let mut by_part: Vec<Vec<Ct::Part>> = (0..parts)
            .map(|_| Vec::with_capacity(self.mappers))
            .collect();
        for split in mapped {
            let Some(split) = split else { continue };
            for (p, part) in split.into_iter().enumerate() {
                by_part[p].push(part);
            }
        }
        self.stopped(&failure)?;

        // Merge and reduce: a job per partition.
        let reduce_started = Instant::now();
        let reduced: Vec<Option<Reduced<K, O>>> = pool.scope(|s| {
            let mut done = Vec::with_capacity(parts);
            let mut handles = Vec::with_capacity(parts);
            for part in by_part {
                let failure = &failure;
                let job = move || self.reducer(part, failure);
                match s.submit(job) {
                    Ok(handle) => handles.push(handle),
                    Err(refused) => done.push(refused.into_inner()()),
                }
            }
            done.extend(handles.into_iter().map(|h| h.join().ok().flatten()));
            done
        });
        let reduce_phase = reduce_started.elapsed();
        self.stopped(&failure)?;
        let mut timings = Timings {
            map: map_time,
            reduce_phase,
            ..Timings::default()
        };
        let mut partitions = Vec::with_capacity(parts);
        let mut reducers = Vec::with_capacity(parts);
        for reduced in reduced {
            let Some(Reduced { pairs, stats }) = reduced else {
                // A job the pool dropped: only a pool shut down under us does that.
                return Err(MapReduceError::Cancelled);
            };
            timings.merge = timings.merge.max(stats.merge);
            timings.merge_total += stats.merge;
            timings.merged += stats.merged;
            timings.reduce = timings.reduce.max(stats.reduce);
            partitions.push(pairs);
            reducers.push(stats);
        }

        // Finish: the partitions' pairs in one vector, merged in key order if sorted.
        let finish_started = Instant::now();
        let total: usize = partitions.iter().map(Vec::len).sum();
        let mut pairs = Vec::with_capacity(total);
        for partition in partitions {
            pairs.extend(partition);
        }
        if let Some(sort) = self.sort {
            if parts > 1 {
                panic::catch_unwind(AssertUnwindSafe(|| (sort.runs)(&mut pairs))).map_err(
                    |payload| {
                        failure.panicked(Phase::Reduce, &*payload);
                        failure.take().unwrap_or(MapReduceError::Cancelled)
                    },
                )?;
            }
        }
        timings.finish = finish_started.elapsed();
        timings.total = started.elapsed();
        Ok(Output {
            pairs,
            sorted: self.sort.is_some(),
            timings,
            reducers,
        })
    }

    /// The run's first failure, or `Cancelled` if its token fired.
    fn stopped(&self, failure: &Failure) -> Result<(), MapReduceError> {
        if let Some(error) = failure.take() {
            return Err(error);
        }
        if failure.token.is_cancelled() {
            return Err(MapReduceError::Cancelled);
        }
        Ok(())
    }

    /// One mapper: chunks until none is left, then its containers split into partitions.
    /// `None` if it stopped early (the failure says why).
    fn mapper<Src>(
        &self,
        source: &Src,
        failure: &Failure,
        counters: &Counters,
        parts: usize,
    ) -> Option<Vec<Ct::Part>>
    where
        Src: Source<Item = I>,
    {
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut sink = LocalSink::<K, C::Acc, C, Ct> {
                container: &self.container,
                combine: &self.combine,
                partitioner: self.partitioner.as_deref(),
                local: self.container.local(parts),
            };
            // The emitter's buffer, for every chunk of this mapper (a `flat_map` map never
            // touches it, so it never allocates).
            let mut batch = Vec::new();
            loop {
                if failure.token.is_cancelled() {
                    return None;
                }
                let Some(next) = source.next_chunk() else {
                    break;
                };
                let (chunk, bytes) = match next {
                    Ok(chunk) => chunk,
                    Err(error) => {
                        failure.set(error);
                        return None;
                    }
                };
                let items = self.map.map_chunk(chunk, &mut sink, &mut batch);
                if let Some(progress) = &self.progress {
                    progress(counters.add(items, bytes));
                }
            }
            Some(self.container.split(sink.local, parts))
        }));
        match result {
            Ok(split) => split,
            Err(payload) => {
                failure.panicked(Phase::Map, &*payload);
                None
            }
        }
    }

    /// One reducer: merges its partition across the mappers, then reduces every key.
    /// `None` if it stopped early (the failure says why).
    fn reducer(&self, parts: Vec<Ct::Part>, failure: &Failure) -> Option<Reduced<K, O>> {
        if failure.token.is_cancelled() {
            return None;
        }
        let started = Instant::now();
        // The thread's CPU clock (`None` where the system keeps none).
        let cpu_started = cpu_time::ThreadTime::try_now().ok();
        let merged = panic::catch_unwind(AssertUnwindSafe(|| {
            self.container
                .merge(parts, |acc, other| self.combine.merge(acc, other))
        }));
        let (merged, folded) = match merged {
            Ok(merged) => merged,
            Err(payload) => {
                failure.panicked(Phase::Merge, &*payload);
                return None;
            }
        };
        let merge = started.elapsed();
        let merge_cpu = cpu_started.and_then(|started| started.try_elapsed().ok());
        let keys = Ct::merged_len(&merged);
        if failure.token.is_cancelled() {
            return None;
        }
        let started = Instant::now();
        let reduced = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut pairs = Vec::with_capacity(keys);
            let mut seen = 0usize;
            let complete = self.container.drain(merged, |key, acc| {
                seen += 1;
                if seen % CANCEL_STRIDE == 0 && failure.token.is_cancelled() {
                    return false;
                }
                let value = (self.reduce)(&key, C::values(acc));
                pairs.push((key, value));
                true
            });
            if let (true, Some(sort)) = (complete, self.sort) {
                (sort.partition)(&mut pairs);
            }
            complete.then_some(pairs)
        }));
        match reduced {
            Ok(Some(pairs)) => Some(Reduced {
                pairs,
                stats: ReducerStats {
                    keys,
                    merged: folded,
                    merge,
                    merge_cpu,
                    reduce: started.elapsed(),
                },
            }),
            Ok(None) => None,
            Err(payload) => {
                failure.panicked(Phase::Reduce, &*payload);
                None
            }
        }
    }
}

impl<I, K, V, O, M, R, C: fmt::Debug, Ct: fmt::Debug> fmt::Debug
    for MapReduce<I, K, V, O, M, R, C, Ct>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapReduce")
            .field("mappers", &self.mappers)
            .field("reducers", &self.reducer_count())
            .field("chunk_size", &self.chunk_size)
            .field("combiner", &self.combine)
            .field("container", &self.container)
            .field("custom_partitioner", &self.partitioner.is_some())
            .field("sorted", &self.sort.is_some())
            .field("cancellable", &self.cancel.is_some())
            .finish_non_exhaustive()
    }
}
