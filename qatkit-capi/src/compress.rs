//! Compression: the codec handle, one-shot calls into caller buffers, the bound, batches and the
//! served counters.

use qat_crypto::compress::{Backend, Codec, Format};

use crate::ffi::{
    Failure, QATKIT_OK, arg, arg_mut, boundary, bytes, bytes_mut, free_handle, guard, out, put,
    put_handle, qatkit_result, result_of,
};

/// A compressed format.
pub type qatkit_format = u32;
/// gzip (RFC 1952); output may be several members, and decoders read them all.
pub const QATKIT_FORMAT_GZIP: qatkit_format = 0;
/// zlib (RFC 1950).
pub const QATKIT_FORMAT_ZLIB: qatkit_format = 1;
/// Raw deflate (RFC 1951).
pub const QATKIT_FORMAT_RAW: qatkit_format = 2;
/// LZ4 frames, as the `lz4` tool writes them.
pub const QATKIT_FORMAT_LZ4: qatkit_format = 3;
/// zstd frames, as the `zstd` tool writes them; decoders read them all. On the CPU only (QATzip
/// has no zstd): `QATKIT_BACKEND_QAT` is `QATKIT_UNSUPPORTED` for it.
pub const QATKIT_FORMAT_ZSTD: qatkit_format = 4;

/// Who serves requests: of a codec, or of a crypto key or hasher.
pub type qatkit_backend = u32;
/// A QAT device when there is one and the request suits it; the CPU otherwise.
pub const QATKIT_BACKEND_AUTO: qatkit_backend = 0;
/// The fastest CPU libraries.
pub const QATKIT_BACKEND_CPU: qatkit_backend = 1;
/// The device library by name: QATzip for compression (the device, or QATzip's software path
/// without one); qatlib for crypto (a device only: `QATKIT_UNSUPPORTED` or `QATKIT_NOT_FOUND`
/// without one).
pub const QATKIT_BACKEND_QAT: qatkit_backend = 2;

/// A compression codec: format, level, backend, output limit and requests in flight.
/// Thread-safe: any number of threads may use one codec at once (changing a setting excepted).
/// Encoders and decoders made from it keep the settings it had then: a setting changed later
/// applies to the calls, encoders and decoders that come after.
pub struct qatkit_codec {
    pub(crate) codec: Codec,
    settings: Settings,
}

/// What the codec was made with, to make it again when a setting changes.
#[derive(Debug, Clone, Copy)]
struct Settings {
    format: Format,
    level: u32,
    backend: Backend,
    limit: usize,
    in_flight: usize,
}

impl Settings {
    fn build(self) -> Result<Codec, Failure> {
        Ok(Codec::new(self.format, self.level)?
            .with_backend(self.backend)?
            .with_limit(self.limit)
            .with_in_flight(self.in_flight))
    }
}

/// How many requests each server took since the codec or key was made (or a codec's setting
/// last changed).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct qatkit_served {
    /// By the CPU libraries.
    pub cpu: u64,
    /// By a QAT device.
    pub qat_device: u64,
    /// By QATzip's software path.
    pub qat_software: u64,
}

impl From<qat_crypto::Served> for qatkit_served {
    fn from(served: qat_crypto::Served) -> Self {
        qatkit_served {
            cpu: served.cpu,
            qat_device: served.qat_device,
            qat_software: served.qat_software,
        }
    }
}

/// One request of a batch: the caller's input and output buffers, and what became of it.
#[repr(C)]
#[derive(Debug)]
pub struct qatkit_request {
    /// Input bytes (NULL only when `input_len` is 0).
    pub input: *const u8,
    /// Input length.
    pub input_len: usize,
    /// Output buffer (NULL only when `output_cap` is 0).
    pub output: *mut u8,
    /// Output buffer size.
    pub output_cap: usize,
    /// Written by qatkit: bytes written on success; the size needed when `status` is
    /// `QATKIT_BUFFER_TOO_SMALL`.
    pub output_len: usize,
    /// Written by qatkit: this request's result.
    pub status: qatkit_result,
}

pub(crate) fn format_of(format: qatkit_format) -> Result<Format, Failure> {
    Ok(match format {
        QATKIT_FORMAT_GZIP => Format::Gzip,
        QATKIT_FORMAT_ZLIB => Format::Zlib,
        QATKIT_FORMAT_RAW => Format::Raw,
        QATKIT_FORMAT_LZ4 => Format::Lz4,
        QATKIT_FORMAT_ZSTD => Format::Zstd,
        other => return Err(Failure::invalid(format!("unknown format {other}"))),
    })
}

