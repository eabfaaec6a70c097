//! The `qat` backend: Intel QATzip through `qat-sys`. One QATzip session per thread and
//! (format, level), with staging buffers from `qzMalloc` (pinned, DMA-able memory when the
//! device's memory driver is there, so QATzip hands them to the device without copying).
//! Without a device QATzip serves through its own software path (zlib); which one served is
//! reported per request.

use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::OnceLock;

use qat_sys::qatzip as qz;

use super::{Error, Format, ServedBy};

/// Levels QATzip takes: deflate 1–9 (its maximum before 4xxx-era devices), LZ4 1–12.
pub(super) fn supports(format: Format, level: u32) -> bool {
    match format {
        Format::Lz4 => (1..=12).contains(&level),
        _ => (1..=9).contains(&level),
    }
}

/// Whether QATzip found a device it can use, asked once per process: a session that may not
/// fall back to software starts only with a device.
pub(super) fn device_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    *PRESENT.get_or_init(|| {
        quiet();
        // SAFETY: all-zero is QATzip's documented starting state for a session.
        let mut sess: qz::QzSession_T = unsafe { std::mem::zeroed() };
        // SAFETY: `sess` is a zeroed session that lives across both calls.
        let rc = unsafe { qz::qzInit(&mut sess, 0) };
        let present = rc == qz::QZ_OK || rc == qz::QZ_DUPLICATE;
        // SAFETY: as above; teardown of a session that was not set up is a no-op.
        unsafe { qz::qzTeardownSession(&mut sess) };
        tracing::debug!(rc, present, "QATzip device probe");
        present
    })
}

/// QATzip logs every software fallback to stderr; qatkit reports through its own errors and
/// `tracing` instead.
fn quiet() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // SAFETY: sets a global log level; no pointers involved.
        unsafe { qz::qzSetLogLevel(qz::LOG_NONE) };
    });
}

/// A buffer from `qzMalloc`: pinned if QATzip's memory driver gives pinned memory, else
/// ordinary memory from the same allocator.
struct QzBuffer {
    ptr: NonNull<u8>,
    len: usize,
}

impl QzBuffer {
    fn new(len: usize) -> Result<Self, String> {
        // SAFETY: plain allocation calls; null results are handled.
        let raw = unsafe {
            let pinned = qz::qzMalloc(len, qz::QZ_AUTO_SELECT_NUMA_NODE, qz::PINNED_MEM as i32);
            if pinned.is_null() {
                qz::qzMalloc(len, qz::QZ_AUTO_SELECT_NUMA_NODE, qz::COMMON_MEM as i32)
            } else {
                pinned
            }
        };
        let ptr = NonNull::new(raw.cast::<u8>()).ok_or("qzMalloc failed")?;
        Ok(Self { ptr, len })
    }

    fn ensure(&mut self, len: usize) -> Result<(), String> {
        if self.len < len {
            *self = Self::new(len.next_power_of_two())?;
        }
        Ok(())
    }
}

impl Drop for QzBuffer {
    fn drop(&mut self) {
        // SAFETY: the pointer came from qzMalloc and is freed once, here.
        unsafe { qz::qzFree(self.ptr.as_ptr().cast()) }
    }
}

struct Session {
    format: Format,
    level: u32,
    // Boxed: QATzip keeps the session's address in its internal state.
    sess: Box<qz::QzSession_T>,
    src: QzBuffer,
    dst: QzBuffer,
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: the session was set up by `Session::new` and is torn down once, here.
        unsafe {
            qz::qzTeardownSession(&mut *self.sess);
            qz::qzClose(&mut *self.sess);
        }
    }
}

fn qz_error(rc: i32) -> String {
    let name = match rc {
        qz::QZ_PARAMS => "QZ_PARAMS",
        qz::QZ_FAIL => "QZ_FAIL",
        qz::QZ_BUF_ERROR => "QZ_BUF_ERROR",
        qz::QZ_DATA_ERROR => "QZ_DATA_ERROR",
        qz::QZ_TIMEOUT => "QZ_TIMEOUT",
        qz::QZ_NOSW_NO_HW => "QZ_NOSW_NO_HW",
        qz::QZ_NOSW_LOW_MEM => "QZ_NOSW_LOW_MEM",
        qz::QZ_NOSW_UNSUPPORTED_FMT => "QZ_NOSW_UNSUPPORTED_FMT",
        qz::QZ_NOT_SUPPORTED => "QZ_NOT_SUPPORTED",
        _ => "error",
    };
    format!("QATzip returned {rc} ({name})")
}

