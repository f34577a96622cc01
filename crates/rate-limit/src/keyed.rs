//! One limiter per key (per client, per host), in bounded memory.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
use patterns_core::CancelToken;

use crate::error::{AcquireError, ConfigError, Denied, TryAcquireError};
use crate::limiter::RateLimiter;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::{Arc, RwLock};

/// The most shards the keys are spread over.
const MAX_SHARDS: usize = 64;

/// One limiter per key, made on a key's first call, kept in memory bounded by a key-count
/// cap.
///
/// Keys are spread over up to 64 shards by hash (one per 16 keys of the cap, rounded down
/// to a power of two), each a hash table behind its own reader-writer lock. A call for a
/// key already held hashes the key once, takes its shard's lock shared and checks the
/// key's limiter under it: calls for one key or one shard do not wait for one another
/// beyond the lock's own counter. A new key takes the lock alone to insert; a blocking
/// call takes the limiter out (an `Arc`) and waits without the lock.
///
/// # Memory
///
/// At most `max_keys` keys are held: each shard holds at most `max_keys / shards`. When a
/// new key finds its shard full, the shard first forgets every key whose limiter is as it
/// was new (full, and nobody waiting on it or holding it) — forgetting those changes
/// nothing, since a key made again starts the same way. If none is, it forgets the key
/// closest to full that nobody holds: that key's next call starts from a full limiter,
/// so it may be admitted early, by at most what its limiter had in use
/// (`capacity − available`), and [`forced_evictions`](Keyed::forced_evictions) counts it.
/// A limiter someone holds (a blocking call on it, or a [`limiter`](Keyed::limiter)
/// handle) is never forgotten — the key would then run on two — so while every key of a
/// full shard is held, the new key goes in past the cap, by at most the number of
/// handles held.
///
/// Forced evictions happen only while a shard has more keys in use than it holds. Keys
/// hash unevenly, so give the cap room: about 1.5 × the keys active within one refill
/// period keeps them rare (with 900 active keys and a cap of 1,024 a review saw 53).
/// Nothing needs calling for any of this — [`retain_recent`](Keyed::retain_recent) only
/// frees idle keys' memory sooner.
///
/// A key costs about [`bytes_per_key`](Keyed::bytes_per_key) bytes: the key, the table's
/// entry (the key's hash and a pointer, a control byte, at 7/8 load) and the limiter's own
/// allocation — plus whatever the limiter allocates itself (nothing for [`Gcra`], its
/// shards for a [`TokenBucket`], its log for a [`SlidingWindowLog`]).
///
/// [`Gcra`]: crate::Gcra
/// [`TokenBucket`]: crate::TokenBucket
/// [`SlidingWindowLog`]: crate::SlidingWindowLog
///
/// ```
/// use patterns_core::ManualClock;
/// use rate_limit::{Gcra, Keyed, Rate};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let per_host = {
///     let clock = clock.clone();
///     Keyed::new(10_000, move || {
///         Gcra::with_clock(Rate::per_second(2), 2, clock.clone()).expect("a valid rate")
///     })
///     .unwrap()
/// };
/// per_host.try_acquire_n(&"a.example", 2).unwrap();
/// assert!(per_host.try_acquire(&"a.example").is_err()); // a.example's burst is spent
/// per_host.try_acquire(&"b.example").unwrap(); // b.example has its own
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(per_host.retain_recent(), 2); // both full again: nothing to remember
/// assert!(per_host.is_empty());
/// ```
pub struct Keyed<K, L, S = RandomState> {
    shards: Box<[CachePadded<Table<K, L>>]>,
    hasher: S,
    make: Box<dyn Fn() -> L + Send + Sync>,
    /// The most keys one shard holds.
    per_shard: usize,
    /// What a new key's limiter reports: how every key starts.
    capacity: u32,
    forced: AtomicU64,
}

/// One shard's keys.
type Table<K, L> = RwLock<HashTable<Entry<K, L>>>;

/// A key, its hash (so that the table grows without hashing again) and its limiter.
struct Entry<K, L> {
    hash: u64,
    key: K,
    limiter: Arc<L>,
}

impl<K, L, S> fmt::Debug for Keyed<K, L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyed")
            .field("shards", &self.shards.len())
            .field("max_keys", &(self.per_shard * self.shards.len()))
            .finish_non_exhaustive()
    }
}

