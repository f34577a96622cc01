//! Inputs: what [`run`](crate::MapReduce::run) maps, and how each kind is cut into chunks.
//!
//! | input | item | chunk |
//! |---|---|---|
//! | `&[T]`, `&Vec<T>` | `&T` | `chunk_size` items (default 4096), no copy |
//! | `Vec<T>` | `T` | `chunk_size` items, moved out |
//! | [`Iter::new(iter)`](Iter) (any `IntoIterator`) | its item | `chunk_size` items, pulled under a lock |
//! | `&str` | a line (`&str`) | about `chunk_size` bytes (default 1 MiB), cut after a `\n` |
//! | [`ByteLines::new(bytes)`](ByteLines) | a line (`&[u8]`) | about `chunk_size` bytes, cut after a `\n` |
//! | [`Records::new(bytes, delim)`](Records) | a record (`&[u8]`) | about `chunk_size` bytes, cut after a `delim` |
//! | [`Files::new(paths)`](Files) | a line (`String`) | about `chunk_size` bytes read, cut after a `\n`, streamed |
//!
//! Lines follow [`str::lines`]: they end at `\n` or `\r\n`, which are not part of them; a
//! lone `\r` is data; the last line needs no ending, and an input that ends with one has
//! no empty last line. A chunk is cut only just after a line ending (or delimiter), so no
//! record — and no UTF-8 character — is ever split between two chunks; a record longer than
//! the chunk size makes its chunk longer.

use core::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use patterns_core::sync::atomic::{AtomicUsize, Ordering};
use patterns_core::sync::Mutex;

use crate::error::MapReduceError;

/// Items per chunk of an item input, unless `chunk_size` says otherwise.
pub const DEFAULT_ITEM_CHUNK: usize = 4096;
/// Bytes per chunk of a text, byte or file input, unless `chunk_size` says otherwise.
pub const DEFAULT_BYTE_CHUNK: usize = 1 << 20;

/// What [`run`](crate::MapReduce::run) accepts (see the [module docs](self) for the kinds).
pub trait Input {
    /// What the map function gets, one at a time.
    type Item;
    #[doc(hidden)]
    type Source: Source<Item = Self::Item>;
    #[doc(hidden)]
    fn into_source(self, chunk_size: Option<usize>) -> Self::Source;
}

/// The engine's side of an input: chunks handed out to mappers, each once.
#[doc(hidden)]
pub trait Source: Sync {
    type Item;
    type Chunk: IntoIterator<Item = Self::Item>;
    /// The next chunk and its size in bytes (0 for item inputs), or `None` at the end.
    fn next_chunk(&self) -> Option<Result<(Self::Chunk, u64), MapReduceError>>;
}

// ---------------------------------------------------------------------------------------
// Slices.

#[doc(hidden)]
pub struct SliceSource<'a, T> {
    items: &'a [T],
    chunk: usize,
    next: AtomicUsize,
}

impl<'a, T: Sync> Source for SliceSource<'a, T> {
    type Item = &'a T;
    type Chunk = core::slice::Iter<'a, T>;

    fn next_chunk(&self) -> Option<Result<(Self::Chunk, u64), MapReduceError>> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let start = index.checked_mul(self.chunk)?;
        if start >= self.items.len() {
            return None;
        }
        let end = start.saturating_add(self.chunk).min(self.items.len());
        Some(Ok((self.items[start..end].iter(), 0)))
    }
}

impl<'a, T: Sync> Input for &'a [T] {
    type Item = &'a T;
    type Source = SliceSource<'a, T>;

    fn into_source(self, chunk_size: Option<usize>) -> Self::Source {
        SliceSource {
            items: self,
            chunk: chunk_size.unwrap_or(DEFAULT_ITEM_CHUNK),
            next: AtomicUsize::new(0),
        }
    }
}

impl<'a, T: Sync> Input for &'a Vec<T> {
    type Item = &'a T;
    type Source = SliceSource<'a, T>;

    fn into_source(self, chunk_size: Option<usize>) -> Self::Source {
        self.as_slice().into_source(chunk_size)
    }
}

impl<'a, T: Sync, const N: usize> Input for &'a [T; N] {
    type Item = &'a T;
    type Source = SliceSource<'a, T>;

