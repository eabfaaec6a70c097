//! Turns the results of the criterion benches (`cargo bench -p qatkit-benches --bench compress`,
//! `--bench crypto`, `--bench asym`) into markdown tables: for each group and request size, every
//! implementation's throughput (MB/s, 10^6 input bytes per second, from criterion's median; for
//! groups whose throughput counts elements, ops/s: signatures, verifications or agreements in
//! `asym`'s, VFs in `management`'s), for compression its compression ratio, its speed relative
//! to each baseline from criterion's medians ("vs"), and, for qatkit's rows, relative to each
//! baseline measured paired, in alternating runs ("paired vs"): the figure to trust on a shared
//! machine.
//!
//! `cargo run -p qatkit-benches --example bench-table [CRITERION_DIR]`. The default is where
//! criterion wrote: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the workspace's
//! `target/criterion`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The implementations compared against, in column order: compression's, then crypto's.
const BASELINES: [&str; 9] = [
    "isal",
    "libdeflate",
    "flate2/zlib-ng",
    "flate2/zlib-rs",
    "qatzip",
    "zstd",
    "aws-lc-rs",
    "ring",
    "openssl",
];
/// Request sizes, in row order.
const SIZES: [&str; 7] = ["64B", "1KiB", "4KiB", "16KiB", "64KiB", "1MiB", "whole"];

struct Entry {
    group: String,
    function: String,
    size: String,
    /// MB/s, or operations per second where the throughput counts elements.
    per_s: f64,
    unit: &'static str,
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every `<group>/<function>/<size>/new/` criterion wrote.
fn entries(dir: &Path) -> Result<Vec<Entry>, String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(listing) = std::fs::read_dir(&d) else {
            continue;
        };
        for item in listing.flatten() {
            let path = item.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "new") {
                    if let Some(e) = entry(&path)? {
                        found.push(e);
                    }
                } else {
                    stack.push(path);
                }
            }
        }
    }
    Ok(found)
}

fn entry(new: &Path) -> Result<Option<Entry>, String> {
    let (Ok(benchmark), Ok(estimates)) = (
        read_json(&new.join("benchmark.json")),
        read_json(&new.join("estimates.json")),
    ) else {
        return Ok(None);
    };
    let text = |key: &str| benchmark[key].as_str().map(str::to_owned);
    let (Some(group), Some(function), Some(size)) =
        (text("group_id"), text("function_id"), text("value_str"))
    else {
        return Ok(None);
    };
    let throughput = &benchmark["throughput"];
    let per_ns = match (
        throughput["Bytes"].as_f64(),
        throughput["Elements"].as_f64(),
    ) {
        (Some(bytes), _) => Some((bytes * 1e3, "MB/s")),
        (None, Some(elements)) => Some((elements * 1e9, "ops/s")),
        (None, None) => None,
    };
    let ns = estimates["median"]["point_estimate"].as_f64();
    let (Some((per_ns, unit)), Some(ns)) = (per_ns, ns) else {
        return Err(format!("{}: no throughput or median", new.display()));
    };
    Ok(Some(Entry {
        group,
        function,
        size,
        per_s: per_ns / ns,
        unit,
    }))
}

/// (group, function, size) → ratio, from the bench's ratio file; later lines win.
fn ratios(dir: &Path) -> BTreeMap<(String, String, String), f64> {
    let text = std::fs::read_to_string(dir.join("qatkit-ratios.tsv")).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [group, function, size, ratio] = f[..] else {
                return None;
            };
            Some((
                (group.into(), function.into(), size.into()),
                ratio.parse().ok()?,
            ))
        })
        .collect()
}

/// (group, function, size, baseline) → paired ratio, from the bench's paired file; later
/// lines win.
fn paired(dir: &Path) -> BTreeMap<(String, String, String, String), f64> {
    let text = std::fs::read_to_string(dir.join("qatkit-paired.tsv")).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [group, function, size, baseline, ratio] = f[..] else {
                return None;
            };
            let key = (group.into(), function.into(), size.into(), baseline.into());
            Some((key, ratio.parse().ok()?))
        })
        .collect()
}

/// Where criterion wrote, as criterion decides it: `CRITERION_HOME`, else the target
/// directory's `criterion` (`CARGO_TARGET_DIR`, else the workspace's `target`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("criterion")
}

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(criterion_dir);
    let entries = match entries(&dir) {
        Ok(e) if !e.is_empty() => e,
        Ok(_) => {
            eprintln!(
                "bench-table: no criterion results under {}: run `cargo bench -p qatkit-benches` first",
                dir.display()
            );
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("bench-table: {e}");
            std::process::exit(1);
        }
    };
    let ratios = ratios(&dir);
    let paired = paired(&dir);
    let mut groups: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in &entries {
        groups.entry(&e.group).or_default().push(e);
    }
    for (group, mut rows) in groups {
        rows.sort_by_key(|e| {
            (
                SIZES
                    .iter()
                    .position(|s| *s == e.size)
                    .unwrap_or(SIZES.len()),
                BASELINES.iter().position(|b| *b == e.function).is_some(),
                e.function.clone(),
            )
        });
        let baselines: Vec<&str> = BASELINES
            .into_iter()
            .filter(|b| rows.iter().any(|e| e.function == *b))
            .collect();
        let paired_key = |e: &Entry, b: &str| {
            (
                e.group.clone(),
                e.function.clone(),
                e.size.clone(),
                b.to_string(),
            )
        };
        let paired_baselines: Vec<&str> = baselines
            .iter()
            .copied()
            .filter(|b| rows.iter().any(|e| paired.contains_key(&paired_key(e, b))))
            .collect();
        // Compression ratios, for the groups that have them.
        let has_ratios = rows
            .iter()
            .any(|e| ratios.contains_key(&(e.group.clone(), e.function.clone(), e.size.clone())));
        println!("### {group}\n");
        print!("| request | implementation | {} |", rows[0].unit);
        if has_ratios {
            print!(" ratio |");
        }
        for b in &baselines {
            print!(" vs {b} |");
        }
        for b in &paired_baselines {
            print!(" paired vs {b} |");
        }
        print!("\n|---|---|---:|");
        let columns = baselines.len() + paired_baselines.len() + usize::from(has_ratios);
        println!("{}", "---:|".repeat(columns));
        for e in &rows {
            print!("| {} | {} | {:.0} |", e.size, e.function, e.per_s);
            if has_ratios {
                let ratio = ratios
                    .get(&(e.group.clone(), e.function.clone(), e.size.clone()))
                    .map_or("-".into(), |r| format!("{r:.2}"));
                print!(" {ratio} |");
            }
            for b in &baselines {
                let base = rows.iter().find(|o| o.function == *b && o.size == e.size);
                match base {
                    Some(base) => print!(" {:.2}x |", e.per_s / base.per_s),
                    None => print!(" - |"),
                }
            }
            for b in &paired_baselines {
                match paired.get(&paired_key(e, b)) {
                    Some(ratio) => print!(" **{ratio:.2}x** |"),
                    None => print!(" - |"),
                }
            }
            println!();
        }
        println!();
    }
}
