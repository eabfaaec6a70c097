//! Hashes: SHA-256, SHA-384, SHA-512 and SHA3-256, served by a QAT device through qatlib
//! (backend `qat`, feature `qatlib`) or by AWS-LC on the CPU through aws-lc-rs (backend `cpu`).
//! Under `auto` a request goes to the device when one is up and the request is at least the
//! threshold ([`DEFAULT_AUTO_MIN_REQUEST`](crate::crypto::DEFAULT_AUTO_MIN_REQUEST) by default).
//!
//! ```
//! use qat_crypto::hash::{Algorithm, Hasher};
//!
//! let digest = Hasher::new(Algorithm::Sha256).hash(b"abc")?;
//! assert_eq!(digest.as_ref()[..4], [0xba, 0x78, 0x16, 0xbf]);
//! # Ok::<(), qat_crypto::crypto::Error>(())
//! ```

use std::fmt;

use crate::backend::Counters;
use crate::crypto::{Error, Operation, Route, Settings};
use crate::{Backend, ServedBy, executor};

#[cfg(feature = "qatlib")]
pub(crate) mod qat;

/// The longest digest (SHA-512's).
pub const MAX_DIGEST_LEN: usize = 64;

/// A hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SHA-384 (FIPS 180-4).
    Sha384,
    /// SHA-512 (FIPS 180-4).
    Sha512,
    /// SHA3-256 (FIPS 202).
    Sha3_256,
}

impl Algorithm {
    /// Every algorithm, for listings and tests.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Sha256,
        Algorithm::Sha384,
        Algorithm::Sha512,
        Algorithm::Sha3_256,
    ];

    /// The digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Algorithm::Sha256 | Algorithm::Sha3_256 => 32,
            Algorithm::Sha384 => 48,
            Algorithm::Sha512 => 64,
        }
    }

    /// The block length in bytes (what HMAC pads keys to).
    pub fn block_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 | Algorithm::Sha512 => 128,
            Algorithm::Sha3_256 => 136,
        }
    }

    /// Its name, e.g. `SHA-256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha384 => "SHA-384",
            Algorithm::Sha512 => "SHA-512",
            Algorithm::Sha3_256 => "SHA3-256",
        }
    }

    pub(crate) fn aws_lc(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Algorithm::Sha256 => &aws_lc_rs::digest::SHA256,
            Algorithm::Sha384 => &aws_lc_rs::digest::SHA384,
            Algorithm::Sha512 => &aws_lc_rs::digest::SHA512,
            Algorithm::Sha3_256 => &aws_lc_rs::digest::SHA3_256,
        }
    }
}

crate::crypto::named_algorithm!(Algorithm, "hash");

/// A digest (or a MAC tag): up to [`MAX_DIGEST_LEN`] bytes, read through `AsRef<[u8]>`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    bytes: [u8; MAX_DIGEST_LEN],
    len: usize,
}

impl Digest {
    pub(crate) fn zeroed(len: usize) -> Digest {
        Digest {
            bytes: [0; MAX_DIGEST_LEN],
            len,
        }
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Digest {
        let mut d = Digest::zeroed(bytes.len());
        d.bytes[..bytes.len()].copy_from_slice(bytes);
        d
    }

    #[cfg(feature = "qatlib")]
    pub(crate) fn as_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_ref() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Hashes with one algorithm and the settings that serve it.
pub struct Hasher {
    algorithm: Algorithm,
    settings: Settings,
    served: Counters,
    #[cfg(feature = "qatlib")]
    qat: qat::Sessions,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("algorithm", &self.algorithm)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Hasher {
    crate::crypto::serving_methods!();

    /// A hasher for `algorithm`, backend [`Backend::Auto`], one request in flight.
    pub fn new(algorithm: Algorithm) -> Hasher {
        Hasher {
            algorithm,
            settings: Settings::default(),
            served: Counters::default(),
            #[cfg(feature = "qatlib")]
            qat: qat::Sessions::new(),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    #[cfg(feature = "qatlib")]
    fn check_device(&self) -> Result<(), Error> {
        self.qat.check(self.algorithm)
    }

    #[cfg(not(feature = "qatlib"))]
    fn check_device(&self) -> Result<(), Error> {
        Err(crate::crypto::without_qatlib(self.algorithm.name()))
    }

    /// Hashes `data`.
    pub fn hash(&self, data: &[u8]) -> Result<Digest, Error> {
        if data.len() > u32::MAX as usize && self.settings.backend == Backend::Qat {
            return Err(Error::parameter(
                Operation::Hash,
                self.algorithm.name(),
                "the device takes requests under 4 GiB",
            ));
        }
        let route = self.settings.route(
            data.len(),
            Some(crate::crypto::DEFAULT_AUTO_MIN_REQUEST),
            || data.len() <= u32::MAX as usize && self.device_up(),
        );
        let (digest, served_by) = match route {
            Route::Qat => self.on_device(data)?,
            Route::Cpu => (self.on_cpu(data), ServedBy::Cpu),
        };
        self.served.count(served_by, &self.algorithm, data.len());
        Ok(digest)
    }

    /// Hashes every input, up to [`Hasher::with_in_flight`] at once; results in input order.
    pub fn hash_batch<T: AsRef<[u8]> + Sync>(&self, inputs: &[T]) -> Vec<Result<Digest, Error>> {
        executor::map(self.settings.in_flight, inputs, |data| {
            self.hash(data.as_ref())
        })
    }

    fn on_cpu(&self, data: &[u8]) -> Digest {
        Digest::from_slice(aws_lc_rs::digest::digest(self.algorithm.aws_lc(), data).as_ref())
    }

    #[cfg(feature = "qatlib")]
    fn device_up(&self) -> bool {
        self.qat.up()
    }

    #[cfg(not(feature = "qatlib"))]
    fn device_up(&self) -> bool {
        false
    }

    /// Hashes on the device; under `auto`, a device failure sends the request to the CPU.
    #[cfg(feature = "qatlib")]
    fn on_device(&self, data: &[u8]) -> Result<(Digest, ServedBy), Error> {
        let device = self.qat.hash(self.algorithm, data);
        self.settings
            .device_or_cpu(device, || Ok(self.on_cpu(data)))
    }

    #[cfg(not(feature = "qatlib"))]
    fn on_device(&self, _: &[u8]) -> Result<(Digest, ServedBy), Error> {
        Err(crate::crypto::without_qatlib(self.algorithm.name()))
    }
}

/// Hashes `data` with `algorithm` under `auto`.
pub fn hash(algorithm: Algorithm, data: &[u8]) -> Result<Digest, Error> {
    Hasher::new(algorithm).hash(data)
}
