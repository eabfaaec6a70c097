//! RSA: PKCS#1 v1.5 and PSS signatures with SHA-256/384/512 and OAEP encryption, with keys of
//! 2048, 3072 or 4096 bits (public keys up to 8192 bits are taken for verification), on the
//! CPU through AWS-LC (backend `cpu`) or a QAT device through qatlib (backend `qat`, feature
//! `qatlib`: the device does the modular exponentiation, qatkit the hashing and padding, and
//! every signature the device makes is checked on the CPU before it is returned). Backend
//! `auto` (the default) takes the device when an instance with public-key crypto is up, and
//! serves a request the device fails on the CPU; `served` counts both.
//!
//! PSS signatures use a salt as long as the digest and MGF1 with the same digest (what TLS 1.3
//! and X.509 use: `rsa_pss_rsae_sha256` ...), and are randomised, so two signatures of one
//! message differ; both verify. OAEP uses MGF1 with the label's digest, and a ciphertext that
//! does not decrypt gives one error whatever the cause ([`Error::Decryption`]).
//!
//! ```
//! use qat_crypto::rsa::{Oaep, PrivateKey, Scheme};
//!
//! # let pkcs8 = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rsa2048.pk8"))?;
//! let key = PrivateKey::from_pkcs8_der(&pkcs8)?;
//! let signature = key.sign(Scheme::PssSha256, b"ClientHello...")?;
//! key.public_key().verify(Scheme::PssSha256, b"ClientHello...", &signature)?;
//! assert!(key.public_key().verify(Scheme::PssSha256, b"tampered", &signature).is_err());
//!
//! let ciphertext = key.public_key().encrypt(Oaep::Sha256, b"premaster", b"")?;
//! assert_eq!(&key.decrypt(Oaep::Sha256, &ciphertext, b"")?[..], b"premaster");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use zeroize::Zeroizing;

use crate::backend::Counters;
use crate::crypto::{Error, Operation, Route, Settings};
use crate::{ServedBy, executor};

mod cpu;
#[cfg(feature = "qatlib")]
mod padding;
#[cfg(feature = "qatlib")]
mod qat;

/// The hash of a signature scheme or of OAEP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Digest {
    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Digest::Sha256 => 32,
            Digest::Sha384 => 48,
            Digest::Sha512 => 64,
        }
    }
}

/// A signature scheme: the padding and the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Pkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Pkcs1Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Pkcs1Sha512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    PssSha256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt.
    PssSha384,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512 and a 64-byte salt.
    PssSha512,
}

impl Scheme {
    /// Every scheme, for listings and tests.
    pub const ALL: [Scheme; 6] = [
        Scheme::Pkcs1Sha256,
        Scheme::Pkcs1Sha384,
        Scheme::Pkcs1Sha512,
        Scheme::PssSha256,
        Scheme::PssSha384,
        Scheme::PssSha512,
    ];

    /// Its name, e.g. `RSA-PSS-SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Pkcs1Sha256 => "RSA-PKCS1-SHA256",
            Scheme::Pkcs1Sha384 => "RSA-PKCS1-SHA384",
            Scheme::Pkcs1Sha512 => "RSA-PKCS1-SHA512",
            Scheme::PssSha256 => "RSA-PSS-SHA256",
            Scheme::PssSha384 => "RSA-PSS-SHA384",
            Scheme::PssSha512 => "RSA-PSS-SHA512",
        }
    }

    /// The digest the message is hashed with.
    pub fn digest(self) -> Digest {
        match self {
            Scheme::Pkcs1Sha256 | Scheme::PssSha256 => Digest::Sha256,
            Scheme::Pkcs1Sha384 | Scheme::PssSha384 => Digest::Sha384,
            Scheme::Pkcs1Sha512 | Scheme::PssSha512 => Digest::Sha512,
        }
    }

    /// Whether it is PSS (else PKCS#1 v1.5).
    pub fn is_pss(self) -> bool {
        matches!(
            self,
            Scheme::PssSha256 | Scheme::PssSha384 | Scheme::PssSha512
        )
    }
}

crate::crypto::named_algorithm!(Scheme, "RSA signature scheme");

