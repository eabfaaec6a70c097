//! Key agreement (ECDH on P-256 and P-384, X25519): the key handle, generated or from DER or
//! raw bytes, its public key, shared secrets into caller buffers, batches, and the served
//! counters.

use qat_crypto::ecdh::{Algorithm, PrivateKey};

use crate::compress::{backend_of, qatkit_backend, qatkit_request, qatkit_served};
use crate::ffi::{
    Failure, Span, arg, arg_mut, boundary, bytes, bytes_mut, disjoint, free_handle, guard, out,
    put, put_handle, qatkit_result,
};
use crate::pkey::{
    QATKIT_KEY_PKCS8, QATKIT_KEY_SEC1, Slot, copy_out, output_batch, qatkit_key_format, room,
    wrong_format,
};

/// A key-agreement algorithm.
pub type qatkit_ecdh_alg = u32;
/// ECDH on NIST P-256 (secp256r1): 32-byte secrets, 65-byte public keys.
pub const QATKIT_ECDH_P256: qatkit_ecdh_alg = 1;
/// ECDH on NIST P-384 (secp384r1): 48-byte secrets, 97-byte public keys.
pub const QATKIT_ECDH_P384: qatkit_ecdh_alg = 2;
/// X25519 (RFC 7748): 32-byte secrets and public keys.
pub const QATKIT_ECDH_X25519: qatkit_ecdh_alg = 3;

/// The longest shared secret (P-384's): a buffer of this size always holds one.
pub const QATKIT_ECDH_MAX_SECRET_LEN: usize = 48;

/// A private key for agreement with the backend that serves it. Thread-safe: any number of
/// threads may agree with one key at once (`qatkit_ecdh_key_set_in_flight` excepted). Freeing
/// it clears the key material.
pub struct qatkit_ecdh_key {
    key: Slot<PrivateKey>,
}

fn algorithm_of(alg: qatkit_ecdh_alg) -> Result<Algorithm, Failure> {
    Ok(match alg {
        QATKIT_ECDH_P256 => Algorithm::P256,
        QATKIT_ECDH_P384 => Algorithm::P384,
        QATKIT_ECDH_X25519 => Algorithm::X25519,
        other => {
            return Err(Failure::invalid(format!(
                "unknown key-agreement algorithm {other}"
            )));
        }
    })
}

fn alg_of(algorithm: Algorithm) -> qatkit_ecdh_alg {
    match algorithm {
        Algorithm::P256 => QATKIT_ECDH_P256,
        Algorithm::P384 => QATKIT_ECDH_P384,
        Algorithm::X25519 => QATKIT_ECDH_X25519,
        // Non-exhaustive: a newer algorithm has no constant in this header.
        _ => 0,
    }
}

/// Hands a new key to C with `backend`.
fn make(
    key: Result<PrivateKey, qat_crypto::crypto::Error>,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_ecdh_key,
) -> Result<(), Failure> {
    let key = key?.with_backend(backend_of(backend)?)?;
    // SAFETY: the entry points check `key_out` with `out`.
    unsafe {
        put_handle(
            key_out,
            qatkit_ecdh_key {
                key: Slot::new(key),
            },
        )
    };
    Ok(())
}

/// Makes a new random key for `alg` (an ephemeral key for one handshake), served by `backend`,
/// one request in flight; backends as for `qatkit_rsa_private_key_new`. Free it with
/// `qatkit_ecdh_key_free`.
///
/// # Safety
/// `key_out` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdh_key_generate(
    alg: qatkit_ecdh_alg,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_ecdh_key,
) -> qatkit_result {
    boundary(|| {
        let key_out = out(key_out, "key_out")?;
        let algorithm = algorithm_of(alg)?;
        backend_of(backend)?;
        make(PrivateKey::generate(algorithm), backend, key_out)
    })
}

