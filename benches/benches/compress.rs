//! Compression throughput: qatkit's backends against the libraries they compete with, called
//! directly, in the same criterion groups and the same run.
//!
//! Input: the Calgary + Canterbury corpus (`QATKIT_CORPUS`, default `../shared/corpus` from the
//! workspace root), or, where it is not available, 6 MB of generated text (a fixed word list in
//! pseudo-random order, so every machine benches the same bytes). The corpus is cut into
//! independent requests of 4 KiB, 64 KiB, 1 MiB or whole files. Throughput counts uncompressed
//! bytes, for compression and decompression alike.
//!
//! In each group, where built in:
//! - `qatkit/cpu`, `qatkit/qat` (feature `qatzip`): qatkit's `Codec`, one call per request,
//!   appending to a `Vec` the caller reuses (`compress_into`, `decompress_into`);
//! - `isal` (feature `isal`, level 1 only: ISA-L has no level 6 or 9), `libdeflate`, `flate2`
//!   (on zlib-ng with feature `zlib-ng`, else zlib-rs) and `qatzip` (feature `qatzip`: QATzip
//!   through qat-sys, its software path without a device), each with its state and output
//!   buffer reused across requests, their fastest use;
//! - in the zstd groups (levels 1 and 3; QATzip has no zstd), `zstd`: libzstd through the
//!   `zstd` crate's bulk API, its context and output buffer reused, writing the frames qatkit
//!   writes (content size and checksum).
//!
//! Every entry also writes its compression ratio to `target/criterion/qatkit-ratios.tsv`. Then
//! qatkit's entries are measured against each baseline *paired*: alternating runs over the
//! same requests, the median of the per-round ratios, written to `qatkit-paired.tsv`. A shared
//! machine drifts by 10-20% over the seconds between criterion's entries, more than the
//! differences between libraries here; paired runs see the same machine. `cargo run -p
//! qatkit-benches --example bench-table` joins all of it into markdown tables.
//!
//! ```text
//! cargo bench -p qatkit-benches --bench compress --features isal,zlib-ng         # CPU, baselines
//! QAT_SYS_PREFIX=/opt/qat LD_LIBRARY_PATH=/opt/qat/lib \
//!   cargo bench -p qatkit-benches --bench compress --features isal,zlib-ng,qatzip  # plus QATzip
//! ```

mod shared;

use std::io::Write as _;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, measurement::WallTime,
};
use qat_crypto::compress::{Backend, Codec, Format};

const SIZES: [(&str, usize); 4] = [
    ("4KiB", 4 << 10),
    ("64KiB", 64 << 10),
    ("1MiB", 1 << 20),
    ("whole", usize::MAX),
];

const LEVELS: [u32; 3] = [1, 6, 9];

const ZSTD_LEVELS: [u32; 2] = [1, 3];

/// The flate2 backend this build has.
const FLATE2: &str = if cfg!(feature = "zlib-ng") {
    "flate2/zlib-ng"
} else {
    "flate2/zlib-rs"
};

/// Work on one request, returning the size of its result.
type Work<'a> = Box<dyn FnMut(&[u8]) -> usize + 'a>;

/// Everything measured on one request size of one group.
struct Size<'a> {
    group: String,
    label: &'a str,
    requests: Vec<&'a [u8]>,
    /// For decompression, the ratio of the (shared) input; for compression, measured.
    ratio: Option<f64>,
    /// qatkit's entries, then the baselines.
    ours: Vec<(&'static str, Work<'a>)>,
    baselines: Vec<(&'static str, Work<'a>)>,
}

/// The run-wide settings and result files.
struct Bench {
    filter: Option<regex::Regex>,
    test_mode: bool,
    ratios: std::fs::File,
    paired: std::fs::File,
}

