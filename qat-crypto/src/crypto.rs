//! What the crypto operations ([`aead`](crate::aead), [`cipher`](crate::cipher),
//! [`hash`](crate::hash), [`mac`](crate::mac), [`rsa`](crate::rsa), [`ecdsa`](crate::ecdsa),
//! [`ecdh`](crate::ecdh)) share: their [`Error`], the [`Operation`] an
//! error names, and the [`Settings`] every key carries: which backend, how many requests in
//! flight, and from what size `auto` sends a request to the device.

use std::fmt;

use qat_error::ErrorKind;

use crate::Backend;

/// What was being done when an error happened; the start of every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Making a key.
    Key,
    /// Choosing a backend.
    Backend,
    /// AEAD encryption.
    Seal,
    /// AEAD decryption and tag check.
    Open,
    /// Cipher encryption.
    Encrypt,
    /// Cipher decryption.
    Decrypt,
    /// Hashing.
    Hash,
    /// Computing a MAC.
    Sign,
    /// Checking a MAC or a signature.
    Verify,
    /// Deriving a shared secret (ECDH, X25519).
    Agree,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Key => "making a key",
            Operation::Backend => "choosing a backend",
            Operation::Seal => "sealing",
            Operation::Open => "opening",
            Operation::Encrypt => "encrypting",
            Operation::Decrypt => "decrypting",
            Operation::Hash => "hashing",
            Operation::Sign => "signing",
            Operation::Verify => "verifying",
            Operation::Agree => "agreeing on a secret with",
        })
    }
}

/// What can go wrong in a crypto call. Each message starts with the operation and the
/// algorithm ("opening AES-256-GCM: ..."); [`Error::kind`] says what kind of failure it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter the algorithm does not take: key, nonce, IV or tag length, data length,
    /// AAD length.
    #[error("{operation} {algorithm}: {reason}")]
    Parameter {
        /// What was being done.
        operation: Operation,
        /// The algorithm's name.
        algorithm: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The tag (or MAC) did not match: wrong key, nonce or AAD, or tampered data. No plaintext
    /// is returned; the buffer holding it is zeroed.
    #[error(
        "{operation} {algorithm}: authentication failed (wrong key, nonce or AAD, or tampered data or tag)"
    )]
    Authentication {
        /// What was being done.
        operation: Operation,
        /// The algorithm's name.
        algorithm: &'static str,
    },
    /// Padding that is not valid PKCS#7 after decryption (CBC): corrupt data or a wrong key.
    /// The buffer is zeroed.
    #[error(
        "{operation} {algorithm}: the padding is not valid PKCS#7 (corrupt data or a wrong key)"
    )]
    Padding {
        /// What was being done.
        operation: Operation,
        /// The algorithm's name.
        algorithm: &'static str,
    },
    /// A signature that does not verify: it was made with another key, over another message,
    /// with another scheme, or it was altered.
    #[error("{operation} {algorithm}: the signature does not verify with this key and message")]
    BadSignature {
        /// What was being done.
        operation: Operation,
        /// The algorithm's name.
        algorithm: &'static str,
    },
    /// A ciphertext that does not decrypt (RSA-OAEP): made for another key or label, or
    /// altered. One error for every cause, so that it tells an attacker nothing.
    #[error("{operation} {algorithm}: the ciphertext does not decrypt with this key and label")]
    Decryption {
        /// What was being done.
        operation: Operation,
        /// The algorithm's name.
        algorithm: &'static str,
    },
    /// The backend asked for cannot serve: built without its feature, no device, or an
    /// algorithm or parameter the device does not take.
    #[error("{operation} {algorithm}: backend {backend} cannot serve: {reason}")]
    Unavailable {
        /// What was being done.
        operation: Operation,
        /// The algorithm's name.
        algorithm: &'static str,
        /// The backend asked for.
        backend: Backend,
        /// Why not.
        reason: String,
        /// What kind of failure (unsupported, not found, ...).
        kind: ErrorKind,
    },
    /// A request failed in the library or device that took it.
    #[error("{operation} {algorithm} on {served_by}: {reason}")]
    Failed {
        /// What was being done.
        operation: Operation,
        /// The algorithm's name.
        algorithm: &'static str,
        /// Who failed: "cpu" or "qat device".
        served_by: crate::ServedBy,
        /// What it said.
        reason: String,
        /// What kind of failure (device failure, busy, ...).
        kind: ErrorKind,
    },
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Parameter { .. } => ErrorKind::InvalidInput,
            Error::Authentication { .. }
            | Error::Padding { .. }
            | Error::BadSignature { .. }
            | Error::Decryption { .. } => ErrorKind::CorruptData,
            Error::Unavailable { kind, .. } | Error::Failed { kind, .. } => *kind,
        }
    }

    /// Whether this is the request's answer rather than a failure to serve it: a failed tag or
    /// signature check, a ciphertext that does not decrypt, a bad parameter. Another backend
    /// would answer the same, so `auto` does not send it there.
    #[cfg(feature = "qatlib")]
    pub(crate) fn is_answer(&self) -> bool {
        matches!(
            self,
            Error::Authentication { .. }
                | Error::BadSignature { .. }
                | Error::Decryption { .. }
                | Error::Padding { .. }
                | Error::Parameter { .. }
        )
    }

    pub(crate) fn parameter(
        operation: Operation,
        algorithm: &'static str,
        reason: impl Into<String>,
    ) -> Error {
        Error::Parameter {
            operation,
            algorithm,
            reason: reason.into(),
        }
    }

    /// Checks that `key` is the `expected` length for `algorithm`.
    pub(crate) fn check_key_len(
        algorithm: &'static str,
        key: &[u8],
        expected: usize,
    ) -> Result<(), Error> {
        if key.len() == expected {
            return Ok(());
        }
        Err(Error::parameter(
            Operation::Key,
            algorithm,
            format!("the key is {} bytes, not {expected}", key.len()),
        ))
    }

    /// A CPU library call that failed where it cannot fail with valid parameters (it could
    /// not allocate).
    pub(crate) fn cpu(operation: Operation, algorithm: &'static str, call: &str) -> Error {
        Error::Failed {
            operation,
            algorithm,
            served_by: crate::ServedBy::Cpu,
            reason: format!("{call} failed"),
            kind: ErrorKind::LimitExceeded,
        }
    }
}

