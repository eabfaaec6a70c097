//! ISA-L's igzip, the fastest deflate on x86, for levels 0–3: stateless compression through its
//! C API with the stream (about 80 KB) and the level buffers kept per thread (allocating and
//! zeroing them costs as much as compressing a 64 KiB request). Also its inflate, for data a
//! compressor wrote at maximum effort (level 8 and up: long matches), and for ISA-L's own
//! output (qatkit's members at levels 0–1), which ISA-L decodes faster than libdeflate
//! (`gzip_decompress_level9` in benches/benches/compress.rs; `qzip -d -T 1` of qatkit's
//! level-1 members took 35 ms of CPU through ISA-L, 39 through libdeflate, on 30 MB);
//! libdeflate is faster on the rest, libdeflate's own fastest level included (1.13× at 1 MiB). A gzip member's header is qatkit's (`gzip`, recording the
//! member's length); ISA-L writes the deflate data and the trailer after it.

use std::cell::RefCell;

use isal::isal_sys::igzip_lib as sys;

use super::inflate::Step;
use super::{Error, Format, Operation, gzip};

/// The levels ISA-L serves.
pub(super) const LEVELS: std::ops::RangeInclusive<u32> = 0..=3;

struct State {
    stream: Box<sys::isal_zstream>,
    inflate: Box<sys::inflate_state>,
    /// Index = level.
    level_buffers: [Vec<u8>; 4],
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        stream: zeroed(),
        inflate: zeroed(),
        level_buffers: Default::default(),
    });
}

/// ISA-L's stream states: only integers, pointers, and arrays and unions of them, for which
/// all-zero bytes are valid values.
pub(super) trait PlainData {}
impl PlainData for sys::isal_zstream {}
impl PlainData for sys::inflate_state {}

/// A zeroed ISA-L state on the heap (too big to build on the stack and move).
pub(super) fn zeroed<T: PlainData>() -> Box<T> {
    let mut state = Box::<T>::new_uninit();
    // SAFETY: T is PlainData, so all-zero bytes are a valid T; write_bytes zeroes the whole
    // allocation.
    unsafe {
        state.as_mut_ptr().write_bytes(0, 1);
        state.assume_init()
    }
}

fn level_buffer_size(level: u32) -> usize {
    (match level {
        0 => sys::ISAL_DEF_LVL0_DEFAULT,
        1 => sys::ISAL_DEF_LVL1_DEFAULT,
        2 => sys::ISAL_DEF_LVL2_DEFAULT,
        _ => sys::ISAL_DEF_LVL3_DEFAULT,
    }) as usize
}

/// Appends `input` compressed at `level` (0–3) to `out`.
pub(super) fn compress(
    format: Format,
    level: u32,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let len = u32::try_from(input.len()).map_err(|_| Error::RequestTooLarge {
        operation: Operation::Compress,
        format,
        library: "ISA-L",
        len: input.len(),
    })?;
    // Level 0 expands incompressible data by up to about a fifth; the other levels fall back to
    // stored blocks, 5 bytes per 64 KiB. Start with room for both and grow if it overflows, up
    // to a room nothing overflows.
    let mut room = input.len() + input.len() / 4 + sys::ISAL_DEF_MAX_HDR_SIZE as usize + 64;
    let max_room = input.len() * 2 + 65536;
    // gzip: qatkit writes the header, recording the member's length; ISA-L the rest.
    let member = match format {
        Format::Gzip => {
            let header = gzip::QK_HEADER_LEN;
            out.try_reserve(header + room)
                .map_err(|_| Operation::Compress.no_room(format, header + room))?;
            Some(gzip::begin_member(level, header + max_room, out))
        }
        _ => None,
    };
    STATE.with_borrow_mut(|state| {
        let State {
            stream,
            level_buffers,
            ..
        } = state;
        let level_buf = &mut level_buffers[level as usize];
        level_buf.resize(level_buffer_size(level), 0);
        loop {
            out.try_reserve(room)
                .map_err(|_| Operation::Compress.no_room(format, room))?;
            let spare = &mut out.spare_capacity_mut()[..room];
            let avail_out = u32::try_from(spare.len()).unwrap_or(u32::MAX);
            // SAFETY: `stream` is a valid (zeroed or previously used) stream; init resets the
            // fields a stateless call reads.
            unsafe { sys::isal_deflate_stateless_init(&mut **stream) };
            stream.level = level;
            stream.level_buf = level_buf.as_mut_ptr();
            stream.level_buf_size = level_buf.len() as u32;
            stream.gzip_flag = match format {
                Format::Gzip => sys::IGZIP_GZIP_NO_HDR,
                Format::Zlib => sys::IGZIP_ZLIB,
                _ => sys::IGZIP_DEFLATE,
            } as u16;
            stream.end_of_stream = 1;
            stream.next_in = input.as_ptr().cast_mut();
            stream.avail_in = len;
            stream.next_out = spare.as_mut_ptr().cast::<u8>();
            stream.avail_out = avail_out;
            // SAFETY: ISA-L reads `avail_in` bytes from `next_in` (it never writes there), writes
            // at most `avail_out` bytes at `next_out` (spare capacity of `out`), and uses the
            // level buffer of the size given; all outlive the call.
            let rc = unsafe { sys::isal_deflate_stateless(&mut **stream) };
            match rc {
                0 => {
                    let written = (avail_out - stream.avail_out) as usize;
                    // SAFETY: ISA-L initialized `written` bytes of the spare capacity.
                    unsafe { out.set_len(out.len() + written) };
                    return match member {
                        Some(member) => member.finish(out),
                        None => Ok(()),
                    };
                }
                sys::STATELESS_OVERFLOW if room < max_room => room = (room * 2).min(max_room),
                rc => {
                    return Err(Error::Compress {
                        format,
                        reason: format!("ISA-L returned {rc}"),
                    });
                }
            }
        }
    })
}

