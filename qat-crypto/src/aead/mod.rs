//! Authenticated encryption: AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305, served by a QAT
//! device through qatlib (backend `qat`, feature `qatlib`) or by AWS-LC on the CPU (backend
//! `cpu`). Under `auto` (the default) a request goes to the device when one is up, it takes the
//! request (12-byte nonce, AAD up to 240 bytes, a tag length it has) and the request is at
//! least the threshold; AES-GCM stays on the CPU by default when the CPU has vector AES (VAES),
//! which outruns one synchronous offload stream — set [`Key::with_auto_min_request`] to send
//! it to the device anyway.
//!
//! Nonces are 12 bytes (what SP 800-38D recommends for GCM and what the device takes); tags
//! are 16 bytes unless made with [`Key::with_tag_len`]. Opening checks the tag in constant
//! time before any plaintext is returned; on failure the buffer is zeroed and
//! [`Error::Authentication`] returned.
//!
//! ```
//! use qat_crypto::aead::{Algorithm, Key};
//!
//! let key = Key::new(Algorithm::Aes256Gcm, &[7; 32])?;
//! let nonce = [1; 12];
//! let sealed = key.seal(&nonce, b"header", b"QuickAssist")?;
//! assert_eq!(key.open(&nonce, b"header", &sealed)?, b"QuickAssist");
//! assert!(key.open(&nonce, b"other header", &sealed).is_err());
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

/// The nonce length every algorithm here takes.
pub const NONCE_LEN: usize = 12;
/// The longest (and default) tag.
pub const MAX_TAG_LEN: usize = 16;
/// The longest AAD a device session takes; longer AAD is served by the CPU under `auto`.
pub const DEVICE_MAX_AAD: usize = 240;

/// An AEAD algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// AES-128 in Galois/Counter Mode.
    Aes128Gcm,
    /// AES-256 in Galois/Counter Mode.
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 8439).
    ChaCha20Poly1305,
}

impl Algorithm {
    /// Every algorithm, for listings and tests.
    pub const ALL: [Algorithm; 3] = [
        Algorithm::Aes128Gcm,
        Algorithm::Aes256Gcm,
        Algorithm::ChaCha20Poly1305,
    ];

    /// The key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Algorithm::Aes128Gcm => 16,
            Algorithm::Aes256Gcm | Algorithm::ChaCha20Poly1305 => 32,
        }
    }

    /// The tag lengths the algorithm takes: GCM 8 and 12–16 (SP 800-38D's, less 4 bytes),
    /// ChaCha20-Poly1305 16.
    pub fn takes_tag_len(self, len: usize) -> bool {
        match self {
            Algorithm::Aes128Gcm | Algorithm::Aes256Gcm => len == 8 || (12..=16).contains(&len),
            Algorithm::ChaCha20Poly1305 => len == 16,
        }
    }

    /// Its name as in `openssl speed`, e.g. `AES-256-GCM`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Aes128Gcm => "AES-128-GCM",
            Algorithm::Aes256Gcm => "AES-256-GCM",
            Algorithm::ChaCha20Poly1305 => "ChaCha20-Poly1305",
        }
    }

    fn is_gcm(self) -> bool {
        matches!(self, Algorithm::Aes128Gcm | Algorithm::Aes256Gcm)
    }
}

crate::crypto::named_algorithm!(Algorithm, "AEAD");

/// One request of a batch: `data` is encrypted (or decrypted) in place; `tag` receives the
/// tag when sealing and holds it when opening (exactly the key's tag length).
#[derive(Debug)]
pub struct Request<'a> {
    /// The nonce: never use one twice with the same key.
    pub nonce: [u8; NONCE_LEN],
    /// Additional data, authenticated but not encrypted.
    pub aad: &'a [u8],
    /// Plaintext to seal, or ciphertext to open, in place.
    pub data: &'a mut [u8],
    /// The tag, written by seal, read by open.
    pub tag: &'a mut [u8],
}

/// The tag of a request as the backends see it: written by seal, read by open.
enum TagRef<'r> {
    Out(&'r mut [u8]),
    In(&'r [u8]),
}

impl TagRef<'_> {
    fn len(&self) -> usize {
        match self {
            TagRef::Out(tag) => tag.len(),
            TagRef::In(tag) => tag.len(),
        }
    }
}

/// One request as the backends see it, borrowed from the caller's: nothing is copied on the
/// way to the library (a 64-byte request takes about 60 ns; a copied nonce costs 7 of them).
struct Job<'r, 'a> {
    nonce: &'r [u8; NONCE_LEN],
    aad: &'a [u8],
    data: &'r mut [u8],
    tag: TagRef<'r>,
}

