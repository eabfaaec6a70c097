//! Ciphers for storage: AES-128-CBC, AES-256-CBC and AES-256-XTS, served by a QAT device
//! through qatlib (backend `qat`, feature `qatlib`) or by AWS-LC on the CPU (backend `cpu`).
//! They do not authenticate: for messages use [`aead`](crate::aead). CBC works on whole
//! 16-byte blocks in place, or pads with PKCS#7 into a new buffer ([`Key::encrypt_padded`]);
//! XTS takes a 16-byte tweak (the sector number) as its IV and at least one block.
//!
//! ```
//! use qat_crypto::cipher::{Algorithm, Key};
//!
//! let key = Key::new(Algorithm::Aes256Cbc, &[7; 32])?;
//! let iv = [0; 16];
//! let sealed = key.encrypt_padded(&iv, b"a sector's worth")?;
//! assert_eq!(sealed.len(), 32);
//! assert_eq!(key.decrypt_padded(&iv, &sealed)?, b"a sector's worth");
//! # Ok::<(), qat_crypto::crypto::Error>(())
//! ```

use std::fmt;

use zeroize::Zeroize;

use crate::backend::Counters;
use crate::crypto::{Error, Operation, Route, Settings};
use crate::{ServedBy, executor};

mod cpu;
#[cfg(feature = "qatlib")]
mod qat;

/// The IV (or XTS tweak) length.
pub const IV_LEN: usize = 16;
/// The block length.
pub const BLOCK_LEN: usize = 16;

/// A cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// AES-128 in CBC mode.
    Aes128Cbc,
    /// AES-256 in CBC mode.
    Aes256Cbc,
    /// AES-256 in XTS mode (IEEE 1619): a 64-byte key of two AES-256 keys that must differ.
    Aes256Xts,
}

impl Algorithm {
    /// Every algorithm, for listings and tests.
    pub const ALL: [Algorithm; 3] = [
        Algorithm::Aes128Cbc,
        Algorithm::Aes256Cbc,
        Algorithm::Aes256Xts,
    ];

    /// The key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Algorithm::Aes128Cbc => 16,
            Algorithm::Aes256Cbc => 32,
            Algorithm::Aes256Xts => 64,
        }
    }

    /// Its name, e.g. `AES-256-CBC`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Aes128Cbc => "AES-128-CBC",
            Algorithm::Aes256Cbc => "AES-256-CBC",
            Algorithm::Aes256Xts => "AES-256-XTS",
        }
    }

    fn is_cbc(self) -> bool {
        matches!(self, Algorithm::Aes128Cbc | Algorithm::Aes256Cbc)
    }
}

crate::crypto::named_algorithm!(Algorithm, "cipher");

/// One request of a batch: `data` encrypted or decrypted in place with `iv`.
#[derive(Debug)]
pub struct Request<'a> {
    /// The IV (CBC) or tweak (XTS).
    pub iv: [u8; IV_LEN],
    /// The data, in place.
    pub data: &'a mut [u8],
}

/// A cipher key with the settings that serve it; its key material is zeroed when dropped.
pub struct Key {
    algorithm: Algorithm,
    cpu: cpu::CpuKey,
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