/// RSAES-OAEP with a digest for the label and MGF1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Oaep {
    /// OAEP with SHA-256 and MGF1-SHA-256.
    Sha256,
    /// OAEP with SHA-384 and MGF1-SHA-384.
    Sha384,
    /// OAEP with SHA-512 and MGF1-SHA-512.
    Sha512,
}

impl Oaep {
    /// Every OAEP variant, for listings and tests.
    pub const ALL: [Oaep; 3] = [Oaep::Sha256, Oaep::Sha384, Oaep::Sha512];

    /// Its name, e.g. `RSA-OAEP-SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            Oaep::Sha256 => "RSA-OAEP-SHA256",
            Oaep::Sha384 => "RSA-OAEP-SHA384",
            Oaep::Sha512 => "RSA-OAEP-SHA512",
        }
    }

    /// The digest of the label and of MGF1.
    pub fn digest(self) -> Digest {
        match self {
            Oaep::Sha256 => Digest::Sha256,
            Oaep::Sha384 => Digest::Sha384,
            Oaep::Sha512 => Digest::Sha512,
        }
    }

    /// The longest plaintext a key of `modulus_len` bytes encrypts (RFC 8017, 7.1.1).
    pub fn max_plaintext_len(self, modulus_len: usize) -> usize {
        modulus_len.saturating_sub(2 * self.digest().output_len() + 2)
    }
}

crate::crypto::named_algorithm!(Oaep, "RSA-OAEP variant");

/// The name errors about a key (no scheme yet) carry.
const RSA: &str = "RSA";

/// The private key sizes taken, in bits.
pub const PRIVATE_KEY_BITS: [usize; 3] = [2048, 3072, 4096];
/// The public key sizes taken for verification and encryption, in bits.
pub const PUBLIC_KEY_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// An RSA private key with the settings that serve it. Shared by reference across threads;
/// its key material is zeroed when it is dropped (AWS-LC clears its numbers when it frees
/// them).
pub struct PrivateKey {
    cpu: cpu::PrivateKey,
    public: PublicKey,
    settings: Settings,
    served: Counters,
    #[cfg(feature = "qatlib")]
    qat: Option<qat::PrivateDevice>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("rsa::PrivateKey")
            .field("bits", &self.bits())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    crate::crypto::backend_methods!();