impl Job<'_, '_> {
    fn operation(&self) -> Operation {
        match self.tag {
            TagRef::Out(_) => Operation::Seal,
            TagRef::In(_) => Operation::Open,
        }
    }
}

/// An AEAD key with the settings that serve it. Shared by reference across threads; its key
/// material (the CPU's key schedule, the copy kept for device sessions, the sessions' pinned
/// memory) is zeroed when it is dropped.
pub struct Key {
    algorithm: Algorithm,
    tag_len: usize,
    settings: Settings,
    cpu: cpu::CpuKey,
    served: Counters,
    #[cfg(feature = "qatlib")]
    qat: qat::Sessions,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm)
            .field("tag_len", &self.tag_len)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Key {
    crate::crypto::serving_methods!();

    /// A key for `algorithm`; `key` must be [`Algorithm::key_len`] bytes. 16-byte tags,
    /// backend [`Backend::Auto`](crate::Backend::Auto), one request in flight.
    pub fn new(algorithm: Algorithm, key: &[u8]) -> Result<Key, Error> {
        Key::with_tag_len(algorithm, key, MAX_TAG_LEN)
    }

    /// A key for `algorithm` whose tags are `tag_len` bytes ([`Algorithm::takes_tag_len`]);
    /// otherwise as [`Key::new`].
    pub fn with_tag_len(algorithm: Algorithm, key: &[u8], tag_len: usize) -> Result<Key, Error> {
        let name = algorithm.name();
        Error::check_key_len(name, key, algorithm.key_len())?;
        if !algorithm.takes_tag_len(tag_len) {
            return Err(Error::parameter(
                Operation::Key,
                name,
                format!("no {tag_len}-byte tags"),
            ));
        }
        let cpu = cpu::CpuKey::new(algorithm, key, tag_len)
            .ok_or_else(|| Error::cpu(Operation::Key, name, "EVP_AEAD_CTX_init"))?;
        let key = Key {
            algorithm,
            tag_len,
            settings: Settings::default(),
            cpu,
            served: Counters::default(),
            #[cfg(feature = "qatlib")]
            qat: qat::Sessions::new(algorithm, key, tag_len),
        };
        Ok(key)
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The tag length in bytes.
    pub fn tag_len(&self) -> usize {
        self.tag_len
    }

    /// `auto`'s own threshold for this algorithm: never for AES-GCM on a VAES CPU.
    fn default_min(&self) -> Option<usize> {
        if self.algorithm.is_gcm() && crate::crypto::cpu_has_vaes() {
            None
        } else {
            Some(crate::crypto::DEFAULT_AUTO_MIN_REQUEST)
        }
    }

    #[cfg(feature = "qatlib")]
    fn check_device(&self) -> Result<(), Error> {
        self.qat.check(self.algorithm)
    }

    #[cfg(not(feature = "qatlib"))]
    fn check_device(&self) -> Result<(), Error> {
        Err(crate::crypto::without_qatlib(self.algorithm.name()))
    }

    /// Serves one request: checks what every backend needs, routes, and counts it.
    fn serve(&self, job: Job<'_, '_>) -> Result<(), Error> {
        let operation = job.operation();
        let name = self.algorithm.name();
        if job.tag.len() != self.tag_len {
            return Err(Error::parameter(
                operation,
                name,
                format!(
                    "the tag buffer is {} bytes, not the key's {}",
                    job.tag.len(),
                    self.tag_len
                ),
            ));
        }
        // Both GCM and ChaCha20-Poly1305 count blocks in 32 bits (2^32 - 2 blocks of 16 or 64
        // bytes), and the device counts bytes in 32 bits.
        if job.data.len() > u32::MAX as usize || job.aad.len() > u32::MAX as usize {
            return Err(Error::parameter(
                operation,
                name,
                "data or AAD of 4 GiB or more",
            ));
        }
        let len = job.data.len();
        let route = self
            .settings
            .route(len, self.default_min(), || self.device_takes(job.aad.len()));
        let served_by = match route {
            Route::Qat => self.on_device(job)?,
            Route::Cpu => {
                self.on_cpu(job)?;
                ServedBy::Cpu
            }
        };
        self.served.count(served_by, &self.algorithm, len);
        Ok(())
    }

    fn on_cpu(&self, job: Job<'_, '_>) -> Result<(), Error> {
        let operation = job.operation();
        let name = self.algorithm.name();
        match job.tag {
            TagRef::Out(tag) => {
                if !self.cpu.seal(job.nonce, job.aad, job.data, tag) {
                    return Err(Error::cpu(operation, name, "EVP_AEAD_CTX_seal_scatter"));
                }
            }
            TagRef::In(tag) => {
                if !self.cpu.open(job.nonce, job.aad, job.data, tag) {
                    job.data.zeroize();
                    return Err(Error::Authentication {
                        operation,
                        algorithm: name,
                    });
                }
            }
        }
        Ok(())
    }

    #[cfg(feature = "qatlib")]
    fn device_takes(&self, aad_len: usize) -> bool {
        aad_len <= DEVICE_MAX_AAD && self.qat.device_takes(self.algorithm)
    }

    #[cfg(not(feature = "qatlib"))]
    fn device_takes(&self, _: usize) -> bool {
        false
    }

    /// Serves a request on the device; under `auto`, a device failure (not a failed tag
    /// check) sends that request to the CPU instead.
    #[cfg(feature = "qatlib")]
    fn on_device(&self, job: Job<'_, '_>) -> Result<ServedBy, Error> {
        let Job {
            nonce,
            aad,
            data,
            mut tag,
        } = job;
        let device = self.qat.serve(self.algorithm, nonce, aad, data, &mut tag);
        // The device layer writes nothing back unless the request succeeded, except on a
        // failed tag check: then nothing it may have written stays.
        if let Err(Error::Authentication { .. }) = device {
            data.zeroize();
        }
        let result = self.settings.device_or_cpu(device, || {
            self.on_cpu(Job {
                nonce,
                aad,
                data,
                tag,
            })
        });
        result.map(|((), served_by)| served_by)
    }

    #[cfg(not(feature = "qatlib"))]
    fn on_device(&self, _: Job<'_, '_>) -> Result<ServedBy, Error> {
        unreachable!(
            "without `qatlib`, `qat` is refused by with_backend and `auto` never routes here"
        )
    }

    /// Seals every request, up to [`Key::with_in_flight`] at once; results in request order.
    pub fn seal_batch(&self, requests: &mut [Request<'_>]) -> Vec<Result<(), Error>> {
        self.batch(Operation::Seal, requests)
    }

    /// Opens every request, up to [`Key::with_in_flight`] at once; results in request order.
    /// A request whose tag does not match has its data zeroed.
    pub fn open_batch(&self, requests: &mut [Request<'_>]) -> Vec<Result<(), Error>> {
        self.batch(Operation::Open, requests)
    }

    fn batch(&self, operation: Operation, requests: &mut [Request<'_>]) -> Vec<Result<(), Error>> {
        executor::run(self.settings.in_flight, requests, |r| {
            let tag = if operation == Operation::Seal {
                TagRef::Out(r.tag)
            } else {
                TagRef::In(r.tag)
            };
            self.serve(Job {
                nonce: &r.nonce,
                aad: r.aad,
                data: r.data,
                tag,
            })
        })
    }

    /// Encrypts `data` in place and writes the tag into `tag` (the key's tag length).
    pub fn seal_in_place_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), Error> {
        self.serve(Job {
            nonce,
            aad,
            data,
            tag: TagRef::Out(tag),
        })
    }

    /// Checks `tag` and decrypts `data` in place; on failure `data` is zeroed.
    pub fn open_in_place_detached(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        self.serve(Job {
            nonce,
            aad,
            data,
            tag: TagRef::In(tag),
        })
    }

    /// Encrypts `buf` in place and appends the tag.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let mut tag = [0u8; MAX_TAG_LEN];
        self.seal_in_place_detached(nonce, aad, buf, &mut tag[..self.tag_len])?;
        buf.extend_from_slice(&tag[..self.tag_len]);
        Ok(())
    }

    /// Opens `buf` (ciphertext followed by the tag) in place, returning the plaintext part;
    /// on failure all of `buf` is zeroed.
    pub fn open_in_place<'b>(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &'b mut [u8],
    ) -> Result<&'b mut [u8], Error> {
        let Some(split) = buf.len().checked_sub(self.tag_len) else {
            buf.zeroize();
            return Err(Error::Authentication {
                operation: Operation::Open,
                algorithm: self.algorithm.name(),
            });
        };
        let (data, tag) = buf.split_at_mut(split);
        let result = self.serve(Job {
            nonce,
            aad,
            data,
            tag: TagRef::In(tag),
        });
        match result {
            Ok(()) => Ok(&mut buf[..split]),
            Err(e) => {
                buf.zeroize();
                Err(e)
            }
        }
    }

    /// Seals `plaintext` into a new buffer: the ciphertext followed by the tag.
    pub fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let mut buf = Vec::with_capacity(plaintext.len() + self.tag_len);
        buf.extend_from_slice(plaintext);
        self.seal_in_place(nonce, aad, &mut buf)?;
        Ok(buf)
    }

    /// Opens `sealed` (ciphertext followed by the tag) into a new buffer.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let mut buf = sealed.to_vec();
        let len = self.open_in_place(nonce, aad, &mut buf)?.len();
        buf.truncate(len);
        Ok(buf)
    }
}