/// The device asked for a key the device layer could not read (AWS-LC took it, the device's
/// own parse of the same bytes did not).
#[cfg(feature = "qatlib")]
pub(crate) fn key_not_for_device(operation: Operation, algorithm: &'static str) -> Error {
    Error::no_device(
        operation,
        algorithm,
        "the device's parser did not take this key".into(),
        ErrorKind::Unsupported,
    )
}

/// `qat` asked for in a build without the `qatlib` feature.
#[cfg(not(feature = "qatlib"))]
pub(crate) fn without_qatlib(algorithm: &'static str) -> Error {
    Error::Unavailable {
        operation: Operation::Backend,
        algorithm,
        backend: Backend::Qat,
        reason: "qat-crypto was built without the `qatlib` feature".into(),
        kind: ErrorKind::Unsupported,
    }
}

/// The default size from which `auto` sends a request to a device: QAT_Engine's threshold for
/// offloading cipher and hash work (2 KiB); below it the round trip costs more than the CPU
/// takes. There was no device here to measure a better one; [`Settings::auto_min_request`]
/// changes it.
pub const DEFAULT_AUTO_MIN_REQUEST: usize = 2 << 10;

/// How a key's requests are served: the backend, requests in flight for batches, and the size
/// from which `auto` takes the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Who serves.
    pub backend: Backend,
    /// How many requests of a batch run at once (at least 1).
    pub in_flight: usize,
    /// The smallest request `auto` sends to a device; `None` keeps the algorithm's default
    /// ([`DEFAULT_AUTO_MIN_REQUEST`], or never for AES-GCM on a CPU with VAES).
    pub auto_min_request: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            backend: Backend::Auto,
            in_flight: 1,
            auto_min_request: None,
        }
    }
}

/// `Display` (its name) and `FromStr` (any case) for an algorithm enum with `ALL` and `name`.
macro_rules! named_algorithm {
    ($algorithm:ty, $what:literal) => {
        impl std::fmt::Display for $algorithm {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $algorithm {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .into_iter()
                    .find(|a| a.name().eq_ignore_ascii_case(s))
                    .ok_or_else(|| {
                        let names: Vec<&str> = Self::ALL.iter().map(|a| a.name()).collect();
                        format!("unknown {} {s:?} ({})", $what, names.join(", "))
                    })
            }
        }
    };
}
pub(crate) use named_algorithm;

/// The settings methods every symmetric key type has: [`backend_methods`] and the `auto`
/// threshold.
macro_rules! serving_methods {
    () => {
        $crate::crypto::backend_methods!();

        /// Under `auto`, sends requests of at least `bytes` to a device when one is up and
        /// takes them (AES-GCM on a CPU with VAES included).
        pub fn with_auto_min_request(mut self, bytes: usize) -> Self {
            self.settings.auto_min_request = Some(bytes);
            self
        }
    };
}
pub(crate) use serving_methods;

/// The settings methods every key type has, for a type with fields `settings: Settings` and
/// `served: Counters` and a method `check_device(&self) -> Result<(), Error>` (why `qat` cannot
/// serve it).
macro_rules! backend_methods {
    () => {
        /// Chooses the backend. `qat` needs the `qatlib` feature and a device with a crypto
        /// instance that takes this key: without them it is an error here, not at the first
        /// request.
        pub fn with_backend(
            mut self,
            backend: $crate::Backend,
        ) -> Result<Self, $crate::crypto::Error> {
            self.settings.backend = backend;
            if backend == $crate::Backend::Qat {
                self.check_device()?;
            }
            Ok(self)
        }

        /// Runs up to `n` requests of a batch at once (at least 1).
        pub fn with_in_flight(mut self, n: usize) -> Self {
            self.settings.in_flight = n.max(1);
            self
        }

        /// The backend asked for.
        pub fn backend(&self) -> $crate::Backend {
            self.settings.backend
        }

        /// How many requests each server has completed so far.
        pub fn served(&self) -> $crate::Served {
            self.served.served()
        }
    };
}
pub(crate) use backend_methods;

