//! The device libraries, made safe: sessions, buffers, pinned memory and polling, and nothing
//! about when to use them (which backend serves a request is decided above this module).

#[cfg(feature = "qatlib")]
pub(crate) mod qatlib;
#[cfg(feature = "qatzip")]
pub(crate) mod qatzip;
