//! qatlib's crypto, made safe: the started library and its instances ([`Service`]), symmetric
//! sessions ([`SymSession`]), the public-key primitives (`asym`), pinned memory and the polling
//! threads. No routing rules: whether a request should go to the device is decided above; this
//! layer only refuses what the device cannot take ([`QatlibError::Rule`]) before submitting it.
//!
//! The flow is qatlib's traditional (asynchronous) API: `icp_sal_userStart`, every crypto
//! instance started with `qaeVirtToPhysNUMA` as its address translation and one polling thread,
//! each chosen by the services it offers (`sym` for sessions, `asym` for public-key requests);
//! one session per symmetric key, its context in pinned memory; each request staged in a pinned
//! buffer from a per-instance pool, submitted (`cpaCySymPerformOp`, `cpaCyRsaDecrypt`, ...;
//! retried with backoff while the ring is full) and waited for until the polling thread runs its
//! callback.
//!
//! Lifetimes: a [`SymSession`] holds an `Arc<Service>`, so sessions are removed before the
//! instances stop; the last `Arc` stops the pollers, the instances and qatlib, in that order,
//! in an ordinary `Drop` (nothing is torn down in a thread-exit destructor).

mod asym;
mod instance;
mod memory;
mod poll;
mod request;
mod session;

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::Duration;

use qat_error::ErrorKind;
use qat_sys::qatlib as cpa;

pub(crate) use asym::{PrimeCurve, RSA_MODULUS_LENS, RsaCrt};
pub(crate) use cpa::CpaStatus;
pub(crate) use instance::{Offers, Service};
pub(crate) use session::SymSession;

/// A CPA instance handle. qatlib's handles are opaque pointers valid from `cpaCyGetInstances`
/// until `icp_sal_userStop`; the CPA calls that take them are thread-safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Handle(pub(super) cpa::CpaInstanceHandle);

// SAFETY: the handle is an opaque token that qatlib's thread-safe calls take from any thread.
unsafe impl Send for Handle {}
// SAFETY: as above; nothing is read through the pointer on the Rust side.
unsafe impl Sync for Handle {}

/// An AEAD algorithm. For AES-GCM the key length chooses AES-128 or AES-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AeadAlg {
    /// AES-GCM (NIST SP 800-38D), 96-bit IV.
    AesGcm,
    /// ChaCha20-Poly1305 (RFC 8439), 96-bit nonce, 16-byte tag.
    ChaCha20Poly1305,
}

/// A block cipher mode. The key length chooses the AES variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CipherAlg {
    /// AES-CBC without padding: the length is a multiple of 16.
    AesCbc,
    /// AES-XTS (IEEE 1619): the key is both halves (32 or 64 bytes), the IV the 16-byte tweak.
    AesXts,
}

/// A hash algorithm, for plain hashes and HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// SHA3-256.
    Sha3_256,
}

impl HashAlg {
    /// The digest length in bytes.
    pub(crate) fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha256 | HashAlg::Sha3_256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The block length in bytes: HMAC keys longer than this are hashed first.
    pub(crate) fn block_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 64,
            HashAlg::Sha384 | HashAlg::Sha512 => 128,
            HashAlg::Sha3_256 => 136,
        }
    }
}

/// Which way a cipher or AEAD session goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Encrypt (AEAD: and compute the tag).
    Encrypt,
    /// Decrypt (AEAD: after the device checked the tag).
    Decrypt,
}

/// What a session does; fixed for its life (one session per key).
#[derive(Clone, Copy)]
pub(crate) enum SymSetup<'a> {
    /// AEAD: `tag_len` bytes of tag, exactly `aad_len` bytes of AAD on every request.
    Aead {
        /// The algorithm.
        alg: AeadAlg,
        /// The key (AES-GCM: 16 or 32 bytes; ChaCha20-Poly1305: 32).
        key: &'a [u8],
        /// The tag length (AES-GCM: 8, 12 or 16; ChaCha20-Poly1305: 16).
        tag_len: usize,
        /// The AAD length of every request (at most 240).
        aad_len: usize,
        /// Encrypt or decrypt.
        direction: Direction,
    },
    /// A cipher without authentication.
    Cipher {
        /// The algorithm.
        alg: CipherAlg,
        /// The key (CBC: 16, 24 or 32 bytes; XTS: 32 or 64).
        key: &'a [u8],
        /// Encrypt or decrypt.
        direction: Direction,
    },
    /// A plain hash.
    Hash {
        /// The algorithm.
        alg: HashAlg,
    },
    /// HMAC. Keys longer than the hash's block are hashed first, on the device.
    Hmac {
        /// The hash.
        alg: HashAlg,
        /// The key.
        key: &'a [u8],
    },
}

