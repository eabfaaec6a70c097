//! What the bench targets share: the input, where results go, the command line, and the paired
//! measurement of two ways of doing the same work.

// Each bench target uses part of this.
#![allow(dead_code)]

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

/// Where criterion writes; qatkit's own result files go beside its results.
pub(crate) fn criterion_home() -> PathBuf {
    let home = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                // The workspace's target directory, which criterion finds with `cargo metadata`.
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
                .join("criterion")
        });
    std::fs::create_dir_all(&home).expect("criterion's directory");
    home
}

/// Opens a results file for appending: runs filtered to some groups keep the others' lines;
/// readers take the newest line for each entry.
pub(crate) fn results_file(name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(criterion_home().join(name))
        .expect("results file")
}

/// The benchmark filter criterion was given (the first argument that is not an option or an
/// option's value), and whether it runs in `--test` mode.
pub(crate) fn filter_and_test_mode() -> (Option<regex::Regex>, bool) {
    const WITH_VALUE: [&str; 14] = [
        "--save-baseline",
        "--baseline",
        "--baseline-lenient",
        "--load-baseline",
        "--measurement-time",
        "--warm-up-time",
        "--sample-size",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "--plotting-backend",
        "--output-format",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let test_mode = args.iter().any(|a| a == "--test");
    let mut filter = None;
    let mut skip_value = false;
    for arg in &args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        if arg.starts_with('-') {
            skip_value = WITH_VALUE.contains(&arg.as_str());
        } else if filter.is_none() {
            filter = Some(regex::Regex::new(arg).expect("a valid filter"));
        }
    }
    (filter, test_mode)
}
