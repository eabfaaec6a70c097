//! The iommufd / VFIO cdev interface (`/dev/iommu` + `/dev/vfio/devices/vfioN`), used instead
//! of container and group where the kernel has it. Debian's kernels are built without
//! CONFIG_IOMMUFD: `<dev>/vfio-dev/vfioN` exists there anyway, so support is detected by the
//! character devices, not by the sysfs directory.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::device::Device;
use super::dma::{DmaMapping, DmaSpace, check_request, page_size};
use crate::error::{Result, VfioError};
use crate::host::{HostEnv, paths};
use crate::pci::Bdf;

/// The cdev of a device, when this host can use the iommufd path for it: `/dev/iommu` exists
/// and so does `/dev/vfio/devices/vfioN` for the `vfioN` its `vfio-dev` directory lists.
pub fn cdev_path(env: &HostEnv, bdf: Bdf) -> Result<Option<PathBuf>> {
    if !env.exists(Path::new(paths::IOMMUFD)) {
        return Ok(None);
    }
    for name in env.list(&paths::device_attr(bdf, "vfio-dev"))? {
        let cdev = paths::vfio_cdev(&name);
        if name.starts_with("vfio") && env.exists(&cdev) {
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
    env: HostEnv,
}

impl IommufdDevice {
    /// Opens VF `bdf` through its cdev (from [`cdev_path`]): checks it as container and group
    /// opening does, opens `/dev/iommu` and the cdev, binds the device, allocates an IOAS and
    /// attaches the device to it.
    pub fn open(env: &HostEnv, cdev: &Path, bdf: Bdf) -> Result<Self> {
        super::check_openable(env, bdf)?;
        let ops = env.vfio();
        let open = |path: &Path| {
            ops.open(path).map_err(|source| VfioError::Open {
                path: path.to_owned(),
                source,
            })
        };
        let request = |request, source| VfioError::Request {
            request,
            target: bdf.to_string(),
            source,
        };
        let iommufd = open(Path::new(paths::IOMMUFD))?;
        let device_fd = open(cdev)?;
        ops.bind_iommufd(device_fd.as_fd(), iommufd.as_fd())
            .map_err(|e| request("VFIO_DEVICE_BIND_IOMMUFD", e))?;
        let ioas = ops
            .ioas_alloc(iommufd.as_fd())
            .map_err(|e| request("IOMMU_IOAS_ALLOC", e))?;
        ops.attach_ioas(device_fd.as_fd(), ioas)
            .map_err(|e| request("VFIO_DEVICE_ATTACH_IOMMUFD_PT", e))?;
        // A bound cdev answers the same device requests as a group-opened device.
        let device = Device::new(device_fd, bdf, env.clone())?;
        Ok(IommufdDevice {
            device,
            iommufd,
            ioas,
            env: env.clone(),
        })
    }

    /// The device: regions, irqs, config space, BARs, reset.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Maps `memory` for device DMA at `iova` until the mapping is dropped; the memory is
    /// borrowed as long. Alignment and RLIMIT_MEMLOCK are checked first.
    pub fn map_dma<'a>(&'a self, memory: &'a mut [u8], iova: u64) -> Result<DmaMapping<'a>> {
        let page = page_size() as u64;
        let request = check_request(memory, iova, page, None, self.env.memlock())?;
        let size = request.size;
        let _span = tracing::info_span!("ioas_map", iova, size).entered();
        self.env
            .vfio()
            .ioas_map(self.iommufd.as_fd(), self.ioas, request.vaddr, iova, size)
            .map_err(|source| match source.raw_os_error() {
                Some(nix::libc::EEXIST) => VfioError::DmaOverlap { iova, size },
                _ => self.error("IOMMU_IOAS_MAP", source),
            })?;
        Ok(DmaMapping::new(self, iova, size))
    }

    fn error(&self, request: &'static str, source: std::io::Error) -> VfioError {
        VfioError::Request {
            request,
            target: self.device.bdf().to_string(),
            source,
        }
    }
}

impl DmaSpace for IommufdDevice {
    fn unmap(&self, iova: u64, size: u64) -> Result<u64> {
        Ok(self
            .env
            .vfio()
            .ioas_unmap(self.iommufd.as_fd(), self.ioas, iova, size)
            .map_err(|e| self.error("IOMMU_IOAS_UNMAP", e))?)
    }
}
