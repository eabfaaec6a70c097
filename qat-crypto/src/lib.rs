//! qat-crypto: compression and crypto offload for QAT VFs inside the guest, with the fastest
//! CPU path when no device is there. See [`compress`](mod@compress).
//!
//! Layers, each depending only on those below it: the CPU libraries and the device libraries
//! (`qat`: safe QATzip and qatlib sessions, pinned memory, polling; no routing rules) at the
//! bottom; the crate-level backend layer ([`Backend`], the served counters, the bounded
//! in-flight executor); and on top the operations, each choosing per request between its CPU
//! backend and its device backend.

mod backend;
mod der;
#[cfg(feature = "qatlib")]
mod device;
mod ec_key;
mod executor;
#[cfg(any(feature = "qatzip", feature = "qatlib"))]
mod qat;

pub mod aead;
pub mod cipher;
pub mod compress;
pub mod crypto;
pub mod ecdh;
pub mod ecdsa;
pub mod hash;
pub mod mac;
pub mod rsa;

pub use backend::{Backend, Served, ServedBy};
pub use compress::{Codec, Error, Format, compress, decompress};
pub use qat_error::ErrorKind;
