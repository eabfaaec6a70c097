//! The `qat` backend for RSA: the device raises to the private exponent (CRT form) or to the
//! public one; the host hashes, pads and checks the padding (`padding`). (The key checks each
//! signature the device made on the CPU before returning it: a faulty CRT result would reveal
//! the key's factors.)

use aws_lc_sys as sys;
use qat_error::ErrorKind;
use zeroize::Zeroizing;

use super::padding::{self, Rsa};
use super::{Oaep, Scheme};
use crate::crypto::{Error, Operation};
use crate::device::{Needs, Probe};
use crate::qat::qatlib::RsaCrt;

/// A parsed key's number as exactly `len` big-endian bytes; `None` if it does not fit.
fn padded(bn: *const sys::BIGNUM, len: usize) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    // SAFETY: `bn` is a live number of a parsed key; `out` holds `len` bytes.
    let ok = !bn.is_null() && unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), len, bn) } == 1;
    ok.then_some(out)
}

/// Parses all of `der` with an AWS-LC parser returning an `RSA`.
fn parse(der: &[u8], parse: unsafe extern "C" fn(*mut sys::CBS) -> *mut sys::RSA) -> Option<Rsa> {
    // SAFETY: CBS is plain data that CBS_init fills; `der` outlives it.
    let mut cbs: sys::CBS = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { sys::CBS_init(&mut cbs, der.as_ptr(), der.len()) };
    // SAFETY: `cbs` is initialised; the result is null or a key we own.
    let rsa = Rsa::new(unsafe { parse(&mut cbs) })?;
    // SAFETY: `cbs` is initialised.
    (unsafe { sys::CBS_len(&cbs) } == 0).then_some(rsa)
}

/// `EVP_parse_private_key`/`EVP_parse_public_key` then the RSA key inside.
fn parse_evp(
    der: &[u8],
    parse_evp: unsafe extern "C" fn(*mut sys::CBS) -> *mut sys::EVP_PKEY,
) -> Option<Rsa> {
    let pkey = crate::der::parse_whole(der, parse_evp)?;
    // SAFETY: `pkey` is live; get1 takes a reference of its own on the RSA key, so freeing
    // the EVP_PKEY (when `pkey` drops) leaves it alive.
    Rsa::new(unsafe { sys::EVP_PKEY_get1_RSA(pkey.0) })
}

/// The modulus and public exponent of a key, big-endian (the modulus `len` bytes).
fn public_numbers(rsa: &Rsa) -> Option<(Vec<u8>, Vec<u8>)> {
    let (mut n, mut e) = (std::ptr::null(), std::ptr::null());
    // SAFETY: the key is live; the numbers are borrowed from it.
    unsafe { sys::RSA_get0_key(rsa.as_ptr(), &mut n, &mut e, std::ptr::null_mut()) };
    // SAFETY: as above.
    let len = unsafe { sys::RSA_size(rsa.as_ptr()) } as usize;
    let e_len = if e.is_null() {
        0
    } else {
        // SAFETY: `e` is a live number of the key.
        (unsafe { sys::BN_num_bytes(e) }) as usize
    };
    let n = padded(n, len)?;
    let e = padded(e, e_len.max(1))?;
    Some((n.to_vec(), e.to_vec()))
}

/// Whether the device takes a modulus of `len` bytes.
fn takes_modulus(len: usize) -> bool {
    crate::qat::qatlib::RSA_MODULUS_LENS.contains(&len)
}

fn modulus_refused(len: usize) -> Error {
    Error::no_device(
        Operation::Backend,
        "RSA",
        format!(
            "the device takes 1024, 1536, 2048, 3072, 4096 and 8192-bit keys, not {}-bit",
            len * 8
        ),
        ErrorKind::Unsupported,
    )
}

/// Whether the big-endian `value` is below the big-endian `modulus` of the same length.
fn below(value: &[u8], modulus: &[u8]) -> bool {
    value.len() == modulus.len() && value < modulus
}

