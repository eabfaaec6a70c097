//! LZ4 input beyond qatkit's own frames, read as `lz4 -d` reads it (issue 13): skippable frames
//! are skipped, empty input is no frames, legacy frames are unsupported (not corrupt); and
//! interop with the `lz4` tool both ways. The frame walker's own tests, on literal bytes and
//! against decompression on random frames, are unit tests in `src/compress/lz4.rs`.

mod common;

use std::io::Read as _;

use common::{
    CPU_BACKENDS, backends, check_tool_reads, encode, run, sample, skippable, tool_on_file,
};
use qat_crypto::ErrorKind;
use qat_crypto::compress::{Backend, Codec, Error, Format};

/// LZ4 (level 1) on `backend`.
fn codec(backend: Backend) -> Codec {
    common::codec(Format::Lz4, 1, backend)
}

#[test]
fn skippable_frames_are_skipped_alone_first_between_and_last() {
    let (one, two) = (sample(100_000, 1), sample(70_000, 2));
    let a = codec(Backend::Cpu).compress(&one).unwrap();
    let b = codec(Backend::Cpu).compress(&two).unwrap();
    let (s, empty, big) = (
        skippable(0, b"user data"),
        skippable(0xf, b""),
        skippable(7, &[0xee; 70_000]),
    );
    let both = [&one[..], &two].concat();
    let cases: [(&str, Vec<u8>, &[u8]); 6] = [
        ("alone", s.clone(), b""),
        ("an empty one alone", empty.clone(), b""),
        ("first", [&s[..], &a].concat(), &one),
        ("between", [&a[..], &big, &b].concat(), &both),
        ("last", [&a[..], &empty].concat(), &one),
        (
            "everywhere",
            [&s[..], &empty, &a, &s, &big, &b, &empty, &s].concat(),
            &both,
        ),
    ];
    for (what, input, expected) in cases {
        for backend in backends() {
            let c = codec(backend);
            assert!(
                c.decompress(&input).unwrap() == expected,
                "{backend}: {what}"
            );
            let mut out = b"kept".to_vec();
            assert_eq!(c.decompress_into(&input, &mut out).unwrap(), expected.len());
            assert!(out[4..] == *expected, "{backend} into: {what}");
        }
        // As the lz4 tool reads them.
        check_tool_reads("lz4", &input, expected, what);
    }
}

#[test]
fn a_skippable_frame_cut_short_is_corrupt() {
    let data = sample(10_000, 3);
    let a = codec(Backend::Cpu).compress(&data).unwrap();
    let s = skippable(0, b"0123456789");
    for cut in [1, 4, 7, s.len() - 1] {
        let input = [&a[..], &s[..cut]].concat();
        for backend in backends() {
            let e = codec(backend).decompress(&input).unwrap_err();
            assert!(
                matches!(e, Error::Corrupt { .. }),
                "{backend} cut {cut}: {e}"
            );
            assert_eq!(e.kind(), ErrorKind::CorruptData);
        }
        if let Some((ok, _)) = run("lz4", &["-dc"], &input) {
            assert!(!ok, "lz4 -d took a skippable frame cut at {cut}");
        }
    }
}

#[test]
fn empty_input_is_no_frames() {
    for backend in CPU_BACKENDS {
        let c = codec(backend);
        assert_eq!(c.decompress(b"").unwrap(), b"", "{backend}");
        let mut out = b"kept".to_vec();
        assert_eq!(c.decompress_into(b"", &mut out).unwrap(), 0);
        assert_eq!(out, b"kept");
        let mut streamed = Vec::new();
        c.decoder(&b""[..]).read_to_end(&mut streamed).unwrap();
        assert!(streamed.is_empty(), "{backend} stream");
    }
    check_tool_reads("lz4", b"", b"", "an empty file, as empty");
    // Not to be confused with the empty frame qatkit writes for empty data.
    let packed = codec(Backend::Cpu).compress(b"").unwrap();
    assert!(!packed.is_empty());
    assert_eq!(codec(Backend::Cpu).decompress(&packed).unwrap(), b"");
}

