//! Authenticated encryption: the AEAD key handle, seal and open in place (tag detached or
//! appended), batches, and the served counters.

use qat_crypto::aead::{Algorithm, Key, Request};

use crate::compress::{backend_of, qatkit_backend, qatkit_served};
use crate::ffi::{
    Failure, QATKIT_NULL_PARAMETER, Span, arg, arg_mut, array, boundary, bytes, bytes_mut,
    disjoint, free_handle, out, put, put_handle, qatkit_result, result_of,
};

/// An AEAD algorithm.
pub type qatkit_aead_alg = u32;
/// AES-128 in Galois/Counter Mode: 16-byte key; tags of 16 (the default), 15–12 or 8 bytes.
pub const QATKIT_AEAD_AES_128_GCM: qatkit_aead_alg = 1;
/// AES-256 in Galois/Counter Mode: 32-byte key; tags as AES-128-GCM's.
pub const QATKIT_AEAD_AES_256_GCM: qatkit_aead_alg = 2;
/// ChaCha20-Poly1305 (RFC 8439): 32-byte key, 16-byte tags.
pub const QATKIT_AEAD_CHACHA20_POLY1305: qatkit_aead_alg = 3;

/// The nonce length every AEAD algorithm here takes.
pub const QATKIT_AEAD_NONCE_LEN: usize = 12;
/// The longest (and default) AEAD tag.
pub const QATKIT_AEAD_MAX_TAG_LEN: usize = 16;

/// An AEAD key with the backend that serves it. Thread-safe: any number of threads may seal and
/// open with one key at once (`qatkit_aead_key_set_in_flight` excepted). Freeing it zeroes the
/// key material.
pub struct qatkit_aead_key {
    /// Always `Some` between calls; taken only while a setting is changed.
    key: Option<Key>,
}

impl qatkit_aead_key {
    fn key(&self) -> Result<&Key, Failure> {
        self.key
            .as_ref()
            .ok_or_else(|| Failure::new(crate::ffi::QATKIT_OTHER, "the key was lost by a panic"))
    }
}

/// One request of a batch: `data` is sealed (or opened) in place with `nonce` and `aad`; `tag`
/// (the key's tag length) is written when sealing and read when opening. No buffer a request
/// writes may overlap another buffer of the batch.
#[repr(C)]
#[derive(Debug)]
pub struct qatkit_aead_request {
    /// The nonce: never use one twice with the same key.
    pub nonce: [u8; QATKIT_AEAD_NONCE_LEN],
    /// Additional data, authenticated but not encrypted (NULL only when `aad_len` is 0).
    pub aad: *const u8,
    /// AAD length.
    pub aad_len: usize,
    /// Plaintext to seal or ciphertext to open, in place (NULL only when `data_len` is 0).
    pub data: *mut u8,
    /// Data length.
    pub data_len: usize,
    /// The tag, written by seal, read by open.
    pub tag: *mut u8,
    /// Tag length: the key's.
    pub tag_len: usize,
}

fn algorithm_of(alg: qatkit_aead_alg) -> Result<Algorithm, Failure> {
    Ok(match alg {
        QATKIT_AEAD_AES_128_GCM => Algorithm::Aes128Gcm,
        QATKIT_AEAD_AES_256_GCM => Algorithm::Aes256Gcm,
        QATKIT_AEAD_CHACHA20_POLY1305 => Algorithm::ChaCha20Poly1305,
        other => return Err(Failure::invalid(format!("unknown AEAD algorithm {other}"))),
    })
}

/// Makes a key for `alg` from `key_len` bytes of `key` (16 for AES-128-GCM, 32 otherwise), with
/// `tag_len`-byte tags (`QATKIT_AEAD_MAX_TAG_LEN` unless a protocol says otherwise) and
/// `backend`; one request in flight. Another key or tag length is `QATKIT_INVALID_INPUT`;
/// `QATKIT_BACKEND_QAT` without a device (or in a build without qatlib) is an error here, not
/// at the first request. qatkit keeps its own copy of the key: the caller may clear `key` once
/// this returns. Free the key with `qatkit_aead_key_free`.
///
/// # Safety
/// `key` holds `key_len` readable bytes; `key_out` is NULL or points to writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_aead_key_new(
    alg: qatkit_aead_alg,
    key: *const u8,
    key_len: usize,
    tag_len: usize,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_aead_key,
) -> qatkit_result {
    boundary(|| {
        let key_out = out(key_out, "key_out")?;
        // SAFETY: the caller's contract above.
        let bytes = unsafe { bytes(key, key_len, "key") }?;
        let algorithm = algorithm_of(alg)?;
        let backend = backend_of(backend)?;
        let made = Key::with_tag_len(algorithm, bytes, tag_len)?.with_backend(backend)?;
        // SAFETY: checked by `out`.
        unsafe { put_handle(key_out, qatkit_aead_key { key: Some(made) }) };
        Ok(())
    })
}

