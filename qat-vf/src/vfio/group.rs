//! A VFIO group: `/dev/vfio/N`, the unit of isolation a container takes.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use vfio_bindings::bindings::vfio as b;

use super::container::Container;
use super::device::Device;
use super::ops::VfioOps;
use crate::error::{Error, Result};
use crate::pci::Bdf;

/// `VFIO_GROUP_GET_STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GroupStatus {
    /// Every device of the group is bound to a VFIO driver or unbound (or a safe driver).
    pub viable: bool,
    /// Attached to a container.
    pub container_set: bool,
}

/// An open group.
#[derive(Debug)]
pub struct Group {
    fd: OwnedFd,
    number: u32,
    path: String,
    ops: Arc<dyn VfioOps>,
}

impl Group {
    /// Opens group `number` (`/dev/vfio/N`, or `noiommu-N` in no-IOMMU mode) through the
    /// container's VFIO directory. A second open of the same group answers EBUSY.
    pub fn open(container: &Container, number: u32) -> Result<Self> {
        let dir = container.dir();
        let ops = Arc::clone(container.ops());
        let mut path = dir.join(number.to_string());
        let mut opened = ops.open(&path);
        if opened
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            let noiommu = dir.join(format!("noiommu-{number}"));
            if let Ok(fd) = ops.open(&noiommu) {
                (path, opened) = (noiommu, Ok(fd));
            }
        }
        let fd = opened.map_err(|source| Error::Vfio {
            op: "open",
            target: path.display().to_string(),
            source,
        })?;
        Ok(Group {
            fd,
            number,
            path: path.display().to_string(),
            ops,
        })
    }

    /// The group number.
    pub fn number(&self) -> u32 {
        self.number
    }

    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub(super) fn error(&self, op: &'static str, source: std::io::Error) -> Error {
        Error::Vfio {
            op,
            target: self.path.clone(),
            source,
        }
    }

    /// Viability and container state.
    pub fn status(&self) -> Result<GroupStatus> {
        let flags = self
            .ops
            .group_status(self.fd.as_fd())
            .map_err(|e| self.error("VFIO_GROUP_GET_STATUS", e))?;
        Ok(GroupStatus {
            viable: flags & b::VFIO_GROUP_FLAGS_VIABLE != 0,
            container_set: flags & b::VFIO_GROUP_FLAGS_CONTAINER_SET != 0,
        })
    }

    /// Opens a device of the group (the group must be attached to a container with an IOMMU).
    pub fn device(&self, bdf: Bdf) -> Result<Device> {
        let fd = self
            .ops
            .group_device_fd(self.fd.as_fd(), &bdf.to_string())
            .map_err(|e| self.error("VFIO_GROUP_GET_DEVICE_FD", e))?;
        Device::new(fd, bdf, Arc::clone(&self.ops))
    }
}

impl AsFd for Group {
    /// The descriptor, for what qat-vf does not wrap (e.g. handing it to KVM).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
