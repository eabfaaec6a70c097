//! The `qat` backend: Intel QATzip through `qat-sys`. One QATzip session per request in flight,
//! kept in the codec's [`Pool`], with staging buffers from `qzMalloc` (pinned, DMA-able memory when the
//! device's memory driver is there, so QATzip hands them to the device without copying).
//! Without a device QATzip serves through its own software path (zlib); which one served is
//! reported per request.

use std::ptr::NonNull;
use std::sync::OnceLock;

use qat_sys::qatzip as qz;

use super::{Error, Format, Operation, ServedBy};

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

    /// Gives back a buffer grown past what ordinary requests need.
    fn trim(&mut self) {
        if self.len > KEEP_BUFFER {
            if let Ok(small) = Self::new(DEFAULT_BUFFER) {
                *self = small;
            }
        }
    }
}

/// QATzip's default hardware buffer size.
const DEFAULT_BUFFER: usize = 64 << 10;
/// Staging buffers up to this size stay with the session; larger ones go after the request.
const KEEP_BUFFER: usize = 4 << 20;

impl Drop for QzBuffer {
    fn drop(&mut self) {
        // SAFETY: the pointer came from qzMalloc and is freed once, here.
        unsafe { qz::qzFree(self.ptr.as_ptr().cast()) }
    }
}

struct Session {
    format: Format,
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
            sess,
            src: QzBuffer::new(DEFAULT_BUFFER)?,
            dst: QzBuffer::new(DEFAULT_BUFFER)?,
        })
    }

    /// Whether the session runs on a device (QATzip set it up with hardware).
    fn on_device(&self) -> bool {
        self.sess.hw_session_stat == qz::QZ_OK as _
    }

    /// Which path QATzip took for a compression request of `len` bytes: the device takes
    /// requests from its input threshold (1 KiB) up.
    fn served_compress(&self, len: usize) -> ServedBy {
        if self.on_device() && len >= qz::QZ_COMP_THRESHOLD_DEFAULT as usize {
            ServedBy::QatDevice
        } else {
            ServedBy::QatSoftware
        }
    }

    /// Which path QATzip took to decompress `input`: the device takes only gzip that QATzip
    /// wrote itself (GZIP_EXT members, whose headers give their sizes); the rest goes to its
    /// software path.
    fn served_decompress(&self, input: &[u8]) -> ServedBy {
        if self.on_device() && self.format == Format::Gzip && super::is_qatzip_gzip(input) {
            ServedBy::QatDevice
        } else {
            ServedBy::QatSoftware
        }
    }
}

// SAFETY: QATzip sessions may be used from any thread, one at a time; a `Pool` hands each
// session to one request at a time, and the buffers are owned by the session.
unsafe impl Send for Session {}

