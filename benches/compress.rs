//! Compression throughput: qatkit's backends against the libraries they compete with, called
//! directly, in the same criterion groups and the same run.
//!
//! Input: the Calgary + Canterbury corpus (`QATKIT_CORPUS`, default `../shared/corpus`), or,
//! where it is not available, 6 MB of generated text (a fixed word list in pseudo-random order,
//! so every machine benches the same bytes). The corpus is cut into independent requests of
//! 4 KiB, 64 KiB, 1 MiB or whole files. Throughput counts uncompressed bytes, for compression
//! and decompression alike.
//!
//! In each group, where built in:
//! - `qatkit/cpu`, `qatkit/qat` (feature `qatzip`): qatkit's `Codec`, one call per request,
//!   appending to a `Vec` the caller reuses (`compress_into`, `decompress_into`);
//! - `isal` (feature `isal`, level 1 only: ISA-L has no level 6 or 9), `libdeflate`, `flate2`
//!   (on zlib-ng with feature `zlib-ng`, else zlib-rs) and `qatzip` (feature `qatzip`: QATzip
//!   through qat-sys, its software path without a device), each with its state and output
//!   buffer reused across requests, their fastest use.
//!
//! Every entry also writes its compression ratio to `target/criterion/qatkit-ratios.tsv`, which
//! `cargo run --example bench-table` joins with criterion's results into markdown tables.
//!
//! ```text
//! cargo bench --bench compress --features isal,zlib-ng              # CPU and baselines
//! QAT_SYS_PREFIX=/opt/qat LD_LIBRARY_PATH=/opt/qat/lib \
//!   cargo bench --bench compress --features isal,zlib-ng,qatzip     # plus QATzip
//! ```

use std::io::Write as _;
use std::path::PathBuf;

use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, measurement::WallTime,
};
use qatkit::qat_crypto::compress::{Backend, Codec, Format};

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

const LEVELS: [u32; 3] = [1, 6, 9];

/// The flate2 backend this build has.
const FLATE2: &str = if cfg!(feature = "zlib-ng") {
    "flate2/zlib-ng"
} else {
    "flate2/zlib-rs"
};

/// Where criterion writes, and where the ratios go beside it.
fn ratios_file() -> PathBuf {
    let home = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
                .join("criterion")
        });
    std::fs::create_dir_all(&home).expect("criterion's directory");
    home.join("qatkit-ratios.tsv")
}

/// One request size of one group: the requests, and where ratios are recorded.
struct Run<'a> {
    group: String,
    label: &'a str,
    requests: Vec<&'a [u8]>,
    ratios: &'a mut std::fs::File,
}

impl Run<'_> {
    /// Benches `f` over every request; `f` returns the size of its result, and the sizes give
    /// the ratio (`input / compressed`, or for decompression the ratio of its input).
    fn bench(
        &mut self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        name: &str,
        ratio_of: Option<f64>,
        mut f: impl FnMut(&[u8]) -> usize,
    ) {
        let ratio = ratio_of.unwrap_or_else(|| {
            let input: usize = self.requests.iter().map(|r| r.len()).sum();
            let output: usize = self.requests.iter().map(|r| f(r)).sum();
            input as f64 / output as f64
        });
        writeln!(
            self.ratios,
            "{}\t{name}\t{}\t{ratio:.4}",
            self.group, self.label
        )
        .expect("write ratios");
        group.bench_with_input(
            BenchmarkId::new(name, self.label),
            &self.requests,
            |b, requests| b.iter(|| requests.iter().map(|r| f(r)).sum::<usize>()),
        );
    }
}

fn codec(level: u32, backend: Backend) -> Codec {
    Codec::new(Format::Gzip, level)
        .and_then(|c| c.with_backend(backend))
        .expect("gzip codec")
}

