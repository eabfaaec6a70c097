//! RSA: private and public key handles from DER, signatures (PKCS#1 v1.5, PSS) and OAEP into
//! caller buffers, batches, and the served counters.

use qat_crypto::rsa::{Oaep, PrivateKey, PublicKey, Scheme};

use crate::compress::{backend_of, qatkit_backend, qatkit_request, qatkit_served};
use crate::ffi::{
    Failure, Span, arg, arg_mut, boundary, bytes, bytes_mut, disjoint, free_handle, guard, out,
    put, put_handle, qatkit_result,
};
use crate::pkey::{
    QATKIT_KEY_PKCS1, QATKIT_KEY_PKCS8, QATKIT_KEY_SPKI, Slot, copy_out, output_batch,
    qatkit_key_format, qatkit_verify_request, room, verify_batch, wrong_format,
};

/// An RSA signature scheme: the padding and the digest.
pub type qatkit_rsa_scheme = u32;
/// RSASSA-PKCS1-v1_5 with SHA-256.
pub const QATKIT_RSA_PKCS1_SHA256: qatkit_rsa_scheme = 1;
/// RSASSA-PKCS1-v1_5 with SHA-384.
pub const QATKIT_RSA_PKCS1_SHA384: qatkit_rsa_scheme = 2;
/// RSASSA-PKCS1-v1_5 with SHA-512.
pub const QATKIT_RSA_PKCS1_SHA512: qatkit_rsa_scheme = 3;
/// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (TLS 1.3's `rsa_pss_rsae_sha256`).
/// Signatures are randomised: two of one message differ, and both verify.
pub const QATKIT_RSA_PSS_SHA256: qatkit_rsa_scheme = 4;
/// RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt.
pub const QATKIT_RSA_PSS_SHA384: qatkit_rsa_scheme = 5;
/// RSASSA-PSS with SHA-512, MGF1-SHA-512 and a 64-byte salt.
pub const QATKIT_RSA_PSS_SHA512: qatkit_rsa_scheme = 6;

/// RSAES-OAEP with a digest for the label and MGF1.
pub type qatkit_rsa_oaep = u32;
/// OAEP with SHA-256 and MGF1-SHA-256.
pub const QATKIT_RSA_OAEP_SHA256: qatkit_rsa_oaep = 1;
/// OAEP with SHA-384 and MGF1-SHA-384.
pub const QATKIT_RSA_OAEP_SHA384: qatkit_rsa_oaep = 2;
/// OAEP with SHA-512 and MGF1-SHA-512.
pub const QATKIT_RSA_OAEP_SHA512: qatkit_rsa_oaep = 3;

/// The longest modulus, in bytes (8192 bits, the largest public key taken): a buffer of this
/// size always holds a signature, a ciphertext or a plaintext.
pub const QATKIT_RSA_MAX_MODULUS_LEN: usize = 1024;

/// An RSA private key (2048, 3072 or 4096 bits) with the backend that serves it. Thread-safe:
/// any number of threads may sign and decrypt with one key at once
/// (`qatkit_rsa_private_key_set_in_flight` excepted). Freeing it clears the key material.
pub struct qatkit_rsa_private_key {
    key: Slot<PrivateKey>,
}

/// An RSA public key (2048 to 8192 bits) with the backend that serves it. Thread-safe: any
/// number of threads may verify and encrypt with one key at once
/// (`qatkit_rsa_public_key_set_in_flight` excepted).
pub struct qatkit_rsa_public_key {
    key: Slot<PublicKey>,
}

fn scheme_of(scheme: qatkit_rsa_scheme) -> Result<Scheme, Failure> {
    Ok(match scheme {
        QATKIT_RSA_PKCS1_SHA256 => Scheme::Pkcs1Sha256,
        QATKIT_RSA_PKCS1_SHA384 => Scheme::Pkcs1Sha384,
        QATKIT_RSA_PKCS1_SHA512 => Scheme::Pkcs1Sha512,
        QATKIT_RSA_PSS_SHA256 => Scheme::PssSha256,
        QATKIT_RSA_PSS_SHA384 => Scheme::PssSha384,
        QATKIT_RSA_PSS_SHA512 => Scheme::PssSha512,
        other => {
            return Err(Failure::invalid(format!(
                "unknown RSA signature scheme {other}"
            )));
        }
    })
}

