//! Errors of planning and changing the host: what to manage, what the device allows, drivers,
//! owners, VFIO users in the way, the provisioning lock.

use std::io;
use std::path::PathBuf;

use super::{ErrorKind, kind_of_os};
use crate::pci::Bdf;

/// Provisioning (or one of its operations: SR-IOV, QAT state and services, driver binding,
/// `/dev/vfio` access) cannot be done as asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
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
    /// A `/dev/vfio` owner or mode that chown(2) or chmod(2) would take other than meant.
    #[error("invalid {what} {value:?}: {rule}")]
    InvalidVfioAccess {
        /// `mode` or `group id`.
        what: &'static str,
        /// What was given.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A VFIO user has the VF's group open and the operation would take the VF away.
    #[error("{vf} is in use by a VFIO user (pid {pid} has its group open); stop it first or force")]
    HeldByVfioUser {
        /// The held VF.
        vf: Bdf,
        /// A process holding it.
        pid: u32,
    },
    /// A VFIO user has the VF's device open: the kernel would wait for it to close it.
    #[error(
        "{vf} is open by a VFIO user (pid {pid}); the kernel would wait until it closes it, so stop it first (force does not override this)"
    )]
    DeviceOpenByVfioUser {
        /// The VF.
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
}

impl ProvisionError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProvisionError::NothingToManage
            | ProvisionError::DriverNotLoaded(_)
            | ProvisionError::UnknownGroup(_) => ErrorKind::NotFound,
            ProvisionError::NotSriov(_) | ProvisionError::Unsupported { .. } => {
                ErrorKind::Unsupported
            }
            ProvisionError::InvalidDriverName(_) | ProvisionError::InvalidVfioAccess { .. } => {
                ErrorKind::InvalidInput
            }
            ProvisionError::HeldByVfioUser { .. }
            | ProvisionError::DeviceOpenByVfioUser { .. }
            | ProvisionError::UnidentifiedVfioUser { .. } => ErrorKind::Busy,
            ProvisionError::Lock { source, .. } => kind_of_os(source),
        }
    }
}
