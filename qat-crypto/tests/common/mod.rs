//! What the suites share, each with `mod common;`: for compression (`compress.rs`, `zstd.rs`,
//! `lz4_frames.rs`, `gzip_members.rs`, `parallel.rs`) backends and codecs, test data, reading a
//! stream back and a reader that fails; for public-key crypto (`asym*.rs`) the test keys and
//! `openssl pkeyutl`'s check; for all, the standard tools (gzip, lz4, zstd, python3, openssl)
//! run for interop.

// Each suite is a crate of its own and uses only some of these.
#![allow(dead_code)]

use std::io::{BufReader, Read as _, Write as _};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::sample::Index;
use qat_crypto::compress::{Backend, Codec, Error, Format};

/// Every backend built in: `cpu` and `auto` always, `qat` (QATzip) with feature `qatzip`.
pub(crate) fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Cpu, Backend::Auto];
    if cfg!(feature = "qatzip") {
        all.push(Backend::Qat);
    }
    all
}

/// The backends on the CPU, `cpu` and `auto`: the ones for what QATzip does not do (zstd) or
/// does otherwise (it takes empty LZ4 input and legacy LZ4 frames as corrupt, `lz4 -d` does not).
pub(crate) const CPU_BACKENDS: [Backend; 2] = [Backend::Cpu, Backend::Auto];

/// `format` at `level` on `backend`, or `None` where the backend has no such level (QATzip:
/// deflate 1–9, no zstd). Any other refusal fails the test.
pub(crate) fn try_codec(format: Format, level: u32, backend: Backend) -> Option<Codec> {
    match Codec::new(format, level).unwrap().with_backend(backend) {
        Ok(codec) => Some(codec),
        Err(Error::Backend { .. }) if backend == Backend::Qat => None,
        Err(e) => panic!("{format} {level} {backend}: {e}"),
    }
}

/// `format` at `level` on `backend`, which must have it.
pub(crate) fn codec(format: Format, level: u32, backend: Backend) -> Codec {
    Codec::new(format, level)
        .and_then(|c| c.with_backend(backend))
        .unwrap_or_else(|e| panic!("{format} {level} {backend}: {e}"))
}

/// `len` bytes of text-like data with repeats, as a compressor sees in practice: a few words in
/// an order that starts at `salt`.
pub(crate) fn sample(len: usize, salt: usize) -> Vec<u8> {
    let words = [
        "qat ",
        "offload ",
        "compress ",
        "virtual ",
        "function ",
        "host\n",
    ];
    let mut text = Vec::with_capacity(len + 16);
    let mut i = salt;
    while text.len() < len {
        text.extend_from_slice(words[(i * 7 + i / 13) % words.len()].as_bytes());
        i += 1;
    }
    text.truncate(len);
    text
}

/// Pseudo-random bytes: incompressible.
pub(crate) fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// `len` bytes from `seed` that compress in places and not in others: runs of one byte and
/// runs of pseudo-random ones.
pub(crate) fn mixed(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let run = (x % 300) as usize + 1;
        if x & 1 == 0 {
            data.extend(std::iter::repeat_n((x >> 8) as u8, run));
        } else {
            data.extend((0..run).map(|i| (x >> (i % 56)) as u8));
        }
    }
    data.truncate(len);
    data
}

/// `data` through `codec`'s streaming encoder, written `write_size` bytes at a time.
pub(crate) fn encode(codec: &Codec, data: &[u8], write_size: usize) -> Vec<u8> {
    let mut encoder = codec.encoder(Vec::new());
    for piece in data.chunks(write_size.max(1)) {
        encoder.write_all(piece).unwrap();
    }
    encoder.finish().unwrap()
}