/// Whether `input` (gzip or zlib) says its compressor worked at maximum effort — gzip's XFL of
/// 2, zlib's FLEVEL of 3 (zlib, gzip and libdeflate write them from level 8 or 9 up) — or is a
/// member qatkit wrote at its fastest levels (XFL 4 and the `QK` subfield: ISA-L's output).
/// Other writers' fastest levels (libdeflate's, XFL 4 too) libdeflate inflates faster.
pub(super) fn inflates_faster(format: Format, input: &[u8]) -> bool {
    match format {
        Format::Gzip => match input.get(8) {
            Some(2) => true,
            Some(4) => input.get(12..14) == Some(b"QK"),
            _ => false,
        },
        Format::Zlib => input.len() > 2 && input[1] >> 6 == 3,
        _ => false,
    }
}

/// Inflates one gzip member or zlib stream from the start of `input` into at most `capacity`
/// bytes of `out`'s spare capacity (which must have that many); `None` when ISA-L cannot say
/// (sizes over 4 GiB, truncated or corrupt input: libdeflate then decides).
pub(super) fn inflate_step(
    format: Format,
    input: &[u8],
    out: &mut Vec<u8>,
    capacity: usize,
) -> Option<Step> {
    let avail_in = u32::try_from(input.len()).ok()?;
    let avail_out = u32::try_from(capacity).ok()?;
    STATE.with_borrow_mut(|state| {
        let inflate = &mut *state.inflate;
        // SAFETY: `inflate` is a valid (zeroed or used) state; init resets it.
        unsafe { sys::isal_inflate_init(inflate) };
        inflate.crc_flag = match format {
            Format::Gzip => sys::ISAL_GZIP,
            _ => sys::ISAL_ZLIB,
        };
        inflate.next_in = input.as_ptr().cast_mut();
        inflate.avail_in = avail_in;
        inflate.next_out = out.spare_capacity_mut()[..capacity]
            .as_mut_ptr()
            .cast::<u8>();
        inflate.avail_out = avail_out;
        // SAFETY: ISA-L reads `avail_in` bytes at `next_in` (never writing there) and writes at
        // most `avail_out` bytes at `next_out`, spare capacity of `out`; both outlive the call.
        let rc = unsafe { sys::isal_inflate_stateless(inflate) };
        match rc {
            0 => {
                let produced = (avail_out - inflate.avail_out) as usize;
                // SAFETY: ISA-L initialized `produced` bytes of the spare capacity.
                unsafe { out.set_len(out.len() + produced) };
                let consumed = input.len() - inflate.avail_in as usize;
                Some(Step::Done { consumed })
            }
            rc if rc == sys::ISAL_OUT_OVERFLOW as i32 => Some(Step::NoSpace),
            _ => None,
        }
    })
}
