//! The seam between the VFIO types and the kernel: one method per VFIO and iommufd request.
//! [`KernelOps`] makes the real ioctls; the simulated host answers them from its model, so
//! container, group, device and iommufd logic runs and is tested without `/dev/vfio`.

use std::fmt;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::sys;

/// `VFIO_DEVICE_GET_INFO`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DeviceInfo {
    /// `VFIO_DEVICE_FLAGS_*`.
    pub flags: u32,
    /// Number of regions (BARs, ROM, config space, ...).
    pub num_regions: u32,
    /// Number of interrupt indexes.
    pub num_irqs: u32,
}

/// `VFIO_DEVICE_GET_IRQ_INFO`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IrqInfo {
    /// Irq index (INTx 0, MSI 1, MSI-X 2, ERR 3, REQ 4).
    pub index: u32,
    /// `VFIO_IRQ_INFO_*`.
    pub flags: u32,
    /// Vectors.
    pub count: u32,
}

/// The VFIO requests qat-vf makes, on file descriptors it opened through [`VfioOps::open`].
pub trait VfioOps: fmt::Debug + Send + Sync {
    /// Opens a VFIO node (`/dev/vfio/vfio`, `/dev/vfio/N`, a cdev, `/dev/iommu`) read-write.
    fn open(&self, path: &Path) -> io::Result<OwnedFd>;
    /// `VFIO_GET_API_VERSION`.
    fn api_version(&self, container: BorrowedFd<'_>) -> io::Result<i32>;
    /// `VFIO_CHECK_EXTENSION`.
    fn check_extension(&self, container: BorrowedFd<'_>, extension: u32) -> io::Result<bool>;
    /// `VFIO_SET_IOMMU`.
    fn set_iommu(&self, container: BorrowedFd<'_>, kind: u32) -> io::Result<()>;
    /// `VFIO_IOMMU_GET_INFO`: the info struct and its capability chain, as bytes.
    fn iommu_info(&self, container: BorrowedFd<'_>) -> io::Result<Vec<u8>>;
    /// `VFIO_IOMMU_MAP_DMA`, read and write.
    fn map_dma(
        &self,
        container: BorrowedFd<'_>,
        vaddr: u64,
        iova: u64,
        size: u64,
    ) -> io::Result<()>;
    /// `VFIO_IOMMU_UNMAP_DMA`; returns the bytes unmapped.
    fn unmap_dma(&self, container: BorrowedFd<'_>, iova: u64, size: u64) -> io::Result<u64>;
    /// `VFIO_GROUP_GET_STATUS`: `VFIO_GROUP_FLAGS_*`.
    fn group_status(&self, group: BorrowedFd<'_>) -> io::Result<u32>;
    /// `VFIO_GROUP_SET_CONTAINER`.
    fn group_set_container(
        &self,
        group: BorrowedFd<'_>,
        container: BorrowedFd<'_>,
    ) -> io::Result<()>;
    /// `VFIO_GROUP_UNSET_CONTAINER`.
    fn group_unset_container(&self, group: BorrowedFd<'_>) -> io::Result<()>;
    /// `VFIO_GROUP_GET_DEVICE_FD` by device name (the BDF).
    fn group_device_fd(&self, group: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd>;
    /// `VFIO_DEVICE_GET_INFO`.
    fn device_info(&self, device: BorrowedFd<'_>) -> io::Result<DeviceInfo>;
    /// `VFIO_DEVICE_GET_REGION_INFO`: the info struct and its capability chain, as bytes.
    fn region_info(&self, device: BorrowedFd<'_>, index: u32) -> io::Result<Vec<u8>>;
    /// `VFIO_DEVICE_GET_IRQ_INFO`.
    fn irq_info(&self, device: BorrowedFd<'_>, index: u32) -> io::Result<IrqInfo>;
    /// `VFIO_DEVICE_SET_IRQS`: an eventfd as trigger of vector 0 of `index`, or none.
    fn set_irq_eventfd(
        &self,
        device: BorrowedFd<'_>,
        index: u32,
        eventfd: Option<BorrowedFd<'_>>,
    ) -> io::Result<()>;
    /// `VFIO_DEVICE_RESET`.
    fn reset(&self, device: BorrowedFd<'_>) -> io::Result<()>;
    /// `pread` on the device fd (region offset + offset).
    fn read_at(&self, device: BorrowedFd<'_>, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// `pwrite` on the device fd.
    fn write_at(&self, device: BorrowedFd<'_>, offset: u64, buf: &[u8]) -> io::Result<usize>;
    /// `VFIO_DEVICE_BIND_IOMMUFD`: binds a cdev-opened device to an iommufd.
    fn bind_iommufd(&self, device: BorrowedFd<'_>, iommufd: BorrowedFd<'_>) -> io::Result<()>;
    /// `IOMMU_IOAS_ALLOC`: a new I/O address space; returns its id.
    fn ioas_alloc(&self, iommufd: BorrowedFd<'_>) -> io::Result<u32>;
    /// `VFIO_DEVICE_ATTACH_IOMMUFD_PT`: attaches a bound device to an IOAS.
    fn attach_ioas(&self, device: BorrowedFd<'_>, ioas: u32) -> io::Result<()>;
    /// `IOMMU_IOAS_MAP` at a fixed IOVA, read and write.
    fn ioas_map(
        &self,
        iommufd: BorrowedFd<'_>,
        ioas: u32,
        vaddr: u64,
        iova: u64,
        size: u64,
    ) -> io::Result<()>;
    /// `IOMMU_IOAS_UNMAP`; returns the bytes unmapped.
    fn ioas_unmap(
        &self,
        iommufd: BorrowedFd<'_>,
        ioas: u32,
        iova: u64,
        size: u64,
    ) -> io::Result<u64>;
}

/// The running kernel, with its nodes under a root (`/` on a real host).
#[derive(Debug, Clone)]
pub struct KernelOps {
    root: PathBuf,
}

impl KernelOps {
    /// The kernel, nodes opened under `root`.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        KernelOps { root: root.into() }
    }
}

impl Default for KernelOps {
    fn default() -> Self {
        KernelOps::with_root("/")
    }
}

impl VfioOps for KernelOps {
    fn open(&self, path: &Path) -> io::Result<OwnedFd> {
        let path = self.root.join(path.strip_prefix("/").unwrap_or(path));
        Ok(std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)?
            .into())
    }
    fn api_version(&self, container: BorrowedFd<'_>) -> io::Result<i32> {
        sys::get_api_version(container)
    }
    fn check_extension(&self, container: BorrowedFd<'_>, extension: u32) -> io::Result<bool> {
        sys::check_extension(container, extension)
    }
    fn set_iommu(&self, container: BorrowedFd<'_>, kind: u32) -> io::Result<()> {
        sys::set_iommu(container, kind)
    }
    fn iommu_info(&self, container: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
        sys::iommu_get_info(container)
    }
    fn map_dma(
        &self,
        container: BorrowedFd<'_>,
        vaddr: u64,
        iova: u64,
        size: u64,
    ) -> io::Result<()> {
        sys::map_dma(container, vaddr, iova, size)
    }
    fn unmap_dma(&self, container: BorrowedFd<'_>, iova: u64, size: u64) -> io::Result<u64> {
        sys::unmap_dma(container, iova, size)
    }
    fn group_status(&self, group: BorrowedFd<'_>) -> io::Result<u32> {
        sys::group_get_status(group)
    }
    fn group_set_container(
        &self,
        group: BorrowedFd<'_>,
        container: BorrowedFd<'_>,
    ) -> io::Result<()> {
        sys::group_set_container(group, container)
    }
    fn group_unset_container(&self, group: BorrowedFd<'_>) -> io::Result<()> {
        sys::group_unset_container(group)
    }
    fn group_device_fd(&self, group: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
        sys::group_get_device_fd(group, name)
    }
    fn device_info(&self, device: BorrowedFd<'_>) -> io::Result<DeviceInfo> {
        let info = sys::device_get_info(device)?;
        Ok(DeviceInfo {
            flags: info.flags,
            num_regions: info.num_regions,
            num_irqs: info.num_irqs,
        })
    }
    fn region_info(&self, device: BorrowedFd<'_>, index: u32) -> io::Result<Vec<u8>> {
        sys::device_get_region_info(device, index)
    }
    fn irq_info(&self, device: BorrowedFd<'_>, index: u32) -> io::Result<IrqInfo> {
        let info = sys::device_get_irq_info(device, index)?;
        Ok(IrqInfo {
            index: info.index,
            flags: info.flags,
            count: info.count,
        })
    }
    fn set_irq_eventfd(
        &self,
        device: BorrowedFd<'_>,
        index: u32,
        eventfd: Option<BorrowedFd<'_>>,
    ) -> io::Result<()> {
        sys::device_set_irq_eventfd(device, index, eventfd)
    }
    fn reset(&self, device: BorrowedFd<'_>) -> io::Result<()> {
        sys::device_reset(device)
    }
    fn read_at(&self, device: BorrowedFd<'_>, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        sys::pread(device, offset, buf)
    }
    fn write_at(&self, device: BorrowedFd<'_>, offset: u64, buf: &[u8]) -> io::Result<usize> {
        sys::pwrite(device, offset, buf)
    }
    fn bind_iommufd(&self, device: BorrowedFd<'_>, iommufd: BorrowedFd<'_>) -> io::Result<()> {
        sys::device_bind_iommufd(device, iommufd).map(|_devid| ())
    }
    fn ioas_alloc(&self, iommufd: BorrowedFd<'_>) -> io::Result<u32> {
        sys::ioas_alloc(iommufd)
    }
    fn attach_ioas(&self, device: BorrowedFd<'_>, ioas: u32) -> io::Result<()> {
        sys::device_attach_iommufd_pt(device, ioas)
    }
    fn ioas_map(
        &self,
        iommufd: BorrowedFd<'_>,
        ioas: u32,
        vaddr: u64,
        iova: u64,
        size: u64,
    ) -> io::Result<()> {
        sys::ioas_map(iommufd, ioas, vaddr, iova, size)
    }
    fn ioas_unmap(
        &self,
        iommufd: BorrowedFd<'_>,
        ioas: u32,
        iova: u64,
        size: u64,
    ) -> io::Result<u64> {
        sys::ioas_unmap(iommufd, ioas, iova, size)
    }
}
