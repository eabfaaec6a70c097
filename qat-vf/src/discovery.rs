//! Discovery: snapshots of the host's QAT and SR-IOV devices, read through a [`HostEnv`].
//!
//! A snapshot is plain data: discovery reads everything once, planning works on the copy.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::attributes::{
    Heartbeat, PciInfo, RasCounters, list_vfs, read_heartbeat, read_ids, read_pci, read_ras,
};
use crate::error::{ProvisionError, Result, SysfsError};
use crate::holders::VfioHolders;
use crate::host::{FileAccess, HostEnv, paths};
use crate::pci::{Bdf, QatFamily};
use crate::qat::{QatState, read_services, read_state};
use crate::services::Services;

/// A physical function with SR-IOV, QAT or named explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhysicalFunction {
    /// Identity, driver and placement.
    #[serde(flatten)]
    pub pci: PciInfo,
    /// `sriov_totalvfs`: how many VFs the PF offers.
    pub sriov_totalvfs: u16,
    /// `sriov_numvfs`: how many are enabled.
    pub sriov_numvfs: u16,
    /// `sriov_drivers_autoprobe`: whether new VFs get probed by their default driver.
    pub sriov_drivers_autoprobe: bool,
    /// `sriov_offset`: routing-id offset of the first VF.
    pub sriov_offset: u16,
    /// `sriov_stride`: routing-id distance between VFs.
    pub sriov_stride: u16,
    /// QAT `state`, `null` for gen2 and other devices.
    pub state: Option<QatState>,
    /// QAT `cfg_services`, `null` where there is none.
    pub services: Option<Services>,
    /// QAT `auto_reset`, `null` where there is none.
    pub auto_reset: Option<bool>,
    /// Heartbeat, when debugfs is readable.
    pub heartbeat: Option<Heartbeat>,
    /// RAS counters, where the driver has them.
    pub ras: Option<RasCounters>,
    /// The enabled VFs, in `virtfnN` order.
    pub vfs: Vec<VirtualFunction>,
}

/// A virtual function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualFunction {
    /// Identity, driver and placement.
    #[serde(flatten)]
    pub pci: PciInfo,
    /// The parent PF; `null` inside a guest, where the PF is not visible.
    pub physfn: Option<Bdf>,
    /// Owner and mode of `/dev/vfio/<group>`, when that node exists.
    pub vfio_node: Option<FileAccess>,
    /// Processes that have the VF's VFIO group or device open.
    pub held_by: Vec<u32>,
    /// Those that have the device itself open: taking the VF away would block on them.
    pub device_open_by: Vec<u32>,
}

impl PhysicalFunction {
    /// The PF's QAT family, if it is a QAT device.
    pub fn family(&self) -> Option<&'static QatFamily> {
        self.pci.family
    }

    /// Addresses the VFs get when `count` are enabled (PCIe SR-IOV offset and stride).
    pub fn predicted_vfs(&self, count: u16) -> Vec<Bdf> {
        (0..count)
            .filter_map(|i| self.pci.bdf.virtfn(self.sriov_offset, self.sriov_stride, i))
            .collect()
    }

    /// The number of VFs enabling gives: QAT drivers enable all of them whatever is written.
    pub fn vfs_after_enable(&self, requested: u16) -> u16 {
        if self.family().is_some() {
            self.sriov_totalvfs
        } else {
            requested
        }
    }
}

/// Everything discovery found on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    /// QAT PFs and explicitly named SR-IOV PFs, by address.
    pub pfs: Vec<PhysicalFunction>,
    /// QAT VFs without a visible PF (inside a guest).
    pub guest_vfs: Vec<VirtualFunction>,
    /// Processes holding a VFIO device that cannot be tied to a device: they may hold any VF.
    pub unidentified_vfio_users: Vec<u32>,
    /// Driver directories under /sys/bus/pci/drivers.
    pub loaded_drivers: Vec<String>,
    /// `vfio-pci.disable_denylist`; `false` when the module parameter cannot be read.
    pub vfio_pci_denylist_disabled: bool,
}

