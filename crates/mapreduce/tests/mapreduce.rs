//! The three Phoenix programs (word count, inverted index, histogram), the inputs, the
//! settings and their errors.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{reference_counts, word_count, zipf_text};
use mapreduce::input::{ByteLines, Iter, Records};
use mapreduce::{BuildError, MapReduce, MapReduceError};
use worker_pool::WorkerPool;

#[test]
fn smoke_word_count() {
    let text = "a b a\nc a b\r\n\nb";
    let counts = word_count(text, 2, 2, 1).unwrap();
    assert_eq!(counts, reference_counts(text));
    assert_eq!(counts["a"], 3);
    assert_eq!(counts["b"], 3);
}

#[test]
fn word_count_without_combiner_matches() {
    let text = zipf_text(7, 20_000, 500);
    let out = MapReduce::new(
        |line: &str, out| line.split_whitespace().for_each(|w| out.emit(w, 1u64)),
        |_, ones| ones.sum::<u64>(),
    )
    .mappers(3)
    .reducers(2)
    .chunk_size(1000)
    .run(&text)
    .unwrap();
    assert_eq!(out.into_map(), reference_counts(&text));
}

#[test]
fn zipf_skewed_keys() {
    let text = zipf_text(42, 200_000, 20_000);
    let expected = reference_counts(&text);
    for mappers in [1, 2, 3, 8] {
        for reducers in [1, 2, 5] {
            let counts = word_count(&text, mappers, reducers, 4096).unwrap();
            assert_eq!(counts, expected, "{mappers} mappers, {reducers} reducers");
        }
    }
}

#[test]
fn inverted_index() {
    let docs = ["the quick brown fox", "the lazy dog", "quick quick dog", ""];
    let index = MapReduce::new(
        |(doc, text): (usize, &&str), out| {
            for word in text.split_whitespace() {
                out.emit(word, doc);
            }
        },
        |_, docs| {
            let mut docs: Vec<usize> = docs.collect();
            docs.sort_unstable();
            docs.dedup();
            docs
        },
    )
    .mappers(2)
    .chunk_size(1)
    .sorted(true)
    .run(Iter::new(docs.iter().enumerate()))
    .unwrap();
    assert!(index.is_sorted());
    let index: BTreeMap<_, _> = index.into_iter().collect();
    let mut expected: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (doc, text) in docs.iter().enumerate() {
        for word in text.split_whitespace() {
            let docs = expected.entry(word).or_default();
            if docs.last() != Some(&doc) {
                docs.push(doc);
            }
        }
    }
    assert_eq!(index, expected);
    assert_eq!(index["quick"], [0, 2]);
}

#[test]
fn histogram_dense_and_hashed_agree() {
    let mut rng = fastrand::Rng::with_seed(3);
    let bytes: Vec<u8> = (0..100_000).map(|_| rng.u8(..)).collect();
    let mut expected = [0u64; 256];
    for &b in &bytes {
        expected[b as usize] += 1;
    }
    for (mappers, reducers) in [(1, 1), (2, 3), (4, 7), (3, 300)] {
        let dense = MapReduce::new(|&b: &u8, out| out.emit(b, 1u64), |_, n| n.sum::<u64>())
            .combiner(|a, b| *a += b)
            .dense(256)
            .mappers(mappers)
            .reducers(reducers)
            .chunk_size(777)
            .sorted(true)
            .run(&bytes[..])
            .unwrap();
        let dense: Vec<(u8, u64)> = dense.into_vec();
        let want: Vec<(u8, u64)> = (0..=255u8)
            .map(|b| (b, expected[b as usize]))
            .filter(|&(_, n)| n > 0)
            .collect();
        assert_eq!(dense, want, "{mappers} mappers, {reducers} reducers");
        let hashed = MapReduce::new(|&b: &u8, out| out.emit(b, 1u64), |_, n| n.sum::<u64>())
            .combiner(|a, b| *a += b)
            .mappers(mappers)
            .reducers(reducers)
            .sorted(true)
            .run(&bytes)
            .unwrap();
        assert_eq!(hashed.into_vec(), want);
    }
}

