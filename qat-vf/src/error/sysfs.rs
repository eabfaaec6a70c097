//! Errors of the host's files: reads, writes, and attributes that did not read as expected.

use std::io;
use std::path::PathBuf;

use super::{ErrorKind, kind_of_os, kind_of_refusal};
use crate::pci::Bdf;

/// A file of the host (sysfs, `/dev`, `/proc`) could not be read, written or understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SysfsError {
    /// Reading a file, link or directory failed.
    #[error("cannot read {path}")]
    Read {
        /// Host path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Writing an attribute (or a node's owner and mode) failed: the kernel refused it.
    #[error("cannot write {value:?} to {path}")]
    Write {
        /// Host path.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An attribute held something qat-vf cannot interpret.
    #[error("unexpected content {content:?} in {path}")]
    Parse {
        /// Host path.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// After a write, re-reading showed that the change did not happen.
    #[error("{path} reads {found:?} after the write, expected {expected:?}")]
    Verify {
        /// Host path re-read.
        path: PathBuf,
        /// What it read.
        found: String,
        /// What it should have read.
        expected: String,
    },
    /// No PCI device at this address.
    #[error("no PCI device {0}")]
    NoSuchDevice(Bdf),
}

impl SysfsError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SysfsError::Read { source, .. } => kind_of_os(source),
            SysfsError::Write { source, .. } => kind_of_refusal(source),
            // The host answered something qat-vf cannot read (a newer kernel's format, a broken
            // attribute): a failure of the host, not of the request.
            SysfsError::Parse { .. } | SysfsError::Verify { .. } => ErrorKind::DeviceFailure,
            SysfsError::NoSuchDevice(_) => ErrorKind::NotFound,
        }
    }

    /// Whether this is a read of something that does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, SysfsError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}
