//! AWS-LC's key parsers run over all of a DER input: a key followed by other bytes is not a
//! key. Shared by the elliptic-curve keys (`ec_key`) and the RSA device backend.

use aws_lc_sys as sys;

/// Frees an `EVP_PKEY` on drop.
pub(crate) struct Pkey(pub(crate) *mut sys::EVP_PKEY);

impl Drop for Pkey {
    fn drop(&mut self) {
        // SAFETY: the pointer came from an AWS-LC parse and is freed once, here.
        unsafe { sys::EVP_PKEY_free(self.0) }
    }
}

/// Parses all of `der` with `parse` (`EVP_parse_public_key` or `EVP_parse_private_key`);
/// `None` when it is not a key or bytes are left over.
pub(crate) fn parse_whole(
    der: &[u8],
    parse: unsafe extern "C" fn(*mut sys::CBS) -> *mut sys::EVP_PKEY,
) -> Option<Pkey> {
    // SAFETY: CBS is plain data that CBS_init fills.
    let mut cbs: sys::CBS = unsafe { std::mem::zeroed() };
    // SAFETY: `der` outlives `cbs`, which only reads it.
    unsafe { sys::CBS_init(&mut cbs, der.as_ptr(), der.len()) };
    // SAFETY: `cbs` is initialised; the result is null or a new key we own.
    let key = unsafe { parse(&mut cbs) };
    if key.is_null() {
        return None;
    }
    let key = Pkey(key);
    // SAFETY: `cbs` is initialised.
    (unsafe { sys::CBS_len(&cbs) } == 0).then_some(key)
}
