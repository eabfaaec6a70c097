//! A test double of the qatlib CPA subset qatkit calls, for tests only.
//!
//! The double is C (`c/double.c`) over OpenSSL's libcrypto, compiled with `cc` against the real
//! qatlib headers that `qat-sys` finds, and linked whole-archive: in every executable that links
//! this crate its definitions of `icp_sal_userStart`, `cpaCySymPerformOp`, `qaeMemAllocNUMA`, …
//! take the place of libqat's and libusdm's (which `qat-sys` still links). It is never a
//! dependency of a library, only a dev-dependency. A test crate that calls only the CPA functions
//! must still name this crate (`use qat_cpa_double as _;`, or call [`lock`]), or rustc leaves it
//! out of the link and the real libqat answers.
//!
//! It behaves like a device: N instances (default 2), each with its own request queue; a
//! request is validated at submit (the device rules in README.md: pinned memory for everything
//! the device reads or writes, GCM IV and tag lengths, the AAD length fixed per session, CBC
//! lengths, HMAC key lengths, no legacy algorithms, …), computed by `icp_sal_CyPollInstance`, and
//! its callback fires only from there. Faults are injected with [`inject`] and the counters in
//! [`stats`] tell a test whether its code leaked sessions or pinned memory.
//!
//! Feature `qatlib` (off by default) turns on `qat-sys/qatlib` and the C build. Off, the crate is
//! empty and its build script does nothing, so `cargo build --workspace` works on a machine
//! without qatlib.
//!
//! The double's state is process-wide: every test that uses it holds [`lock`] for its whole
//! body, and calls [`reset`] first.

#[cfg(feature = "qatlib")]
mod double {
    use std::sync::{Mutex, MutexGuard, PoisonError};

    /// The double's counters, read with [`stats`]. The event counts run from the last
    /// [`reset`]; `in_flight` and the `live_*` fields are current levels.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Stats {
        /// `cpaCySymPerformOp` calls accepted (queued).
        pub submitted: u64,
        /// `cpaCySymPerformOp` calls refused, whatever the status (injected faults included).
        pub rejected: u64,
        /// Requests the device processed.
        pub completed: u64,
        /// Callbacks fired; always from `icp_sal_CyPollInstance`.
        pub callbacks: u64,
        /// Requests queued and not yet completed.
        pub in_flight: u64,
        /// Sessions initialised and not removed.
        pub live_sessions: u64,
        /// `qaeMemAllocNUMA` blocks not freed.
        pub live_pinned: u64,
        /// The total size of those blocks.
        pub live_pinned_bytes: u64,
        /// Contract breaches that have no return code: `qaeMemFreeNUMA` of a pointer that is not
        /// a block, or of a block that holds a live session or memory of a queued request (the
        /// double then keeps the block).
        pub violations: u64,
        /// Queued requests discarded without a callback by `icp_sal_userStop` or [`reset`].
        pub dropped: u64,
    }

    /// A fault for the next submissions of `cpaCySymPerformOp` (see [`inject`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Fault {
        /// The submit returns `CPA_STATUS_RETRY` (the ring is full); nothing is queued.
        Retry,
        /// The submit returns `CPA_STATUS_FAIL`; nothing is queued.
        Fail,
        /// The submit returns `CPA_STATUS_RESTARTING`; nothing is queued.
        Restarting,
        /// The request is accepted; its callback gets `CPA_STATUS_FAIL` and no data is written.
        FailInCallback,
        /// The request is accepted; if it verifies a digest (an AEAD decryption, or a hash session
        /// with `verifyDigest`) it completes with `verifyResult` false (an AEAD's output is
        /// zeroed, as the header says). On an op that verifies nothing it has no effect.
        VerifyFails,
        /// The request is accepted and completes with success, but a public-key result is
        /// wrong (its last byte flipped): a faulty device, for callers that check results.
        /// On a symmetric op it has no effect.
        WrongResult,
    }

    impl Fault {
        fn code(self) -> i32 {
            match self {
                Fault::Retry => 1,
                Fault::Fail => 2,
                Fault::Restarting => 3,
                Fault::FailInCallback => 4,
                Fault::VerifyFails => 5,
                Fault::WrongResult => 6,
            }
        }
    }

    unsafe extern "C" {
        fn qatdbl_reset();
        fn qatdbl_set_instances(n: u32);
        fn qatdbl_inject(fault: i32, skip: u32, count: u32);
        fn qatdbl_stats(out: *mut Stats);
        fn qatdbl_in_poll() -> i32;
        fn qatdbl_session_ctx_size() -> u32;
    }

    /// Back to the defaults: 2 instances, no fault, `icp_sal_userStart` not called, event
    /// counters zero. Queued requests are dropped without callbacks and live sessions are
    /// forgotten; pinned blocks stay (they are the caller's memory), so compare `live_pinned`
    /// with its value before a test, not with zero. Call it with no poller running.
    pub fn reset() {
        // SAFETY: takes no arguments; the C side locks its state.
        unsafe { qatdbl_reset() }
    }

    /// Sets how many instances the next `icp_sal_userStart` (from the stopped state) finds, at
    /// most 64. With 0 it fails as qatlib does without a device: `icp_sal_userStart` returns
    /// `CPA_STATUS_FAIL`, `cpaCyGetNumInstances` answers 0 and `cpaCyGetInstances`
    /// `CPA_STATUS_RESOURCE`.
    pub fn set_instances(n: u32) {
        // SAFETY: a plain integer; the C side locks its state.
        unsafe { qatdbl_set_instances(n) }
    }

    /// Gives `fault` to `count` `cpaCySymPerformOp` submissions after `skip` more. Only
    /// submissions that pass validation count. A new call replaces the previous injection.
    pub fn inject(fault: Fault, skip: u32, count: u32) {
        // SAFETY: plain integers; the C side locks its state.
        unsafe { qatdbl_inject(fault.code(), skip, count) }
    }

    /// Cancels an injection that has not fired yet.
    pub fn clear_faults() {
        // SAFETY: plain integers (0 is "no fault"); the C side locks its state.
        unsafe { qatdbl_inject(0, 0, 0) }
    }

    /// The counters now.
    pub fn stats() -> Stats {
        let mut out = Stats::default();
        // SAFETY: `out` is a live `Stats`, which has the C `struct qatdbl_stats` layout (ten
        // `uint64_t`, pinned by a test).
        unsafe { qatdbl_stats(&mut out) };
        out
    }

    /// Whether the calling thread is inside a callback fired by `icp_sal_CyPollInstance` (a
    /// callback can assert it).
    pub fn in_poll() -> bool {
        // SAFETY: reads a thread-local flag.
        unsafe { qatdbl_in_poll() != 0 }
    }

    /// What `cpaCySymSessionCtxGetSize` answers.
    pub fn session_ctx_size() -> u32 {
        // SAFETY: returns a constant.
        unsafe { qatdbl_session_ctx_size() }
    }

    /// Serialises tests that use the double (its state is process-wide). A test that panicked
    /// while holding it does not poison it for the others.
    pub fn lock() -> MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(feature = "qatlib")]
pub use double::*;
