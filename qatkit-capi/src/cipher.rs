//! Ciphers for storage: the cipher key handle, encryption and decryption in place, and the
//! served counters.

use qat_crypto::cipher::{Algorithm, Key};

use crate::compress::{backend_of, qatkit_backend, qatkit_served};
use crate::ffi::{
    Failure, Span, arg, array, boundary, bytes, bytes_mut, disjoint, free_handle, out, put,
    put_handle, qatkit_result,
};

/// A cipher. They do not authenticate: for messages use an AEAD.
pub type qatkit_cipher_alg = u32;
/// AES-128 in CBC mode: 16-byte key; whole 16-byte blocks, no padding.
pub const QATKIT_CIPHER_AES_128_CBC: qatkit_cipher_alg = 1;
/// AES-256 in CBC mode: 32-byte key; whole 16-byte blocks, no padding.
pub const QATKIT_CIPHER_AES_256_CBC: qatkit_cipher_alg = 2;
/// AES-256 in XTS mode (IEEE 1619): 64-byte key of two different AES-256 keys; the IV is the
/// tweak (the sector number); at least one 16-byte block.
pub const QATKIT_CIPHER_AES_256_XTS: qatkit_cipher_alg = 3;

/// The IV (or XTS tweak) length.
pub const QATKIT_CIPHER_IV_LEN: usize = 16;
/// The block length.
pub const QATKIT_CIPHER_BLOCK_LEN: usize = 16;

/// A cipher key with the backend that serves it. Thread-safe: any number of threads may use one
/// key at once. Freeing it zeroes the key material.
pub struct qatkit_cipher_key {
    key: Key,
}

fn algorithm_of(alg: qatkit_cipher_alg) -> Result<Algorithm, Failure> {
    Ok(match alg {
        QATKIT_CIPHER_AES_128_CBC => Algorithm::Aes128Cbc,
        QATKIT_CIPHER_AES_256_CBC => Algorithm::Aes256Cbc,
        QATKIT_CIPHER_AES_256_XTS => Algorithm::Aes256Xts,
        other => return Err(Failure::invalid(format!("unknown cipher {other}"))),
    })
}

/// Makes a key for `alg` from `key_len` bytes of `key` (16, 32 or 64), served by `backend`.
/// Another length, or an XTS key whose halves are equal, is `QATKIT_INVALID_INPUT`;
/// `QATKIT_BACKEND_QAT` without a device is an error here. qatkit keeps its own copy of the
/// key. Free it with `qatkit_cipher_key_free`.
///
/// # Safety
/// `key` holds `key_len` readable bytes; `key_out` is NULL or points to writable memory for a
/// pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_cipher_key_new(
    alg: qatkit_cipher_alg,
    key: *const u8,
    key_len: usize,
    backend: qatkit_backend,
    key_out: *mut *mut qatkit_cipher_key,
) -> qatkit_result {
    boundary(|| {
        let key_out = out(key_out, "key_out")?;
        // SAFETY: the caller's contract above.
        let bytes = unsafe { bytes(key, key_len, "key") }?;
        let made = Key::new(algorithm_of(alg)?, bytes)?.with_backend(backend_of(backend)?)?;
        // SAFETY: checked by `out`.
        unsafe { put_handle(key_out, qatkit_cipher_key { key: made }) };
        Ok(())
    })
}

/// Frees a key and zeroes its key material (NULL is fine).
///
/// # Safety
/// `key` is NULL or a handle from `qatkit_cipher_key_new` not freed before; it is not used
/// again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_cipher_key_free(key: *mut qatkit_cipher_key) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(key) }
}

/// The body of encrypt and decrypt.
///
/// # Safety
/// As for `qatkit_cipher_encrypt`.
unsafe fn crypt(
    key: *const qatkit_cipher_key,
    iv: *const u8,
    iv_len: usize,
    data: *mut u8,
    data_len: usize,
    encrypting: bool,
) -> qatkit_result {
    boundary(|| {
        disjoint(&[
            Span::new(iv, iv_len, false, "iv"),
            Span::new(data, data_len, true, "data"),
        ])?;
        // SAFETY: the caller's contract, each buffer checked for NULL and overlap.
        let (key, iv, data) = unsafe {
            (
                &arg(key, "key")?.key,
                array(iv, iv_len, "iv")?,
                bytes_mut(data, data_len, "data")?,
            )
        };
        if encrypting {
            key.encrypt_in_place(&iv, data)?;
        } else {
            key.decrypt_in_place(&iv, data)?;
        }
        Ok(())
    })
}

/// Encrypts `data_len` bytes at `data` in place with the `QATKIT_CIPHER_IV_LEN`-byte `iv`. CBC
/// takes whole blocks (pad before), XTS at least one block: other lengths are
/// `QATKIT_INVALID_INPUT` and leave `data` as it was.
///
/// # Safety
/// `key` is NULL or a live handle; `iv` holds `iv_len` readable bytes, `data` `data_len`
/// readable and writable ones (NULL when `data_len` is 0), not overlapping `iv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_cipher_encrypt(
    key: *const qatkit_cipher_key,
    iv: *const u8,
    iv_len: usize,
    data: *mut u8,
    data_len: usize,
) -> qatkit_result {
    // SAFETY: the caller's contract above.
    unsafe { crypt(key, iv, iv_len, data, data_len, true) }
}

/// Decrypts `data_len` bytes at `data` in place; as `qatkit_cipher_encrypt` otherwise. Nothing
/// is authenticated: a wrong key or tampered data decrypts to garbage without an error.
///
/// # Safety
/// As for `qatkit_cipher_encrypt`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_cipher_decrypt(
    key: *const qatkit_cipher_key,
    iv: *const u8,
    iv_len: usize,
    data: *mut u8,
    data_len: usize,
) -> qatkit_result {
    // SAFETY: the caller's contract above.
    unsafe { crypt(key, iv, iv_len, data, data_len, false) }
}

/// How many requests the CPU and a QAT device served with this key since it was made.
///
/// # Safety
/// `key` is NULL or a live handle; `served_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_cipher_key_served(
    key: *const qatkit_cipher_key,
    served_out: *mut qatkit_served,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { arg(key, "key") }?;
        let served_out = out(served_out, "served_out")?;
        // SAFETY: checked by `out`.
        unsafe { put(served_out, key.key.served().into()) };
        Ok(())
    })
}