    fn into_source(self, chunk_size: Option<usize>) -> Self::Source {
        self.as_slice().into_source(chunk_size)
    }
}

// ---------------------------------------------------------------------------------------
// Iterators.

/// Any [`IntoIterator`] as an input: mappers take `chunk_size` items at a time from it,
/// under a lock, so the iterator runs on the mappers' threads, one chunk at a time.
///
/// ```
/// use mapreduce::{input::Iter, MapReduce};
///
/// let squares = MapReduce::new(|n: u64, out| out.emit(n % 3, n * n), |_, v| v.sum::<u64>())
///     .sorted(true)
///     .run(Iter::new(1..=6u64))?;
/// assert_eq!(squares.into_vec(), [(0, 9 + 36), (1, 1 + 16), (2, 4 + 25)]);
/// # Ok::<(), mapreduce::MapReduceError>(())
/// ```
pub struct Iter<It>(It);

impl<It> Iter<It> {
    /// Wraps `iter`.
    pub fn new<T: IntoIterator<IntoIter = It>>(iter: T) -> Self {
        Iter(iter.into_iter())
    }
}

impl<It> fmt::Debug for Iter<It> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Iter(..)")
    }
}

#[doc(hidden)]
pub struct IterSource<It> {
    iter: Mutex<Option<It>>,
    chunk: usize,
}

impl<It> Source for IterSource<It>
where
    It: Iterator + Send,
{
    type Item = It::Item;
    type Chunk = Vec<It::Item>;

    fn next_chunk(&self) -> Option<Result<(Self::Chunk, u64), MapReduceError>> {
        let mut guard = self.iter.lock();
        let iter = guard.as_mut()?;
        let chunk: Vec<It::Item> = iter.by_ref().take(self.chunk).collect();
        if chunk.len() < self.chunk {
            *guard = None; // exhausted: never poll a finished iterator again
        }
        drop(guard);
        (!chunk.is_empty()).then_some(Ok((chunk, 0)))
    }
}

impl<It: Iterator + Send> Input for Iter<It> {
    type Item = It::Item;
    type Source = IterSource<It>;

    fn into_source(self, chunk_size: Option<usize>) -> Self::Source {
        IterSource {
            iter: Mutex::new(Some(self.0)),
            chunk: chunk_size.unwrap_or(DEFAULT_ITEM_CHUNK),
        }
    }
}

impl<T: Send> Input for Vec<T> {
    type Item = T;
    type Source = IterSource<std::vec::IntoIter<T>>;

    fn into_source(self, chunk_size: Option<usize>) -> Self::Source {
        Iter::new(self).into_source(chunk_size)
    }
}

// ---------------------------------------------------------------------------------------
// Text and records in memory.

/// The chunks of `bytes`: each about `chunk` bytes, ending just after a `delim` or at the
/// end.
fn cut(bytes: &[u8], chunk: usize, delim: u8) -> Vec<(usize, usize)> {
    let mut cuts = Vec::with_capacity(bytes.len() / chunk.max(1) + 1);
    let mut start = 0;
    while start < bytes.len() {
        let tentative = start.saturating_add(chunk).min(bytes.len());
        let end = match bytes[tentative - 1..].iter().position(|&b| b == delim) {
            Some(at) => tentative + at,
            None => bytes.len(),
        };
        cuts.push((start, end));
        start = end;
    }
    cuts
}

#[doc(hidden)]
pub struct Cuts {
    cuts: Vec<(usize, usize)>,
    next: AtomicUsize,
}

impl Cuts {
    fn new(bytes: &[u8], chunk: usize, delim: u8) -> Cuts {
        Cuts {
            cuts: cut(bytes, chunk, delim),
            next: AtomicUsize::new(0),
        }
    }

    fn next(&self) -> Option<(usize, usize)> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        self.cuts.get(index).copied()
    }
}

#[doc(hidden)]
pub struct TextSource<'a> {
    text: &'a str,
    cuts: Cuts,
}

impl<'a> Source for TextSource<'a> {
    type Item = &'a str;
    type Chunk = core::str::Lines<'a>;

