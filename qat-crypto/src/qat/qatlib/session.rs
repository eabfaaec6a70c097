//! Symmetric sessions: one per key, set up on one instance with its context in pinned memory,
//! removed (and the context zeroed and freed) on drop. The requests' checks live here too: what
//! the device does not take is refused before anything is submitted.

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::{Duration, Instant};

use qat_sys::qatlib as cpa;

use super::memory::Pinned;
use super::request::{AAD_MAX, Op, Staging, callback};
use super::{AeadAlg, CipherAlg, Direction, HashAlg, QatlibError, Service, SymSetup, check};

/// How long a drop waits for a session to leave use and be removed before it gives up (and
/// leaks the context rather than free memory the device may still read).
const REMOVE_BUDGET: Duration = Duration::from_secs(5);
const REMOVE_SLEEP: Duration = Duration::from_micros(50);

/// The IV length every AEAD request takes: 12 bytes (GCM's 96-bit IV, from which the device
/// builds J0; ChaCha20-Poly1305's nonce).
const AEAD_IV_LEN: usize = 12;
/// The IV length of CBC and the tweak length of XTS.
const BLOCK: usize = 16;

/// What a session does.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Aead {
        tag_len: usize,
        aad_len: usize,
        direction: Direction,
    },
    Cipher {
        alg: CipherAlg,
    },
    Digest {
        len: usize,
    },
}

/// A symmetric session on one instance. Requests may run from several threads at once; each
/// waits for its own completion.
pub(crate) struct SymSession {
    service: Arc<Service>,
    pub(super) instance: usize,
    /// The session context (it holds the key schedule); zeroed and freed once removed.
    ctx: ManuallyDrop<Pinned>,
    kind: Kind,
}

impl std::fmt::Debug for SymSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymSession")
            .field("instance", &self.instance)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

// SAFETY: the context pointer is only handed to qatlib's thread-safe traditional sym API
// (cpaCySymPerformOp may run concurrently on one session); the Rust side never reads it.
unsafe impl Send for SymSession {}
// SAFETY: as above; every method takes `&self` and keeps its request state on its own stack.
unsafe impl Sync for SymSession {}

impl SymSession {
    /// Sets up a session on the next instance (round robin).
    pub(crate) fn new(service: &Arc<Service>, setup: &SymSetup<'_>) -> Result<Self, QatlibError> {
        // HMAC with a key longer than the block: the key is its hash (RFC 2104), computed here
        // on the device.
        if let SymSetup::Hmac { alg, key } = *setup {
            if key.len() > alg.block_len() {
                let hasher = SymSession::new(service, &SymSetup::Hash { alg })?;
                let mut short = [0u8; 64];
                let short = &mut short[..alg.digest_len()];
                let result = hasher
                    .digest(key, short)
                    .and_then(|()| SymSession::new(service, &SymSetup::Hmac { alg, key: short }));
                short.fill(0);
                std::hint::black_box(&short);
                return result;
            }
        }
        let (data, kind) = setup_data(setup)?;
        let index = service.pick_sym()?;
        let instance = service.instance(index);
        let mut size: cpa::Cpa32U = 0;
        // SAFETY: the instance is started; `data` is a filled setup whose key pointers point
        // into `setup`, alive for this call; `size` is a valid out-parameter.
        let status = unsafe { cpa::cpaCySymSessionCtxGetSize(instance.handle.0, &data, &mut size) };
        check("cpaCySymSessionCtxGetSize", status)?;
        let ctx = Pinned::new(size as usize, instance.node, true)?;
        // SAFETY: as above; `ctx` is pinned memory of the size qatlib asked for, kept until
        // the session is removed. qatlib copies the keys into the context.
        let status = unsafe {
            cpa::cpaCySymInitSession(
                instance.handle.0,
                Some(callback),
                &data,
                ctx.as_ptr().cast(),
            )
        };
        check("cpaCySymInitSession", status)?;
        Ok(Self {
            service: Arc::clone(service),
            instance: index,
            ctx: ManuallyDrop::new(ctx),
            kind,
        })
    }

