//! What the host does around the device's raw RSA operation (as Intel's QAT_Engine does): the
//! message's digest, the EMSA-PKCS1-v1_5 and EMSA-PSS encodings of a signature, and the OAEP
//! encoding and constant-time decoding of a ciphertext (RFC 8017). AWS-LC provides the digests,
//! the DigestInfo prefixes, PSS, MGF1 and OAEP's encoding; OAEP's decoding is not public in
//! AWS-LC, so it is written here, without a branch or index on secret data.

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::Digest;

impl Digest {
    pub(super) fn md(self) -> *const sys::EVP_MD {
        // SAFETY: these return pointers to static descriptions.
        unsafe {
            match self {
                Digest::Sha256 => sys::EVP_sha256(),
                Digest::Sha384 => sys::EVP_sha384(),
                Digest::Sha512 => sys::EVP_sha512(),
            }
        }
    }

    fn nid(self) -> i32 {
        match self {
            Digest::Sha256 => sys::NID_sha256,
            Digest::Sha384 => sys::NID_sha384,
            Digest::Sha512 => sys::NID_sha512,
        }
    }

    /// The digest of `message`.
    pub(super) fn hash(self, message: &[u8]) -> aws_lc_rs::digest::Digest {
        let algorithm = match self {
            Digest::Sha256 => &aws_lc_rs::digest::SHA256,
            Digest::Sha384 => &aws_lc_rs::digest::SHA384,
            Digest::Sha512 => &aws_lc_rs::digest::SHA512,
        };
        aws_lc_rs::digest::digest(algorithm, message)
    }
}

/// An AWS-LC `RSA` key, freed on drop: what PSS's encoding reads the modulus size from.
pub(super) struct Rsa(*mut sys::RSA);

// SAFETY: the key is only read (const calls) after parsing, which AWS-LC allows from any
// thread at once.
unsafe impl Send for Rsa {}
// SAFETY: as above.
unsafe impl Sync for Rsa {}

impl Drop for Rsa {
    fn drop(&mut self) {
        // SAFETY: the key came from a parse and is freed once, here (AWS-LC clears its
        // private numbers).
        unsafe { sys::RSA_free(self.0) }
    }
}

impl Rsa {
    /// Takes ownership of a parsed key; `None` for null.
    pub(super) fn new(rsa: *mut sys::RSA) -> Option<Rsa> {
        (!rsa.is_null()).then_some(Rsa(rsa))
    }

    pub(super) fn as_ptr(&self) -> *const sys::RSA {
        self.0
    }

    /// The raw public operation on the CPU, `input^e mod n` (`input` the modulus length):
    /// what checks a result the device computed with the private key.
    pub(super) fn public_op(&self, input: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0u8; input.len()];
        let mut len = 0usize;
        // SAFETY: the key is live (AWS-LC's public operation may be run from several threads
        // on one key); both buffers are valid for the lengths given.
        let ok = unsafe {
            sys::RSA_encrypt(
                self.0,
                &mut len,
                out.as_mut_ptr(),
                out.len(),
                input.as_ptr(),
                input.len(),
                sys::RSA_NO_PADDING,
            )
        } == 1;
        (ok && len == out.len()).then_some(out)
    }
}

