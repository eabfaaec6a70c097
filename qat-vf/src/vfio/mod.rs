//! VFIO: open a VF the way a VM manager or a userspace driver does, and check that it works.
//!
//! [`Container`] (`/dev/vfio/vfio`) ← [`Group`] (`/dev/vfio/N`) → [`Device`] (regions, irqs,
//! config space, BAR [`Mmio`], reset, REQ notifier); [`DmaMapping`]s over caller memory or a
//! [`DmaBuffer`]. Every ioctl is wrapped once in the private `sys` module and reached through the
//! [`VfioOps`] seam, so the logic here runs against the simulated host as well as the kernel.
//! [`iommufd`] is the cdev path for kernels built with it.

mod caps;
mod check;
mod container;
mod device;
mod dma;
mod group;
pub mod iommufd;
mod mmio;
mod ops;
mod sys;

use std::path::Path;
use std::sync::Arc;

pub use caps::{IommuInfo, RegionInfo, parse_iommu_info, parse_region_info};
pub use check::{QATLIB_MEMLOCK_PER_VF, VfioCheck, check};
pub use container::{Container, DmaMapping, Extensions};
pub use device::{Device, RequestNotifier};
pub use dma::{
    DmaBuffer, Memlock, check_memlock, check_memlock_here, memlock_limit, page_size,
    status_has_ipc_lock,
};
pub use group::{Group, GroupStatus};
pub use mmio::{Mmio, Register};
pub use ops::{DeviceInfo, IrqInfo, KernelOps, VfioOps};

use crate::device::{read_driver, read_iommu_group};
use crate::driver::VFIO_DRIVERS;
use crate::error::{Error, Result};
use crate::pci::Bdf;
use crate::sysfs::{Sysfs, paths};

/// Region and irq indexes of vfio-pci devices.
pub mod index {
    use vfio_bindings::bindings::vfio as b;
    /// BAR0.
    pub const BAR0: u32 = b::VFIO_PCI_BAR0_REGION_INDEX;
    /// PCI config space.
    pub const CONFIG: u32 = b::VFIO_PCI_CONFIG_REGION_INDEX;
    /// MSI-X irqs.
    pub const MSIX: u32 = b::VFIO_PCI_MSIX_IRQ_INDEX;
    /// The kernel's request to give the device back.
    pub const REQ: u32 = b::VFIO_PCI_REQ_IRQ_INDEX;
}

/// A device opened through container and group, with both kept open as long as it is.
#[derive(Debug)]
pub struct OpenedDevice {
    /// Fields drop in order: device, then group, then container.
    pub device: Device,
    /// Its group, attached to `container`.
    pub group: Group,
    /// The container with the IOMMU set.
    pub container: Container,
}

impl OpenedDevice {
    /// Opens `bdf` as a VM manager would: checks it exists and is bound to a VFIO driver,
    /// finds its IOMMU group, opens the container (`<vfio_dir>/vfio`), the group, attaches it
    /// (refusing a non-viable group with the devices that make it so), sets the IOMMU and gets
    /// the device fd. `vfio_dir` is `/dev/vfio` on a real host.
    pub fn open(
        sysfs: &impl Sysfs,
        ops: Arc<dyn VfioOps>,
        vfio_dir: &Path,
        bdf: Bdf,
    ) -> Result<Self> {
        let _span = tracing::info_span!("vfio_open", bdf = %bdf).entered();
        if !sysfs.exists(&paths::device(bdf)) {
            return Err(Error::NoSuchDevice(bdf));
        }
        let driver = read_driver(sysfs, bdf)?;
        if !driver.as_deref().is_some_and(|d| VFIO_DRIVERS.contains(&d)) {
            return Err(Error::NotBoundToVfio { bdf, driver });
        }
        let number = read_iommu_group(sysfs, bdf)?.ok_or_else(|| Error::Unsupported {
            bdf,
            reason: "has no IOMMU group (is the IOMMU enabled?)".into(),
        })?;
        let mut container = Container::open(ops, vfio_dir)?;
        let group = Group::open(&container, number)?;
        container.attach(&group, sysfs)?;
        let device = group.device(bdf)?;
        Ok(OpenedDevice {
            device,
            group,
            container,
        })
    }

    /// [`OpenedDevice::open`] on the running kernel.
    pub fn open_host(sysfs: &impl Sysfs, bdf: Bdf) -> Result<Self> {
        Self::open(sysfs, Arc::new(KernelOps), Path::new("/dev/vfio"), bdf)
    }
}

/// A device opened the way the host offers: through its VFIO cdev and iommufd where the kernel
/// has them, else through container and group.
#[derive(Debug)]
pub enum HostDevice {
    /// `/dev/vfio/devices/vfioN` bound to `/dev/iommu`.
    Iommufd(iommufd::IommufdDevice),
    /// Container and group.
    Group(OpenedDevice),
}

impl HostDevice {
    /// Opens `bdf` on the running kernel, choosing the interface (see [`iommufd::cdev_path`]).
    pub fn open(sysfs: &impl Sysfs, bdf: Bdf) -> Result<Self> {
        match iommufd::cdev_path(sysfs, bdf)? {
            Some(cdev) => Ok(HostDevice::Iommufd(iommufd::IommufdDevice::open(
                Path::new("/"),
                &cdev,
                bdf,
            )?)),
            None => Ok(HostDevice::Group(OpenedDevice::open_host(sysfs, bdf)?)),
        }
    }

    /// The device.
    pub fn device(&self) -> &Device {
        match self {
            HostDevice::Iommufd(d) => d.device(),
            HostDevice::Group(d) => &d.device,
        }
    }
}