impl fmt::Debug for SymSetup<'_> {
    // Keys stay out of logs and panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SymSetup::Aead {
                alg,
                key,
                tag_len,
                aad_len,
                direction,
            } => f
                .debug_struct("Aead")
                .field("alg", alg)
                .field("key_len", &key.len())
                .field("tag_len", tag_len)
                .field("aad_len", aad_len)
                .field("direction", direction)
                .finish(),
            SymSetup::Cipher {
                alg,
                key,
                direction,
            } => f
                .debug_struct("Cipher")
                .field("alg", alg)
                .field("key_len", &key.len())
                .field("direction", direction)
                .finish(),
            SymSetup::Hash { alg } => f.debug_struct("Hash").field("alg", alg).finish(),
            SymSetup::Hmac { alg, key } => f
                .debug_struct("Hmac")
                .field("alg", alg)
                .field("key_len", &key.len())
                .finish(),
        }
    }
}

/// A failure of the qatlib layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum QatlibError {
    /// qatlib did not start: no device, or none this process may use. Remembered for the
    /// process.
    #[error("qatlib did not start ({call} returned {}): no usable QAT device", StatusName(*.status))]
    Start {
        /// The call that failed.
        call: &'static str,
        /// What it returned.
        status: CpaStatus,
    },
    /// qatlib started but has no crypto instance offering the service.
    #[error("qatlib has no crypto instance with {service}")]
    NoInstance {
        /// The service looked for ("symmetric crypto", "public-key crypto").
        service: &'static str,
    },
    /// A qatlib call failed.
    #[error("{call} returned {}", StatusName(*.status))]
    Call {
        /// The call (or `callback` for a request's completion status).
        call: &'static str,
        /// What it returned.
        status: CpaStatus,
    },
    /// The device's request ring stayed full for the whole retry budget.
    #[error("the QAT request ring stayed full for {waited:?}")]
    Busy {
        /// How long the request was retried.
        waited: Duration,
    },
    /// Decryption refused: the tag does not match (the output was zeroed).
    #[error("authentication failed: the tag does not match")]
    Verify,
    /// A request the device does not take (refused before submitting it).
    #[error("the QAT device does not take this request: {what}")]
    Rule {
        /// What it does not take.
        what: String,
    },
    /// A request that contradicts its session (a tag, AAD or output of the wrong length).
    #[error("invalid request: {what}")]
    Invalid {
        /// What is wrong.
        what: String,
    },
    /// Pinned (DMA-able) memory ran out.
    #[error("pinned memory exhausted: {bytes} bytes not available")]
    Alloc {
        /// The size asked for.
        bytes: usize,
    },
    /// A polling thread could not be started.
    #[error("cannot start a polling thread: {message}")]
    Spawn {
        /// The operating system's message.
        message: String,
    },
}

impl QatlibError {
    /// What kind of failure this is.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            QatlibError::Start { .. } | QatlibError::NoInstance { .. } => ErrorKind::NotFound,
            QatlibError::Call { status, .. } => status_kind(*status),
            QatlibError::Busy { .. } => ErrorKind::Busy,
            QatlibError::Verify => ErrorKind::CorruptData,
            QatlibError::Rule { .. } => ErrorKind::Unsupported,
            QatlibError::Invalid { .. } => ErrorKind::InvalidInput,
            QatlibError::Alloc { .. } => ErrorKind::LimitExceeded,
            QatlibError::Spawn { .. } => ErrorKind::Io,
        }
    }

    fn rule(what: impl Into<String>) -> Self {
        QatlibError::Rule { what: what.into() }
    }

    fn invalid(what: impl Into<String>) -> Self {
        QatlibError::Invalid { what: what.into() }
    }
}