fn oaep_of(oaep: qatkit_rsa_oaep) -> Result<Oaep, Failure> {
    Ok(match oaep {
        QATKIT_RSA_OAEP_SHA256 => Oaep::Sha256,
        QATKIT_RSA_OAEP_SHA384 => Oaep::Sha384,
        QATKIT_RSA_OAEP_SHA512 => Oaep::Sha512,
        other => {
            return Err(Failure::invalid(format!(
                "unknown RSA-OAEP variant {other}"
            )));
        }
    })
}

/// Makes a private key from `der_len` bytes of `der` in `format` (`QATKIT_KEY_PKCS8` or
/// `QATKIT_KEY_PKCS1`), served by `backend`, one request in flight. DER that is not such a key,
/// or a key of another size, is `QATKIT_INVALID_INPUT` (`qatkit_last_error` says why);
/// `QATKIT_BACKEND_QAT` without a device offering public-key crypto (or in a build without
/// qatlib) is an error here, not at the first request; `QATKIT_BACKEND_AUTO` takes the device
/// when there is one and serves a request it fails on the CPU. qatkit keeps its own copy: the
/// caller may clear `der` once this returns. Free the key with `qatkit_rsa_private_key_free`.
///
/// # Safety
/// `der` holds `der_len` readable bytes; `key_out` is NULL or points to writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_private_key_new(
    format: qatkit_key_format,
    der: *const u8,
    der_len: usize,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_rsa_private_key,
) -> qatkit_result {
    boundary(|| {
        let key_out = out(key_out, "key_out")?;
        // SAFETY: the caller's contract above.
        let der = unsafe { bytes(der, der_len, "der") }?;
        let backend = backend_of(backend)?;
        let key = match format {
            QATKIT_KEY_PKCS8 => PrivateKey::from_pkcs8_der(der)?,
            QATKIT_KEY_PKCS1 => PrivateKey::from_pkcs1_der(der)?,
            other => {
                return Err(wrong_format(
                    other,
                    "an RSA private key",
                    &[QATKIT_KEY_PKCS8, QATKIT_KEY_PKCS1],
                ));
            }
        };
        let key = key.with_backend(backend)?;
        // SAFETY: checked by `out`.
        unsafe {
            put_handle(
                key_out,
                qatkit_rsa_private_key {
                    key: Slot::new(key),
                },
            )
        };
        Ok(())
    })
}

/// Frees a private key and clears its key material (NULL is fine).
///
/// # Safety
/// `key` is NULL or a handle from `qatkit_rsa_private_key_new` not freed before; it is not used
/// again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_private_key_free(key: *mut qatkit_rsa_private_key) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(key) }
}

/// Sets how many requests of a batch run at once (at least 1; 0 is `QATKIT_INVALID_INPUT`).
/// Not thread-safe: set it before the key is shared.
///
/// # Safety
/// `key` is NULL or a live handle, not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_private_key_set_in_flight(
    key: *mut qatkit_rsa_private_key,
    in_flight: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        unsafe { arg_mut(key, "key") }?.key.set_in_flight(in_flight)
    })
}

/// The modulus length in bytes: the length of every signature and ciphertext of the key, and a
/// size that always holds a plaintext it decrypts; 0 when `key` is NULL.
///
/// # Safety
/// `key` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_private_key_modulus_len(
    key: *const qatkit_rsa_private_key,
) -> usize {
    guard(0, || {
        // SAFETY: the caller's contract above.
        unsafe { key.as_ref() }
            .and_then(|k| k.key.get().ok())
            .map_or(0, PrivateKey::modulus_len)
    })
}

