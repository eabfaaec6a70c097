//! The CPU backend for AEAD: AWS-LC's `EVP_AEAD` through `aws-lc-sys`, the calls aws-lc-rs
//! makes, used directly for what its safe API lacks: opening in place with a detached tag, and
//! tags shorter than 16 bytes. One context per key, set up once and shared by every thread
//! (AWS-LC allows concurrent seal/open on one context); no allocation per request.

use aws_lc_sys as sys;

use super::Algorithm;

/// An `EVP_AEAD_CTX` holding the key schedule.
pub(super) struct CpuKey {
    ctx: Box<sys::EVP_AEAD_CTX>,
}

// SAFETY: AWS-LC documents an initialised EVP_AEAD_CTX as usable from several threads at once
// for seal and open (they take it const); it is freed only in Drop.
unsafe impl Send for CpuKey {}
// SAFETY: as above.
unsafe impl Sync for CpuKey {}

impl CpuKey {
    /// A context for `algorithm` with `key` (of the right length) and `tag_len` (a length the
    /// algorithm takes); `None` if AWS-LC refuses them.
    pub(super) fn new(algorithm: Algorithm, key: &[u8], tag_len: usize) -> Option<CpuKey> {
        // SAFETY: these return pointers to static algorithm descriptions.
        let aead = unsafe {
            match algorithm {
                Algorithm::Aes128Gcm => sys::EVP_aead_aes_128_gcm(),
                Algorithm::Aes256Gcm => sys::EVP_aead_aes_256_gcm(),
                Algorithm::ChaCha20Poly1305 => sys::EVP_aead_chacha20_poly1305(),
            }
        };
        // SAFETY: EVP_AEAD_CTX is plain data; EVP_AEAD_CTX_zero is what AWS-LC does to a new
        // one before init, and init fills it.
        let mut ctx: Box<sys::EVP_AEAD_CTX> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `ctx` is a zeroed context on the heap; `key` is valid for its length.
        let ok = unsafe {
            sys::EVP_AEAD_CTX_init(
                &mut *ctx,
                aead,
                key.as_ptr(),
                key.len(),
                tag_len,
                std::ptr::null_mut(),
            )
        };
        (ok == 1).then_some(CpuKey { ctx })
    }

    /// Encrypts `data` in place and writes the tag into `tag` (exactly the key's tag length).
    pub(super) fn seal(&self, nonce: &[u8], aad: &[u8], data: &mut [u8], tag: &mut [u8]) -> bool {
        let mut tag_written = 0usize;
        let inout = data.as_mut_ptr();
        // SAFETY: the context is initialised; `data` is both input and output (AWS-LC allows
        // them to alias exactly); `tag` is writable for tag.len() bytes; no extra input.
        let ok = unsafe {
            sys::EVP_AEAD_CTX_seal_scatter(
                &*self.ctx,
                inout,
                tag.as_mut_ptr(),
                &mut tag_written,
                tag.len(),
                nonce.as_ptr(),
                nonce.len(),
                inout,
                data.len(),
                std::ptr::null(),
                0,
                aad.as_ptr(),
                aad.len(),
            )
        };
        ok == 1 && tag_written == tag.len()
    }

    /// Checks `tag` and decrypts `data` in place; false when the tag does not match (the
    /// tag comparison is AWS-LC's, in constant time). `data` may then hold unauthenticated
    /// plaintext: the caller zeroes it.
    pub(super) fn open(&self, nonce: &[u8], aad: &[u8], data: &mut [u8], tag: &[u8]) -> bool {
        let inout = data.as_mut_ptr();
        // SAFETY: the context is initialised; `data` is both input and output (allowed to
        // alias exactly); `tag` is readable for its length.
        let ok = unsafe {
            sys::EVP_AEAD_CTX_open_gather(
                &*self.ctx,
                inout,
                nonce.as_ptr(),
                nonce.len(),
                inout,
                data.len(),
                tag.as_ptr(),
                tag.len(),
                aad.as_ptr(),
                aad.len(),
            )
        };
        ok == 1
    }
}

impl Drop for CpuKey {
    fn drop(&mut self) {
        // SAFETY: the context was initialised in `new` and is cleaned up once, here.
        unsafe { sys::EVP_AEAD_CTX_cleanup(&mut *self.ctx) };
        // The key schedule lives inside the context (or was freed by cleanup): clear it.
        let bytes = std::ptr::addr_of_mut!(*self.ctx).cast::<u8>();
        // SAFETY: the context is plain data of this size, owned by the box.
        let view = unsafe {
            std::slice::from_raw_parts_mut(bytes, std::mem::size_of::<sys::EVP_AEAD_CTX>())
        };
        zeroize::Zeroize::zeroize(view);
    }
}