impl Bench {
    fn selected(&self, id: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f.is_match(id))
    }

    /// Benches every entry with criterion, then measures qatkit's entries against each
    /// baseline paired: alternating runs over all the requests (ABBA order), so both see the
    /// same machine. Criterion's entries run one after another, seconds apart, and a shared
    /// machine drifts by more than the differences measured here; the paired ratio does not.
    fn measure(&mut self, group: &mut BenchmarkGroup<'_, WallTime>, mut size: Size<'_>) {
        let requests = std::mem::take(&mut size.requests);
        for (name, work) in size.ours.iter_mut().chain(size.baselines.iter_mut()) {
            let id = format!("{}/{name}/{}", size.group, size.label);
            if !self.selected(&id) {
                continue;
            }
            let ratio = size.ratio.unwrap_or_else(|| {
                let input: usize = requests.iter().map(|r| r.len()).sum();
                let output: usize = requests.iter().map(|r| work(r)).sum();
                input as f64 / output as f64
            });
            writeln!(
                self.ratios,
                "{}\t{name}\t{}\t{ratio:.4}",
                size.group, size.label
            )
            .expect("write ratios");
            group.bench_with_input(BenchmarkId::new(*name, size.label), &requests, |b, rs| {
                b.iter(|| rs.iter().map(|r| work(r)).sum::<usize>())
            });
        }
        for (name, ours) in size.ours.iter_mut() {
            let id = format!("{}/{name}/{}", size.group, size.label);
            if !self.selected(&id) {
                continue;
            }
            for (baseline, theirs) in size.baselines.iter_mut() {
                // QATzip's own backend is compared with QATzip; the CPU with everyone.
                if *name == "qatkit/qat" && *baseline != "qatzip" {
                    continue;
                }
                let ratio = if self.test_mode {
                    shared::paired(ours, theirs, &requests, 1, Duration::ZERO)
                } else {
                    shared::paired(ours, theirs, &requests, 7, Duration::from_secs(2))
                };
                // One round in --test mode: a check that it runs, not a figure to keep.
                if !self.test_mode {
                    writeln!(
                        self.paired,
                        "{}\t{name}\t{}\t{baseline}\t{ratio:.4}",
                        size.group, size.label
                    )
                    .expect("write paired ratios");
                }
                eprintln!("{id}: paired {ratio:.3}x {baseline}");
            }
        }
    }
}

/// `Codec::compress_into` or `Codec::decompress_into`.
type CodecCall = fn(&Codec, &[u8], &mut Vec<u8>) -> Result<usize, qat_crypto::Error>;

/// qatkit's entries: `qatkit/cpu` and, with `qatzip` and where QATzip has the format,
/// `qatkit/qat`, each calling `call` with an output `Vec` it reuses, as a caller making many
/// calls would.
fn qatkit_entries<'a>(
    format: Format,
    level: u32,
    call: CodecCall,
) -> Vec<(&'static str, Work<'a>)> {
    let mut backends = vec![("qatkit/cpu", Backend::Cpu)];
    if cfg!(feature = "qatzip") {
        backends.push(("qatkit/qat", Backend::Qat));
    }
    backends
        .into_iter()
        .filter_map(|(name, backend)| {
            let codec = match Codec::new(format, level).and_then(|c| c.with_backend(backend)) {
                Ok(codec) => codec,
                // QATzip has no zstd.
                Err(qat_crypto::compress::Error::Backend { .. }) if backend == Backend::Qat => {
                    return None;
                }
                Err(e) => panic!("{format} level {level} on {backend}: {e}"),
            };
            let mut out = Vec::new();
            let work: Work<'a> = Box::new(move |r| {
                out.clear();
                call(&codec, r, &mut out).unwrap()
            });
            Some((name, work))
        })
        .collect()
}

/// The baselines of a group at one level, for requests of at most `largest` bytes.
type Baselines = Vec<(&'static str, Work<'static>)>;

