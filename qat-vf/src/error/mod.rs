//! qat-vf's errors: one type per subsystem, each variant named after what failed and carrying the
//! device, path and OS error; [`Error`] wraps them all, and every one answers
//! [`kind()`](Error::kind) with an [`ErrorKind`], which callers map instead of listing variants.
//!
//! This module sits just above [`pci`](crate::pci) and `services`: every other
//! module reports through it, and it imports none of them.

mod domain;
mod provision;
mod sim;
mod sysfs;
mod vfio;

pub use domain::{DomainError, KubevirtError};
pub use provision::ProvisionError;
pub use qat_error::ErrorKind;
pub use sim::SimError;
pub use sysfs::SysfsError;
pub use vfio::{Blocker, VfioError};

use crate::pci::InvalidAddress;
use crate::services::InvalidServices;

/// Everything that can go wrong in qat-vf: the error of the subsystem that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PCI address did not parse.
    #[error(transparent)]
    Address(#[from] InvalidAddress),
    /// A service list did not parse.
    #[error(transparent)]
    Services(#[from] InvalidServices),
    /// Reading, writing or interpreting a file of the host (sysfs, `/dev`, `/proc`).
    #[error(transparent)]
    Sysfs(#[from] SysfsError),
    /// Planning or changing the host's SR-IOV, QAT and driver configuration.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// Opening or using a device through VFIO.
    #[error(transparent)]
    Vfio(#[from] VfioError),
    /// Choosing VFs for a guest and writing them into libvirt domain XML.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Building KubeVirt configuration.
    #[error(transparent)]
    Kubevirt(#[from] KubevirtError),
    /// Loading, saving or driving the simulated host.
    #[error(transparent)]
    Sim(#[from] SimError),
}

impl Error {
    /// What kind of failure this is, whatever the subsystem.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Address(_) | Error::Services(_) => ErrorKind::InvalidInput,
            Error::Sysfs(e) => e.kind(),
            Error::Provision(e) => e.kind(),
            Error::Vfio(e) => e.kind(),
            Error::Domain(e) => e.kind(),
            Error::Kubevirt(e) => e.kind(),
            Error::Sim(e) => e.kind(),
        }
    }

    /// The OS error at the root of this error, if there is one (e.g. the errno of a refused
    /// sysfs write).
    pub fn raw_os_error(&self) -> Option<i32> {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = source {
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                return io.raw_os_error();
            }
            source = error.source();
        }
        None
    }

    /// The message with its causes, joined by ": ", on one line.
    pub fn chain(&self) -> String {
        qat_error::chain(self)
    }
}

/// Result with qat-vf's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The kind of an OS error met while reading the host or opening a node: access and a busy
/// resource keep their meaning; the rest is I/O. (A file that is missing is not `NotFound`:
/// that kind is for things a request names, such as a device.)
fn kind_of_os(error: &std::io::Error) -> ErrorKind {
    match ErrorKind::of_io(error) {
        kind @ (ErrorKind::PermissionDenied | ErrorKind::Busy) => kind,
        _ => ErrorKind::Io,
    }
}

/// The kind of an OS error from a write or a request the kernel refused: access and a busy
/// resource keep their meaning, the rest means the kernel did not do it.
fn kind_of_refusal(error: &std::io::Error) -> ErrorKind {
    match kind_of_os(error) {
        ErrorKind::Io => ErrorKind::DeviceFailure,
        kind => kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::Bdf;

    #[test]
    fn the_root_errno_is_found_through_the_wrappers() {
        let e: Error = SysfsError::Write {
            path: "/sys/x".into(),
            value: "0".into(),
            source: std::io::Error::from_raw_os_error(22),
        }
        .into();
        assert_eq!(e.raw_os_error(), Some(22));
        assert_eq!(e.kind(), ErrorKind::DeviceFailure);
        let bdf: Bdf = "01:00.0".parse().unwrap();
        assert_eq!(
            Error::from(SysfsError::NoSuchDevice(bdf)).raw_os_error(),
            None
        );
    }

    #[test]
    fn the_chain_joins_causes() {
        let e: Error = SysfsError::Read {
            path: "/sys/x".into(),
            source: std::io::Error::from_raw_os_error(13),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(
            e.chain()
                .starts_with("cannot read /sys/x: Permission denied"),
            "{}",
            e.chain()
        );
    }
}
