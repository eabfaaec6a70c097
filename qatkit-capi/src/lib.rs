//! qatkit's C ABI: `libqatkit` (`libqatkit.so.0`, `libqatkit.a`) and `include/qatkit.h`,
//! generated from this crate by cbindgen.
//!
//! A thin skin over the Rust API, in rustls-ffi's conventions (stated at the top of the
//! header): `qatkit_` names, opaque handles with `_new`/`_free`, one `qatkit_result` whose
//! values map `ErrorKind` once ([`ffi`]), out-parameters last and written only on success, a
//! panic boundary on every entry point, and nothing of Rust's (types, layouts, allocations)
//! crossing the boundary.

#![allow(non_camel_case_types)] // C names: qatkit_codec, qatkit_result, ...

mod aead;
mod cipher;
mod compress;
mod domain;
mod ecdh;
mod ecdsa;
mod ffi;
mod hash;
mod host;
mod mac;
mod pkey;
mod rsa;
mod stream;

use std::ffi::c_char;

pub use aead::*;
pub use cipher::*;
pub use compress::*;
pub use domain::*;
pub use ecdh::*;
pub use ecdsa::*;
pub use ffi::{
    QATKIT_BUFFER_TOO_SMALL, QATKIT_BUSY, QATKIT_CORRUPT_DATA, QATKIT_DEVICE_FAILURE,
    QATKIT_INVALID_INPUT, QATKIT_IO, QATKIT_LIMIT_EXCEEDED, QATKIT_NOT_FOUND, QATKIT_NOT_VIABLE,
    QATKIT_NULL_PARAMETER, QATKIT_OK, QATKIT_OTHER, QATKIT_PANIC, QATKIT_PERMISSION_DENIED,
    QATKIT_UNSUPPORTED, qatkit_result,
};
pub use hash::*;
pub use host::*;
pub use mac::*;
pub use pkey::*;
pub use rsa::*;
pub use stream::*;

/// The library's version, `major.minor.patch`, as a static NUL-terminated string (never
/// freed). Compare with the header's `QATKIT_VERSION_*` to find a mismatched library.
#[unsafe(no_mangle)]
pub extern "C" fn qatkit_version() -> *const c_char {
    const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(version) => version,
        Err(_) => panic!("the version has no NUL in it"),
    };
    VERSION.as_ptr()
}

/// A short, static description of a result (never freed); `"unknown result"` for a value that
/// is not one.
#[unsafe(no_mangle)]
pub extern "C" fn qatkit_result_text(result: qatkit_result) -> *const c_char {
    ffi::guard(c"qatkit panicked".as_ptr(), || {
        ffi::result_text(result).as_ptr()
    })
}

/// Copies the full message of this thread's last failed call (with its causes, e.g. `cannot
/// write "4" to /sys/.../sriov_numvfs: Invalid argument`) into `buf`, NUL-terminated, and its
/// length (without the NUL) to `len_out`. When `buf` is too small: `QATKIT_BUFFER_TOO_SMALL`
/// and the size needed, NUL included, in `len_out`. Empty when no call has failed.
///
/// # Safety
/// `buf` holds `len` writable bytes (NULL when `len` is 0); `len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_last_error(
    buf: *mut c_char,
    len: usize,
    len_out: *mut usize,
) -> qatkit_result {
    ffi::guard(QATKIT_PANIC, || ffi::last_error_into(buf, len, len_out))
}

/// Frees a string qatkit returned (NULL is fine).
///
/// # Safety
/// `string` is NULL or a string a qatkit function returned, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_string_free(string: *mut c_char) {
    ffi::guard((), || {
        if !string.is_null() {
            // SAFETY: the caller's contract: it came from CString::into_raw in `ffi::new_string`.
            drop(unsafe { std::ffi::CString::from_raw(string) });
        }
    })
}
