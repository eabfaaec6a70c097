//! Why a command did not succeed, and the one place that maps qat-vf's error kinds to exit codes.

use qat_vf::{Error, ErrorKind};

/// Why a command did not succeed, and which exit code says so.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad usage or input found by qatctl itself; nothing was written (exit 2).
    Usage(String),
    /// The operation failed; the output says what and how it was rolled back (exit 1).
    Failed(String),
    /// qat-vf refused or failed: the exit code and the JSON `kind` come from its kind.
    Error {
        /// The message with its causes.
        message: String,
        /// What kind of failure it is.
        kind: ErrorKind,
    },
    /// The failure was already reported (the apply report); just exit 1.
    Reported,
    /// The output already holds the report (as JSON, too); say why on stderr and exit 1.
    ReportedBecause(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error {
            message: e.chain(),
            kind: e.kind(),
        }
    }
}

/// The exit code of an error kind: 2 when the request names something wrong or impossible
/// (nothing was written), 1 when the host or the device did not let it happen. `None` for a kind
/// this version does not know; a test checks that every kind of `ErrorKind::ALL` has one.
pub(crate) fn exit_code(kind: ErrorKind) -> Option<u8> {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::NotFound | ErrorKind::Unsupported => Some(2),
        ErrorKind::PermissionDenied
        | ErrorKind::Busy
        | ErrorKind::NotViable
        | ErrorKind::LimitExceeded
        | ErrorKind::CorruptData
        | ErrorKind::DeviceFailure
        | ErrorKind::Io => Some(1),
        // ErrorKind is non-exhaustive; `every_kind_has_an_exit_code` fails for a new kind.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_an_exit_code() {
        for kind in ErrorKind::ALL {
            assert!(exit_code(kind).is_some(), "{kind} has no exit code");
        }
        assert_eq!(exit_code(ErrorKind::InvalidInput), Some(2));
        assert_eq!(exit_code(ErrorKind::Busy), Some(1));
    }
}
