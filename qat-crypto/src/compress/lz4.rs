//! LZ4 frames (the format of the `lz4` tool) through lz4_flex. Each request is one frame that
//! records its content size. Decoding reads concatenated frames, skips skippable frames and
//! takes empty input as no frames, as `lz4 -d` does; legacy frames (`lz4 -l`) and frames that
//! need a dictionary are valid LZ4 that qatkit does not read ([`Error::Unsupported`]).

use std::io::{Read as _, Write as _};

use twox_hash::XxHash32;

use super::{Error, Format, Operation};

const FORMAT: Format = Format::Lz4;
const MAGIC: u32 = 0x184D_2204;
const LEGACY_MAGIC: u32 = 0x184C_2102;
/// FLG's content-size and dictionary-id flags.
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_DICTIONARY: u8 = 0x01;

/// Skippable frames (0x184D2A50–0x184D2A5F), which LZ4 and zstd share.
fn is_skippable(magic: u32) -> bool {
    magic & 0xFFFF_FFF0 == 0x184D_2A50
}

fn le32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        buf.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn le64(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        buf.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Appends `input` as one LZ4 frame to `out`. The frame records its content size, so that a
/// decoder knows the exact size of its output before decoding it.
pub(super) fn compress(input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let info = lz4_flex::frame::FrameInfo::new().content_size(Some(input.len() as u64));
    let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, out);
    let failed = |e: &dyn std::fmt::Display| Error::Compress {
        format: FORMAT,
        reason: e.to_string(),
    };
    encoder.write_all(input).map_err(|e| failed(&e))?;
    encoder.finish().map_err(|e| failed(&e))?;
    Ok(())
}

/// The most one frame of `len` bytes can take: lz4_flex writes blocks of 64 KiB or more,
/// stored as they are when they do not compress, each behind a 4-byte size; plus the frame
/// header (at most 19 bytes), the end mark and the content checksum.
pub(super) fn compress_bound(len: usize) -> usize {
    let blocks = len.div_ceil(64 << 10).max(1);
    len.saturating_add(blocks.saturating_mul(4))
        .saturating_add(19 + 4 + 4)
}

/// What starts a buffer of LZ4 or zstd frames, as far as the frames' structure tells without
/// decompressing them: what a decoder needs to cut whole frames out of a stream and hand them
/// to other threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Walk {
    /// A whole frame of `len` bytes, which decompresses to at most `max_output` bytes: exactly
    /// that many when its header records its content size, else the most its blocks can hold.
    Frame { len: usize, max_output: usize },
    /// A skippable frame of `len` bytes, its 8-byte header included. Known from the header
    /// alone: the bytes after it need not be in the buffer yet.
    Skippable { len: usize },
    /// A legacy frame (LZ4's `lz4 -l`; zstd's formats before v0.8): valid data, not read.
    Legacy,
    /// The buffer ends inside a frame: more bytes are needed.
    Incomplete,
    /// Not a frame of the format.
    Corrupt,
}

