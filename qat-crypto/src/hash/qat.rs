//! The `qat` backend for hashes: one qatlib session per hasher, made on first need.

use super::{Algorithm, Digest};
use crate::crypto::{Error, Operation};
use crate::device::KeySessions;
use crate::qat::qatlib::{HashAlg, SymSetup};

pub(super) struct Sessions {
    device: KeySessions<()>,
}

pub(crate) fn hash_alg(algorithm: Algorithm) -> HashAlg {
    match algorithm {
        Algorithm::Sha256 => HashAlg::Sha256,
        Algorithm::Sha384 => HashAlg::Sha384,
        Algorithm::Sha512 => HashAlg::Sha512,
        Algorithm::Sha3_256 => HashAlg::Sha3_256,
    }
}

impl Sessions {
    pub(super) fn new() -> Sessions {
        Sessions {
            device: KeySessions::new(),
        }
    }

    pub(super) fn up(&self) -> bool {
        self.device.up()
    }

    pub(super) fn check(&self, algorithm: Algorithm) -> Result<(), Error> {
        self.device.check(algorithm.name())
    }

    pub(super) fn hash(&self, algorithm: Algorithm, data: &[u8]) -> Result<Digest, Error> {
        let failed = |e| Error::device(Operation::Hash, algorithm.name(), e);
        let session = self
            .device
            .session((), || {
                self.device.new_session(&SymSetup::Hash {
                    alg: hash_alg(algorithm),
                })
            })
            .map_err(failed)?;
        let mut digest = Digest::zeroed(algorithm.output_len());
        session.digest(data, digest.as_mut()).map_err(failed)?;
        Ok(digest)
    }
}