impl Session {
    fn new(format: Format, level: u32) -> Result<Self, String> {
        quiet();
        // SAFETY: all-zero is QATzip's documented starting state for a session.
        let mut sess: Box<qz::QzSession_T> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `sess` is a zeroed, heap-pinned session; each parameter struct is filled by
        // QATzip's own defaults call before being changed and passed by pointer.
        let rc = unsafe {
            let rc = qz::qzInit(&mut *sess, 1);
            if rc < 0 {
                return Err(qz_error(rc));
            }
            match format {
                Format::Lz4 => {
                    let mut p: qz::QzSessionParamsLZ4_T = std::mem::zeroed();
                    qz::qzGetDefaultsLZ4(&mut p);
                    p.common_params.comp_lvl = level;
                    qz::qzSetupSessionLZ4(&mut *sess, &mut p)
                }
                _ => {
                    let mut p: qz::QzSessionParamsDeflateExt_T = std::mem::zeroed();
                    qz::qzGetDefaultsDeflateExt(&mut p);
                    p.deflate_params.common_params.comp_lvl = level;
                    // GZIP_EXT records each member's compressed size, so QATzip can hand
                    // members to the device without inflating to find their ends; gzip reads it.
                    p.deflate_params.data_fmt = match format {
                        Format::Gzip => qz::QZ_DEFLATE_GZIP_EXT,
                        _ => qz::QZ_DEFLATE_RAW,
                    };
                    p.zlib_format = u8::from(format == Format::Zlib);
                    qz::qzSetupSessionDeflateExt(&mut *sess, &mut p)
                }
            }
        };
        // QZ_NO_HW and friends (positive) mean "set up, in software".
        if rc < 0 {
            // SAFETY: tears down what qzInit set up.
            unsafe { qz::qzTeardownSession(&mut *sess) };
            return Err(qz_error(rc));
        }
        tracing::debug!(
            %format,
            level,
            hw_session_stat = sess.hw_session_stat,
            "QATzip session"
        );
        Ok(Session {
            format,
            level,
            sess,
            src: QzBuffer::new(64 << 10)?,
            dst: QzBuffer::new(64 << 10)?,
        })
    }

    /// Which path QATzip took for a request of `len` bytes, from its session status.
    fn served(&self, len: usize) -> ServedBy {
        let on_device = self.sess.hw_session_stat == qz::QZ_OK as _
            && len >= qz::QZ_COMP_THRESHOLD_DEFAULT as usize;
        if on_device {
            ServedBy::QatDevice
        } else {
            ServedBy::QatSoftware
        }
    }
}

