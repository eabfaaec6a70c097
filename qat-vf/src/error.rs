//! The one error type of qat-vf.

use std::io;
use std::path::PathBuf;

use crate::pci::Bdf;

/// Everything that can go wrong in qat-vf. Messages are short sentences; the OS error, when there
/// is one, is the `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PCI address did not parse.
    #[error("invalid PCI address {input:?}: {reason}")]
    ParseBdf {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A service is listed twice.
    #[error("service {0:?} is listed twice")]
    DuplicateService(String),
    /// A service name is not one the kernel knows.
    #[error("unknown service {0:?} (known: sym, asym, dc, dcc, decomp)")]
    ParseService(String),
    /// Reading a file or attribute failed.
    #[error("cannot read {path}")]
    Read {
        /// Host path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Writing an attribute failed.
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
    /// No PCI device at this address.
    #[error("no PCI device {0}")]
    NoSuchDevice(Bdf),
    /// The request names no PF and the host has no QAT PF.
    #[error("no QAT PF found; name SR-IOV PFs with --pf")]
    NothingToManage,
    /// The device has no SR-IOV capability (no `sriov_totalvfs`).
    #[error("{0} has no SR-IOV capability")]
    NotSriov(Bdf),
    /// A request that the device or its generation cannot satisfy.
    #[error("{bdf}: {reason}")]
    Unsupported {
        /// The device concerned.
        bdf: Bdf,
        /// Why not.
        reason: String,
    },
    /// The requested driver is not loaded (no directory under /sys/bus/pci/drivers).
    #[error("driver {0} is not loaded (modprobe it first)")]
    DriverNotLoaded(String),
    /// A driver name that cannot be a sysfs directory name.
    #[error("invalid driver name {0:?}")]
    InvalidDriverName(String),
    /// An owner group that is neither a number nor a known group name.
    #[error("unknown group {0:?}")]
    UnknownGroup(String),
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
    /// A VF is open by a VFIO user and the operation would take it away.
    #[error("{vf} is in use by a VFIO user (pid {pid}); stop it first or force")]
    HeldByVfioUser {
        /// The held VF.
        vf: Bdf,
        /// A process holding it.
        pid: u32,
    },
    /// A process holds a VFIO device fd whose device cannot be identified; it may be a VF the
    /// operation would take away.
    #[error("pid {pid} holds a VFIO device that cannot be identified; stop it first or force")]
    UnidentifiedVfioUser {
        /// The process.
        pid: u32,
    },
    /// The advisory provisioning lock could not be taken.
    #[error("cannot lock {path}")]
    Lock {
        /// Lock file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A simulated host's state file could not be loaded or saved.
    #[error("cannot {action} simulated host state {path}")]
    SimState {
        /// `load` or `save`.
        action: &'static str,
        /// State file.
        path: PathBuf,
        /// The I/O or JSON error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Result with qat-vf's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
