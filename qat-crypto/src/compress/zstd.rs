//! zstd frames (RFC 8878) through libzstd (`zstd-safe`). Each request is one frame with its
//! content size and a checksum, as the `zstd` tool writes a file. Decoding reads concatenated
//! frames and skips skippable ones, as `zstd -d` does, and like it refuses empty input and
//! windows over 128 MiB (`zstd --long=28` and up); legacy (pre-v0.8) frames and frames that
//! need a dictionary are valid zstd that qatkit does not read ([`Error::Unsupported`]).
//! Contexts are kept per thread and reused: making one costs more than a small request.

use std::cell::RefCell;
use std::io::{self, BufRead, Read};

use zstd_safe::{CCtx, CParameter, DCtx, InBuffer, OutBuffer, ResetDirective, WriteBuf};

use super::lz4::Walk;
use super::{Error, Format, Operation};

const FORMAT: Format = Format::Zstd;
const MAGIC: u32 = 0xFD2F_B528;
/// The most a block holds, decompressed.
const BLOCK_MAX: u64 = 128 << 10;
/// The largest window decoded: the zstd tool's own default (`zstd --memory`), which bounds
/// what a frame can make a streaming decoder allocate.
const WINDOW_MAX: u64 = 128 << 20;
const LARGE_WINDOWS: &str = "windows over 128 MiB (zstd --long=28 and up)";

/// Skippable frames (0x184D2A50–0x184D2A5F), which zstd shares with LZ4.
fn is_skippable(magic: u32) -> bool {
    magic & 0xFFFF_FFF0 == 0x184D_2A50
}

/// The formats before v0.8: v0.1's magic number, then v0.2's to v0.7's.
fn is_legacy(magic: u32) -> bool {
    magic == 0x1EB5_2FFD || (0xFD2F_B522..=0xFD2F_B527).contains(&magic)
}

fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |v, &b| (v << 8) | u64::from(b))
}

fn le32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        buf.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn unsupported(what: &'static str) -> Error {
    Error::Unsupported {
        format: FORMAT,
        what,
    }
}

fn no_state(operation: Operation) -> Error {
    operation.failed(FORMAT, "zstd could not allocate its state")
}

/// What a libzstd error code means when decompressing.
fn decode_error(code: zstd_safe::ErrorCode) -> Error {
    use zstd_safe::zstd_sys::{ZSTD_ErrorCode as E, ZSTD_getErrorCode};
    // SAFETY: a pure function of the code, which libzstd returned; the bindings' enum is
    // generated from the libzstd zstd-sys builds, so every value it returns is a variant.
    match unsafe { ZSTD_getErrorCode(code) } {
        E::ZSTD_error_memory_allocation => no_state(Operation::Decompress),
        E::ZSTD_error_dictionary_wrong => unsupported("dictionaries"),
        E::ZSTD_error_frameParameter_windowTooLarge => unsupported(LARGE_WINDOWS),
        _ => Error::Corrupt { format: FORMAT },
    }
}

/// The next `len` bytes of a `Vec`'s spare capacity, for libzstd to write into without them
/// being zero-filled first; what it writes is appended to the `Vec`.
struct Spare<'a> {
    vec: &'a mut Vec<u8>,
    start: usize,
    len: usize,
}

impl<'a> Spare<'a> {
    fn new(vec: &'a mut Vec<u8>, len: usize) -> Self {
        assert!(vec.capacity() - vec.len() >= len, "reserve the space first");
        let start = vec.len();
        Spare { vec, start, len }
    }
}

// SAFETY: `capacity()` bytes from `as_mut_ptr()` lie in the Vec's spare capacity (checked in
// `new`; the Vec is borrowed, so it cannot reallocate meanwhile); `as_slice` is the part of it
// that is initialized; `filled_until` marks only bytes the caller vouches were written.
unsafe impl WriteBuf for Spare<'_> {
    fn as_slice(&self) -> &[u8] {
        &self.vec[self.start..]
    }

    fn capacity(&self) -> usize {
        self.len
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.vec.as_mut_ptr().wrapping_add(self.start)
    }

    unsafe fn filled_until(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        // SAFETY: the caller wrote the first `n` bytes, all within the capacity (see above).
        unsafe { self.vec.set_len(self.start + n) }
    }
}

