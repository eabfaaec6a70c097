//! Why a command did not succeed, and the one place that maps qat-vf's errors to exit codes.

use qat_vf::Error;
use qat_vf::provision::error_chain;

/// Why a command did not succeed, and which exit code says so.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad usage or input; nothing was written (exit 2).
    Usage(String),
    /// The operation failed; the output says what and how it was rolled back (exit 1).
    Failed(String),
    /// The failure was already reported (the apply report); just exit 1.
    Reported,
    /// The output already holds the report (as JSON, too); say why on stderr and exit 1.
    ReportedBecause(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let message = error_chain(&e);
        match e {
            Error::ParseBdf { .. }
            | Error::ParseService(_)
            | Error::DuplicateService(_)
            | Error::NothingToManage
            | Error::InvalidName { .. }
            | Error::Domain(_)
            | Error::NoSuchDevice(_)
            | Error::NotSriov(_)
            | Error::Unsupported { .. }
            | Error::DriverNotLoaded(_)
            | Error::InvalidDriverName(_)
            | Error::UnknownGroup(_)
            | Error::NoVfsOnNode { .. }
            | Error::SimState { action: "load", .. } => Failure::Usage(message),
            // Too few VFs is about the host, not the arguments: exit 1.
            Error::TooFewVfs { .. } => Failure::Failed(message),
            _ => Failure::Failed(message),
        }
    }
}
