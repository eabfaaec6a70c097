//! CRC-32 as gzip computes it, by libdeflate (folding with PCLMULQDQ or VPCLMULQDQ where the
//! CPU has them): the gzip header's CRC, the trailer of members compressed without ISA-L, and
//! the check of members inflated without it. Its own module, so that the gzip header code and
//! the libraries each depend on it rather than on one another.

/// CRC-32 (gzip's) of `data`, continuing from `crc` (0 to start).
pub(super) fn crc32(crc: u32, data: &[u8]) -> u32 {
    // SAFETY: libdeflate reads data.len() bytes at data.as_ptr(), a valid slice.
    unsafe { libdeflate_sys::libdeflate_crc32(crc, data.as_ptr().cast(), data.len()) }
}
