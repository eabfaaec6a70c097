//! Any bytes, decompressed as each format by the one-shot calls and by the stream decoder (with
//! one request in flight, and with two, on the worker threads, and over shared windows of the
//! input), under a limit chosen by the
//! input. Invariants: no panic; never more output than the limit (the caller's slice is never
//! overrun); where two decoders read the input they give the same bytes. (They may disagree on
//! whether to read it at all: libdeflate, behind the one-shot calls, accepts a few malformed
//! deflate streams that zlib refuses, "intentionally more accepting than zlib, in a safe way":
//! ebiggers/libdeflate#288. And a decoder that reads further ahead may meet an error past the
//! limit that another stops before.)
#![no_main]

use std::io::Read as _;

use libfuzzer_sys::fuzz_target;
use qat_crypto::compress::{Backend, Bytes, Codec, Error, Format};

const FORMATS: [Format; 5] = Format::ALL;

fuzz_target!(|data: &[u8]| {
    let [choice, limit, input @ ..] = data else {
        return;
    };
    let format = FORMATS[usize::from(*choice) % FORMATS.len()];
    // Limits from 0 to 64 KiB in steps, so both sides of the limit are reached.
    let limit = usize::from(*limit) * 256;
    let codec = Codec::new(format, 1)
        .and_then(|c| c.with_backend(Backend::Cpu))
        .expect("cpu codec")
        .with_limit(limit);
    let one_shot = codec.decompress(input);
    if let Ok(out) = &one_shot {
        assert!(
            out.len() <= limit,
            "{} bytes past a {limit}-byte limit",
            out.len()
        );
    } else if let Err(e) = &one_shot {
        assert!(
            matches!(
                e,
                Error::Corrupt { .. } | Error::LimitExceeded { .. } | Error::Unsupported { .. }
            ),
            "unexpected error {e:?}"
        );
    }
    // Into a caller's slice of exactly the limit, with guard bytes after it.
    let mut slice = vec![0xa5u8; limit + 16];
    if let Ok(n) = codec.decompress_to_slice(input, &mut slice[..limit]) {
        assert!(n <= limit);
        if let Ok(out) = &one_shot {
            assert_eq!(&slice[..n], out.as_slice());
        }
    }
    assert!(
        slice[limit..].iter().all(|&b| b == 0xa5),
        "wrote past the slice"
    );
    // The stream decoders, with one request in flight and with two, read what the one-shot
    // call reads.
    let stream = |codec: &Codec| {
        let mut streamed = Vec::new();
        let result = codec
            .decoder(std::io::BufReader::with_capacity(
                1 + usize::from(*choice),
                input,
            ))
            .take(limit as u64 + 1)
            .read_to_end(&mut streamed);
        (result, streamed)
    };
    let (stream1, streamed1) = stream(&codec);
    let (stream2, streamed2) = stream(&codec.clone().with_in_flight(2));
    if let (Ok(out), Ok(_)) = (&one_shot, &stream1) {
        assert_eq!(&streamed1, out, "stream and one-shot decoders disagree");
    }
    if let (Ok(out), Ok(_)) = (&one_shot, &stream2) {
        assert_eq!(
            &streamed2, out,
            "stream (2 in flight) and one-shot disagree"
        );
    }
    if let (Ok(_), Ok(_)) = (&stream1, &stream2) {
        assert_eq!(streamed1, streamed2, "stream decoders disagree");
    }
    // And over shared windows of the input (two in flight), read in place.
    let windows: Vec<_> = input
        .chunks(1 + usize::from(*choice) % 13)
        .map(|w| Ok(Bytes::copy_from_slice(w)))
        .collect();
    let mut windowed = Vec::new();
    let result = codec
        .clone()
        .with_in_flight(2)
        .decoder_over(windows.into_iter())
        .take(limit as u64 + 1)
        .read_to_end(&mut windowed);
    if let (Ok(_), Ok(_)) = (&stream2, &result) {
        assert_eq!(
            streamed2, windowed,
            "decoders over a reader and over windows disagree"
        );
    }
    // Cut short, input that was read is refused, or (cut in trailing bytes) reads as less.
    let cut = input.len().checked_sub(1 + usize::from(*choice) % 8);
    if let (Ok(out), Some(cut)) = (&one_shot, cut)
        && let Ok(shorter) = codec.decompress(&input[..cut])
    {
        assert!(shorter.len() <= out.len());
    }
});