pub(crate) fn backend_of(backend: qatkit_backend) -> Result<Backend, Failure> {
    Ok(match backend {
        QATKIT_BACKEND_AUTO => Backend::Auto,
        QATKIT_BACKEND_CPU => Backend::Cpu,
        QATKIT_BACKEND_QAT => Backend::Qat,
        other => return Err(Failure::invalid(format!("unknown backend {other}"))),
    })
}

/// Makes the codec again with one setting changed, when the new settings make a codec (else
/// nothing changes). Encoders and decoders hold codecs of their own (clones of the old one),
/// which keep the old settings.
fn change(codec: *mut qatkit_codec, edit: impl FnOnce(&mut Settings)) -> Result<(), Failure> {
    // SAFETY: `codec` is NULL or a live handle from qatkit_codec_new, not used by another
    // thread during this call (the header says changing settings is not thread-safe).
    let handle = unsafe { arg_mut(codec, "codec") }?;
    let mut settings = handle.settings;
    edit(&mut settings);
    handle.codec = settings.build()?;
    handle.settings = settings;
    Ok(())
}

/// Makes a codec for `format` at `level` (deflate formats 0–12, LZ4 0–2, zstd 0–22 with 0 for
/// zstd's default, 3), backend auto, output limit 1 GiB, one request in flight. Free it with
/// `qatkit_codec_free`.
///
/// # Safety
/// `codec_out` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_codec_new(
    format: qatkit_format,
    level: u32,
    codec_out: *mut *mut qatkit_codec,
) -> qatkit_result {
    boundary(|| {
        let codec_out = out(codec_out, "codec_out")?;
        let settings = Settings {
            format: format_of(format)?,
            level,
            backend: Backend::Auto,
            limit: qat_crypto::compress::DEFAULT_LIMIT,
            in_flight: 1,
        };
        let handle = qatkit_codec {
            codec: settings.build()?,
            settings,
        };
        // SAFETY: checked by `out`.
        unsafe { put_handle(codec_out, handle) };
        Ok(())
    })
}

/// Frees a codec (NULL is fine). Encoders and decoders made from it work on until they are
/// freed.
///
/// # Safety
/// `codec` is NULL or a handle from `qatkit_codec_new` not freed before; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_codec_free(codec: *mut qatkit_codec) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(codec) }
}

/// Chooses the backend. `QATKIT_UNSUPPORTED` when it cannot serve this format and level (QAT
/// in a build without QATzip, QAT for zstd). Like every setting, it makes the codec anew: the
/// served counters start again from 0, and encoders and decoders made before keep the old
/// settings.
///
/// # Safety
/// `codec` is NULL or a live handle, not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_codec_set_backend(
    codec: *mut qatkit_codec,
    backend: qatkit_backend,
) -> qatkit_result {
    boundary(|| {
        let backend = backend_of(backend)?;
        change(codec, |s| s.backend = backend)
    })
}

/// Sets the output limit of decompression (bytes; 0 is refused): one-shot calls, each request of
/// a batch, and decoders made after this call.
///
/// # Safety
/// `codec` is NULL or a live handle, not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_codec_set_limit(
    codec: *mut qatkit_codec,
    limit: usize,
) -> qatkit_result {
    boundary(|| {
        if limit == 0 {
            return Err(Failure::invalid("an output limit of 0 bytes"));
        }
        change(codec, |s| s.limit = limit)
    })
}

/// Sets how many requests run at once (at least 1) in batches, in streaming encoders and
/// decoders made after this call, and in one-shot compression of inputs over 1 MiB.
///
/// With `in_flight` n > 1 they run on a pool of n worker threads, started on first use and
/// kept for the life of the process, shared by every codec and key asking for n; with 1,
/// everything runs on the caller's thread, within the call. A batch keeps up to n requests
/// running; a stream up to 2n requests (1 MiB each for an encoder) queued and running. gzip,
/// LZ4 and zstd inputs over 1 MiB that `qatkit_compress` gets are cut into 1 MiB members or
/// frames compressed in parallel, as streams are: the output differs from in_flight 1's (it is
/// no larger than `qatkit_compress_bound`), and every decoder reads it.
///
/// # Safety
/// `codec` is NULL or a live handle, not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_codec_set_in_flight(
    codec: *mut qatkit_codec,
    in_flight: usize,
) -> qatkit_result {
    boundary(|| {
        if in_flight == 0 {
            return Err(Failure::invalid("0 requests in flight"));
        }
        change(codec, |s| s.in_flight = in_flight)
    })
}

