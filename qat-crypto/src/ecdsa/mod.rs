//! ECDSA on P-256 with SHA-256 and P-384 with SHA-384 (TLS's `ecdsa_secp256r1_sha256` and
//! `ecdsa_secp384r1_sha384`), signatures in ASN.1 DER as TLS and X.509 carry them, on the CPU
//! through AWS-LC (backend `cpu`) or a QAT device through qatlib (backend `qat`, feature
//! `qatlib`: the device computes and checks (r, s), qatkit hashes, draws the nonce and encodes).
//! Backend `auto` (the default) takes the device when an instance with public-key crypto is
//! up, and serves a request the device fails on the CPU; `served` counts both.
//!
//! Signatures are randomised: two signatures of one message differ, and both verify.
//!
//! ```
//! use qat_crypto::ecdsa::{Algorithm, SigningKey};
//!
//! # let pkcs8 = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/p256.pk8"))?;
//! let key = SigningKey::from_pkcs8_der(&pkcs8)?;
//! assert_eq!(key.algorithm(), Algorithm::P256Sha256);
//! let signature = key.sign(b"CertificateVerify")?;
//! key.verifying_key().verify(b"CertificateVerify", &signature)?;
//! assert!(key.verifying_key().verify(b"tampered", &signature).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use crate::backend::Counters;
use crate::crypto::{Error, Operation, Route, Settings};
use crate::{ServedBy, executor};

mod cpu;
#[cfg(feature = "qatlib")]
mod qat;

/// A curve with its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// NIST P-256 (secp256r1) with SHA-256.
    P256Sha256,
    /// NIST P-384 (secp384r1) with SHA-384.
    P384Sha384,
}

impl Algorithm {
    /// Every algorithm, for listings and tests.
    pub const ALL: [Algorithm; 2] = [Algorithm::P256Sha256, Algorithm::P384Sha384];

    /// Its name, e.g. `ECDSA-P256-SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::P256Sha256 => "ECDSA-P256-SHA256",
            Algorithm::P384Sha384 => "ECDSA-P384-SHA384",
        }
    }

    /// The length of a scalar or coordinate in bytes (32 or 48).
    pub fn field_len(self) -> usize {
        match self {
            Algorithm::P256Sha256 => 32,
            Algorithm::P384Sha384 => 48,
        }
    }

    /// The longest DER signature: a SEQUENCE of two INTEGERs, each the field length plus a
    /// leading zero.
    pub fn max_signature_len(self) -> usize {
        let integer = 2 + self.field_len() + 1;
        2 + 2 * integer
    }
}

crate::crypto::named_algorithm!(Algorithm, "ECDSA algorithm");

/// An ECDSA private key with the settings that serve it. Shared by reference across threads;
/// AWS-LC clears the scalar when the key is dropped.
pub struct SigningKey {
    algorithm: Algorithm,
    cpu: cpu::SigningKey,
    public: VerifyingKey,
    settings: Settings,
    served: Counters,
    #[cfg(feature = "qatlib")]
    qat: Option<qat::SigningDevice>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("ecdsa::SigningKey")
            .field("algorithm", &self.algorithm)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    crate::crypto::backend_methods!();

    /// A key from a PKCS#8 `PrivateKeyInfo` (DER) on P-256 or P-384; the curve says which
    /// algorithm.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, Error> {
        SigningKey::new(cpu::SigningKey::from_pkcs8(der)?)
    }

    /// A key from a SEC 1 `ECPrivateKey` (DER, RFC 5915) naming its curve, as
    /// `openssl ecparam -genkey` writes it.
    pub fn from_sec1_der(der: &[u8]) -> Result<SigningKey, Error> {
        SigningKey::new(cpu::SigningKey::from_sec1(der)?)
    }

    fn new(cpu: cpu::SigningKey) -> Result<SigningKey, Error> {
        let algorithm = cpu.algorithm();
        let public = VerifyingKey::from_sec1_point(&cpu.public_point())?;
        Ok(SigningKey {
            algorithm,
            #[cfg(feature = "qatlib")]
            qat: cpu.scalar().map(qat::SigningDevice::new),
            cpu,
            public,
            settings: Settings::default(),
            served: Counters::default(),
        })
    }

    /// The algorithm (from the key's curve).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public half (with default settings of its own).
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    #[cfg(feature = "qatlib")]
    fn check_device(&self) -> Result<(), Error> {
        let name = self.algorithm.name();
        self.qat
            .as_ref()
            .ok_or_else(|| crate::crypto::key_not_for_device(Operation::Backend, name))?
            .check(self.algorithm)
    }

    #[cfg(not(feature = "qatlib"))]
    fn check_device(&self) -> Result<(), Error> {
        Err(crate::crypto::without_qatlib(self.algorithm.name()))
    }

    fn route(&self) -> Route {
        #[cfg(feature = "qatlib")]
        let takes = || self.qat.as_ref().is_some_and(qat::SigningDevice::takes);
        #[cfg(not(feature = "qatlib"))]
        let takes = || false;
        self.settings.route(0, Some(0), takes)
    }

    /// Signs on the device (under `auto`, a device failure signs on the CPU instead).
    #[cfg(feature = "qatlib")]
    fn sign_on_device(&self, message: &[u8]) -> Result<(Vec<u8>, ServedBy), Error> {
        let name = self.algorithm.name();
        let device = self
            .qat
            .as_ref()
            .ok_or_else(|| crate::crypto::key_not_for_device(Operation::Sign, name))
            .and_then(|device| device.sign(self.algorithm, message));
        self.settings
            .device_or_cpu(device, || self.cpu.sign(message))
    }

    #[cfg(not(feature = "qatlib"))]
    fn sign_on_device(&self, _: &[u8]) -> Result<(Vec<u8>, ServedBy), Error> {
        unreachable!(
            "without `qatlib`, `qat` is refused by with_backend and `auto` never routes here"
        )
    }

    /// Signs `message` (hashed with the algorithm's digest): the signature in DER, at most
    /// [`Algorithm::max_signature_len`] bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let (signature, served_by) = match self.route() {
            Route::Cpu => (self.cpu.sign(message)?, ServedBy::Cpu),
            Route::Qat => self.sign_on_device(message)?,
        };
        self.served.count(served_by, &self.algorithm, message.len());
        Ok(signature)
    }

    /// Signs every message, up to [`SigningKey::with_in_flight`] at once; results in order.
    pub fn sign_batch(&self, messages: &[&[u8]]) -> Vec<Result<Vec<u8>, Error>> {
        executor::map(self.settings.in_flight, messages, |message| {
            self.sign(message)
        })
    }
}

