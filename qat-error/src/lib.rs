//! The one classification of every qatkit error.
//!
//! Each qatkit crate has its own error type, with one error per subsystem inside; every one of them
//! answers `kind()` with an [`ErrorKind`]. Callers that must turn errors into something coarser —
//! `qatctl`'s exit codes, the C ABI's result codes, the device plugin's health — map the kind, once,
//! instead of listing variants. Like [`std::io::ErrorKind`], the enum is `#[non_exhaustive]`:
//! callers keep a fallback arm, and [`ErrorKind::ALL`] lets a test check that their mapping names
//! every kind this version has.

use std::fmt;

/// What kind of failure an error is, independent of the subsystem that reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request or an input (an address, a name, a file) is malformed or contradicts itself.
    /// Nothing was changed.
    InvalidInput,
    /// Something the request names does not exist: a device, a driver, a group, a file.
    NotFound,
    /// The device, its generation, the kernel or this build cannot do what was asked.
    Unsupported,
    /// The operating system refused access (not root, a node's mode, a capability missing).
    PermissionDenied,
    /// Something is in use: a VFIO user holds a VF, another provisioner holds the lock.
    Busy,
    /// An IOMMU group cannot be used through VFIO: another member is bound to a host driver.
    NotViable,
    /// A limit would be exceeded: too few VFs, RLIMIT_MEMLOCK, an output size limit.
    LimitExceeded,
    /// Data is corrupt or truncated: a compressed stream, a saved state file.
    CorruptData,
    /// The device or the kernel did not do what was asked: a write that did not take, an ioctl
    /// that failed, a compressor or an offload engine that reported an error.
    DeviceFailure,
    /// Another operating-system error while reading or writing.
    Io,
}

impl ErrorKind {
    /// Every kind this version has, for tests that check a mapping covers them all.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::InvalidInput,
        ErrorKind::NotFound,
        ErrorKind::Unsupported,
        ErrorKind::PermissionDenied,
        ErrorKind::Busy,
        ErrorKind::NotViable,
        ErrorKind::LimitExceeded,
        ErrorKind::CorruptData,
        ErrorKind::DeviceFailure,
        ErrorKind::Io,
    ];

    /// The kind's name in snake case, as JSON output spells it (`invalid_input`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Busy => "busy",
            ErrorKind::NotViable => "not_viable",
            ErrorKind::LimitExceeded => "limit_exceeded",
            ErrorKind::CorruptData => "corrupt_data",
            ErrorKind::DeviceFailure => "device_failure",
            ErrorKind::Io => "io",
        }
    }

    /// The kind of an OS error: permission and not-found errors keep their meaning, a busy
    /// device is busy, the rest is I/O.
    pub fn of_io(error: &std::io::Error) -> ErrorKind {
        match error.kind() {
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::ResourceBusy => ErrorKind::Busy,
            _ => ErrorKind::Io,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error and its causes on one line, joined by `: `. A cause whose message repeats the one
/// before it (a wrapper that displays its source, such as tonic's transport error over an I/O
/// error) is said once.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut last = text.clone();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if said != last {
            text.push_str(": ");
            text.push_str(&said);
        }
        last = said;
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_match_serde() {
        let mut names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        for kind in ErrorKind::ALL {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn os_errors_keep_their_meaning() {
        let kind = |errno| ErrorKind::of_io(&std::io::Error::from_raw_os_error(errno));
        assert_eq!(kind(13), ErrorKind::PermissionDenied); // EACCES
        assert_eq!(kind(1), ErrorKind::PermissionDenied); // EPERM
        assert_eq!(kind(2), ErrorKind::NotFound); // ENOENT
        assert_eq!(kind(16), ErrorKind::Busy); // EBUSY
        assert_eq!(kind(22), ErrorKind::Io); // EINVAL
    }

    #[test]
    fn a_chain_says_each_cause_once() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error, &'static str);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.1)
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let io = || std::io::Error::from_raw_os_error(2);
        let said = io().to_string();
        assert_eq!(
            chain(&Wrapper(io(), "connecting")),
            format!("connecting: {said}")
        );
        // A wrapper repeating its source's words: said once.
        let twice = Wrapper(std::io::Error::other("gone"), "gone");
        assert_eq!(chain(&twice), "gone");
    }
}