/// Whether this CPU has vector AES (VAES with AVX2 or AVX-512): AES-GCM on it outruns one
/// synchronous offload stream, which is why QAT_Engine keeps AES-GCM on the CPU by default,
/// and so does `auto` here unless a threshold is set.
pub(crate) fn cpu_has_vaes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("vaes") && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Where one request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Cpu,
    Qat,
}

impl Settings {
    /// What served a request sent to the device, given the device's answer: under `auto`, a
    /// request the device failed (not a failed tag check, which is an answer) is served again
    /// by `cpu`.
    #[cfg(feature = "qatlib")]
    pub(crate) fn device_or_cpu<T>(
        &self,
        device: Result<T, Error>,
        cpu: impl FnOnce() -> Result<T, Error>,
    ) -> Result<(T, crate::ServedBy), Error> {
        match device {
            Ok(t) => Ok((t, crate::ServedBy::QatDevice)),
            Err(e) if self.backend == Backend::Auto && !e.is_answer() => {
                tracing::debug!(error = %e, "device request failed; served by the CPU instead");
                cpu().map(|t| (t, crate::ServedBy::Cpu))
            }
            Err(e) => Err(e),
        }
    }

    /// Where a request of `len` bytes goes, `default_min` being the algorithm's own `auto`
    /// threshold (`None`: never by default) and `device_takes` whether a device is up and takes
    /// this request's algorithm and parameters (asked last: it may start the device library).
    pub(crate) fn route(
        &self,
        len: usize,
        default_min: Option<usize>,
        device_takes: impl FnOnce() -> bool,
    ) -> Route {
        match self.backend {
            Backend::Cpu => Route::Cpu,
            Backend::Qat => Route::Qat,
            Backend::Auto => match self.auto_min_request.or(default_min) {
                Some(min) if len >= min && device_takes() => Route::Qat,
                _ => Route::Cpu,
            },
        }
    }
}

#[cfg(feature = "qatlib")]
impl Error {
    /// A request the device library failed; a failed tag check is [`Error::Authentication`].
    pub(crate) fn device(
        operation: Operation,
        algorithm: &'static str,
        e: crate::qat::qatlib::QatlibError,
    ) -> Error {
        if matches!(e, crate::qat::qatlib::QatlibError::Verify) {
            return Error::Authentication {
                operation,
                algorithm,
            };
        }
        Error::Failed {
            operation,
            algorithm,
            served_by: crate::ServedBy::QatDevice,
            kind: e.kind(),
            reason: e.to_string(),
        }
    }

    /// The device backend cannot serve `algorithm` at all (no device, or a parameter it lacks).
    pub(crate) fn no_device(
        operation: Operation,
        algorithm: &'static str,
        reason: String,
        kind: ErrorKind,
    ) -> Error {
        Error::Unavailable {
            operation,
            algorithm,
            backend: Backend::Qat,
            reason,
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_backend_threshold_and_device() {
        let at = |backend, threshold, len, default_min, up: bool| {
            let settings = Settings {
                backend,
                in_flight: 1,
                auto_min_request: threshold,
            };
            settings.route(len, default_min, || up)
        };
        // Named backends ignore the size and the device.
        assert_eq!(
            at(Backend::Cpu, Some(0), 1 << 20, Some(0), true),
            Route::Cpu
        );
        assert_eq!(at(Backend::Qat, None, 1, None, false), Route::Qat);
        // `auto`: the algorithm's default threshold, unless one is set.
        assert_eq!(at(Backend::Auto, None, 4096, Some(2048), true), Route::Qat);
        assert_eq!(at(Backend::Auto, None, 2047, Some(2048), true), Route::Cpu);
        assert_eq!(at(Backend::Auto, None, 1 << 20, None, true), Route::Cpu);
        assert_eq!(at(Backend::Auto, Some(64), 64, None, true), Route::Qat);
        // Never the device when none is up.
        assert_eq!(at(Backend::Auto, Some(0), 4096, Some(0), false), Route::Cpu);
    }

    #[test]
    fn every_error_has_a_kind_and_starts_with_the_operation() {
        let e = Error::parameter(Operation::Seal, "AES-256-GCM", "the tag buffer is 3 bytes");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            e.to_string(),
            "sealing AES-256-GCM: the tag buffer is 3 bytes"
        );
        let e = Error::Authentication {
            operation: Operation::Open,
            algorithm: "ChaCha20-Poly1305",
        };
        assert_eq!(e.kind(), ErrorKind::CorruptData);
        assert!(
            e.to_string()
                .starts_with("opening ChaCha20-Poly1305: authentication failed")
        );
        assert_eq!(
            Error::cpu(Operation::Hash, "SHA-256", "x").kind(),
            ErrorKind::LimitExceeded
        );
        assert!(Error::check_key_len("AES-128-GCM", &[0; 16], 16).is_ok());
        let e = Error::check_key_len("AES-128-GCM", &[0; 32], 16).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            e.to_string(),
            "making a key AES-128-GCM: the key is 32 bytes, not 16"
        );
    }
}
