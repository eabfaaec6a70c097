//! What the public-key handles (RSA, ECDSA, ECDH) share: the key encodings, the slot a key sits
//! in while a setting changes, results copied into caller buffers, and the bodies of their
//! batch calls.

use qat_crypto::crypto::Error;

use crate::compress::qatkit_request;
use crate::ffi::{
    Failure, QATKIT_BUFFER_TOO_SMALL, QATKIT_NULL_PARAMETER, QATKIT_OK, QATKIT_OTHER, Span, bytes,
    bytes_mut, disjoint, put, qatkit_result, result_of,
};

/// How a key's bytes are encoded. Each constructor says which it takes; another is
/// `QATKIT_INVALID_INPUT`.
pub type qatkit_key_format = u32;
/// A PKCS#8 `PrivateKeyInfo` (DER): what TLS stacks and `openssl genpkey` hold.
pub const QATKIT_KEY_PKCS8: qatkit_key_format = 1;
/// A PKCS#1 `RSAPrivateKey` or `RSAPublicKey` (DER), as `openssl genrsa -traditional` writes.
pub const QATKIT_KEY_PKCS1: qatkit_key_format = 2;
/// A SEC 1 `ECPrivateKey` (DER, RFC 5915) naming its curve, as `openssl ecparam -genkey`
/// writes it.
pub const QATKIT_KEY_SEC1: qatkit_key_format = 3;
/// An X.509 `SubjectPublicKeyInfo` (DER): what certificates hold.
pub const QATKIT_KEY_SPKI: qatkit_key_format = 4;
/// A SEC 1 elliptic-curve point, uncompressed (`04 || x || y`: 65 bytes for P-256, 97 for
/// P-384) or compressed (33 or 49 bytes); its length says the curve.
pub const QATKIT_KEY_SEC1_POINT: qatkit_key_format = 5;

/// The longest uncompressed SEC 1 point (P-384's, 97 bytes): a buffer of this size always
/// holds `qatkit_ecdsa_verifying_key_point` and `qatkit_ecdh_key_public_key`.
pub const QATKIT_EC_MAX_POINT_LEN: usize = 97;

/// One request of a verification batch: a message and the signature to check, and what became
/// of it.
#[repr(C)]
#[derive(Debug)]
pub struct qatkit_verify_request {
    /// The message (NULL only when `message_len` is 0).
    pub message: *const u8,
    /// Message length.
    pub message_len: usize,
    /// The signature (NULL only when `signature_len` is 0).
    pub signature: *const u8,
    /// Signature length.
    pub signature_len: usize,
    /// Written by qatkit: `QATKIT_OK` when the signature verifies, `QATKIT_CORRUPT_DATA` when
    /// not, or why it could not be checked.
    pub status: qatkit_result,
}

/// The name of a key format, for messages.
fn format_name(format: qatkit_key_format) -> Option<&'static str> {
    Some(match format {
        QATKIT_KEY_PKCS8 => "PKCS#8",
        QATKIT_KEY_PKCS1 => "PKCS#1",
        QATKIT_KEY_SEC1 => "SEC 1",
        QATKIT_KEY_SPKI => "SPKI",
        QATKIT_KEY_SEC1_POINT => "SEC 1 point",
        _ => return None,
    })
}

/// `QATKIT_INVALID_INPUT` for a format a constructor does not take: `what` is the key
/// (`an RSA private key`), `takes` the formats it takes.
pub(crate) fn wrong_format(
    format: qatkit_key_format,
    what: &str,
    takes: &[qatkit_key_format],
) -> Failure {
    let names: Vec<&str> = takes.iter().filter_map(|&f| format_name(f)).collect();
    let names = names.join(" or ");
    match format_name(format) {
        Some(name) => Failure::invalid(format!("{what} is {names}, not {name}")),
        None => Failure::invalid(format!("unknown key format {format}; {what} is {names}")),
    }
}

/// The settings a handle changes after the key is made.
pub(crate) trait InFlight: Sized {
    fn with_in_flight(self, n: usize) -> Self;
}

macro_rules! in_flight {
    ($($key:ty),*) => {$(
        impl InFlight for $key {
            fn with_in_flight(self, n: usize) -> Self {
                <$key>::with_in_flight(self, n)
            }
        }
    )*};
}

