//! The `qat` backend for HMAC: one qatlib session per key, made on first need. The device
//! takes keys up to the hash's block length; a longer key is replaced by its hash first, which
//! is what HMAC does with it anyway (RFC 2104, section 2).

use zeroize::Zeroizing;

use super::Algorithm;
use crate::crypto::{Error, Operation};
use crate::device::KeySessions;
use crate::hash::Digest;
use crate::qat::qatlib::SymSetup;

pub(super) struct Sessions {
    key: Zeroizing<Vec<u8>>,
    device: KeySessions<()>,
}

impl Sessions {
    pub(super) fn new(algorithm: Algorithm, key: &[u8]) -> Sessions {
        let hash = algorithm.hash();
        let key = if key.len() > hash.block_len() {
            aws_lc_rs::digest::digest(hash.aws_lc(), key)
                .as_ref()
                .to_vec()
        } else {
            key.to_vec()
        };
        Sessions {
            key: Zeroizing::new(key),
            device: KeySessions::new(),
        }
    }

    pub(super) fn up(&self) -> bool {
        self.device.up()
    }

    pub(super) fn check(&self, algorithm: Algorithm) -> Result<(), Error> {
        self.device.check(algorithm.name())
    }

    pub(super) fn sign(
        &self,
        algorithm: Algorithm,
        operation: Operation,
        data: &[u8],
    ) -> Result<Digest, Error> {
        let failed = |e| Error::device(operation, algorithm.name(), e);
        let session = self
            .device
            .session((), || {
                self.device.new_session(&SymSetup::Hmac {
                    alg: crate::hash::qat::hash_alg(algorithm.hash()),
                    key: &self.key,
                })
            })
            .map_err(failed)?;
        let mut tag = Digest::zeroed(algorithm.tag_len());
        session.digest(data, tag.as_mut()).map_err(failed)?;
        Ok(tag)
    }
}