/// Frees a key and zeroes its key material (NULL is fine).
///
/// # Safety
/// `key` is NULL or a handle from `qatkit_aead_key_new` not freed before; it is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_aead_key_free(key: *mut qatkit_aead_key) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(key) }
}

/// Sets how many requests of a batch run at once (at least 1; 0 is `QATKIT_INVALID_INPUT`).
/// Not thread-safe: set it before the key is shared.
///
/// # Safety
/// `key` is NULL or a live handle, not used by another thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_aead_key_set_in_flight(
    key: *mut qatkit_aead_key,
    in_flight: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let handle = unsafe { arg_mut(key, "key") }?;
        handle.key()?;
        if in_flight == 0 {
            return Err(Failure::invalid("0 requests in flight"));
        }
        handle.key = handle.key.take().map(|k| k.with_in_flight(in_flight));
        Ok(())
    })
}

/// Encrypts `data_len` bytes at `data` in place and writes the tag to `tag`, which holds
/// exactly the key's tag length (`tag_len`; another length is `QATKIT_INVALID_INPUT`). The
/// nonce is `QATKIT_AEAD_NONCE_LEN` bytes: never use one twice with the same key.
///
/// # Safety
/// `key` is NULL or a live handle; `nonce` holds `nonce_len` readable bytes, `aad` `aad_len`,
/// `data` `data_len` readable and writable ones, `tag` `tag_len` writable ones (a buffer may be
/// NULL when its length is 0). No buffer may overlap `data` or `tag`: overlapping buffers are
/// `QATKIT_INVALID_INPUT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_aead_seal_detached(
    key: *const qatkit_aead_key,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
    data: *mut u8,
    data_len: usize,
    tag: *mut u8,
    tag_len: usize,
) -> qatkit_result {
    boundary(|| {
        disjoint(&[
            Span::new(aad, aad_len, false, "aad"),
            Span::new(data, data_len, true, "data"),
            Span::new(tag, tag_len, true, "tag"),
        ])?;
        // SAFETY: the caller's contract above, each buffer checked for NULL and overlap.
        let (key, nonce, aad, data, tag) = unsafe {
            (
                arg(key, "key")?.key()?,
                array(nonce, nonce_len, "nonce")?,
                bytes(aad, aad_len, "aad")?,
                bytes_mut(data, data_len, "data")?,
                bytes_mut(tag, tag_len, "tag")?,
            )
        };
        key.seal_in_place_detached(&nonce, aad, data, tag)?;
        Ok(())
    })
}

/// Checks `tag` (the key's tag length) and decrypts `data_len` bytes at `data` in place. A tag
/// that does not match (wrong key, nonce or AAD, or tampered data or tag) is
/// `QATKIT_CORRUPT_DATA`, and `data` is zeroed: no unauthenticated plaintext is left.
///
/// # Safety
/// As for `qatkit_aead_seal_detached`, `tag` being read only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_aead_open_detached(
    key: *const qatkit_aead_key,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
    data: *mut u8,
    data_len: usize,
    tag: *const u8,
    tag_len: usize,
) -> qatkit_result {
    boundary(|| {
        disjoint(&[
            Span::new(aad, aad_len, false, "aad"),
            Span::new(data, data_len, true, "data"),
            Span::new(tag, tag_len, false, "tag"),
        ])?;
        // SAFETY: the caller's contract above, each buffer checked for NULL and overlap.
        let (key, nonce, aad, data, tag) = unsafe {
            (
                arg(key, "key")?.key()?,
                array(nonce, nonce_len, "nonce")?,
                bytes(aad, aad_len, "aad")?,
                bytes_mut(data, data_len, "data")?,
                bytes(tag, tag_len, "tag")?,
            )
        };
        key.open_in_place_detached(&nonce, aad, data, tag)?;
        Ok(())
    })
}

