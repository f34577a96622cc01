//! A deterministic Zipf-distributed text, for the word-count and histogram comparisons.
//!
//! Words are drawn from a Zipf law with exponent 1 over a fixed vocabulary of 2²⁰ made-up
//! words (rank `r`'s word is 2 to 9 lowercase letters, shorter for frequent ranks, as in
//! natural language), 10 to a line, by a splitmix64 generator with a fixed seed: the same
//! bytes on every machine and run. Made once per process.

use std::sync::OnceLock;

/// Words in the vocabulary.
const VOCABULARY: usize = 1 << 20;
/// Words per line.
const LINE_WORDS: usize = 10;
/// The generator's seed.
const SEED: u64 = 0x5eed_2026_0023;

/// splitmix64: small, fast, and good enough to sample from.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rank `rank`'s word.
fn word(rank: usize, out: &mut String) {
    let mut bits = SplitMix(rank as u64 ^ 0xa076_1d64_78bd_642f);
    let len = 2 + (usize::BITS - (rank + 1).leading_zeros()) as usize * 7 / 20;
    let mut letters = bits.next();
    for _ in 0..len {
        out.push(char::from(b'a' + (letters % 26) as u8));
        letters /= 26;
    }
}

/// About `bytes` bytes of text: whole lines of Zipf-distributed words.
pub(crate) fn generate(bytes: usize) -> String {
    let mut cumulative = Vec::with_capacity(VOCABULARY);
    let mut sum = 0.0;
    for rank in 1..=VOCABULARY {
        sum += 1.0 / rank as f64;
        cumulative.push(sum);
    }
    let words: Vec<String> = (0..VOCABULARY)
        .map(|rank| {
            let mut w = String::new();
            word(rank, &mut w);
            w
        })
        .collect();
    let mut rng = SplitMix(SEED);
    let mut text = String::with_capacity(bytes + 128);
    let mut in_line = 0;
    while text.len() < bytes || in_line != 0 {
        let u = rng.unit() * sum;
        let rank = cumulative.partition_point(|&c| c < u).min(VOCABULARY - 1);
        text.push_str(&words[rank]);
        in_line += 1;
        if in_line == LINE_WORDS {
            text.push('\n');
            in_line = 0;
        } else {
            text.push(' ');
        }
    }
    text
}

/// Whether criterion runs in `--test` mode (`cargo xtask bench --smoke`): each benchmark
/// once, so the inputs shrink to 1 MiB.
pub(crate) fn smoke() -> bool {
    std::env::args().any(|arg| arg == "--test")
}

/// The benchmark text: 64 MiB (1 MiB under `--test`), made once.
pub(crate) fn text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| generate(if smoke() { 1 << 20 } else { 64 << 20 }))
}
