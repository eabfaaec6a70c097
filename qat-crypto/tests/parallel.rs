//! The parallel paths (streams and one-shot calls with several requests in flight on the
//! worker pool) give exactly what the single-threaded path gives: the same bytes when
//! compressing, the same output in the same order when decompressing — whatever the unit
//! sizes, the reads' sizes, the limit, or where the input goes bad.

mod common;

use std::io::{BufRead, Read, Write};

use common::{Broken, encode, mixed};
use proptest::prelude::*;
use qat_crypto::compress::{Backend, Bytes, Codec, Error, Format};

/// The formats whose streams are units that workers take apart.
const UNIT_FORMATS: [Format; 3] = [Format::Gzip, Format::Lz4, Format::Zstd];

/// `format` on the CPU, in requests of `request_size` bytes, `in_flight` at a time: gzip at
/// level 4, libdeflate's, whose output depends on the request alone. ISA-L's (levels 0–3) can
/// also depend on what the thread compressed before — it resets only part of its match history
/// for a small request — so the same request may give other (valid) bytes on another worker;
/// `compress.rs` round-trips those levels. LZ4 and zstd at level 1.
fn codec(format: Format, request_size: usize, in_flight: usize) -> Codec {
    let level = if format == Format::Gzip { 4 } else { 1 };
    common::codec(format, level, Backend::Cpu)
        .with_request_size(request_size)
        .with_in_flight(in_flight)
        .with_limit(usize::MAX)
}

/// A reader giving at most `step` bytes a read, as a pipe does.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// `data` through `codec`'s encoder, which reads it itself, `step` bytes a read at most.
fn copied(codec: &Codec, data: &[u8], step: usize) -> Vec<u8> {
    let mut encoder = codec.encoder(Vec::new());
    let read = encoder.copy_from(&mut Trickle { data, step }).unwrap();
    assert_eq!(read, data.len() as u64);
    encoder.finish().unwrap()
}

/// `data` through `codec`'s encoder, given as shared windows of `window` bytes.
fn shared(codec: &Codec, data: &[u8], window: usize) -> Vec<u8> {
    let mut encoder = codec.encoder(Vec::new());
    for piece in data.chunks(window.max(1)) {
        encoder.write_bytes(Bytes::copy_from_slice(piece)).unwrap();
    }
    encoder.finish().unwrap()
}

/// Everything `decoder` gives before it ends or fails, and how it ended.
fn drain(mut decoder: impl BufRead) -> (Vec<u8>, Result<(), String>) {
    let mut out = Vec::new();
    loop {
        match decoder.fill_buf() {
            Ok([]) => return (out, Ok(())),
            Ok(ready) => {
                out.extend_from_slice(ready);
                let n = ready.len();
                decoder.consume(n);
            }
            Err(e) => return (out, Err(e.to_string())),
        }
    }
}

/// Everything a decoder over shared windows of `window` bytes of `packed` gives.
fn decode_windows(codec: &Codec, packed: &[u8], window: usize) -> (Vec<u8>, Result<(), String>) {
    let windows: Vec<_> = packed
        .chunks(window.max(1))
        .map(|w| Ok(Bytes::copy_from_slice(w)))
        .collect();
    drain(codec.decoder_over(windows.into_iter()))
}

