//! zstd (issue 13) on every backend that has it: round trips at zstd's levels, interop with the
//! `zstd` tool both ways (one frame, several, skippable frames, with and without content size
//! and checksum), output limits, corrupt and truncated input, streams, and QATzip's refusal.
//! The frame walker's own tests, on literal bytes and against libzstd on random frames, are
//! unit tests in `src/compress/zstd.rs`.

mod common;

use common::{
    CPU_BACKENDS, check_bad_input, check_exact_slice, check_round_trips, check_small_bomb,
    check_tool_reads, encode, noise, read_broken, read_stream, run, sample, skippable, tool,
    tool_on_file,
};
use proptest::prelude::*;
use qat_crypto::ErrorKind;
use qat_crypto::compress::{Backend, Codec, Error, Format};

const LEVELS: [u32; 6] = [0, 1, 3, 9, 19, 22];

/// zstd at `level` on `backend`.
fn codec(level: u32, backend: Backend) -> Codec {
    common::codec(Format::Zstd, level, backend)
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
    for backend in CPU_BACKENDS {
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
    for backend in CPU_BACKENDS {
        for level in [1, 3, 19] {
            let c = codec(level, backend);
            let packed = c.compress(&data).unwrap();
            let what = format!("{backend} level {level}");
            check_tool_reads("zstd", &packed, &data, &what);
            let twice = [&packed[..], &packed].concat();
            check_tool_reads("zstd", &twice, &[&data[..], &data].concat(), &what);
            // The checksum zstd -d checks: it refuses a frame whose last byte is changed.
            let mut flipped = packed.clone();
            *flipped.last_mut().unwrap() ^= 1;
            if let Some((ok, _)) = run("zstd", &["-dc"], &flipped) {
                assert!(!ok, "{what}: zstd -d took a wrong checksum");
            }
        }
        let c = codec(3, backend)
            .with_request_size(256 << 10)
            .with_in_flight(3);
        let streamed = encode(&c, &data, 10_007);
        check_tool_reads("zstd", &streamed, &data, &format!("{backend} stream"));
        assert_eq!(c.decompress(&streamed).unwrap(), data);
        assert_eq!(read_stream(&c, &streamed).unwrap(), data);
        let empty = c.encoder(Vec::new()).finish().unwrap();
        check_tool_reads("zstd", &empty, b"", &format!("{backend} empty stream"));
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
        let Some(packed) = tool_on_file("zstd", args, &data) else {
            return;
        };
        // And from stdin, which writes no content size.
        let piped = tool("zstd", &[args, &["-c"]].concat(), &data).unwrap();
        for backend in CPU_BACKENDS {
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
        all.extend_from_slice(&skippable(3, &data[..i * 100]));
        all.extend_from_slice(&piped);
        expected.extend_from_slice(&data);
        expected.extend_from_slice(&data);
    }
    // `cat a.zst b.zst ...`, with skippable frames between.
    for backend in CPU_BACKENDS {
        let c = codec(1, backend).with_limit(expected.len());
        assert!(c.decompress(&all).unwrap() == expected, "{backend}");
        assert!(
            read_stream(&c, &all).unwrap() == expected,
            "{backend} stream"
        );
    }
    check_tool_reads("zstd", &all, &expected, "qatkit's test input");
}

#[test]
fn skippable_frames_are_skipped_and_empty_input_is_corrupt_as_in_zstd() {
    let data = sample(50_000, 3);
    let a = codec(3, Backend::Cpu).compress(&data).unwrap();
    let s = skippable(3, b"not zstd data");
    for (what, input, expected) in [
        ("alone", s.clone(), &b""[..]),
        ("first", [&s[..], &a].concat(), &data),
        (
            "between",
            [&a[..], &s, &skippable(3, b""), &a].concat(),
            &[&data[..], &data].concat(),
        ),
        ("last", [&a[..], &s].concat(), &data),
    ] {
        for backend in CPU_BACKENDS {
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
        check_tool_reads("zstd", &input, expected, what);
    }
    for backend in CPU_BACKENDS {
        let c = codec(1, backend);
        let e = c.decompress(b"").unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{backend}: {e}");
        assert!(read_stream(&c, b"").is_err());
    }
    if let Some((ok, _)) = run("zstd", &["-dc"], b"") {
        assert!(!ok, "zstd -d took an empty input");
    }
}

#[test]
fn windows_over_128_mib_are_unsupported_as_zstd_refuses_them_by_default() {
    let data = sample(100_000, 4);
    // From stdin zstd keeps the window asked for: 256 MiB.
    let Some((true, packed)) = run("zstd", &["--long=28", "-c"], &data) else {
        return;
    };
    for backend in CPU_BACKENDS {
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
    if let Some((ok, _)) = run("zstd", &["-dc"], &packed) {
        assert!(!ok, "zstd -d took a 256 MiB window without --memory");
    }
    if let Some(out) = tool("zstd", &["-dc", "--memory=256MB"], &packed) {
        assert!(out == data, "zstd -d --memory=256MB");
    }
}

#[test]
fn the_output_limit_is_respected_exactly() {
    let data = sample(200_000, 5);
    let theirs = tool("zstd", &["-c"], &data);
    let ours = codec(3, Backend::Cpu).compress(&data).unwrap();
    for (what, packed) in [("with a content size", Some(ours)), ("without", theirs)] {
        let Some(packed) = packed else {
            continue;
        };
        for backend in CPU_BACKENDS {
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
            check_exact_slice(&exact, &packed, &data);
        }
    }
    check_small_bomb(codec(1, Backend::Cpu));
}

#[test]
fn corrupt_and_truncated_input_is_an_error_that_says_decompressing() {
    let data = sample(100_000, 6);
    let start = "decompressing zstd: ";
    for backend in CPU_BACKENDS {
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

#[test]
fn the_readers_own_errors_come_through_the_decoder() {
    let data = sample(300_000, 7);
    let c = codec(3, Backend::Cpu);
    let packed = c.compress(&data).unwrap();
    let e = read_broken(&c, &packed);
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
        let c = codec(level, CPU_BACKENDS[b])
            .with_limit(data.len())
            .with_request_size(request);
        check_round_trips(&c, &data)?;
    }

    #[test]
    fn decoders_never_panic_and_respect_the_limit(
        data in prop::collection::vec(any::<u8>(), 0..4096),
        flip in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        limit in 0usize..10_000,
    ) {
        let c = codec(1, Backend::Cpu).with_limit(limit);
        let packed = codec(1, Backend::Cpu).compress(&data).unwrap();
        check_bad_input(&c, limit, &data, &packed, flip)?;
        let cut = cut.index(packed.len());
        prop_assert!(c.decompress(&packed[..cut]).is_err());
        prop_assert!(read_stream(&c, &packed[..cut]).is_err());
    }
}
