//! Hashing: the hasher handle, one-shot digests into a caller buffer, and the served counters.

use qat_crypto::hash::{Algorithm, Hasher};

use crate::compress::{backend_of, qatkit_backend, qatkit_served};
use crate::ffi::{
    Failure, Span, arg, boundary, bytes, bytes_mut, disjoint, free_handle, out, put, put_handle,
    qatkit_result,
};

/// A hash algorithm.
pub type qatkit_hash_alg = u32;
/// SHA-256 (FIPS 180-4): 32-byte digests.
pub const QATKIT_HASH_SHA256: qatkit_hash_alg = 1;
/// SHA-384 (FIPS 180-4): 48-byte digests.
pub const QATKIT_HASH_SHA384: qatkit_hash_alg = 2;
/// SHA-512 (FIPS 180-4): 64-byte digests.
pub const QATKIT_HASH_SHA512: qatkit_hash_alg = 3;
/// SHA3-256 (FIPS 202): 32-byte digests.
pub const QATKIT_HASH_SHA3_256: qatkit_hash_alg = 4;

/// The longest digest (SHA-512's) and the longest MAC tag (HMAC-SHA-512's): a buffer of this
/// size always holds the result.
pub const QATKIT_MAX_DIGEST_LEN: usize = 64;

/// A hash algorithm with the backend that serves it. Thread-safe: any number of threads may
/// hash with one hasher at once.
pub struct qatkit_hasher {
    hasher: Hasher,
}

pub(crate) fn algorithm_of(alg: qatkit_hash_alg) -> Result<Algorithm, Failure> {
    Ok(match alg {
        QATKIT_HASH_SHA256 => Algorithm::Sha256,
        QATKIT_HASH_SHA384 => Algorithm::Sha384,
        QATKIT_HASH_SHA512 => Algorithm::Sha512,
        QATKIT_HASH_SHA3_256 => Algorithm::Sha3_256,
        other => return Err(Failure::invalid(format!("unknown hash algorithm {other}"))),
    })
}

/// Makes a hasher for `alg` served by `backend`; `QATKIT_BACKEND_QAT` without a device is an
/// error here. Free it with `qatkit_hasher_free`.
///
/// # Safety
/// `hasher_out` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_hasher_new(
    alg: qatkit_hash_alg,
    backend: qatkit_backend,
    hasher_out: *mut *mut qatkit_hasher,
) -> qatkit_result {
    boundary(|| {
        let hasher_out = out(hasher_out, "hasher_out")?;
        let hasher = Hasher::new(algorithm_of(alg)?).with_backend(backend_of(backend)?)?;
        // SAFETY: checked by `out`.
        unsafe { put_handle(hasher_out, qatkit_hasher { hasher }) };
        Ok(())
    })
}

/// Frees a hasher (NULL is fine).
///
/// # Safety
/// `hasher` is NULL or a handle from `qatkit_hasher_new` not freed before; it is not used
/// again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_hasher_free(hasher: *mut qatkit_hasher) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(hasher) }
}

/// Hashes `data_len` bytes at `data` into `digest`, and writes the digest's length to
/// `digest_len_out`. A `digest_cap` shorter than the digest is `QATKIT_BUFFER_TOO_SMALL` with
/// the length needed in `digest_len_out`; `QATKIT_MAX_DIGEST_LEN` bytes are always enough.
///
/// # Safety
/// `hasher` is NULL or a live handle; `data` holds `data_len` readable bytes and `digest`
/// `digest_cap` writable ones (either NULL when its length is 0), not overlapping;
/// `digest_len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_hash(
    hasher: *const qatkit_hasher,
    data: *const u8,
    data_len: usize,
    digest: *mut u8,
    digest_cap: usize,
    digest_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(digest_len_out, "digest_len_out")?;
        disjoint(&[
            Span::new(data, data_len, false, "data"),
            Span::new(digest, digest_cap, true, "digest"),
        ])?;
        // SAFETY: the caller's contract above, each buffer checked for NULL and overlap.
        let (hasher, data, digest) = unsafe {
            (
                &arg(hasher, "hasher")?.hasher,
                bytes(data, data_len, "data")?,
                bytes_mut(digest, digest_cap, "digest")?,
            )
        };
        let needed = hasher.algorithm().output_len();
        if needed > digest.len() {
            return Err(Failure::too_small(len_out, needed, digest.len()));
        }
        let result = hasher.hash(data)?;
        digest[..needed].copy_from_slice(result.as_ref());
        // SAFETY: checked by `out`.
        unsafe { put(len_out, needed) };
        Ok(())
    })
}

/// How many requests the CPU and a QAT device served with this hasher since it was made.
///
/// # Safety
/// `hasher` is NULL or a live handle; `served_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_hasher_served(
    hasher: *const qatkit_hasher,
    served_out: *mut qatkit_served,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let hasher = unsafe { arg(hasher, "hasher") }?;
        let served_out = out(served_out, "served_out")?;
        // SAFETY: checked by `out`.
        unsafe { put(served_out, hasher.hasher.served().into()) };
        Ok(())
    })
}
