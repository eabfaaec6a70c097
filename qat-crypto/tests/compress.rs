//! The CPU backend: round trips for every format and level, interop with zlib (flate2) and the
//! standard tools, and decoders that never panic and respect their output limit.

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};

use proptest::prelude::*;
use qat_crypto::compress::{Error, Format, compress, decompress};

const FORMATS: [Format; 4] = [Format::Gzip, Format::Zlib, Format::Raw, Format::Lz4];

fn sample(len: usize) -> Vec<u8> {
    // Text-like data with repeats, as a compressor sees in practice.
    let words = [
        "qat ",
        "offload ",
        "compress ",
        "virtual ",
        "function ",
        "host\n",
    ];
    let mut text = Vec::with_capacity(len + 16);
    let mut i = 0usize;
    while text.len() < len {
        text.extend_from_slice(words[(i * 7 + i / 13) % words.len()].as_bytes());
        i += 1;
    }
    text.truncate(len);
    text
}

#[test]
fn every_format_and_level_round_trips() {
    let data = sample(200_000);
    for format in FORMATS {
        for level in format.levels() {
            let packed = compress(format, level, &data).unwrap();
            assert!(
                packed.len() < data.len() / 2,
                "{format} level {level}: {} bytes",
                packed.len()
            );
            assert_eq!(
                decompress(format, &packed, data.len()).unwrap(),
                data,
                "{format} {level}"
            );
        }
    }
}

#[test]
fn levels_outside_the_format_are_refused() {
    assert!(matches!(
        compress(Format::Gzip, 13, b"x"),
        Err(Error::InvalidLevel { .. })
    ));
    assert!(matches!(
        compress(Format::Lz4, 9, b"x"),
        Err(Error::InvalidLevel { .. })
    ));
}

#[test]
fn zlib_reads_what_qatkit_writes_and_the_other_way() {
    let data = sample(100_000);
    for level in 0..=12 {
        let gz = compress(Format::Gzip, level, &data).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data, "gzip level {level}");
        let zl = compress(Format::Zlib, level, &data).unwrap();
        out.clear();
        flate2::read::ZlibDecoder::new(&zl[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data, "zlib level {level}");
        let raw = compress(Format::Raw, level, &data).unwrap();
        out.clear();
        flate2::read::DeflateDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data, "raw level {level}");
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(&data).unwrap();
    assert_eq!(
        decompress(Format::Gzip, &encoder.finish().unwrap(), data.len()).unwrap(),
        data
    );
}

/// Runs a standard tool on `input` (stdin → stdout); `None` when it is not installed.
fn tool(program: &str, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{program} failed");
    Some(out.stdout)
}

#[test]
fn gzip_and_lz4_tools_read_what_qatkit_writes() {
    let data = sample(300_000);
    for level in [0, 1, 3, 6, 9, 12] {
        let gz = compress(Format::Gzip, level, &data).unwrap();
        let out = tool("gzip", &["-dc"], &gz).expect("gzip is on every Debian machine");
        assert_eq!(out, data, "gzip -d, level {level}");
    }
    let lz = compress(Format::Lz4, 1, &data).unwrap();
    match tool("lz4", &["-dc"], &lz) {
        Some(out) => assert_eq!(out, data, "lz4 -d"),
        None => println!("skipped lz4 -d: the lz4 tool is not installed (Debian package lz4)"),
    }
}

#[test]
fn the_output_limit_is_respected_exactly() {
    let data = sample(50_000);
    for format in FORMATS {
        let packed = compress(format, 1, &data).unwrap();
        assert_eq!(
            decompress(format, &packed, data.len()).unwrap().len(),
            data.len()
        );
        assert!(
            matches!(
                decompress(format, &packed, data.len() - 1),
                Err(Error::LimitExceeded { .. })
            ),
            "{format}"
        );
    }
    // A small bomb: 64 MiB of zeros in a few KiB stops at 1 MiB.
    let zeros = vec![0u8; 64 << 20];
    let bomb = compress(Format::Gzip, 1, &zeros).unwrap();
    assert!(bomb.len() < 1 << 20);
    assert!(matches!(
        decompress(Format::Gzip, &bomb, 1 << 20),
        Err(Error::LimitExceeded { .. })
    ));
}

#[test]
fn truncated_input_is_an_error() {
    let data = sample(20_000);
    for format in FORMATS {
        let packed = compress(format, 1, &data).unwrap();
        for cut in [1, packed.len() / 2, packed.len() - 1] {
            let result = decompress(format, &packed[..cut], data.len());
            assert!(
                result.as_ref().map_or(true, |out| out != &data),
                "{format} cut at {cut} gave the whole data"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_data_round_trips(data in prop::collection::vec(any::<u8>(), 0..20_000), f in 0usize..4, l in 0u32..13) {
        let format = FORMATS[f];
        let level = l.min(*format.levels().end());
        let packed = compress(format, level, &data).unwrap();
        prop_assert_eq!(decompress(format, &packed, data.len()).unwrap(), data);
    }

    #[test]
    fn decoders_never_panic_and_respect_the_limit(
        data in prop::collection::vec(any::<u8>(), 0..4096),
        f in 0usize..4,
        flip in any::<prop::sample::Index>(),
        limit in 0usize..10_000,
    ) {
        let format = FORMATS[f];
        // Random bytes.
        if let Ok(out) = decompress(format, &data, limit) {
            prop_assert!(out.len() <= limit);
        }
        // A real stream with one bit flipped.
        let mut packed = compress(format, 1, &data).unwrap();
        let i = flip.index(packed.len());
        packed[i] ^= 1 << (i % 8);
        if let Ok(out) = decompress(format, &packed, limit) {
            prop_assert!(out.len() <= limit);
        }
    }
}