#[derive(Default)]
struct Contexts {
    compressor: Option<CCtx<'static>>,
    decompressor: Option<DCtx<'static>>,
}

thread_local! {
    // Making a context costs more than compressing a small request.
    static CONTEXTS: RefCell<Contexts> = RefCell::default();
}

impl Contexts {
    fn compressor(&mut self) -> Result<&mut CCtx<'static>, Error> {
        let cctx = match self.compressor.take() {
            Some(cctx) => cctx,
            None => {
                let mut cctx = CCtx::try_create().ok_or_else(|| no_state(Operation::Compress))?;
                // As the zstd tool writes a file: the content size, and a checksum of it.
                for parameter in [
                    CParameter::ContentSizeFlag(true),
                    CParameter::ChecksumFlag(true),
                ] {
                    cctx.set_parameter(parameter).map_err(compress_failed)?;
                }
                cctx
            }
        };
        Ok(self.compressor.insert(cctx))
    }

    fn decompressor(&mut self) -> Result<&mut DCtx<'static>, Error> {
        let dctx = match self.decompressor.take() {
            Some(dctx) => dctx,
            None => DCtx::try_create().ok_or_else(|| no_state(Operation::Decompress))?,
        };
        Ok(self.decompressor.insert(dctx))
    }
}

fn compress_failed(code: zstd_safe::ErrorCode) -> Error {
    Error::Compress {
        format: FORMAT,
        reason: zstd_safe::get_error_name(code).into(),
    }
}

/// Appends `input` compressed at `level` (1–22, 0 for zstd's default) to `out`, as one frame.
pub(super) fn compress(level: u32, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let bound = compress_bound(input.len());
    out.try_reserve(bound)
        .map_err(|_| Operation::Compress.no_room(FORMAT, bound))?;
    CONTEXTS.with_borrow_mut(|contexts| {
        let cctx = contexts.compressor()?;
        let level = i32::try_from(level).unwrap_or(i32::MAX);
        cctx.set_parameter(CParameter::CompressionLevel(level))
            .map_err(compress_failed)?;
        cctx.compress2(&mut Spare::new(out, bound), input)
            .map_err(compress_failed)?;
        Ok(())
    })
}

/// The most one frame of `len` bytes can take, at any level (libzstd's bound).
pub(super) fn compress_bound(len: usize) -> usize {
    // Past its largest input libzstd answers with an error code; no input is that large.
    if len >= usize::MAX / 2 {
        return usize::MAX;
    }
    zstd_safe::compress_bound(len)
}

/// Walks the zstd frame at the start of `buf`: the frame header, each block's header, and the
/// content checksum, without decompressing.
pub(super) fn walk(buf: &[u8]) -> Walk {
    match frame(buf) {
        Ok((len, max_output)) => Walk::Frame {
            len,
            max_output: usize::try_from(max_output).unwrap_or(usize::MAX),
        },
        Err(walk) => walk,
    }
}

/// A frame header's fields (RFC 8878, 3.1.1.1).
struct Header {
    len: usize,
    checksum: bool,
    window: u64,
    dictionary: bool,
    content_size: Option<u64>,
}