#[test]
fn legacy_frames_are_unsupported_not_corrupt() {
    // `printf 'hi\n' | lz4 -l` (lz4 1.9.4).
    let legacy = [
        0x02, 0x21, 0x4c, 0x18, 0x04, 0x00, 0x00, 0x00, 0x30, 0x68, 0x69, 0x0a,
    ];
    let a = codec(Backend::Cpu).compress(b"hello").unwrap();
    let mut inputs = vec![legacy.to_vec(), [&a[..], &legacy].concat()];
    if let Some(out) = tool_on_file("lz4", &["-l"], &sample(300_000, 4)) {
        inputs.push(out);
    }
    for input in &inputs {
        for backend in CPU_BACKENDS {
            let e = codec(backend).decompress(input).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::Unsupported {
                        format: Format::Lz4,
                        what: "legacy frames"
                    }
                ),
                "{backend}: {e}"
            );
            assert_eq!(e.kind(), ErrorKind::Unsupported);
            assert_eq!(
                e.to_string(),
                "decompressing lz4: legacy frames are not supported"
            );
        }
    }
}

#[test]
fn qatkits_frames_record_their_content_size_and_lz4_reads_them() {
    let data = sample(1_000_000, 5);
    for backend in backends() {
        let c = codec(backend)
            .with_request_size(128 << 10)
            .with_in_flight(2);
        // One request: with two in flight, one-shot compression cuts the input as a stream does.
        let packed = c.clone().with_in_flight(1).compress(&data).unwrap();
        // FLG's content-size flag, and the size after FLG and BD.
        assert_ne!(packed[4] & 0x08, 0, "{backend}");
        assert_eq!(packed[6..14], (data.len() as u64).to_le_bytes());
        let streamed = encode(&c, &data, data.len());
        let twice = [&packed[..], &packed].concat();
        for (what, input, expected) in [
            ("one frame", &packed, &data),
            ("a stream of frames", &streamed, &data),
            ("two frames", &twice, &[&data[..], &data].concat()),
        ] {
            assert!(
                c.decompress(input).unwrap() == *expected,
                "{backend}: {what}"
            );
            check_tool_reads("lz4", input, expected, &format!("{backend}: {what}"));
        }
        // Over the limit by the recorded size.
        let short = codec(backend).with_limit(data.len() - 1);
        let e = short.decompress(&packed).unwrap_err();
        assert!(matches!(e, Error::LimitExceeded { limit, .. } if limit == data.len() - 1));
        let exact = codec(backend).with_limit(data.len());
        assert_eq!(exact.decompress(&packed).unwrap().len(), data.len());
    }
}

#[test]
fn qatkit_reads_what_the_lz4_tool_writes() {
    let mut frames = Vec::new();
    let mut expected = Vec::new();
    for (i, args) in [
        &["-1"][..],
        &["-9"],
        &["-B4"],
        &["-B5", "--content-size"],
        &["-B6", "-BD"],
        &["-B7", "-BX", "--no-frame-crc"],
        &["-B4", "-BD", "--content-size", "--no-frame-crc"],
    ]
    .into_iter()
    .enumerate()
    {
        let data = sample(200_000 + i * 70_001, i);
        let Some(packed) = tool_on_file("lz4", args, &data) else {
            return;
        };
        for backend in backends() {
            assert!(
                codec(backend).decompress(&packed).unwrap() == data,
                "{backend}: lz4 {args:?}"
            );
        }
        frames.extend_from_slice(&packed);
        frames.extend_from_slice(&skippable(i as u8, &data[..i * 10]));
        expected.extend_from_slice(&data);
    }
    for backend in backends() {
        assert!(
            codec(backend).decompress(&frames).unwrap() == expected,
            "{backend}"
        );
    }
    // Exactly at the limit. (QATzip, given no room after the last frame, takes the skippable
    // frame there for output that does not fit.)
    for backend in CPU_BACKENDS {
        let c = codec(backend).with_limit(expected.len());
        assert!(c.decompress(&frames).unwrap() == expected, "{backend}");
    }
}
