//! A VFIO group: `/dev/vfio/N`, the unit of isolation a container takes.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use vfio_bindings::bindings::vfio as b;

use super::device::Device;
use crate::error::{Result, VfioError};
use crate::host::{HostEnv, paths};
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
    path: PathBuf,
    env: HostEnv,
}

impl Group {
    /// Opens group `number` (`/dev/vfio/N`, or `noiommu-N` in no-IOMMU mode). A second open of
    /// the same group answers EBUSY.
    pub fn open(env: &HostEnv, number: u32) -> Result<Self> {
        let ops = env.vfio();
        let mut path = paths::vfio_group_node(number);
        let mut opened = ops.open(&path);
        if opened
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        {
            let noiommu = paths::vfio_noiommu_group_node(number);
            if let Ok(fd) = ops.open(&noiommu) {
                (path, opened) = (noiommu, Ok(fd));
            }
        }
        let fd = opened.map_err(|source| VfioError::Open {
            path: path.clone(),
            source,
        })?;
        Ok(Group {
            fd,
            number,
            path,
            env: env.clone(),
        })
    }

    /// The group number.
    pub fn number(&self) -> u32 {
        self.number
    }

    pub(super) fn error(&self, request: &'static str, source: std::io::Error) -> VfioError {
        VfioError::Request {
            request,
            target: self.path.display().to_string(),
            source,
        }
    }

    /// Viability and container state.
    pub fn status(&self) -> Result<GroupStatus> {
        let flags = self
            .env
            .vfio()
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
            .env
            .vfio()
            .group_device_fd(self.fd.as_fd(), &bdf.to_string())
            .map_err(|e| self.error("VFIO_GROUP_GET_DEVICE_FD", e))?;
        Device::new(fd, bdf, self.env.clone())
    }
}

impl AsFd for Group {
    /// The descriptor, for what qat-vf does not wrap (e.g. handing it to KVM).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