/// EMSA-PKCS1-v1_5 (RFC 8017, 9.2): `00 01 FF.. 00 || DigestInfo || H`, `em.len()` bytes.
pub(super) fn encode_pkcs1(digest: Digest, hash: &[u8], em: &mut [u8]) -> bool {
    let mut prefixed: *mut u8 = std::ptr::null_mut();
    let mut len = 0usize;
    let mut allocated = 0;
    // SAFETY: `hash` is valid for its length; the out-parameters are valid; the result is
    // freed below when AWS-LC allocated it.
    let ok = unsafe {
        sys::RSA_add_pkcs1_prefix(
            &mut prefixed,
            &mut len,
            &mut allocated,
            digest.nid(),
            hash.as_ptr(),
            hash.len(),
        )
    } == 1;
    if !ok {
        return false;
    }
    // SAFETY: AWS-LC returned `len` readable bytes at `prefixed`.
    let t = unsafe { std::slice::from_raw_parts(prefixed, len) };
    let fits = em.len() >= t.len() + 11;
    if fits {
        let (head, tail) = em.split_at_mut(em.len() - t.len());
        head.fill(0xff);
        head[0] = 0;
        head[1] = 1;
        *head.last_mut().expect("at least 11 bytes") = 0;
        tail.copy_from_slice(t);
    }
    if allocated != 0 {
        // SAFETY: allocated by AWS-LC for this call.
        unsafe { sys::OPENSSL_free(prefixed.cast()) };
    }
    fits
}

/// EMSA-PSS (RFC 8017, 9.1.1) with MGF1 of the same digest and a salt of the digest's length,
/// into `em` (the modulus length).
pub(super) fn encode_pss(rsa: &Rsa, digest: Digest, hash: &[u8], em: &mut [u8]) -> bool {
    // SAFETY: `em` holds RSA_size bytes (the caller's modulus length); `hash` is the digest's
    // length; -1 asks for a salt as long as the digest.
    unsafe {
        sys::RSA_padding_add_PKCS1_PSS_mgf1(
            rsa.as_ptr(),
            em.as_mut_ptr(),
            hash.as_ptr(),
            digest.md(),
            digest.md(),
            -1,
        ) == 1
    }
}

/// Whether `em` (the modulus length) is an EMSA-PSS encoding of `hash` as [`encode_pss`]
/// makes them.
pub(super) fn verify_pss(rsa: &Rsa, digest: Digest, hash: &[u8], em: &[u8]) -> bool {
    // SAFETY: as in `encode_pss`; `em` is read only.
    unsafe {
        sys::RSA_verify_PKCS1_PSS_mgf1(
            rsa.as_ptr(),
            hash.as_ptr(),
            digest.md(),
            digest.md(),
            em.as_ptr(),
            -1,
        ) == 1
    }
}

/// EME-OAEP's encoding (RFC 8017, 7.1.1) of `message` with `label`, into `em` (the modulus
/// length).
pub(super) fn encode_oaep(digest: Digest, message: &[u8], label: &[u8], em: &mut [u8]) -> bool {
    // SAFETY: every buffer is valid for the length given with it.
    unsafe {
        sys::RSA_padding_add_PKCS1_OAEP_mgf1(
            em.as_mut_ptr(),
            em.len(),
            message.as_ptr(),
            message.len(),
            label.as_ptr(),
            label.len(),
            digest.md(),
            digest.md(),
        ) == 1
    }
}

/// `0xff` when `a == b`, else `0`, without a branch.
fn eq_mask(a: u8, b: u8) -> u8 {
    let x = u32::from(a ^ b);
    // x - 1 borrows (top bit set) only when x is 0.
    (((x.wrapping_sub(1)) >> 8) & 0xff) as u8
}

/// MGF1 of `seed` into `out`.
fn mgf1(digest: Digest, seed: &[u8], out: &mut [u8]) -> bool {
    // SAFETY: both buffers are valid for their lengths.
    unsafe {
        sys::PKCS1_MGF1(
            out.as_mut_ptr(),
            out.len(),
            seed.as_ptr(),
            seed.len(),
            digest.md(),
        ) == 1
    }
}