/// `packed` read back through `codec`'s streaming decoder, from a reader that gives it 1000
/// bytes at a time.
pub(crate) fn read_stream(codec: &Codec, packed: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    codec
        .decoder(BufReader::with_capacity(1000, packed))
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Checks that `codec` decompresses `packed` (a stream of `data`) into a slice of exactly
/// `data.len()` bytes, and that one a byte shorter is `OutputTooSmall`.
pub(crate) fn check_exact_slice(codec: &Codec, packed: &[u8], data: &[u8]) {
    let mut buf = vec![0u8; data.len() - 1];
    assert!(matches!(
        codec.decompress_to_slice(packed, &mut buf),
        Err(Error::OutputTooSmall { .. })
    ));
    buf.push(0);
    assert_eq!(
        codec.decompress_to_slice(packed, &mut buf).unwrap(),
        data.len()
    );
    assert_eq!(buf, data);
}

/// Checks that `codec`, given a limit of 1 MiB, stops there on a small bomb: 64 MiB of zeros
/// in a few KiB.
pub(crate) fn check_small_bomb(codec: Codec) {
    let zeros = vec![0u8; 64 << 20];
    let c = codec.with_limit(1 << 20);
    let bomb = c.compress(&zeros).unwrap();
    assert!(bomb.len() < 1 << 20);
    assert!(matches!(
        c.decompress(&bomb),
        Err(Error::LimitExceeded { .. })
    ));
}

/// Checks, in a property test, that `codec` gives `data` back: compressed one-shot and read
/// one-shot, and written through its streaming encoder and read both ways.
pub(crate) fn check_round_trips(codec: &Codec, data: &[u8]) -> Result<(), TestCaseError> {
    let packed = codec.compress(data).unwrap();
    prop_assert_eq!(&codec.decompress(&packed).unwrap(), data);
    let streamed = encode(codec, data, data.len());
    prop_assert_eq!(&read_stream(codec, &streamed).unwrap(), data);
    prop_assert_eq!(&codec.decompress(&streamed).unwrap(), data);
    Ok(())
}

/// Checks, in a property test, that `codec` (whose limit is `limit`) neither panics nor gives
/// more than `limit` bytes, one-shot or streamed, on random bytes (`data`) and on a real stream
/// (`packed`) with the bit at `flip` flipped.
pub(crate) fn check_bad_input(
    codec: &Codec,
    limit: usize,
    data: &[u8],
    packed: &[u8],
    flip: Index,
) -> Result<(), TestCaseError> {
    let mut flipped = packed.to_vec();
    let i = flip.index(flipped.len());
    flipped[i] ^= 1 << (i % 8);
    for input in [data, &flipped] {
        if let Ok(out) = codec.decompress(input) {
            prop_assert!(out.len() <= limit);
        }
        if let Ok(out) = read_stream(codec, input) {
            prop_assert!(out.len() <= limit);
        }
    }
    Ok(())
}

/// A skippable frame, as LZ4 and zstd both have them: magic 0x184D2A5`nibble`, then `data`'s
/// length and `data`.
pub(crate) fn skippable(nibble: u8, data: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x50 | nibble, 0x2a, 0x4d, 0x18];
    frame.extend_from_slice(&(data.len() as u32).to_le_bytes());
    frame.extend_from_slice(data);
    frame
}

/// A reader that gives `data` and fails with its own error (`ConnectionReset`, "the network
/// went away") once it has given `ok` bytes.
pub(crate) struct Broken<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) ok: usize,
}

impl std::io::Read for Broken<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ok == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the network went away",
            ));
        }
        let n = buf.len().min(self.ok).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.ok -= n;
        Ok(n)
    }
}

/// The error reading `packed` through `codec`'s streaming decoder from a reader that fails
/// half way ([`Broken`]).
pub(crate) fn read_broken(codec: &Codec, packed: &[u8]) -> std::io::Error {
    let broken = Broken {
        data: packed,
        ok: packed.len() / 2,
    };
    let mut out = Vec::new();
    codec
        .decoder(BufReader::with_capacity(4096, broken))
        .read_to_end(&mut out)
        .unwrap_err()
}

