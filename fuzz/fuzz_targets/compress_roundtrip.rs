//! Any bytes, compressed in every format at a level chosen by the input, by the one-shot call
//! and by the stream encoder with a small request size, and decompressed again by the one-shot
//! call and the stream decoder. Invariant: every way gives the input back.
#![no_main]

use std::io::{Read as _, Write as _};

use libfuzzer_sys::fuzz_target;
use qat_crypto::compress::{Backend, Codec, Format};

const FORMATS: [Format; 4] = [Format::Gzip, Format::Zlib, Format::Raw, Format::Lz4];

fuzz_target!(|data: &[u8]| {
    let [choice, level, input @ ..] = data else {
        return;
    };
    let format = FORMATS[usize::from(choice % 4)];
    let levels = format.levels();
    let level = levels.start() + u32::from(*level) % (levels.end() - levels.start() + 1);
    let codec = Codec::new(format, level)
        .and_then(|c| c.with_backend(Backend::Cpu))
        .expect("cpu codec")
        .with_request_size(1 + usize::from(choice >> 2) * 64);
    let packed = codec.compress(input).expect("compress");
    assert_eq!(codec.decompress(&packed).expect("decompress"), input);
    let mut encoder = codec.encoder(Vec::new());
    for chunk in input.chunks(1 + usize::from(*choice) % 7) {
        encoder.write_all(chunk).expect("encode");
    }
    let streamed = encoder.finish().expect("finish");
    assert_eq!(
        codec.decompress(&streamed).expect("decompress the stream"),
        input
    );
    let mut back = Vec::new();
    codec
        .decoder(std::io::BufReader::with_capacity(3, streamed.as_slice()))
        .read_to_end(&mut back)
        .expect("stream decoder");
    assert_eq!(back, input);
});