/// The header of the frame at the start of `buf`, whose magic number was checked:
/// Frame_Header_Descriptor, Window_Descriptor, Dictionary_ID, Frame_Content_Size.
fn header(buf: &[u8]) -> Result<Header, Walk> {
    let descriptor = *buf.get(4).ok_or(Walk::Incomplete)?;
    // Bit 3 is reserved.
    if descriptor & 0x08 != 0 {
        return Err(Walk::Corrupt);
    }
    let single_segment = descriptor & 0x20 != 0;
    let dictionary_len = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let content_size_len = match descriptor >> 6 {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let window_at = 5;
    let dictionary_at = window_at + usize::from(!single_segment);
    let content_size_at = dictionary_at + dictionary_len;
    let len = content_size_at + content_size_len;
    let fields = buf.get(..len).ok_or(Walk::Incomplete)?;
    let content_size = match content_size_len {
        0 => None,
        // The 2-byte field counts from 256.
        2 => Some(le(&fields[content_size_at..]) + 256),
        _ => Some(le(&fields[content_size_at..])),
    };
    let window = match content_size {
        // A single segment is its own window.
        Some(size) if single_segment => size,
        _ => {
            let descriptor = fields[window_at];
            let base = 1u64 << (10 + (descriptor >> 3));
            base + (base / 8) * u64::from(descriptor & 7)
        }
    };
    Ok(Header {
        len,
        checksum: descriptor & 0x04 != 0,
        window,
        dictionary: le(&fields[dictionary_at..content_size_at]) != 0,
        content_size,
    })
}

/// The length and most output of the data frame at the start of `buf`, or, when there is
/// none, what [`walk`] says of what is there instead.
fn frame(buf: &[u8]) -> Result<(usize, u64), Walk> {
    let magic = le32(buf, 0).ok_or(Walk::Incomplete)?;
    if is_skippable(magic) {
        let size = le32(buf, 4).ok_or(Walk::Incomplete)?;
        let len = usize::try_from(size).map_or(usize::MAX, |s| s.saturating_add(8));
        return Err(Walk::Skippable { len });
    }
    if is_legacy(magic) {
        return Err(Walk::Legacy);
    }
    if magic != MAGIC {
        return Err(Walk::Corrupt);
    }
    let header = header(buf)?;
    let block_max = header.window.min(BLOCK_MAX);
    let mut at = header.len;
    let mut bound = 0u64;
    loop {
        // Last_Block (bit 0), Block_Type (bits 1-2), Block_Size (bits 3-23).
        let block = le(buf.get(at..at + 3).ok_or(Walk::Incomplete)?);
        at += 3;
        let size = block >> 3;
        if size > block_max {
            return Err(Walk::Corrupt);
        }
        // Raw and RLE blocks hold exactly their size (an RLE block's content is the one byte
        // it repeats); a compressed one at most the block maximum.
        let (content, most) = match (block >> 1) & 3 {
            0 => (size, size),
            1 => (1, size),
            2 => (size, block_max),
            _ => return Err(Walk::Corrupt),
        };
        bound += most;
        // At most 128 KiB: no overflow.
        at += content as usize;
        if at > buf.len() {
            return Err(Walk::Incomplete);
        }
        if block & 1 != 0 {
            break;
        }
    }
    if header.checksum {
        at += 4;
        if at > buf.len() {
            return Err(Walk::Incomplete);
        }
    }
    let max_output = match header.content_size {
        // A header that records more than its blocks can hold is lying.
        Some(size) if size > bound => return Err(Walk::Corrupt),
        Some(size) => size,
        None => bound,
    };
    Ok((at, max_output))
}

/// Appends the decompressed frames in `input` to `out`, writing at most `limit` bytes; on an
/// error `out` is as it was. Each frame that records its content size is decompressed at once
/// into exactly that much room; the others stream into room that grows as they need it.
pub(super) fn decompress(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    // No frame at all is not zstd data: `zstd -d` refuses an empty file too.
    if input.is_empty() {
        return Err(Error::Corrupt { format: FORMAT });
    }
    let start = out.len();
    let result = CONTEXTS.with_borrow_mut(|contexts| {
        let dctx = contexts.decompressor()?;
        decompress_frames(dctx, input, limit, start, out)
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn decompress_frames(
    dctx: &mut DCtx<'static>,
    mut rest: &[u8],
    limit: usize,
    start: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    while !rest.is_empty() {
        let len = match walk(rest) {
            Walk::Frame { len, max_output } => {
                let room = limit - (out.len() - start);
                decompress_frame(dctx, &rest[..len], max_output, room, limit, out)?;
                len
            }
            Walk::Skippable { len } if len <= rest.len() => len,
            Walk::Legacy => return Err(unsupported("legacy frames")),
            _ => return Err(Error::Corrupt { format: FORMAT }),
        };
        rest = &rest[len..];
    }
    Ok(())
}

/// Appends the decompressed `frame`, a whole frame that decompresses to at most `max_output`
/// bytes (as [`walk`] found it), to `out`, writing at most `room` of the `limit` bytes.
fn decompress_frame(
    dctx: &mut DCtx<'static>,
    frame: &[u8],
    max_output: usize,
    room: usize,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let header = header(frame).map_err(|_| Error::Corrupt { format: FORMAT })?;
    if header.dictionary {
        return Err(unsupported("dictionaries"));
    }
    if header.window > WINDOW_MAX {
        return Err(unsupported(LARGE_WINDOWS));
    }
    if header.content_size.is_none() {
        return stream_frame(dctx, frame, max_output, room, limit, out);
    }
    // A recorded size is exact: checked against the blocks by the walk, and against the
    // output by libzstd.
    let size = max_output;
    if size > room {
        return Err(Error::LimitExceeded {
            format: FORMAT,
            limit,
        });
    }
    out.try_reserve(size)
        .map_err(|_| Operation::Decompress.no_room(FORMAT, size))?;
    dctx.decompress(&mut Spare::new(out, size), frame)
        .map_err(decode_error)?;
    Ok(())
}

/// Appends the decompressed `frame`, a whole frame that does not record its content size, to
/// `out`, streaming: first into room for `max_output` bytes, then into more as needed, never
/// more than one byte past `room` (which tells "exactly at the limit" from "over it").
fn stream_frame(
    dctx: &mut DCtx<'static>,
    frame: &[u8],
    max_output: usize,
    room: usize,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let corrupt = Error::Corrupt { format: FORMAT };
    // A session left mid-frame by an earlier error must not carry over.
    dctx.reset(ResetDirective::SessionOnly)
        .map_err(decode_error)?;
    let most = room.saturating_add(1);
    let mut target = max_output.min(most);
    let before = out.len();
    let mut input = InBuffer::around(frame);
    loop {
        let want = target - (out.len() - before);
        out.try_reserve(want)
            .map_err(|_| Operation::Decompress.no_room(FORMAT, want))?;
        let consumed = input.pos();
        let mut spare = Spare::new(out, want);
        let mut output = OutBuffer::around(&mut spare);
        let left = dctx
            .decompress_stream(&mut output, &mut input)
            .map_err(decode_error)?;
        let produced = output.pos();
        if left == 0 {
            break;
        }
        if produced == want {
            if target == most {
                return Err(Error::LimitExceeded {
                    format: FORMAT,
                    limit,
                });
            }
            target = target.saturating_mul(2).max(BLOCK_MAX as usize).min(most);
        } else if input.pos() == frame.len() || (produced == 0 && input.pos() == consumed) {
            // The frame ended early, or libzstd made no progress.
            return Err(corrupt);
        }
    }
    if out.len() - before > room {
        return Err(Error::LimitExceeded {
            format: FORMAT,
            limit,
        });
    }
    Ok(())
}

/// Reads concatenated zstd frames from `R` as one stream, skipping skippable frames, in
/// bounded memory: libzstd's streaming decoder, with a window of at most 128 MiB. As `zstd -d`,
/// it takes an empty stream as corrupt. Its errors are the reader's own, or an [`Error`] inside
/// an `io::Error` (of kind `InvalidData`, but for [`Error::Decompress`]).
pub(super) struct FrameReader<R> {
    reader: R,
    /// Made at the first read.
    dctx: Option<DCtx<'static>>,
    /// Whether anything was read, and whether it ended inside a frame.
    started: bool,
    in_frame: bool,
}

impl<R: BufRead> FrameReader<R> {
    pub(super) fn new(reader: R) -> Self {
        FrameReader {
            reader,
            dctx: None,
            started: false,
            in_frame: false,
        }
    }

    /// The reader.
    pub(super) fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// The reader, to go on from where the frames ended.
    pub(super) fn into_inner(self) -> R {
        self.reader
    }
}

fn io_error(e: Error) -> io::Error {
    match e {
        Error::Decompress { .. } => io::Error::other(e),
        _ => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

impl<R: BufRead> Read for FrameReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let dctx = match self.dctx.take() {
            Some(dctx) => dctx,
            None => DCtx::try_create().ok_or_else(|| io_error(no_state(Operation::Decompress)))?,
        };
        let dctx = self.dctx.insert(dctx);
        loop {
            let input = self.reader.fill_buf()?;
            if input.is_empty() {
                if self.in_frame || !self.started {
                    return Err(io_error(Error::Corrupt { format: FORMAT }));
                }
                return Ok(0);
            }
            let mut src = InBuffer::around(input);
            let mut dst = OutBuffer::around(&mut *buf);
            let left = dctx
                .decompress_stream(&mut dst, &mut src)
                .map_err(|code| io_error(decode_error(code)))?;
            let (consumed, produced) = (src.pos(), dst.pos());
            self.reader.consume(consumed);
            self.started = true;
            self.in_frame = left != 0;
            if produced > 0 {
                return Ok(produced);
            }
            if consumed == 0 {
                // With input and room, libzstd always moves: this is not zstd.
                return Err(io_error(Error::Corrupt { format: FORMAT }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use proptest::prelude::*;

    use super::*;

    /// `printf 'hi\n' | zstd -c` (zstd 1.5.4): no content size, a window descriptor, one raw
    /// block, a checksum.
    const HI_STDIN: [u8; 16] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x19, 0x00, 0x00, 0x68, 0x69, 0x0a, 0x34, 0x3d, 0x50,
        0x92,
    ];
    /// `zstd` on a file of the same three bytes: a single segment of content size 3.
    const HI_FILE: [u8; 16] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x03, 0x19, 0x00, 0x00, 0x68, 0x69, 0x0a, 0x34, 0x3d, 0x50,
        0x92,
    ];
    /// `zstd` on an empty file.
    const EMPTY: [u8; 13] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00, 0x01, 0x00, 0x00, 0x99, 0xe9, 0xd8, 0x51,
    ];
    /// One RLE block of ten 'x': content size 10, no checksum.
    const RLE: [u8; 10] = [0x28, 0xb5, 0x2f, 0xfd, 0x20, 10, 0x53, 0x00, 0x00, b'x'];
    const SKIPPABLE: [u8; 11] = [0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3];

    fn decompressed(input: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        decompress(input, limit, &mut out).map(|()| out)
    }

    fn streamed(input: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        FrameReader::new(io::BufReader::with_capacity(capacity, input)).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn the_walk_reads_frames_byte_by_byte_as_libzstd_does() {
        for (bytes, content) in [
            (&HI_STDIN[..], &b"hi\n"[..]),
            (&HI_FILE, b"hi\n"),
            (&EMPTY, b""),
            (&RLE, b"xxxxxxxxxx"),
        ] {
            let whole = Walk::Frame {
                len: bytes.len(),
                max_output: content.len(),
            };
            let followed = [bytes, b"whatever comes next"].concat();
            for buf in [bytes, &followed] {
                assert_eq!(walk(buf), whole, "{bytes:x?}");
                assert_eq!(zstd_safe::find_frame_compressed_size(buf), Ok(bytes.len()));
            }
            for cut in 0..bytes.len() {
                assert_eq!(walk(&bytes[..cut]), Walk::Incomplete, "cut at {cut}");
                assert!(zstd_safe::find_frame_compressed_size(&bytes[..cut]).is_err());
            }
            assert_eq!(decompressed(bytes, content.len()).unwrap(), content);
            assert_eq!(streamed(bytes, 1).unwrap(), content);
        }
        assert_eq!(walk(&SKIPPABLE), Walk::Skippable { len: 11 });
        assert_eq!(walk(&SKIPPABLE[..8]), Walk::Skippable { len: 11 });
        assert_eq!(walk(&SKIPPABLE[..7]), Walk::Incomplete);
        // v0.1's magic number and v0.7's.
        assert_eq!(walk(&[0xfd, 0x2f, 0xb5, 0x1e, 0]), Walk::Legacy);
        assert_eq!(walk(&[0x27, 0xb5, 0x2f, 0xfd]), Walk::Legacy);
        assert_eq!(walk(&[0x29, 0xb5, 0x2f, 0xfd, 0x24]), Walk::Corrupt);
    }

    #[test]
    fn the_walk_checks_the_header_and_its_blocks() {
        let changed = |at: usize, value: u8| {
            let mut frame = HI_FILE;
            frame[at] = value;
            walk(&frame)
        };
        // The descriptor's reserved bit; a reserved block type; a content size of 4 for three
        // bytes of blocks; a raw block of 4, or of 3 in a window (a single segment) of 2.
        assert_eq!(changed(4, 0x2c), Walk::Corrupt);
        assert_eq!(changed(6, 0x1f), Walk::Corrupt);
        assert_eq!(changed(5, 4), Walk::Corrupt);
        assert_eq!(changed(6, 0x21), Walk::Corrupt);
        assert_eq!(changed(5, 2), Walk::Corrupt);
        // Outside a single segment a smaller content size passes the walk, and libzstd
        // refuses the output.
        let data = vec![7u8; 1 << 20];
        let mut packed = zstd_frame(&data, 1, false, true, 1 << 20);
        assert_eq!(packed[4] & 0x20, 0, "a single segment");
        // A 4-byte content size after the window descriptor.
        packed[6..10].copy_from_slice(&(data.len() as u32 - 1).to_le_bytes());
        assert_eq!(
            walk(&packed),
            Walk::Frame {
                len: packed.len(),
                max_output: data.len() - 1
            }
        );
        assert!(matches!(
            decompressed(&packed, data.len()),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn dictionaries_legacy_frames_and_large_windows_are_unsupported() {
        // HI_STDIN with a 4-byte dictionary id after its window descriptor.
        let mut with_dictionary = HI_STDIN[..6].to_vec();
        with_dictionary[4] |= 3;
        with_dictionary.extend_from_slice(&0x1234_5678u32.to_le_bytes());
        with_dictionary.extend_from_slice(&HI_STDIN[6..]);
        assert_eq!(
            zstd_safe::get_dict_id_from_frame(&with_dictionary).map(|id| id.get()),
            Some(0x1234_5678)
        );
        // HI_STDIN with a 256 MiB window: exponent 18.
        let mut large_window = HI_STDIN;
        large_window[5] = 18 << 3;
        let legacy = [0x27, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0];
        for (input, what) in [
            (&with_dictionary[..], "dictionaries"),
            (&large_window, LARGE_WINDOWS),
            (&legacy, "legacy frames"),
        ] {
            let e = decompressed(input, 100).unwrap_err();
            assert!(
                matches!(e, Error::Unsupported { what: w, .. } if w == what),
                "{e}"
            );
            if what != "legacy frames" {
                // libzstd's own refusal, in the streaming decoder.
                let e = streamed(input, 4096).unwrap_err();
                let inner = e.into_inner().unwrap().downcast::<Error>().unwrap();
                assert!(matches!(*inner, Error::Unsupported { what: w, .. } if w == what));
            }
        }
        assert_eq!(
            LARGE_WINDOWS,
            "windows over 128 MiB (zstd --long=28 and up)"
        );
    }

    #[test]
    fn skippable_frames_are_skipped_and_empty_input_is_corrupt() {
        let input = [&SKIPPABLE[..], &HI_STDIN, &SKIPPABLE, &HI_FILE, &SKIPPABLE].concat();
        assert_eq!(decompressed(&input, 6).unwrap(), b"hi\nhi\n");
        assert_eq!(streamed(&input, 3).unwrap(), b"hi\nhi\n");
        assert_eq!(decompressed(&SKIPPABLE, 0).unwrap(), b"");
        for input in [&b""[..], &input[..input.len() - 1], &HI_STDIN[..15]] {
            assert!(matches!(
                decompressed(input, 100),
                Err(Error::Corrupt { .. })
            ));
            let e = streamed(input, 7).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        }
    }

    /// A frame written by libzstd's streaming compressor, a block ended every `chunk` bytes.
    fn zstd_frame(
        data: &[u8],
        level: i32,
        checksum: bool,
        content_size: bool,
        chunk: usize,
    ) -> Vec<u8> {
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), level).unwrap();
        encoder.include_checksum(checksum).unwrap();
        encoder.include_contentsize(content_size).unwrap();
        if content_size {
            encoder
                .set_pledged_src_size(Some(data.len() as u64))
                .unwrap();
        }
        for piece in data.chunks(chunk.max(1)) {
            encoder.write_all(piece).unwrap();
            encoder.flush().unwrap();
        }
        encoder.finish().unwrap()
    }

    #[test]
    fn frames_without_a_content_size_stream_into_growing_room_within_the_limit() {
        let data: Vec<u8> = (0..3_000_000u32)
            .map(|i| ((i % 251) ^ (i / 4099)) as u8)
            .collect();
        let packed = zstd_frame(&data, 3, true, false, 1 << 20);
        assert!(
            matches!(walk(&packed), Walk::Frame { max_output, .. } if max_output >= data.len())
        );
        let mut out = b"prefix".to_vec();
        decompress(&packed, data.len(), &mut out).unwrap();
        assert!(out[6..] == data[..]);
        let e = decompress(&packed, data.len() - 1, &mut out).unwrap_err();
        assert!(matches!(e, Error::LimitExceeded { limit, .. } if limit == data.len() - 1));
        assert_eq!(out.len(), 6 + data.len());
        // The session an error left mid-frame does not carry over.
        assert!(decompressed(&packed[..packed.len() / 2], usize::MAX).is_err());
        assert!(decompressed(&packed, data.len()).unwrap() == data);
    }

    #[test]
    fn qatkits_frames_have_a_content_size_and_a_checksum_at_every_level() {
        let data = b"zstd, as the zstd tool writes it. ".repeat(3000);
        for level in [1, 0, 22, 3, 19] {
            let mut packed = b"prefix".to_vec();
            compress(level, &data, &mut packed).unwrap();
            let frame = &packed[6..];
            assert!(frame.len() < data.len() / 10, "level {level}");
            assert_eq!(
                zstd_safe::get_frame_content_size(frame).ok(),
                Some(Some(data.len() as u64))
            );
            assert_ne!(frame[4] & 0x04, 0, "level {level}: no checksum");
            assert_eq!(decompressed(frame, data.len()).unwrap(), data);
            let e = decompressed(frame, data.len() - 1).unwrap_err();
            assert!(matches!(e, Error::LimitExceeded { .. }));
        }
        assert!(compress_bound(0) > 0);
        assert_eq!(compress_bound(usize::MAX), usize::MAX);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// On frames of every shape libzstd writes (raw, RLE and compressed blocks, with and
        /// without content size and checksum), the walk finds the length libzstd finds, a
        /// bound that holds (exact with a content size), and that a shorter prefix is
        /// incomplete.
        #[test]
        fn the_walk_agrees_with_libzstd(
            seed in prop::collection::vec(any::<u8>(), 1..64),
            len in 0usize..300_000,
            alphabet in 1u8..=255,
            level in 1i32..=6,
            checksum in any::<bool>(),
            content_size in any::<bool>(),
            chunk in 1usize..200_000,
            cut in any::<prop::sample::Index>(),
            trailing in prop::collection::vec(any::<u8>(), 0..16),
        ) {
            let data: Vec<u8> = seed
                .iter()
                .cycle()
                .enumerate()
                .take(len)
                .map(|(i, b)| b.wrapping_add((i * 7 / 5) as u8) % alphabet)
                .collect();
            let packed = zstd_frame(&data, level, checksum, content_size, chunk);
            let buf = [&packed[..], &trailing].concat();
            let Walk::Frame { len, max_output } = walk(&buf) else {
                return Err(TestCaseError::fail(format!("{:?}", walk(&buf))));
            };
            prop_assert_eq!(Ok(len), zstd_safe::find_frame_compressed_size(&buf));
            prop_assert_eq!(len, packed.len());
            prop_assert!(max_output >= data.len());
            if content_size {
                prop_assert_eq!(max_output, data.len());
            }
            let cut = cut.index(packed.len());
            prop_assert_eq!(walk(&packed[..cut]), Walk::Incomplete);
            prop_assert!(zstd_safe::find_frame_compressed_size(&packed[..cut]).is_err());
            prop_assert_eq!(decompressed(&packed, data.len()).unwrap(), data);
        }
    }
}