/// Walks the LZ4 frame at the start of `buf`: the frame descriptor and its checksum, each
/// block's size, the end mark and the content checksum, without decompressing.
pub(super) fn walk(buf: &[u8]) -> Walk {
    match frame(buf) {
        Ok((len, max_output)) => Walk::Frame {
            len,
            max_output: usize::try_from(max_output).unwrap_or(usize::MAX),
        },
        Err(walk) => walk,
    }
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
    match magic {
        MAGIC => {}
        LEGACY_MAGIC => return Err(Walk::Legacy),
        _ => return Err(Walk::Corrupt),
    }
    let (flg, bd) = match buf.get(4..6) {
        Some(&[flg, bd]) => (flg, bd),
        _ => return Err(Walk::Incomplete),
    };
    // Version 01; FLG bit 1 and BD bits 7 and 0-3 are reserved; block maximum 4-7: 64 KiB to
    // 4 MiB.
    let size_id = (bd >> 4) & 7;
    if flg >> 6 != 1 || flg & 0x02 != 0 || bd & 0x8F != 0 || size_id < 4 {
        return Err(Walk::Corrupt);
    }
    let block_max = 1u64 << (8 + 2 * size_id);
    let block_checksum = flg & 0x10 != 0;
    let has_content_size = flg & FLG_CONTENT_SIZE != 0;
    let content_checksum = flg & 0x04 != 0;
    let dictionary = flg & FLG_DICTIONARY != 0;
    // The descriptor runs from FLG to the header checksum: the second byte of its xxh32.
    let checksum_at = 6 + 8 * usize::from(has_content_size) + 4 * usize::from(dictionary);
    let header_checksum = *buf.get(checksum_at).ok_or(Walk::Incomplete)?;
    if (XxHash32::oneshot(0, &buf[4..checksum_at]) >> 8) as u8 != header_checksum {
        return Err(Walk::Corrupt);
    }
    let content_size = if has_content_size { le64(buf, 6) } else { None };
    let mut at = checksum_at + 1;
    let mut bound = 0u64;
    loop {
        let value = le32(buf, at).ok_or(Walk::Incomplete)?;
        at += 4;
        if value == 0 {
            break;
        }
        let size = u64::from(value & 0x7FFF_FFFF);
        if size > block_max {
            return Err(Walk::Corrupt);
        }
        // A stored block holds its size; a compressed one at most the block maximum, and at
        // most 255 bytes per byte (each length byte adds at most 255): a header cannot make
        // the bound larger than the data can.
        let stored = value & 0x8000_0000 != 0;
        bound += if stored {
            size
        } else {
            block_max.min(size * 255 + 64)
        };
        // At most 4 MiB + 4: no overflow.
        at += size as usize + 4 * usize::from(block_checksum);
        if at > buf.len() {
            return Err(Walk::Incomplete);
        }
    }
    at += 4 * usize::from(content_checksum);
    if at > buf.len() {
        return Err(Walk::Incomplete);
    }
    let max_output = match content_size {
        // A header that records more than its blocks can hold is lying.
        Some(size) if size > bound => return Err(Walk::Corrupt),
        Some(size) => size,
        None => bound,
    };
    Ok((at, max_output))
}

/// The most that `input` decompresses to, when it is whole LZ4 frames (skippable ones
/// included): the sum of what [`walk`] says of each. QATzip's decompression starts from it.
#[cfg(any(feature = "qatzip", test))]
pub(super) fn output_bound(input: &[u8]) -> Option<u64> {
    let mut rest = input;
    let mut bound = 0u64;
    while !rest.is_empty() {
        let len = match walk(rest) {
            Walk::Frame { len, max_output } => {
                bound = bound.saturating_add(max_output as u64);
                len
            }
            Walk::Skippable { len } if len <= rest.len() => len,
            _ => return None,
        };
        rest = &rest[len..];
    }
    Some(bound)
}