/// Everything a decoder gives before it ends or fails, and how it ended.
fn decode(codec: &Codec, packed: &[u8], step: usize) -> (Vec<u8>, Result<(), String>) {
    let reader = std::io::BufReader::with_capacity(step.max(1), Trickle { data: packed, step });
    drain(codec.decoder(reader))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn parallel_streams_match_the_single_threaded_path(
        format in prop::sample::select(&UNIT_FORMATS[..]),
        len in 0usize..400_000,
        seed in any::<u64>(),
        request_size in 1usize..70_000,
        in_flight in 2usize..6,
        write_size in 1usize..100_000,
        read_step in 1usize..200_000,
    ) {
        let data = mixed(len, seed);
        let one = codec(format, request_size, 1);
        let many = codec(format, request_size, in_flight);
        let packed = encode(&one, &data, write_size);
        // Compression: the same bytes, member for member, whatever the threads, written to the
        // encoder or read by it.
        prop_assert_eq!(&encode(&many, &data, write_size), &packed);
        prop_assert_eq!(&copied(&many, &data, read_step), &packed);
        prop_assert_eq!(&shared(&many, &data, write_size), &packed);
        prop_assert_eq!(&shared(&one, &data, read_step), &packed);
        prop_assert_eq!(&many.compress(&data).unwrap(), &packed);
        // Decompression: the same output, in order, whatever the threads and reads.
        let (by_one, ended) = decode(&one, &packed, read_step);
        prop_assert_eq!(ended, Ok(()));
        prop_assert!(by_one == data);
        let (by_many, ended) = decode(&many, &packed, read_step);
        prop_assert_eq!(ended, Ok(()));
        prop_assert!(by_many == data);
        // And from shared windows, units spanning them or not.
        for (c, window) in [(&one, write_size), (&many, read_step)] {
            let (by_windows, ended) = decode_windows(c, &packed, window);
            prop_assert_eq!(ended, Ok(()));
            prop_assert!(by_windows == data);
        }
        prop_assert!(many.decompress(&packed).unwrap() == data);
    }

    #[test]
    fn limits_and_corruption_end_the_parallel_path_where_they_end_the_single_one(
        format in prop::sample::select(&UNIT_FORMATS[..]),
        len in 1usize..300_000,
        seed in any::<u64>(),
        request_size in 1_000usize..50_000,
        in_flight in 2usize..5,
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let data = mixed(len, seed);
        let packed = encode(&codec(format, request_size, 1), &data, 1 << 16);
        let limit = cut.index(len);
        let mut bad = packed.clone();
        let at = flip.index(bad.len());
        bad[at] ^= 0x5a;
        for (what, input, limit) in [("limit", &packed, limit), ("flipped", &bad, usize::MAX)] {
            let one = codec(format, request_size, 1).with_limit(limit);
            let many = codec(format, request_size, in_flight).with_limit(limit);
            let (out_one, end_one) = decode(&one, input, 1 << 16);
            let (out_many, end_many) = decode(&many, input, 1 << 16);
            prop_assert_eq!(&end_one, &end_many, "{}", what);
            prop_assert!(out_one == out_many, "{}: {} and {} bytes", what, out_one.len(), out_many.len());
            let (out_windows, end_windows) = decode_windows(&many, input, request_size / 3 + 1);
            prop_assert_eq!(&end_windows, &end_many, "{} in windows", what);
            if what == "limit" {
                prop_assert!(out_windows == out_many, "{} in windows", what);
            } else {
                // A streamed member (its recorded length damaged) hands out what it inflated
                // wherever its input runs out, and windows end elsewhere than reads: the same
                // bytes, cut at another point before the error.
                let n = out_windows.len().min(out_many.len());
                prop_assert!(out_windows[..n] == out_many[..n], "{} in windows", what);
            }
            if what == "limit" {
                prop_assert!(end_many.is_err());
                prop_assert!(out_many[..] == data[..limit]);
            }
            prop_assert_eq!(
                one.decompress(input).map_err(|e| e.to_string()),
                many.decompress(input).map_err(|e| e.to_string()),
                "{}", what
            );
        }
    }
}

#[test]
fn members_of_every_size_and_writer_read_back_in_order() {
    // gzip members from qatkit (lengths recorded: decompressed by workers), from flate2 (no
    // length: streamed), empty ones, and units too big to hold (streamed), one after another.
    let mut packed = Vec::new();
    let mut expected = Vec::new();
    for (i, len) in [0usize, 1, 70_000, 0, 5_000_000, 300, 9 << 20, 12]
        .iter()
        .enumerate()
    {
        let data = mixed(*len, i as u64 + 7);
        match i % 3 {
            0 => packed.extend(
                codec(Format::Gzip, *len.max(&1), 1)
                    .compress(&data)
                    .unwrap(),
            ),
            1 => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&data).unwrap();
                packed.extend(e.finish().unwrap());
            }
            _ => packed.extend(encode(&codec(Format::Gzip, 10_000, 3), &data, 1 << 20)),
        }
        expected.extend(data);
    }
    for in_flight in [1, 2, 4] {
        let c = codec(Format::Gzip, 1 << 20, in_flight);
        for step in [1 << 10, 1 << 20] {
            let (out, ended) = decode(&c, &packed, step);
            assert_eq!(ended, Ok(()), "in flight {in_flight}, reads of {step}");
            assert!(out == expected, "in flight {in_flight}, reads of {step}");
        }
        assert!(c.decompress(&packed).unwrap() == expected);
    }
}

#[test]
fn a_member_that_does_not_hold_what_its_trailer_says_is_corrupt_in_parallel_too() {
    // A QK member (20-byte header, an empty deflate block, CRC 0) whose trailer claims 9
    // bytes: the size a worker inflates into comes from it, and is checked, not trusted.
    let member = b"\x1f\x8b\x08\x04\0\0\0\0\0\x03\x08\0QK\x04\0\x1e\0\0\0\x03\0\0\0\0\0\x09\0\0\0";
    for in_flight in [1, 2] {
        let c = codec(Format::Gzip, 1 << 20, in_flight);
        let e = c.decompress(member).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        let (out, ended) = decode(&c, member, 7);
        assert!(out.is_empty());
        assert_eq!(
            ended,
            Err("decompressing gzip: data is corrupt or truncated".into())
        );
    }
}