/// Runs `program ARGS` with `input` on its stdin, written from a thread of its own: how it
/// ended, its output, and whether all of `input` went in. `None` when `program` is not
/// installed: the caller skips that check, unless `QATKIT_REQUIRE_TOOLS` is set (CI sets it),
/// where a missing tool fails the test.
fn spawn(program: &str, args: &[&str], input: &[u8]) -> Option<(Output, std::io::Result<()>)> {
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            let why = format!("{program}: {e} (Debian package {program})");
            assert!(std::env::var_os("QATKIT_REQUIRE_TOOLS").is_none(), "{why}");
            eprintln!("skipped a check: {why}");
            return None;
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    Some((out, writer.join().unwrap()))
}

/// `program ARGS` on `input` (stdin to stdout), for input it may refuse: whether it succeeded,
/// and its output. A tool may stop reading at an error: a broken pipe is no failure of the
/// test. `None` when the tool is not installed, as for [`spawn`].
pub(crate) fn run(program: &str, args: &[&str], input: &[u8]) -> Option<(bool, Vec<u8>)> {
    let (out, _) = spawn(program, args, input)?;
    Some((out.status.success(), out.stdout))
}

/// `program ARGS` on `input` (stdin to stdout), which must read all of it and succeed: its
/// output. `None` when the tool is not installed, as for [`spawn`].
pub(crate) fn tool(program: &str, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
    let (out, written) = spawn(program, args, input)?;
    let stdout = succeeded(program, args, out);
    written.unwrap_or_else(|e| panic!("{program} {args:?} did not read all its input: {e}"));
    Some(stdout)
}

/// The output of `program ARGS`, which must have succeeded.
fn succeeded(program: &str, args: &[&str], out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Checks that `program -dc` (gzip, lz4, zstd) decompresses `packed` to `expected`, where the
/// tool is installed.
pub(crate) fn check_tool_reads(program: &str, packed: &[u8], expected: &[u8], what: &str) {
    if let Some(out) = tool(program, &["-dc"], packed) {
        assert!(out == expected, "{program} -dc on {what}: wrong output");
    }
}

/// `program ARGS -c FILE` on a file holding `data`, which must succeed: its output. For what a
/// tool does only with a file: the content size in zstd and LZ4 frames, gzip's file name.
/// `None` when the tool is not installed, as for [`spawn`].
pub(crate) fn tool_on_file(program: &str, args: &[&str], data: &[u8]) -> Option<Vec<u8>> {
    static FILES: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "qatkit-{program}-{}-{}",
        std::process::id(),
        FILES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, data).unwrap();
    let args = [args, &["-c", path.to_str().unwrap()]].concat();
    let result = spawn(program, &args, b"");
    std::fs::remove_file(&path).unwrap();
    let (out, _) = result?;
    Some(succeeded(program, &args, out))
}

/// A file of `tests/data` (the public-key suites' keys).
pub(crate) fn test_data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A file in the temporary directory holding given bytes, removed on drop: what `openssl
/// pkeyutl` reads.
pub(crate) struct TempFile(std::path::PathBuf);

impl TempFile {
    pub(crate) fn new(data: &[u8]) -> TempFile {
        static FILES: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "qatkit-asym-{}-{}",
            std::process::id(),
            FILES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, data).unwrap();
        TempFile(path)
    }

    pub(crate) fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Checks that `openssl pkeyutl -verify` takes `signature` over SHA-256(`message`) with the
/// SPKI `public` and `options` (`-pkeyopt`s), where openssl is installed (as for [`tool`]).
pub(crate) fn openssl_verifies(public: &[u8], message: &[u8], signature: &[u8], options: &[&str]) {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
    let (key, digest, sig) = (
        TempFile::new(public),
        TempFile::new(digest.as_ref()),
        TempFile::new(signature),
    );
    let mut args = vec!["pkeyutl", "-verify", "-pubin", "-keyform", "DER"];
    args.extend([
        "-inkey",
        key.path(),
        "-in",
        digest.path(),
        "-sigfile",
        sig.path(),
    ]);
    args.extend(options);
    if let Some(out) = tool("openssl", &args, b"") {
        assert!(
            String::from_utf8_lossy(&out).contains("Signature Verified Successfully"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
}
