//! One reader per sysfs attribute of a PCI device, and the identity every device snapshot has
//! ([`PciInfo`]). Readers return `None` where the attribute does not exist.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Result, SysfsError};
use crate::host::{HostEnv, paths};
use crate::pci::{Bdf, QatFamily};

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

pub(crate) fn read_heartbeat(
    env: &HostEnv,
    pf_driver: &str,
    bdf: Bdf,
) -> Result<Option<Heartbeat>> {
    // debugfs is often unmounted or unreadable: a missing file is "unknown", not an error.
    let path = paths::heartbeat_status(pf_driver, bdf);
    Ok(match env.read_opt::<i32>(&path) {
        Ok(Some(0)) => Some(Heartbeat::Healthy),
        Ok(Some(_)) => Some(Heartbeat::Failed),
        Ok(None) | Err(crate::Error::Sysfs(SysfsError::Read { .. })) => None,
        Err(e) => return Err(e),
    })
}

pub(crate) fn read_ras(env: &HostEnv, bdf: Bdf) -> Result<Option<RasCounters>> {
    let read = |name| env.read_opt::<u64>(&paths::qat_ras(bdf, name));
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

pub(crate) fn read_ids(env: &HostEnv, bdf: Bdf) -> Result<(u16, u16)> {
    let hex = |name| -> Result<u16> {
        let path = paths::device_attr(bdf, name);
        let text = env.read_trimmed(&path)?;
        u16::from_str_radix(text.trim_start_matches("0x"), 16).map_err(|_| {
            SysfsError::Parse {
                path,
                content: text,
            }
            .into()
        })
    };
    Ok((hex("vendor")?, hex("device")?))
}

/// Reads what every device has. The device must exist.
pub(crate) fn read_pci(env: &HostEnv, bdf: Bdf) -> Result<PciInfo> {
    let (vendor, device) = read_ids(env, bdf)?;
    let family =
        QatFamily::by_pf_device(vendor, device).or_else(|| QatFamily::by_vf_device(vendor, device));
    let numa_node = env
        .read_opt::<i32>(&paths::device_attr(bdf, "numa_node"))?
        .and_then(|n| u32::try_from(n).ok());
    Ok(PciInfo {
        bdf,
        vendor,
        device,
        family,
        numa_node,
        driver: read_driver(env, bdf)?,
        driver_override: read_driver_override(env, bdf)?,
        iommu_group: read_iommu_group(env, bdf)?,
    })
}

/// The bound driver's directory name, from the `driver` link.
pub(crate) fn read_driver(env: &HostEnv, bdf: Bdf) -> Result<Option<String>> {
    env.link_name(&paths::device_attr(bdf, "driver"))
}

/// `driver_override`, `None` when unset (`(null)`) or absent. Read exactly, less the newline
/// sysfs adds: the kernel keeps what was written up to a newline, spaces included, and a
/// rollback must write back the same.
pub(crate) fn read_driver_override(env: &HostEnv, bdf: Bdf) -> Result<Option<String>> {
    let text = match env.read(&paths::device_attr(bdf, "driver_override")) {
        Ok(text) => text,
        Err(crate::Error::Sysfs(e)) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let value = text.strip_suffix('\n').unwrap_or(&text);
    Ok((value != "(null)" && !value.is_empty()).then(|| value.to_owned()))
}

/// The device's IOMMU group number, from the `iommu_group` link.
pub(crate) fn read_iommu_group(env: &HostEnv, bdf: Bdf) -> Result<Option<u32>> {
    let path = paths::device_attr(bdf, "iommu_group");
    match env.link_name(&path)? {
        None => Ok(None),
        Some(name) => name.parse().map(Some).map_err(|_| {
            SysfsError::Parse {
                path,
                content: name,
            }
            .into()
        }),
    }
}

/// The PF's VFs from its `virtfnN` links, in numeric `N` order.
pub(crate) fn list_vfs(env: &HostEnv, pf: Bdf) -> Result<Vec<Bdf>> {
    let mut vfs = Vec::new();
    for link in env.list(&paths::device(pf))? {
        let Some(index) = link
            .strip_prefix("virtfn")
            .and_then(|i| i.parse::<u32>().ok())
        else {
            continue;
        };
        let path = paths::device_attr(pf, &link);
        let vf = env
            .link_name(&path)?
            .and_then(|name| name.parse::<Bdf>().ok())
            .ok_or_else(|| SysfsError::Parse {
                path,
                content: "not a VF link".into(),
            })?;
        vfs.push((index, vf));
    }
    vfs.sort_unstable();
    Ok(vfs.into_iter().map(|(_, vf)| vf).collect())
}

impl PciInfo {
    /// Reads one device's identity, driver and placement.
    pub fn read(env: &HostEnv, bdf: Bdf) -> Result<PciInfo> {
        if !env.exists(&paths::device(bdf)) {
            return Err(SysfsError::NoSuchDevice(bdf).into());
        }
        read_pci(env, bdf)
    }
}

/// Re-reads an attribute after a write and checks that it took.
pub(crate) fn verify(env: &HostEnv, path: PathBuf, expected: &str) -> Result<()> {
    let found = env.read_trimmed(&path)?;
    if found == expected {
        Ok(())
    } else {
        Err(SysfsError::Verify {
            path,
            found,
            expected: expected.to_owned(),
        }
        .into())
    }
}
