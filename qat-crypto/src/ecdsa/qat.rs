//! The `qat` backend for ECDSA: the device computes the signature (r, s) from the digest, the
//! private scalar and a nonce, and checks signatures against a public point; the host hashes
//! the message, draws the nonce (uniform in [1, n-1], from AWS-LC's generator) and reads and
//! writes the DER encoding.

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::Algorithm;
use crate::crypto::{Error, Operation};
use crate::device::{Needs, Probe};

/// How many nonces a signature may take: the device reports r or s zero with probability
/// about 2^-255, so a second try already means a fault.
const SIGN_ATTEMPTS: usize = 3;

impl Algorithm {
    fn hash(self, message: &[u8]) -> aws_lc_rs::digest::Digest {
        let digest = match self {
            Algorithm::P256Sha256 => &aws_lc_rs::digest::SHA256,
            Algorithm::P384Sha384 => &aws_lc_rs::digest::SHA384,
        };
        aws_lc_rs::digest::digest(digest, message)
    }
}

/// Owns a `BIGNUM`, cleared and freed on drop.
struct Bn(*mut sys::BIGNUM);

impl Bn {
    fn from_be(bytes: &[u8]) -> Option<Bn> {
        // SAFETY: `bytes` is valid for its length; a null result is handled.
        let bn = unsafe { sys::BN_bin2bn(bytes.as_ptr(), bytes.len(), std::ptr::null_mut()) };
        (!bn.is_null()).then_some(Bn(bn))
    }

    /// Exactly `len` big-endian bytes; `None` if the number is longer.
    fn to_be(&self, len: usize) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; len]);
        // SAFETY: the number is live; `out` holds `len` bytes.
        let ok = unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), len, self.0) } == 1;
        ok.then_some(out)
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { sys::BN_clear_free(self.0) }
    }
}

/// A nonce uniform in [1, n-1], `len` bytes big-endian.
fn nonce(order: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let n = Bn::from_be(order)?;
    // SAFETY: a new number, owned by `k`.
    let k = Bn(unsafe { sys::BN_new() });
    // SAFETY: both numbers are live.
    let ok = !k.0.is_null() && unsafe { sys::BN_rand_range_ex(k.0, 1, n.0) } == 1;
    if ok { k.to_be(order.len()) } else { None }
}

/// The DER encoding of (r, s).
fn encode_signature(r: &[u8], s: &[u8]) -> Option<Vec<u8>> {
    let (r, s) = (Bn::from_be(r)?, Bn::from_be(s)?);
    // SAFETY: a new signature; set0 takes ownership of both numbers (forgotten below on
    // success); the encoding AWS-LC allocates is copied and freed.
    unsafe {
        let sig = sys::ECDSA_SIG_new();
        if sig.is_null() {
            return None;
        }
        let set = sys::ECDSA_SIG_set0(sig, r.0, s.0) == 1;
        if set {
            std::mem::forget(r);
            std::mem::forget(s);
        }
        let mut out: *mut u8 = std::ptr::null_mut();
        let mut len = 0usize;
        let ok = set && sys::ECDSA_SIG_to_bytes(&mut out, &mut len, sig) == 1;
        let der = ok.then(|| std::slice::from_raw_parts(out, len).to_vec());
        sys::OPENSSL_free(out.cast());
        sys::ECDSA_SIG_free(sig);
        der
    }
}

/// A signature's two numbers, each the field's length, big-endian.
type RS = (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>);

/// (r, s) of a strict DER signature, each `len` bytes; `None` if it is not one or a number is
/// longer than the field.
fn decode_signature(der: &[u8], len: usize) -> Option<RS> {
    // SAFETY: `der` is valid for its length; the signature AWS-LC parses is ours and freed
    // below; its numbers are borrowed until then.
    unsafe {
        let sig = sys::ECDSA_SIG_from_bytes(der.as_ptr(), der.len());
        if sig.is_null() {
            return None;
        }
        let (mut r, mut s) = (std::ptr::null(), std::ptr::null());
        sys::ECDSA_SIG_get0(sig, &mut r, &mut s);
        let borrowed = |bn: *const sys::BIGNUM| {
            let mut out = Zeroizing::new(vec![0u8; len]);
            (sys::BN_bn2bin_padded(out.as_mut_ptr(), len, bn) == 1).then_some(out)
        };
        let pair = borrowed(r).zip(borrowed(s));
        sys::ECDSA_SIG_free(sig);
        pair
    }
}

