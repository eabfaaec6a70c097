//! Safe layers over the device libraries: sessions, pinned memory and polling, with no routing
//! rules in them (which backend serves a request is decided above this module).

pub(crate) mod qatlib;
