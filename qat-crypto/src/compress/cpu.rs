//! The `cpu` backend, and the only place that chooses among the CPU libraries: ISA-L for
//! deflate levels 0–3 (feature `isal`, the fastest deflate there is), libdeflate for 4–12 (the
//! best ratio per cycle; every level without `isal`); for decompression libdeflate, except
//! maximum-effort gzip and zlib, which ISA-L inflates faster; lz4_flex for LZ4. The libraries
//! are leaves: each serves one request the way it is told.

use super::inflate::Step;
use super::{Error, Format, MAX_DEFLATE_RATIO, Operation, libdeflate, lz4};

/// Appends `input` compressed at `level` to `out`.
pub(super) fn compress(
    format: Format,
    level: u32,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    match format {
        Format::Lz4 => lz4::compress(input, out),
        Format::Zstd => super::zstd::compress(level, input, out),
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
        Format::Zstd => super::zstd::decompress(input, limit, out),
        _ => inflate(format, input, limit, out),
    }
}

/// The most `len` bytes can compress to, at any level.
pub(super) fn compress_bound(format: Format, len: usize) -> usize {
    match format {
        Format::Lz4 => lz4::compress_bound(len),
        Format::Zstd => super::zstd::compress_bound(len),
        _ => libdeflate::compress_bound(format, len),
    }
}

/// One member (or stream) through ISA-L where it inflates faster (feature `isal`), else, or
/// when ISA-L does not end cleanly on a member boundary, through libdeflate.
fn member_step(
    format: Format,
    input: &[u8],
    out: &mut Vec<u8>,
    capacity: usize,
) -> Result<Step, Error> {
    #[cfg(feature = "isal")]
    if super::isal::inflates_faster(format, input) {
        let before = out.len();
        match super::isal::inflate_step(format, input, out, capacity) {
            Some(Step::Done { consumed })
                if consumed == input.len()
                    || (format == Format::Gzip && input[consumed..].starts_with(&[0x1f, 0x8b])) =>
            {
                return Ok(Step::Done { consumed });
            }
            Some(Step::NoSpace) => return Ok(Step::NoSpace),
            // Anything else, libdeflate decides.
            _ => out.truncate(before),
        }
    }
    libdeflate::inflate_step(format, input, out, capacity)
}

/// The uncompressed size a gzip member's trailer records (ISIZE, modulo 2^32): exact when the
/// input is one member under 4 GiB.
fn gzip_size_hint(input: &[u8]) -> Option<usize> {
    let trailer = input.get(input.len().checked_sub(4)?..)?;
    Some(u32::from_le_bytes(trailer.try_into().ok()?) as usize)
}

/// Appends the inflated `input` to `out`, writing at most `limit` bytes. Gzip input may be
/// several members, as gzip itself allows; zlib and raw deflate are one stream each, and
/// bytes after its end make the input corrupt.
fn inflate(format: Format, mut input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let start = out.len();
    loop {
        let room = limit - (out.len() - start);
        // First guess: the gzip trailer's size (exact for one member), else 4x the input;
        // never more than deflate can expand to (1032:1), so a forged trailer cannot make a
        // tiny input reserve gigabytes.
        let guess = match format {
            Format::Gzip => gzip_size_hint(input),
            _ => None,
        }
        .unwrap_or(input.len().saturating_mul(4))
        .min(input.len().saturating_mul(MAX_DEFLATE_RATIO))
        .max(4096);
        let mut capacity = guess.min(room);
        loop {
            out.try_reserve(capacity)
                .map_err(|_| Operation::Decompress.no_room(format, capacity))?;
            match member_step(format, input, out, capacity)? {
                Step::Done { consumed } => {
                    input = &input[consumed..];
                    break;
                }
                Step::NoSpace if capacity < room => {
                    capacity = capacity.saturating_mul(2).min(room);
                }
                Step::NoSpace => return Err(Error::LimitExceeded { format, limit }),
                Step::Corrupt => return Err(Error::Corrupt { format }),
            }
        }
        if input.is_empty() {
            return Ok(());
        }
        if format != Format::Gzip {
            return Err(Error::Corrupt { format });
        }
    }
}
