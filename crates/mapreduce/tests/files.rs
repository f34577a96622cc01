//! File inputs: streamed in chunks cut at line endings, larger than the chunk size, several
//! files, long lines, and the errors of unreadable and non-UTF-8 files.

mod common;

use std::collections::HashMap;
use std::fs;

use common::{reference_counts, temp_path, zipf_text};
use mapreduce::input::Files;
use mapreduce::{MapReduce, MapReduceError};

fn count_files(
    files: Files,
    mappers: usize,
    chunk: usize,
) -> Result<HashMap<String, u64>, MapReduceError> {
    MapReduce::new(
        |line: String, out| {
            for word in line.split_whitespace() {
                out.emit(word.to_owned(), 1u64);
            }
        },
        |_, v| v.sum::<u64>(),
    )
    .combiner(|a, b| *a += b)
    .mappers(mappers)
    .chunk_size(chunk)
    .run(files)
    .map(|out| out.into_map())
}

fn owned(counts: HashMap<&str, u64>) -> HashMap<String, u64> {
    counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[test]
fn a_file_larger_than_the_chunk_size() {
    let text = zipf_text(21, 60_000, 2000).replace("w1 ", "wé\r\n"); // CRLF and UTF-8 too
    let path = temp_path("big.txt");
    fs::write(&path, &text).unwrap();
    assert!(text.len() > 50 * 4096);
    for (mappers, chunk) in [(1, 4096), (3, 4096), (2, 1), (4, 1 << 20)] {
        let got = count_files(Files::new([&path]), mappers, chunk).unwrap();
        assert_eq!(
            got,
            owned(reference_counts(&text)),
            "{mappers} mappers, chunk {chunk}"
        );
    }
    // Every line arrives whole.
    let lines = MapReduce::new(
        |line: String, out| out.emit(line, 1u64),
        |_, v| v.sum::<u64>(),
    )
    .combiner(|a, b| *a += b)
    .chunk_size(100)
    .mappers(3)
    .run(Files::new([&path]))
    .unwrap()
    .into_map();
    let mut want: HashMap<String, u64> = HashMap::new();
    for line in text.lines() {
        *want.entry(line.to_owned()).or_insert(0) += 1;
    }
    assert_eq!(lines, want);
    fs::remove_file(&path).unwrap();
}

#[test]
fn several_files_and_a_line_longer_than_a_chunk() {
    let a = temp_path("a.txt");
    let b = temp_path("b.txt");
    let empty = temp_path("empty.txt");
    let long_line = "x ".repeat(10_000);
    fs::write(&a, format!("one two\n{long_line}\nthree")).unwrap(); // no final newline
    fs::write(&b, "one\r\nfour\n").unwrap();
    fs::write(&empty, "").unwrap();
    let got = count_files(Files::new([&a, &empty, &b]), 2, 64).unwrap();
    assert_eq!(got["one"], 2);
    assert_eq!(got["three"], 1); // the file's end ended the line: not glued to "one"
    assert_eq!(got["four"], 1);
    assert_eq!(got["x"], 10_000);
    for path in [a, b, empty] {
        fs::remove_file(path).unwrap();
    }
}

#[test]
fn unreadable_and_non_utf8_files_are_errors() {
    let missing = temp_path("missing.txt");
    let err = count_files(Files::new([&missing]), 2, 64).unwrap_err();
    assert!(matches!(&err, MapReduceError::Input { path, .. } if *path == missing));
    assert!(err.to_string().starts_with("cannot read `"), "{err}");

    let bad = temp_path("bad.txt");
    fs::write(&bad, b"fine\n\xff\xfe\n").unwrap();
    let err = count_files(Files::new([&bad]), 1, 1 << 20).unwrap_err();
    match &err {
        MapReduceError::Input { path, error } => {
            assert_eq!(path, &bad);
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        }
        other => panic!("{other:?}"),
    }
    fs::remove_file(bad).unwrap();
}