/// Makes a handle for the key's public half, served by the private key's backend, one request
/// in flight; it lives on its own (free it with `qatkit_rsa_public_key_free`, before or after
/// the private key).
///
/// # Safety
/// `key` is NULL or a live handle; `public_out` is NULL or points to writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_private_key_public_key(
    key: *const qatkit_rsa_private_key,
    public_out: *mut *mut qatkit_rsa_public_key,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?.key.get()?;
        let public_out = out(public_out, "public_out")?;
        let public = PublicKey::from_spki_der(&key.public_key().to_spki_der())?
            .with_backend(key.backend())?;
        // SAFETY: checked by `out`.
        unsafe {
            put_handle(
                public_out,
                qatkit_rsa_public_key {
                    key: Slot::new(public),
                },
            )
        };
        Ok(())
    })
}

/// How many requests the CPU and a QAT device served with this key since it was made.
///
/// # Safety
/// `key` is NULL or a live handle; `served_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_private_key_served(
    key: *const qatkit_rsa_private_key,
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

/// Makes a public key from `der_len` bytes of `der` in `format` (`QATKIT_KEY_SPKI` or
/// `QATKIT_KEY_PKCS1`), served by `backend`, one request in flight; as
/// `qatkit_rsa_private_key_new` otherwise. Free it with `qatkit_rsa_public_key_free`.
///
/// # Safety
/// `der` holds `der_len` readable bytes; `key_out` is NULL or points to writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_public_key_new(
    format: qatkit_key_format,
    der: *const u8,
    der_len: usize,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_rsa_public_key,
) -> qatkit_result {
    boundary(|| {
        let key_out = out(key_out, "key_out")?;
        // SAFETY: the caller's contract above.
        let der = unsafe { bytes(der, der_len, "der") }?;
        let backend = backend_of(backend)?;
        let key = match format {
            QATKIT_KEY_SPKI => PublicKey::from_spki_der(der)?,
            QATKIT_KEY_PKCS1 => PublicKey::from_pkcs1_der(der)?,
            other => {
                return Err(wrong_format(
                    other,
                    "an RSA public key",
                    &[QATKIT_KEY_SPKI, QATKIT_KEY_PKCS1],
                ));
            }
        };
        let key = key.with_backend(backend)?;
        // SAFETY: checked by `out`.
        unsafe {
            put_handle(
                key_out,
                qatkit_rsa_public_key {
                    key: Slot::new(key),
                },
            )
        };
        Ok(())
    })
}

/// Frees a public key (NULL is fine).
///
/// # Safety
/// `key` is NULL or a handle from `qatkit_rsa_public_key_new` or
/// `qatkit_rsa_private_key_public_key` not freed before; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_public_key_free(key: *mut qatkit_rsa_public_key) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(key) }
}

/// Sets how many requests of a batch run at once (at least 1; 0 is `QATKIT_INVALID_INPUT`).
/// Not thread-safe: set it before the key is shared.
///
/// # Safety
/// `key` is NULL or a live handle, not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_public_key_set_in_flight(
    key: *mut qatkit_rsa_public_key,
    in_flight: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        unsafe { arg_mut(key, "key") }?.key.set_in_flight(in_flight)
    })
}

/// The modulus length in bytes: the length of the key's signatures and ciphertexts; 0 when
/// `key` is NULL.
///
/// # Safety
/// `key` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_public_key_modulus_len(
    key: *const qatkit_rsa_public_key,
) -> usize {
    guard(0, || {
        // SAFETY: the caller's contract above.
        unsafe { key.as_ref() }
            .and_then(|k| k.key.get().ok())
            .map_or(0, PublicKey::modulus_len)
    })
}

