//! zstd (issue 13) on every backend that has it: round trips at zstd's levels, interop with the
//! `zstd` tool both ways (one frame, several, skippable frames, with and without content size
//! and checksum), output limits, corrupt and truncated input, streams, and QATzip's refusal.
//! The frame walker's own tests, on literal bytes and against libzstd on random frames, are
//! unit tests in `src/compress/zstd.rs`.

use std::io::{BufReader, Read as _, Write as _};
use std::process::{Command, Stdio};

use proptest::prelude::*;
use qat_crypto::ErrorKind;
use qat_crypto::compress::{Backend, Codec, Error, Format};

/// The backends that serve zstd: QATzip has none.
const BACKENDS: [Backend; 2] = [Backend::Cpu, Backend::Auto];

const LEVELS: [u32; 6] = [0, 1, 3, 9, 19, 22];

fn codec(level: u32, backend: Backend) -> Codec {
    Codec::new(Format::Zstd, level)
        .and_then(|c| c.with_backend(backend))
        .unwrap()
}

fn sample(len: usize, salt: usize) -> Vec<u8> {
    let words: [&[u8]; 6] = [
        b"zstd ",
        b"frame ",
        b"window ",
        b"block ",
        b"checksum ",
        b"qat\n",
    ];
    let mut text = Vec::with_capacity(len + 16);
    let mut i = salt;
    while text.len() < len {
        text.extend_from_slice(words[(i * 7 + i / 13) % words.len()]);
        i += 1;
    }
    text.truncate(len);
    text
}

