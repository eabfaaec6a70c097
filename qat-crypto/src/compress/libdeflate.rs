//! libdeflate through its C API: the compressor for deflate levels ISA-L does not serve, and the
//! decompressor for every deflate format. Called through `libdeflate-sys` rather than the
//! `libdeflater` wrapper for two things the wrapper lacks: the `_ex` calls that say how much
//! input a gzip member used (gzip files are often several members), and writing into a `Vec`'s
//! spare capacity without zero-filling it first. State is kept per thread and reused. A gzip
//! member is qatkit's header (`gzip`, recording the member's length) around libdeflate's raw
//! deflate, with the trailer from libdeflate's CRC-32.

use std::cell::RefCell;
use std::ptr::NonNull;

use libdeflate_sys as sys;

use super::crc::crc32;
use super::inflate::Step;
use super::{Error, Format, Operation, gzip};

struct Compressor(NonNull<sys::libdeflate_compressor>);

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: the pointer came from libdeflate_alloc_compressor and is freed once, here.
        unsafe { sys::libdeflate_free_compressor(self.0.as_ptr()) }
    }
}

struct Decompressor(NonNull<sys::libdeflate_decompressor>);

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the pointer came from libdeflate_alloc_decompressor and is freed once, here.
        unsafe { sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

#[derive(Default)]
struct State {
    /// Index = level (1–12).
    compressors: Vec<Option<Compressor>>,
    decompressor: Option<Decompressor>,
}

thread_local! {
    // Allocating a compressor costs more than compressing a small request.
    static STATE: RefCell<State> = RefCell::default();
}

fn out_of_memory(operation: Operation, format: Format) -> Error {
    operation.failed(format, "libdeflate could not allocate its state")
}

/// Appends `input` compressed at `level` (1–12) to `out`.
pub(super) fn compress(
    format: Format,
    level: u32,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    STATE.with_borrow_mut(|state| {
        let index = level as usize;
        if state.compressors.len() <= index {
            state.compressors.resize_with(index + 1, || None);
        }
        let compressor = match &mut state.compressors[index] {
            Some(c) => c.0.as_ptr(),
            slot => {
                // SAFETY: plain allocation call; a null result is handled below.
                let raw = unsafe { sys::libdeflate_alloc_compressor(level as i32) };
                let c =
                    NonNull::new(raw).ok_or_else(|| out_of_memory(Operation::Compress, format))?;
                slot.insert(Compressor(c)).0.as_ptr()
            }
        };
        match format {
            // qatkit writes gzip's header and trailer itself, to record the member's length.
            Format::Gzip => compress_gzip(compressor, level, input, out),
            _ => compress_whole(compressor, format, input, out),
        }
    })
}

/// Appends zlib or raw deflate.
fn compress_whole(
    compressor: *mut sys::libdeflate_compressor,
    format: Format,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    // SAFETY: `compressor` is a live compressor owned by this thread's state.
    let bound = unsafe {
        match format {
            Format::Zlib => sys::libdeflate_zlib_compress_bound(compressor, input.len()),
            _ => sys::libdeflate_deflate_compress_bound(compressor, input.len()),
        }
    };
    out.try_reserve(bound)
        .map_err(|_| Operation::Compress.no_room(format, bound))?;
    let spare = out.spare_capacity_mut();
    let (dst, avail) = (spare.as_mut_ptr().cast::<std::ffi::c_void>(), spare.len());
    let src = input.as_ptr().cast::<std::ffi::c_void>();
    // SAFETY: `src` is valid for input.len() bytes; `dst` for `avail` writable bytes of the Vec's
    // spare capacity, which libdeflate only writes to.
    let written = unsafe {
        match format {
            Format::Zlib => sys::libdeflate_zlib_compress(compressor, src, input.len(), dst, avail),
            _ => sys::libdeflate_deflate_compress(compressor, src, input.len(), dst, avail),
        }
    };
    append_written(format, written, out)
}

/// Appends one gzip member: qatkit's header, raw deflate, the trailer.
fn compress_gzip(
    compressor: *mut sys::libdeflate_compressor,
    level: u32,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let format = Format::Gzip;
    // SAFETY: `compressor` is a live compressor owned by this thread's state.
    let bound = unsafe { sys::libdeflate_deflate_compress_bound(compressor, input.len()) };
    let max_len = gzip::QK_HEADER_LEN + bound + gzip::TRAILER_LEN;
    out.try_reserve(max_len)
        .map_err(|_| Operation::Compress.no_room(format, max_len))?;
    let member = gzip::begin_member(level, max_len, out);
    let spare = out.spare_capacity_mut();
    let (dst, avail) = (spare.as_mut_ptr().cast::<std::ffi::c_void>(), spare.len());
    let src = input.as_ptr().cast::<std::ffi::c_void>();
    // SAFETY: as in compress_whole: `src` is valid for input.len() bytes, `dst` for `avail`
    // writable bytes of the Vec's spare capacity.
    let written =
        unsafe { sys::libdeflate_deflate_compress(compressor, src, input.len(), dst, avail) };
    append_written(format, written, out)?;
    // Within the capacity reserved above: no reallocation.
    out.extend_from_slice(&gzip::trailer(crc32(0, input), input.len()));
    member.finish(out)
}

/// Takes the `written` bytes libdeflate put in `out`'s spare capacity; 0 is its "no room".
fn append_written(format: Format, written: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    if written == 0 {
        return Err(Error::Compress {
            format,
            reason: "output larger than libdeflate's own bound".into(),
        });
    }
    // SAFETY: libdeflate initialized the first `written` bytes of the spare capacity.
    unsafe { out.set_len(out.len() + written) };
    Ok(())
}

/// Decompresses one gzip member, or one zlib or raw stream, from the start of `input` into at
/// most `capacity` bytes of `out`'s spare capacity (which must have that many).
fn step(
    d: *mut sys::libdeflate_decompressor,
    format: Format,
    input: &[u8],
    out: &mut Vec<u8>,
    capacity: usize,
) -> Step {
    let spare = &mut out.spare_capacity_mut()[..capacity];
    let dst = spare.as_mut_ptr().cast::<std::ffi::c_void>();
    let src = input.as_ptr().cast::<std::ffi::c_void>();
    let decompress_ex = match format {
        Format::Gzip => sys::libdeflate_gzip_decompress_ex,
        Format::Zlib => sys::libdeflate_zlib_decompress_ex,
        _ => sys::libdeflate_deflate_decompress_ex,
    };
    let (mut consumed, mut produced) = (0usize, 0usize);
    // SAFETY: `d` is a live decompressor; `src` is valid for input.len() bytes, `dst` for
    // `capacity` writable bytes of the Vec's spare capacity; the result pointers are locals.
    let result = unsafe {
        decompress_ex(
            d,
            src,
            input.len(),
            dst,
            capacity,
            &mut consumed,
            &mut produced,
        )
    };
    match result {
        sys::libdeflate_result_LIBDEFLATE_SUCCESS => {
            // SAFETY: on success libdeflate initialized `produced` bytes of the spare capacity.
            unsafe { out.set_len(out.len() + produced) };
            Step::Done { consumed }
        }
        sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Step::NoSpace,
        _ => Step::Corrupt,
    }
}

/// The most deflate output `len` bytes can compress to at any level, by libdeflate's own bound
/// (asked without a compressor, which makes it hold for every level), with room for ISA-L's
/// smaller stored blocks on top; gzip adds qatkit's header and the trailer.
pub(super) fn compress_bound(format: Format, len: usize) -> usize {
    let null = std::ptr::null_mut();
    // SAFETY: libdeflate documents a NULL compressor as "a bound valid for every level"; the
    // call only computes a size.
    let bound = unsafe {
        match format {
            Format::Zlib => sys::libdeflate_zlib_compress_bound(null, len),
            _ => sys::libdeflate_deflate_compress_bound(null, len),
        }
    };
    let wrapper = match format {
        Format::Gzip => gzip::QK_HEADER_LEN + gzip::TRAILER_LEN,
        _ => 0,
    };
    bound
        .saturating_add(wrapper)
        .saturating_add(len / 1024)
        .saturating_add(64)
}

/// Inflates one gzip member, or one zlib or raw stream, from the start of `input` into at
/// most `capacity` bytes of `out`'s spare capacity (which must have that many), with this
/// thread's decompressor.
pub(super) fn inflate_step(
    format: Format,
    input: &[u8],
    out: &mut Vec<u8>,
    capacity: usize,
) -> Result<Step, Error> {
    STATE.with_borrow_mut(|state| {
        let d = match &state.decompressor {
            Some(d) => d.0.as_ptr(),
            None => {
                // SAFETY: plain allocation call; a null result is handled below.
                let raw = unsafe { sys::libdeflate_alloc_decompressor() };
                let d = NonNull::new(raw)
                    .ok_or_else(|| out_of_memory(Operation::Decompress, format))?;
                state.decompressor.insert(Decompressor(d)).0.as_ptr()
            }
        };
        Ok(step(d, format, input, out, capacity))
    })
}