#[test]
fn a_member_whose_recorded_length_is_wrong_is_corrupt_on_every_path() {
    // The QK subfield (header bytes 16..20) records the member's length; a damaged one, short
    // or long, with the member itself intact, is found the same way whether a worker takes the
    // member whole (trailer plausible) or it is streamed (the "trailer" read at the wrong end
    // says an impossible size): gzip ignores the subfield, qatkit does not.
    let data = mixed(40_000, 3);
    let member = codec(Format::Gzip, 1 << 20, 1).compress(&data).unwrap();
    let recorded = u32::from_le_bytes(member[16..20].try_into().unwrap());
    assert_eq!(recorded as usize, member.len());
    for wrong in [recorded - 38, recorded - 1, recorded + 1, recorded + 5000] {
        let mut bad = member.clone();
        bad[16..20].copy_from_slice(&wrong.to_le_bytes());
        // Whole input, and the member followed by a good one: a long length overlaps it.
        for input in [bad.clone(), [&bad[..], &member[..]].concat()] {
            for in_flight in [1, 2] {
                let c = codec(Format::Gzip, 1 << 20, in_flight);
                let e = c.decompress(&input).unwrap_err();
                assert!(matches!(e, Error::Corrupt { .. }), "{wrong}: {e}");
                for step in [7, 1 << 20] {
                    let (_, ended) = decode(&c, &input, step);
                    assert_eq!(
                        ended,
                        Err("decompressing gzip: data is corrupt or truncated".into()),
                        "recorded {wrong} of {recorded}, in flight {in_flight}, reads of {step}"
                    );
                }
            }
        }
    }
}

#[test]
fn an_encoder_reading_for_itself_passes_a_failed_read_on_and_goes_on() {
    let data = mixed(300_000, 5);
    for format in Format::ALL {
        for in_flight in [1, 3] {
            let c = codec(format, 50_000, in_flight);
            let mut encoder = c.encoder(Vec::new());
            let mut broken = Broken {
                data: &data,
                ok: 120_000,
            };
            let e = encoder.copy_from(&mut broken).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{format}");
            // What was read stays in the stream; the rest can come from elsewhere.
            assert_eq!(encoder.copy_from(&mut &data[120_000..]).unwrap(), 180_000);
            let packed = encoder.finish().unwrap();
            assert!(
                c.decompress(&packed).unwrap() == data,
                "{format} in flight {in_flight}"
            );
        }
    }
}

#[test]
fn a_window_that_fails_ends_the_decoder_after_what_came_before() {
    let data = mixed(600_000, 13);
    for format in Format::ALL {
        let packed = encode(&codec(format, 50_000, 1), &data, 1 << 20);
        let half = packed.len() / 2;
        for in_flight in [1, 3] {
            let c = codec(format, 50_000, in_flight);
            let windows = [
                Ok(Bytes::copy_from_slice(&packed[..half])),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "the map went away",
                )),
            ];
            let (out, ended) = drain(c.decoder_over(windows.into_iter()));
            assert_eq!(ended, Err("the map went away".into()), "{format}");
            assert!(
                !out.is_empty() && data.starts_with(&out),
                "{format}: {} bytes",
                out.len()
            );
        }
    }
}

#[test]
fn what_comes_before_bad_input_or_a_failed_read_comes_out_first() {
    let data = mixed(600_000, 11);
    for format in UNIT_FORMATS {
        let packed = encode(&codec(format, 50_000, 1), &data, 1 << 20);
        let garbage = [&packed[..], b"\x01 not a unit"].concat();
        for in_flight in [1, 2, 4] {
            let c = codec(format, 50_000, in_flight);
            let (out, ended) = decode(&c, &garbage, 1 << 20);
            assert!(
                out == data,
                "{format} in flight {in_flight}: {} bytes",
                out.len()
            );
            assert_eq!(
                ended,
                Err(format!(
                    "decompressing {format}: data is corrupt or truncated"
                ))
            );
            // A reader failing after the whole units: their output, then its error.
            let failing = Broken {
                data: &packed,
                ok: packed.len(),
            };
            let mut decoder = c.decoder(std::io::BufReader::new(failing));
            let mut out = Vec::new();
            let e = decoder.read_to_end(&mut out).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
            assert_eq!(e.to_string(), "the network went away");
            assert!(
                out == data,
                "{format} in flight {in_flight}: {} bytes",
                out.len()
            );
        }
    }
}