    fn next_chunk(&self) -> Option<Result<(Self::Chunk, u64), MapReduceError>> {
        let (start, end) = self.cuts.next()?;
        // Cuts fall just after a `\n` (ASCII), so on character boundaries.
        Some(Ok((self.text[start..end].lines(), (end - start) as u64)))
    }
}

/// A `&str` is mapped line by line ([`str::lines`]), in chunks of about `chunk_size` bytes.
impl<'a> Input for &'a str {
    type Item = &'a str;
    type Source = TextSource<'a>;

    fn into_source(self, chunk_size: Option<usize>) -> Self::Source {
        TextSource {
            text: self,
            cuts: Cuts::new(
                self.as_bytes(),
                chunk_size.unwrap_or(DEFAULT_BYTE_CHUNK),
                b'\n',
            ),
        }
    }
}

impl<'a> Input for &'a String {
    type Item = &'a str;
    type Source = TextSource<'a>;

    fn into_source(self, chunk_size: Option<usize>) -> Self::Source {
        self.as_str().into_source(chunk_size)
    }
}

/// Bytes split into lines as [`str::lines`] splits text (`\n` or `\r\n`, which are not part
/// of the line), without decoding them: the input for binary-safe or non-UTF-8 text.
///
/// ```
/// use mapreduce::{input::ByteLines, MapReduce};
///
/// let lengths = MapReduce::new(|line: &[u8], out| out.emit(line.len(), 1u32), |_, n| n.sum::<u32>())
///     .sorted(true)
///     .run(ByteLines::new(b"ab\r\ncd\n\xff\r"))?;
/// assert_eq!(lengths.into_vec(), [(2, 3)]); // "ab", "cd", and "\xff\r" (a lone `\r` is data)
/// # Ok::<(), mapreduce::MapReduceError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ByteLines<'a>(&'a [u8]);

impl<'a> ByteLines<'a> {
    /// The lines of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        ByteLines(bytes)
    }
}

/// Bytes split at every `delim`, which is not part of the record; a trailing `delim` ends
/// the last record rather than starting an empty one.
///
/// ```
/// use mapreduce::{input::Records, MapReduce};
///
/// let fields = MapReduce::new(|rec: &[u8], out| out.emit(rec, 1u32), |_, n| n.sum::<u32>())
///     .sorted(true)
///     .run(Records::new(b"a,b,a,", b','))?;
/// assert_eq!(fields.into_vec(), [(&b"a"[..], 2), (&b"b"[..], 1)]);
/// # Ok::<(), mapreduce::MapReduceError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Records<'a> {
    bytes: &'a [u8],
    delim: u8,
}

impl<'a> Records<'a> {
    /// The records of `bytes`, separated by `delim`.
    pub fn new(bytes: &'a [u8], delim: u8) -> Self {
        Records { bytes, delim }
    }
}

/// The records of one chunk.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    rest: &'a [u8],
    delim: u8,
    /// Strip a `\r` before the delimiter (`ByteLines`).
    crlf: bool,
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        match self.rest.iter().position(|&b| b == self.delim) {
            Some(at) => {
                let mut record = &self.rest[..at];
                self.rest = &self.rest[at + 1..];
                if self.crlf {
                    if let [head @ .., b'\r'] = record {
                        record = head;
                    }
                }
                Some(record)
            }
            None => Some(core::mem::take(&mut self.rest)),
        }
    }
}

#[doc(hidden)]
pub struct RecordSource<'a> {
    bytes: &'a [u8],
    delim: u8,
    crlf: bool,
    cuts: Cuts,
}

impl<'a> Source for RecordSource<'a> {
    type Item = &'a [u8];
    type Chunk = RecordIter<'a>;

    fn next_chunk(&self) -> Option<Result<(Self::Chunk, u64), MapReduceError>> {
        let (start, end) = self.cuts.next()?;
        let iter = RecordIter {
            rest: &self.bytes[start..end],
            delim: self.delim,
            crlf: self.crlf,
        };
        Some(Ok((iter, (end - start) as u64)))
    }
}

impl<'a> Input for ByteLines<'a> {
    type Item = &'a [u8];
    type Source = RecordSource<'a>;

