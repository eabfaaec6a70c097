//! The `cpu` backend: ISA-L for deflate levels 0–3 (feature `isal`, the fastest deflate there
//! is), libdeflate for 4–12 (the best ratio per cycle; every level without `isal`), libdeflate
//! for decompression except maximum-effort gzip and zlib, which ISA-L inflates faster (see
//! `libdeflate::decompress`), lz4_flex for LZ4.

use super::{Error, Format, libdeflate, lz4};

/// Appends `input` compressed at `level` to `out`.
pub(super) fn compress(
    format: Format,
    level: u32,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    match format {
        Format::Lz4 => lz4::compress(input, out),
        #[cfg(feature = "isal")]
        _ if super::isal::LEVELS.contains(&level) => {
            super::isal::compress(format, level, input, out)
        }
        // libdeflate's levels are 1–12; without ISA-L, level 0 is its fastest.
        _ => libdeflate::compress(format, level.max(1), input, out),
    }
}

/// Appends the decompressed `input` to `out`, writing at most `limit` bytes.
pub(super) fn decompress(
    format: Format,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    match format {
        Format::Lz4 => lz4::decompress(input, limit, out),
        _ => libdeflate::decompress(format, input, limit, out),
    }
}

/// The most `len` bytes can compress to, at any level.
pub(super) fn compress_bound(format: Format, len: usize) -> usize {
    match format {
        Format::Lz4 => lz4::compress_bound(len),
        _ => libdeflate::compress_bound(format, len),
    }
}
