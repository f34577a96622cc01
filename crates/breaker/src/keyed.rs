//! One breaker per key (per host, per endpoint), in bounded memory.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash};

use crossbeam_utils::CachePadded;

use crate::breaker::CircuitBreaker;
use crate::error::{BreakerError, ConfigError};
use crate::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use crate::sync::RwLock;

/// The most shards the keys are spread over.
const MAX_SHARDS: usize = 64;

/// One [`CircuitBreaker`] per key, made on the key's first call, within a cap on the
/// number of keys held.
///
/// Keys are spread over up to 64 shards by hash, each a map behind its own reader-writer
/// lock; a call for a key already held takes its shard's lock shared, clones the key's
/// breaker (an `Arc`) and runs the call without any lock.
///
/// # Memory
///
/// About [`max_keys`](Keyed::max_keys) keys are held (see "Eviction" for when there can
/// be more). A key costs its map entry
/// ([`entry_bytes`](Keyed::entry_bytes): the key and a pointer, at the map's load) plus
/// its breaker's [`memory_bytes`](CircuitBreaker::memory_bytes) — 875 bytes for a
/// count window of 100 with one stripe, which is what [`Builder::stripes`]`(1)` is for
/// here: a keyed breaker is usually called by few threads at once.
///
/// # Eviction
///
/// The keys held are counted across shards, and nothing is forgotten while fewer than
/// `max_keys` are held, however the keys hash. A breaker in use by a caller (a handle
/// from [`breaker`](Keyed::breaker), a call running, or a permit out) is never
/// forgotten: its key would otherwise get a second breaker, splitting its state.
///
/// When a new key arrives with `max_keys` held, its shard first forgets every idle
/// breaker: closed, with an empty window (a time window empties by itself once a
/// window's time has passed with no call), and not in use. Forgetting those changes
/// nothing, since a breaker made again starts the same way. If none is idle, it forgets
/// the unused closed breaker with the fewest failures and slow calls in its window, or
/// else any unused breaker (an open one's key then starts closed again), looking in the
/// other shards, one at a time, when its own has no unused breaker;
/// [`forced_evictions`](Keyed::forced_evictions) counts these. Size `max_keys` above the
/// number of keys in use at once and there are none.
///
/// If no unused breaker is found anywhere, the new key is held beyond `max_keys`: the
/// cap is exceeded only while more than `max_keys` breakers are in use at once (give or
/// take the arrivals racing one another), and later arrivals forget breakers again as
/// they fall out of use, bringing [`len`](Keyed::len) back to `max_keys`.
///
/// [`Builder::stripes`]: crate::Builder::stripes
///
/// # Examples
///
/// ```
/// use breaker::{CircuitBreaker, Keyed, Window};
///
/// let per_host = Keyed::new(1_000, |host: &&str| {
///     CircuitBreaker::builder()
///         .name(*host)
///         .sliding_window(Window::Count(2))
///         .stripes(1)
///         .build()
///         .expect("valid settings")
/// })
/// .unwrap();
/// let _ = per_host.call(&"a.example", || Err::<(), _>("down"));
/// let _ = per_host.call(&"a.example", || Err::<(), _>("down"));
/// assert!(per_host.call(&"a.example", || Ok::<_, ()>(())).unwrap_err().is_rejected());
/// assert_eq!(per_host.call(&"b.example", || Ok::<_, ()>(7)), Ok(7)); // its own breaker
/// ```
pub struct Keyed<K> {
    shards: Box<[CachePadded<Shard<K>>]>,
    hasher: RandomState,
    make: Box<dyn Fn(&K) -> CircuitBreaker + Send + Sync>,
    max_keys: usize,
    /// Keys held, over every shard; changed only under the changed shard's write lock.
    held: AtomicUsize,
    forced: AtomicU64,
}

/// One shard's keys.
type Shard<K> = RwLock<HashMap<K, CircuitBreaker>>;

