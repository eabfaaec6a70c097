//! ECDSA: signing and verifying key handles from DER or a point, DER signatures into caller
//! buffers, batches, and the served counters.

use qat_crypto::ecdsa::{Algorithm, SigningKey, VerifyingKey};

use crate::compress::{backend_of, qatkit_backend, qatkit_request, qatkit_served};
use crate::ffi::{
    Span, arg, arg_mut, boundary, bytes, bytes_mut, disjoint, free_handle, guard, out, put,
    put_handle, qatkit_result,
};
use crate::pkey::{
    QATKIT_KEY_PKCS8, QATKIT_KEY_SEC1, QATKIT_KEY_SEC1_POINT, QATKIT_KEY_SPKI, Slot, copy_out,
    output_batch, qatkit_key_format, qatkit_verify_request, room, verify_batch, wrong_format,
};

/// An ECDSA algorithm: a curve with its digest. A key's curve says which it is.
pub type qatkit_ecdsa_alg = u32;
/// NIST P-256 (secp256r1) with SHA-256 (TLS's `ecdsa_secp256r1_sha256`): signatures of at most
/// 72 bytes.
pub const QATKIT_ECDSA_P256_SHA256: qatkit_ecdsa_alg = 1;
/// NIST P-384 (secp384r1) with SHA-384 (TLS's `ecdsa_secp384r1_sha384`): signatures of at most
/// 104 bytes.
pub const QATKIT_ECDSA_P384_SHA384: qatkit_ecdsa_alg = 2;

/// The longest DER signature of any algorithm here (P-384's): a buffer of this size always
/// holds a signature.
pub const QATKIT_ECDSA_MAX_SIGNATURE_LEN: usize = 104;

/// An ECDSA private key (P-256 or P-384) with the backend that serves it. Thread-safe: any
/// number of threads may sign with one key at once (`qatkit_ecdsa_signing_key_set_in_flight`
/// excepted). Freeing it clears the key material.
pub struct qatkit_ecdsa_signing_key {
    key: Slot<SigningKey>,
}

/// An ECDSA public key (P-256 or P-384) with the backend that serves it. Thread-safe: any
/// number of threads may verify with one key at once
/// (`qatkit_ecdsa_verifying_key_set_in_flight` excepted).
pub struct qatkit_ecdsa_verifying_key {
    key: Slot<VerifyingKey>,
}

fn alg_of(algorithm: Algorithm) -> qatkit_ecdsa_alg {
    match algorithm {
        Algorithm::P256Sha256 => QATKIT_ECDSA_P256_SHA256,
        Algorithm::P384Sha384 => QATKIT_ECDSA_P384_SHA384,
        // Non-exhaustive: a newer algorithm has no constant in this header.
        _ => 0,
    }
}

/// Makes a signing key from `der_len` bytes of `der` in `format` (`QATKIT_KEY_PKCS8` or
/// `QATKIT_KEY_SEC1`) on P-256 or P-384, served by `backend`, one request in flight. DER that
/// is not such a key is `QATKIT_INVALID_INPUT` (`qatkit_last_error` says why);
/// backends as for `qatkit_rsa_private_key_new`. qatkit keeps its own copy: the caller may clear
/// `der` once this returns. Free the key with `qatkit_ecdsa_signing_key_free`.
///
/// # Safety
/// `der` holds `der_len` readable bytes; `key_out` is NULL or points to writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_signing_key_new(
    format: qatkit_key_format,
    der: *const u8,
    der_len: usize,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_ecdsa_signing_key,
) -> qatkit_result {
    boundary(|| {
        let key_out = out(key_out, "key_out")?;
        // SAFETY: the caller's contract above.
        let der = unsafe { bytes(der, der_len, "der") }?;
        let backend = backend_of(backend)?;
        let key = match format {
            QATKIT_KEY_PKCS8 => SigningKey::from_pkcs8_der(der)?,
            QATKIT_KEY_SEC1 => SigningKey::from_sec1_der(der)?,
            other => {
                return Err(wrong_format(
                    other,
                    "an ECDSA signing key",
                    &[QATKIT_KEY_PKCS8, QATKIT_KEY_SEC1],
                ));
            }
        };
        let key = key.with_backend(backend)?;
        // SAFETY: checked by `out`.
        unsafe {
            put_handle(
                key_out,
                qatkit_ecdsa_signing_key {
                    key: Slot::new(key),
                },
            )
        };
        Ok(())
    })
}

