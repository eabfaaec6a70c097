//! One-shot compression and decompression on the CPU: ISA-L for deflate levels 0, 1 and 3 (the
//! fastest deflate there is; feature `isal`), libdeflate for the other levels (the best ratio per
//! cycle; every level without `isal`), and lz4_flex for LZ4 frames. Decompression takes an output limit and fails cleanly past it;
//! corrupt or truncated input is an error, never a panic.

use std::fmt;
use std::io::Read as _;

/// The compressed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// gzip (RFC 1952), one member.
    Gzip,
    /// zlib (RFC 1950).
    Zlib,
    /// Raw deflate (RFC 1951).
    Raw,
    /// LZ4 frame format.
    Lz4,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Gzip => "gzip",
            Format::Zlib => "zlib",
            Format::Raw => "raw deflate",
            Format::Lz4 => "lz4",
        })
    }
}

impl Format {
    /// The levels this format takes here: deflate 0–12 (0 is ISA-L's fastest, not "stored");
    /// LZ4's fast levels 0–2 (the HC levels 3–12 have no CPU implementation here yet).
    pub fn levels(self) -> std::ops::RangeInclusive<u32> {
        match self {
            Format::Lz4 => 0..=2,
            _ => 0..=12,
        }
    }
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A level the format does not have.
    #[error("{format} has no level {level} (levels {min}-{max})")]
    InvalidLevel {
        /// The format.
        format: Format,
        /// The level asked for.
        level: u32,
        /// Lowest level.
        min: u32,
        /// Highest level.
        max: u32,
    },
    /// The input is not valid data of the format (corrupt, truncated, another format).
    #[error("{format} data is corrupt or truncated")]
    Corrupt {
        /// The format.
        format: Format,
    },
    /// The decompressed data would exceed the output limit.
    #[error("{format} data decompresses to more than the {limit}-byte limit")]
    LimitExceeded {
        /// The format.
        format: Format,
        /// The limit.
        limit: usize,
    },
    /// The compressor failed.
    #[error("{format} compression failed: {reason}")]
    Compress {
        /// The format.
        format: Format,
        /// What it said.
        reason: String,
    },
}

/// Compresses `input` into a new buffer.
pub fn compress(format: Format, level: u32, input: &[u8]) -> Result<Vec<u8>, Error> {
    if !format.levels().contains(&level) {
        let (min, max) = (*format.levels().start(), *format.levels().end());
        return Err(Error::InvalidLevel {
            format,
            level,
            min,
            max,
        });
    }
    match format {
        Format::Lz4 => lz4_compress(input),
        #[cfg(feature = "isal")]
        _ if isal::level(level).is_some() => isal::compress(format, level, input),
        // libdeflate's levels are 1-12; without ISA-L, level 0 is its fastest.
        _ => libdeflate_compress(format, level.max(1), input),
    }
}

#[cfg(feature = "isal")]
mod isal {
    use super::{Error, Format};
    use isal::{Codec, CompressionLevel};

    pub(super) fn level(level: u32) -> Option<CompressionLevel> {
        match level {
            0 => Some(CompressionLevel::Zero),
            1 => Some(CompressionLevel::One),
            3 => Some(CompressionLevel::Three),
            _ => None,
        }
    }

    pub(super) fn compress(format: Format, level: u32, input: &[u8]) -> Result<Vec<u8>, Error> {
        let isal_level = self::level(level).expect("caller checked the level");
        let codec = match format {
            Format::Gzip => Codec::Gzip,
            Format::Zlib => Codec::Zlib,
            _ => Codec::Deflate,
        };
        // ISA-L's fastest level expands incompressible data (by up to about a quarter): start
        // with room for that and grow if needed.
        let mut capacity = input.len() + input.len() / 3 + 1024;
        loop {
            let mut output = vec![0u8; capacity];
            match isal::compress_into(input, &mut output, isal_level, codec) {
                Ok(n) if n < capacity => {
                    output.truncate(n);
                    return Ok(output);
                }
                Ok(_) | Err(_) if capacity < input.len() * 4 + 65536 => capacity *= 2,
                Ok(_) => {
                    return Err(Error::Compress {
                        format,
                        reason: "output did not fit".into(),
                    });
                }
                Err(e) => {
                    return Err(Error::Compress {
                        format,
                        reason: e.to_string(),
                    });
                }
            }
        }
    }
}

