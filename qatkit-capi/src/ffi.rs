//! What every entry point shares: the result codes, the one mapping from `ErrorKind`, the panic
//! boundary, the per-thread last error, and the checked conversions of C arguments.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use qat_error::ErrorKind;

/// What a fallible call returns: `QATKIT_OK`, or why not. Values of their own (7000s), not errno.
pub type qatkit_result = u32;

/// Success.
pub const QATKIT_OK: qatkit_result = 0;
/// The request or an input is malformed (a bad level, address, name, document or state file).
pub const QATKIT_INVALID_INPUT: qatkit_result = 7001;
/// Something the request names does not exist (a device, a driver, a group).
pub const QATKIT_NOT_FOUND: qatkit_result = 7002;
/// The device, the kernel or this build cannot do it; or compressed data needs a feature qatkit
/// does not read (an LZ4 legacy frame, a dictionary).
pub const QATKIT_UNSUPPORTED: qatkit_result = 7003;
/// The operating system refused access.
pub const QATKIT_PERMISSION_DENIED: qatkit_result = 7004;
/// In use: a VFIO user holds a VF, another provisioner holds the lock.
pub const QATKIT_BUSY: qatkit_result = 7005;
/// An IOMMU group cannot be used through VFIO.
pub const QATKIT_NOT_VIABLE: qatkit_result = 7006;
/// A limit would be exceeded: the output limit, too few VFs, RLIMIT_MEMLOCK.
pub const QATKIT_LIMIT_EXCEEDED: qatkit_result = 7007;
/// Compressed data is corrupt or truncated.
pub const QATKIT_CORRUPT_DATA: qatkit_result = 7008;
/// The device or the kernel did not do what was asked.
pub const QATKIT_DEVICE_FAILURE: qatkit_result = 7009;
/// Another operating-system error.
pub const QATKIT_IO: qatkit_result = 7010;
/// A failure of a kind this version of the header does not name (a newer library).
pub const QATKIT_OTHER: qatkit_result = 7099;
/// A pointer argument that must not be NULL was NULL. Nothing was done.
pub const QATKIT_NULL_PARAMETER: qatkit_result = 7100;
/// The caller's buffer is too small; the length out-parameter holds the size needed.
pub const QATKIT_BUFFER_TOO_SMALL: qatkit_result = 7101;
/// qatkit panicked (a bug); the call did not complete. Report it with `qatkit_last_error`.
pub const QATKIT_PANIC: qatkit_result = 7102;

/// The result for an error kind: the one place the C ABI classifies errors.
pub(crate) fn result_of(kind: ErrorKind) -> qatkit_result {
    match kind {
        ErrorKind::InvalidInput => QATKIT_INVALID_INPUT,
        ErrorKind::NotFound => QATKIT_NOT_FOUND,
        ErrorKind::Unsupported => QATKIT_UNSUPPORTED,
        ErrorKind::PermissionDenied => QATKIT_PERMISSION_DENIED,
        ErrorKind::Busy => QATKIT_BUSY,
        ErrorKind::NotViable => QATKIT_NOT_VIABLE,
        ErrorKind::LimitExceeded => QATKIT_LIMIT_EXCEEDED,
        ErrorKind::CorruptData => QATKIT_CORRUPT_DATA,
        ErrorKind::DeviceFailure => QATKIT_DEVICE_FAILURE,
        ErrorKind::Io => QATKIT_IO,
        // ErrorKind is non-exhaustive; a test checks that every kind of this version has a
        // value of its own.
        _ => QATKIT_OTHER,
    }
}

/// A short, static description of a result.
pub(crate) fn result_text(result: qatkit_result) -> &'static CStr {
    match result {
        QATKIT_OK => c"ok",
        QATKIT_INVALID_INPUT => c"invalid input",
        QATKIT_NOT_FOUND => c"not found",
        QATKIT_UNSUPPORTED => c"unsupported",
        QATKIT_PERMISSION_DENIED => c"permission denied",
        QATKIT_BUSY => c"busy",
        QATKIT_NOT_VIABLE => c"IOMMU group not viable",
        QATKIT_LIMIT_EXCEEDED => c"limit exceeded",
        QATKIT_CORRUPT_DATA => c"corrupt data",
        QATKIT_DEVICE_FAILURE => c"device failure",
        QATKIT_IO => c"I/O error",
        QATKIT_OTHER => c"other error",
        QATKIT_NULL_PARAMETER => c"a required pointer argument was NULL",
        QATKIT_BUFFER_TOO_SMALL => c"the buffer is too small",
        QATKIT_PANIC => c"qatkit panicked (a bug)",
        _ => c"unknown result",
    }
}

