//! The C ABI's overhead: `qatkit_compress` / `qatkit_decompress` called through `libqatkit.so`
//! (loaded with dlopen, as a C program links it) against the Rust calls they wrap
//! (`Codec::compress_to_slice`, `decompress_to_slice`), gzip level 1, on 4 KiB and 64 KiB
//! requests cut from the corpus (or generated text where it is not available). Both write into
//! caller buffers of the same size.
//!
//! Besides criterion's entries (`rust` and `c` in one group per size), each pair is measured in
//! alternating rounds over the same requests; the median per-round ratio (C time / Rust time) is
//! printed and written to `qatkit-capi-overhead.tsv` beside criterion's results
//! (`target/criterion`, or `$CARGO_TARGET_DIR/criterion`).
//!
//! The library is `QATKIT_LIB`, else `release/libqatkit.so` in the target directory (`target`
//! or `CARGO_TARGET_DIR`): build it first, with the same features as the bench, so both sides
//! run the same backend:
//!
//! ```text
//! cargo build --release -p qatkit-capi --features isal
//! cargo bench -p qatkit-benches --bench capi --features isal
//! ```

mod shared;

use std::ffi::c_void;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use qat_crypto::compress::{Backend, Codec, Format};

type CodecNew = unsafe extern "C" fn(u32, u32, *mut *mut c_void) -> u32;
type CodecSetBackend = unsafe extern "C" fn(*mut c_void, u32) -> u32;
type CodecFree = unsafe extern "C" fn(*mut c_void);
type Transform =
    unsafe extern "C" fn(*const c_void, *const u8, usize, *mut u8, usize, *mut usize) -> u32;

/// The C entry points the bench calls, from the loaded library.
struct CApi {
    _lib: libloading::Library,
    codec_new: CodecNew,
    codec_set_backend: CodecSetBackend,
    codec_free: CodecFree,
    compress: Transform,
    decompress: Transform,
}

impl CApi {
    fn load() -> CApi {
        let path = std::env::var_os("QATKIT_LIB")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
                    .join("release/libqatkit.so")
            });
        // SAFETY: loading qatkit's own library, whose initialisers are Rust's std only.
        let lib = unsafe { libloading::Library::new(&path) }.unwrap_or_else(|e| {
            panic!(
                "cannot load {}: {e}; build it first: cargo build --release -p qatkit-capi (with the bench's features)",
                path.display()
            )
        });
        // SAFETY: each symbol has the signature include/qatkit.h declares for it.
        unsafe {
            let codec_new = *lib.get::<CodecNew>(b"qatkit_codec_new\0").expect("symbol");
            let codec_set_backend = *lib
                .get::<CodecSetBackend>(b"qatkit_codec_set_backend\0")
                .expect("symbol");
            let codec_free = *lib
                .get::<CodecFree>(b"qatkit_codec_free\0")
                .expect("symbol");
            let compress = *lib.get::<Transform>(b"qatkit_compress\0").expect("symbol");
            let decompress = *lib
                .get::<Transform>(b"qatkit_decompress\0")
                .expect("symbol");
            CApi {
                _lib: lib,
                codec_new,
                codec_set_backend,
                codec_free,
                compress,
                decompress,
            }
        }
    }
}

/// A gzip level 1 codec on the CPU backend, made through the C ABI.
struct CCodec<'a> {
    api: &'a CApi,
    handle: *mut c_void,
}

impl<'a> CCodec<'a> {
    fn new(api: &'a CApi) -> Self {
        let mut handle = std::ptr::null_mut();
        // SAFETY: valid arguments and a writable out-pointer; QATKIT_FORMAT_GZIP is 0 and
        // QATKIT_BACKEND_CPU 1.
        unsafe {
            assert_eq!((api.codec_new)(0, 1, &mut handle), 0);
            assert_eq!((api.codec_set_backend)(handle, 1), 0);
        }
        CCodec { api, handle }
    }

    fn call(&self, f: Transform, input: &[u8], out: &mut [u8]) -> usize {
        let mut len = 0;
        // SAFETY: a live codec; both buffers valid for their lengths; a writable length.
        let result = unsafe {
            f(
                self.handle,
                input.as_ptr(),
                input.len(),
                out.as_mut_ptr(),
                out.len(),
                &mut len,
            )
        };
        assert_eq!(result, 0, "qatkit C call failed: {result}");
        len
    }
}

impl Drop for CCodec<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle came from qatkit_codec_new and is freed once.
        unsafe { (self.api.codec_free)(self.handle) }
    }
}

fn bench(c: &mut Criterion) {
    let quick = std::env::args().any(|a| a == "--test");
    let api = CApi::load();
    let c_codec = CCodec::new(&api);
    let rust = Codec::new(Format::Gzip, 1)
        .and_then(|c| c.with_backend(Backend::Cpu))
        .expect("codec");
    let (_, data) = shared::corpus();
    let tsv_path = shared::criterion_home().join("qatkit-capi-overhead.tsv");
    let mut tsv = std::fs::File::create(tsv_path).expect("tsv");
    writeln!(tsv, "operation\tsize\tc_over_rust").expect("tsv");
    for (label, size) in [("4KiB", 4usize << 10), ("64KiB", 64 << 10)] {
        let requests: Vec<&[u8]> = data.chunks(size).filter(|r| r.len() == size).collect();
        let packed: Vec<Vec<u8>> = requests
            .iter()
            .map(|r| rust.compress(r).expect("compress"))
            .collect();
        let packed_refs: Vec<&[u8]> = packed.iter().map(Vec::as_slice).collect();
        let mut out = vec![0u8; rust.compress_bound(size).max(size)];
        for (operation, inputs) in [("compress", &requests), ("decompress", &packed_refs)] {
            let decompressing = operation == "decompress";
            let bytes: usize = if decompressing {
                size * inputs.len()
            } else {
                inputs.iter().map(|r| r.len()).sum()
            };
            let mut group = c.benchmark_group(format!("capi_gzip1_{operation}"));
            group.throughput(Throughput::Bytes((bytes / inputs.len()) as u64));
            let mut rust_call = |input: &[u8]| -> usize {
                if decompressing {
                    rust.decompress_to_slice(input, &mut out).expect("rust")
                } else {
                    rust.compress_to_slice(input, &mut out).expect("rust")
                }
            };
            let mut c_out = vec![0u8; rust.compress_bound(size).max(size)];
            let c_fn = if decompressing {
                api.decompress
            } else {
                api.compress
            };
            let mut c_call = |input: &[u8]| -> usize { c_codec.call(c_fn, input, &mut c_out) };
            let mut next = 0;
            group.bench_function(BenchmarkId::new("rust", label), |b| {
                b.iter(|| {
                    next = (next + 1) % inputs.len();
                    rust_call(inputs[next])
                })
            });
            group.bench_function(BenchmarkId::new("c", label), |b| {
                b.iter(|| {
                    next = (next + 1) % inputs.len();
                    c_call(inputs[next])
                })
            });
            group.finish();
            let ratio = if quick {
                shared::paired(&mut rust_call, &mut c_call, inputs, 1, Duration::ZERO)
            } else {
                shared::paired(
                    &mut rust_call,
                    &mut c_call,
                    inputs,
                    15,
                    Duration::from_secs(3),
                )
            };
            writeln!(tsv, "{operation}\t{label}\t{ratio:.4}").expect("tsv");
            eprintln!(
                "capi_gzip1_{operation}/{label}: C takes {ratio:.4}x the Rust call's time (paired median)"
            );
        }
    }
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