    /// AEAD. Encrypt: `data` is encrypted in place and the tag written to `tag`. Decrypt:
    /// `data` is decrypted in place after the device checked `tag`; on a mismatch the result is
    /// [`QatlibError::Verify`] and `data` is zeroed.
    pub(crate) fn aead(
        &self,
        iv: &[u8],
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), QatlibError> {
        let Kind::Aead {
            tag_len,
            aad_len,
            direction,
        } = self.kind
        else {
            return Err(QatlibError::invalid("not an AEAD session"));
        };
        if iv.len() != AEAD_IV_LEN {
            return Err(QatlibError::rule(format!(
                "an AEAD IV of {} bytes (the device takes {AEAD_IV_LEN})",
                iv.len()
            )));
        }
        if aad.len() != aad_len {
            return Err(QatlibError::invalid(format!(
                "{} bytes of AAD in a session set up for {aad_len}",
                aad.len()
            )));
        }
        if tag.len() != tag_len {
            return Err(QatlibError::invalid(format!(
                "a tag buffer of {} bytes in a session with {tag_len}-byte tags",
                tag.len()
            )));
        }
        let mut staging = Staging::new(self.instance(), data.len())?;
        staging.data().copy_from_slice(data);
        staging.set_iv(iv);
        staging.set_aad(aad);
        if direction == Direction::Decrypt {
            staging.digest(tag_len).copy_from_slice(tag);
        }
        let verified = staging.perform(&mut Op {
            ctx: self.ctx(),
            iv_len: AEAD_IV_LEN as u32,
            cipher: true,
            hash: true,
            aad: true,
        })?;
        match direction {
            Direction::Encrypt => {
                data.copy_from_slice(staging.data());
                tag.copy_from_slice(staging.digest(tag_len));
            }
            Direction::Decrypt if !verified => {
                data.fill(0);
                return Err(QatlibError::Verify);
            }
            Direction::Decrypt => data.copy_from_slice(staging.data()),
        }
        Ok(())
    }

    /// A cipher without authentication, in place: CBC (length a non-zero multiple of 16) or
    /// XTS (length at least 16); `iv` is the 16-byte IV or tweak.
    pub(crate) fn cipher(&self, iv: &[u8], data: &mut [u8]) -> Result<(), QatlibError> {
        let Kind::Cipher { alg } = self.kind else {
            return Err(QatlibError::invalid("not a cipher session"));
        };
        if iv.len() != BLOCK {
            return Err(QatlibError::invalid(format!(
                "an IV of {} bytes for a 16-byte block cipher",
                iv.len()
            )));
        }
        match alg {
            CipherAlg::AesCbc if data.is_empty() || data.len() % BLOCK != 0 => {
                return Err(QatlibError::rule(format!(
                    "AES-CBC over {} bytes (a non-zero multiple of 16, no padding)",
                    data.len()
                )));
            }
            CipherAlg::AesXts if data.len() < BLOCK => {
                return Err(QatlibError::rule(format!(
                    "AES-XTS over {} bytes (at least 16)",
                    data.len()
                )));
            }
            _ => {}
        }
        let mut staging = Staging::new(self.instance(), data.len())?;
        staging.data().copy_from_slice(data);
        staging.set_iv(iv);
        staging.perform(&mut Op {
            ctx: self.ctx(),
            iv_len: BLOCK as u32,
            cipher: true,
            hash: false,
            aad: false,
        })?;
        data.copy_from_slice(staging.data());
        Ok(())
    }

    /// The hash or HMAC of `data` into `out`, which is exactly the digest's length.
    pub(crate) fn digest(&self, data: &[u8], out: &mut [u8]) -> Result<(), QatlibError> {
        let Kind::Digest { len } = self.kind else {
            return Err(QatlibError::invalid("not a hash or HMAC session"));
        };
        if out.len() != len {
            return Err(QatlibError::invalid(format!(
                "an output of {} bytes for a {len}-byte digest",
                out.len()
            )));
        }
        let mut staging = Staging::new(self.instance(), data.len())?;
        staging.data().copy_from_slice(data);
        staging.perform(&mut Op {
            ctx: self.ctx(),
            iv_len: 0,
            cipher: false,
            hash: true,
            aad: false,
        })?;
        out.copy_from_slice(staging.digest(len));
        Ok(())
    }

    fn instance(&self) -> &super::instance::Instance {
        self.service.instance(self.instance)
    }

    fn ctx(&self) -> cpa::CpaCySymSessionCtx {
        self.ctx.as_ptr().cast()
    }