/// The device side of a private key: the CRT components, half the modulus each.
pub(super) struct PrivateDevice {
    probe: Probe,
    rsa: Rsa,
    /// p, q, dP, dQ, qInv, each `half` bytes, one after the other.
    crt: Option<Zeroizing<Vec<u8>>>,
    /// The modulus, big-endian.
    n: Vec<u8>,
}

impl PrivateDevice {
    pub(super) fn from_pkcs8(der: &[u8]) -> Option<PrivateDevice> {
        PrivateDevice::new(parse_evp(der, sys::EVP_parse_private_key)?)
    }

    pub(super) fn from_pkcs1(der: &[u8]) -> Option<PrivateDevice> {
        PrivateDevice::new(parse(der, sys::RSA_parse_private_key)?)
    }

    fn new(rsa: Rsa) -> Option<PrivateDevice> {
        let (n, _) = public_numbers(&rsa)?;
        // SAFETY: the key is live.
        let half = unsafe { sys::RSA_size(rsa.as_ptr()) } as usize / 2;
        let mut parts = [std::ptr::null(); 5];
        // SAFETY: the key is live; the numbers are borrowed from it (null when absent).
        unsafe {
            let [p, q, dp, dq, qinv] = &mut parts;
            sys::RSA_get0_factors(rsa.as_ptr(), p, q);
            sys::RSA_get0_crt_params(rsa.as_ptr(), dp, dq, qinv);
        }
        // A key without CRT numbers, or with a prime longer than half the modulus, is the
        // CPU's: the device takes CRT keys of that shape only.
        let crt = parts
            .iter()
            .map(|&part| padded(part, half))
            .collect::<Option<Vec<_>>>()
            .map(|parts| Zeroizing::new(parts.iter().flat_map(|p| p.iter().copied()).collect()));
        Some(PrivateDevice {
            probe: Probe::new(Needs::Asym),
            rsa,
            crt,
            n,
        })
    }

    fn crt(&self) -> Option<RsaCrt<'_>> {
        let crt = self.crt.as_ref()?;
        let half = crt.len() / 5;
        let part = |i: usize| &crt[i * half..(i + 1) * half];
        Some(RsaCrt {
            p: part(0),
            q: part(1),
            dp: part(2),
            dq: part(3),
            qinv: part(4),
        })
    }

    /// Whether a device is up and takes this key.
    pub(super) fn takes(&self) -> bool {
        self.crt.is_some() && takes_modulus(self.n.len()) && self.probe.up()
    }

    /// Why `qat` cannot serve this key, if it cannot.
    pub(super) fn check(&self) -> Result<(), Error> {
        if !takes_modulus(self.n.len()) {
            return Err(modulus_refused(self.n.len()));
        }
        if self.crt.is_none() {
            return Err(Error::no_device(
                Operation::Backend,
                "RSA",
                "the device takes two-prime CRT keys whose primes are half the modulus".into(),
                ErrorKind::Unsupported,
            ));
        }
        self.probe.check("RSA")
    }

    /// The raw private operation on the device: `out = input^d mod n`.
    fn private_op(
        &self,
        operation: Operation,
        name: &'static str,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(), Error> {
        let crt = self.crt().ok_or_else(|| {
            Error::no_device(operation, name, "no CRT key".into(), ErrorKind::Unsupported)
        })?;
        let service = self
            .probe
            .service()
            .map_err(|e| Error::device(operation, name, e))?;
        service
            .rsa_private(&crt, input, out)
            .map_err(|e| Error::device(operation, name, e))
    }

    pub(super) fn sign(
        &self,
        scheme: Scheme,
        message: &[u8],
        signature: &mut [u8],
    ) -> Result<(), Error> {
        let name = scheme.name();
        let digest = scheme.digest();
        let hash = digest.hash(message);
        let mut em = vec![0u8; signature.len()];
        let encoded = if scheme.is_pss() {
            padding::encode_pss(&self.rsa, digest, hash.as_ref(), &mut em)
        } else {
            padding::encode_pkcs1(digest, hash.as_ref(), &mut em)
        };
        if !encoded {
            return Err(Error::cpu(Operation::Sign, name, "RSA padding"));
        }
        self.private_op(Operation::Sign, name, &em, signature)
    }

    pub(super) fn decrypt(
        &self,
        oaep: Oaep,
        ciphertext: &[u8],
        label: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let name = oaep.name();
        let refused = Error::Decryption {
            operation: Operation::Decrypt,
            algorithm: name,
        };
        if !below(ciphertext, &self.n) {
            return Err(refused);
        }
        let mut em = Zeroizing::new(vec![0u8; ciphertext.len()]);
        self.private_op(Operation::Decrypt, name, ciphertext, &mut em)?;
        // A wrong result from the device would read as a bad ciphertext (an answer `auto`
        // does not retry): checked on the CPU with the public exponent first.
        if self.rsa.public_op(&em).as_deref() != Some(ciphertext) {
            return Err(Error::Failed {
                operation: Operation::Decrypt,
                algorithm: name,
                served_by: crate::ServedBy::QatDevice,
                reason: "the device's result did not check with the public key".into(),
                kind: ErrorKind::DeviceFailure,
            });
        }
        padding::decode_oaep(oaep.digest(), &em, label).ok_or(refused)
    }
}