/// Frees a signing key and clears its key material (NULL is fine).
///
/// # Safety
/// `key` is NULL or a handle from `qatkit_ecdsa_signing_key_new` not freed before; it is not
/// used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_signing_key_free(key: *mut qatkit_ecdsa_signing_key) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(key) }
}

/// Sets how many requests of a batch run at once (at least 1; 0 is `QATKIT_INVALID_INPUT`).
/// Not thread-safe: set it before the key is shared.
///
/// # Safety
/// `key` is NULL or a live handle, not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_signing_key_set_in_flight(
    key: *mut qatkit_ecdsa_signing_key,
    in_flight: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        unsafe { arg_mut(key, "key") }?.key.set_in_flight(in_flight)
    })
}

/// The key's algorithm (from its curve); 0 when `key` is NULL.
///
/// # Safety
/// `key` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_signing_key_alg(
    key: *const qatkit_ecdsa_signing_key,
) -> qatkit_ecdsa_alg {
    guard(0, || {
        // SAFETY: the caller's contract above.
        unsafe { key.as_ref() }
            .and_then(|k| k.key.get().ok())
            .map_or(0, |k| alg_of(k.algorithm()))
    })
}

/// Makes a handle for the key's public half, served by the signing key's backend, one request
/// in flight; it lives on its own (free it with `qatkit_ecdsa_verifying_key_free`, before or
/// after the signing key).
///
/// # Safety
/// `key` is NULL or a live handle; `verifying_out` is NULL or points to writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_signing_key_verifying_key(
    key: *const qatkit_ecdsa_signing_key,
    verifying_out: *mut *mut qatkit_ecdsa_verifying_key,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?.key.get()?;
        let verifying_out = out(verifying_out, "verifying_out")?;
        let public = VerifyingKey::from_sec1_point(&key.verifying_key().to_sec1_point())?
            .with_backend(key.backend())?;
        let handle = qatkit_ecdsa_verifying_key {
            key: Slot::new(public),
        };
        // SAFETY: checked by `out`.
        unsafe { put_handle(verifying_out, handle) };
        Ok(())
    })
}

/// How many requests the CPU and a QAT device served with this key since it was made.
///
/// # Safety
/// `key` is NULL or a live handle; `served_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_signing_key_served(
    key: *const qatkit_ecdsa_signing_key,
    served_out: *mut qatkit_served,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?.key.get()?;
        let served_out = out(served_out, "served_out")?;
        // SAFETY: checked by `out`.
        unsafe { put(served_out, key.served().into()) };
        Ok(())
    })
}

/// Makes a verifying key from `key_len` bytes of `key` in `format` (`QATKIT_KEY_SPKI`, or
/// `QATKIT_KEY_SEC1_POINT`) on P-256 or P-384, served by `backend`, one request in flight; as
/// `qatkit_ecdsa_signing_key_new` otherwise. A point not on the curve is refused. Free it with
/// `qatkit_ecdsa_verifying_key_free`.
///
/// # Safety
/// `key` holds `key_len` readable bytes; `key_out` is NULL or points to writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_verifying_key_new(
    format: qatkit_key_format,
    key: *const u8,
    key_len: usize,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_ecdsa_verifying_key,
) -> qatkit_result {
    boundary(|| {
        let key_out = out(key_out, "key_out")?;
        // SAFETY: the caller's contract above.
        let bytes = unsafe { bytes(key, key_len, "key") }?;
        let backend = backend_of(backend)?;
        let made = match format {
            QATKIT_KEY_SPKI => VerifyingKey::from_spki_der(bytes)?,
            QATKIT_KEY_SEC1_POINT => VerifyingKey::from_sec1_point(bytes)?,
            other => {
                return Err(wrong_format(
                    other,
                    "an ECDSA verifying key",
                    &[QATKIT_KEY_SPKI, QATKIT_KEY_SEC1_POINT],
                ));
            }
        };
        let made = made.with_backend(backend)?;
        // SAFETY: checked by `out`.
        unsafe {
            put_handle(
                key_out,
                qatkit_ecdsa_verifying_key {
                    key: Slot::new(made),
                },
            )
        };
        Ok(())
    })
}

