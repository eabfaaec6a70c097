//! Snapshots of the host's QAT and SR-IOV devices, read through [`Sysfs`].
//!
//! A snapshot is plain data: discovery reads everything once, planning works on the copy.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::holders::VfioHolders;
use crate::pci::{Bdf, QatFamily};
use crate::services::Services;
use crate::sysfs::{FileAccess, Sysfs, paths};

/// A QAT PF's `qat/state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QatState {
    /// Started: services run, VFs can be enabled.
    Up,
    /// Stopped: services can be configured; no VFs.
    Down,
}

impl QatState {
    /// The word the kernel reads and writes.
    pub fn as_str(self) -> &'static str {
        match self {
            QatState::Up => "up",
            QatState::Down => "down",
        }
    }
}

impl fmt::Display for QatState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QatState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "up" => Ok(QatState::Up),
            "down" => Ok(QatState::Down),
            _ => Err(()),
        }
    }
}

/// PF heartbeat from debugfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Heartbeat {
    /// `0`: the firmware answers.
    Healthy,
    /// `-1`: the heartbeat failed; the PF's VFs should not be handed out.
    Failed,
}

/// QAT RAS error counters (`qat_ras/errors_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RasCounters {
    /// Corrected errors.
    pub correctable: u64,
    /// Uncorrected, non-fatal errors.
    pub nonfatal: u64,
    /// Fatal errors.
    pub fatal: u64,
}

/// What every PCI device snapshot has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PciInfo {
    /// Address.
    pub bdf: Bdf,
    /// PCI vendor id (JSON: 4 hex digits).
    #[serde(serialize_with = "hex_id")]
    pub vendor: u16,
    /// PCI device id (JSON: 4 hex digits).
    #[serde(serialize_with = "hex_id")]
    pub device: u16,
    /// QAT family, `null` for other devices.
    #[serde(rename = "generation")]
    pub family: Option<&'static QatFamily>,
    /// NUMA node; `null` when the kernel reports -1.
    pub numa_node: Option<u32>,
    /// Bound driver (directory name), `null` when unbound.
    pub driver: Option<String>,
    /// `driver_override`, `null` when unset (the kernel reads `(null)`).
    pub driver_override: Option<String>,
    /// IOMMU group number, `null` without an IOMMU.
    pub iommu_group: Option<u32>,
}