fn compress_benches(c: &mut Criterion, data: &[u8], ratios: &mut std::fs::File) {
    for level in LEVELS {
        let name = format!("gzip_compress_level{level}");
        let mut group = c.benchmark_group(&name);
        group.throughput(Throughput::Bytes(data.len() as u64));
        // Whole-corpus iterations take up to a second: the same count per sample.
        group.sampling_mode(SamplingMode::Flat);
        for (label, size) in SIZES {
            let mut run = Run {
                group: name.clone(),
                label,
                requests: data.chunks(size.min(data.len())).collect(),
                ratios,
            };
            let largest = size.min(data.len());
            let mut out = Vec::new();
            let cpu = codec(level, Backend::Cpu);
            run.bench(&mut group, "qatkit/cpu", None, |r| {
                out.clear();
                cpu.compress_into(r, &mut out).unwrap()
            });
            #[cfg(feature = "qatzip")]
            {
                let qat = codec(level, Backend::Qat);
                run.bench(&mut group, "qatkit/qat", None, |r| {
                    out.clear();
                    qat.compress_into(r, &mut out).unwrap()
                });
                let mut direct = qatzip::Direct::new(level, largest);
                run.bench(&mut group, "qatzip", None, |r| direct.compress(r));
            }
            #[cfg(feature = "isal")]
            if level == 1 {
                let mut out = vec![0u8; largest + largest / 4 + 1024];
                run.bench(&mut group, "isal", None, |r| {
                    isal::compress_into(r, &mut out, isal::CompressionLevel::One, isal::Codec::Gzip)
                        .unwrap()
                });
            }
            let mut compressor = libdeflater::Compressor::new(
                libdeflater::CompressionLvl::new(level as i32).unwrap(),
            );
            let mut out = vec![0u8; compressor.gzip_compress_bound(largest)];
            run.bench(&mut group, "libdeflate", None, |r| {
                compressor.gzip_compress(r, &mut out).unwrap()
            });
            let mut out = Vec::with_capacity(largest + 1024);
            run.bench(&mut group, FLATE2, None, |r| {
                out.clear();
                let mut e =
                    flate2::write::GzEncoder::new(&mut out, flate2::Compression::new(level));
                e.write_all(r).unwrap();
                e.finish().unwrap().len()
            });
        }
        group.finish();
    }
}

fn decompress_benches(c: &mut Criterion, data: &[u8], ratios: &mut std::fs::File) {
    for level in LEVELS {
        let name = format!("gzip_decompress_level{level}");
        let mut group = c.benchmark_group(&name);
        group.throughput(Throughput::Bytes(data.len() as u64));
        // Whole-corpus iterations take up to a second: the same count per sample.
        group.sampling_mode(SamplingMode::Flat);
        for (label, size) in SIZES {
            // The same gzip for everyone, written by libdeflate at this level.
            let mut compressor = libdeflater::Compressor::new(
                libdeflater::CompressionLvl::new(level as i32).unwrap(),
            );
            let packed: Vec<Vec<u8>> = data
                .chunks(size.min(data.len()))
                .map(|r| {
                    let mut out = vec![0u8; compressor.gzip_compress_bound(r.len())];
                    let n = compressor.gzip_compress(r, &mut out).unwrap();
                    out.truncate(n);
                    out
                })
                .collect();
            let ratio = data.len() as f64 / packed.iter().map(Vec::len).sum::<usize>() as f64;
            let largest = size.min(data.len());
            let mut run = Run {
                group: name.clone(),
                label,
                requests: packed.iter().map(Vec::as_slice).collect(),
                ratios,
            };
            let mut out = Vec::new();
            let cpu = codec(level, Backend::Cpu);
            run.bench(&mut group, "qatkit/cpu", Some(ratio), |p| {
                out.clear();
                cpu.decompress_into(p, &mut out).unwrap()
            });
            #[cfg(feature = "qatzip")]
            {
                let qat = codec(level, Backend::Qat);
                run.bench(&mut group, "qatkit/qat", Some(ratio), |p| {
                    out.clear();
                    qat.decompress_into(p, &mut out).unwrap()
                });
                let mut direct = qatzip::Direct::new(level, largest);
                run.bench(&mut group, "qatzip", Some(ratio), |p| direct.decompress(p));
            }
            let mut out = vec![0u8; largest];
            #[cfg(feature = "isal")]
            run.bench(&mut group, "isal", Some(ratio), |p| {
                isal::decompress_into(p, &mut out, isal::Codec::Gzip).unwrap()
            });
            let mut decompressor = libdeflater::Decompressor::new();
            run.bench(&mut group, "libdeflate", Some(ratio), |p| {
                decompressor.gzip_decompress(p, &mut out).unwrap()
            });
            let mut out = Vec::with_capacity(largest);
            run.bench(&mut group, FLATE2, Some(ratio), |p| {
                use std::io::Read as _;
                out.clear();
                flate2::read::GzDecoder::new(p)
                    .read_to_end(&mut out)
                    .unwrap()
            });
        }
        group.finish();
    }
}