    /// A key for `algorithm`; `key` must be [`Algorithm::key_len`] bytes (for XTS two
    /// different halves). Backend [`Backend::Auto`](crate::Backend::Auto), one request in flight.
    pub fn new(algorithm: Algorithm, key: &[u8]) -> Result<Key, Error> {
        let name = algorithm.name();
        Error::check_key_len(name, key, algorithm.key_len())?;
        if algorithm == Algorithm::Aes256Xts && key[..32] == key[32..] {
            return Err(Error::parameter(
                Operation::Key,
                name,
                "the two halves of the key are equal (XTS needs two different keys)",
            ));
        }
        let cpu = cpu::CpuKey::new(algorithm, key)
            .ok_or_else(|| Error::cpu(Operation::Key, name, "AES_set_encrypt_key"))?;
        Ok(Key {
            algorithm,
            cpu,
            settings: Settings::default(),
            served: Counters::default(),
            #[cfg(feature = "qatlib")]
            qat: qat::Sessions::new(key),
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

    /// Encrypts `data` in place (CBC: whole blocks; XTS: at least one block).
    pub fn encrypt_in_place(&self, iv: &[u8; IV_LEN], data: &mut [u8]) -> Result<(), Error> {
        self.serve(Operation::Encrypt, iv, data)
    }

    /// Decrypts `data` in place.
    pub fn decrypt_in_place(&self, iv: &[u8; IV_LEN], data: &mut [u8]) -> Result<(), Error> {
        self.serve(Operation::Decrypt, iv, data)
    }

    /// Encrypts every request, up to [`Key::with_in_flight`] at once; results in order.
    pub fn encrypt_batch(&self, requests: &mut [Request<'_>]) -> Vec<Result<(), Error>> {
        executor::run(self.settings.in_flight, requests, |r| {
            self.serve(Operation::Encrypt, &r.iv, r.data)
        })
    }

    /// Decrypts every request, up to [`Key::with_in_flight`] at once; results in order.
    pub fn decrypt_batch(&self, requests: &mut [Request<'_>]) -> Vec<Result<(), Error>> {
        executor::run(self.settings.in_flight, requests, |r| {
            self.serve(Operation::Decrypt, &r.iv, r.data)
        })
    }

    /// CBC with PKCS#7 padding: `plaintext` padded and encrypted into a new buffer.
    pub fn encrypt_padded(&self, iv: &[u8; IV_LEN], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        self.check_cbc(Operation::Encrypt)?;
        let pad = BLOCK_LEN - plaintext.len() % BLOCK_LEN;
        let mut buf = Vec::with_capacity(plaintext.len() + pad);
        buf.extend_from_slice(plaintext);
        buf.resize(plaintext.len() + pad, pad as u8);
        self.encrypt_in_place(iv, &mut buf)?;
        Ok(buf)
    }

    /// CBC with PKCS#7 padding: `ciphertext` decrypted and unpadded into a new buffer. Bad
    /// padding is [`Error::Padding`] (checked in constant time; the buffer is zeroed).
    pub fn decrypt_padded(&self, iv: &[u8; IV_LEN], ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
        self.check_cbc(Operation::Decrypt)?;
        if ciphertext.is_empty() {
            return Err(Error::Padding {
                operation: Operation::Decrypt,
                algorithm: self.algorithm.name(),
            });
        }
        let mut buf = ciphertext.to_vec();
        self.decrypt_in_place(iv, &mut buf)?;
        match pkcs7_len(&buf) {
            Some(len) => {
                buf.truncate(len);
                Ok(buf)
            }
            None => {
                buf.zeroize();
                Err(Error::Padding {
                    operation: Operation::Decrypt,
                    algorithm: self.algorithm.name(),
                })
            }
        }
    }

    fn check_cbc(&self, operation: Operation) -> Result<(), Error> {
        if self.algorithm.is_cbc() {
            return Ok(());
        }
        Err(Error::parameter(
            operation,
            self.algorithm.name(),
            "PKCS#7 padding is for CBC; XTS keeps the length",
        ))
    }

    /// Checks the length for the algorithm, routes, and counts one request.
    fn serve(&self, operation: Operation, iv: &[u8; IV_LEN], data: &mut [u8]) -> Result<(), Error> {
        let name = self.algorithm.name();
        if self.algorithm.is_cbc() && data.len() % BLOCK_LEN != 0 {
            return Err(Error::parameter(
                operation,
                name,
                format!(
                    "{} bytes is not a whole number of 16-byte blocks",
                    data.len()
                ),
            ));
        }
        if !self.algorithm.is_cbc() && data.len() < BLOCK_LEN {
            return Err(Error::parameter(
                operation,
                name,
                format!("{} bytes is less than one 16-byte block", data.len()),
            ));
        }
        let route = self.settings.route(
            data.len(),
            Some(crate::crypto::DEFAULT_AUTO_MIN_REQUEST),
            || self.device_takes(data.len()),
        );
        let served_by = match route {
            Route::Qat => self.on_device(operation, iv, data)?,
            Route::Cpu => {
                self.on_cpu(operation, iv, data)?;
                ServedBy::Cpu
            }
        };
        self.served.count(served_by, &self.algorithm, data.len());
        Ok(())
    }

    fn on_cpu(
        &self,
        operation: Operation,
        iv: &[u8; IV_LEN],
        data: &mut [u8],
    ) -> Result<(), Error> {
        if self.cpu.apply(operation == Operation::Encrypt, iv, data) {
            Ok(())
        } else {
            Err(Error::cpu(
                operation,
                self.algorithm.name(),
                "EVP_CipherUpdate",
            ))
        }
    }

    /// Whether a device is up and takes `len` bytes: whole blocks under 4 GiB (the device's
    /// XTS takes no partial last block).
    #[cfg(feature = "qatlib")]
    fn device_takes(&self, len: usize) -> bool {
        len % BLOCK_LEN == 0 && len <= u32::MAX as usize && self.qat.up()
    }

    #[cfg(not(feature = "qatlib"))]
    fn device_takes(&self, _: usize) -> bool {
        false
    }

    /// Serves on the device; under `auto`, a device failure sends the request to the CPU.
    #[cfg(feature = "qatlib")]
    fn on_device(
        &self,
        operation: Operation,
        iv: &[u8; IV_LEN],
        data: &mut [u8],
    ) -> Result<ServedBy, Error> {
        let device = self.qat.apply(self.algorithm, operation, iv, data);
        let result = self
            .settings
            .device_or_cpu(device, || self.on_cpu(operation, iv, data));
        result.map(|((), served_by)| served_by)
    }

    #[cfg(not(feature = "qatlib"))]
    fn on_device(&self, _: Operation, _: &[u8; IV_LEN], _: &mut [u8]) -> Result<ServedBy, Error> {
        Err(crate::crypto::without_qatlib(self.algorithm.name()))
    }
}

/// The length of `buf` without its PKCS#7 padding, or `None` if the padding is not valid.
/// Every byte of the last block is looked at whatever the padding says, so the time taken does
/// not depend on where the padding goes wrong.
fn pkcs7_len(buf: &[u8]) -> Option<usize> {
    let last = buf
        .len()
        .checked_sub(BLOCK_LEN)
        .map(|start| &buf[start..])?;
    let n = last[BLOCK_LEN - 1];
    let mut bad = u8::from(n == 0) | u8::from(n as usize > BLOCK_LEN);
    for (i, &b) in last.iter().enumerate() {
        // Bytes within the padding (the last n) must equal n.
        let in_pad = u8::from(BLOCK_LEN - i <= n as usize);
        bad |= in_pad & u8::from(b != n);
    }
    (bad == 0).then(|| buf.len() - n as usize)
}

#[cfg(test)]
mod tests {
    use super::pkcs7_len;

    #[test]
    fn pkcs7_takes_only_valid_padding() {
        let mut block = [0u8; 32];
        for n in 1..=16u8 {
            block[32 - n as usize..].fill(n);
            assert_eq!(pkcs7_len(&block), Some(32 - n as usize), "{n}");
            // One byte of the padding wrong.
            block[32 - n as usize] ^= 0x80;
            assert_eq!(pkcs7_len(&block), None, "{n}");
            block[32 - n as usize] ^= 0x80;
        }
        block[31] = 0;
        assert_eq!(pkcs7_len(&block), None, "a zero pad byte");
        block[31] = 17;
        assert_eq!(pkcs7_len(&block), None, "more than a block");
        assert_eq!(pkcs7_len(&[]), None);
        assert_eq!(pkcs7_len(&[16; 16]), Some(0));
    }
}