/// Encrypts the `data_len` bytes at the start of `buf` in place and appends the tag: `buf`
/// holds `buf_cap` bytes, at least `data_len` plus the key's tag length; the sealed length
/// (`data_len` + tag length) goes to `sealed_len_out`. A smaller `buf_cap` is
/// `QATKIT_BUFFER_TOO_SMALL` with the size needed in `sealed_len_out`, and nothing is
/// encrypted.
///
/// # Safety
/// `key` is NULL or a live handle; `nonce` holds `nonce_len` readable bytes, `aad` `aad_len`
/// (not overlapping `buf`), `buf` `buf_cap` readable and writable ones (a buffer may be NULL
/// when its length is 0); `sealed_len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_aead_seal(
    key: *const qatkit_aead_key,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
    buf: *mut u8,
    data_len: usize,
    buf_cap: usize,
    sealed_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(sealed_len_out, "sealed_len_out")?;
        disjoint(&[
            Span::new(aad, aad_len, false, "aad"),
            Span::new(buf, buf_cap, true, "buf"),
        ])?;
        // SAFETY: the caller's contract above, each buffer checked for NULL and overlap.
        let (key, nonce, aad, buf) = unsafe {
            (
                arg(key, "key")?.key()?,
                array(nonce, nonce_len, "nonce")?,
                bytes(aad, aad_len, "aad")?,
                bytes_mut(buf, buf_cap, "buf")?,
            )
        };
        let needed = data_len
            .checked_add(key.tag_len())
            .ok_or_else(|| Failure::invalid("data_len is too large"))?;
        if needed > buf.len() {
            return Err(Failure::too_small(len_out, needed, buf.len()));
        }
        let (data, tag) = buf[..needed].split_at_mut(data_len);
        key.seal_in_place_detached(&nonce, aad, data, tag)?;
        // SAFETY: checked by `out`.
        unsafe { put(len_out, needed) };
        Ok(())
    })
}

/// Opens `buf_len` bytes at `buf` (ciphertext followed by the tag) in place: the plaintext is
/// left at the start of `buf` and its length goes to `plaintext_len_out`. A tag that does not
/// match, or a `buf_len` shorter than a tag, is `QATKIT_CORRUPT_DATA`, and all of `buf` is
/// zeroed.
///
/// # Safety
/// `key` is NULL or a live handle; `nonce` holds `nonce_len` readable bytes, `aad` `aad_len`
/// (not overlapping `buf`), `buf` `buf_len` readable and writable ones (a buffer may be NULL
/// when its length is 0); `plaintext_len_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_aead_open(
    key: *const qatkit_aead_key,
    nonce: *const u8,
    nonce_len: usize,
    aad: *const u8,
    aad_len: usize,
    buf: *mut u8,
    buf_len: usize,
    plaintext_len_out: *mut usize,
) -> qatkit_result {
    boundary(|| {
        let len_out = out(plaintext_len_out, "plaintext_len_out")?;
        disjoint(&[
            Span::new(aad, aad_len, false, "aad"),
            Span::new(buf, buf_len, true, "buf"),
        ])?;
        // SAFETY: the caller's contract above, each buffer checked for NULL and overlap.
        let (key, nonce, aad, buf) = unsafe {
            (
                arg(key, "key")?.key()?,
                array(nonce, nonce_len, "nonce")?,
                bytes(aad, aad_len, "aad")?,
                bytes_mut(buf, buf_len, "buf")?,
            )
        };
        let len = key.open_in_place(&nonce, aad, buf)?.len();
        // SAFETY: checked by `out`.
        unsafe { put(len_out, len) };
        Ok(())
    })
}

