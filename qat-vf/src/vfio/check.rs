//! What a VM manager needs to know about a VF before it hands it over: one call that opens it
//! the way QEMU does and reports every part, failures included.

use std::path::PathBuf;

use serde::Serialize;

use super::caps::{IommuInfo, RegionInfo};
use super::dma::DmaBuffer;
use super::iommufd::cdev_path;
use super::{OpenedDevice, check_is_vf};
use crate::attributes::{read_driver, read_iommu_group};
use crate::error::{Blocker, Result, VfioError};
use crate::host::{DeviceInfo, FileAccess, HostEnv, IrqInfo, paths};
use crate::iommu::viability_blockers;
use crate::pci::Bdf;

/// What qatlib asks to pin per VF.
pub const QATLIB_MEMLOCK_PER_VF: u64 = 16 << 20;

/// The report of [`check`].
#[derive(Debug, Clone, Serialize)]
pub struct VfioCheck {
    /// The VF.
    pub vf: Bdf,
    /// Its driver.
    pub driver: Option<String>,
    /// Its IOMMU group.
    pub iommu_group: Option<u32>,
    /// Owner and mode of `/dev/vfio/<group>`.
    pub vfio_node: Option<FileAccess>,
    /// Devices of the group bound to host drivers (empty: viable).
    pub blockers: Vec<Blocker>,
    /// The VFIO cdev, where the kernel has iommufd.
    pub cdev: Option<PathBuf>,
    /// Device flags, region and irq counts, once opened.
    pub device: Option<DeviceInfo>,
    /// Whether `VFIO_DEVICE_RESET` is supported.
    pub resettable: Option<bool>,
    /// Every region.
    pub regions: Vec<RegionInfo>,
    /// Every irq index.
    pub irqs: Vec<IrqInfo>,
    /// The container's IOMMU.
    pub iommu: Option<IommuInfo>,
    /// Whether a one-page DMA map and unmap worked (`null`: not tried, RLIMIT_MEMLOCK too low).
    pub dma_map: Option<bool>,
    /// Soft RLIMIT_MEMLOCK of this process (`null`: unlimited).
    pub memlock_limit: Option<u64>,
    /// This process has CAP_IPC_LOCK (root), which lifts the limit.
    pub cap_ipc_lock: bool,
    /// The limit allows what qatlib pins for one VF (16 MiB).
    pub memlock_enough_for_qatlib: bool,
    /// The first thing that failed, with its causes.
    pub error: Option<String>,
}

impl VfioCheck {
    /// Whether a VM manager can use the VF.
    pub fn usable(&self) -> bool {
        self.error.is_none()
    }
}

/// Opens `vf` through VFIO and reports what a VM manager needs. Bad input (no such device, an
/// SR-IOV PF) is an error; everything else, unusable VFs included, is in the report. The memlock
/// figures are those of the host's process view: the simulated process on a simulated host.
pub fn check(env: &HostEnv, vf: Bdf) -> Result<VfioCheck> {
    check_is_vf(env, vf)?;
    let iommu_group = read_iommu_group(env, vf)?;
    let memlock = env.memlock();
    let mut report = VfioCheck {
        vf,
        driver: read_driver(env, vf)?,
        iommu_group,
        vfio_node: match iommu_group {
            Some(group) => env.access(&paths::vfio_group_node(group))?,
            None => None,
        },
        blockers: match iommu_group {
            Some(group) => viability_blockers(env, group)?,
            None => Vec::new(),
        },
        cdev: cdev_path(env, vf)?,
        device: None,
        resettable: None,
        regions: Vec::new(),
        irqs: Vec::new(),
        iommu: None,
        dma_map: None,
        memlock_limit: memlock.limit,
        cap_ipc_lock: memlock.cap_ipc_lock,
        memlock_enough_for_qatlib: memlock.check(QATLIB_MEMLOCK_PER_VF).is_ok(),
        error: None,
    };
    let opened = match OpenedDevice::open(env, vf) {
        Ok(opened) => opened,
        Err(e) => {
            report.error = Some(e.chain());
            return Ok(report);
        }
    };
    let mut fill = || -> Result<()> {
        report.device = Some(opened.device.info());
        report.resettable = Some(opened.device.resettable());
        report.regions = opened.device.regions()?;
        report.irqs = opened.device.irqs()?;
        let iommu = opened.container.iommu_info()?;
        // One IOMMU page at the start of the first usable range: what any VM manager can map.
        let page = iommu.min_page_size();
        let iova = iommu
            .iova_ranges
            .first()
            .map_or(page, |r| r.start().div_ceil(page).max(1) * page);
        report.iommu = Some(iommu);
        let mut buffer = DmaBuffer::new(page as usize)?;
        match opened
            .container
            .map_dma(buffer.as_mut_slice(), iova)
            .and_then(|m| m.unmap())
        {
            Ok(_) => report.dma_map = Some(true),
            // This process's limit, not the VF's fault: reported in memlock_*, not as unusable.
            Err(crate::Error::Vfio(VfioError::MemlockTooLow { .. })) => report.dma_map = None,
            Err(e) => {
                report.dma_map = Some(false);
                return Err(e);
            }
        }
        Ok(())
    };
    if let Err(e) = fill() {
        report.error = Some(e.chain());
    }
    Ok(report)
}
