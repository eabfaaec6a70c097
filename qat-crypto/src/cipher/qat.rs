//! The `qat` backend for ciphers: qatlib sessions, one per direction, made on first need.

use zeroize::Zeroizing;

use super::{Algorithm, IV_LEN};
use crate::crypto::{Error, Operation};
use crate::device::KeySessions;
use crate::qat::qatlib::{CipherAlg, Direction, SymSetup};

pub(super) struct Sessions {
    key: Zeroizing<Vec<u8>>,
    device: KeySessions<bool>,
}

impl Sessions {
    pub(super) fn new(key: &[u8]) -> Sessions {
        Sessions {
            key: Zeroizing::new(key.to_vec()),
            device: KeySessions::new(),
        }
    }

    pub(super) fn up(&self) -> bool {
        self.device.up()
    }

    pub(super) fn check(&self, algorithm: Algorithm) -> Result<(), Error> {
        self.device.check(algorithm.name())
    }

    pub(super) fn apply(
        &self,
        algorithm: Algorithm,
        operation: Operation,
        iv: &[u8; IV_LEN],
        data: &mut [u8],
    ) -> Result<(), Error> {
        let failed = |e| Error::device(operation, algorithm.name(), e);
        let encrypt = operation == Operation::Encrypt;
        let session = self
            .device
            .session(encrypt, || {
                self.device.new_session(&SymSetup::Cipher {
                    alg: match algorithm {
                        Algorithm::Aes256Xts => CipherAlg::AesXts,
                        _ => CipherAlg::AesCbc,
                    },
                    key: &self.key,
                    direction: if encrypt {
                        Direction::Encrypt
                    } else {
                        Direction::Decrypt
                    },
                })
            })
            .map_err(failed)?;
        session.cipher(iv, data).map_err(failed)
    }
}