impl Host {
    /// Discovers every QAT PF, the SR-IOV PFs named in `explicit_pfs` (generic mode), and QAT
    /// VFs without a PF (guest mode). A named PF that does not exist or has no SR-IOV is an error.
    pub fn discover(env: &HostEnv, explicit_pfs: &[Bdf]) -> Result<Host> {
        let _span = tracing::debug_span!("discover").entered();
        let holders = VfioHolders::scan(env)?;
        let mut pfs = BTreeMap::new();
        let mut guest_vfs = Vec::new();
        for name in env.list(Path::new(paths::PCI_DEVICES))? {
            let Ok(bdf) = name.parse::<Bdf>() else {
                continue;
            };
            // VFs with a visible PF are read through their PF, named PFs below: skip them here
            // rather than read them twice.
            if explicit_pfs.contains(&bdf)
                || env.read_link(&paths::device_attr(bdf, "physfn"))?.is_some()
            {
                continue;
            }
            let (vendor, device) = read_ids(env, bdf)?;
            if QatFamily::by_pf_device(vendor, device).is_some() {
                pfs.insert(bdf, read_pf(env, bdf, &holders, false)?);
            } else if QatFamily::by_vf_device(vendor, device).is_some() {
                guest_vfs.push(read_vf(env, bdf, &holders)?);
            }
        }
        for &bdf in explicit_pfs {
            // Read as named: a named PF without SR-IOV is an error, not a PF with 0 VFs.
            pfs.insert(bdf, read_pf(env, bdf, &holders, true)?);
        }
        Ok(Host {
            pfs: pfs.into_values().collect(),
            guest_vfs,
            unidentified_vfio_users: holders.unidentified,
            loaded_drivers: env.list(Path::new(paths::PCI_DRIVERS))?,
            vfio_pci_denylist_disabled: env
                .read_opt::<String>(Path::new(paths::VFIO_PCI_DISABLE_DENYLIST))?
                .is_some_and(|v| v == "Y" || v == "1"),
        })
    }

    /// The PF at `bdf`, if discovered.
    pub fn pf(&self, bdf: Bdf) -> Option<&PhysicalFunction> {
        self.pfs.iter().find(|pf| pf.pci.bdf == bdf)
    }

    /// Whether a driver directory exists.
    pub fn driver_loaded(&self, driver: &str) -> bool {
        self.loaded_drivers.iter().any(|d| d == driver)
    }
}

/// Reads a PF. A device that does not exist is an error; one without SR-IOV is an error when
/// `named` (the operator asked for it) and reads as offering 0 VFs otherwise, so that one odd
/// device does not stop discovery of the rest.
pub(crate) fn read_pf(
    env: &HostEnv,
    bdf: Bdf,
    holders: &VfioHolders,
    named: bool,
) -> Result<PhysicalFunction> {
    if !env.exists(&paths::device(bdf)) {
        return Err(SysfsError::NoSuchDevice(bdf).into());
    }
    let pci = read_pci(env, bdf)?;
    let attr = |name: &str| paths::device_attr(bdf, name);
    let sriov_totalvfs = match env.read_opt::<u16>(&attr("sriov_totalvfs"))? {
        Some(total) => total,
        None if named => return Err(ProvisionError::NotSriov(bdf).into()),
        None => {
            tracing::warn!(bdf = %bdf, "QAT PF without SR-IOV (disabled in firmware?)");
            0
        }
    };
    let has_qat_dir = env.exists(&paths::qat_attr(bdf, "state"));
    let vfs = list_vfs(env, bdf)?
        .into_iter()
        .map(|vf| read_vf(env, vf, holders))
        .collect::<Result<Vec<_>>>()?;
    Ok(PhysicalFunction {
        sriov_totalvfs,
        sriov_numvfs: env.read_opt(&attr("sriov_numvfs"))?.unwrap_or(0),
        sriov_drivers_autoprobe: env.read_opt::<u8>(&attr("sriov_drivers_autoprobe"))? != Some(0),
        sriov_offset: env.read_opt(&attr("sriov_offset"))?.unwrap_or(1),
        sriov_stride: env.read_opt(&attr("sriov_stride"))?.unwrap_or(1),
        state: if has_qat_dir {
            read_state(env, bdf)?
        } else {
            None
        },
        services: if has_qat_dir {
            read_services(env, bdf).unwrap_or_else(|e| {
                // A service this version does not know (a newer kernel's) is reported, not fatal.
                tracing::warn!(bdf = %bdf, error = %e, "unreadable cfg_services");
                None
            })
        } else {
            None
        },
        auto_reset: if has_qat_dir {
            env.read_opt::<String>(&paths::qat_attr(bdf, "auto_reset"))?
                .map(|v| v == "on")
        } else {
            None
        },
        heartbeat: match pci.family {
            Some(family) => read_heartbeat(env, family.pf_driver, bdf)?,
            None => None,
        },
        ras: read_ras(env, bdf)?,
        vfs,
        pci,
    })
}

/// Reads a VF.
pub(crate) fn read_vf(env: &HostEnv, bdf: Bdf, holders: &VfioHolders) -> Result<VirtualFunction> {
    let pci = read_pci(env, bdf)?;
    let physfn = env
        .link_name(&paths::device_attr(bdf, "physfn"))?
        .and_then(|name| name.parse().ok());
    let vfio_node = match pci.iommu_group {
        Some(group) => env.access(&paths::vfio_group_node(group))?,
        None => None,
    };
    Ok(VirtualFunction {
        pci,
        physfn,
        vfio_node,
        held_by: holders.of(bdf),
        device_open_by: holders.device_open.get(&bdf).cloned().unwrap_or_default(),
    })
}