/// EME-OAEP's decoding (RFC 8017, 7.1.2) of `em` (the modulus length) with `label`: the
/// message, or `None` — one answer for every way it can be wrong, reached after the same work
/// whatever the bytes were (no early exit or index on secret data; only the message's length,
/// which the caller gets anyway, shapes the copy at the end).
pub(super) fn decode_oaep(digest: Digest, em: &[u8], label: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let h = digest.output_len();
    if em.len() < 2 * h + 2 {
        return None;
    }
    let mut buf = Zeroizing::new(em.to_vec());
    let (y, rest) = buf.split_at_mut(1);
    let (seed, db) = rest.split_at_mut(h);
    let mut mask = Zeroizing::new(vec![0u8; db.len().max(h)]);
    if !mgf1(digest, db, &mut mask[..h]) {
        return None;
    }
    seed.iter_mut().zip(mask.iter()).for_each(|(s, m)| *s ^= m);
    if !mgf1(digest, seed, &mut mask[..db.len()]) {
        return None;
    }
    db.iter_mut().zip(mask.iter()).for_each(|(d, m)| *d ^= m);
    let label_hash = digest.hash(label);
    // SAFETY: both are `h` bytes long.
    let hash_ok =
        unsafe { sys::CRYPTO_memcmp(db.as_ptr().cast(), label_hash.as_ref().as_ptr().cast(), h) }
            == 0;
    let mut good = eq_mask(y[0], 0) & 0u8.wrapping_sub(u8::from(std::hint::black_box(hash_ok)));
    // Find the 01 after the zero padding: looking stays 0xff until it is found; a non-zero
    // byte before it makes the encoding bad.
    let mut looking = 0xffu8;
    let mut one_index = 0usize;
    for (i, &b) in db.iter().enumerate().skip(h) {
        let is_one = eq_mask(b, 1);
        let is_zero = eq_mask(b, 0);
        let take = looking & is_one;
        // Select i where `take` is set, without a branch: all ones or all zeros.
        let take_wide = usize::from(take & 1).wrapping_neg();
        one_index = (i & take_wide) | (one_index & !take_wide);
        good &= !(looking & !is_one & !is_zero);
        looking &= !is_one;
    }
    good &= !looking;
    // The result itself is public: branching on it is what every decryption does.
    if std::hint::black_box(good) != 0xff {
        return None;
    }
    Some(Zeroizing::new(db[one_index + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_exact() {
        for a in 0..=255u8 {
            for b in [0u8, 1, 0x80, 0xff] {
                assert_eq!(eq_mask(a, b), if a == b { 0xff } else { 0 }, "{a} {b}");
            }
        }
    }

    #[test]
    fn oaep_decodes_what_it_encodes_and_nothing_else() {
        for digest in [Digest::Sha256, Digest::Sha384, Digest::Sha512] {
            for len in [0, 1, 62, 256 - 2 * digest.output_len() - 2] {
                let message: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut em = vec![0u8; 256];
                assert!(encode_oaep(digest, &message, b"label", &mut em));
                let decoded = decode_oaep(digest, &em, b"label").unwrap();
                assert_eq!(&decoded[..], &message[..]);
                assert!(decode_oaep(digest, &em, b"other").is_none());
                for at in [0, 1, 40, 255] {
                    let mut bad = em.clone();
                    bad[at] ^= 1;
                    assert!(decode_oaep(digest, &bad, b"label").is_none(), "byte {at}");
                }
            }
        }
    }

    #[test]
    fn pkcs1_encoding_is_rfc_8017s() {
        let hash = Digest::Sha256.hash(b"abc");
        let mut em = vec![0u8; 64];
        assert!(encode_pkcs1(Digest::Sha256, hash.as_ref(), &mut em));
        // 00 01 FF.. 00, SHA-256's DigestInfo (RFC 8017, 9.2, note 1), the hash.
        let info = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        let pad = 64 - 32 - info.len() - 3;
        assert_eq!(&em[..2], &[0, 1]);
        assert!(em[2..2 + pad].iter().all(|&b| b == 0xff));
        assert_eq!(em[2 + pad], 0);
        assert_eq!(&em[3 + pad..3 + pad + info.len()], &info);
        assert_eq!(&em[64 - 32..], hash.as_ref());
        assert!(!encode_pkcs1(Digest::Sha512, &[0; 64], &mut [0; 64]));
    }
}
