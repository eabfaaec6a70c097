//! The `qat` backend for compression: requests through the QATzip sessions of `crate::qat`,
//! one per request in flight, kept in the codec's pools. Without a device QATzip serves through
//! its own software path (zlib); which one served is reported per request.

use crate::qat::qatzip::{self, Inflated, Pool, Session, Stream};

use super::{Error, Format, Operation, ServedBy};

/// Why QATzip (1.3.1) cannot serve zstd: its `QZ_ZSTD` names no session or data format. It
/// compresses to LZ4s, a device-only format without a software path, for the caller to turn
/// into zstd frames with libzstd (QATzip's `qzstd`), and decompresses no zstd at all.
const NO_ZSTD: &str =
    "QATzip has no zstd, only LZ4s sequences (on a device) for the caller to make zstd of";

/// Whether QATzip takes `format` at `level`, and if not, why: deflate 1–9 (its maximum before
/// 4xxx-era devices), LZ4 1–12, no zstd.
pub(super) fn supports(format: Format, level: u32) -> Result<(), String> {
    let levels = match format {
        Format::Zstd => return Err(NO_ZSTD.into()),
        Format::Lz4 => 1..=12,
        Format::Gzip | Format::Zlib | Format::Raw => 1..=9,
    };
    if levels.contains(&level) {
        return Ok(());
    }
    Err(format!("QATzip has no {format} level {level}"))
}

fn no_zstd() -> Error {
    Error::Backend {
        backend: "qat",
        reason: NO_ZSTD.into(),
    }
}

/// A pool of sessions for `operation` on `format` at `level`. Sessions are made on first use:
/// a zstd codec's pool (of LZ4 sessions, QATzip having no zstd) is never used, as
/// [`supports`] refuses zstd and every entry point below checks.
pub(super) fn pool(format: Format, level: u32) -> Pool {
    let stream = match format {
        Format::Gzip => Stream::Gzip,
        Format::Zlib => Stream::Zlib,
        Format::Raw => Stream::Raw,
        Format::Lz4 | Format::Zstd => Stream::Lz4,
    };
    Pool::new(stream, level)
}

/// The error for a session QATzip could not set up.
fn setup(operation: Operation, format: Format) -> impl FnOnce(String) -> Error {
    move |reason| operation.failed(format, format!("setting up a QATzip session: {reason}"))
}

fn too_big(operation: Operation, format: Format, len: usize) -> Error {
    Error::RequestTooLarge {
        operation,
        format,
        library: "QATzip",
        len,
    }
}

/// Which path QATzip took for a compression request of `len` bytes: the device takes
/// requests from its input threshold (1 KiB) up.
fn served_compress(session: &Session, len: usize) -> ServedBy {
    if session.on_device() && len >= qatzip::DEVICE_THRESHOLD {
        ServedBy::QatDevice
    } else {
        ServedBy::QatSoftware
    }
}

/// Which path QATzip took to decompress `input`: the device takes only gzip that QATzip wrote
/// itself (GZIP_EXT members, whose headers give their sizes); the rest goes to its software
/// path.
fn served_decompress(session: &Session, format: Format, input: &[u8]) -> ServedBy {
    if session.on_device() && format == Format::Gzip && super::is_qatzip_gzip(input) {
        ServedBy::QatDevice
    } else {
        ServedBy::QatSoftware
    }
}

/// The most QATzip's compression of `len` bytes can take (`qzMaxCompressedLength`); `None`
/// when the request is too large for it or no session can be set up.
pub(super) fn compress_bound(pool: &Pool, format: Format, len: usize) -> Option<usize> {
    if format == Format::Zstd {
        return None;
    }
    let len = u32::try_from(len).ok()?;
    pool.with(setup(Operation::Compress, format), |s| {
        Ok(s.max_compressed_length(len))
    })
    .ok()
    .filter(|bound| *bound > 0)
}

