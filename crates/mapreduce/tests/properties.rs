//! Results equal a sequential reference on random inputs, for every mapper and reducer
//! count (1 included, and more workers than items) and every chunk size; chunk boundaries
//! never split a record.

mod common;

use std::collections::HashMap;

use mapreduce::input::{ByteLines, Records};
use mapreduce::MapReduce;
use proptest::prelude::*;

/// Text of short words over a small alphabet (so keys repeat), with multi-byte
/// characters, spaces, tabs, `\n`, `\r\n` and lone `\r`.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => Just("a"), 3 => Just("b"), 2 => Just("é"), 2 => Just("日本"), 1 => Just("🦀"),
            3 => Just(" "), 1 => Just("\t"), 2 => Just("\n"), 1 => Just("\r\n"), 1 => Just("\r"),
        ],
        0..200,
    )
    .prop_map(|parts| parts.concat())
}

fn counts<'a, I: IntoIterator<Item = &'a str>>(lines: I) -> HashMap<&'a str, u64> {
    let mut map = HashMap::new();
    for line in lines {
        *map.entry(line).or_insert(0) += 1;
    }
    map
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 96 }))]

    #[test]
    fn word_count_equals_sequential(
        text in text(),
        mappers in 1usize..6,
        reducers in 1usize..6,
        chunk in 1usize..40,
    ) {
        let got = common::word_count(&text, mappers, reducers, chunk).unwrap();
        prop_assert_eq!(got, common::reference_counts(&text));
    }

    #[test]
    fn lines_are_never_split(text in text(), mappers in 1usize..5, chunk in 1usize..30) {
        // Every line arrives whole, exactly as `str::lines` has it.
        let got = MapReduce::new(|line: &str, out| out.emit(line, 1u64), |_, v| v.sum::<u64>())
            .combiner(|a, b| *a += b)
            .mappers(mappers)
            .chunk_size(chunk)
            .run(text.as_str())
            .unwrap()
            .into_map();
        prop_assert_eq!(got, counts(text.lines()));
        let bytes = MapReduce::new(|line: &[u8], out| out.emit(line, 1u64), |_, v| v.sum::<u64>())
            .combiner(|a, b| *a += b)
            .mappers(mappers)
            .chunk_size(chunk)
            .run(ByteLines::new(text.as_bytes()))
            .unwrap()
            .into_map();
        let want: HashMap<&[u8], u64> =
            counts(text.lines()).into_iter().map(|(k, v)| (k.as_bytes(), v)).collect();
        prop_assert_eq!(bytes, want);
    }

    #[test]
    fn records_are_never_split(text in text(), chunk in 1usize..30, reducers in 1usize..4) {
        let got = MapReduce::new(|rec: &[u8], out| out.emit(rec, 1u64), |_, v| v.sum::<u64>())
            .mappers(3)
            .reducers(reducers)
            .chunk_size(chunk)
            .run(Records::new(text.as_bytes(), b' '))
            .unwrap()
            .into_map();
        let mut want: HashMap<&[u8], u64> = HashMap::new();
        let mut records: Vec<&[u8]> = text.as_bytes().split(|&b| b == b' ').collect();
        if text.ends_with(' ') || text.is_empty() {
            records.pop();
        }
        for r in records {
            *want.entry(r).or_insert(0) += 1;
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn items_equal_sequential_with_and_without_combiner(
        items in proptest::collection::vec(0u16..50, 0..300),
        mappers in 1usize..9,
        reducers in 1usize..9,
        chunk in 1usize..20,
        dense in any::<bool>(),
    ) {
        let mut want: Vec<(u16, u64)> = {
            let mut m: HashMap<u16, u64> = HashMap::new();
            for &n in &items {
                *m.entry(n).or_insert(0) += u64::from(n) + 1;
            }
            m.into_iter().collect()
        };
        want.sort_unstable();
        let map = |&n: &u16, out: &mut mapreduce::Emitter<'_, u16, u64>| out.emit(n, u64::from(n) + 1);
        let plain = MapReduce::new(map, |_, v| v.sum::<u64>())
            .mappers(mappers)
            .reducers(reducers)
            .chunk_size(chunk)
            .sorted(true)
            .run(&items)
            .unwrap()
            .into_vec();
        prop_assert_eq!(&plain, &want);
        let combined = MapReduce::new(map, |_, v| v.sum::<u64>())
            .combiner(|a, b| *a += b)
            .mappers(mappers)
            .reducers(reducers)
            .chunk_size(chunk)
            .sorted(true);
        let combined = if dense {
            combined.dense(50).run(&items).unwrap().into_vec()
        } else {
            combined.run(&items).unwrap().into_vec()
        };
        prop_assert_eq!(&combined, &want);
    }

    #[test]
    fn flat_map_equals_emit(
        items in proptest::collection::vec(0u16..50, 0..300),
        mappers in 1usize..9,
        reducers in 1usize..9,
        chunk in 1usize..20,
        dense in any::<bool>(),
        combined in any::<bool>(),
    ) {
        // Up to two pairs an item, so an item's pairs are not always one.
        let pairs = |&n: &u16| (0..n % 3).map(move |i| (n, u64::from(n + i)));
        let emitted = MapReduce::new(
            move |n: &u16, out: &mut mapreduce::Emitter<'_, u16, u64>| {
                pairs(n).for_each(|(k, v)| out.emit(k, v));
            },
            |_, v| v.sum::<u64>(),
        )
        .mappers(mappers)
        .reducers(reducers)
        .chunk_size(chunk)
        .sorted(true)
        .run(&items)
        .unwrap()
        .into_vec();
        let flat = MapReduce::flat_map(pairs, |_, v| v.sum::<u64>())
            .mappers(mappers)
            .reducers(reducers)
            .chunk_size(chunk)
            .sorted(true);
        let got = match (combined, dense) {
            (false, false) => flat.run(&items).unwrap().into_vec(),
            (false, true) => flat.dense(50).run(&items).unwrap().into_vec(),
            (true, false) => flat.combiner(|a, b| *a += b).run(&items).unwrap().into_vec(),
            (true, true) => flat.combiner(|a, b| *a += b).dense(50).run(&items).unwrap().into_vec(),
        };
        prop_assert_eq!(&got, &emitted);
        // From an identity every key is there; the ones nothing was emitted for hold 0
        // (every emitted value is at least 1).
        let filled = MapReduce::flat_map(pairs, |_, v| v.sum::<u64>())
            .combiner(|a, b| *a += b)
            .dense_from(50, 0)
            .mappers(mappers)
            .reducers(reducers)
            .chunk_size(chunk)
            .sorted(true)
            .run(&items)
            .unwrap()
            .into_vec();
        prop_assert_eq!(filled.len(), 50);
        let seen: Vec<(u16, u64)> = filled.into_iter().filter(|&(_, n)| n > 0).collect();
        prop_assert_eq!(seen, emitted);
    }
}