fn hex_id<S: serde::Serializer>(id: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{id:04x}"))
}

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
    pub fn discover(sysfs: &impl Sysfs, explicit_pfs: &[Bdf]) -> Result<Host> {
        let _span = tracing::debug_span!("discover").entered();
        let holders = VfioHolders::scan(sysfs)?;
        let mut pfs = BTreeMap::new();
        let mut guest_vfs = Vec::new();
        for name in sysfs.list(Path::new(paths::PCI_DEVICES))? {
            let Ok(bdf) = name.parse::<Bdf>() else {
                continue;
            };
            // VFs with a visible PF are read through their PF, named PFs below: skip them here
            // rather than read them twice.
            if explicit_pfs.contains(&bdf)
                || sysfs
                    .read_link(&paths::device_attr(bdf, "physfn"))?
                    .is_some()
            {
                continue;
            }
            let (vendor, device) = read_ids(sysfs, bdf)?;
            if QatFamily::by_pf_device(vendor, device).is_some() {
                pfs.insert(bdf, read_pf(sysfs, bdf, &holders, false)?);
            } else if QatFamily::by_vf_device(vendor, device).is_some() {
                guest_vfs.push(read_vf(sysfs, bdf, &holders)?);
            }
        }
        for &bdf in explicit_pfs {
            // Read as named: a named PF without SR-IOV is an error, not a PF with 0 VFs.
            pfs.insert(bdf, read_pf(sysfs, bdf, &holders, true)?);
        }
        Ok(Host {
            pfs: pfs.into_values().collect(),
            guest_vfs,
            unidentified_vfio_users: holders.unidentified,
            loaded_drivers: sysfs.list(Path::new(paths::PCI_DRIVERS))?,
            vfio_pci_denylist_disabled: sysfs
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
pub fn read_pf(
    sysfs: &impl Sysfs,
    bdf: Bdf,
    holders: &VfioHolders,
    named: bool,
) -> Result<PhysicalFunction> {
    if !sysfs.exists(&paths::device(bdf)) {
        return Err(Error::NoSuchDevice(bdf));
    }
    let pci = read_pci(sysfs, bdf)?;
    let attr = |name: &str| paths::device_attr(bdf, name);
    let sriov_totalvfs = match sysfs.read_opt::<u16>(&attr("sriov_totalvfs"))? {
        Some(total) => total,
        None if named => return Err(Error::NotSriov(bdf)),
        None => {
            tracing::warn!(bdf = %bdf, "QAT PF without SR-IOV (disabled in firmware?)");
            0
        }
    };
    let has_qat_dir = sysfs.exists(&paths::qat_attr(bdf, "state"));
    let vfs = list_vfs(sysfs, bdf)?
        .into_iter()
        .map(|vf| read_vf(sysfs, vf, holders))
        .collect::<Result<Vec<_>>>()?;
    Ok(PhysicalFunction {
        sriov_totalvfs,
        sriov_numvfs: sysfs.read_opt(&attr("sriov_numvfs"))?.unwrap_or(0),
        sriov_drivers_autoprobe: sysfs.read_opt::<u8>(&attr("sriov_drivers_autoprobe"))? != Some(0),
        sriov_offset: sysfs.read_opt(&attr("sriov_offset"))?.unwrap_or(1),
        sriov_stride: sysfs.read_opt(&attr("sriov_stride"))?.unwrap_or(1),
        state: if has_qat_dir {
            read_state(sysfs, bdf)?
        } else {
            None
        },
        services: if has_qat_dir {
            read_services(sysfs, bdf).unwrap_or_else(|e| {
                // A service this version does not know (a newer kernel's) is reported, not fatal.
                tracing::warn!(bdf = %bdf, error = %e, "unreadable cfg_services");
                None
            })
        } else {
            None
        },
        auto_reset: if has_qat_dir {
            sysfs
                .read_opt::<String>(&paths::qat_attr(bdf, "auto_reset"))?
                .map(|v| v == "on")
        } else {
            None
        },
        heartbeat: match pci.family {
            Some(family) => read_heartbeat(sysfs, family.pf_driver, bdf)?,
            None => None,
        },
        ras: read_ras(sysfs, bdf)?,
        vfs,
        pci,
    })
}

/// Reads the PF's QAT `state`; `None` where the attribute does not exist.
pub fn read_state(sysfs: &impl Sysfs, bdf: Bdf) -> Result<Option<QatState>> {
    sysfs.read_opt(&paths::qat_attr(bdf, "state"))
}

/// Reads the PF's `cfg_services` as a set; `None` where the attribute does not exist.
pub fn read_services(sysfs: &impl Sysfs, bdf: Bdf) -> Result<Option<Services>> {
    let path = paths::qat_attr(bdf, "cfg_services");
    match sysfs.read_opt::<String>(&path)? {
        None => Ok(None),
        Some(text) => Services::parse_list(&text)
            .map(Some)
            .map_err(|_| Error::Parse {
                path,
                content: text,
            }),
    }
}

fn read_heartbeat(sysfs: &impl Sysfs, pf_driver: &str, bdf: Bdf) -> Result<Option<Heartbeat>> {
    // debugfs is often unmounted or unreadable: a missing file is "unknown", not an error.
    let path = paths::heartbeat_status(pf_driver, bdf);
    Ok(match sysfs.read_opt::<i32>(&path) {
        Ok(Some(0)) => Some(Heartbeat::Healthy),
        Ok(Some(_)) => Some(Heartbeat::Failed),
        Ok(None) | Err(Error::Read { .. }) => None,
        Err(e) => return Err(e),
    })
}

fn read_ras(sysfs: &impl Sysfs, bdf: Bdf) -> Result<Option<RasCounters>> {
    let read = |name| sysfs.read_opt::<u64>(&paths::qat_ras(bdf, name));
    Ok(
        match (
            read("errors_correctable")?,
            read("errors_nonfatal")?,
            read("errors_fatal")?,
        ) {
            (Some(correctable), Some(nonfatal), Some(fatal)) => Some(RasCounters {
                correctable,
                nonfatal,
                fatal,
            }),
            _ => None,
        },
    )
}

/// Reads a VF.
pub fn read_vf(sysfs: &impl Sysfs, bdf: Bdf, holders: &VfioHolders) -> Result<VirtualFunction> {
    let pci = read_pci(sysfs, bdf)?;
    let physfn = sysfs
        .link_name(&paths::device_attr(bdf, "physfn"))?
        .and_then(|name| name.parse().ok());
    let vfio_node = match pci.iommu_group {
        Some(group) => sysfs.access(&paths::vfio_group_node(group))?,
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

fn read_ids(sysfs: &impl Sysfs, bdf: Bdf) -> Result<(u16, u16)> {
    let hex = |name| -> Result<u16> {
        let path = paths::device_attr(bdf, name);
        let text = sysfs.read_trimmed(&path)?;
        u16::from_str_radix(text.trim_start_matches("0x"), 16).map_err(|_| Error::Parse {
            path,
            content: text,
        })
    };
    Ok((hex("vendor")?, hex("device")?))
}

/// Reads what every device has. The device must exist.
pub fn read_pci(sysfs: &impl Sysfs, bdf: Bdf) -> Result<PciInfo> {
    let (vendor, device) = read_ids(sysfs, bdf)?;
    let family =
        QatFamily::by_pf_device(vendor, device).or_else(|| QatFamily::by_vf_device(vendor, device));
    let numa_node = sysfs
        .read_opt::<i32>(&paths::device_attr(bdf, "numa_node"))?
        .and_then(|n| u32::try_from(n).ok());
    Ok(PciInfo {
        bdf,
        vendor,
        device,
        family,
        numa_node,
        driver: read_driver(sysfs, bdf)?,
        driver_override: read_driver_override(sysfs, bdf)?,
        iommu_group: read_iommu_group(sysfs, bdf)?,
    })
}

/// The bound driver's directory name, from the `driver` link.
pub fn read_driver(sysfs: &impl Sysfs, bdf: Bdf) -> Result<Option<String>> {
    sysfs.link_name(&paths::device_attr(bdf, "driver"))
}

/// `driver_override`, `None` when unset (`(null)`) or absent. Read exactly, less the newline
/// sysfs adds: the kernel keeps what was written up to a newline, spaces included, and a
/// rollback must write back the same.
pub fn read_driver_override(sysfs: &impl Sysfs, bdf: Bdf) -> Result<Option<String>> {
    let text = match sysfs.read(&paths::device_attr(bdf, "driver_override")) {
        Ok(text) => text,
        Err(Error::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let value = text.strip_suffix('\n').unwrap_or(&text);
    Ok((value != "(null)" && !value.is_empty()).then(|| value.to_owned()))
}

/// The device's IOMMU group number, from the `iommu_group` link.
pub fn read_iommu_group(sysfs: &impl Sysfs, bdf: Bdf) -> Result<Option<u32>> {
    let path = paths::device_attr(bdf, "iommu_group");
    match sysfs.link_name(&path)? {
        None => Ok(None),
        Some(name) => name.parse().map(Some).map_err(|_| Error::Parse {
            path,
            content: name,
        }),
    }
}

/// The PF's VFs from its `virtfnN` links, in numeric `N` order.
pub fn list_vfs(sysfs: &impl Sysfs, pf: Bdf) -> Result<Vec<Bdf>> {
    let mut vfs = Vec::new();
    for link in sysfs.list(&paths::device(pf))? {
        let Some(index) = link
            .strip_prefix("virtfn")
            .and_then(|i| i.parse::<u32>().ok())
        else {
            continue;
        };
        let path = paths::device_attr(pf, &link);
        let vf = sysfs
            .link_name(&path)?
            .and_then(|name| name.parse::<Bdf>().ok())
            .ok_or_else(|| Error::Parse {
                path,
                content: "not a VF link".into(),
            })?;
        vfs.push((index, vf));
    }
    vfs.sort_unstable();
    Ok(vfs.into_iter().map(|(_, vf)| vf).collect())
}