in_flight!(
    qat_crypto::rsa::PrivateKey,
    qat_crypto::rsa::PublicKey,
    qat_crypto::ecdsa::SigningKey,
    qat_crypto::ecdsa::VerifyingKey,
    qat_crypto::ecdh::PrivateKey
);

/// A key behind a handle: always there between calls, taken out only while a setting changes
/// (the Rust setters take the key by value).
pub(crate) struct Slot<K>(Option<K>);

impl<K: InFlight> Slot<K> {
    pub(crate) fn new(key: K) -> Self {
        Slot(Some(key))
    }

    pub(crate) fn get(&self) -> Result<&K, Failure> {
        self.0
            .as_ref()
            .ok_or_else(|| Failure::new(QATKIT_OTHER, "the key was lost by a panic"))
    }

    /// Sets how many requests of a batch run at once; 0 is refused.
    pub(crate) fn set_in_flight(&mut self, in_flight: usize) -> Result<(), Failure> {
        self.get()?;
        if in_flight == 0 {
            return Err(Failure::invalid("0 requests in flight"));
        }
        self.0 = self.0.take().map(|k| k.with_in_flight(in_flight));
        Ok(())
    }
}

/// Copies `value` to the start of `buf` and its length to `len_out` (checked by `out`); a
/// `buf` shorter than `value` is `QATKIT_BUFFER_TOO_SMALL` with the length needed.
pub(crate) fn copy_out(value: &[u8], buf: &mut [u8], len_out: *mut usize) -> Result<(), Failure> {
    if value.len() > buf.len() {
        return Err(Failure::too_small(len_out, value.len(), buf.len()));
    }
    buf[..value.len()].copy_from_slice(value);
    // SAFETY: the caller checked `len_out` with `out`.
    unsafe { put(len_out, value.len()) };
    Ok(())
}

/// `QATKIT_BUFFER_TOO_SMALL` before any work when `buf` holds less than `needed` bytes.
pub(crate) fn room(buf: &[u8], needed: usize, len_out: *mut usize) -> Result<(), Failure> {
    if buf.len() < needed {
        return Err(Failure::too_small(len_out, needed, buf.len()));
    }
    Ok(())
}

/// `count` elements at `ptr` as a slice (empty when `count` is 0, NULL then allowed).
///
/// # Safety
/// A non-NULL `ptr` points to `count` elements used by no one else for `'a`.
unsafe fn batch_slice<'a, T>(ptr: *mut T, count: usize) -> Result<&'a mut [T], Failure> {
    if count == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Failure::new(QATKIT_NULL_PARAMETER, "requests is NULL"));
    }
    // SAFETY: the caller's contract above; `ptr` is non-NULL.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, count) })
}

/// One buffer of request `index`, for [`disjoint`]; a NULL pointer with a length is
/// `QATKIT_NULL_PARAMETER`.
fn span<T>(
    ptr: *const T,
    len: usize,
    writes: bool,
    name: &'static str,
    index: usize,
) -> Result<Span, Failure> {
    if ptr.is_null() && len > 0 {
        return Err(Failure::new(
            QATKIT_NULL_PARAMETER,
            format!("requests[{index}].{name} is NULL"),
        ));
    }
    Ok(Span {
        index: Some(index),
        ..Span::new(ptr, len, writes, name)
    })
}

