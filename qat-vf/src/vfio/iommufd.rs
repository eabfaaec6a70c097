//! The iommufd / VFIO cdev interface (`/dev/iommu` + `/dev/vfio/devices/vfioN`), used instead
//! of container and group where the kernel has it. Debian's kernels are built without
//! CONFIG_IOMMUFD: `<dev>/vfio-dev/vfioN` exists there anyway, so support is detected by the
//! character devices, not by the sysfs directory.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::sys;
use crate::error::{Error, Result};
use crate::pci::Bdf;
use crate::sysfs::{Sysfs, paths};

/// The cdev of a device, when this host can use the iommufd path for it: `/dev/iommu` exists
/// and so does `/dev/vfio/devices/vfioN` for the `vfioN` its `vfio-dev` directory lists.
pub fn cdev_path(sysfs: &impl Sysfs, bdf: Bdf) -> Result<Option<PathBuf>> {
    if !sysfs.exists(Path::new("/dev/iommu")) {
        return Ok(None);
    }
    for name in sysfs.list(&paths::device_attr(bdf, "vfio-dev"))? {
        let cdev = PathBuf::from("/dev/vfio/devices").join(&name);
        if name.starts_with("vfio") && sysfs.exists(&cdev) {
            return Ok(Some(cdev));
        }
    }
    Ok(None)
}

/// A device bound to an iommufd IOAS (its own I/O address space).
#[derive(Debug)]
pub struct IommufdDevice {
    iommufd: OwnedFd,
    device: OwnedFd,
    ioas: u32,
    bdf: Bdf,
}

impl IommufdDevice {
    /// Opens `/dev/iommu` and the cdev under `root`, binds the device, allocates an IOAS and
    /// attaches the device to it.
    pub fn open(root: &Path, cdev: &Path, bdf: Bdf) -> Result<Self> {
        let err = |op, source| Error::Vfio {
            op,
            target: bdf.to_string(),
            source,
        };
        let open = |path: &Path| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(root.join(path.strip_prefix("/").unwrap_or(path)))
        };
        let iommufd: OwnedFd = open(Path::new("/dev/iommu"))
            .map_err(|e| err("open /dev/iommu", e))?
            .into();
        let device: OwnedFd = open(cdev).map_err(|e| err("open cdev", e))?.into();
        sys::device_bind_iommufd(device.as_fd(), iommufd.as_fd())
            .map_err(|e| err("VFIO_DEVICE_BIND_IOMMUFD", e))?;
        let ioas = sys::ioas_alloc(iommufd.as_fd()).map_err(|e| err("IOMMU_IOAS_ALLOC", e))?;
        sys::device_attach_iommufd_pt(device.as_fd(), ioas)
            .map_err(|e| err("VFIO_DEVICE_ATTACH_IOMMUFD_PT", e))?;
        Ok(IommufdDevice {
            iommufd,
            device,
            ioas,
            bdf,
        })
    }

    /// The device fd: the same requests as a group-opened device's.
    pub fn device_fd(&self) -> &OwnedFd {
        &self.device
    }

    /// Maps memory at `iova` in the IOAS.
    pub fn map_dma(&self, memory: &mut [u8], iova: u64) -> Result<()> {
        super::dma::check_memlock_here(memory.len() as u64)?;
        sys::ioas_map(
            self.iommufd.as_fd(),
            self.ioas,
            memory.as_mut_ptr() as u64,
            iova,
            memory.len() as u64,
        )
        .map_err(|source| Error::Vfio {
            op: "IOMMU_IOAS_MAP",
            target: self.bdf.to_string(),
            source,
        })
    }

    /// Unmaps; returns the bytes unmapped.
    pub fn unmap_dma(&self, iova: u64, size: u64) -> Result<u64> {
        sys::ioas_unmap(self.iommufd.as_fd(), self.ioas, iova, size).map_err(|source| Error::Vfio {
            op: "IOMMU_IOAS_UNMAP",
            target: self.bdf.to_string(),
            source,
        })
    }
}