/// The QATzip sessions of one codec for one operation and (format, level): one per request in
/// flight, made on first need, reused, and torn down when the codec is dropped — in the thread
/// that drops it, never in a thread's exit, which could race QATzip's own teardown at process
/// exit.
pub(super) struct Pool {
    operation: Operation,
    format: Format,
    level: u32,
    idle: std::sync::Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("operation", &self.operation)
            .field("format", &self.format)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(super) fn new(operation: Operation, format: Format, level: u32) -> Self {
        Pool {
            operation,
            format,
            level,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Session>> {
        // A request that panicked leaves no half-made session in the list: keep going.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with an idle session, or a new one (a session QATzip cannot set up fails the
    /// pool's operation). A session whose request failed is dropped, not reused: QATzip's
    /// software path keeps inflate state across calls.
    fn with<T>(&self, f: impl FnOnce(&mut Session) -> Result<T, Error>) -> Result<T, Error> {
        let idle = self.idle().pop();
        let mut session = match idle {
            Some(s) => s,
            None => Session::new(self.format, self.level).map_err(|reason| {
                self.operation.failed(
                    self.format,
                    format!("setting up a QATzip session: {reason}"),
                )
            })?,
        };
        let result = f(&mut session);
        if result.is_ok() {
            self.idle().push(session);
        }
        result
    }

    /// Whether this pool's sessions run on a device; makes one if there is none yet. `auto`
    /// sends requests to QATzip only then.
    pub(super) fn on_device(&self) -> bool {
        self.with(|s| Ok(s.on_device())).unwrap_or(false)
    }

    /// Drops the idle sessions, so the next request starts afresh.
    fn clear(&self) {
        self.idle().clear();
    }
}

fn too_big(operation: Operation, format: Format, len: usize) -> Error {
    Error::RequestTooLarge {
        operation,
        format,
        library: "QATzip",
        len,
    }
}

/// The most QATzip's compression of `len` bytes can take (`qzMaxCompressedLength`); `None`
/// when the request is too large for it or no session can be set up.
pub(super) fn compress_bound(pool: &Pool, len: usize) -> Option<usize> {
    let len = u32::try_from(len).ok()?;
    pool.with(|s| {
        // SAFETY: a set-up session; the call only computes a size.
        Ok(unsafe { qz::qzMaxCompressedLength(len, &mut *s.sess) } as usize)
    })
    .ok()
    .filter(|bound| *bound > 0)
}

/// Appends `input` compressed with `pool`'s format and level to `out`.
pub(super) fn compress(pool: &Pool, input: &[u8], out: &mut Vec<u8>) -> Result<ServedBy, Error> {
    let format = pool.format;
    let refused = || too_big(Operation::Compress, format, input.len());
    let len = u32::try_from(input.len()).map_err(|_| refused())?;
    pool.with(|s| {
        // SAFETY: a set-up session; the call only computes a size.
        let bound = unsafe { qz::qzMaxCompressedLength(len, &mut *s.sess) } as usize;
        if bound == 0 {
            return Err(refused());
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
        s.src.trim();
        s.dst.trim();
        Ok(s.served_compress(input.len()))
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
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<ServedBy, Error> {
    let format = pool.format;
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
        _ => input.len().saturating_mul(4).max(DEFAULT_BUFFER),
    };
    let start = out.len();
    let mut capacity = guess.min(limit);
    loop {
        let attempt = pool.with(|s| attempt(s, input, limit, capacity, out));
        match attempt {
            Ok(Attempt::Done(served_by)) => return Ok(served_by),
            Ok(Attempt::NeedsRoom) => {
                out.truncate(start);
                pool.clear();
                if capacity >= limit {
                    return Err(Error::LimitExceeded { format, limit });
                }
                capacity = capacity.saturating_mul(2).min(limit);
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
    input: &[u8],
    limit: usize,
    mut capacity: usize,
    out: &mut Vec<u8>,
) -> Result<Attempt, Error> {
    let format = s.format;
    let failed = |reason: String| Error::Decompress { format, reason };
    s.src.ensure(input.len()).map_err(failed)?;
    // SAFETY: `src` holds at least input.len() bytes and does not overlap `input`.
    unsafe { std::ptr::copy_nonoverlapping(input.as_ptr(), s.src.ptr.as_ptr(), input.len()) };
    let start = out.len();
    let mut consumed = 0usize;
    let mut filled = false;
    while consumed < input.len() {
        let room = limit - (out.len() - start);
        // QATzip counts in u32; and no member expands past deflate's ratio.
        let most = (input.len() - consumed)
            .saturating_mul(super::MAX_DEFLATE_RATIO)
            .min(u32::MAX as usize);
        let space = capacity.min(room).min(most);
        s.dst.ensure(space.max(1)).map_err(failed)?;
        let mut src_len = (input.len() - consumed) as u32;
        let mut dst_len = space as u32;
        // SAFETY: `src` holds `input`, of which `src_len` bytes remain from `consumed`; `dst`
        // has at least `dst_len` bytes.
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
                filled = dst_len as usize == space;
            }
            // No progress: the next member does not fit the space given; give more.
            _ if no_progress && space < room && space < most => {
                capacity = space.saturating_mul(2);
            }
            _ if no_progress && space >= room => return Ok(Attempt::NeedsRoom),
            _ => return Err(Error::Corrupt { format }),
        }
    }
    s.src.trim();
    s.dst.trim();
    // QATzip takes a deflate stream cut short as complete: check that it reached the end.
    let complete = format == Format::Lz4 || {
        let mut end = 0u8;
        // SAFETY: a set-up session and a live local for the answer.
        let rc = unsafe { qz::qzGetDeflateEndOfStream(&mut *s.sess, &mut end) };
        rc == qz::QZ_OK && end == 1
    };
    match (complete, filled) {
        (true, _) => Ok(Attempt::Done(s.served_decompress(input))),
        (false, true) => Ok(Attempt::NeedsRoom),
        (false, false) => Err(Error::Corrupt { format }),
    }
}