/// Why a call failed: its result and the full message.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) result: qatkit_result,
    pub(crate) message: String,
    /// For `QATKIT_BUFFER_TOO_SMALL`: the size needed, written to the length out-parameter.
    pub(crate) needed: Option<(*mut usize, usize)>,
}

impl Failure {
    pub(crate) fn new(result: qatkit_result, message: impl Into<String>) -> Self {
        Failure {
            result,
            message: message.into(),
            needed: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Failure::new(QATKIT_INVALID_INPUT, message)
    }

    /// The buffer holds less than `needed` bytes; `needed` goes to `len_out`.
    pub(crate) fn too_small(len_out: *mut usize, needed: usize, available: usize) -> Self {
        Failure {
            result: QATKIT_BUFFER_TOO_SMALL,
            message: format!("the result needs {needed} bytes, the buffer has {available}"),
            needed: Some((len_out, needed)),
        }
    }
}

impl From<qat_vf::Error> for Failure {
    fn from(e: qat_vf::Error) -> Self {
        Failure::new(result_of(e.kind()), e.chain())
    }
}

impl From<qat_crypto::Error> for Failure {
    fn from(e: qat_crypto::Error) -> Self {
        Failure::new(result_of(e.kind()), e.to_string())
    }
}

impl From<qat_crypto::crypto::Error> for Failure {
    fn from(e: qat_crypto::crypto::Error) -> Self {
        Failure::new(result_of(e.kind()), e.to_string())
    }
}

thread_local! {
    /// The full message of the last call on this thread that did not return `QATKIT_OK`.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn remember(message: &str) {
    // A message with a NUL in it (from a file name, say) is cut there.
    let text = message.split('\0').next().unwrap_or_default();
    let text = CString::new(text).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = Some(text));
}

/// Copies the last error's message into `buf` (NUL-terminated); the length it needs, NUL
/// included, goes to `len_out` when `buf` is too small.
pub(crate) fn last_error_into(buf: *mut c_char, len: usize, len_out: *mut usize) -> qatkit_result {
    let text = LAST_ERROR
        .with(|last| last.borrow().clone())
        .unwrap_or_default();
    let bytes = text.as_bytes_with_nul();
    if len_out.is_null() || (buf.is_null() && len > 0) {
        return QATKIT_NULL_PARAMETER;
    }
    if bytes.len() > len {
        // SAFETY: checked non-NULL above; the caller passes a writable size_t.
        unsafe { len_out.write(bytes.len()) };
        return QATKIT_BUFFER_TOO_SMALL;
    }
    // SAFETY: `buf` has room for `len >= bytes.len()` bytes (caller's contract), and the
    // message is a separate allocation; `len_out` is writable.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr().cast(), buf, bytes.len());
        len_out.write(bytes.len() - 1);
    }
    QATKIT_OK
}

/// Runs an entry point's body behind the panic boundary: its failure becomes the result and the
/// thread's last error, and a panic becomes `QATKIT_PANIC`, never an unwind into C.
pub(crate) fn boundary(body: impl FnOnce() -> Result<(), Failure>) -> qatkit_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => QATKIT_OK,
        Ok(Err(failure)) => {
            if let Some((len_out, needed)) = failure.needed {
                if !len_out.is_null() {
                    // SAFETY: the entry point checked `len_out` and took it from its caller,
                    // who passes a writable size_t.
                    unsafe { len_out.write(needed) };
                }
            }
            remember(&failure.message);
            failure.result
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            remember(&format!("qatkit panicked: {what}"));
            QATKIT_PANIC
        }
    }
}

/// Like [`boundary`], for calls that cannot fail but must not unwind: `fallback` on a panic.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn null(name: &str) -> Failure {
    Failure::new(QATKIT_NULL_PARAMETER, format!("{name} is NULL"))
}

/// The object behind a handle or struct pointer; NULL is `QATKIT_NULL_PARAMETER`.
///
/// # Safety
/// A non-NULL `ptr` points to a live `T` that stays valid and unaliased by writers for `'a`.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract above.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(name))
}