/// The most bytes compressing `len` bytes in one `qatkit_compress` call can give with this codec;
/// 0 when `codec` is NULL.
///
/// # Safety
/// `codec` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_compress_bound(codec: *const qatkit_codec, len: usize) -> usize {
    guard(0, || {
        // SAFETY: the caller's contract above.
        unsafe { codec.as_ref() }.map_or(0, |c| c.codec.compress_bound(len))
    })
}

/// Compresses `input` into `output`; the length written goes to `output_len_out`. A buffer
/// shorter than the result is `QATKIT_BUFFER_TOO_SMALL` with the size needed in
/// `output_len_out`; `qatkit_compress_bound` gives a size that is always enough.
///
/// # Safety
/// `codec` is NULL or a live handle; `input` holds `input_len` readable bytes and `output`
/// `output_cap` writable ones (either may be NULL when its length is 0); `output_len_out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_compress(
    codec: *const qatkit_codec,
    input: *const u8,
    input_len: usize,
    output: *mut u8,
    output_cap: usize,
    output_len_out: *mut usize,
) -> qatkit_result {
    // SAFETY: the caller's contract above.
    unsafe {
        one_shot(
            codec,
            input,
            input_len,
            output,
            output_cap,
            output_len_out,
            compress_one,
        )
    }
}

/// Decompresses `input` into `output`, within the codec's output limit; the length written goes
/// to `output_len_out`. More output than `output` holds is `QATKIT_BUFFER_TOO_SMALL` with the
/// exact size needed in `output_len_out`; more than the limit is `QATKIT_LIMIT_EXCEEDED`;
/// corrupt or truncated input is `QATKIT_CORRUPT_DATA`; valid data that needs something qatkit
/// does not read (an LZ4 legacy frame, a dictionary) is `QATKIT_UNSUPPORTED`. Empty input is an
/// empty LZ4 stream, as `lz4 -d` reads an empty file; in the other formats it is truncated.
///
/// # Safety
/// As for `qatkit_compress`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_decompress(
    codec: *const qatkit_codec,
    input: *const u8,
    input_len: usize,
    output: *mut u8,
    output_cap: usize,
    output_len_out: *mut usize,
) -> qatkit_result {
    // SAFETY: the caller's contract above.
    unsafe {
        one_shot(
            codec,
            input,
            input_len,
            output,
            output_cap,
            output_len_out,
            decompress_one,
        )
    }
}

/// What one call does to a request: its output length, or why not.
type OneShot = fn(&Codec, &[u8], &mut [u8], *mut usize) -> Result<usize, Failure>;

/// The body of `qatkit_compress` and `qatkit_decompress`: checks the arguments, runs `call`,
/// writes the length.
///
/// # Safety
/// As for `qatkit_compress`.
unsafe fn one_shot(
    codec: *const qatkit_codec,
    input: *const u8,
    input_len: usize,
    output: *mut u8,
    output_cap: usize,
    output_len_out: *mut usize,
    call: OneShot,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above, for each argument.
        let (codec, input, output) = unsafe {
            (
                arg(codec, "codec")?,
                bytes(input, input_len, "input")?,
                bytes_mut(output, output_cap, "output")?,
            )
        };
        let len_out = out(output_len_out, "output_len_out")?;
        let written = call(&codec.codec, input, output, len_out)?;
        // SAFETY: checked by `out`.
        unsafe { put(len_out, written) };
        Ok(())
    })
}

fn compress_one(
    codec: &Codec,
    input: &[u8],
    output: &mut [u8],
    len_out: *mut usize,
) -> Result<usize, Failure> {
    match codec.compress_to_slice(input, output) {
        Ok(n) => Ok(n),
        Err(qat_crypto::Error::OutputTooSmall {
            needed, available, ..
        }) => Err(Failure::too_small(len_out, needed, available)),
        Err(e) => Err(e.into()),
    }
}