    /// Waits until no request uses the session, then removes it (retrying while qatlib says
    /// RETRY), within [`REMOVE_BUDGET`]. False if it could not be removed.
    fn remove(&self) -> bool {
        let handle = self.instance().handle.0;
        let ctx = self.ctx();
        let start = Instant::now();
        loop {
            let mut in_use: cpa::CpaBoolean = cpa::CPA_FALSE;
            // SAFETY: `ctx` is an initialised session; `in_use` is a valid out-parameter.
            let status = unsafe { cpa::cpaCySymSessionInUse(ctx, &mut in_use) };
            if status != cpa::CPA_STATUS_SUCCESS || in_use == cpa::CPA_FALSE {
                // SAFETY: the session was initialised on this instance and is not removed yet.
                match unsafe { cpa::cpaCySymRemoveSession(handle, ctx) } {
                    cpa::CPA_STATUS_SUCCESS => return true,
                    cpa::CPA_STATUS_RETRY | cpa::CPA_STATUS_RESTARTING => {}
                    status => {
                        tracing::warn!(status, "cpaCySymRemoveSession failed");
                        return false;
                    }
                }
            }
            if start.elapsed() >= REMOVE_BUDGET {
                tracing::warn!("a qatlib session stayed in use for {REMOVE_BUDGET:?}");
                return false;
            }
            std::thread::sleep(REMOVE_SLEEP);
        }
    }
}

impl Drop for SymSession {
    fn drop(&mut self) {
        if self.remove() {
            // SAFETY: the session is removed, so qatlib no longer uses the context; it is
            // dropped once, here (zeroed, then freed).
            unsafe { ManuallyDrop::drop(&mut self.ctx) };
        } else {
            // The device may still read it: leaking is the only safe choice.
            tracing::warn!("a qatlib session context is leaked");
        }
    }
}

