//! ISA-L's igzip, the fastest deflate on x86, for levels 0–3: stateless compression through its
//! C API with the stream (about 80 KB) and the level buffers kept per thread (allocating and
//! zeroing them costs as much as compressing a 64 KiB request).

use std::cell::RefCell;

use isal::isal_sys::igzip_lib as sys;

use super::{Error, Format};

/// The levels ISA-L serves.
pub(super) const LEVELS: std::ops::RangeInclusive<u32> = 0..=3;

struct State {
    stream: Box<sys::isal_zstream>,
    /// Index = level.
    level_buffers: [Vec<u8>; 4],
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        stream: zeroed_stream(),
        level_buffers: Default::default(),
    });
}

/// A zeroed stream on the heap (it is too big to build on the stack and move).
fn zeroed_stream() -> Box<sys::isal_zstream> {
    let mut stream = Box::<sys::isal_zstream>::new_uninit();
    // SAFETY: isal_zstream holds only integers, pointers and arrays of them, for which
    // all-zero bytes are valid values; write_bytes zeroes the whole allocation.
    unsafe {
        stream.as_mut_ptr().write_bytes(0, 1);
        stream.assume_init()
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
    let failed = |reason: String| Error::Compress { format, reason };
    let len = u32::try_from(input.len()).map_err(|_| failed("ISA-L takes under 4 GiB".into()))?;
    // Level 0 expands incompressible data by up to about a fifth; the other levels fall back to
    // stored blocks, 5 bytes per 64 KiB. Start with room for both and grow if it overflows.
    let mut room = input.len() + input.len() / 4 + sys::ISAL_DEF_MAX_HDR_SIZE as usize + 64;
    STATE.with_borrow_mut(|state| {
        let State {
            stream,
            level_buffers,
        } = state;
        let level_buf = &mut level_buffers[level as usize];
        level_buf.resize(level_buffer_size(level), 0);
        loop {
            out.reserve(room);
            let spare = &mut out.spare_capacity_mut()[..room];
            let avail_out = u32::try_from(spare.len()).unwrap_or(u32::MAX);
            // SAFETY: `stream` is a valid (zeroed or previously used) stream; init resets the
            // fields a stateless call reads.
            unsafe { sys::isal_deflate_stateless_init(&mut **stream) };
            stream.level = level;
            stream.level_buf = level_buf.as_mut_ptr();
            stream.level_buf_size = level_buf.len() as u32;
            stream.gzip_flag = match format {
                Format::Gzip => sys::IGZIP_GZIP,
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
                    return Ok(());
                }
                sys::STATELESS_OVERFLOW if room < input.len() * 2 + 65536 => room *= 2,
                rc => return Err(failed(format!("ISA-L returned {rc}"))),
            }
        }
    })
}
