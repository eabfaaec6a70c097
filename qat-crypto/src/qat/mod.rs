//! The device libraries, made safe: sessions, buffers and memory they need, and nothing about
//! when to use them (that is each operation's backend choice).

#[cfg(feature = "qatzip")]
pub(crate) mod qatzip;
#[cfg(feature = "qatlib")]
pub(crate) mod qatlib;