/// The CPA setup for `setup`, after the device's rules; the key pointers point into `setup`.
fn setup_data(setup: &SymSetup<'_>) -> Result<(cpa::CpaCySymSessionSetupData, Kind), QatlibError> {
    // SAFETY: all-zero is a valid value of this plain C struct (integers and null pointers); the
    // fields that matter are filled below.
    let mut data: cpa::CpaCySymSessionSetupData = unsafe { std::mem::zeroed() };
    data.sessionPriority = cpa::CPA_CY_PRIORITY_NORMAL;
    data.digestIsAppended = cpa::CPA_FALSE;
    data.verifyDigest = cpa::CPA_FALSE;
    data.partialsNotRequired = cpa::CPA_TRUE;
    let kind = match *setup {
        SymSetup::Aead {
            alg,
            key,
            tag_len,
            aad_len,
            direction,
        } => {
            let (cipher, hash) = match alg {
                AeadAlg::AesGcm => {
                    if key.len() != 16 && key.len() != 32 {
                        return Err(QatlibError::rule(format!(
                            "an AES-GCM key of {} bytes (16 or 32)",
                            key.len()
                        )));
                    }
                    if ![8, 12, 16].contains(&tag_len) {
                        return Err(QatlibError::rule(format!(
                            "an AES-GCM tag of {tag_len} bytes (8, 12 or 16)"
                        )));
                    }
                    (cpa::CPA_CY_SYM_CIPHER_AES_GCM, cpa::CPA_CY_SYM_HASH_AES_GCM)
                }
                AeadAlg::ChaCha20Poly1305 => {
                    if key.len() != 32 {
                        return Err(QatlibError::invalid(format!(
                            "a ChaCha20-Poly1305 key of {} bytes (32)",
                            key.len()
                        )));
                    }
                    if tag_len != 16 {
                        return Err(QatlibError::rule(format!(
                            "a Poly1305 tag of {tag_len} bytes (16)"
                        )));
                    }
                    (cpa::CPA_CY_SYM_CIPHER_CHACHA, cpa::CPA_CY_SYM_HASH_POLY)
                }
            };
            if aad_len > AAD_MAX {
                return Err(QatlibError::rule(format!(
                    "{aad_len} bytes of AAD (at most {AAD_MAX})"
                )));
            }
            data.symOperation = cpa::CPA_CY_SYM_OP_ALGORITHM_CHAINING;
            set_cipher(&mut data, cipher, key, direction);
            data.hashSetupData.hashAlgorithm = hash;
            data.hashSetupData.hashMode = cpa::CPA_CY_SYM_HASH_MODE_AUTH;
            data.hashSetupData.digestResultLenInBytes = tag_len as u32;
            // The AEAD key is the cipher key; the AAD length is fixed per session.
            data.hashSetupData.authModeSetupData.aadLenInBytes = aad_len as u32;
            match direction {
                Direction::Encrypt => {
                    data.algChainOrder = cpa::CPA_CY_SYM_ALG_CHAIN_ORDER_CIPHER_THEN_HASH;
                }
                Direction::Decrypt => {
                    data.algChainOrder = cpa::CPA_CY_SYM_ALG_CHAIN_ORDER_HASH_THEN_CIPHER;
                    data.verifyDigest = cpa::CPA_TRUE;
                }
            }
            Kind::Aead {
                tag_len,
                aad_len,
                direction,
            }
        }
        SymSetup::Cipher {
            alg,
            key,
            direction,
        } => {
            let (cipher, keys) = match alg {
                CipherAlg::AesCbc => (cpa::CPA_CY_SYM_CIPHER_AES_CBC, &[16, 24, 32][..]),
                CipherAlg::AesXts => (cpa::CPA_CY_SYM_CIPHER_AES_XTS, &[32, 64][..]),
            };
            if !keys.contains(&key.len()) {
                return Err(QatlibError::rule(format!(
                    "an {alg:?} key of {} bytes (one of {keys:?})",
                    key.len()
                )));
            }
            data.symOperation = cpa::CPA_CY_SYM_OP_CIPHER;
            set_cipher(&mut data, cipher, key, direction);
            Kind::Cipher { alg }
        }
        SymSetup::Hash { alg } => {
            data.symOperation = cpa::CPA_CY_SYM_OP_HASH;
            data.hashSetupData.hashAlgorithm = hash_algorithm(alg);
            data.hashSetupData.hashMode = cpa::CPA_CY_SYM_HASH_MODE_PLAIN;
            data.hashSetupData.digestResultLenInBytes = alg.digest_len() as u32;
            Kind::Digest {
                len: alg.digest_len(),
            }
        }
        SymSetup::Hmac { alg, key } => {
            // Longer keys were hashed by the caller (`SymSession::new`).
            debug_assert!(key.len() <= alg.block_len());
            data.symOperation = cpa::CPA_CY_SYM_OP_HASH;
            data.hashSetupData.hashAlgorithm = hash_algorithm(alg);
            data.hashSetupData.hashMode = cpa::CPA_CY_SYM_HASH_MODE_AUTH;
            data.hashSetupData.digestResultLenInBytes = alg.digest_len() as u32;
            data.hashSetupData.authModeSetupData.authKey = key.as_ptr().cast_mut();
            data.hashSetupData.authModeSetupData.authKeyLenInBytes = key.len() as u32;
            Kind::Digest {
                len: alg.digest_len(),
            }
        }
    };
    Ok((data, kind))
}

fn set_cipher(
    data: &mut cpa::CpaCySymSessionSetupData,
    algorithm: cpa::CpaCySymCipherAlgorithm,
    key: &[u8],
    direction: Direction,
) {
    data.cipherSetupData.cipherAlgorithm = algorithm;
    // qatlib only reads the key (it copies it into the session context).
    data.cipherSetupData.pCipherKey = key.as_ptr().cast_mut();
    data.cipherSetupData.cipherKeyLenInBytes = key.len() as u32;
    data.cipherSetupData.cipherDirection = match direction {
        Direction::Encrypt => cpa::CPA_CY_SYM_CIPHER_DIRECTION_ENCRYPT,
        Direction::Decrypt => cpa::CPA_CY_SYM_CIPHER_DIRECTION_DECRYPT,
    };
}

fn hash_algorithm(alg: HashAlg) -> cpa::CpaCySymHashAlgorithm {
    match alg {
        HashAlg::Sha256 => cpa::CPA_CY_SYM_HASH_SHA256,
        HashAlg::Sha384 => cpa::CPA_CY_SYM_HASH_SHA384,
        HashAlg::Sha512 => cpa::CPA_CY_SYM_HASH_SHA512,
        HashAlg::Sha3_256 => cpa::CPA_CY_SYM_HASH_SHA3_256,
    }
}