/// The object behind a mutable handle; NULL is `QATKIT_NULL_PARAMETER`.
///
/// # Safety
/// A non-NULL `ptr` points to a live `T` used by no one else for `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller's contract above.
    unsafe { ptr.as_mut() }.ok_or_else(|| null(name))
}

/// Checks that an out-parameter is not NULL, before any work is done.
pub(crate) fn out<T>(ptr: *mut T, name: &str) -> Result<*mut T, Failure> {
    if ptr.is_null() {
        Err(null(name))
    } else {
        Ok(ptr)
    }
}

/// Writes an out-parameter checked by [`out`].
///
/// # Safety
/// `ptr` came from [`out`] and points to writable memory for a `T`.
pub(crate) unsafe fn put<T>(ptr: *mut T, value: T) {
    // SAFETY: the caller's contract above.
    unsafe { ptr.write(value) }
}

/// A caller's input buffer; NULL is allowed when `len` is 0.
///
/// # Safety
/// A non-NULL `ptr` points to `len` readable bytes that stay valid for `'a`.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: the caller's contract above; `len > 0` and `ptr` is non-NULL.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A caller's output buffer; NULL is allowed when `len` is 0.
///
/// # Safety
/// A non-NULL `ptr` points to `len` writable bytes, used by no one else for `'a`.
pub(crate) unsafe fn bytes_mut<'a>(
    ptr: *mut u8,
    len: usize,
    name: &str,
) -> Result<&'a mut [u8], Failure> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: the caller's contract above; `len > 0` and `ptr` is non-NULL.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// A fixed-length argument given as pointer and length (a nonce, an IV): NULL is
/// `QATKIT_NULL_PARAMETER`, another length `QATKIT_INVALID_INPUT`.
///
/// # Safety
/// A non-NULL `ptr` points to `len` readable bytes.
pub(crate) unsafe fn array<const N: usize>(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> Result<[u8; N], Failure> {
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: the caller's contract above; `ptr` is non-NULL.
    let bytes = unsafe { bytes(ptr, len, name) }?;
    bytes
        .try_into()
        .map_err(|_| Failure::invalid(format!("{name} is {len} bytes, not {N}")))
}

/// One caller buffer of a call, for [`disjoint`]: where it is, how long, whether qatkit writes
/// it, and its name for the message (`index` for a request of a batch).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) len: usize,
    pub(crate) writes: bool,
    pub(crate) name: &'static str,
    pub(crate) index: Option<usize>,
}

impl Span {
    pub(crate) fn new<T>(ptr: *const T, len: usize, writes: bool, name: &'static str) -> Span {
        Span {
            start: ptr as usize,
            len,
            writes,
            name,
            index: None,
        }
    }

    fn end(&self) -> usize {
        self.start.saturating_add(self.len)
    }

    fn label(&self) -> String {
        match self.index {
            Some(i) => format!("requests[{i}].{}", self.name),
            None => self.name.to_owned(),
        }
    }
}

/// Checks that no buffer qatkit writes overlaps another buffer of the same call (Rust may not
/// alias them; C callers can): `QATKIT_INVALID_INPUT` naming both. Empty buffers never
/// overlap. O(n log n) in the number of buffers.
pub(crate) fn disjoint(spans: &[Span]) -> Result<(), Failure> {
    let mut written: Vec<&Span> = spans.iter().filter(|s| s.writes && s.len > 0).collect();
    written.sort_unstable_by_key(|s| s.start);
    let overlap =
        |a: &Span, b: &Span| Failure::invalid(format!("{} and {} overlap", a.label(), b.label()));
    for pair in written.windows(2) {
        if pair[1].start < pair[0].end() {
            return Err(overlap(pair[0], pair[1]));
        }
    }
    // Each read-only buffer against the written ones: the first written buffer ending after
    // its start is the only one that can overlap it (they are sorted and disjoint).
    for read in spans.iter().filter(|s| !s.writes && s.len > 0) {
        let i = written.partition_point(|w| w.end() <= read.start);
        if let Some(w) = written.get(i) {
            if w.start < read.end() {
                return Err(overlap(read, w));
            }
        }
    }
    Ok(())
}

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
/// A non-NULL `ptr` points to a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: the caller's contract above.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str()
        .map_err(|_| Failure::invalid(format!("{name} is not UTF-8")))
}

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn opt_text<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's contract above.
    unsafe { text(ptr, name) }.map(Some)
}

