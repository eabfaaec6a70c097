//! IOMMU groups: members, VFIO viability, and the `/dev/vfio/<group>` node's owner and mode.

use crate::device;
use crate::driver::VFIO_SAFE_DRIVERS;
use crate::error::{Error, Result};
use crate::pci::Bdf;
use crate::sysfs::{FileAccess, Sysfs, paths};

/// A device that makes its group unusable for VFIO, and the driver it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Blocker {
    /// The device.
    pub bdf: Bdf,
    /// Its host driver.
    pub driver: String,
}

/// The devices of an IOMMU group, sorted.
pub fn group_members(sysfs: &impl Sysfs, group: u32) -> Result<Vec<Bdf>> {
    Ok(sysfs
        .list(&paths::iommu_group_devices(group))?
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect())
}

/// The members that keep a group from being viable: bound to a driver that is not VFIO-safe.
/// An empty list means the group can be attached to a VFIO container.
pub fn viability_blockers(sysfs: &impl Sysfs, group: u32) -> Result<Vec<Blocker>> {
    let mut blockers = Vec::new();
    for bdf in group_members(sysfs, group)? {
        if let Some(driver) = device::read_driver(sysfs, bdf)? {
            if !VFIO_SAFE_DRIVERS.contains(&driver.as_str()) {
                blockers.push(Blocker { bdf, driver });
            }
        }
    }
    Ok(blockers)
}

/// Resolves an owner group given as a number or a name in the host's group database.
pub fn resolve_group(sysfs: &impl Sysfs, group: &str) -> Result<u32> {
    if let Ok(gid) = group.parse() {
        return Ok(gid);
    }
    sysfs
        .group_id(group)?
        .ok_or_else(|| Error::UnknownGroup(group.to_owned()))
}

/// Sets the owner (`uid`, when given), group and mode of `/dev/vfio/<group>` and re-reads them.
pub fn set_vfio_access(
    sysfs: &impl Sysfs,
    group: u32,
    uid: Option<u32>,
    gid: u32,
    mode: u32,
) -> Result<()> {
    let _span = tracing::info_span!("vfio_access", group, gid, mode).entered();
    let path = paths::vfio_group_node(group);
    let is_done = |a: FileAccess| uid.is_none_or(|u| a.uid == u) && a.gid == gid && a.mode == mode;
    if sysfs.access(&path)?.is_some_and(is_done) {
        return Ok(());
    }
    sysfs.set_access(&path, uid, gid, mode)?;
    match sysfs.access(&path)? {
        Some(a) if is_done(a) => Ok(()),
        found => Err(Error::Verify {
            path,
            found: found.map_or("missing".into(), |a| {
                format!("uid {} gid {} mode {:o}", a.uid, a.gid, a.mode)
            }),
            expected: format!("gid {gid} mode {mode:o}"),
        }),
    }
}
