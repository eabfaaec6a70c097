//! qat-crypto: compression offload for QAT VFs, with the fastest CPU path when no device is
//! there. This first part is the CPU backend's one-shot API ([`compress`]); the QATzip backend,
//! streaming and batch submission follow (issue 5).

pub mod compress;

pub use compress::{Error, Format, compress, decompress};
