//! Key agreement: ECDH on P-256 and P-384, and X25519 (RFC 7748), on the CPU through AWS-LC
//! (backend `cpu`) or a QAT device through qatlib (backend `qat`, feature `qatlib`: the device
//! multiplies the peer's point, qatkit checks it and decodes). Backend `auto` (the default)
//! takes the device when an instance with public-key crypto is up, and serves a request the
//! device fails on the CPU; `served` counts both.
//!
//! The shared secret is the x-coordinate of the shared point (ECDH; SEC 1, 3.3.1) or the
//! 32-byte X25519 output, raw: derive keys from it with a KDF. A peer key that is not a point
//! of the curve, or an X25519 exchange that ends in the all-zero secret (a low-order point), is
//! refused.
//!
//! ```
//! use qat_crypto::ecdh::{Algorithm, PrivateKey};
//!
//! let ours = PrivateKey::generate(Algorithm::X25519)?;
//! let theirs = PrivateKey::generate(Algorithm::X25519)?;
//! let secret = ours.agree(theirs.public_key())?;
//! assert_eq!(secret, theirs.agree(ours.public_key())?);
//! # Ok::<(), qat_crypto::crypto::Error>(())
//! ```

use std::fmt;

use zeroize::Zeroizing;

use crate::backend::Counters;
use crate::crypto::{Error, Route, Settings};
use crate::{ServedBy, executor};

mod cpu;
#[cfg(feature = "qatlib")]
mod qat;

/// A key-agreement algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// ECDH on NIST P-256 (secp256r1).
    P256,
    /// ECDH on NIST P-384 (secp384r1).
    P384,
    /// X25519 (RFC 7748).
    X25519,
}

impl Algorithm {
    /// Every algorithm, for listings and tests.
    pub const ALL: [Algorithm; 3] = [Algorithm::P256, Algorithm::P384, Algorithm::X25519];

    /// Its name, e.g. `ECDH-P256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::P256 => "ECDH-P256",
            Algorithm::P384 => "ECDH-P384",
            Algorithm::X25519 => "X25519",
        }
    }

    /// The private key's length: a big-endian scalar (32 or 48 bytes), or X25519's 32 bytes.
    pub fn private_key_len(self) -> usize {
        match self {
            Algorithm::P256 | Algorithm::X25519 => 32,
            Algorithm::P384 => 48,
        }
    }

    /// The length of the shared secret.
    pub fn secret_len(self) -> usize {
        self.private_key_len()
    }
}

crate::crypto::named_algorithm!(Algorithm, "key-agreement algorithm");

/// A shared secret, zeroed when dropped.
pub type SharedSecret = Zeroizing<Vec<u8>>;

/// A private key for agreement, with the settings that serve it. Shared by reference across
/// threads; its scalar is zeroed when it is dropped.
pub struct PrivateKey {
    algorithm: Algorithm,
    cpu: cpu::PrivateKey,
    settings: Settings,
    served: Counters,
    #[cfg(feature = "qatlib")]
    qat: Option<qat::Device>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("ecdh::PrivateKey")
            .field("algorithm", &self.algorithm)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    crate::crypto::backend_methods!();

    /// A new random key: an ephemeral key for one handshake.
    pub fn generate(algorithm: Algorithm) -> Result<PrivateKey, Error> {
        Ok(PrivateKey::new(cpu::PrivateKey::generate(algorithm)?))
    }

    /// A key from a PKCS#8 `PrivateKeyInfo` (DER) on P-256, P-384 or X25519; the key says
    /// which algorithm.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, Error> {
        Ok(PrivateKey::new(cpu::PrivateKey::from_pkcs8(der)?))
    }

    /// A key from a SEC 1 `ECPrivateKey` (DER, RFC 5915) naming P-256 or P-384.
    pub fn from_sec1_der(der: &[u8]) -> Result<PrivateKey, Error> {
        Ok(PrivateKey::new(cpu::PrivateKey::from_sec1(der)?))
    }

    /// A key from its raw bytes, [`Algorithm::private_key_len`] long: the big-endian scalar
    /// (P-256, P-384; between 1 and the order less 1) or X25519's 32-byte string.
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Result<PrivateKey, Error> {
        Ok(PrivateKey::new(cpu::PrivateKey::from_bytes(
            algorithm, bytes,
        )?))
    }

    fn new(cpu: cpu::PrivateKey) -> PrivateKey {
        PrivateKey {
            algorithm: cpu.algorithm(),
            #[cfg(feature = "qatlib")]
            qat: cpu.scalar().map(qat::Device::new),
            cpu,
            settings: Settings::default(),
            served: Counters::default(),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public key to send the peer: the uncompressed SEC 1 point (`04 || x || y`), or
    /// X25519's 32 bytes.
    pub fn public_key(&self) -> &[u8] {
        self.cpu.public_key()
    }

    #[cfg(feature = "qatlib")]
    fn check_device(&self) -> Result<(), Error> {
        let name = self.algorithm.name();
        self.qat
            .as_ref()
            .ok_or_else(|| {
                crate::crypto::key_not_for_device(crate::crypto::Operation::Backend, name)
            })?
            .check(self.algorithm)
    }

    #[cfg(not(feature = "qatlib"))]
    fn check_device(&self) -> Result<(), Error> {
        Err(crate::crypto::without_qatlib(self.algorithm.name()))
    }

    fn route(&self) -> Route {
        #[cfg(feature = "qatlib")]
        let takes = || self.qat.as_ref().is_some_and(qat::Device::takes);
        #[cfg(not(feature = "qatlib"))]
        let takes = || false;
        self.settings.route(0, Some(0), takes)
    }

    /// Agrees on the device (under `auto`, a device failure agrees on the CPU instead).
    #[cfg(feature = "qatlib")]
    fn agree_on_device(&self, peer: &[u8]) -> Result<(SharedSecret, ServedBy), Error> {
        let name = self.algorithm.name();
        let device = self
            .qat
            .as_ref()
            .ok_or_else(|| crate::crypto::key_not_for_device(crate::crypto::Operation::Agree, name))
            .and_then(|device| device.agree(self.algorithm, peer));
        self.settings.device_or_cpu(device, || self.cpu.agree(peer))
    }

    #[cfg(not(feature = "qatlib"))]
    fn agree_on_device(&self, _: &[u8]) -> Result<(SharedSecret, ServedBy), Error> {
        unreachable!(
            "without `qatlib`, `qat` is refused by with_backend and `auto` never routes here"
        )
    }

    /// The secret shared with the peer whose public key is `peer`: for P-256 and P-384 a SEC 1
    /// point (uncompressed or compressed) or an X.509 `SubjectPublicKeyInfo` (DER); for X25519
    /// its 32 bytes.
    pub fn agree(&self, peer: &[u8]) -> Result<SharedSecret, Error> {
        let (secret, served_by) = match self.route() {
            Route::Cpu => (self.cpu.agree(peer)?, ServedBy::Cpu),
            Route::Qat => self.agree_on_device(peer)?,
        };
        self.served.count(served_by, &self.algorithm, peer.len());
        Ok(secret)
    }

    /// Agrees with every peer, up to [`PrivateKey::with_in_flight`] at once; results in order.
    pub fn agree_batch(&self, peers: &[&[u8]]) -> Vec<Result<SharedSecret, Error>> {
        executor::map(self.settings.in_flight, peers, |peer| self.agree(peer))
    }
}