#[test]
fn histogram_dense_from_has_every_bin() {
    let mut rng = fastrand::Rng::with_seed(4);
    // Bytes from half the range, so that half the bins stay empty.
    let bytes: Vec<u8> = (0..100_000).map(|_| rng.u8(..128)).collect();
    let mut expected = [0u64; 256];
    for &b in &bytes {
        expected[b as usize] += 1;
    }
    let want: Vec<(u8, u64)> = (0..=255u8).map(|b| (b, expected[b as usize])).collect();
    for (mappers, reducers) in [(1, 1), (2, 3), (4, 7), (3, 300)] {
        let got = MapReduce::flat_map(|&b: &u8| [(b, 1u64)], |_, n| n.sum::<u64>())
            .combiner(|a, b| *a += b)
            .dense_from(256, 0)
            .mappers(mappers)
            .reducers(reducers)
            .chunk_size(777)
            .sorted(true)
            .run(&bytes[..])
            .unwrap();
        assert_eq!(
            got.into_vec(),
            want,
            "{mappers} mappers, {reducers} reducers"
        );
    }
}

#[test]
fn dense_from_without_a_combiner_reduces_empty_keys_from_the_identity() {
    let got = MapReduce::new(
        |&n: &u8, out| out.emit(n % 4, n),
        |_, v| v.collect::<Vec<_>>(),
    )
    .dense_from(6, Vec::new())
    .mappers(2)
    .chunk_size(1)
    .sorted(true)
    .run(&[1u8, 5, 2][..])
    .unwrap()
    .into_vec();
    let mut got: Vec<(u8, Vec<u8>)> = got
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_unstable();
            (k, v)
        })
        .collect();
    got.sort_unstable();
    let want = [
        (0, vec![]),
        (1, vec![1, 5]),
        (2, vec![2]),
        (3, vec![]),
        (4, vec![]),
        (5, vec![]),
    ];
    assert_eq!(got, want);
}

#[test]
fn dense_key_out_of_range_is_a_map_panic() {
    let err = MapReduce::new(|&b: &u8, out| out.emit(b, 1u64), |_, n| n.sum::<u64>())
        .combiner(|a, b| *a += b)
        .dense(10)
        .run(&[1u8, 2, 10][..])
        .unwrap_err();
    assert_eq!(err.phase(), Some(mapreduce::Phase::Map));
    assert!(
        err.to_string()
            .contains("outside the dense container's range 0..10"),
        "{err}"
    );
}

#[test]
fn empty_input() {
    assert!(word_count("", 3, 2, 1).unwrap().is_empty());
    let out = MapReduce::new(|&n: &u32, out| out.emit(n, n), |_, v| v.sum::<u32>())
        .sorted(true)
        .run(&[][..])
        .unwrap();
    assert!(out.is_empty());
    let dense = MapReduce::new(|&n: &u8, out| out.emit(n, 1u8), |_, v| v.count())
        .combiner(|a, b| *a += b)
        .dense(4)
        .run(&Vec::<u8>::new())
        .unwrap();
    assert_eq!(dense.len(), 0);
}

#[test]
fn more_workers_than_items() {
    let items = [5u32, 6, 5];
    for mappers in [1, 2, 7, 16] {
        for reducers in [1, 3, 16] {
            let out = MapReduce::new(|&n: &u32, out| out.emit(n, 1u32), |_, v| v.sum::<u32>())
                .mappers(mappers)
                .reducers(reducers)
                .chunk_size(1)
                .sorted(true)
                .run(&items)
                .unwrap();
            assert_eq!(out.into_vec(), [(5, 2), (6, 1)]);
        }
    }
}

#[test]
fn inputs_of_every_kind() {
    let sum = |input_total: Vec<(u32, u32)>| input_total.into_iter().map(|(_, v)| v).sum::<u32>();
    let job = || {
        MapReduce::new(|n: u32, out| out.emit(n % 4, n), |_, v| v.sum::<u32>())
            .combiner(|a, b| *a += b)
            .mappers(3)
            .chunk_size(10)
    };
    assert_eq!(
        sum(job()
            .run((0..100).collect::<Vec<u32>>())
            .unwrap()
            .into_vec()),
        4950
    );
    assert_eq!(sum(job().run(Iter::new(0..100)).unwrap().into_vec()), 4950);

    let lines = MapReduce::new(
        |line: &[u8], out| out.emit(line, 1u32),
        |_, v| v.sum::<u32>(),
    )
    .sorted(true)
    .chunk_size(2)
    .run(ByteLines::new(b"b\r\na\nb\rc\n"))
    .unwrap();
    assert_eq!(
        lines.into_vec(),
        [(&b"a"[..], 1), (&b"b"[..], 1), (&b"b\rc"[..], 1)]
    );

    let records = MapReduce::new(
        |rec: &[u8], out| out.emit(rec.len(), 1u32),
        |_, v| v.sum::<u32>(),
    )
    .sorted(true)
    .chunk_size(1)
    .run(Records::new(b"\0aa\0bbb\0c\0", 0))
    .unwrap();
    assert_eq!(records.into_vec(), [(0, 1), (1, 1), (2, 1), (3, 1)]);
}

