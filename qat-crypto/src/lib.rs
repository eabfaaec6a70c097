//! qat-crypto: compression offload for QAT VFs inside the guest, with the fastest CPU path
//! when no device is there. See [`compress`](mod@compress).

pub mod compress;
#[cfg(feature = "qatlib")]
mod qat;

#[cfg(feature = "qatlib")]
#[doc(hidden)]
pub use qat::qatlib::probe as __qatlib_probe;

pub use compress::{Backend, Codec, Error, Format, compress, decompress};
pub use qat_error::ErrorKind;