/// Frees a verifying key (NULL is fine).
///
/// # Safety
/// `key` is NULL or a handle from `qatkit_ecdsa_verifying_key_new` or
/// `qatkit_ecdsa_signing_key_verifying_key` not freed before; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_verifying_key_free(key: *mut qatkit_ecdsa_verifying_key) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(key) }
}

/// Sets how many requests of a batch run at once (at least 1; 0 is `QATKIT_INVALID_INPUT`).
/// Not thread-safe: set it before the key is shared.
///
/// # Safety
/// `key` is NULL or a live handle, not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_verifying_key_set_in_flight(
    key: *mut qatkit_ecdsa_verifying_key,
    in_flight: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        unsafe { arg_mut(key, "key") }?.key.set_in_flight(in_flight)
    })
}

/// The key's algorithm (from its curve); 0 when `key` is NULL.
///
/// # Safety
/// `key` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_verifying_key_alg(
    key: *const qatkit_ecdsa_verifying_key,
) -> qatkit_ecdsa_alg {
    guard(0, || {
        // SAFETY: the caller's contract above.
        unsafe { key.as_ref() }
            .and_then(|k| k.key.get().ok())
            .map_or(0, |k| alg_of(k.algorithm()))
    })
}

/// Writes the key as an uncompressed SEC 1 point (`04 || x || y`) into `point`, and its length
/// (65 or 97) to `point_len_out`. A `point_cap` shorter than that is `QATKIT_BUFFER_TOO_SMALL`
/// with the length needed in `point_len_out`; `QATKIT_EC_MAX_POINT_LEN` bytes are always
/// enough.
///
/// # Safety
/// `key` is NULL or a live handle; `point` holds `point_cap` writable bytes (NULL when
/// `point_cap` is 0); `point_len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_verifying_key_point(
    key: *const qatkit_ecdsa_verifying_key,
    point: *mut u8,
    point_cap: usize,
    point_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(point_len_out, "point_len_out")?;
        // SAFETY: the caller's contract above.
        let (key, point) = unsafe {
            (
                arg(key, "key")?.key.get()?,
                bytes_mut(point, point_cap, "point")?,
            )
        };
        copy_out(&key.to_sec1_point(), point, len_out)
    })
}

/// How many requests the CPU and a QAT device served with this key since it was made.
///
/// # Safety
/// `key` is NULL or a live handle; `served_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_verifying_key_served(
    key: *const qatkit_ecdsa_verifying_key,
    served_out: *mut qatkit_served,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?.key.get()?;
        let served_out = out(served_out, "served_out")?;
        // SAFETY: checked by `out`.
        unsafe { put(served_out, key.served().into()) };
        Ok(())
    })
}