#[test]
fn sorted_output_with_many_reducers() {
    let text = zipf_text(9, 30_000, 3000);
    let out = MapReduce::new(
        |line: &str, out| line.split_whitespace().for_each(|w| out.emit(w, 1u64)),
        |_, v| v.sum::<u64>(),
    )
    .combiner(|a, b| *a += b)
    .mappers(3)
    .reducers(7)
    .chunk_size(512)
    .sorted(true)
    .run(text.as_str())
    .unwrap();
    let pairs = out.into_vec();
    assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
    let expected: BTreeMap<_, _> = reference_counts(&text).into_iter().collect();
    assert_eq!(pairs, expected.into_iter().collect::<Vec<_>>());
}

#[test]
fn custom_partitioner_changes_nothing_but_balance() {
    let text = zipf_text(11, 10_000, 300);
    let out = MapReduce::new(
        |line: &str, out| line.split_whitespace().for_each(|w| out.emit(w, 1u64)),
        |_, v| v.sum::<u64>(),
    )
    .combiner(|a, b| *a += b)
    .partitioner(|word: &&str, parts| word.len() % parts)
    .reducers(3)
    .run(text.as_str())
    .unwrap();
    assert_eq!(out.into_map(), reference_counts(&text));
}

#[test]
fn progress_counts_every_item_and_byte() {
    let text = zipf_text(5, 10_000, 100);
    let last = Arc::new(AtomicU64::new(0));
    let items = Arc::new(AtomicU64::new(0));
    let (seen_bytes, seen_items) = (Arc::clone(&last), Arc::clone(&items));
    MapReduce::new(
        |line: &str, out| out.emit(line.len(), 1u64),
        |_, v| v.sum::<u64>(),
    )
    .chunk_size(1000)
    .mappers(2)
    .progress(move |p| {
        seen_bytes.fetch_max(p.bytes, Ordering::Relaxed);
        seen_items.fetch_max(p.items, Ordering::Relaxed);
    })
    .run(text.as_str())
    .unwrap();
    assert_eq!(last.load(Ordering::Relaxed), text.len() as u64);
    assert_eq!(items.load(Ordering::Relaxed), text.lines().count() as u64);
}

#[test]
fn zero_settings_are_build_errors() {
    let job = || MapReduce::new(|&n: &u8, out| out.emit(n, 1u8), |_, v| v.count());
    let cases = [
        (
            job().mappers(0).run(&[1u8][..]).unwrap_err(),
            BuildError::ZeroMappers,
            "the number of mappers must be at least 1",
        ),
        (
            job().reducers(0).run(&[1u8][..]).unwrap_err(),
            BuildError::ZeroReducers,
            "the number of reducers must be at least 1",
        ),
        (
            job().chunk_size(0).run(&[1u8][..]).unwrap_err(),
            BuildError::ZeroChunkSize,
            "the chunk size must be at least 1",
        ),
        (
            job()
                .combiner(|a, b| *a += b)
                .dense(0)
                .run(&[1u8][..])
                .unwrap_err(),
            BuildError::ZeroDenseRange,
            "a dense container needs a key range of at least 1",
        ),
        (
            job()
                .combiner(|a, b| *a += b)
                .dense_from(0, 0)
                .run(&[1u8][..])
                .unwrap_err(),
            BuildError::ZeroDenseRange,
            "a dense container needs a key range of at least 1",
        ),
        (
            job().dense(257).run(&[1u8][..]).unwrap_err(),
            BuildError::DenseRangeTooLarge {
                len: 257,
                range: 256,
            },
            "a dense container of 257 slots is longer than its key type's range of 256",
        ),
        (
            job()
                .combiner(|a, b| *a += b)
                .dense_from(257, 0)
                .run(&[1u8][..])
                .unwrap_err(),
            BuildError::DenseRangeTooLarge {
                len: 257,
                range: 256,
            },
            "a dense container of 257 slots is longer than its key type's range of 256",
        ),
    ];
    for (err, kind, text) in cases {
        assert!(
            matches!(err, MapReduceError::Build(k) if k == kind),
            "{err:?}"
        );
        assert_eq!(err.to_string(), format!("invalid mapreduce job: {text}"));
    }
    assert_eq!(job().mappers(0).check(), Err(BuildError::ZeroMappers));
    assert_eq!(job().check(), Ok(()));
}

