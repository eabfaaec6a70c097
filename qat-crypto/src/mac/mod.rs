//! Message authentication: HMAC-SHA-256, HMAC-SHA-384 and HMAC-SHA-512, served by a QAT
//! device through qatlib (backend `qat`, feature `qatlib`) or by AWS-LC on the CPU through
//! aws-lc-rs (backend `cpu`). Keys of any length are taken; the device takes keys up to the
//! hash's block length, so a longer key is hashed first (as HMAC itself defines) before it
//! goes to a device session. Verification compares in constant time and takes tags cut to
//! no fewer than [`MIN_TAG_LEN`] bytes.
//!
//! ```
//! use qat_crypto::mac::{Algorithm, Key};
//!
//! let key = Key::new(Algorithm::HmacSha256, b"key")?;
//! let tag = key.sign(b"The quick brown fox jumps over the lazy dog")?;
//! assert_eq!(tag.as_ref()[..4], [0xf7, 0xbc, 0x83, 0xf4]);
//! key.verify(b"The quick brown fox jumps over the lazy dog", tag.as_ref())?;
//! # Ok::<(), qat_crypto::crypto::Error>(())
//! ```

use std::fmt;

use crate::backend::Counters;
use crate::crypto::{Error, Operation, Route, Settings};
use crate::hash::{self, Digest};
use crate::{ServedBy, executor};

#[cfg(feature = "qatlib")]
mod qat;

/// The shortest tag [`Key::verify`] takes (128 bits).
pub const MIN_TAG_LEN: usize = 16;

/// A MAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256 (RFC 2104).
    HmacSha256,
    /// HMAC with SHA-384.
    HmacSha384,
    /// HMAC with SHA-512.
    HmacSha512,
}

impl Algorithm {
    /// Every algorithm, for listings and tests.
    pub const ALL: [Algorithm; 3] = [
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
    ];

    /// The hash inside.
    pub fn hash(self) -> hash::Algorithm {
        match self {
            Algorithm::HmacSha256 => hash::Algorithm::Sha256,
            Algorithm::HmacSha384 => hash::Algorithm::Sha384,
            Algorithm::HmacSha512 => hash::Algorithm::Sha512,
        }
    }

    /// The full tag length in bytes.
    pub fn tag_len(self) -> usize {
        self.hash().output_len()
    }

    /// Its name, e.g. `HMAC-SHA-256`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "HMAC-SHA-256",
            Algorithm::HmacSha384 => "HMAC-SHA-384",
            Algorithm::HmacSha512 => "HMAC-SHA-512",
        }
    }

    fn aws_lc(self) -> aws_lc_rs::hmac::Algorithm {
        match self {
            Algorithm::HmacSha256 => aws_lc_rs::hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => aws_lc_rs::hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => aws_lc_rs::hmac::HMAC_SHA512,
        }
    }
}

crate::crypto::named_algorithm!(Algorithm, "MAC");

/// A MAC key with the settings that serve it; its key material is zeroed when it is dropped
/// (aws-lc-rs's key clears itself; the copy for device sessions is held zeroizing).
pub struct Key {
    algorithm: Algorithm,
    cpu: aws_lc_rs::hmac::Key,
    settings: Settings,
    served: Counters,
    #[cfg(feature = "qatlib")]
    qat: qat::Sessions,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Key {
    crate::crypto::serving_methods!();

    /// A key for `algorithm`, backend [`Backend::Auto`](crate::Backend::Auto), one request in flight.
    pub fn new(algorithm: Algorithm, key: &[u8]) -> Result<Key, Error> {
        Ok(Key {
            algorithm,
            cpu: aws_lc_rs::hmac::Key::new(algorithm.aws_lc(), key),
            settings: Settings::default(),
            served: Counters::default(),
            #[cfg(feature = "qatlib")]
            qat: qat::Sessions::new(algorithm, key),
        })
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

    /// The tag of `data`.
    pub fn sign(&self, data: &[u8]) -> Result<Digest, Error> {
        self.tag(Operation::Sign, data)
    }

    /// Checks `tag` (the full tag, or its first [`MIN_TAG_LEN`] bytes or more) against
    /// `data`'s, in constant time.
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> Result<(), Error> {
        let name = self.algorithm.name();
        if tag.len() < MIN_TAG_LEN || tag.len() > self.algorithm.tag_len() {
            return Err(Error::parameter(
                Operation::Verify,
                name,
                format!(
                    "a tag of {} bytes (takes {MIN_TAG_LEN} to {})",
                    tag.len(),
                    self.algorithm.tag_len()
                ),
            ));
        }
        let expected = self.tag(Operation::Verify, data)?;
        aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..tag.len()], tag)
            .map_err(|_| Error::Authentication {
                operation: Operation::Verify,
                algorithm: name,
            })
    }

    /// Signs every input, up to [`Key::with_in_flight`] at once; results in input order.
    pub fn sign_batch<T: AsRef<[u8]> + Sync>(&self, inputs: &[T]) -> Vec<Result<Digest, Error>> {
        executor::map(self.settings.in_flight, inputs, |data| {
            self.sign(data.as_ref())
        })
    }

    fn tag(&self, operation: Operation, data: &[u8]) -> Result<Digest, Error> {
        let route = self.settings.route(
            data.len(),
            Some(crate::crypto::DEFAULT_AUTO_MIN_REQUEST),
            || data.len() <= u32::MAX as usize && self.device_up(),
        );
        let (tag, served_by) = match route {
            Route::Qat => self.on_device(operation, data)?,
            Route::Cpu => (self.on_cpu(data), ServedBy::Cpu),
        };
        self.served.count(served_by, &self.algorithm, data.len());
        Ok(tag)
    }

    fn on_cpu(&self, data: &[u8]) -> Digest {
        Digest::from_slice(aws_lc_rs::hmac::sign(&self.cpu, data).as_ref())
    }

    #[cfg(feature = "qatlib")]
    fn device_up(&self) -> bool {
        self.qat.up()
    }

    #[cfg(not(feature = "qatlib"))]
    fn device_up(&self) -> bool {
        false
    }

    /// Computes the tag on the device; under `auto`, a device failure sends the request to the
    /// CPU.
    #[cfg(feature = "qatlib")]
    fn on_device(&self, operation: Operation, data: &[u8]) -> Result<(Digest, ServedBy), Error> {
        let device = self.qat.sign(self.algorithm, operation, data);
        self.settings
            .device_or_cpu(device, || Ok(self.on_cpu(data)))
    }

    #[cfg(not(feature = "qatlib"))]
    fn on_device(&self, _: Operation, _: &[u8]) -> Result<(Digest, ServedBy), Error> {
        Err(crate::crypto::without_qatlib(self.algorithm.name()))
    }
}