/// Writes the key as an X.509 `SubjectPublicKeyInfo` (DER) into `spki`, and its length to
/// `spki_len_out`. A `spki_cap` shorter than that is `QATKIT_BUFFER_TOO_SMALL` with the length
/// needed in `spki_len_out`.
///
/// # Safety
/// `key` is NULL or a live handle; `spki` holds `spki_cap` writable bytes (NULL when
/// `spki_cap` is 0); `spki_len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_public_key_spki(
    key: *const qatkit_rsa_public_key,
    spki: *mut u8,
    spki_cap: usize,
    spki_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(spki_len_out, "spki_len_out")?;
        // SAFETY: the caller's contract above.
        let (key, spki) = unsafe {
            (
                arg(key, "key")?.key.get()?,
                bytes_mut(spki, spki_cap, "spki")?,
            )
        };
        copy_out(&key.to_spki_der(), spki, len_out)
    })
}

/// How many requests the CPU and a QAT device served with this key since it was made.
///
/// # Safety
/// `key` is NULL or a live handle; `served_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_public_key_served(
    key: *const qatkit_rsa_public_key,
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

/// Signs `message_len` bytes at `message` (hashed with the scheme's digest) into `signature`,
/// and writes the signature's length, the modulus length, to `signature_len_out`. A
/// `signature_cap` shorter than the modulus is `QATKIT_BUFFER_TOO_SMALL` with the length needed
/// in `signature_len_out`, and nothing is signed; `qatkit_rsa_private_key_modulus_len` (or
/// `QATKIT_RSA_MAX_MODULUS_LEN`) bytes are always enough.
///
/// # Safety
/// `key` is NULL or a live handle; `message` holds `message_len` readable bytes and `signature`
/// `signature_cap` writable ones (either NULL when its length is 0), not overlapping;
/// `signature_len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_sign(
    key: *const qatkit_rsa_private_key,
    scheme: qatkit_rsa_scheme,
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
        let scheme = scheme_of(scheme)?;
        let needed = key.modulus_len();
        room(signature, needed, len_out)?;
        key.sign_into(scheme, message, &mut signature[..needed])?;
        // SAFETY: checked by `out`.
        unsafe { put(len_out, needed) };
        Ok(())
    })
}

/// Checks that `signature` is the key's signature of `message_len` bytes at `message` under
/// `scheme`: `QATKIT_OK` when it is, `QATKIT_CORRUPT_DATA` when not (made with another key,
/// over another message or with another scheme, or altered, or of the wrong length).
///
/// # Safety
/// `key` is NULL or a live handle; `message` holds `message_len` readable bytes and `signature`
/// `signature_len` (either NULL when its length is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_verify(
    key: *const qatkit_rsa_public_key,
    scheme: qatkit_rsa_scheme,
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
        key.verify(scheme_of(scheme)?, message, signature)?;
        Ok(())
    })
}

/// Encrypts `plaintext_len` bytes at `plaintext` with OAEP and `label` (usually empty: NULL
/// and 0) into `ciphertext`, and writes the ciphertext's length, the modulus length, to
/// `ciphertext_len_out`. A plaintext longer than the modulus less twice the digest length
/// less 2 is `QATKIT_INVALID_INPUT`; a `ciphertext_cap` shorter than the modulus is
/// `QATKIT_BUFFER_TOO_SMALL` with the length needed in `ciphertext_len_out`, and nothing is
/// encrypted.
///
/// # Safety
/// `key` is NULL or a live handle; `plaintext` holds `plaintext_len` readable bytes, `label`
/// `label_len`, and `ciphertext` `ciphertext_cap` writable ones (each NULL when its length is
/// 0), `ciphertext` overlapping neither of the others; `ciphertext_len_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_encrypt(
    key: *const qatkit_rsa_public_key,
    oaep: qatkit_rsa_oaep,
    plaintext: *const u8,
    plaintext_len: usize,
    label: *const u8,
    label_len: usize,
    ciphertext: *mut u8,
    ciphertext_cap: usize,
    ciphertext_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(ciphertext_len_out, "ciphertext_len_out")?;
        disjoint(&[
            Span::new(plaintext, plaintext_len, false, "plaintext"),
            Span::new(label, label_len, false, "label"),
            Span::new(ciphertext, ciphertext_cap, true, "ciphertext"),
        ])?;
        // SAFETY: the caller's contract above, each buffer checked for NULL and overlap.
        let (key, plaintext, label, ciphertext) = unsafe {
            (
                arg(key, "key")?.key.get()?,
                bytes(plaintext, plaintext_len, "plaintext")?,
                bytes(label, label_len, "label")?,
                bytes_mut(ciphertext, ciphertext_cap, "ciphertext")?,
            )
        };
        let oaep = oaep_of(oaep)?;
        room(ciphertext, key.modulus_len(), len_out)?;
        copy_out(&key.encrypt(oaep, plaintext, label)?, ciphertext, len_out)
    })
}