/// Signs `message_len` bytes at `message` (hashed with the algorithm's digest) into
/// `signature`, in DER, and writes the signature's length to `signature_len_out` (it varies
/// from one signature to the next: signatures are randomised). A `signature_cap` shorter than
/// the algorithm's longest signature (72 bytes for P-256, 104 for P-384) is
/// `QATKIT_BUFFER_TOO_SMALL` with that length in `signature_len_out`, and nothing is signed;
/// `QATKIT_ECDSA_MAX_SIGNATURE_LEN` bytes are always enough.
///
/// # Safety
/// `key` is NULL or a live handle; `message` holds `message_len` readable bytes and `signature`
/// `signature_cap` writable ones (either NULL when its length is 0), not overlapping;
/// `signature_len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_sign(
    key: *const qatkit_ecdsa_signing_key,
    message: *const u8,
    message_len: usize,
    signature: *mut u8,
    signature_cap: usize,
    signature_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(signature_len_out, "signature_len_out")?;
        disjoint(&[
            Span::new(message, message_len, false, "message"),
            Span::new(signature, signature_cap, true, "signature"),
        ])?;
        // SAFETY: the caller's contract above, each buffer checked for NULL and overlap.
        let (key, message, signature) = unsafe {
            (
                arg(key, "key")?.key.get()?,
                bytes(message, message_len, "message")?,
                bytes_mut(signature, signature_cap, "signature")?,
            )
        };
        room(signature, key.algorithm().max_signature_len(), len_out)?;
        copy_out(&key.sign(message)?, signature, len_out)
    })
}

/// Checks that `signature` (DER) is the key's signature of `message_len` bytes at `message`:
/// `QATKIT_OK` when it is, `QATKIT_CORRUPT_DATA` when not (made with another key or over
/// another message, altered, or not DER).
///
/// # Safety
/// `key` is NULL or a live handle; `message` holds `message_len` readable bytes and `signature`
/// `signature_len` (either NULL when its length is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_verify(
    key: *const qatkit_ecdsa_verifying_key,
    message: *const u8,
    message_len: usize,
    signature: *const u8,
    signature_len: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (key, message, signature) = unsafe {
            (
                arg(key, "key")?.key.get()?,
                bytes(message, message_len, "message")?,
                bytes(signature, signature_len, "signature")?,
            )
        };
        key.verify(message, signature)?;
        Ok(())
    })
}

/// Signs each of `count` requests, up to the key's in-flight count at once: `input` is the
/// message, `output` receives the DER signature. Each request gets its own `status` and
/// `output_len`: a request whose `output_cap` is under the algorithm's longest signature gets
/// `QATKIT_BUFFER_TOO_SMALL` with that length, without being signed. The call returns
/// `QATKIT_OK` unless its arguments are bad (a NULL pointer, an output overlapping another
/// buffer of the batch): then no request is touched.
///
/// # Safety
/// `key` is NULL or a live handle; `requests` holds `count` requests (NULL when `count` is 0)
/// whose buffers are as `qatkit_request` describes, not used elsewhere during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_sign_batch(
    key: *const qatkit_ecdsa_signing_key,
    requests: *mut qatkit_request,
    count: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?.key.get()?;
        let needed = key.algorithm().max_signature_len();
        // SAFETY: the caller's contract above.
        unsafe { output_batch(requests, count, Some(needed), |m| key.sign_batch(m)) }
    })
}

/// Checks each of `count` requests' signature of its message, up to the key's in-flight count
/// at once; each request's `status` is `QATKIT_OK` or `QATKIT_CORRUPT_DATA` as
/// `qatkit_ecdsa_verify` returns them. The call returns `QATKIT_OK` unless its arguments are
/// bad (a NULL pointer, a buffer overlapping the requests): then no request is touched.
///
/// # Safety
/// `key` is NULL or a live handle; `requests` holds `count` requests (NULL when `count` is 0)
/// whose buffers are as `qatkit_verify_request` describes, not used elsewhere during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdsa_verify_batch(
    key: *const qatkit_ecdsa_verifying_key,
    requests: *mut qatkit_verify_request,
    count: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?.key.get()?;
        // SAFETY: the caller's contract above.
        unsafe { verify_batch(requests, count, |items| key.verify_batch(items)) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_follow_the_rust_enums() {
        for (constant, algorithm) in (1..).zip(Algorithm::ALL) {
            assert_eq!(alg_of(algorithm), constant);
        }
        let longest = Algorithm::ALL.map(Algorithm::max_signature_len);
        assert_eq!(longest, [72, 104]);
        assert_eq!(
            QATKIT_ECDSA_MAX_SIGNATURE_LEN,
            longest.into_iter().max().unwrap()
        );
    }
}