/// The device side of a signing key: its scalar.
pub(super) struct SigningDevice {
    probe: Probe,
    d: Zeroizing<Vec<u8>>,
}

impl SigningDevice {
    pub(super) fn new(d: Zeroizing<Vec<u8>>) -> SigningDevice {
        SigningDevice {
            probe: Probe::new(Needs::Asym),
            d,
        }
    }

    pub(super) fn takes(&self) -> bool {
        self.probe.up()
    }

    pub(super) fn check(&self, algorithm: Algorithm) -> Result<(), Error> {
        self.probe.check(algorithm.name())
    }

    pub(super) fn sign(&self, algorithm: Algorithm, message: &[u8]) -> Result<Vec<u8>, Error> {
        let name = algorithm.name();
        let numbers = algorithm.curve().numbers();
        let len = algorithm.field_len();
        let service = self
            .probe
            .service()
            .map_err(|e| Error::device(Operation::Sign, name, e))?;
        let m = algorithm.hash(message);
        let (mut r, mut s) = (vec![0u8; len], vec![0u8; len]);
        for _ in 0..SIGN_ATTEMPTS {
            let k = nonce(numbers.order())
                .ok_or_else(|| Error::cpu(Operation::Sign, name, "BN_rand_range_ex"))?;
            let signed = service
                .ecdsa_sign(
                    &numbers.prime_curve(),
                    &k,
                    m.as_ref(),
                    &self.d,
                    &mut r,
                    &mut s,
                )
                .map_err(|e| Error::device(Operation::Sign, name, e))?;
            if signed {
                return encode_signature(&r, &s)
                    .ok_or_else(|| Error::cpu(Operation::Sign, name, "ECDSA_SIG_to_bytes"));
            }
        }
        Err(Error::Failed {
            operation: Operation::Sign,
            algorithm: name,
            served_by: crate::ServedBy::QatDevice,
            reason: format!("the device found r or s zero with {SIGN_ATTEMPTS} nonces"),
            kind: qat_error::ErrorKind::DeviceFailure,
        })
    }
}

/// The device side of a verifying key: its point's coordinates.
pub(super) struct VerifyingDevice {
    probe: Probe,
    x: Vec<u8>,
    y: Vec<u8>,
}

impl VerifyingDevice {
    /// From the uncompressed point `04 || x || y`.
    pub(super) fn new(point: &[u8]) -> VerifyingDevice {
        let len = (point.len() - 1) / 2;
        VerifyingDevice {
            probe: Probe::new(Needs::Asym),
            x: point[1..=len].to_vec(),
            y: point[1 + len..].to_vec(),
        }
    }

    pub(super) fn takes(&self) -> bool {
        self.probe.up()
    }

    pub(super) fn check(&self, algorithm: Algorithm) -> Result<(), Error> {
        self.probe.check(algorithm.name())
    }

    pub(super) fn verify(
        &self,
        algorithm: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        let name = algorithm.name();
        let bad = Error::BadSignature {
            operation: Operation::Verify,
            algorithm: name,
        };
        let numbers = algorithm.curve().numbers();
        // r and s in [1, n-1], checked here rather than left to the device's firmware.
        let in_range = |v: &[u8]| v.iter().any(|&b| b != 0) && v < numbers.order();
        let Some((r, s)) = decode_signature(signature, algorithm.field_len()) else {
            return Err(bad);
        };
        if !in_range(&r) || !in_range(&s) {
            return Err(bad);
        }
        let service = self
            .probe
            .service()
            .map_err(|e| Error::device(Operation::Verify, name, e))?;
        let m = algorithm.hash(message);
        let verified = service
            .ecdsa_verify(&numbers.prime_curve(), m.as_ref(), &r, &s, &self.x, &self.y)
            .map_err(|e| Error::device(Operation::Verify, name, e))?;
        if verified { Ok(()) } else { Err(bad) }
    }
}
