//! Where the next unit of a stream ends — a gzip member, an LZ4 or zstd frame — told from the
//! bytes read so far, without decompressing: what lets the decoder hand whole units to workers
//! and decompress them in parallel, each into an output of the right size. A unit whose size
//! is not recorded, or too large to hold in memory, is streamed instead.

use super::lz4::Walk;
use super::{Error, Format, MAX_DEFLATE_RATIO, gzip, lz4, zstd};

/// Units larger than this, compressed or not, are streamed: it bounds the memory a decoder
/// holds (a few units per worker) whatever the input says about itself.
pub(super) const MAX_UNIT: usize = 8 << 20;

/// What comes next in the input.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// A whole unit of `len` bytes, decompressing to at most `out_len` bytes.
    Unit { len: usize, out_len: usize },
    /// Bytes to pass over: a skippable frame, zero padding after the last gzip member.
    Skip { len: usize },
    /// A unit to decompress as a stream, after passing over `header` bytes; `body` is the
    /// length of the rest when the header records the unit's length (a gzip member's), which
    /// the stream must then end at exactly.
    Stream { header: usize, body: Option<usize> },
    /// The end of the data.
    End,
    /// More input is needed to say.
    More,
}

/// What comes next in `buf`, the input not yet consumed; `eof` when no more follows, `first`
/// before the first unit.
pub(super) fn next(format: Format, buf: &[u8], eof: bool, first: bool) -> Result<Next, Error> {
    let corrupt = Error::Corrupt { format };
    let next = match format {
        Format::Gzip => next_member(buf, first)?,
        Format::Lz4 | Format::Zstd if buf.is_empty() && eof => {
            return if format == Format::Lz4 || !first {
                // `lz4 -d` reads an empty file as an empty stream.
                Ok(Next::End)
            } else {
                Err(corrupt)
            };
        }
        Format::Lz4 => frame(format, lz4::walk(buf))?,
        Format::Zstd => frame(format, zstd::walk(buf))?,
        // zlib and raw deflate are one stream each, of unknown size, and nothing follows it.
        Format::Zlib | Format::Raw if first => Next::Stream {
            header: 0,
            body: None,
        },
        Format::Zlib | Format::Raw if buf.is_empty() => match eof {
            true => Next::End,
            false => Next::More,
        },
        Format::Zlib | Format::Raw => return Err(corrupt),
    };
    Ok(match next {
        Next::More if eof && buf.is_empty() && !first => Next::End,
        Next::More if eof => return Err(corrupt),
        // A unit that does not fit in memory: stream it.
        Next::More if buf.len() >= MAX_UNIT && format != Format::Gzip => Next::Stream {
            header: 0,
            body: None,
        },
        next => next,
    })
}

fn next_member(buf: &[u8], first: bool) -> Result<Next, Error> {
    let corrupt = Error::Corrupt {
        format: Format::Gzip,
    };
    if buf.is_empty() {
        // `next` makes it the end when the input ended.
        return Ok(Next::More);
    }
    if !first && buf[0] == 0 {
        // gzip accepts zeros after the last member (tar pads that way), with a warning.
        let zeros = buf.iter().take_while(|&&b| b == 0).count();
        if zeros < buf.len() {
            return Err(corrupt);
        }
        tracing::warn!(bytes = zeros, "zero padding after the last gzip member");
        return Ok(Next::Skip { len: zeros });
    }
    let header = match gzip::parse_header(buf) {
        gzip::Parsed::Header(header) => header,
        gzip::Parsed::Incomplete => return Ok(Next::More),
        gzip::Parsed::Corrupt => return Err(corrupt),
    };
    let stream = Next::Stream {
        header: header.len,
        body: header.member_len.map(|len| len.saturating_sub(header.len)),
    };
    let Some(len) = header.member_len.filter(|&len| len <= MAX_UNIT) else {
        return Ok(stream);
    };
    let Some(member) = buf.get(..len) else {
        return Ok(Next::More);
    };
    let trailer: [u8; 4] = member[len - 4..].try_into().expect("four bytes");
    let out_len = u32::from_le_bytes(trailer) as usize;
    if out_len > MAX_UNIT || out_len > len.saturating_mul(MAX_DEFLATE_RATIO) {
        return Ok(stream);
    }
    Ok(Next::Unit { len, out_len })
}

/// What the walk of an LZ4 or zstd frame means for the decoder.
fn frame(format: Format, walk: Walk) -> Result<Next, Error> {
    Ok(match walk {
        Walk::Frame { len, max_output } if len <= MAX_UNIT && max_output <= MAX_UNIT => {
            Next::Unit {
                len,
                out_len: max_output,
            }
        }
        Walk::Frame { .. } => Next::Stream {
            header: 0,
            body: None,
        },
        Walk::Skippable { len } => Next::Skip { len },
        Walk::Incomplete => Next::More,
        Walk::Legacy => {
            return Err(Error::Unsupported {
                format,
                what: "legacy frames",
            });
        }
        Walk::Corrupt => return Err(Error::Corrupt { format }),
    })
}