/// Pseudo-random bytes: incompressible.
fn noise(len: usize) -> Vec<u8> {
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

fn read_stream(codec: &Codec, packed: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    codec
        .decoder(BufReader::with_capacity(1000, packed))
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Runs `zstd ARGS` on `input` (stdin to stdout): whether it succeeded, and its output. `None`
/// when zstd is not installed: the caller skips that check, unless `QATKIT_REQUIRE_TOOLS` is
/// set (CI sets it).
fn zstd(args: &[&str], input: &[u8]) -> Option<(bool, Vec<u8>)> {
    let mut child = match Command::new("zstd")
        .args(args)
        .arg("-q")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            let why = format!("zstd: {e} (Debian package zstd)");
            assert!(std::env::var_os("QATKIT_REQUIRE_TOOLS").is_none(), "{why}");
            eprintln!("skipped a check: {why}");
            return None;
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    // zstd may stop reading at an error: a broken pipe is no failure of the test.
    let _ = writer.join().unwrap();
    Some((out.status.success(), out.stdout))
}

/// `zstd -d` on `packed` must give `expected`.
fn check_zstd_reads(packed: &[u8], expected: &[u8], what: &str) {
    if let Some((ok, out)) = zstd(&["-dc"], packed) {
        assert!(ok && out == expected, "zstd -d on {what}");
    }
}

/// `zstd ARGS -c FILE` on a file holding `data` (the content size is known only for a file).
fn zstd_file(args: &[&str], data: &[u8]) -> Option<Vec<u8>> {
    let path = std::env::temp_dir().join(format!(
        "qatkit-zstd-{}-{}",
        std::process::id(),
        args.concat()
    ));
    std::fs::write(&path, data).unwrap();
    let path_arg = path.to_str().unwrap().to_owned();
    let result = zstd(&[args, &["-c", &path_arg]].concat(), b"");
    std::fs::remove_file(&path).unwrap();
    let (ok, out) = result?;
    assert!(ok, "zstd {args:?} failed");
    Some(out)
}

/// A skippable frame holding `data`.
fn skippable(data: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x53, 0x2a, 0x4d, 0x18];
    frame.extend_from_slice(&(data.len() as u32).to_le_bytes());
    frame.extend_from_slice(data);
    frame
}

#[test]
fn zstd_has_its_levels_and_its_name() {
    assert_eq!(Format::Zstd.levels(), 0..=22);
    assert_eq!(Format::Zstd.to_string(), "zstd");
    let e = Codec::new(Format::Zstd, 23).unwrap_err();
    assert!(matches!(e, Error::InvalidLevel { max: 22, .. }));
    assert_eq!(
        e.to_string(),
        "choosing a level: zstd has no level 23 (levels 0-22)"
    );
}

#[test]
fn qatzip_has_no_zstd_and_auto_keeps_it_on_the_cpu() {
    for level in [1, 3, 9] {
        let e = Codec::new(Format::Zstd, level)
            .unwrap()
            .with_backend(Backend::Qat)
            .unwrap_err();
        assert!(matches!(e, Error::Backend { backend: "qat", .. }), "{e}");
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        let reason = if cfg!(feature = "qatzip") {
            "QATzip has no zstd, only LZ4s sequences (on a device) for the caller to make zstd of"
        } else {
            "qat-crypto was built without the `qatzip` feature"
        };
        assert_eq!(e.to_string(), format!("choosing backend qat: {reason}"));
    }
    let auto = codec(3, Backend::Auto).with_auto_min_request(0);
    let data = sample(100_000, 0);
    let packed = auto.compress(&data).unwrap();
    assert_eq!(auto.decompress(&packed).unwrap(), data);
    let served = auto.served();
    assert_eq!(
        (served.cpu, served.qat_device, served.qat_software),
        (2, 0, 0)
    );
    assert!(auto.compress_bound(data.len()) >= packed.len());
}

#[test]
fn every_level_round_trips_on_every_backend() {
    let data = sample(300_000, 1);
    let incompressible = noise(200_000);
    for backend in BACKENDS {
        for level in LEVELS {
            let c = codec(level, backend);
            let packed = c.compress(&data).unwrap();
            assert!(packed.len() < data.len() / 5, "{backend} level {level}");
            assert_eq!(c.decompress(&packed).unwrap(), data, "{backend} {level}");
            let packed = c.compress(&incompressible).unwrap();
            assert!(packed.len() <= c.compress_bound(incompressible.len()));
            assert_eq!(c.decompress(&packed).unwrap(), incompressible);
            // Appending, and leaving the Vec alone on an error.
            let mut out = b"prefix".to_vec();
            let n = c.compress_into(&data, &mut out).unwrap();
            assert_eq!(out.len(), 6 + n);
            let mut plain = b"keep".to_vec();
            assert_eq!(
                c.decompress_into(&out[6..], &mut plain).unwrap(),
                data.len()
            );
            assert!(plain[4..] == data[..]);
            let bad = [&out[6..], b"garbage after the frame"].concat();
            let before = plain.clone();
            assert!(c.decompress_into(&bad, &mut plain).is_err());
            assert_eq!(plain, before, "{backend} {level}");
        }
    }
    // Level 0 is zstd's default, level 3.
    assert_eq!(
        codec(0, Backend::Cpu).compress(&data).unwrap(),
        codec(3, Backend::Cpu).compress(&data).unwrap()
    );
}

#[test]
fn the_zstd_tool_reads_what_qatkit_writes() {
    let data = sample(1_500_000, 2);
    for backend in BACKENDS {
        for level in [1, 3, 19] {
            let c = codec(level, backend);
            let packed = c.compress(&data).unwrap();
            let what = format!("{backend} level {level}");
            check_zstd_reads(&packed, &data, &what);
            let twice = [&packed[..], &packed].concat();
            check_zstd_reads(&twice, &[&data[..], &data].concat(), &what);
            // The checksum zstd -d checks: it refuses a frame whose last byte is changed.
            let mut flipped = packed.clone();
            *flipped.last_mut().unwrap() ^= 1;
            if let Some((ok, _)) = zstd(&["-dc"], &flipped) {
                assert!(!ok, "{what}: zstd -d took a wrong checksum");
            }
        }
        let c = codec(3, backend)
            .with_request_size(256 << 10)
            .with_in_flight(3);
        let mut encoder = c.encoder(Vec::new());
        for piece in data.chunks(10_007) {
            encoder.write_all(piece).unwrap();
        }
        let streamed = encoder.finish().unwrap();
        check_zstd_reads(&streamed, &data, &format!("{backend} stream"));
        assert_eq!(c.decompress(&streamed).unwrap(), data);
        assert_eq!(read_stream(&c, &streamed).unwrap(), data);
        let empty = c.encoder(Vec::new()).finish().unwrap();
        check_zstd_reads(&empty, b"", &format!("{backend} empty stream"));
        assert_eq!(c.decompress(&empty).unwrap(), b"");
        assert_eq!(read_stream(&c, &empty).unwrap(), b"");
    }
}

#[test]
fn qatkit_reads_what_the_zstd_tool_writes() {
    let mut all = Vec::new();
    let mut expected = Vec::new();
    for (i, args) in [
        &["-1"][..],
        &["-19"],
        &["--ultra", "-22"],
        &["--no-check"],
        &["--no-content-size"],
        &["--no-check", "--no-content-size", "-5"],
        &["--long=27"],
    ]
    .into_iter()
    .enumerate()
    {
        let data = sample(300_000 + i * 50_001, i);
        let Some(packed) = zstd_file(args, &data) else {
            return;
        };
        // And from stdin, which writes no content size.
        let Some((true, piped)) = zstd(&[args, &["-c"]].concat(), &data) else {
            panic!("zstd {args:?} -c failed");
        };
        for backend in BACKENDS {
            let c = codec(1, backend);
            for input in [&packed, &piped] {
                assert!(
                    c.decompress(input).unwrap() == data,
                    "{backend}: zstd {args:?}"
                );
                assert!(
                    read_stream(&c, input).unwrap() == data,
                    "{backend}: {args:?}"
                );
            }
        }
        all.extend_from_slice(&packed);
        all.extend_from_slice(&skippable(&data[..i * 100]));
        all.extend_from_slice(&piped);
        expected.extend_from_slice(&data);
        expected.extend_from_slice(&data);
    }
    // `cat a.zst b.zst ...`, with skippable frames between.
    for backend in BACKENDS {
        let c = codec(1, backend).with_limit(expected.len());
        assert!(c.decompress(&all).unwrap() == expected, "{backend}");
        assert!(
            read_stream(&c, &all).unwrap() == expected,
            "{backend} stream"
        );
    }
    check_zstd_reads(&all, &expected, "qatkit's test input");
}

#[test]
fn skippable_frames_are_skipped_and_empty_input_is_corrupt_as_in_zstd() {
    let data = sample(50_000, 3);
    let a = codec(3, Backend::Cpu).compress(&data).unwrap();
    let s = skippable(b"not zstd data");
    for (what, input, expected) in [
        ("alone", s.clone(), &b""[..]),
        ("first", [&s[..], &a].concat(), &data),
        (
            "between",
            [&a[..], &s, &skippable(b""), &a].concat(),
            &[&data[..], &data].concat(),
        ),
        ("last", [&a[..], &s].concat(), &data),
    ] {
        for backend in BACKENDS {
            let c = codec(1, backend);
            assert!(
                c.decompress(&input).unwrap() == expected,
                "{backend}: {what}"
            );
            assert!(
                read_stream(&c, &input).unwrap() == expected,
                "{backend}: {what}"
            );
        }
        check_zstd_reads(&input, expected, what);
    }
    for backend in BACKENDS {
        let c = codec(1, backend);
        let e = c.decompress(b"").unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{backend}: {e}");
        assert!(read_stream(&c, b"").is_err());
    }
    if let Some((ok, _)) = zstd(&["-dc"], b"") {
        assert!(!ok, "zstd -d took an empty input");
    }
}

#[test]
fn windows_over_128_mib_are_unsupported_as_zstd_refuses_them_by_default() {
    let data = sample(100_000, 4);
    // From stdin zstd keeps the window asked for: 256 MiB.
    let Some((true, packed)) = zstd(&["--long=28", "-c"], &data) else {
        return;
    };
    for backend in BACKENDS {
        let c = codec(1, backend);
        let e = c.decompress(&packed).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(
            e.to_string(),
            "decompressing zstd: windows over 128 MiB (zstd --long=28 and up) are not supported"
        );
        let e = read_stream(&c, &packed).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    }
    if let Some((ok, _)) = zstd(&["-dc"], &packed) {
        assert!(!ok, "zstd -d took a 256 MiB window without --memory");
    }
    if let Some((ok, out)) = zstd(&["-dc", "--memory=256MB"], &packed) {
        assert!(ok && out == data);
    }
}

#[test]
fn the_output_limit_is_respected_exactly() {
    let data = sample(200_000, 5);
    let theirs = zstd(&["-c"], &data).map(|(_, out)| out);
    let ours = codec(3, Backend::Cpu).compress(&data).unwrap();
    for (what, packed) in [("with a content size", Some(ours)), ("without", theirs)] {
        let Some(packed) = packed else {
            continue;
        };
        for backend in BACKENDS {
            let exact = codec(1, backend).with_limit(data.len());
            assert_eq!(exact.decompress(&packed).unwrap(), data, "{backend} {what}");
            assert_eq!(read_stream(&exact, &packed).unwrap(), data);
            let short = codec(1, backend).with_limit(data.len() - 1);
            let e = short.decompress(&packed).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "decompressing zstd: output exceeds the {}-byte limit",
                    data.len() - 1
                ),
                "{backend} {what}"
            );
            assert_eq!(e.kind(), ErrorKind::LimitExceeded);
            let e = read_stream(&short, &packed).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
            let mut buf = vec![0u8; data.len() - 1];
            assert!(matches!(
                exact.decompress_to_slice(&packed, &mut buf),
                Err(Error::OutputTooSmall { .. })
            ));
            buf.push(0);
            assert_eq!(
                exact.decompress_to_slice(&packed, &mut buf).unwrap(),
                data.len()
            );
            assert_eq!(buf, data);
        }
    }
    // A small bomb: 64 MiB of zeros in a few KiB stops at 1 MiB.
    let zeros = vec![0u8; 64 << 20];
    let c = codec(1, Backend::Cpu).with_limit(1 << 20);
    let bomb = c.compress(&zeros).unwrap();
    assert!(bomb.len() < 1 << 20);
    assert!(matches!(
        c.decompress(&bomb),
        Err(Error::LimitExceeded { .. })
    ));
}

