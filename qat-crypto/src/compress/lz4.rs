//! LZ4 frames (the format of the `lz4` tool) through lz4_flex. Decoding accepts several
//! concatenated frames, as `lz4 -d` does, which is what the streaming encoder writes.

use std::io::{Read as _, Write as _};

use super::{Error, Format};

/// Appends `input` as one LZ4 frame to `out`.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let mut encoder = lz4_flex::frame::FrameEncoder::new(out);
    let failed = |e: &dyn std::fmt::Display| Error::Compress {
        format: Format::Lz4,
        reason: e.to_string(),
    };
    encoder.write_all(input).map_err(|e| failed(&e))?;
    encoder.finish().map_err(|e| failed(&e))?;
    Ok(())
}

/// Whether `input` can be whole LZ4 frames: decoders take a frame cut at a block boundary as
/// complete, so check that it ends with an end mark (four zero bytes), alone or followed by a
/// 4-byte content checksum, after at least a minimal frame header.
pub(super) fn ends_with_end_mark(input: &[u8]) -> bool {
    let mark_at = |trailer: usize| {
        input
            .len()
            .checked_sub(trailer)
            .is_some_and(|at| input[at..at + 4] == [0; 4])
    };
    input.len() >= 11 && (mark_at(4) || mark_at(8))
}

/// Appends the decompressed frames in `input` to `out`, writing at most `limit` bytes.
pub(super) fn decompress(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let format = Format::Lz4;
    if !ends_with_end_mark(input) {
        return Err(Error::Corrupt { format });
    }
    let start = out.len();
    // lz4_flex reads one frame and stops, having used exactly its bytes: go on frame by frame.
    let mut rest = input;
    while !rest.is_empty() {
        let before = rest.len();
        let room = limit - (out.len() - start);
        // One byte past the limit tells "exactly at the limit" from "over it".
        lz4_flex::frame::FrameDecoder::new(&mut rest)
            .take((room as u64).saturating_add(1))
            .read_to_end(out)
            .map_err(|_| Error::Corrupt { format })?;
        if out.len() - start > limit {
            out.truncate(start);
            return Err(Error::LimitExceeded { format, limit });
        }
        if rest.len() == before {
            return Err(Error::Corrupt { format });
        }
    }
    Ok(())
}
