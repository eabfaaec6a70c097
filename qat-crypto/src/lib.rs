//! qat-crypto: compression offload for QAT VFs inside the guest, with the fastest CPU path
//! when no device is there. See [`compress`](mod@compress).

pub mod compress;

pub use compress::{Backend, Codec, Error, Format, compress, decompress};
pub use qat_error::ErrorKind;