#[test]
fn corrupt_and_truncated_input_is_an_error_that_says_decompressing() {
    let data = sample(100_000, 6);
    let start = "decompressing zstd: ";
    for backend in BACKENDS {
        let c = codec(3, backend);
        let packed = c.compress(&data).unwrap();
        let mut flipped_checksum = packed.clone();
        *flipped_checksum.last_mut().unwrap() ^= 0x10;
        let mut flipped_magic = packed.clone();
        flipped_magic[0] ^= 1;
        let trailing = [&packed[..], b"junk"].concat();
        let mut cases = vec![
            ("a flipped checksum", flipped_checksum),
            ("a flipped magic number", flipped_magic),
            ("junk after the frame", trailing),
        ];
        for cut in [0, 1, 5, packed.len() / 2, packed.len() - 1] {
            cases.push(("a cut", packed[..cut].to_vec()));
        }
        for (what, input) in cases {
            let e = c.decompress(&input).unwrap_err();
            assert!(matches!(e, Error::Corrupt { .. }), "{backend}, {what}: {e}");
            assert_eq!(e.kind(), ErrorKind::CorruptData);
            assert_eq!(
                e.to_string(),
                format!("{start}data is corrupt or truncated")
            );
            let e = read_stream(&c, &input).unwrap_err();
            assert!(
                e.to_string().starts_with(start),
                "{backend} stream, {what}: {e}"
            );
        }
    }
}

