//! QATzip through `qat-sys`, made safe: sessions, their staging buffers from `qzMalloc`
//! (pinned, DMA-able memory when the device's memory driver is there, so QATzip hands them to
//! the device without copying) and pools of sessions. What to send here is decided by the
//! compression backend (`compress::qat`), not in this module.

use std::ptr::NonNull;
use std::sync::OnceLock;

use qat_sys::qatzip as qz;

/// The data layouts a session writes and reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// gzip, written as QATzip's GZIP_EXT members (gzip with an extra field recording sizes).
    Gzip,
    /// zlib.
    Zlib,
    /// Raw deflate.
    Raw,
    /// LZ4 frames.
    Lz4,
}

/// The smallest request QATzip sends to a device; smaller ones go to its software path.
pub(crate) const DEVICE_THRESHOLD: usize = qz::QZ_COMP_THRESHOLD_DEFAULT as usize;

/// Whether QATzip found a device it can use, asked once per process: a session that may not
/// fall back to software starts only with a device.
pub(crate) fn device_present() -> bool {
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

pub(crate) struct Session {
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

pub(crate) fn qz_error(rc: i32) -> String {
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
    pub(crate) fn new(stream: Stream, level: u32) -> Result<Self, String> {
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
            match stream {
                Stream::Lz4 => {
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
                    p.deflate_params.data_fmt = match stream {
                        Stream::Gzip => qz::QZ_DEFLATE_GZIP_EXT,
                        _ => qz::QZ_DEFLATE_RAW,
                    };
                    p.zlib_format = u8::from(stream == Stream::Zlib);
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
            ?stream,
            level,
            hw_session_stat = sess.hw_session_stat,
            "QATzip session"
        );
        Ok(Session {
            sess,
            src: QzBuffer::new(DEFAULT_BUFFER)?,
            dst: QzBuffer::new(DEFAULT_BUFFER)?,
        })
    }

    /// Whether the session runs on a device (QATzip set it up with hardware).
    pub(crate) fn on_device(&self) -> bool {
        self.sess.hw_session_stat == qz::QZ_OK as _
    }
}

/// How one `qzDecompress` call ended.
pub(crate) enum Inflated {
    /// It used `consumed` bytes of input and wrote `produced` bytes of output.
    Progress { consumed: usize, produced: usize },
    /// It moved nothing: the next member needs more output space than was given (or the
    /// input is corrupt, which more space then shows).
    NoProgress,
    /// It failed with this QATzip status.
    Failed(i32),
}

impl Session {
    /// The most compressing `len` bytes can give; 0 when QATzip refuses the size.
    pub(crate) fn max_compressed_length(&mut self, len: u32) -> usize {
        // SAFETY: a set-up session; the call only computes a size.
        unsafe { qz::qzMaxCompressedLength(len, &mut *self.sess) as usize }
    }

    /// Compresses `input` as one request, appending the result to `out`.
    pub(crate) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let len = u32::try_from(input.len()).map_err(|_| "request over 4 GiB".to_string())?;
        let bound = self.max_compressed_length(len);
        if bound == 0 {
            return Err(format!("QATzip takes no request of {len} bytes"));
        }
        self.src.ensure(input.len().max(1))?;
        self.dst.ensure(bound)?;
        // SAFETY: `src` holds at least input.len() bytes and does not overlap `input`.
        unsafe {
            std::ptr::copy_nonoverlapping(input.as_ptr(), self.src.ptr.as_ptr(), input.len())
        };
        let (mut src_len, mut dst_len) = (len, bound as u32);
        // SAFETY: both buffers are live qzMalloc buffers of at least the lengths passed.
        let rc = unsafe {
            qz::qzCompress(
                &mut *self.sess,
                self.src.ptr.as_ptr(),
                &mut src_len,
                self.dst.ptr.as_ptr(),
                &mut dst_len,
                1,
            )
        };
        if rc != qz::QZ_OK || src_len != len {
            return Err(qz_error(rc));
        }
        // SAFETY: QATzip wrote `dst_len` (<= bound) bytes into `dst`.
        out.extend_from_slice(unsafe {
            std::slice::from_raw_parts(self.dst.ptr.as_ptr(), dst_len as usize)
        });
        self.trim();
        Ok(())
    }

    /// Copies `input` into the session's staging buffer, for [`Session::inflate`] calls.
    pub(crate) fn load(&mut self, input: &[u8]) -> Result<(), String> {
        self.src.ensure(input.len().max(1))?;
        // SAFETY: `src` holds at least input.len() bytes and does not overlap `input`.
        unsafe {
            std::ptr::copy_nonoverlapping(input.as_ptr(), self.src.ptr.as_ptr(), input.len())
        };
        Ok(())
    }

    /// Decompresses the loaded input from byte `from` (of `loaded` bytes) into at most `space`
    /// bytes, appending the output to `out`.
    pub(crate) fn inflate(
        &mut self,
        from: usize,
        loaded: usize,
        space: usize,
        out: &mut Vec<u8>,
    ) -> Result<Inflated, String> {
        self.dst.ensure(space.max(1))?;
        let mut src_len = u32::try_from(loaded - from).map_err(|_| "request over 4 GiB")?;
        let mut dst_len = u32::try_from(space).unwrap_or(u32::MAX);
        // SAFETY: `src` holds the loaded input, of which `src_len` bytes remain from `from`;
        // `dst` has at least `dst_len` bytes.
        let rc = unsafe {
            qz::qzDecompress(
                &mut *self.sess,
                self.src.ptr.as_ptr().add(from),
                &mut src_len,
                self.dst.ptr.as_ptr(),
                &mut dst_len,
            )
        };
        let (consumed, produced) = (src_len as usize, dst_len as usize);
        Ok(match rc {
            qz::QZ_OK | qz::QZ_BUF_ERROR if (consumed > 0 || produced > 0) && produced <= space => {
                // SAFETY: QATzip wrote `produced` bytes into `dst`.
                out.extend_from_slice(unsafe {
                    std::slice::from_raw_parts(self.dst.ptr.as_ptr(), produced)
                });
                Inflated::Progress { consumed, produced }
            }
            qz::QZ_OK | qz::QZ_BUF_ERROR | qz::QZ_FAIL => Inflated::NoProgress,
            rc => Inflated::Failed(rc),
        })
    }

    /// Whether the deflate stream decompressed so far reached its end (QATzip takes a stream
    /// cut short as complete).
    pub(crate) fn end_of_stream(&mut self) -> bool {
        let mut end = 0u8;
        // SAFETY: a set-up session and a live local for the answer.
        let rc = unsafe { qz::qzGetDeflateEndOfStream(&mut *self.sess, &mut end) };
        rc == qz::QZ_OK && end == 1
    }

    /// Gives back staging buffers grown past what ordinary requests need.
    pub(crate) fn trim(&mut self) {
        self.src.trim();
        self.dst.trim();
    }
}

// SAFETY: QATzip sessions may be used from any thread, one at a time; a `Pool` hands each
// session to one request at a time, and the buffers are owned by the session.
unsafe impl Send for Session {}

/// Idle QATzip sessions of one kind (layout and level): one per request in flight, made on
/// first need, reused, and torn down when the pool is dropped — in the thread that drops it,
/// never in a thread's exit, which could race QATzip's own teardown at process exit.
pub(crate) struct Pool {
    stream: Stream,
    level: u32,
    idle: std::sync::Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("stream", &self.stream)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(stream: Stream, level: u32) -> Self {
        Pool {
            stream,
            level,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Session>> {
        // A request that panicked leaves no half-made session in the list: keep going.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with an idle session, or a new one (`setup` turns QATzip's reason for not
    /// making one into the caller's error). A session whose request failed is dropped, not
    /// reused: QATzip's software path keeps inflate state across calls.
    pub(crate) fn with<T, E>(
        &self,
        setup: impl FnOnce(String) -> E,
        f: impl FnOnce(&mut Session) -> Result<T, E>,
    ) -> Result<T, E> {
        let idle = self.idle().pop();
        let mut session = match idle {
            Some(s) => s,
            None => Session::new(self.stream, self.level).map_err(setup)?,
        };
        let result = f(&mut session);
        if result.is_ok() {
            self.idle().push(session);
        }
        result
    }

    /// Whether this pool's sessions run on a device; makes one if there is none yet.
    pub(crate) fn on_device(&self) -> bool {
        self.with(|_| (), |s| Ok(s.on_device())).unwrap_or(false)
    }

    /// Drops the idle sessions, so the next request starts afresh.
    pub(crate) fn clear(&self) {
        self.idle().clear();
    }
}