impl<K, L> Keyed<K, L>
where
    K: Hash + Eq + Clone,
    L: RateLimiter,
{
    /// Up to `max_keys` keys, each with a limiter `make` builds on the key's first call.
    ///
    /// `make` is called once here, to learn the limiters' capacity, and then outside any
    /// lock: if it panics, the caller's call panics and nothing is held.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroLimit`] for a `max_keys` of 0.
    pub fn new(
        max_keys: usize,
        make: impl Fn() -> L + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        Keyed::with_hasher(max_keys, make, RandomState::new())
    }
}

impl<K, L, S> Keyed<K, L, S>
where
    K: Hash + Eq + Clone,
    L: RateLimiter,
    S: BuildHasher,
{
    /// As [`new`](Keyed::new), hashing keys with `hasher` (std's SipHash by default;
    /// a faster one where keys are not chosen by an attacker).
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroLimit`] for a `max_keys` of 0.
    pub fn with_hasher(
        max_keys: usize,
        make: impl Fn() -> L + Send + Sync + 'static,
        hasher: S,
    ) -> Result<Self, ConfigError> {
        if max_keys == 0 {
            return Err(ConfigError::ZeroLimit);
        }
        // A power of two, so that a shard is picked by a mask; few enough that each
        // holds at least 16 keys where the cap allows, so that keys hashing unevenly
        // seldom fill one shard early; and all of them together no more than `max_keys`.
        let shards = (1 << (max_keys / 16).max(1).ilog2()).min(MAX_SHARDS);
        let capacity = make().capacity();
        Ok(Keyed {
            shards: (0..shards)
                .map(|_| CachePadded::new(RwLock::new(HashTable::new())))
                .collect(),
            hasher,
            make: Box::new(make),
            per_shard: max_keys / shards,
            capacity,
            forced: AtomicU64::new(0),
        })
    }

    /// The most keys held at once.
    #[must_use]
    pub fn max_keys(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    /// About how many bytes each key held costs: the key, its map entry and its limiter.
    #[must_use]
    pub fn bytes_per_key() -> usize {
        // The table's slot at its 7/8 load, one control byte, and the
        // limiter's allocation with the `Arc`'s two counts.
        (std::mem::size_of::<Entry<K, L>>() * 8).div_ceil(7)
            + 1
            + std::mem::size_of::<L>()
            + 2 * std::mem::size_of::<usize>()
    }

    /// How many keys are held now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.read().len()).sum()
    }

    /// True when no key is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many keys were forgotten while their limiter was in use, to keep within
    /// `max_keys` (see the type's docs): 0 when the cap is large enough.
    #[must_use]
    pub fn forced_evictions(&self) -> u64 {
        self.forced.load(Ordering::Relaxed)
    }

    /// Forgets every key whose limiter is as it was new (full, nobody waiting), which
    /// changes no admission; returns how many. Optional: a full shard does this by itself.
    pub fn retain_recent(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| forget_idle(&mut shard.write(), self.capacity))
            .sum()
    }

    /// Admits one call for `key` now, or refuses without consuming anything.
    ///
    /// # Errors
    ///
    /// [`Denied`], with the time to retry.
    pub fn try_acquire(&self, key: &K) -> Result<(), Denied> {
        self.with_limiter(key, |limiter| limiter.try_acquire())
    }

    /// Admits `n` calls for `key` now, or refuses without consuming anything.
    ///
    /// # Errors
    ///
    /// As [`RateLimiter::try_acquire_n`].
    pub fn try_acquire_n(&self, key: &K, n: u32) -> Result<(), TryAcquireError> {
        self.with_limiter(key, |limiter| limiter.try_acquire_n(n))
    }

    /// Blocks until one call for `key` is admitted.
    ///
    /// # Errors
    ///
    /// None in practice, as [`RateLimiter::acquire`].
    pub fn acquire(&self, key: &K) -> Result<(), AcquireError> {
        self.limiter(key).acquire()
    }

    /// Blocks until `n` calls for `key` are admitted.
    ///
    /// # Errors
    ///
    /// As [`RateLimiter::acquire_n`].
    pub fn acquire_n(&self, key: &K, n: u32) -> Result<(), AcquireError> {
        self.limiter(key).acquire_n(n)
    }

    /// Blocks for at most `timeout` until one call for `key` is admitted.
    ///
    /// # Errors
    ///
    /// As [`RateLimiter::acquire_timeout`].
    pub fn acquire_timeout(&self, key: &K, timeout: Duration) -> Result<(), AcquireError> {
        self.limiter(key).acquire_timeout(timeout)
    }

    /// Blocks until one call for `key` is admitted or `token` fires.
    ///
    /// # Errors
    ///
    /// As [`RateLimiter::acquire_cancellable`].
    pub fn acquire_cancellable(&self, key: &K, token: &CancelToken) -> Result<(), AcquireError> {
        self.limiter(key).acquire_cancellable(token)
    }

    /// Blocks until `n` calls for `key` are admitted, `deadline` would be passed, or
    /// `cancel` fires.
    ///
    /// # Errors
    ///
    /// As [`RateLimiter::acquire_n_until`].
    pub fn acquire_n_until(
        &self,
        key: &K,
        n: u32,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), AcquireError> {
        self.limiter(key).acquire_n_until(n, deadline, cancel)
    }

    /// How many calls `key` would be admitted now (a key not held has a new limiter's
    /// capacity).
    #[must_use]
    pub fn available(&self, key: &K) -> u64 {
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash).read();
        shard
            .find(hash, |entry| entry.key == *key)
            .map_or(u64::from(self.capacity), |entry| entry.limiter.available())
    }

    /// `key`'s limiter, made if the key is not held: for a call to hold on to it across
    /// calls, or to pass it on as a `&dyn RateLimiter`. While it is held, the key is not
    /// forgotten as idle.
    pub fn limiter(&self, key: &K) -> Arc<L> {
        self.with_limiter(key, Arc::clone)
    }

    fn shard(&self, hash: u64) -> &Table<K, L> {
        // Middle bits pick the shard: the table inside indexes by the low bits and tags
        // its slots with the top seven, which must still tell keys apart.
        let index = (hash >> 32) as usize & (self.shards.len() - 1);
        &self.shards[index]
    }

    /// Runs `f` on `key`'s limiter under its shard's lock, making the limiter first (with
    /// the lock let go) if the key is not held.
    fn with_limiter<T>(&self, key: &K, f: impl FnOnce(&Arc<L>) -> T) -> T {
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash);
        if let Some(entry) = shard.read().find(hash, |entry| entry.key == *key) {
            return f(&entry.limiter);
        }
        let limiter = Arc::new((self.make)());
        let mut table = shard.write();
        if table.find(hash, |entry| entry.key == *key).is_none() {
            if table.len() >= self.per_shard && !make_room(&mut table, self.capacity) {
                self.forced.fetch_add(1, Ordering::Relaxed);
            }
            table.insert_unique(
                hash,
                Entry {
                    hash,
                    key: key.clone(),
                    limiter,
                },
                |entry| entry.hash,
            );
        }
        let entry = table
            .find(hash, |entry| entry.key == *key)
            .expect("the key was just made");
        f(&entry.limiter)
    }
}

/// Frees a place in a full shard: every idle key, or else the one closest to full that
/// nobody holds. False when that forgot a key in use — or could not free a place at all,
/// every key being held.
fn make_room<K, L: RateLimiter>(table: &mut HashTable<Entry<K, L>>, capacity: u32) -> bool {
    if forget_idle(table, capacity) > 0 {
        return true;
    }
    let closest = table
        .iter()
        .filter(|entry| Arc::strong_count(&entry.limiter) == 1)
        .max_by_key(|entry| entry.limiter.available())
        .map(|entry| (entry.hash, Arc::clone(&entry.limiter)));
    if let Some((hash, victim)) = closest {
        if let Ok(entry) = table.find_entry(hash, |entry| Arc::ptr_eq(&entry.limiter, &victim)) {
            entry.remove();
        }
    }
    false
}

/// Forgets the keys whose limiter is as new and held by nobody else; how many.
fn forget_idle<K, L: RateLimiter>(table: &mut HashTable<Entry<K, L>>, capacity: u32) -> usize {
    let before = table.len();
    table.retain(|entry| {
        Arc::strong_count(&entry.limiter) > 1 || entry.limiter.available() < u64::from(capacity)
    });
    before - table.len()
}