/// Appends `input` compressed with `pool`'s format and level to `out`.
pub(super) fn compress(
    pool: &Pool,
    format: Format,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<ServedBy, Error> {
    if format == Format::Zstd {
        return Err(no_zstd());
    }
    let len = u32::try_from(input.len())
        .map_err(|_| too_big(Operation::Compress, format, input.len()))?;
    pool.with(setup(Operation::Compress, format), |s| {
        if s.max_compressed_length(len) == 0 {
            return Err(too_big(Operation::Compress, format, input.len()));
        }
        s.compress(input, out)
            .map_err(|reason| Error::Compress { format, reason })?;
        Ok(served_compress(s, input.len()))
    })
}

/// How one decompression attempt ended.
enum Attempt {
    Done(ServedBy),
    /// The output space filled before the stream's end: QATzip's software path may hold
    /// output back that it cannot give without more input; start again with more space.
    NeedsRoom,
}

/// Appends the decompressed `input` to `out`, writing at most `limit` bytes. Decompression does
/// not depend on the level: any session of the format serves.
pub(super) fn decompress(
    pool: &Pool,
    format: Format,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<ServedBy, Error> {
    if format == Format::Zstd {
        return Err(no_zstd());
    }
    if input.is_empty() {
        return Err(Error::Corrupt { format });
    }
    u32::try_from(input.len()).map_err(|_| too_big(Operation::Decompress, format, input.len()))?;
    let guess = match format {
        // QATzip takes a stream cut short as complete: the frames tell before decoding. Their
        // bound is the first capacity: QATzip 1.3.1 leaks its LZ4F context when a session
        // ends inside a frame, as a retry with more room would make it.
        Format::Lz4 => super::lz4::output_bound(input)
            .ok_or(Error::Corrupt { format })?
            .try_into()
            .unwrap_or(usize::MAX)
            .max(1),
        _ => input.len().saturating_mul(4).max(64 << 10),
    };
    let start = out.len();
    // A byte past the limit: QATzip wants room left over even when the output (an empty
    // member's, say) fits exactly; what goes past the limit is refused after.
    let most = limit.saturating_add(1);
    let mut capacity = guess.min(most);
    loop {
        let attempt = pool.with(setup(Operation::Decompress, format), |s| {
            attempt(s, format, input, limit, capacity, out)
        });
        match attempt {
            Ok(Attempt::Done(served_by)) => return Ok(served_by),
            Ok(Attempt::NeedsRoom) => {
                out.truncate(start);
                pool.clear();
                if capacity >= most {
                    return Err(Error::LimitExceeded { format, limit });
                }
                capacity = capacity.saturating_mul(2).min(most);
            }
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
}

fn attempt(
    s: &mut Session,
    format: Format,
    input: &[u8],
    limit: usize,
    mut capacity: usize,
    out: &mut Vec<u8>,
) -> Result<Attempt, Error> {
    let failed = |reason: String| Error::Decompress { format, reason };
    s.load(input).map_err(failed)?;
    let start = out.len();
    let mut consumed = 0usize;
    let mut filled = false;
    while consumed < input.len() {
        let room = (limit - (out.len() - start)).saturating_add(1);
        // QATzip counts in u32; and no member expands past deflate's ratio.
        let most = (input.len() - consumed)
            .saturating_mul(super::MAX_DEFLATE_RATIO)
            .min(u32::MAX as usize);
        let space = capacity.min(room).min(most);
        match s
            .inflate(consumed, input.len(), space, out)
            .map_err(failed)?
        {
            Inflated::Progress {
                consumed: used,
                produced,
            } => {
                consumed += used;
                filled = produced == space;
                if out.len() - start > limit {
                    return Ok(Attempt::NeedsRoom);
                }
            }
            // No progress: the next member does not fit the space given; give more.
            Inflated::NoProgress if space < room && space < most => {
                capacity = space.saturating_mul(2);
            }
            Inflated::NoProgress if space >= room => return Ok(Attempt::NeedsRoom),
            Inflated::NoProgress => return Err(Error::Corrupt { format }),
            Inflated::Failed(rc) => {
                tracing::debug!(status = %qatzip::qz_error(rc), "QATzip decompression failed");
                return Err(Error::Corrupt { format });
            }
        }
    }
    s.trim();
    // QATzip takes a deflate stream cut short as complete: check that it reached the end.
    let complete = format == Format::Lz4 || s.end_of_stream();
    match (complete, filled) {
        (true, _) => Ok(Attempt::Done(served_decompress(s, format, input))),
        (false, true) => Ok(Attempt::NeedsRoom),
        (false, false) => Err(Error::Corrupt { format }),
    }
}