/// The kind of a failed CPA status.
fn status_kind(status: CpaStatus) -> ErrorKind {
    match status {
        cpa::CPA_STATUS_INVALID_PARAM => ErrorKind::InvalidInput,
        cpa::CPA_STATUS_UNSUPPORTED => ErrorKind::Unsupported,
        cpa::CPA_STATUS_RETRY => ErrorKind::Busy,
        cpa::CPA_STATUS_RESOURCE => ErrorKind::LimitExceeded,
        // FAIL, FATAL, RESTARTING and anything unknown: the device did not do it.
        _ => ErrorKind::DeviceFailure,
    }
}

/// Checks a CPA status: success, or the call's error.
fn check(call: &'static str, status: CpaStatus) -> Result<(), QatlibError> {
    if status == cpa::CPA_STATUS_SUCCESS {
        Ok(())
    } else {
        Err(QatlibError::Call { call, status })
    }
}

/// A CPA status with its name, for messages: `-2 (CPA_STATUS_RETRY)`.
struct StatusName(CpaStatus);

impl fmt::Display for StatusName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            cpa::CPA_STATUS_SUCCESS => "CPA_STATUS_SUCCESS",
            cpa::CPA_STATUS_FAIL => "CPA_STATUS_FAIL",
            cpa::CPA_STATUS_RETRY => "CPA_STATUS_RETRY",
            cpa::CPA_STATUS_RESOURCE => "CPA_STATUS_RESOURCE",
            cpa::CPA_STATUS_INVALID_PARAM => "CPA_STATUS_INVALID_PARAM",
            cpa::CPA_STATUS_FATAL => "CPA_STATUS_FATAL",
            cpa::CPA_STATUS_UNSUPPORTED => "CPA_STATUS_UNSUPPORTED",
            cpa::CPA_STATUS_RESTARTING => "CPA_STATUS_RESTARTING",
            _ => "unknown status",
        };
        write!(f, "{} ({name})", self.0)
    }
}

/// The process-wide state behind [`service`].
struct Global {
    /// The running service, while anything holds it.
    current: Weak<Service>,
    /// A service was started and its teardown has not finished yet (its last `Arc` may be
    /// dropping right now): a new start waits for it, so `icp_sal_userStop` never runs after
    /// the next `icp_sal_userStart`.
    live: bool,
    /// The failure of the first start, returned from then on.
    failed: Option<QatlibError>,
}

static GLOBAL: Mutex<Global> = Mutex::new(Global {
    current: Weak::new(),
    live: false,
    failed: None,
});
/// Signalled when a teardown finishes (`live` turns false).
static TORN_DOWN: Condvar = Condvar::new();

/// The shared service: started on first need, kept while anything holds it; the last `Arc`
/// stops it. A failed start is remembered for the process (qatlib prints its complaint once)
/// and returned from every later call.
pub(crate) fn service() -> Result<Arc<Service>, QatlibError> {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Some(failed) = &global.failed {
            return Err(failed.clone());
        }
        if let Some(service) = global.current.upgrade() {
            return Ok(service);
        }
        if !global.live {
            break;
        }
        global = TORN_DOWN
            .wait(global)
            .unwrap_or_else(PoisonError::into_inner);
    }
    match Service::start() {
        Ok(service) => {
            let service = Arc::new(service);
            global.current = Arc::downgrade(&service);
            global.live = true;
            Ok(service)
        }
        Err(error) => {
            tracing::debug!(%error, "qatlib unavailable for this process");
            global.failed = Some(error.clone());
            Err(error)
        }
    }
}

/// Runs a service's teardown under the global lock, then lets a waiting start proceed.
fn teardown(stop: impl FnOnce()) {
    let mut global = GLOBAL.lock().unwrap_or_else(PoisonError::into_inner);
    stop();
    global.live = false;
    drop(global);
    TORN_DOWN.notify_all();
}

/// For tests that make a start fail on purpose: forget the remembered failure.
#[cfg(test)]
fn forget_failure() {
    GLOBAL.lock().unwrap_or_else(PoisonError::into_inner).failed = None;
}

#[cfg(test)]
mod tests;
