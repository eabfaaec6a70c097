//! Message authentication: the MAC key handle, signing into a caller buffer, verification, and
//! the served counters.

use qat_crypto::mac::{Algorithm, Key};

use crate::compress::{backend_of, qatkit_backend, qatkit_served};
use crate::ffi::{
    Failure, Span, arg, boundary, bytes, bytes_mut, disjoint, free_handle, out, put, put_handle,
    qatkit_result,
};

/// A MAC algorithm.
pub type qatkit_mac_alg = u32;
/// HMAC with SHA-256 (RFC 2104): 32-byte tags.
pub const QATKIT_MAC_HMAC_SHA256: qatkit_mac_alg = 1;
/// HMAC with SHA-384: 48-byte tags.
pub const QATKIT_MAC_HMAC_SHA384: qatkit_mac_alg = 2;
/// HMAC with SHA-512: 64-byte tags.
pub const QATKIT_MAC_HMAC_SHA512: qatkit_mac_alg = 3;

/// The shortest tag `qatkit_mac_verify` takes (a tag cut to its first bytes, 128 bits).
pub const QATKIT_MAC_MIN_TAG_LEN: usize = 16;

/// A MAC key with the backend that serves it. Thread-safe: any number of threads may use one
/// key at once. Freeing it zeroes the key material.
pub struct qatkit_mac_key {
    key: Key,
}

fn algorithm_of(alg: qatkit_mac_alg) -> Result<Algorithm, Failure> {
    Ok(match alg {
        QATKIT_MAC_HMAC_SHA256 => Algorithm::HmacSha256,
        QATKIT_MAC_HMAC_SHA384 => Algorithm::HmacSha384,
        QATKIT_MAC_HMAC_SHA512 => Algorithm::HmacSha512,
        other => return Err(Failure::invalid(format!("unknown MAC algorithm {other}"))),
    })
}

/// Makes a key for `alg` from `key_len` bytes of `key` (any length, 0 included), served by
/// `backend`; `QATKIT_BACKEND_QAT` without a device is an error here. qatkit keeps its own copy
/// of the key. Free it with `qatkit_mac_key_free`.
///
/// # Safety
/// `key` holds `key_len` readable bytes (NULL when `key_len` is 0); `key_out` is NULL or points
/// to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_mac_key_new(
    alg: qatkit_mac_alg,
    key: *const u8,
    key_len: usize,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_mac_key,
) -> qatkit_result {
    boundary(|| {
        let key_out = out(key_out, "key_out")?;
        // SAFETY: the caller's contract above.
        let bytes = unsafe { bytes(key, key_len, "key") }?;
        let made = Key::new(algorithm_of(alg)?, bytes)?.with_backend(backend_of(backend)?)?;
        // SAFETY: checked by `out`.
        unsafe { put_handle(key_out, qatkit_mac_key { key: made }) };
        Ok(())
    })
}

/// Frees a key and zeroes its key material (NULL is fine).
///
/// # Safety
/// `key` is NULL or a handle from `qatkit_mac_key_new` not freed before; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_mac_key_free(key: *mut qatkit_mac_key) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(key) }
}

/// Computes the tag of `data_len` bytes at `data` into `tag`, and writes its length (the
/// algorithm's full tag) to `tag_len_out`. A `tag_cap` shorter than the tag is
/// `QATKIT_BUFFER_TOO_SMALL` with the length needed in `tag_len_out`; `QATKIT_MAX_DIGEST_LEN`
/// bytes are always enough.
///
/// # Safety
/// `key` is NULL or a live handle; `data` holds `data_len` readable bytes and `tag` `tag_cap`
/// writable ones (either NULL when its length is 0), not overlapping; `tag_len_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_mac_sign(
    key: *const qatkit_mac_key,
    data: *const u8,
    data_len: usize,
    tag: *mut u8,
    tag_cap: usize,
    tag_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(tag_len_out, "tag_len_out")?;
        disjoint(&[
            Span::new(data, data_len, false, "data"),
            Span::new(tag, tag_cap, true, "tag"),
        ])?;
        // SAFETY: the caller's contract above, each buffer checked for NULL and overlap.
        let (key, data, tag) = unsafe {
            (
                &arg(key, "key")?.key,
                bytes(data, data_len, "data")?,
                bytes_mut(tag, tag_cap, "tag")?,
            )
        };
        let needed = key.algorithm().tag_len();
        if needed > tag.len() {
            return Err(Failure::too_small(len_out, needed, tag.len()));
        }
        let result = key.sign(data)?;
        tag[..needed].copy_from_slice(result.as_ref());
        // SAFETY: checked by `out`.
        unsafe { put(len_out, needed) };
        Ok(())
    })
}

/// Checks `tag` against the tag of `data_len` bytes at `data`, in constant time: `QATKIT_OK`
/// when it matches, `QATKIT_CORRUPT_DATA` when not. `tag` may be the full tag or its first
/// `tag_len` bytes, no fewer than `QATKIT_MAC_MIN_TAG_LEN`; another length is
/// `QATKIT_INVALID_INPUT`.
///
/// # Safety
/// `key` is NULL or a live handle; `data` holds `data_len` readable bytes and `tag` `tag_len`
/// (either NULL when its length is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_mac_verify(
    key: *const qatkit_mac_key,
    data: *const u8,
    data_len: usize,
    tag: *const u8,
    tag_len: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (key, data, tag) = unsafe {
            (
                &arg(key, "key")?.key,
                bytes(data, data_len, "data")?,
                bytes(tag, tag_len, "tag")?,
            )
        };
        key.verify(data, tag)?;
        Ok(())
    })
}

/// How many requests the CPU and a QAT device served with this key since it was made.
///
/// # Safety
/// `key` is NULL or a live handle; `served_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_mac_key_served(
    key: *const qatkit_mac_key,
    served_out: *mut qatkit_served,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?;
        let served_out = out(served_out, "served_out")?;
        // SAFETY: checked by `out`.
        unsafe { put(served_out, key.key.served().into()) };
        Ok(())
    })
}
