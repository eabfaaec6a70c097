//! The `qat` backend for AEAD: qatlib sessions, one per direction and AAD length (the device
//! fixes both per session), made on first need and kept with the key.

use qat_error::ErrorKind;
use zeroize::Zeroizing;

use super::{Algorithm, DEVICE_MAX_AAD, MAX_TAG_LEN, NONCE_LEN, TagRef};
use crate::crypto::{Error, Operation};
use crate::device::KeySessions;
use crate::qat::qatlib::{AeadAlg, Direction, SymSetup};

pub(super) struct Sessions {
    key: Zeroizing<Vec<u8>>,
    tag_len: usize,
    device: KeySessions<(bool, usize)>,
}

impl Sessions {
    pub(super) fn new(_: Algorithm, key: &[u8], tag_len: usize) -> Sessions {
        Sessions {
            key: Zeroizing::new(key.to_vec()),
            tag_len,
            device: KeySessions::new(),
        }
    }

    /// Whether the device takes this key's tag length: GCM 8, 12 or 16 bytes; ChaCha20-Poly1305
    /// 16.
    fn takes_tag(&self, algorithm: Algorithm) -> bool {
        match algorithm {
            Algorithm::ChaCha20Poly1305 => self.tag_len == 16,
            _ => matches!(self.tag_len, 8 | 12 | 16),
        }
    }

    /// Whether a device is up and takes this key (the AAD length is checked per request).
    pub(super) fn device_takes(&self, algorithm: Algorithm) -> bool {
        self.takes_tag(algorithm) && self.device.up()
    }

    /// Why `qat` cannot serve this key, if it cannot.
    pub(super) fn check(&self, algorithm: Algorithm) -> Result<(), Error> {
        let name = algorithm.name();
        if !self.takes_tag(algorithm) {
            return Err(Error::no_device(
                Operation::Backend,
                name,
                format!("the device takes no {}-byte tags", self.tag_len),
                ErrorKind::Unsupported,
            ));
        }
        self.device.check(name)
    }

    /// Seals (a tag to write) or opens (a tag to check) one request on the device.
    pub(super) fn serve(
        &self,
        algorithm: Algorithm,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
        tag: &mut TagRef<'_>,
    ) -> Result<(), Error> {
        let name = algorithm.name();
        let seal = matches!(tag, TagRef::Out(_));
        let operation = if seal {
            Operation::Seal
        } else {
            Operation::Open
        };
        if aad.len() > DEVICE_MAX_AAD {
            return Err(Error::no_device(
                operation,
                name,
                format!(
                    "the device takes AAD up to {DEVICE_MAX_AAD} bytes, not {}",
                    aad.len()
                ),
                ErrorKind::Unsupported,
            ));
        }
        let direction = if seal {
            Direction::Encrypt
        } else {
            Direction::Decrypt
        };
        let alg = match algorithm {
            Algorithm::ChaCha20Poly1305 => AeadAlg::ChaCha20Poly1305,
            _ => AeadAlg::AesGcm,
        };
        let session = self
            .device
            .session((seal, aad.len()), || {
                self.device.new_session(&SymSetup::Aead {
                    alg,
                    key: &self.key,
                    tag_len: self.tag_len,
                    aad_len: aad.len(),
                    direction,
                })
            })
            .map_err(|e| Error::device(operation, name, e))?;
        // The layer takes the tag mutably either way (it reads it when opening).
        let mut tag_buf = [0u8; MAX_TAG_LEN];
        let tag_buf = &mut tag_buf[..tag.len()];
        if let TagRef::In(tag) = *tag {
            tag_buf.copy_from_slice(tag);
        }
        session
            .aead(nonce, aad, data, tag_buf)
            .map_err(|e| Error::device(operation, name, e))?;
        if let TagRef::Out(tag) = tag {
            tag.copy_from_slice(tag_buf);
        }
        Ok(())
    }
}