/// `data` cut into requests, compressed by a baseline at a level.
type Pack = fn(u32, std::slice::Chunks<'_, u8>) -> Vec<Vec<u8>>;

/// The groups of one kind, one a level: `{name}_level{level}`, each with every request size.
struct Groups {
    name: &'static str,
    format: Format,
    levels: &'static [u32],
    /// For decompression, the requests for everyone: `data` cut into requests, compressed by
    /// a baseline at the group's level. Compression takes `data` cut into requests.
    pack: Option<Pack>,
    /// The baselines at `level` for requests of at most `largest` bytes.
    baselines: fn(u32, usize) -> Baselines,
}

const GZIP_COMPRESS: Groups = Groups {
    name: "gzip_compress",
    format: Format::Gzip,
    levels: &LEVELS,
    pack: None,
    baselines: gzip_compressors,
};

const GZIP_DECOMPRESS: Groups = Groups {
    name: "gzip_decompress",
    format: Format::Gzip,
    levels: &LEVELS,
    pack: Some(libdeflate_gzip),
    baselines: gzip_decompressors,
};

const ZSTD_COMPRESS: Groups = Groups {
    name: "zstd_compress",
    format: Format::Zstd,
    levels: &ZSTD_LEVELS,
    pack: None,
    baselines: zstd_compressors,
};

const ZSTD_DECOMPRESS: Groups = Groups {
    name: "zstd_decompress",
    format: Format::Zstd,
    levels: &ZSTD_LEVELS,
    pack: Some(zstd_frames),
    baselines: zstd_decompressors,
};

/// Benches `groups` on `data`: qatkit's entries, then the baselines.
fn bench_groups(c: &mut Criterion, bench: &mut Bench, data: &[u8], groups: &Groups) {
    for &level in groups.levels {
        let name = format!("{}_level{level}", groups.name);
        let mut group = c.benchmark_group(&name);
        group.throughput(Throughput::Bytes(data.len() as u64));
        // Whole-corpus iterations take up to a second: the same count per sample.
        group.sampling_mode(SamplingMode::Flat);
        for (label, size) in SIZES {
            let largest = size.min(data.len());
            let packed = groups.pack.map(|pack| pack(level, data.chunks(largest)));
            let (requests, ratio, call): (_, _, CodecCall) = match &packed {
                None => (data.chunks(largest).collect(), None, Codec::compress_into),
                Some(packed) => {
                    let output = packed.iter().map(Vec::len).sum::<usize>();
                    let ratio = data.len() as f64 / output as f64;
                    let requests = packed.iter().map(Vec::as_slice).collect();
                    (requests, Some(ratio), Codec::decompress_into)
                }
            };
            let size = Size {
                group: name.clone(),
                label,
                requests,
                ratio,
                ours: qatkit_entries(groups.format, level, call),
                baselines: (groups.baselines)(level, largest),
            };
            bench.measure(&mut group, size);
        }
        group.finish();
    }
}

fn gzip_compressors(level: u32, largest: usize) -> Baselines {
    let mut baselines: Baselines = Vec::new();
    #[cfg(feature = "qatzip")]
    {
        let mut direct = qatzip::Direct::new(level, largest);
        baselines.push(("qatzip", Box::new(move |r| direct.compress(r))));
    }
    #[cfg(feature = "isal")]
    if level == 1 {
        let mut out = vec![0u8; largest + largest / 4 + 1024];
        baselines.push((
            "isal",
            Box::new(move |r| {
                let (level, codec) = (isal::CompressionLevel::One, isal::Codec::Gzip);
                isal::compress_into(r, &mut out, level, codec).unwrap()
            }),
        ));
    }
    let mut compressor =
        libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level as i32).unwrap());
    let mut out = vec![0u8; compressor.gzip_compress_bound(largest)];
    baselines.push((
        "libdeflate",
        Box::new(move |r| compressor.gzip_compress(r, &mut out).unwrap()),
    ));
    let mut out = Vec::with_capacity(largest + 1024);
    baselines.push((
        FLATE2,
        Box::new(move |r| {
            out.clear();
            let level = flate2::Compression::new(level);
            let mut e = flate2::write::GzEncoder::new(&mut out, level);
            e.write_all(r).unwrap();
            e.finish().unwrap().len()
        }),
    ));
    baselines
}

