//! What the bench targets share: the input, and the paired measurement of two ways of doing
//! the same work.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The corpus files, joined, or 6 MB of generated text where the corpus is not available.
pub(crate) fn corpus() -> (String, Vec<u8>) {
    let dir = std::env::var_os("QATKIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    let mut data = Vec::new();
    for name in ["calgary", "canterbury"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            data.extend(bytes);
        }
    }
    if !data.is_empty() {
        return (format!("corpus {}", dir.display()), data);
    }
    let words = [
        "quick", "assist", "virtual", "function", "compress", "offload", "host", "guest",
    ];
    let mut text = Vec::with_capacity(6_000_000);
    let mut i = 0u64;
    while text.len() < 6_000_000 {
        i = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        text.extend_from_slice(words[(i >> 61) as usize].as_bytes());
        text.push(if i % 11 == 0 { b'\n' } else { b' ' });
    }
    ("generated text (set QATKIT_CORPUS)".into(), text)
}

/// The time of `theirs` over the time of `ours` on the same requests, from alternating runs
/// (which order goes first alternates too): the median of the per-round ratios, over at least
/// `rounds` rounds and `at_least` time. A shared machine drifts more between criterion's
/// separate entries than the differences these ratios measure; paired rounds see the same
/// machine.
pub(crate) fn paired(
    ours: &mut dyn FnMut(&[u8]) -> usize,
    theirs: &mut dyn FnMut(&[u8]) -> usize,
    requests: &[&[u8]],
    rounds: usize,
    at_least: Duration,
) -> f64 {
    let time = |work: &mut dyn FnMut(&[u8]) -> usize| {
        let start = Instant::now();
        black_box(requests.iter().map(|r| work(r)).sum::<usize>());
        start.elapsed().as_secs_f64()
    };
    // Warm both up.
    time(ours);
    time(theirs);
    let started = Instant::now();
    let mut ratios = Vec::new();
    while ratios.len() < rounds.max(1) || started.elapsed() < at_least {
        let (a, b) = if ratios.len() % 2 == 0 {
            let a = time(ours);
            (a, time(theirs))
        } else {
            let b = time(theirs);
            (time(ours), b)
        };
        ratios.push(b / a);
    }
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}