/// QATzip called directly through qat-sys, as a C program would: one session, the caller's
/// buffers.
#[cfg(feature = "qatzip")]
mod qatzip {
    use qat_sys::qatzip as qz;

    pub(super) struct Direct {
        sess: Box<qz::QzSession_T>,
        out: Vec<u8>,
    }

    impl Direct {
        pub(super) fn new(level: u32, largest: usize) -> Self {
            // SAFETY: all-zero is QATzip's starting state for a session; the session is boxed
            // so its address stays put; the parameters come from QATzip's own defaults.
            unsafe {
                qz::qzSetLogLevel(qz::LOG_NONE);
                let mut sess: Box<qz::QzSession_T> = Box::new(std::mem::zeroed());
                assert!(qz::qzInit(&mut *sess, 1) >= 0);
                let mut p: qz::QzSessionParamsDeflate_T = std::mem::zeroed();
                qz::qzGetDefaultsDeflate(&mut p);
                p.common_params.comp_lvl = level;
                p.data_fmt = qz::QZ_DEFLATE_GZIP_EXT;
                assert!(qz::qzSetupSessionDeflate(&mut *sess, &mut p) >= 0);
                let bound = qz::qzMaxCompressedLength(largest as u32, &mut *sess) as usize;
                Direct {
                    sess,
                    out: vec![0u8; bound.max(largest)],
                }
            }
        }

        pub(super) fn compress(&mut self, input: &[u8]) -> usize {
            let (mut src_len, mut dst_len) = (input.len() as u32, self.out.len() as u32);
            // SAFETY: both buffers are live for the call and their lengths are passed.
            let rc = unsafe {
                qz::qzCompress(
                    &mut *self.sess,
                    input.as_ptr(),
                    &mut src_len,
                    self.out.as_mut_ptr(),
                    &mut dst_len,
                    1,
                )
            };
            assert_eq!(rc, qz::QZ_OK);
            dst_len as usize
        }

        pub(super) fn decompress(&mut self, input: &[u8]) -> usize {
            let (mut src_len, mut dst_len) = (input.len() as u32, self.out.len() as u32);
            // SAFETY: as in `compress`.
            let rc = unsafe {
                qz::qzDecompress(
                    &mut *self.sess,
                    input.as_ptr(),
                    &mut src_len,
                    self.out.as_mut_ptr(),
                    &mut dst_len,
                )
            };
            assert!(rc == qz::QZ_OK && src_len as usize == input.len());
            dst_len as usize
        }
    }

    impl Drop for Direct {
        fn drop(&mut self) {
            // SAFETY: the session was set up in `new` and is torn down once.
            unsafe { qz::qzTeardownSession(&mut *self.sess) };
        }
    }
}

fn main() {
    let (source, data) = corpus();
    eprintln!("compress bench input: {source}, {} bytes", data.len());
    let path = ratios_file();
    // Appended, so runs filtered to some groups keep the others' ratios; the table takes the
    // newest line for each entry.
    let mut ratios = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("ratios file");
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .configure_from_args();
    compress_benches(&mut c, &data, &mut ratios);
    decompress_benches(&mut c, &data, &mut ratios);
    c.final_summary();
}