impl<K> fmt::Debug for Keyed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyed")
            .field("shards", &self.shards.len())
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    /// Up to `max_keys` keys, each with the breaker `make` builds on the key's first
    /// call (outside any lock: if `make` panics, that call panics and nothing is held).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for a `max_keys` of 0.
    pub fn new(
        max_keys: usize,
        make: impl Fn(&K) -> CircuitBreaker + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        if max_keys == 0 {
            return Err(ConfigError::Zero {
                setting: "max_keys",
            });
        }
        // A power of two, about 16 keys a shard or more where the cap allows.
        let shards = (1 << (max_keys / 16).max(1).ilog2()).min(MAX_SHARDS);
        Ok(Keyed {
            shards: (0..shards)
                .map(|_| CachePadded::new(RwLock::new(HashMap::new())))
                .collect(),
            hasher: RandomState::new(),
            make: Box::new(make),
            max_keys,
            held: AtomicUsize::new(0),
            forced: AtomicU64::new(0),
        })
    }

    /// The number of keys held from which a new key makes room (see "Eviction").
    #[must_use]
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// The bytes a key's map entry costs, beside its breaker's
    /// [`memory_bytes`](CircuitBreaker::memory_bytes).
    #[must_use]
    pub fn entry_bytes() -> usize {
        // The entry at the map's 7/8 load, and one control byte.
        (std::mem::size_of::<(K, CircuitBreaker)>() * 8).div_ceil(7) + 1
    }

    /// How many keys are held now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// True when no key is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys forgotten while their breaker was not idle, to stay within `max_keys` (see
    /// the type's docs): 0 when the cap is large enough.
    #[must_use]
    pub fn forced_evictions(&self) -> u64 {
        self.forced.load(Ordering::Relaxed)
    }

    /// Forgets every idle breaker now (a full shard does it by itself); returns how
    /// many.
    pub fn evict_idle(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| self.forget_idle(&mut shard.write()))
            .sum()
    }

    /// Forgets the shard's idle breakers; returns how many.
    fn forget_idle(&self, map: &mut HashMap<K, CircuitBreaker>) -> usize {
        let before = map.len();
        map.retain(|_, breaker| !breaker.is_idle());
        let forgotten = before - map.len();
        self.held.fetch_sub(forgotten, Ordering::Relaxed);
        forgotten
    }

    /// Forgets the shard's cleanest unused breaker (closed with the fewest failures and
    /// slow calls, else any unused one); false if every breaker is in use.
    fn forget_cleanest(&self, map: &mut HashMap<K, CircuitBreaker>) -> bool {
        let victim = map
            .iter()
            .filter_map(|(k, b)| b.eviction_cost().map(|cost| (cost, k)))
            .min_by_key(|(cost, _)| *cost)
            .or_else(|| map.iter().find(|(_, b)| b.is_unused()).map(|(k, _)| (0, k)))
            .map(|(_, k)| k.clone());
        let Some(victim) = victim else {
            return false;
        };
        map.remove(&victim);
        self.held.fetch_sub(1, Ordering::Relaxed);
        self.forced.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The key's breaker, made now if the key is not held.
    pub fn breaker(&self, key: &K) -> CircuitBreaker {
        let index = self.shard_of(key);
        let shard = &self.shards[index];
        if let Some(breaker) = shard.read().get(key) {
            return breaker.clone();
        }
        let made = (self.make)(key);
        let mut map = shard.write();
        if let Some(breaker) = map.get(key) {
            return breaker.clone();
        }
        if self.held.load(Ordering::Relaxed) >= self.max_keys {
            self.forget_idle(&mut map);
        }
        if self.held.load(Ordering::Relaxed) >= self.max_keys && !self.forget_cleanest(&mut map) {
            // Every breaker of this shard is in use: make room in another shard. One
            // shard's lock at a time (two inserting threads holding theirs while
            // waiting for each other's would deadlock), so this one is let go first.
            drop(map);
            for (i, other) in self.shards.iter().enumerate() {
                if i != index {
                    let mut other = other.write();
                    if self.forget_idle(&mut other) > 0 || self.forget_cleanest(&mut other) {
                        break;
                    }
                }
            }
            map = shard.write();
            if let Some(breaker) = map.get(key) {
                return breaker.clone();
            }
        }
        map.insert(key.clone(), made.clone());
        self.held.fetch_add(1, Ordering::Relaxed);
        made
    }

    /// [`CircuitBreaker::call`] on the key's breaker.
    ///
    /// # Errors
    ///
    /// As [`CircuitBreaker::call`].
    pub fn call<T, E: 'static>(
        &self,
        key: &K,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, BreakerError<E>> {
        self.breaker(key).call(f)
    }

    /// [`CircuitBreaker::call_with_fallback`] on the key's breaker.
    pub fn call_with_fallback<T, E: 'static>(
        &self,
        key: &K,
        f: impl FnOnce() -> Result<T, E>,
        fallback: impl FnOnce(BreakerError<E>) -> T,
    ) -> T {
        self.breaker(key).call_with_fallback(f, fallback)
    }

    fn shard_of(&self, key: &K) -> usize {
        (self.hasher.hash_one(key) as usize) & (self.shards.len() - 1)
    }
}