    fn into_source(self, chunk_size: Option<usize>) -> Self::Source {
        RecordSource {
            bytes: self.0,
            delim: b'\n',
            crlf: true,
            cuts: Cuts::new(self.0, chunk_size.unwrap_or(DEFAULT_BYTE_CHUNK), b'\n'),
        }
    }
}

impl<'a> Input for Records<'a> {
    type Item = &'a [u8];
    type Source = RecordSource<'a>;

    fn into_source(self, chunk_size: Option<usize>) -> Self::Source {
        RecordSource {
            bytes: self.bytes,
            delim: self.delim,
            crlf: false,
            cuts: Cuts::new(
                self.bytes,
                chunk_size.unwrap_or(DEFAULT_BYTE_CHUNK),
                self.delim,
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Files.

/// Text files, read in order and streamed: mappers take turns reading the next
/// `chunk_size` bytes (default 1 MiB), cut after the last `\n` in them (the rest carries
/// over to the next chunk; a file's end ends a line), and map its lines, each an owned
/// `String`. At most one chunk per mapper is in memory at a time, whatever the files'
/// size.
///
/// A file that cannot be opened or read, or is not UTF-8, fails the run with
/// [`MapReduceError::Input`].
///
/// ```no_run
/// use mapreduce::{input::Files, MapReduce};
///
/// let lines_per_length = MapReduce::new(
///     |line: String, out| out.emit(line.len(), 1u64),
///     |_, n| n.sum::<u64>(),
/// )
/// .combiner(|a, b| *a += b)
/// .run(Files::new(["a.txt", "b.txt"]))?;
/// # Ok::<(), mapreduce::MapReduceError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Files(Vec<PathBuf>);

impl Files {
    /// The files at `paths`, in that order.
    pub fn new<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Self {
        Files(paths.into_iter().map(|p| p.as_ref().to_owned()).collect())
    }
}

#[doc(hidden)]
pub struct FileSource {
    paths: Vec<PathBuf>,
    chunk: usize,
    state: Mutex<FileState>,
}

struct FileState {
    /// The next file to open.
    next: usize,
    /// The file being read, and its path.
    open: Option<(usize, File)>,
    /// The part of the last read after its last `\n`: the start of the next chunk.
    carry: Vec<u8>,
    /// An error ended the input.
    done: bool,
}

impl FileSource {
    /// Reads the next chunk's bytes under the lock: `(path index, bytes)`.
    fn read_chunk(&self) -> Option<Result<(usize, Vec<u8>), MapReduceError>> {
        let mut state = self.state.lock();
        if state.done {
            return None;
        }
        let result = Self::read_locked(&self.paths, self.chunk, &mut state);
        if let Some(Err(_)) = &result {
            state.done = true;
        }
        result
    }

    fn read_locked(
        paths: &[PathBuf],
        chunk: usize,
        state: &mut FileState,
    ) -> Option<Result<(usize, Vec<u8>), MapReduceError>> {
        loop {
            let (index, file) = match &mut state.open {
                Some((index, file)) => (*index, file),
                None => {
                    let index = state.next;
                    let path = paths.get(index)?;
                    state.next += 1;
                    match File::open(path) {
                        Ok(file) => state.open = Some((index, file)),
                        Err(error) => return Some(Err(input_error(path, error))),
                    }
                    continue;
                }
            };
            let mut buf = core::mem::take(&mut state.carry);
            buf.reserve(chunk);
            // Read until the chunk is full and holds a line ending, or the file ends.
            // (The carry holds no `\n`: it is what followed the last one.)
            let mut has_line_end = false;
            let eof = loop {
                let before = buf.len();
                let want = chunk.saturating_sub(before).max(4096);
                match file.by_ref().take(want as u64).read_to_end(&mut buf) {
                    Ok(0) => break true,
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return Some(Err(input_error(&paths[index], error))),
                }
                has_line_end |= buf[before..].contains(&b'\n');
                if buf.len() >= chunk && has_line_end {
                    break false;
                }
            };
            if eof {
                state.open = None;
                if buf.is_empty() {
                    continue;
                }
                return Some(Ok((index, buf)));
            }
            let last = buf.iter().rposition(|&b| b == b'\n').map_or(0, |at| at + 1);
            state.carry = buf[last..].to_vec();
            buf.truncate(last);
            return Some(Ok((index, buf)));
        }
    }
}

fn input_error(path: &Path, error: io::Error) -> MapReduceError {
    MapReduceError::Input {
        path: path.to_owned(),
        error,
    }
}

/// The lines of one chunk of a file, each an owned `String`.
#[doc(hidden)]
#[derive(Debug)]
pub struct FileLines {
    text: String,
    pos: usize,
}

impl Iterator for FileLines {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let rest = &self.text[self.pos..];
        if rest.is_empty() {
            return None;
        }
        let (line, advance) = match rest.find('\n') {
            Some(at) => {
                let line = &rest[..at];
                (line.strip_suffix('\r').unwrap_or(line), at + 1)
            }
            None => (rest, rest.len()),
        };
        let line = line.to_owned();
        self.pos += advance;
        Some(line)
    }
}

impl Source for FileSource {
    type Item = String;
    type Chunk = FileLines;

    fn next_chunk(&self) -> Option<Result<(Self::Chunk, u64), MapReduceError>> {
        let (index, bytes) = match self.read_chunk()? {
            Ok(read) => read,
            Err(error) => return Some(Err(error)),
        };
        let len = bytes.len() as u64;
        // Chunks end after a `\n` or at a file's end, so a UTF-8 file's chunks are UTF-8.
        match String::from_utf8(bytes) {
            Ok(text) => Some(Ok((FileLines { text, pos: 0 }, len))),
            Err(error) => {
                self.state.lock().done = true;
                Some(Err(input_error(
                    &self.paths[index],
                    io::Error::new(io::ErrorKind::InvalidData, error.utf8_error()),
                )))
            }
        }
    }
}

impl Input for Files {
    type Item = String;
    type Source = FileSource;

    fn into_source(self, chunk_size: Option<usize>) -> Self::Source {
        FileSource {
            paths: self.0,
            chunk: chunk_size.unwrap_or(DEFAULT_BYTE_CHUNK),
            state: Mutex::new(FileState {
                next: 0,
                open: None,
                carry: Vec::new(),
                done: false,
            }),
        }
    }
}

/// The sources say only what they are: their state is the engine's.
macro_rules! opaque_debug {
    ($($name:ident $(<$($param:tt),*>)?),*) => {$(
        impl$(<$($param),*>)? fmt::Debug for $name$(<$($param),*>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    )*};
}
opaque_debug!(
    SliceSource<'a, T>,
    IterSource<It>,
    Cuts,
    TextSource<'a>,
    RecordSource<'a>,
    FileSource
);

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks_of(text: &str, chunk: usize) -> Vec<&str> {
        cut(text.as_bytes(), chunk, b'\n')
            .into_iter()
            .map(|(s, e)| &text[s..e])
            .collect()
    }

    #[test]
    fn cuts_fall_after_line_endings() {
        assert_eq!(chunks_of("ab\ncd\nef", 1), ["ab\n", "cd\n", "ef"]);
        assert_eq!(chunks_of("ab\ncd\nef", 4), ["ab\ncd\n", "ef"]);
        assert_eq!(chunks_of("ab\r\ncd\r\n", 3), ["ab\r\n", "cd\r\n"]);
        assert_eq!(chunks_of("", 3), Vec::<&str>::new());
        assert_eq!(chunks_of("\n\n", 1), ["\n", "\n"]);
        assert_eq!(chunks_of("héllo\nwörld", 2), ["héllo\n", "wörld"]);
    }

    #[test]
    fn records_follow_str_lines() {
        for text in ["a\r\nb\n", "a\rb", "\n\na", "x\r", "", "\r\n", "a\n\r\n"] {
            let iter = RecordIter {
                rest: text.as_bytes(),
                delim: b'\n',
                crlf: true,
            };
            let ours: Vec<&[u8]> = iter.collect();
            let std: Vec<&[u8]> = text.lines().map(str::as_bytes).collect();
            assert_eq!(ours, std, "{text:?}");
            let owned: Vec<String> = FileLines {
                text: text.to_owned(),
                pos: 0,
            }
            .collect();
            assert_eq!(owned, text.lines().collect::<Vec<_>>(), "{text:?}");
        }
    }
}