fn decompress_one(
    codec: &Codec,
    input: &[u8],
    output: &mut [u8],
    len_out: *mut usize,
) -> Result<usize, Failure> {
    match codec.decompress_to_slice(input, output) {
        Ok(n) => Ok(n),
        Err(qat_crypto::Error::OutputTooSmall { available, .. }) => {
            // The slice fell short: decompress again within the codec's limit to say exactly
            // how much is needed.
            let needed = codec.decompress(input)?.len();
            Err(Failure::too_small(len_out, needed, available))
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs every request of a batch, up to the codec's in-flight count at once, each with its own
/// `status` and `output_len`; the call itself fails only for bad arguments (then no request is
/// touched).
fn batch(
    codec: *const qatkit_codec,
    requests: *mut qatkit_request,
    count: usize,
    decompressing: bool,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract (see the entry points): a live handle, and `count`
        // requests at `requests` used by no one else during the call.
        let (codec, requests) = unsafe {
            let codec = arg(codec, "codec")?;
            let requests: &mut [qatkit_request] = if count == 0 {
                &mut []
            } else {
                if requests.is_null() {
                    return Err(Failure::new(
                        crate::ffi::QATKIT_NULL_PARAMETER,
                        "requests is NULL",
                    ));
                }
                std::slice::from_raw_parts_mut(requests, count)
            };
            (codec, requests)
        };
        let mut inputs = Vec::with_capacity(requests.len());
        for (i, r) in requests.iter().enumerate() {
            // SAFETY: the caller's contract for each request's input buffer.
            inputs.push(unsafe { bytes(r.input, r.input_len, &format!("requests[{i}].input"))? });
            if r.output.is_null() && r.output_cap > 0 {
                return Err(Failure::new(
                    crate::ffi::QATKIT_NULL_PARAMETER,
                    format!("requests[{i}].output is NULL"),
                ));
            }
        }
        let results = if decompressing {
            codec.codec.decompress_batch(&inputs)
        } else {
            codec.codec.compress_batch(&inputs)
        };
        for (r, result) in requests.iter_mut().zip(results) {
            let (status, len) = match result {
                Ok(data) if data.len() <= r.output_cap => {
                    // SAFETY: checked above: `output` holds `output_cap` writable bytes.
                    let out = unsafe { bytes_mut(r.output, r.output_cap, "output")? };
                    out[..data.len()].copy_from_slice(&data);
                    (QATKIT_OK, data.len())
                }
                Ok(data) => (crate::ffi::QATKIT_BUFFER_TOO_SMALL, data.len()),
                Err(e) => (result_of(e.kind()), 0),
            };
            r.status = status;
            r.output_len = len;
        }
        Ok(())
    })
}

/// Compresses each of `count` requests into its own output buffer, up to the codec's in_flight
/// at once (on its worker threads; with 1, one after another on the caller's thread), and
/// returns when all are done. Each request is compressed whole, as one member, frame or stream,
/// whatever its size: the bytes `qatkit_compress` gives with in_flight 1. Each request gets its
/// own `status` and `output_len`; the call returns `QATKIT_OK` unless its arguments are bad
/// (then no request is touched).
///
/// # Safety
/// `codec` is NULL or a live handle; `requests` holds `count` requests (NULL when `count` is 0)
/// whose buffers are as `qatkit_compress` describes, not used elsewhere during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_compress_batch(
    codec: *const qatkit_codec,
    requests: *mut qatkit_request,
    count: usize,
) -> qatkit_result {
    batch(codec, requests, count, false)
}

/// Decompresses each of `count` requests, each within the codec's output limit; as
/// `qatkit_compress_batch` otherwise.
///
/// # Safety
/// As for `qatkit_compress_batch`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_decompress_batch(
    codec: *const qatkit_codec,
    requests: *mut qatkit_request,
    count: usize,
) -> qatkit_result {
    batch(codec, requests, count, true)
}

/// How many requests the CPU, a QAT device and QATzip's software path served since the codec
/// was made or a setting last changed.
///
/// # Safety
/// `codec` is NULL or a live handle; `served_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_codec_served(
    codec: *const qatkit_codec,
    served_out: *mut qatkit_served,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let codec = unsafe { arg(codec, "codec")? };
        let served_out = out(served_out, "served_out")?;
        // SAFETY: checked by `out`.
        unsafe { put(served_out, codec.codec.served().into()) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_constants_follow_format_all() {
        for (constant, format) in Format::ALL.into_iter().enumerate() {
            assert_eq!(format_of(constant as qatkit_format).unwrap(), format);
        }
        assert!(format_of(Format::ALL.len() as qatkit_format).is_err());
    }
}