/// An ECDSA public key with the settings that serve it. Shared by reference across threads.
pub struct VerifyingKey {
    algorithm: Algorithm,
    cpu: cpu::VerifyingKey,
    settings: Settings,
    served: Counters,
    #[cfg(feature = "qatlib")]
    qat: qat::VerifyingDevice,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ecdsa::VerifyingKey")
            .field("algorithm", &self.algorithm)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    crate::crypto::backend_methods!();

    /// A key from an X.509 `SubjectPublicKeyInfo` (DER) on P-256 or P-384.
    pub fn from_spki_der(der: &[u8]) -> Result<VerifyingKey, Error> {
        VerifyingKey::new(cpu::VerifyingKey::from_spki(der)?)
    }

    /// A key from a SEC 1 point, uncompressed (`04 || x || y`: 65 bytes for P-256, 97 for
    /// P-384) or compressed (33 or 49 bytes); its length says the curve.
    pub fn from_sec1_point(point: &[u8]) -> Result<VerifyingKey, Error> {
        VerifyingKey::new(cpu::VerifyingKey::from_point(point)?)
    }

    fn new(cpu: cpu::VerifyingKey) -> Result<VerifyingKey, Error> {
        Ok(VerifyingKey {
            algorithm: cpu.algorithm(),
            #[cfg(feature = "qatlib")]
            qat: qat::VerifyingDevice::new(cpu.point()),
            cpu,
            settings: Settings::default(),
            served: Counters::default(),
        })
    }

    /// The algorithm (from the key's curve).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key as an uncompressed SEC 1 point (`04 || x || y`).
    pub fn to_sec1_point(&self) -> Vec<u8> {
        self.cpu.point().to_vec()
    }

    #[cfg(feature = "qatlib")]
    fn check_device(&self) -> Result<(), Error> {
        self.qat.check(self.algorithm)
    }

    #[cfg(not(feature = "qatlib"))]
    fn check_device(&self) -> Result<(), Error> {
        Err(crate::crypto::without_qatlib(self.algorithm.name()))
    }

    fn route(&self) -> Route {
        #[cfg(feature = "qatlib")]
        let takes = || self.qat.takes();
        #[cfg(not(feature = "qatlib"))]
        let takes = || false;
        self.settings.route(0, Some(0), takes)
    }

    fn verify_on_cpu(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        self.cpu
            .verify(message, signature)
            .map_err(|()| Error::BadSignature {
                operation: Operation::Verify,
                algorithm: self.algorithm.name(),
            })
    }

    #[cfg(feature = "qatlib")]
    fn verify_on_device(&self, message: &[u8], signature: &[u8]) -> Result<ServedBy, Error> {
        let device = self.qat.verify(self.algorithm, message, signature);
        let ((), served_by) = self
            .settings
            .device_or_cpu(device, || self.verify_on_cpu(message, signature))?;
        Ok(served_by)
    }

    #[cfg(not(feature = "qatlib"))]
    fn verify_on_device(&self, _: &[u8], _: &[u8]) -> Result<ServedBy, Error> {
        unreachable!(
            "without `qatlib`, `qat` is refused by with_backend and `auto` never routes here"
        )
    }

    /// Checks that `signature` (DER) is the key's signature of `message`:
    /// [`Error::BadSignature`] when it is not.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        let served_by = match self.route() {
            Route::Cpu => {
                self.verify_on_cpu(message, signature)?;
                ServedBy::Cpu
            }
            Route::Qat => self.verify_on_device(message, signature)?,
        };
        self.served.count(served_by, &self.algorithm, message.len());
        Ok(())
    }

    /// Verifies every `(message, signature)`, up to [`VerifyingKey::with_in_flight`] at
    /// once; results in order.
    pub fn verify_batch(&self, items: &[(&[u8], &[u8])]) -> Vec<Result<(), Error>> {
        executor::map(self.settings.in_flight, items, |(message, signature)| {
            self.verify(message, signature)
        })
    }
}