/// Makes a key from `der_len` bytes of `der` in `format`: `QATKIT_KEY_PKCS8` (P-256, P-384 or
/// X25519) or `QATKIT_KEY_SEC1` (P-256 or P-384); the key says which algorithm. DER that is not
/// such a key is `QATKIT_INVALID_INPUT` (`qatkit_last_error` says why); as
/// `qatkit_ecdh_key_generate` otherwise. qatkit keeps its own copy: the caller may clear `der`
/// once this returns.
///
/// # Safety
/// `der` holds `der_len` readable bytes; `key_out` is NULL or points to writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdh_key_new(
    format: qatkit_key_format,
    der: *const u8,
    der_len: usize,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_ecdh_key,
) -> qatkit_result {
    boundary(|| {
        let key_out = out(key_out, "key_out")?;
        // SAFETY: the caller's contract above.
        let der = unsafe { bytes(der, der_len, "der") }?;
        backend_of(backend)?;
        let key = match format {
            QATKIT_KEY_PKCS8 => PrivateKey::from_pkcs8_der(der),
            QATKIT_KEY_SEC1 => PrivateKey::from_sec1_der(der),
            other => {
                return Err(wrong_format(
                    other,
                    "an ECDH key",
                    &[QATKIT_KEY_PKCS8, QATKIT_KEY_SEC1],
                ));
            }
        };
        make(key, backend, key_out)
    })
}

/// Makes a key for `alg` from its `key_len` raw bytes: the big-endian scalar (32 bytes for
/// P-256, 48 for P-384; between 1 and the group order less 1) or X25519's 32-byte string.
/// Another length or an out-of-range scalar is `QATKIT_INVALID_INPUT`; as
/// `qatkit_ecdh_key_generate` otherwise. qatkit keeps its own copy.
///
/// # Safety
/// `key` holds `key_len` readable bytes; `key_out` is NULL or points to writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdh_key_new_raw(
    alg: qatkit_ecdh_alg,
    key: *const u8,
    key_len: usize,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_ecdh_key,
) -> qatkit_result {
    boundary(|| {
        let key_out = out(key_out, "key_out")?;
        // SAFETY: the caller's contract above.
        let bytes = unsafe { bytes(key, key_len, "key") }?;
        let algorithm = algorithm_of(alg)?;
        backend_of(backend)?;
        make(PrivateKey::from_bytes(algorithm, bytes), backend, key_out)
    })
}

/// Frees a key and clears its key material (NULL is fine).
///
/// # Safety
/// `key` is NULL or a handle from `qatkit_ecdh_key_generate`, `qatkit_ecdh_key_new` or
/// `qatkit_ecdh_key_new_raw` not freed before; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdh_key_free(key: *mut qatkit_ecdh_key) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(key) }
}

/// Sets how many requests of a batch run at once (at least 1; 0 is `QATKIT_INVALID_INPUT`).
/// Not thread-safe: set it before the key is shared.
///
/// # Safety
/// `key` is NULL or a live handle, not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdh_key_set_in_flight(
    key: *mut qatkit_ecdh_key,
    in_flight: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        unsafe { arg_mut(key, "key") }?.key.set_in_flight(in_flight)
    })
}

/// The key's algorithm; 0 when `key` is NULL.
///
/// # Safety
/// `key` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdh_key_alg(key: *const qatkit_ecdh_key) -> qatkit_ecdh_alg {
    guard(0, || {
        // SAFETY: the caller's contract above.
        unsafe { key.as_ref() }
            .and_then(|k| k.key.get().ok())
            .map_or(0, |k| alg_of(k.algorithm()))
    })
}

/// Writes the public key to send the peer into `public_key`: the uncompressed SEC 1 point
/// (`04 || x || y`, 65 or 97 bytes), or X25519's 32 bytes; its length goes to
/// `public_key_len_out`. A `public_key_cap` shorter than that is `QATKIT_BUFFER_TOO_SMALL` with
/// the length needed in `public_key_len_out`; `QATKIT_EC_MAX_POINT_LEN` bytes are always
/// enough.
///
/// # Safety
/// `key` is NULL or a live handle; `public_key` holds `public_key_cap` writable bytes (NULL
/// when `public_key_cap` is 0); `public_key_len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdh_key_public_key(
    key: *const qatkit_ecdh_key,
    public_key: *mut u8,
    public_key_cap: usize,
    public_key_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(public_key_len_out, "public_key_len_out")?;
        // SAFETY: the caller's contract above.
        let (key, public_key) = unsafe {
            (
                arg(key, "key")?.key.get()?,
                bytes_mut(public_key, public_key_cap, "public_key")?,
            )
        };
        copy_out(key.public_key(), public_key, len_out)
    })
}