#[test]
fn runs_on_a_given_pool_and_runs_again() {
    let pool = Arc::new(WorkerPool::new(1).unwrap());
    let job = MapReduce::new(|&n: &u64, out| out.emit(n % 2, n), |_, v| v.sum::<u64>())
        .combiner(|a, b| *a += b)
        .mappers(4) // more mappers than workers: they run in turn
        .reducers(2)
        .chunk_size(3)
        .pool(Arc::clone(&pool));
    let data: Vec<u64> = (0..1000).collect();
    for _ in 0..3 {
        let out: HashMap<u64, u64> = job.run(&data).unwrap().into_map();
        assert_eq!(out[&0], (0..1000).filter(|n| n % 2 == 0).sum::<u64>());
        assert_eq!(out[&1], (0..1000).filter(|n| n % 2 == 1).sum::<u64>());
    }
    assert_eq!(pool.stats().panicked, 0);
}

#[test]
fn timings_cover_the_phases() {
    let text = zipf_text(1, 50_000, 1000);
    let out = MapReduce::new(
        |line: &str, out| line.split_whitespace().for_each(|w| out.emit(w, 1u64)),
        |_, v| v.sum::<u64>(),
    )
    .combiner(|a, b| *a += b)
    .mappers(2)
    .run(text.as_str())
    .unwrap();
    let t = *out.timings();
    assert!(t.total >= t.map + t.reduce_phase);
    assert!(t.reduce_phase >= t.merge.max(t.reduce));
    assert!(t.merge_total >= t.merge);
}

/// A merge of a few hundred entries takes microseconds, and its CPU time shows them (the
/// tick-grained counter in `/proc/thread-self/schedstat`, read before, said 0).
#[test]
#[cfg(target_os = "linux")]
fn merge_cpu_measures_a_short_merge() {
    let words: Vec<String> = (0..2000).map(|i| format!("w{}", i % 500)).collect();
    // The first two items meet at the barrier, so each of the two mappers maps some.
    let barrier = std::sync::Barrier::new(2);
    let first_two = AtomicU64::new(0);
    let out = MapReduce::new(
        |w: &String, out| {
            if first_two.fetch_add(1, Ordering::SeqCst) < 2 {
                barrier.wait();
            }
            out.emit(w.as_str().to_owned(), 1u64);
        },
        |_, v| v.sum::<u64>(),
    )
    .combiner(|a, b| *a += b)
    .mappers(2)
    .reducers(1)
    .chunk_size(1)
    .run(&words)
    .unwrap();
    let stats = out.reducers()[0];
    assert!(stats.merged > 0, "{stats:?}");
    assert!(
        stats.merge_cpu.unwrap() > std::time::Duration::ZERO,
        "{stats:?}"
    );
}

#[test]
fn reducer_stats_add_up_to_the_output() {
    let text = zipf_text(2, 20_000, 500);
    for reducers in [1, 3] {
        let out = MapReduce::new(
            |line: &str, out| line.split_whitespace().for_each(|w| out.emit(w, 1u64)),
            |_, v| v.sum::<u64>(),
        )
        .combiner(|a, b| *a += b)
        .mappers(2)
        .reducers(reducers)
        .run(text.as_str())
        .unwrap();
        let stats = out.reducers();
        assert_eq!(stats.len(), reducers);
        assert_eq!(stats.iter().map(|r| r.keys).sum::<usize>(), out.len());
        assert_eq!(
            stats.iter().map(|r| r.merged).sum::<u64>(),
            out.timings().merged
        );
        if cfg!(target_os = "linux") {
            assert!(stats.iter().all(|r| r.merge_cpu.is_some()));
        }
    }
}