/// The same gzip for everyone, written by libdeflate at `level`.
fn libdeflate_gzip(level: u32, requests: std::slice::Chunks<'_, u8>) -> Vec<Vec<u8>> {
    let mut compressor =
        libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level as i32).unwrap());
    requests
        .map(|r| {
            let mut out = vec![0u8; compressor.gzip_compress_bound(r.len())];
            let n = compressor.gzip_compress(r, &mut out).unwrap();
            out.truncate(n);
            out
        })
        .collect()
}

// Only QATzip's session takes the level.
#[cfg_attr(not(feature = "qatzip"), expect(unused_variables))]
fn gzip_decompressors(level: u32, largest: usize) -> Baselines {
    let mut baselines: Baselines = Vec::new();
    #[cfg(feature = "qatzip")]
    {
        let mut direct = qatzip::Direct::new(level, largest);
        baselines.push(("qatzip", Box::new(move |p| direct.decompress(p))));
    }
    #[cfg(feature = "isal")]
    {
        let mut out = vec![0u8; largest];
        baselines.push((
            "isal",
            Box::new(move |p| isal::decompress_into(p, &mut out, isal::Codec::Gzip).unwrap()),
        ));
    }
    let mut decompressor = libdeflater::Decompressor::new();
    let mut out = vec![0u8; largest];
    baselines.push((
        "libdeflate",
        Box::new(move |p| decompressor.gzip_decompress(p, &mut out).unwrap()),
    ));
    let mut out = Vec::with_capacity(largest);
    baselines.push((
        FLATE2,
        Box::new(move |p| {
            use std::io::Read as _;
            out.clear();
            flate2::read::GzDecoder::new(p)
                .read_to_end(&mut out)
                .unwrap()
        }),
    ));
    baselines
}

/// libzstd through the `zstd` crate's bulk compressor at `level`, writing what qatkit writes:
/// one frame per request, with its content size (the default) and a checksum.
fn zstd_compressor(level: u32) -> zstd::bulk::Compressor<'static> {
    let mut compressor = zstd::bulk::Compressor::new(level as i32).expect("zstd compressor");
    compressor
        .set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
        .expect("zstd checksum flag");
    compressor
}

fn zstd_compressors(level: u32, largest: usize) -> Baselines {
    let mut compressor = zstd_compressor(level);
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(largest));
    vec![(
        "zstd",
        Box::new(move |r| {
            out.clear();
            compressor.compress_to_buffer(r, &mut out).unwrap()
        }),
    )]
}

/// The same frames for everyone, written by zstd at `level`.
fn zstd_frames(level: u32, requests: std::slice::Chunks<'_, u8>) -> Vec<Vec<u8>> {
    let mut compressor = zstd_compressor(level);
    requests.map(|r| compressor.compress(r).unwrap()).collect()
}

fn zstd_decompressors(_level: u32, largest: usize) -> Baselines {
    let mut decompressor = zstd::bulk::Decompressor::new().expect("zstd decompressor");
    let mut out = Vec::with_capacity(largest);
    vec![(
        "zstd",
        Box::new(move |p| {
            out.clear();
            decompressor.decompress_to_buffer(p, &mut out).unwrap()
        }),
    )]
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
    let (source, data) = shared::corpus();
    eprintln!("compress bench input: {source}, {} bytes", data.len());
    let (filter, test_mode) = shared::filter_and_test_mode();
    let mut bench = Bench {
        filter,
        test_mode,
        ratios: shared::results_file("qatkit-ratios.tsv"),
        paired: shared::results_file("qatkit-paired.tsv"),
    };
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for groups in [
        GZIP_COMPRESS,
        GZIP_DECOMPRESS,
        ZSTD_COMPRESS,
        ZSTD_DECOMPRESS,
    ] {
        bench_groups(&mut c, &mut bench, &data, &groups);
    }
    c.final_summary();
}