/// Appends the decompressed frames in `input` to `out`, writing at most `limit` bytes; on an
/// error `out` is as it was.
pub(super) fn decompress(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let start = out.len();
    let result = decompress_frames(input, limit, start, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn decompress_frames(
    mut rest: &[u8],
    limit: usize,
    start: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    while !rest.is_empty() {
        let len = match walk(rest) {
            Walk::Frame { len, max_output } => {
                let room = limit - (out.len() - start);
                decompress_frame(&rest[..len], max_output, room, limit, out)?;
                len
            }
            Walk::Skippable { len } if len <= rest.len() => len,
            Walk::Legacy => {
                return Err(Error::Unsupported {
                    format: FORMAT,
                    what: "legacy frames",
                });
            }
            _ => return Err(Error::Corrupt { format: FORMAT }),
        };
        rest = &rest[len..];
    }
    Ok(())
}

/// Appends the decompressed `frame`, a whole frame that decompresses to at most `max_output`
/// bytes (as [`walk`] found it), to `out`, writing at most `room` of the `limit` bytes.
fn decompress_frame(
    frame: &[u8],
    max_output: usize,
    room: usize,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let format = FORMAT;
    let flg = frame[4];
    if flg & FLG_DICTIONARY != 0 {
        return Err(Error::Unsupported {
            format,
            what: "dictionaries",
        });
    }
    // A recorded size is exact: checked against the blocks by the walk, and against the
    // output by lz4_flex.
    if flg & FLG_CONTENT_SIZE != 0 && max_output > room {
        return Err(Error::LimitExceeded { format, limit });
    }
    // One byte past the room tells "exactly at the limit" from "over it".
    let most = room.saturating_add(1);
    let capacity = max_output.min(most);
    out.try_reserve(capacity)
        .map_err(|_| Operation::Decompress.no_room(format, capacity))?;
    let before = out.len();
    let mut src = frame;
    lz4_flex::frame::FrameDecoder::new(&mut src)
        .take(most as u64)
        .read_to_end(out)
        .map_err(|_| Error::Corrupt { format })?;
    if out.len() - before > room {
        return Err(Error::LimitExceeded { format, limit });
    }
    // lz4_flex stops at the frame's end: what it left unread, the walk took for the frame.
    if !src.is_empty() {
        return Err(Error::Corrupt { format });
    }
    Ok(())
}

/// Follows the structure of LZ4 frames as bytes go by (what [`walk`] does on a buffer), for
/// the streaming decoder, to tell a stream that ends between frames from one cut inside a
/// frame: lz4_flex takes a frame cut at a block boundary, or without its end mark, as
/// complete. Skippable frames are passed over; anything else but a frame breaks the check.
#[derive(Debug)]
pub(super) struct FrameCheck {
    /// The field being collected, and its length.
    field: [u8; 4],
    got: usize,
    want: Field,
    /// Bytes to pass over before the next field (block data, checksums, optional fields).
    skip: u64,
    /// After the skip, the next field.
    then: Field,
    /// The current frame's FLG byte.
    flg: u8,
    broken: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Magic,
    /// A skippable frame's size.
    SkippableSize,
    /// FLG and BD.
    Descriptor,
    BlockSize,
}

impl FrameCheck {
    pub(super) fn new() -> Self {
        FrameCheck {
            field: [0; 4],
            got: 0,
            want: Field::Magic,
            skip: 0,
            then: Field::Magic,
            flg: 0,
            broken: false,
        }
    }

    fn field_len(field: Field) -> usize {
        match field {
            Field::Descriptor => 2,
            _ => 4,
        }
    }

    fn pass(&mut self, bytes: u64, then: Field) {
        self.skip = bytes;
        self.then = then;
        if bytes == 0 {
            self.want = then;
        }
    }

    pub(super) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.broken {
            if self.skip > 0 {
                let n = data
                    .len()
                    .min(usize::try_from(self.skip).unwrap_or(usize::MAX));
                self.skip -= n as u64;
                data = &data[n..];
                if self.skip == 0 {
                    self.want = self.then;
                }
                continue;
            }
            let need = Self::field_len(self.want) - self.got;
            let n = need.min(data.len());
            self.field[self.got..self.got + n].copy_from_slice(&data[..n]);
            self.got += n;
            data = &data[n..];
            if self.got == Self::field_len(self.want) {
                self.got = 0;
                self.field_done();
            }
        }
    }

    fn field_done(&mut self) {
        let value = u32::from_le_bytes(self.field);
        match self.want {
            Field::Magic if value == MAGIC => self.want = Field::Descriptor,
            Field::Magic if is_skippable(value) => self.want = Field::SkippableSize,
            Field::Magic => self.broken = true,
            Field::SkippableSize => self.pass(u64::from(value), Field::Magic),
            Field::Descriptor => {
                self.flg = self.field[0];
                let size_id = (self.field[1] >> 4) & 7;
                if self.flg >> 6 != 1 || size_id < 4 {
                    self.broken = true;
                    return;
                }
                // Content size, dictionary id, then the header checksum byte.
                let optional =
                    8 * u64::from(self.flg & 0x08 != 0) + 4 * u64::from(self.flg & 0x01 != 0) + 1;
                self.pass(optional, Field::BlockSize);
            }
            Field::BlockSize if value == 0 => {
                // The end mark, then the content checksum if the frame has one.
                self.pass(4 * u64::from(self.flg & 0x04 != 0), Field::Magic);
            }
            Field::BlockSize => {
                let data = u64::from(value & 0x7FFF_FFFF);
                let checksum = 4 * u64::from(self.flg & 0x10 != 0);
                self.pass(data + checksum, Field::BlockSize);
            }
        }
    }

    /// Whether everything fed is whole frames: none, for an empty stream, as `lz4 -d` reads
    /// an empty file.
    pub(super) fn complete(&self) -> bool {
        !self.broken && self.want == Field::Magic && self.got == 0 && self.skip == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    use proptest::prelude::*;

    fn frame(data: &[u8], block_size: BlockSize) -> Vec<u8> {
        frame_with(data, FrameInfo::new().block_size(block_size))
    }

    fn frame_with(data: &[u8], info: FrameInfo) -> Vec<u8> {
        let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// `printf 'hi\n' | lz4 -c` (lz4 1.9.4): a stored block and a content checksum.
    const HI: [u8; 22] = [
        0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x03, 0x00, 0x00, 0x80, 0x68, 0x69, 0x0a, 0x00,
        0x00, 0x00, 0x00, 0xd3, 0xe3, 0x0f, 0xd2,
    ];
    /// `lz4 --content-size` on the same three bytes.
    const HI_CONTENT_SIZE: [u8; 30] = [
        0x04, 0x22, 0x4d, 0x18, 0x6c, 0x40, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x29,
        0x03, 0x00, 0x00, 0x80, 0x68, 0x69, 0x0a, 0x00, 0x00, 0x00, 0x00, 0xd3, 0xe3, 0x0f, 0xd2,
    ];
    /// `lz4 --no-frame-crc`: no content checksum.
    const HI_NO_CRC: [u8; 18] = [
        0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0x03, 0x00, 0x00, 0x80, 0x68, 0x69, 0x0a, 0x00,
        0x00, 0x00, 0x00,
    ];
    /// `lz4 -BX`: block checksums too.
    const HI_BLOCK_CRC: [u8; 26] = [
        0x04, 0x22, 0x4d, 0x18, 0x74, 0x40, 0xbd, 0x03, 0x00, 0x00, 0x80, 0x68, 0x69, 0x0a, 0xd3,
        0xe3, 0x0f, 0xd2, 0x00, 0x00, 0x00, 0x00, 0xd3, 0xe3, 0x0f, 0xd2,
    ];
    /// `lz4 -l`: the legacy format.
    const HI_LEGACY: [u8; 12] = [
        0x02, 0x21, 0x4c, 0x18, 0x04, 0x00, 0x00, 0x00, 0x30, 0x68, 0x69, 0x0a,
    ];

    /// Sets the header checksum of the frame descriptor that ends before `at`.
    fn seal(frame: &mut [u8], at: usize) {
        frame[at] = (XxHash32::oneshot(0, &frame[4..at]) >> 8) as u8;
    }

    #[test]
    fn the_walk_reads_the_lz4_tools_frames_byte_by_byte() {
        for bytes in [&HI[..], &HI_CONTENT_SIZE, &HI_NO_CRC, &HI_BLOCK_CRC] {
            let whole = Walk::Frame {
                len: bytes.len(),
                max_output: 3,
            };
            assert_eq!(walk(bytes), whole, "{bytes:x?}");
            let followed = [bytes, b"whatever comes next"].concat();
            assert_eq!(walk(&followed), whole);
            for cut in 0..bytes.len() {
                assert_eq!(walk(&bytes[..cut]), Walk::Incomplete, "cut at {cut}");
            }
            let mut out = b"kept".to_vec();
            decompress(bytes, 3, &mut out).unwrap();
            assert_eq!(out, b"kepthi\n");
        }
        assert_eq!(walk(&HI_LEGACY), Walk::Legacy);
        assert_eq!(walk(&HI_LEGACY[..4]), Walk::Legacy);
        // A skippable frame is known from its 8-byte header.
        let skippable = [0x5f, 0x2a, 0x4d, 0x18, 5, 0, 0, 0];
        assert_eq!(walk(&skippable), Walk::Skippable { len: 13 });
        assert_eq!(walk(&skippable[..7]), Walk::Incomplete);
        assert_eq!(walk(b"\x04\x22\x4d\x19 not a magic"), Walk::Corrupt);
    }

    #[test]
    fn the_walk_checks_the_header_and_its_blocks() {
        // The header checksum covers the descriptor.
        let mut flipped = HI_NO_CRC;
        flipped[5] ^= 0x10;
        assert_eq!(walk(&flipped), Walk::Corrupt);
        seal(&mut flipped, 6);
        assert_eq!(
            walk(&flipped),
            Walk::Frame {
                len: 18,
                max_output: 3
            }
        );
        // A version other than 01, reserved bits, a reserved block maximum.
        for (at, value) in [(4, 0xa0), (4, 0x62), (5, 0xc0), (5, 0x30), (5, 0x41)] {
            let mut bad = HI_NO_CRC;
            bad[at] = value;
            seal(&mut bad, 6);
            assert_eq!(walk(&bad), Walk::Corrupt, "byte {at} = {value:#x}");
        }
        // A block larger than the maximum (64 KiB here).
        let mut big = HI_NO_CRC.to_vec();
        big[7..11].copy_from_slice(&(0x8000_0000u32 | 0x1_0001).to_le_bytes());
        assert_eq!(walk(&big), Walk::Corrupt);
        // A content size larger than the blocks hold.
        let mut lying = HI_CONTENT_SIZE;
        lying[6] = 4;
        seal(&mut lying, 14);
        assert_eq!(walk(&lying), Walk::Corrupt);
        lying[6] = 2;
        seal(&mut lying, 14);
        assert!(matches!(walk(&lying), Walk::Frame { max_output: 2, .. }));
        assert!(matches!(
            decompress(&lying, 100, &mut Vec::new()),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn legacy_frames_and_dictionaries_are_unsupported_and_skippable_frames_are_skipped() {
        let mut out = Vec::new();
        let e = decompress(&HI_LEGACY, 100, &mut out).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Unsupported {
                    what: "legacy frames",
                    ..
                }
            ),
            "{e}"
        );
        // The dictionary flag, and a dictionary id before the header checksum.
        let mut with_dictionary = HI_NO_CRC[..6].to_vec();
        with_dictionary[4] |= FLG_DICTIONARY;
        with_dictionary.extend_from_slice(&7u32.to_le_bytes());
        with_dictionary.push(0);
        seal(&mut with_dictionary, 10);
        with_dictionary.extend_from_slice(&HI_NO_CRC[7..]);
        assert_eq!(
            walk(&with_dictionary),
            Walk::Frame {
                len: 22,
                max_output: 3
            }
        );
        let e = decompress(&with_dictionary, 100, &mut out).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Unsupported {
                    what: "dictionaries",
                    ..
                }
            ),
            "{e}"
        );
        let skippable = [0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 0xaa, 0xbb];
        let input = [&skippable[..], &HI, &skippable, &HI, &skippable].concat();
        decompress(&input, 100, &mut out).unwrap();
        assert_eq!(out, b"hi\nhi\n");
        assert_eq!(output_bound(&input), Some(6));
        // Cut inside a skippable frame.
        let e = decompress(&input[..input.len() - 1], 100, &mut out).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e}");
        assert_eq!(out, b"hi\nhi\n");
    }

    #[test]
    fn the_frame_check_passes_skippable_frames_and_takes_no_frames_as_whole() {
        let skippable = [0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 0xaa, 0xbb];
        let input = [&skippable[..], &HI, &skippable].concat();
        let mut check = FrameCheck::new();
        assert!(check.complete());
        for (i, byte) in input.iter().enumerate() {
            check.feed(std::slice::from_ref(byte));
            let boundary = [10, 32, 42].contains(&(i + 1));
            assert_eq!(check.complete(), boundary, "after {} bytes", i + 1);
        }
        let mut legacy = FrameCheck::new();
        legacy.feed(&HI_LEGACY);
        assert!(!legacy.complete());
    }

    #[test]
    fn qatkits_frames_record_their_content_size() {
        let data = b"qat ".repeat(30_000);
        let mut packed = Vec::new();
        compress(&data, &mut packed).unwrap();
        assert_ne!(packed[4] & FLG_CONTENT_SIZE, 0);
        assert_eq!(le64(&packed, 6), Some(data.len() as u64));
        assert_eq!(
            walk(&packed),
            Walk::Frame {
                len: packed.len(),
                max_output: data.len()
            }
        );
        // Over the limit by what the header says, before decoding anything.
        let e = decompress(&packed, data.len() - 1, &mut Vec::new()).unwrap_err();
        assert!(matches!(e, Error::LimitExceeded { limit, .. } if limit == data.len() - 1));
    }

    fn block_size(i: u8) -> BlockSize {
        [
            BlockSize::Max64KB,
            BlockSize::Max256KB,
            BlockSize::Max1MB,
            BlockSize::Max4MB,
        ][usize::from(i % 4)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// On frames of every kind lz4_flex writes, the walk finds the frame's exact length
        /// (what decompression uses), a bound that holds (exact with a content size), and
        /// that every shorter prefix is incomplete.
        #[test]
        fn the_walk_agrees_with_decompression(
            seed in prop::collection::vec(any::<u8>(), 1..64),
            len in 0usize..400_000,
            alphabet in 1u8..=255,
            size in any::<u8>(),
            linked in any::<bool>(),
            block_checksums in any::<bool>(),
            content_checksum in any::<bool>(),
            content_size in any::<bool>(),
            cut in any::<prop::sample::Index>(),
            trailing in prop::collection::vec(any::<u8>(), 0..16),
        ) {
            // Bytes from a small alphabet compress; from all 256 they mostly do not.
            let data: Vec<u8> = seed
                .iter()
                .cycle()
                .enumerate()
                .take(len)
                .map(|(i, b)| b.wrapping_add((i * 7 / 5) as u8) % alphabet)
                .collect();
            let info = FrameInfo::new()
                .block_size(block_size(size))
                .block_mode(if linked { BlockMode::Linked } else { BlockMode::Independent })
                .block_checksums(block_checksums)
                .content_checksum(content_checksum)
                .content_size(content_size.then_some(data.len() as u64));
            let packed = frame_with(&data, info);
            let buf = [&packed[..], &trailing].concat();
            let Walk::Frame { len, max_output } = walk(&buf) else {
                return Err(TestCaseError::fail(format!("{:?}", walk(&buf))));
            };
            prop_assert_eq!(len, packed.len());
            prop_assert!(max_output >= data.len());
            if content_size {
                prop_assert_eq!(max_output, data.len());
            }
            prop_assert_eq!(walk(&packed[..cut.index(packed.len())]), Walk::Incomplete);
            let mut out = Vec::new();
            decompress(&packed, data.len(), &mut out).unwrap();
            prop_assert_eq!(out, data);
        }
    }

    /// Runs `lz4 ARGS FILE -c` on a file holding `data`; `None` when lz4 is not installed
    /// (unless `QATKIT_REQUIRE_TOOLS` is set, as CI sets it).
    fn lz4_tool(args: &[&str], data: &[u8]) -> Option<Vec<u8>> {
        let path = std::env::temp_dir().join(format!(
            "qatkit-lz4-walk-{}-{}",
            std::process::id(),
            args.join("")
        ));
        std::fs::write(&path, data).unwrap();
        let run = std::process::Command::new("lz4")
            .args(args)
            .args(["-c", "-q"])
            .arg(&path)
            .output();
        std::fs::remove_file(&path).unwrap();
        match run {
            Ok(out) => {
                assert!(out.status.success(), "lz4 {args:?} failed");
                Some(out.stdout)
            }
            Err(e) => {
                assert!(
                    std::env::var_os("QATKIT_REQUIRE_TOOLS").is_none(),
                    "lz4: {e}"
                );
                eprintln!("skipped: lz4: {e} (Debian package lz4)");
                None
            }
        }
    }

    #[test]
    fn the_walk_agrees_with_decompression_on_what_the_lz4_tool_writes() {
        let text = b"QuickAssist offloads compression. ".repeat(40_000);
        for args in [
            &["-1"][..],
            &["-9"],
            &["-B4"],
            &["-B5", "--content-size"],
            &["-B4", "-BD"],
            &["-B4", "-BX", "--no-frame-crc"],
            &["-B7", "--content-size", "-BD"],
        ] {
            let Some(packed) = lz4_tool(args, &text) else {
                return;
            };
            let Walk::Frame { len, max_output } = walk(&packed) else {
                panic!("lz4 {args:?}: {:?}", walk(&packed));
            };
            assert_eq!(len, packed.len(), "lz4 {args:?}");
            assert!(max_output >= text.len(), "lz4 {args:?}");
            if args.contains(&"--content-size") {
                assert_eq!(max_output, text.len(), "lz4 {args:?}");
            }
            let mut out = Vec::new();
            decompress(&packed, text.len(), &mut out).unwrap();
            assert!(out == text, "lz4 {args:?}");
        }
        let Some(legacy) = lz4_tool(&["-l"], &text) else {
            return;
        };
        assert_eq!(walk(&legacy), Walk::Legacy);
    }

    #[test]
    fn the_output_bound_holds_and_follows_the_data_not_the_header() {
        let text = b"virtual function ".repeat(40_000);
        let noise: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for size in [BlockSize::Max64KB, BlockSize::Max256KB, BlockSize::Max4MB] {
            for data in [&text[..], &noise[..], b"x"] {
                let packed = frame(data, size);
                let bound = output_bound(&packed).unwrap();
                assert!(
                    bound >= data.len() as u64,
                    "{size:?}: {bound} < {}",
                    data.len()
                );
                // Never more than the data can give: 255 bytes per byte and a little.
                assert!(bound <= 255 * packed.len() as u64 + 64 * 64, "{size:?}");
            }
        }
        // Stored blocks count as what they hold.
        let stored = frame(&noise, BlockSize::Max64KB);
        assert!(output_bound(&stored).unwrap() < noise.len() as u64 + 64 * 1024);
    }

    #[test]
    fn reserved_block_sizes_and_cut_frames_have_no_bound() {
        let packed = frame(b"qat qat qat qat", BlockSize::Max64KB);
        let mut reserved = packed.clone();
        // BD's block size id: 3 and below are reserved.
        reserved[5] = (reserved[5] & 0x8f) | (3 << 4);
        assert_eq!(output_bound(&reserved), None);
        assert_eq!(output_bound(&packed[..packed.len() - 1]), None);
        assert!(output_bound(&packed).is_some());
    }
}