thread_local! {
    /// libdeflate's compressors, one per level, and its decompressor, kept per thread: creating
    /// one allocates its state, which costs more than compressing a small request.
    static LIBDEFLATE: std::cell::RefCell<(Vec<Option<libdeflater::Compressor>>, Option<libdeflater::Decompressor>)> =
        const { std::cell::RefCell::new((Vec::new(), None)) };
}

fn libdeflate_compress(format: Format, level: u32, input: &[u8]) -> Result<Vec<u8>, Error> {
    let lvl = libdeflater::CompressionLvl::new(level as i32).map_err(|_| Error::Compress {
        format,
        reason: format!("libdeflate has no level {level}"),
    })?;
    LIBDEFLATE.with_borrow_mut(|(compressors, _)| {
        if compressors.len() <= level as usize {
            compressors.resize_with(level as usize + 1, || None);
        }
        let compressor =
            compressors[level as usize].get_or_insert_with(|| libdeflater::Compressor::new(lvl));
        let bound = match format {
            Format::Gzip => compressor.gzip_compress_bound(input.len()),
            Format::Zlib => compressor.zlib_compress_bound(input.len()),
            _ => compressor.deflate_compress_bound(input.len()),
        };
        let mut output = vec![0u8; bound];
        let written = match format {
            Format::Gzip => compressor.gzip_compress(input, &mut output),
            Format::Zlib => compressor.zlib_compress(input, &mut output),
            _ => compressor.deflate_compress(input, &mut output),
        }
        .map_err(|e| Error::Compress {
            format,
            reason: e.to_string(),
        })?;
        output.truncate(written);
        Ok(output)
    })
}

fn lz4_compress(input: &[u8]) -> Result<Vec<u8>, Error> {
    use std::io::Write as _;
    let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(input.len() / 2 + 64));
    let failed = |e: &dyn fmt::Display| Error::Compress {
        format: Format::Lz4,
        reason: e.to_string(),
    };
    encoder.write_all(input).map_err(|e| failed(&e))?;
    encoder.finish().map_err(|e| failed(&e))
}

/// Decompresses `input`, producing at most `limit` bytes: more is [`Error::LimitExceeded`].
pub fn decompress(format: Format, input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    match format {
        Format::Lz4 => lz4_decompress(input, limit),
        _ => libdeflate_decompress(format, input, limit),
    }
}

fn libdeflate_decompress(format: Format, input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    LIBDEFLATE.with_borrow_mut(|(_, decompressor)| {
        let decompressor = decompressor.get_or_insert_with(libdeflater::Decompressor::new);
        inflate(decompressor, format, input, limit)
    })
}

fn inflate(
    decompressor: &mut libdeflater::Decompressor,
    format: Format,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, Error> {
    // Grow the output until the data fits or the limit is reached.
    let mut capacity = limit.min(input.len().saturating_mul(4).max(64 << 10));
    loop {
        let mut output = vec![0u8; capacity];
        let result = match format {
            Format::Gzip => decompressor.gzip_decompress(input, &mut output),
            Format::Zlib => decompressor.zlib_decompress(input, &mut output),
            _ => decompressor.deflate_decompress(input, &mut output),
        };
        match result {
            Ok(n) => {
                output.truncate(n);
                return Ok(output);
            }
            Err(libdeflater::DecompressionError::InsufficientSpace) if capacity < limit => {
                capacity = capacity.saturating_mul(2).min(limit);
            }
            Err(libdeflater::DecompressionError::InsufficientSpace) => {
                return Err(Error::LimitExceeded { format, limit });
            }
            Err(libdeflater::DecompressionError::BadData) => return Err(Error::Corrupt { format }),
        }
    }
}

fn lz4_decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let format = Format::Lz4;
    // lz4_flex accepts a frame cut before its end mark: check the end is there (the end mark,
    // four zero bytes, then a 4-byte content checksum when the FLG byte says so).
    let trailer = if input.get(4).is_some_and(|flg| flg & 0x04 != 0) {
        8
    } else {
        4
    };
    let end_mark = input
        .len()
        .checked_sub(trailer)
        .and_then(|at| input.get(at..at + 4));
    if input.len() < 7 + trailer || end_mark != Some(&[0u8; 4][..]) {
        return Err(Error::Corrupt { format });
    }
    let mut output = Vec::new();
    let decoder = lz4_flex::frame::FrameDecoder::new(input);
    // One byte past the limit tells "exactly at the limit" from "over it".
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut output)
        .map_err(|_| Error::Corrupt { format })?;
    if output.len() > limit {
        return Err(Error::LimitExceeded { format, limit });
    }
    Ok(output)
}