thread_local! {
    static SESSIONS: RefCell<Vec<Session>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's session for (format, level). A session whose request failed is
/// dropped, not reused: QATzip's software path keeps inflate state across calls.
fn with_session<T>(
    format: Format,
    level: u32,
    f: impl FnOnce(&mut Session) -> Result<T, Error>,
) -> Result<T, Error> {
    SESSIONS.with_borrow_mut(|sessions| {
        let at = match sessions
            .iter()
            .position(|s| s.format == format && s.level == level)
        {
            Some(at) => at,
            None => {
                let session = Session::new(format, level).map_err(|reason| Error::Backend {
                    backend: "qat",
                    reason,
                })?;
                sessions.push(session);
                sessions.len() - 1
            }
        };
        let result = f(&mut sessions[at]);
        if result.is_err() {
            sessions.swap_remove(at);
        }
        result
    })
}

fn too_big(format: Format) -> Error {
    Error::Compress {
        format,
        reason: "QATzip takes requests under 4 GiB".into(),
    }
}

/// Appends `input` compressed at `level` to `out`.
pub(super) fn compress(
    format: Format,
    level: u32,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<ServedBy, Error> {
    let len = u32::try_from(input.len()).map_err(|_| too_big(format))?;
    with_session(format, level, |s| {
        // SAFETY: a set-up session; the call only computes a size.
        let bound = unsafe { qz::qzMaxCompressedLength(len, &mut *s.sess) } as usize;
        if bound == 0 {
            return Err(too_big(format));
        }
        let failed = |reason: String| Error::Compress { format, reason };
        s.src.ensure(input.len().max(1)).map_err(failed)?;
        s.dst.ensure(bound).map_err(failed)?;
        // SAFETY: `src` holds at least input.len() bytes and does not overlap `input`.
        unsafe { std::ptr::copy_nonoverlapping(input.as_ptr(), s.src.ptr.as_ptr(), input.len()) };
        let (mut src_len, mut dst_len) = (len, bound as u32);
        // SAFETY: both buffers are live qzMalloc buffers of at least the lengths passed.
        let rc = unsafe {
            qz::qzCompress(
                &mut *s.sess,
                s.src.ptr.as_ptr(),
                &mut src_len,
                s.dst.ptr.as_ptr(),
                &mut dst_len,
                1,
            )
        };
        if rc != qz::QZ_OK || src_len != len {
            return Err(failed(qz_error(rc)));
        }
        // SAFETY: QATzip wrote `dst_len` (<= bound) bytes into `dst`.
        out.extend_from_slice(unsafe {
            std::slice::from_raw_parts(s.dst.ptr.as_ptr(), dst_len as usize)
        });
        Ok(s.served(input.len()))
    })
}

/// Appends the decompressed `input` to `out`, writing at most `limit` bytes.
pub(super) fn decompress(
    format: Format,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<ServedBy, Error> {
    if input.is_empty() {
        return Err(Error::Corrupt { format });
    }
    u32::try_from(input.len()).map_err(|_| too_big(format))?;
    // Decompression does not depend on the level: one session per format serves it.
    with_session(format, 1, |s| {
        let failed = |reason: String| Error::Compress { format, reason };
        s.src.ensure(input.len()).map_err(failed)?;
        // SAFETY: `src` holds at least input.len() bytes and does not overlap `input`.
        unsafe { std::ptr::copy_nonoverlapping(input.as_ptr(), s.src.ptr.as_ptr(), input.len()) };
        let start = out.len();
        let mut consumed = 0usize;
        let mut capacity = input.len().saturating_mul(4).max(64 << 10).min(limit);
        while consumed < input.len() {
            let room = limit - (out.len() - start);
            // QATzip counts in u32.
            let space = capacity.min(room).min(u32::MAX as usize);
            s.dst.ensure(space.max(1)).map_err(failed)?;
            let mut src_len = (input.len() - consumed) as u32;
            let mut dst_len = space as u32;
            // SAFETY: `src` holds `input` and `src_len` bytes remain from `consumed`; `dst` has
            // at least `dst_len` bytes.
            let rc = unsafe {
                qz::qzDecompress(
                    &mut *s.sess,
                    s.src.ptr.as_ptr().add(consumed),
                    &mut src_len,
                    s.dst.ptr.as_ptr(),
                    &mut dst_len,
                )
            };
            let progressed = src_len > 0 || dst_len > 0;
            let no_progress = matches!(rc, qz::QZ_OK | qz::QZ_BUF_ERROR | qz::QZ_FAIL);
            match rc {
                qz::QZ_OK | qz::QZ_BUF_ERROR if progressed && (dst_len as usize) <= space => {
                    // SAFETY: QATzip wrote `dst_len` bytes into `dst`.
                    out.extend_from_slice(unsafe {
                        std::slice::from_raw_parts(s.dst.ptr.as_ptr(), dst_len as usize)
                    });
                    consumed += src_len as usize;
                }
                // No progress: the next member does not fit the space given; give more.
                _ if no_progress && space < room && space < u32::MAX as usize => {
                    capacity = space.saturating_mul(2);
                }
                _ if no_progress && space >= room => {
                    return Err(Error::LimitExceeded { format, limit });
                }
                _ => return Err(Error::Corrupt { format }),
            }
        }
        // QATzip takes a stream cut short as complete: check that it reached the end.
        let complete = match format {
            Format::Lz4 => super::lz4::ends_with_end_mark(input),
            _ => {
                let mut end = 0u8;
                // SAFETY: a set-up session and a live local for the answer.
                let rc = unsafe { qz::qzGetDeflateEndOfStream(&mut *s.sess, &mut end) };
                rc == qz::QZ_OK && end == 1
            }
        };
        if !complete {
            return Err(Error::Corrupt { format });
        }
        Ok(s.served(input.len()))
    })
}