/// How many requests the CPU and a QAT device served with this key since it was made.
///
/// # Safety
/// `key` is NULL or a live handle; `served_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdh_key_served(
    key: *const qatkit_ecdh_key,
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

/// Writes the secret shared with the peer whose public key is `peer` into `secret`, raw
/// (derive keys from it with a KDF), and its length to `secret_len_out`. `peer` is, for P-256
/// and P-384, a SEC 1 point (uncompressed or compressed) or an X.509 `SubjectPublicKeyInfo`
/// (DER); for X25519 its 32 bytes. A peer key that is not a point of the curve, or an X25519
/// exchange ending in the all-zero secret, is `QATKIT_INVALID_INPUT`. A `secret_cap` shorter
/// than the secret (32 bytes, 48 for P-384) is `QATKIT_BUFFER_TOO_SMALL` with the length
/// needed in `secret_len_out`, and nothing is computed; `QATKIT_ECDH_MAX_SECRET_LEN` bytes are
/// always enough.
///
/// # Safety
/// `key` is NULL or a live handle; `peer` holds `peer_len` readable bytes and `secret`
/// `secret_cap` writable ones (either NULL when its length is 0), not overlapping;
/// `secret_len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdh_agree(
    key: *const qatkit_ecdh_key,
    peer: *const u8,
    peer_len: usize,
    secret: *mut u8,
    secret_cap: usize,
    secret_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(secret_len_out, "secret_len_out")?;
        disjoint(&[
            Span::new(peer, peer_len, false, "peer"),
            Span::new(secret, secret_cap, true, "secret"),
        ])?;
        // SAFETY: the caller's contract above, each buffer checked for NULL and overlap.
        let (key, peer, secret) = unsafe {
            (
                arg(key, "key")?.key.get()?,
                bytes(peer, peer_len, "peer")?,
                bytes_mut(secret, secret_cap, "secret")?,
            )
        };
        room(secret, key.algorithm().secret_len(), len_out)?;
        copy_out(&key.agree(peer)?, secret, len_out)
    })
}

/// Agrees with each of `count` peers, up to the key's in-flight count at once: `input` is the
/// peer's public key, `output` receives the shared secret. Each request gets its own `status`
/// and `output_len`: a request whose `output_cap` is under the secret's length gets
/// `QATKIT_BUFFER_TOO_SMALL` with that length, without being computed. The call returns
/// `QATKIT_OK` unless its arguments are bad (a NULL pointer, an output overlapping another
/// buffer of the batch): then no request is touched.
///
/// # Safety
/// `key` is NULL or a live handle; `requests` holds `count` requests (NULL when `count` is 0)
/// whose buffers are as `qatkit_request` describes, not used elsewhere during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_ecdh_agree_batch(
    key: *const qatkit_ecdh_key,
    requests: *mut qatkit_request,
    count: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?.key.get()?;
        let needed = key.algorithm().secret_len();
        // SAFETY: the caller's contract above.
        unsafe {
            output_batch(requests, count, Some(needed), |peers| {
                key.agree_batch(peers)
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_follow_the_rust_enums() {
        for (constant, algorithm) in (1..).zip(Algorithm::ALL) {
            assert_eq!(algorithm_of(constant).unwrap(), algorithm);
            assert_eq!(alg_of(algorithm), constant);
        }
        assert!(algorithm_of(0).is_err() && algorithm_of(4).is_err());
        let longest = Algorithm::ALL.map(Algorithm::secret_len).into_iter().max();
        assert_eq!(longest, Some(QATKIT_ECDH_MAX_SECRET_LEN));
    }
}