/// Decrypts the OAEP `ciphertext` (exactly the modulus length) made with `label` into
/// `plaintext`, and writes the plaintext's length to `plaintext_len_out`. A ciphertext that
/// does not decrypt (made for another key or label, or altered) is `QATKIT_CORRUPT_DATA`,
/// whatever the cause; one of another length `QATKIT_INVALID_INPUT`. A `plaintext_cap` shorter
/// than the plaintext is `QATKIT_BUFFER_TOO_SMALL` with the length needed in
/// `plaintext_len_out` and nothing written (the plaintext is cleared);
/// `qatkit_rsa_private_key_modulus_len` bytes are always enough.
///
/// # Safety
/// `key` is NULL or a live handle; `ciphertext` holds `ciphertext_len` readable bytes, `label`
/// `label_len`, and `plaintext` `plaintext_cap` writable ones (each NULL when its length is 0),
/// `plaintext` overlapping neither of the others; `plaintext_len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_decrypt(
    key: *const qatkit_rsa_private_key,
    oaep: qatkit_rsa_oaep,
    ciphertext: *const u8,
    ciphertext_len: usize,
    label: *const u8,
    label_len: usize,
    plaintext: *mut u8,
    plaintext_cap: usize,
    plaintext_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(plaintext_len_out, "plaintext_len_out")?;
        disjoint(&[
            Span::new(ciphertext, ciphertext_len, false, "ciphertext"),
            Span::new(label, label_len, false, "label"),
            Span::new(plaintext, plaintext_cap, true, "plaintext"),
        ])?;
        // SAFETY: the caller's contract above, each buffer checked for NULL and overlap.
        let (key, ciphertext, label, plaintext) = unsafe {
            (
                arg(key, "key")?.key.get()?,
                bytes(ciphertext, ciphertext_len, "ciphertext")?,
                bytes(label, label_len, "label")?,
                bytes_mut(plaintext, plaintext_cap, "plaintext")?,
            )
        };
        let decrypted = key.decrypt(oaep_of(oaep)?, ciphertext, label)?;
        copy_out(&decrypted, plaintext, len_out)
    })
}

/// Signs each of `count` requests, up to the key's in-flight count at once: `input` is the
/// message, `output` receives the signature. Each request gets its own `status` and
/// `output_len`: a request whose `output_cap` is under the modulus length gets
/// `QATKIT_BUFFER_TOO_SMALL` with that length, without being signed. The call returns
/// `QATKIT_OK` unless its arguments are bad (an unknown scheme, a NULL pointer, an output
/// overlapping another buffer of the batch): then no request is touched.
///
/// # Safety
/// `key` is NULL or a live handle; `requests` holds `count` requests (NULL when `count` is 0)
/// whose buffers are as `qatkit_request` describes, not used elsewhere during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_sign_batch(
    key: *const qatkit_rsa_private_key,
    scheme: qatkit_rsa_scheme,
    requests: *mut qatkit_request,
    count: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?.key.get()?;
        let scheme = scheme_of(scheme)?;
        // SAFETY: the caller's contract above.
        unsafe {
            output_batch(requests, count, Some(key.modulus_len()), |messages| {
                key.sign_batch(scheme, messages)
            })
        }
    })
}