    /// A key from a PKCS#8 `PrivateKeyInfo` (DER), what TLS stacks and `openssl genpkey` hold.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, Error> {
        let key = PrivateKey::new(cpu::PrivateKey::from_pkcs8(der)?)?;
        #[cfg(feature = "qatlib")]
        let key = PrivateKey {
            qat: qat::PrivateDevice::from_pkcs8(der),
            ..key
        };
        Ok(key)
    }

    /// A key from a PKCS#1 `RSAPrivateKey` (DER), as `openssl genrsa -traditional` writes it.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey, Error> {
        let key = PrivateKey::new(cpu::PrivateKey::from_pkcs1(der)?)?;
        #[cfg(feature = "qatlib")]
        let key = PrivateKey {
            qat: qat::PrivateDevice::from_pkcs1(der),
            ..key
        };
        Ok(key)
    }

    fn new(cpu: cpu::PrivateKey) -> Result<PrivateKey, Error> {
        let bits = cpu.bits();
        if !PRIVATE_KEY_BITS.contains(&bits) {
            return Err(Error::parameter(
                Operation::Key,
                RSA,
                format!("a {bits}-bit key; private keys are 2048, 3072 or 4096 bits"),
            ));
        }
        let public = PublicKey::from_spki_der(&cpu.public_key_spki())?;
        Ok(PrivateKey {
            cpu,
            public,
            settings: Settings::default(),
            served: Counters::default(),
            #[cfg(feature = "qatlib")]
            qat: None,
        })
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.cpu.bits()
    }

    /// The signature (and ciphertext) length in bytes.
    pub fn modulus_len(&self) -> usize {
        self.bits().div_ceil(8)
    }

    /// The public half (with default settings of its own).
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    #[cfg(feature = "qatlib")]
    fn check_device(&self) -> Result<(), Error> {
        self.qat
            .as_ref()
            .ok_or_else(|| crate::crypto::key_not_for_device(Operation::Backend, RSA))?
            .check()
    }

    #[cfg(not(feature = "qatlib"))]
    fn check_device(&self) -> Result<(), Error> {
        Err(crate::crypto::without_qatlib(RSA))
    }

    /// Where a request goes: the device when one with public-key crypto is up (under `auto`).
    fn route(&self) -> Route {
        #[cfg(feature = "qatlib")]
        let takes = || self.qat.as_ref().is_some_and(qat::PrivateDevice::takes);
        #[cfg(not(feature = "qatlib"))]
        let takes = || false;
        self.settings.route(0, Some(0), takes)
    }

    /// The device backend of this key, or why there is none.
    #[cfg(feature = "qatlib")]
    fn device(
        &self,
        operation: Operation,
        name: &'static str,
    ) -> Result<&qat::PrivateDevice, Error> {
        self.qat
            .as_ref()
            .ok_or_else(|| crate::crypto::key_not_for_device(operation, name))
    }

    /// Signs on the device, then checks the signature on the CPU: a faulty CRT result would
    /// reveal the key's factors, so a wrong one never leaves (under `auto` the CPU signs
    /// instead).
    #[cfg(feature = "qatlib")]
    fn sign_on_device(
        &self,
        scheme: Scheme,
        message: &[u8],
        signature: &mut [u8],
    ) -> Result<ServedBy, Error> {
        let device = self
            .device(Operation::Sign, scheme.name())
            .and_then(|device| device.sign(scheme, message, signature))
            .and_then(|()| {
                self.public
                    .cpu
                    .verify(scheme, message, signature)
                    .map_err(|_| Error::Failed {
                        operation: Operation::Sign,
                        algorithm: scheme.name(),
                        served_by: ServedBy::QatDevice,
                        reason: "the device's signature did not verify; it was discarded".into(),
                        kind: qat_error::ErrorKind::DeviceFailure,
                    })
            });
        if device.is_err() {
            signature.fill(0);
        }
        let ((), served_by) = self
            .settings
            .device_or_cpu(device, || self.cpu.sign(scheme, message, signature))?;
        Ok(served_by)
    }

    #[cfg(not(feature = "qatlib"))]
    fn sign_on_device(&self, _: Scheme, _: &[u8], _: &mut [u8]) -> Result<ServedBy, Error> {
        unreachable!(
            "without `qatlib`, `qat` is refused by with_backend and `auto` never routes here"
        )
    }

    #[cfg(feature = "qatlib")]
    fn decrypt_on_device(
        &self,
        oaep: Oaep,
        ciphertext: &[u8],
        label: &[u8],
    ) -> Result<(Zeroizing<Vec<u8>>, ServedBy), Error> {
        let device = self
            .device(Operation::Decrypt, oaep.name())
            .and_then(|device| device.decrypt(oaep, ciphertext, label));
        self.settings
            .device_or_cpu(device, || self.cpu.decrypt(oaep, ciphertext, label))
    }

    #[cfg(not(feature = "qatlib"))]
    fn decrypt_on_device(
        &self,
        _: Oaep,
        _: &[u8],
        _: &[u8],
    ) -> Result<(Zeroizing<Vec<u8>>, ServedBy), Error> {
        unreachable!(
            "without `qatlib`, `qat` is refused by with_backend and `auto` never routes here"
        )
    }

    /// Signs `message` (hashed with the scheme's digest); the signature is
    /// [`PrivateKey::modulus_len`] bytes.
    pub fn sign(&self, scheme: Scheme, message: &[u8]) -> Result<Vec<u8>, Error> {
        let mut signature = vec![0; self.modulus_len()];
        self.sign_into(scheme, message, &mut signature)?;
        Ok(signature)
    }

    /// Signs `message` into `signature`, exactly [`PrivateKey::modulus_len`] bytes.
    pub fn sign_into(
        &self,
        scheme: Scheme,
        message: &[u8],
        signature: &mut [u8],
    ) -> Result<(), Error> {
        if signature.len() != self.modulus_len() {
            return Err(Error::parameter(
                Operation::Sign,
                scheme.name(),
                format!(
                    "the signature buffer is {} bytes, not the key's {}",
                    signature.len(),
                    self.modulus_len()
                ),
            ));
        }
        let served_by = match self.route() {
            Route::Cpu => {
                self.cpu.sign(scheme, message, signature)?;
                ServedBy::Cpu
            }
            Route::Qat => self.sign_on_device(scheme, message, signature)?,
        };
        self.served.count(served_by, &scheme, message.len());
        Ok(())
    }

    /// Signs every message, up to [`PrivateKey::with_in_flight`] at once; results in order.
    pub fn sign_batch(&self, scheme: Scheme, messages: &[&[u8]]) -> Vec<Result<Vec<u8>, Error>> {
        executor::map(self.settings.in_flight, messages, |message| {
            self.sign(scheme, message)
        })
    }

    /// Decrypts an OAEP `ciphertext` (exactly [`PrivateKey::modulus_len`] bytes) made with
    /// `label` (usually empty). The plaintext is zeroed when dropped.
    pub fn decrypt(
        &self,
        oaep: Oaep,
        ciphertext: &[u8],
        label: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        if ciphertext.len() != self.modulus_len() {
            return Err(Error::parameter(
                Operation::Decrypt,
                oaep.name(),
                format!(
                    "the ciphertext is {} bytes, not the key's {}",
                    ciphertext.len(),
                    self.modulus_len()
                ),
            ));
        }
        let (plaintext, served_by) = match self.route() {
            Route::Cpu => (self.cpu.decrypt(oaep, ciphertext, label)?, ServedBy::Cpu),
            Route::Qat => self.decrypt_on_device(oaep, ciphertext, label)?,
        };
        self.served.count(served_by, &oaep, ciphertext.len());
        Ok(plaintext)
    }

    /// Decrypts every ciphertext (each with its label), up to
    /// [`PrivateKey::with_in_flight`] at once; results in order.
    pub fn decrypt_batch(
        &self,
        oaep: Oaep,
        ciphertexts: &[(&[u8], &[u8])],
    ) -> Vec<Result<Zeroizing<Vec<u8>>, Error>> {
        executor::map(
            self.settings.in_flight,
            ciphertexts,
            |(ciphertext, label)| self.decrypt(oaep, ciphertext, label),
        )
    }
}

