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

/// The most one frame of `len` bytes can take: lz4_flex writes 64 KiB blocks, stored as they
/// are when they do not compress, each behind a 4-byte size; plus the frame header (at most 19
/// bytes), the end mark and the content checksum.
pub(super) fn compress_bound(len: usize) -> usize {
    let blocks = len.div_ceil(64 << 10).max(1);
    len.saturating_add(blocks.saturating_mul(4))
        .saturating_add(19 + 4 + 4)
}

/// Walks the structure of LZ4 frames (magic, descriptor, block sizes, end mark, checksums) as
/// bytes go by, to tell complete frames from cut ones: decoders take a frame cut at a block
/// boundary, or a missing end mark, as complete. Not accepted: the legacy format (`lz4 -l`),
/// which has no end mark, and skippable frames, which lz4_flex does not read (the `lz4` tool
/// writes neither unless asked).
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
    /// The current frame's largest block, decompressed.
    block_max: u64,
    /// The most the frames fed so far can decompress to.
    bound: u64,
    frames: u64,
    broken: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Magic,
    /// FLG and BD.
    Descriptor,
    BlockSize,
}

const MAGIC: u32 = 0x184D_2204;

impl FrameCheck {
    pub(super) fn new() -> Self {
        FrameCheck {
            field: [0; 4],
            got: 0,
            want: Field::Magic,
            skip: 0,
            then: Field::Magic,
            flg: 0,
            block_max: 0,
            bound: 0,
            frames: 0,
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
            Field::Magic => self.broken = true,
            Field::Descriptor => {
                self.flg = self.field[0];
                // BD's block maximum size: 4 → 64 KiB, 5 → 256 KiB, 6 → 1 MiB, 7 → 4 MiB.
                let size_id = (self.field[1] >> 4) & 7;
                if self.flg >> 6 != 1 || size_id < 4 {
                    self.broken = true;
                    return;
                }
                self.block_max = 1 << (8 + 2 * size_id);
                // Content size, dictionary id, then the header checksum byte.
                let optional =
                    8 * u64::from(self.flg & 0x08 != 0) + 4 * u64::from(self.flg & 0x01 != 0) + 1;
                self.pass(optional, Field::BlockSize);
            }
            Field::BlockSize if value == 0 => {
                // The end mark, then the content checksum if the frame has one.
                self.frames += 1;
                self.pass(4 * u64::from(self.flg & 0x04 != 0), Field::Magic);
            }
            Field::BlockSize => {
                let data = u64::from(value & 0x7FFF_FFFF);
                // A stored block is its size; a compressed one at most the frame's maximum, or
                // 255 bytes per byte (each length byte adds at most 255), whichever is less:
                // a header cannot make the bound bigger than the data can.
                let stored = value & 0x8000_0000 != 0;
                self.bound += if stored {
                    data
                } else {
                    self.block_max
                        .min(data.saturating_mul(255).saturating_add(64))
                };
                let checksum = 4 * u64::from(self.flg & 0x10 != 0);
                self.pass(data + checksum, Field::BlockSize);
            }
        }
    }

    /// Whether everything fed is one or more complete frames.
    pub(super) fn complete(&self) -> bool {
        !self.broken
            && self.frames > 0
            && self.want == Field::Magic
            && self.got == 0
            && self.skip == 0
    }
}

/// Whether `input` is one or more complete LZ4 frames.
pub(super) fn frames_complete(input: &[u8]) -> bool {
    output_bound(input).is_some()
}

/// The most that `input` decompresses to (each block at most its frame's block maximum), when
/// it is one or more complete LZ4 frames.
pub(super) fn output_bound(input: &[u8]) -> Option<u64> {
    let mut check = FrameCheck::new();
    check.feed(input);
    check.complete().then_some(check.bound)
}

/// Appends the decompressed frames in `input` to `out`, writing at most `limit` bytes.
pub(super) fn decompress(input: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let format = Format::Lz4;
    if !frames_complete(input) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use lz4_flex::frame::{BlockSize, FrameEncoder, FrameInfo};

    fn frame(data: &[u8], block_size: BlockSize) -> Vec<u8> {
        let info = FrameInfo::new().block_size(block_size);
        let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
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