/// A reader that fails with its own error after `ok` bytes.
struct Broken<'a> {
    data: &'a [u8],
    ok: usize,
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

#[test]
fn the_readers_own_errors_come_through_the_decoder() {
    let data = sample(300_000, 7);
    let c = codec(3, Backend::Cpu);
    let packed = c.compress(&data).unwrap();
    let broken = Broken {
        data: &packed,
        ok: packed.len() / 2,
    };
    let mut out = Vec::new();
    let e = c
        .decoder(BufReader::with_capacity(4096, broken))
        .read_to_end(&mut out)
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
}

#[test]
fn the_compress_bound_holds_at_every_level_and_size() {
    for level in [0, 1, 3, 12, 22] {
        let c = codec(level, Backend::Cpu);
        assert_eq!(c.compress_bound(usize::MAX), usize::MAX);
        for len in [0, 1, 17, 4096, 131_071, 131_072, 131_073, 300_000] {
            let input = noise(len);
            let bound = c.compress_bound(len);
            let mut out = vec![0; bound];
            let written = c.compress_to_slice(&input, &mut out).unwrap();
            assert!(written <= bound, "level {level}, {len} bytes");
            assert_eq!(c.decompress(&out[..written]).unwrap(), input);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_data_round_trips(
        data in prop::collection::vec(any::<u8>(), 0..20_000),
        level in 0u32..=22,
        b in 0usize..2,
        request in 1usize..5000,
    ) {
        let c = codec(level, BACKENDS[b])
            .with_limit(data.len())
            .with_request_size(request);
        let packed = c.compress(&data).unwrap();
        prop_assert_eq!(&c.decompress(&packed).unwrap(), &data);
        let mut encoder = c.encoder(Vec::new());
        encoder.write_all(&data).unwrap();
        let streamed = encoder.finish().unwrap();
        prop_assert_eq!(&read_stream(&c, &streamed).unwrap(), &data);
        prop_assert_eq!(&c.decompress(&streamed).unwrap(), &data);
    }

    #[test]
    fn decoders_never_panic_and_respect_the_limit(
        data in prop::collection::vec(any::<u8>(), 0..4096),
        flip in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        limit in 0usize..10_000,
    ) {
        let c = codec(1, Backend::Cpu).with_limit(limit);
        let check = |input: &[u8]| -> Result<(), TestCaseError> {
            if let Ok(out) = c.decompress(input) {
                prop_assert!(out.len() <= limit);
            }
            if let Ok(out) = read_stream(&c, input) {
                prop_assert!(out.len() <= limit);
            }
            Ok(())
        };
        check(&data)?;
        let packed = codec(1, Backend::Cpu).compress(&data).unwrap();
        let mut flipped = packed.clone();
        let i = flip.index(flipped.len());
        flipped[i] ^= 1 << (i % 8);
        check(&flipped)?;
        let cut = cut.index(packed.len());
        prop_assert!(c.decompress(&packed[..cut]).is_err());
        prop_assert!(read_stream(&c, &packed[..cut]).is_err());
    }
}