/// An RSA public key with the settings that serve it. Shared by reference across threads.
pub struct PublicKey {
    cpu: cpu::PublicKey,
    settings: Settings,
    served: Counters,
    #[cfg(feature = "qatlib")]
    qat: Option<qat::PublicDevice>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("rsa::PublicKey")
            .field("bits", &self.bits())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    crate::crypto::backend_methods!();

    /// A key from an X.509 `SubjectPublicKeyInfo` (DER), what certificates hold.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, Error> {
        PublicKey::new(cpu::PublicKey::from_spki(der)?)
    }

    /// A key from a PKCS#1 `RSAPublicKey` (DER).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PublicKey, Error> {
        PublicKey::new(cpu::PublicKey::from_pkcs1(der)?)
    }

    fn new(cpu: cpu::PublicKey) -> Result<PublicKey, Error> {
        let bits = cpu.bits();
        if !PUBLIC_KEY_BITS.contains(&bits) {
            return Err(Error::parameter(
                Operation::Key,
                RSA,
                format!("a {bits}-bit key; public keys are 2048 to 8192 bits"),
            ));
        }
        #[cfg(feature = "qatlib")]
        let qat = qat::PublicDevice::from_spki(cpu.spki());
        Ok(PublicKey {
            cpu,
            settings: Settings::default(),
            served: Counters::default(),
            #[cfg(feature = "qatlib")]
            qat,
        })
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.cpu.bits()
    }

    /// The signature (and ciphertext) length in bytes.
    pub fn modulus_len(&self) -> usize {
        self.bits().div_ceil(8)
    }

    /// The key as an X.509 `SubjectPublicKeyInfo` (DER).
    pub fn to_spki_der(&self) -> Vec<u8> {
        self.cpu.spki().to_vec()
    }

    #[cfg(feature = "qatlib")]
    fn check_device(&self) -> Result<(), Error> {
        self.qat
            .as_ref()
            .ok_or_else(|| crate::crypto::key_not_for_device(Operation::Backend, RSA))?
            .check()
    }

    #[cfg(not(feature = "qatlib"))]
    fn check_device(&self) -> Result<(), Error> {
        Err(crate::crypto::without_qatlib(RSA))
    }

    fn route(&self) -> Route {
        #[cfg(feature = "qatlib")]
        let takes = || self.qat.as_ref().is_some_and(qat::PublicDevice::takes);
        #[cfg(not(feature = "qatlib"))]
        let takes = || false;
        self.settings.route(0, Some(0), takes)
    }

    #[cfg(feature = "qatlib")]
    fn device(
        &self,
        operation: Operation,
        name: &'static str,
    ) -> Result<&qat::PublicDevice, Error> {
        self.qat
            .as_ref()
            .ok_or_else(|| crate::crypto::key_not_for_device(operation, name))
    }

    #[cfg(feature = "qatlib")]
    fn verify_on_device(
        &self,
        scheme: Scheme,
        message: &[u8],
        signature: &[u8],
    ) -> Result<ServedBy, Error> {
        let device = self
            .device(Operation::Verify, scheme.name())
            .and_then(|device| device.verify(scheme, message, signature));
        let ((), served_by) = self
            .settings
            .device_or_cpu(device, || self.cpu.verify(scheme, message, signature))?;
        Ok(served_by)
    }

    #[cfg(not(feature = "qatlib"))]
    fn verify_on_device(&self, _: Scheme, _: &[u8], _: &[u8]) -> Result<ServedBy, Error> {
        unreachable!(
            "without `qatlib`, `qat` is refused by with_backend and `auto` never routes here"
        )
    }

    #[cfg(feature = "qatlib")]
    fn encrypt_on_device(
        &self,
        oaep: Oaep,
        plaintext: &[u8],
        label: &[u8],
    ) -> Result<(Vec<u8>, ServedBy), Error> {
        let device = self
            .device(Operation::Encrypt, oaep.name())
            .and_then(|device| device.encrypt(oaep, plaintext, label));
        self.settings
            .device_or_cpu(device, || self.cpu.encrypt(oaep, plaintext, label))
    }

    #[cfg(not(feature = "qatlib"))]
    fn encrypt_on_device(&self, _: Oaep, _: &[u8], _: &[u8]) -> Result<(Vec<u8>, ServedBy), Error> {
        unreachable!(
            "without `qatlib`, `qat` is refused by with_backend and `auto` never routes here"
        )
    }

    /// Checks that `signature` is the key's signature of `message` under `scheme`:
    /// [`Error::BadSignature`] when it is not.
    pub fn verify(&self, scheme: Scheme, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        let served_by = match self.route() {
            Route::Cpu => {
                self.cpu.verify(scheme, message, signature)?;
                ServedBy::Cpu
            }
            Route::Qat => self.verify_on_device(scheme, message, signature)?,
        };
        self.served.count(served_by, &scheme, message.len());
        Ok(())
    }

    /// Verifies every `(message, signature)`, up to [`PublicKey::with_in_flight`] at once;
    /// results in order.
    pub fn verify_batch(&self, scheme: Scheme, items: &[(&[u8], &[u8])]) -> Vec<Result<(), Error>> {
        executor::map(self.settings.in_flight, items, |(message, signature)| {
            self.verify(scheme, message, signature)
        })
    }

    /// Encrypts `plaintext` (at most [`Oaep::max_plaintext_len`] bytes) with OAEP and `label`
    /// (usually empty); the ciphertext is [`PublicKey::modulus_len`] bytes.
    pub fn encrypt(&self, oaep: Oaep, plaintext: &[u8], label: &[u8]) -> Result<Vec<u8>, Error> {
        let max = oaep.max_plaintext_len(self.modulus_len());
        if plaintext.len() > max {
            return Err(Error::parameter(
                Operation::Encrypt,
                oaep.name(),
                format!(
                    "the plaintext is {} bytes; a {}-bit key takes at most {max}",
                    plaintext.len(),
                    self.bits()
                ),
            ));
        }
        let (ciphertext, served_by) = match self.route() {
            Route::Cpu => (self.cpu.encrypt(oaep, plaintext, label)?, ServedBy::Cpu),
            Route::Qat => self.encrypt_on_device(oaep, plaintext, label)?,
        };
        self.served.count(served_by, &oaep, plaintext.len());
        Ok(ciphertext)
    }
}