/// Checks each of `count` requests' signature of its message, up to the key's in-flight count
/// at once; each request's `status` is `QATKIT_OK` or `QATKIT_CORRUPT_DATA` as
/// `qatkit_rsa_verify` returns them. The call returns `QATKIT_OK` unless its arguments are bad
/// (an unknown scheme, a NULL pointer, a buffer overlapping the requests): then no request is
/// touched.
///
/// # Safety
/// `key` is NULL or a live handle; `requests` holds `count` requests (NULL when `count` is 0)
/// whose buffers are as `qatkit_verify_request` describes, not used elsewhere during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_verify_batch(
    key: *const qatkit_rsa_public_key,
    scheme: qatkit_rsa_scheme,
    requests: *mut qatkit_verify_request,
    count: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?.key.get()?;
        let scheme = scheme_of(scheme)?;
        // SAFETY: the caller's contract above.
        unsafe { verify_batch(requests, count, |items| key.verify_batch(scheme, items)) }
    })
}

/// Decrypts each of `count` requests, all made with one `label`, up to the key's in-flight
/// count at once: `input` is the ciphertext, `output` receives the plaintext. Each request
/// gets its own `status` and `output_len` as `qatkit_rsa_decrypt` would give them (a plaintext
/// longer than `output_cap`: `QATKIT_BUFFER_TOO_SMALL` with its length, the plaintext
/// cleared). The call returns `QATKIT_OK` unless its arguments are bad: then no request is
/// touched.
///
/// # Safety
/// `key` is NULL or a live handle; `label` holds `label_len` readable bytes (NULL when
/// `label_len` is 0), written by no request; `requests` holds `count` requests (NULL when
/// `count` is 0) whose buffers are as `qatkit_request` describes, not used elsewhere during
/// the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_rsa_decrypt_batch(
    key: *const qatkit_rsa_private_key,
    oaep: qatkit_rsa_oaep,
    label: *const u8,
    label_len: usize,
    requests: *mut qatkit_request,
    count: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (key, label) = unsafe {
            (
                arg(key, "key")?.key.get()?,
                bytes(label, label_len, "label")?,
            )
        };
        let oaep = oaep_of(oaep)?;
        // The label is read while outputs are written: it may not overlap them or the requests.
        if count > 0 && !requests.is_null() {
            // SAFETY: the caller's contract above: `count` readable requests.
            let batch = unsafe { std::slice::from_raw_parts(requests, count) };
            let mut spans = vec![
                Span::new(label.as_ptr(), label.len(), false, "label"),
                Span::new(
                    batch.as_ptr(),
                    std::mem::size_of_val(batch),
                    true,
                    "requests",
                ),
            ];
            for (i, r) in batch.iter().enumerate() {
                spans.push(Span {
                    index: Some(i),
                    ..Span::new(r.output, r.output_cap, true, "output")
                });
            }
            disjoint(&spans)?;
        }
        // SAFETY: the caller's contract above.
        unsafe {
            output_batch(requests, count, None, |ciphertexts| {
                let items: Vec<(&[u8], &[u8])> = ciphertexts.iter().map(|c| (*c, label)).collect();
                key.decrypt_batch(oaep, &items)
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_follow_the_rust_enums() {
        for (constant, scheme) in (1..).zip(Scheme::ALL) {
            assert_eq!(scheme_of(constant).unwrap(), scheme);
        }
        assert!(scheme_of(0).is_err() && scheme_of(7).is_err());
        for (constant, oaep) in (1..).zip(Oaep::ALL) {
            assert_eq!(oaep_of(constant).unwrap(), oaep);
        }
        assert!(oaep_of(0).is_err() && oaep_of(4).is_err());
        assert_eq!(
            QATKIT_RSA_MAX_MODULUS_LEN,
            qat_crypto::rsa::PUBLIC_KEY_BITS.end() / 8
        );
    }
}