/// The device side of a public key: its modulus and exponent.
pub(super) struct PublicDevice {
    probe: Probe,
    rsa: Rsa,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl PublicDevice {
    pub(super) fn from_spki(der: &[u8]) -> Option<PublicDevice> {
        PublicDevice::new(parse_evp(der, sys::EVP_parse_public_key)?)
    }

    fn new(rsa: Rsa) -> Option<PublicDevice> {
        let (n, e) = public_numbers(&rsa)?;
        Some(PublicDevice {
            probe: Probe::new(Needs::Asym),
            rsa,
            n,
            e,
        })
    }

    pub(super) fn takes(&self) -> bool {
        takes_modulus(self.n.len()) && self.probe.up()
    }

    pub(super) fn check(&self) -> Result<(), Error> {
        if !takes_modulus(self.n.len()) {
            return Err(modulus_refused(self.n.len()));
        }
        self.probe.check("RSA")
    }

    /// The raw public operation on the device: `out = input^e mod n`.
    fn public_op(
        &self,
        operation: Operation,
        name: &'static str,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(), Error> {
        let service = self
            .probe
            .service()
            .map_err(|e| Error::device(operation, name, e))?;
        service
            .rsa_public(&self.n, &self.e, input, out)
            .map_err(|e| Error::device(operation, name, e))
    }

    /// Checks a signature of `message` on the device.
    pub(super) fn verify(
        &self,
        scheme: Scheme,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        let name = scheme.name();
        let bad = Error::BadSignature {
            operation: Operation::Verify,
            algorithm: name,
        };
        if !below(signature, &self.n) {
            return Err(bad);
        }
        let mut em = vec![0u8; signature.len()];
        self.public_op(Operation::Verify, name, signature, &mut em)?;
        let digest = scheme.digest();
        let hash = digest.hash(message);
        let good = if scheme.is_pss() {
            padding::verify_pss(&self.rsa, digest, hash.as_ref(), &em)
        } else {
            let mut expected = vec![0u8; em.len()];
            padding::encode_pkcs1(digest, hash.as_ref(), &mut expected) && expected == em
        };
        if good { Ok(()) } else { Err(bad) }
    }

    pub(super) fn encrypt(
        &self,
        oaep: Oaep,
        plaintext: &[u8],
        label: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let name = oaep.name();
        let mut em = Zeroizing::new(vec![0u8; self.n.len()]);
        if !padding::encode_oaep(oaep.digest(), plaintext, label, &mut em) {
            return Err(Error::cpu(
                Operation::Encrypt,
                name,
                "RSA_padding_add_PKCS1_OAEP_mgf1",
            ));
        }
        let mut ciphertext = vec![0u8; self.n.len()];
        self.public_op(Operation::Encrypt, name, &em, &mut ciphertext)?;
        Ok(ciphertext)
    }
}
