//! Compression throughput: qatkit's CPU backend against libdeflate and zlib (flate2's default
//! backend) called directly, in the same groups and the same run, on the Calgary + Canterbury
//! corpus (`QATKIT_CORPUS`, default `../shared/corpus`; without it, generated text) cut into
//! requests of 4 KiB, 64 KiB, 1 MiB and whole files. Throughput is in input bytes.
//!
//! `cargo bench --bench compress`; with ISA-L serving levels 0, 1 and 3:
//! `cargo bench --bench compress --features qat-crypto/isal`. More baselines (ISA-L directly,
//! zlib-ng, QATzip through qat-sys) and the QAT backend come with the rest of issue 5.

use std::hint::black_box;
use std::io::Write as _;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use qat_crypto::compress::{Format, compress, decompress};

/// The corpus files, joined, or 6 MB of generated text where the corpus is not available.
fn corpus() -> (String, Vec<u8>) {
    let dir = std::env::var_os("QATKIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
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

const SIZES: [(&str, usize); 4] = [
    ("4KiB", 4 << 10),
    ("64KiB", 64 << 10),
    ("1MiB", 1 << 20),
    ("whole", usize::MAX),
];

fn requests(data: &[u8], size: usize) -> Vec<&[u8]> {
    data.chunks(size.min(data.len())).collect()
}

fn benches(c: &mut Criterion) {
    let (source, data) = corpus();
    eprintln!("compress bench input: {source}, {} bytes", data.len());
    for level in [1u32, 6, 9] {
        let mut group = c.benchmark_group(format!("gzip_compress_level{level}"));
        group.sample_size(10);
        group.throughput(Throughput::Bytes(data.len() as u64));
        for (label, size) in SIZES {
            let reqs = requests(&data, size);
            group.bench_with_input(BenchmarkId::new("qatkit/cpu", label), &reqs, |b, reqs| {
                b.iter(|| {
                    reqs.iter()
                        .map(|r| compress(Format::Gzip, level, r).unwrap().len())
                        .sum::<usize>()
                })
            });
            group.bench_with_input(BenchmarkId::new("libdeflate", label), &reqs, |b, reqs| {
                let mut c = libdeflater::Compressor::new(
                    libdeflater::CompressionLvl::new(level as i32).unwrap(),
                );
                let mut out = vec![0u8; c.gzip_compress_bound(size.min(data.len()))];
                b.iter(|| {
                    reqs.iter()
                        .map(|r| c.gzip_compress(r, &mut out).unwrap())
                        .sum::<usize>()
                })
            });
            group.bench_with_input(BenchmarkId::new("zlib(flate2)", label), &reqs, |b, reqs| {
                b.iter(|| {
                    reqs.iter()
                        .map(|r| {
                            let mut e = flate2::write::GzEncoder::new(
                                Vec::new(),
                                flate2::Compression::new(level),
                            );
                            e.write_all(r).unwrap();
                            e.finish().unwrap().len()
                        })
                        .sum::<usize>()
                })
            });
        }
        group.finish();
    }
    let mut group = c.benchmark_group("gzip_decompress");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(data.len() as u64));
    for (label, size) in [SIZES[1], SIZES[3]] {
        let packed: Vec<(Vec<u8>, usize)> = requests(&data, size)
            .iter()
            .map(|r| (compress(Format::Gzip, 6, r).unwrap(), r.len()))
            .collect();
        group.bench_with_input(
            BenchmarkId::new("qatkit/cpu", label),
            &packed,
            |b, packed| {
                b.iter(|| {
                    packed
                        .iter()
                        .map(|(p, n)| decompress(Format::Gzip, p, *n).unwrap().len())
                        .sum::<usize>()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("libdeflate", label),
            &packed,
            |b, packed| {
                let mut d = libdeflater::Decompressor::new();
                let mut out = vec![0u8; size.min(data.len())];
                b.iter(|| {
                    packed
                        .iter()
                        .map(|(p, _)| d.gzip_decompress(p, &mut out).unwrap())
                        .sum::<usize>()
                })
            },
        );
    }
    group.finish();
    black_box(());
}

criterion_group!(compress_benches, benches);
criterion_main!(compress_benches);
