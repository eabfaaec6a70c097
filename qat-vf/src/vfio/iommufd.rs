//! The iommufd / VFIO cdev interface (`/dev/iommu` + `/dev/vfio/devices/vfioN`), used instead
//! of container and group where the kernel has it. Debian's kernels are built without
//! CONFIG_IOMMUFD: `<dev>/vfio-dev/vfioN` exists there anyway, so support is detected by the
//! character devices, not by the sysfs directory.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::device::Device;
use super::ops::KernelOps;
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

/// A device bound to an iommufd IOAS (its own I/O address space). Fields drop in order: the
/// device, then the iommufd.
#[derive(Debug)]
pub struct IommufdDevice {
    device: Device,
    iommufd: OwnedFd,
    ioas: u32,
}

impl IommufdDevice {
    /// Opens `/dev/iommu` and the cdev under `root` (`/` on a real host), binds the device,
    /// allocates an IOAS and attaches the device to it.
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
        let device_fd: OwnedFd = open(cdev).map_err(|e| err("open cdev", e))?.into();
        sys::device_bind_iommufd(device_fd.as_fd(), iommufd.as_fd())
            .map_err(|e| err("VFIO_DEVICE_BIND_IOMMUFD", e))?;
        let ioas = sys::ioas_alloc(iommufd.as_fd()).map_err(|e| err("IOMMU_IOAS_ALLOC", e))?;
        sys::device_attach_iommufd_pt(device_fd.as_fd(), ioas)
            .map_err(|e| err("VFIO_DEVICE_ATTACH_IOMMUFD_PT", e))?;
        // A bound cdev answers the same device requests as a group-opened device.
        let device = Device::new(device_fd, bdf, Arc::new(KernelOps))?;
        Ok(IommufdDevice {
            device,
            iommufd,
            ioas,
        })
    }

    /// The device: regions, irqs, config space, BARs, reset.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Maps `memory` for device DMA at `iova` until the mapping is dropped; the memory is
    /// borrowed as long. Alignment and RLIMIT_MEMLOCK are checked first.
    pub fn map_dma<'a>(&'a self, memory: &'a mut [u8], iova: u64) -> Result<IoasMapping<'a>> {
        let page = super::dma::page_size() as u64;
        let (vaddr, size) = (memory.as_mut_ptr() as u64, memory.len() as u64);
        if size == 0 || vaddr % page != 0 || size % page != 0 || iova % page != 0 {
            return Err(Error::DmaUnaligned { iova, size, page });
        }
        super::dma::check_memlock_here(size)?;
        sys::ioas_map(self.iommufd.as_fd(), self.ioas, vaddr, iova, size).map_err(|source| {
            match source.raw_os_error() {
                Some(nix::libc::EEXIST) => Error::DmaOverlap { iova, size },
                _ => Error::Vfio {
                    op: "IOMMU_IOAS_MAP",
                    target: self.device.bdf().to_string(),
                    source,
                },
            }
        })?;
        Ok(IoasMapping {
            owner: self,
            iova,
            size,
        })
    }
}

/// A DMA mapping in an IOAS; unmapped when dropped.
#[derive(Debug)]
pub struct IoasMapping<'a> {
    owner: &'a IommufdDevice,
    iova: u64,
    size: u64,
}

impl IoasMapping<'_> {
    /// Device-visible address.
    pub fn iova(&self) -> u64 {
        self.iova
    }
}

impl Drop for IoasMapping<'_> {
    fn drop(&mut self) {
        let owner = self.owner;
        match sys::ioas_unmap(owner.iommufd.as_fd(), owner.ioas, self.iova, self.size) {
            Ok(n) if n == self.size => {}
            Ok(n) => tracing::warn!(iova = self.iova, unmapped = n, "partial IOAS unmap"),
            Err(e) => tracing::warn!(iova = self.iova, error = %e, "IOAS unmap failed"),
        }
    }
}