/// The body of both batch calls.
///
/// # Safety
/// As for `qatkit_aead_seal_batch`.
unsafe fn batch(
    key: *const qatkit_aead_key,
    requests: *const qatkit_aead_request,
    count: usize,
    results: *mut qatkit_result,
    sealing: bool,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract: a live handle.
        let key = unsafe { arg(key, "key") }?.key()?;
        if count > 0 && (requests.is_null() || results.is_null()) {
            let which = if requests.is_null() {
                "requests"
            } else {
                "results"
            };
            return Err(Failure::new(
                QATKIT_NULL_PARAMETER,
                format!("{which} is NULL"),
            ));
        }
        let (requests, results): (&[qatkit_aead_request], &mut [qatkit_result]) = if count == 0 {
            (&[], &mut [])
        } else {
            // SAFETY: the caller's contract: `count` requests and `count` results, both
            // non-NULL (checked above), the results array overlapping nothing else.
            unsafe {
                (
                    std::slice::from_raw_parts(requests, count),
                    std::slice::from_raw_parts_mut(results, count),
                )
            }
        };
        let mut spans = Vec::with_capacity(3 * count + 2);
        spans.push(Span::new(
            requests.as_ptr(),
            std::mem::size_of_val(requests),
            false,
            "requests",
        ));
        spans.push(Span::new(
            results.as_ptr(),
            std::mem::size_of_val(results),
            true,
            "results",
        ));
        for (i, r) in requests.iter().enumerate() {
            for (span, null) in [
                (Span::new(r.aad, r.aad_len, false, "aad"), r.aad.is_null()),
                (
                    Span::new(r.data, r.data_len, true, "data"),
                    r.data.is_null(),
                ),
                (Span::new(r.tag, r.tag_len, sealing, "tag"), r.tag.is_null()),
            ] {
                if null && span.len > 0 {
                    return Err(Failure::new(
                        QATKIT_NULL_PARAMETER,
                        format!("requests[{i}].{} is NULL", span.name),
                    ));
                }
                spans.push(Span {
                    index: Some(i),
                    ..span
                });
            }
        }
        disjoint(&spans)?;
        let mut batch: Vec<Request<'_>> = Vec::with_capacity(count);
        for r in requests {
            // SAFETY: the caller's contract for each request's buffers, checked non-NULL above
            // and disjoint from every other buffer of the batch. A tag only read (opening) is
            // borrowed mutably but never written: qat-crypto's open reads it.
            let (aad, data, tag) = unsafe {
                (
                    bytes(r.aad, r.aad_len, "aad")?,
                    bytes_mut(r.data, r.data_len, "data")?,
                    bytes_mut(r.tag, r.tag_len, "tag")?,
                )
            };
            batch.push(Request {
                nonce: r.nonce,
                aad,
                data,
                tag,
            });
        }
        let outcomes = if sealing {
            key.seal_batch(&mut batch)
        } else {
            key.open_batch(&mut batch)
        };
        for (result, outcome) in results.iter_mut().zip(outcomes) {
            *result = match outcome {
                Ok(()) => crate::ffi::QATKIT_OK,
                Err(e) => result_of(e.kind()),
            };
        }
        Ok(())
    })
}

/// Seals each of `count` requests in place, up to the key's in-flight count at once, and writes
/// each request's result to `results[i]`. The call returns `QATKIT_OK` unless its arguments
/// are bad (a NULL pointer, overlapping buffers): then no request is touched and `results` is
/// not written.
///
/// # Safety
/// `key` is NULL or a live handle; `requests` holds `count` requests whose buffers are as
/// `qatkit_aead_seal_detached` describes, and `results` `count` writable results (both NULL
/// when `count` is 0); none of them is used elsewhere during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_aead_seal_batch(
    key: *const qatkit_aead_key,
    requests: *const qatkit_aead_request,
    count: usize,
    results: *mut qatkit_result,
) -> qatkit_result {
    // SAFETY: the caller's contract above.
    unsafe { batch(key, requests, count, results, true) }
}

/// Opens each of `count` requests in place, as `qatkit_aead_seal_batch` seals them: a request
/// whose tag does not match gets `QATKIT_CORRUPT_DATA` in its result and its data zeroed, and
/// the others are opened as if it were not there. Tags are read, not written.
///
/// # Safety
/// As for `qatkit_aead_seal_batch`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_aead_open_batch(
    key: *const qatkit_aead_key,
    requests: *const qatkit_aead_request,
    count: usize,
    results: *mut qatkit_result,
) -> qatkit_result {
    // SAFETY: the caller's contract above.
    unsafe { batch(key, requests, count, results, false) }
}

/// How many requests the CPU and a QAT device served with this key since it was made.
///
/// # Safety
/// `key` is NULL or a live handle; `served_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_aead_key_served(
    key: *const qatkit_aead_key,
    served_out: *mut qatkit_served,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?.key()?;
        let served_out = out(served_out, "served_out")?;
        // SAFETY: checked by `out`.
        unsafe { put(served_out, key.served().into()) };
        Ok(())
    })
}