/// The body of a batch whose requests each give bytes (signatures, plaintexts, secrets):
/// checks every buffer (NULL, overlap) before any request runs; a request whose `output_cap`
/// is under `needed` (when the size is known before) gets `QATKIT_BUFFER_TOO_SMALL` without
/// running; `run` runs the others, in order, on their inputs; each result is copied into its
/// request's output, or its status says why not.
///
/// # Safety
/// `requests` is NULL or holds `count` requests whose buffers are as `qatkit_request` describes,
/// used by no one else during the call.
pub(crate) unsafe fn output_batch<T: AsRef<[u8]>>(
    requests: *mut qatkit_request,
    count: usize,
    needed: Option<usize>,
    run: impl FnOnce(&[&[u8]]) -> Vec<Result<T, Error>>,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract above.
    let requests = unsafe { batch_slice(requests, count) }?;
    let mut spans = Vec::with_capacity(2 * count + 1);
    spans.push(Span::new(
        requests.as_ptr(),
        std::mem::size_of_val(requests),
        true,
        "requests",
    ));
    for (i, r) in requests.iter().enumerate() {
        spans.push(span(r.input, r.input_len, false, "input", i)?);
        spans.push(span(r.output, r.output_cap, true, "output", i)?);
    }
    disjoint(&spans)?;
    let runs: Vec<bool> = requests
        .iter()
        .map(|r| needed.is_none_or(|n| r.output_cap >= n))
        .collect();
    let mut inputs = Vec::with_capacity(count);
    for (r, _) in requests.iter().zip(&runs).filter(|(_, runs)| **runs) {
        // SAFETY: the caller's contract for each input, checked non-NULL and not overlapping
        // anything the call writes.
        inputs.push(unsafe { bytes(r.input, r.input_len, "input") }?);
    }
    let mut results = run(&inputs).into_iter();
    for (r, runs) in requests.iter_mut().zip(runs) {
        let (status, len) = if !runs {
            (QATKIT_BUFFER_TOO_SMALL, needed.unwrap_or_default())
        } else {
            match results.next() {
                Some(Ok(value)) => {
                    let value = value.as_ref();
                    if value.len() <= r.output_cap {
                        // SAFETY: checked above: `output` holds `output_cap` writable bytes,
                        // overlapping no other buffer of the batch.
                        let output = unsafe { bytes_mut(r.output, r.output_cap, "output") }?;
                        output[..value.len()].copy_from_slice(value);
                        (QATKIT_OK, value.len())
                    } else {
                        (QATKIT_BUFFER_TOO_SMALL, value.len())
                    }
                }
                Some(Err(e)) => (result_of(e.kind()), 0),
                None => (QATKIT_OTHER, 0),
            }
        };
        r.status = status;
        r.output_len = len;
    }
    Ok(())
}

/// The body of a verification batch: checks every buffer (NULL, overlap with the requests,
/// which are written) before any request runs; `run` checks every `(message, signature)`, in
/// order; each request's status says how it went.
///
/// # Safety
/// `requests` is NULL or holds `count` requests whose buffers are as `qatkit_verify_request`
/// describes, used by no one else during the call.
pub(crate) unsafe fn verify_batch(
    requests: *mut qatkit_verify_request,
    count: usize,
    run: impl FnOnce(&[(&[u8], &[u8])]) -> Vec<Result<(), Error>>,
) -> Result<(), Failure> {
    // SAFETY: the caller's contract above.
    let requests = unsafe { batch_slice(requests, count) }?;
    let mut spans = Vec::with_capacity(2 * count + 1);
    spans.push(Span::new(
        requests.as_ptr(),
        std::mem::size_of_val(requests),
        true,
        "requests",
    ));
    for (i, r) in requests.iter().enumerate() {
        spans.push(span(r.message, r.message_len, false, "message", i)?);
        spans.push(span(r.signature, r.signature_len, false, "signature", i)?);
    }
    disjoint(&spans)?;
    let mut items = Vec::with_capacity(count);
    for r in requests.iter() {
        // SAFETY: the caller's contract for each buffer, checked non-NULL and not overlapping
        // the requests, the only memory the call writes.
        items.push(unsafe {
            (
                bytes(r.message, r.message_len, "message")?,
                bytes(r.signature, r.signature_len, "signature")?,
            )
        });
    }
    let mut results = run(&items).into_iter();
    for r in requests.iter_mut() {
        r.status = match results.next() {
            Some(Ok(())) => QATKIT_OK,
            Some(Err(e)) => result_of(e.kind()),
            None => QATKIT_OTHER,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_format_is_named() {
        let e = wrong_format(
            QATKIT_KEY_SPKI,
            "an RSA private key",
            &[QATKIT_KEY_PKCS8, QATKIT_KEY_PKCS1],
        );
        assert_eq!(
            e.message,
            "an RSA private key is PKCS#8 or PKCS#1, not SPKI"
        );
        let e = wrong_format(42, "an ECDH key", &[QATKIT_KEY_PKCS8]);
        assert_eq!(e.message, "unknown key format 42; an ECDH key is PKCS#8");
    }

    #[test]
    fn the_point_length_is_p384s() {
        let key =
            qat_crypto::ecdh::PrivateKey::generate(qat_crypto::ecdh::Algorithm::P384).unwrap();
        assert_eq!(key.public_key().len(), QATKIT_EC_MAX_POINT_LEN);
    }
}
