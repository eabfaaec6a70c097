//! VFIO: open a VF the way a VM manager or a userspace driver does, and check that it works.
//!
//! [`Container`] (`/dev/vfio/vfio`) ← [`Group`] (`/dev/vfio/N`) → [`Device`] (regions, irqs,
//! config space, BAR [`Mmio`], reset, REQ notifier); [`DmaMapping`]s over caller memory or a
//! [`DmaBuffer`]. Where the kernel has iommufd, [`IommufdDevice`] opens the device's cdev
//! instead. Every request goes through the [`HostEnv`]'s VFIO ops, so all of it runs against the
//! simulated host as well as the kernel.

mod caps;
mod check;
mod container;
mod device;
mod dma;
mod group;
mod iommufd;
mod mmio;

pub use caps::{IommuInfo, RegionInfo};
pub use check::{QATLIB_MEMLOCK_PER_VF, VfioCheck, check};
pub use container::{Container, Extensions};
pub use device::{Device, RequestNotifier};
pub use dma::{DmaBuffer, DmaMapping, page_size};
pub use group::{Group, GroupStatus};
pub use iommufd::{IommufdDevice, cdev_path};
pub use mmio::{Mmio, Register};

/// The parsers of the kernel's capability chains, public to the fuzz targets only.
#[cfg(fuzzing)]
pub mod fuzzing {
    pub use super::caps::{parse_iommu_info, parse_region_info};
}

use crate::attributes::{read_driver, read_iommu_group};
use crate::driver::VFIO_DRIVERS;
use crate::error::{Result, SysfsError, VfioError};
use crate::host::{HostEnv, paths};
use crate::pci::Bdf;

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

/// The checks both ways of opening share, before any VFIO node is touched: the device exists,
/// is a VF (qatkit does not hand PFs to VMs: that would take their VFs away), is bound to a VFIO
/// driver and has an IOMMU group, which is returned.
fn check_openable(env: &HostEnv, bdf: Bdf) -> Result<u32> {
    check_is_vf(env, bdf)?;
    let driver = read_driver(env, bdf)?;
    if !driver.as_deref().is_some_and(|d| VFIO_DRIVERS.contains(&d)) {
        return Err(VfioError::NotBoundToVfio { bdf, driver }.into());
    }
    read_iommu_group(env, bdf)?.ok_or_else(|| VfioError::NoIommuGroup(bdf).into())
}

/// The device exists and is not an SR-IOV PF.
fn check_is_vf(env: &HostEnv, bdf: Bdf) -> Result<()> {
    if !env.exists(&paths::device(bdf)) {
        return Err(SysfsError::NoSuchDevice(bdf).into());
    }
    if env.exists(&paths::device_attr(bdf, "sriov_totalvfs")) {
        return Err(VfioError::NotAVf(bdf).into());
    }
    Ok(())
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
    /// Opens VF `bdf` as a VM manager would: checks it exists, is a VF bound to a VFIO driver,
    /// finds its IOMMU group, opens the container, the group, attaches it (refusing a non-viable
    /// group with the devices that make it so), sets the IOMMU and gets the device fd.
    pub fn open(env: &HostEnv, bdf: Bdf) -> Result<Self> {
        let _span = tracing::info_span!("vfio_open", bdf = %bdf).entered();
        let number = check_openable(env, bdf)?;
        let mut container = Container::open(env)?;
        let group = Group::open(env, number)?;
        container.attach(&group)?;
        let device = group.device(bdf)?;
        Ok(OpenedDevice {
            device,
            group,
            container,
        })
    }
}

/// A device opened the way the host offers: through its VFIO cdev and iommufd where the kernel
/// has them, else through container and group.
#[derive(Debug)]
pub enum HostDevice {
    /// `/dev/vfio/devices/vfioN` bound to `/dev/iommu`.
    Iommufd(IommufdDevice),
    /// Container and group.
    Group(OpenedDevice),
}

impl HostDevice {
    /// Opens VF `bdf`, choosing the interface (see [`cdev_path`]).
    pub fn open(env: &HostEnv, bdf: Bdf) -> Result<Self> {
        match cdev_path(env, bdf)? {
            Some(cdev) => Ok(HostDevice::Iommufd(IommufdDevice::open(env, &cdev, bdf)?)),
            None => Ok(HostDevice::Group(OpenedDevice::open(env, bdf)?)),
        }
    }

    /// The device.
    pub fn device(&self) -> &Device {
        match self {
            HostDevice::Iommufd(d) => d.device(),
            HostDevice::Group(d) => &d.device,
        }
    }

    /// Maps `memory` for device DMA at `iova`, through whichever interface opened the device.
    pub fn map_dma<'a>(&'a self, memory: &'a mut [u8], iova: u64) -> Result<DmaMapping<'a>> {
        match self {
            HostDevice::Iommufd(d) => d.map_dma(memory, iova),
            HostDevice::Group(d) => d.container.map_dma(memory, iova),
        }
    }
}