/// Hands `value` to C as a new handle through a checked out-parameter.
///
/// # Safety
/// `out` came from [`out`] and points to writable memory for a pointer.
pub(crate) unsafe fn put_handle<T>(out: *mut *mut T, value: T) {
    // SAFETY: the caller's contract above.
    unsafe { out.write(Box::into_raw(Box::new(value))) }
}

/// Frees a handle made by [`put_handle`]; NULL is fine. Never unwinds.
///
/// # Safety
/// `handle` is NULL or came from [`put_handle`] for the same `T` and is not used again.
pub(crate) unsafe fn free_handle<T>(handle: *mut T) {
    guard((), || {
        if !handle.is_null() {
            // SAFETY: the caller's contract: a live Box from `put_handle`, freed once.
            drop(unsafe { Box::from_raw(handle) });
        }
    })
}

/// A string qatkit returns: allocated here, freed by `qatkit_string_free`.
pub(crate) fn new_string(value: String) -> Result<*mut c_char, Failure> {
    CString::new(value)
        .map(CString::into_raw)
        .map_err(|_| Failure::new(QATKIT_OTHER, "the result holds a NUL byte"))
}

/// Copies `value` into a fixed C string field, NUL-terminated; longer values are refused.
pub(crate) fn fill<const N: usize>(field: &mut [c_char; N], value: &str) -> Result<(), Failure> {
    if value.len() >= N || value.contains('\0') {
        return Err(Failure::new(
            QATKIT_OTHER,
            format!("{value:?} does not fit a {N}-byte field"),
        ));
    }
    for (dst, src) in field.iter_mut().zip(value.bytes()) {
        *dst = src as c_char;
    }
    field[value.len()] = 0;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_result_of_its_own() {
        let mut seen = Vec::new();
        for kind in ErrorKind::ALL {
            let result = result_of(kind);
            assert_ne!(result, QATKIT_OTHER, "{kind} has no result value");
            assert!(!seen.contains(&result), "{kind} shares {result}");
            assert_ne!(result_text(result).to_bytes(), b"unknown result");
            seen.push(result);
        }
    }

    #[test]
    fn overlapping_buffers_are_found() {
        let buf = [0u8; 64];
        let at = |offset: usize, len: usize, writes: bool, name| {
            Span::new(buf[offset..].as_ptr(), len, writes, name)
        };
        assert!(disjoint(&[at(0, 16, true, "data"), at(16, 16, true, "tag")]).is_ok());
        assert!(disjoint(&[at(0, 16, false, "aad"), at(8, 16, false, "key")]).is_ok());
        assert!(disjoint(&[at(0, 16, true, "data"), at(8, 0, true, "tag")]).is_ok());
        let e = disjoint(&[at(0, 16, true, "data"), at(15, 16, true, "tag")]).unwrap_err();
        assert_eq!(
            (e.result, e.message.as_str()),
            (QATKIT_INVALID_INPUT, "data and tag overlap")
        );
        let e = disjoint(&[
            at(40, 8, true, "tag"),
            at(0, 8, true, "data"),
            at(30, 11, false, "aad"),
        ])
        .unwrap_err();
        assert_eq!(e.message, "aad and tag overlap");
        let mut batch = at(20, 4, true, "data");
        batch.index = Some(3);
        let e = disjoint(&[at(0, 8, true, "data"), at(22, 1, false, "aad"), batch]).unwrap_err();
        assert_eq!(e.message, "aad and requests[3].data overlap");
    }

    #[test]
    fn a_panic_is_a_result_and_a_message() {
        let result = boundary(|| panic!("deliberately"));
        assert_eq!(result, QATKIT_PANIC);
        let mut buf = [0 as c_char; 64];
        let mut len = 0;
        assert_eq!(last_error_into(buf.as_mut_ptr(), 64, &mut len), QATKIT_OK);
        // SAFETY: last_error_into wrote a NUL-terminated string into `buf`.
        let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(text.to_str().unwrap(), "qatkit panicked: deliberately");
        assert_eq!(len, text.to_bytes().len());
    }
}
