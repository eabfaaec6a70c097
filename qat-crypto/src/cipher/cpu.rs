//! The CPU backend for ciphers: AWS-LC through `aws-lc-sys`, since aws-lc-rs's safe API has
//! neither unpadded CBC nor XTS. CBC uses the expanded key schedules made once per key
//! (`AES_cbc_encrypt`, AES-NI inside; no allocation per request); XTS goes through `EVP`,
//! which sets up its two key schedules per request.

use aws_lc_sys as sys;
use zeroize::{Zeroize, Zeroizing};

use super::Algorithm;

pub(super) enum CpuKey {
    Cbc {
        encrypt: Box<sys::AES_KEY>,
        decrypt: Box<sys::AES_KEY>,
    },
    Xts {
        key: Zeroizing<Vec<u8>>,
    },
}

impl CpuKey {
    /// The key schedules for `algorithm` (the key already checked for length); `None` if
    /// AWS-LC refuses the key.
    pub(super) fn new(algorithm: Algorithm, key: &[u8]) -> Option<CpuKey> {
        if algorithm == Algorithm::Aes256Xts {
            return Some(CpuKey::Xts {
                key: Zeroizing::new(key.to_vec()),
            });
        }
        let bits = u32::try_from(key.len() * 8).ok()?;
        // SAFETY: AES_KEY is plain data (round keys and a count), filled by the calls below.
        let mut encrypt: Box<sys::AES_KEY> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: as above.
        let mut decrypt: Box<sys::AES_KEY> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `key` is valid for bits/8 bytes; the schedules are live boxes.
        let ok = unsafe {
            sys::AES_set_encrypt_key(key.as_ptr(), bits, &mut *encrypt) == 0
                && sys::AES_set_decrypt_key(key.as_ptr(), bits, &mut *decrypt) == 0
        };
        ok.then_some(CpuKey::Cbc { encrypt, decrypt })
    }

    /// Encrypts (or decrypts) `data` in place with `iv`; the caller checked the length (a
    /// multiple of 16 for CBC, at least 16 for XTS). False if AWS-LC failed.
    pub(super) fn apply(&self, encrypt: bool, iv: &[u8; 16], data: &mut [u8]) -> bool {
        match self {
            CpuKey::Cbc {
                encrypt: enc,
                decrypt: dec,
            } => {
                let mut iv = *iv;
                let schedule: &sys::AES_KEY = if encrypt { enc } else { dec };
                let inout = data.as_mut_ptr();
                // SAFETY: `data` is input and output (AES_cbc_encrypt allows them to be the
                // same), its length a multiple of 16; the schedule and the IV copy are live.
                unsafe {
                    sys::AES_cbc_encrypt(
                        inout,
                        inout,
                        data.len(),
                        schedule,
                        iv.as_mut_ptr(),
                        i32::from(encrypt),
                    )
                };
                true
            }
            CpuKey::Xts { key } => xts(key, encrypt, iv, data),
        }
    }
}

/// AES-256-XTS through `EVP`, in place.
fn xts(key: &[u8], encrypt: bool, iv: &[u8; 16], data: &mut [u8]) -> bool {
    let Ok(len) = i32::try_from(data.len()) else {
        return false;
    };
    // SAFETY: a new context, freed below on every path.
    let ctx = unsafe { sys::EVP_CIPHER_CTX_new() };
    if ctx.is_null() {
        return false;
    }
    let inout = data.as_mut_ptr();
    let mut written = 0;
    // SAFETY: `ctx` is live; the key holds 64 bytes (checked by the caller), the IV 16; `data`
    // is input and output of `len` bytes (XTS works block by block, in place).
    let ok = unsafe {
        sys::EVP_CipherInit_ex(
            ctx,
            sys::EVP_aes_256_xts(),
            std::ptr::null_mut(),
            key.as_ptr(),
            iv.as_ptr(),
            i32::from(encrypt),
        ) == 1
            && sys::EVP_CipherUpdate(ctx, inout, &mut written, inout, len) == 1
            && written == len
    };
    // SAFETY: frees the context made above (and clears its key schedules).
    unsafe { sys::EVP_CIPHER_CTX_free(ctx) };
    ok
}

impl Drop for CpuKey {
    fn drop(&mut self) {
        if let CpuKey::Cbc { encrypt, decrypt } = self {
            for schedule in [encrypt, decrypt] {
                schedule.rd_key.zeroize();
                schedule.rounds = 0;
            }
        }
    }
}
