//! IOMMU groups: members, VFIO viability, and the `/dev/vfio/<group>` node's owner and mode.

use crate::attributes::read_driver;
use crate::error::{Blocker, Result, SysfsError};
use crate::host::{FileAccess, HostEnv, paths};
use crate::pci::Bdf;

/// Drivers under which a device does not break its IOMMU group's viability for VFIO.
pub(crate) const VFIO_SAFE_DRIVERS: [&str; 4] =
    ["vfio-pci", "qat_vfio_pci", "pci-stub", "pcieport"];

/// The devices of an IOMMU group, sorted.
pub(crate) fn group_members(env: &HostEnv, group: u32) -> Result<Vec<Bdf>> {
    Ok(env
        .list(&paths::iommu_group_devices(group))?
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect())
}

/// The members that keep a group from being viable: bound to a driver that is not VFIO-safe.
/// An empty list means the group can be attached to a VFIO container.
pub(crate) fn viability_blockers(env: &HostEnv, group: u32) -> Result<Vec<Blocker>> {
    let mut blockers = Vec::new();
    for bdf in group_members(env, group)? {
        if let Some(driver) = read_driver(env, bdf)? {
            if !VFIO_SAFE_DRIVERS.contains(&driver.as_str()) {
                blockers.push(Blocker { bdf, driver });
            }
        }
    }
    Ok(blockers)
}

/// Sets the owner (`uid`, when given), group and mode of `/dev/vfio/<group>` and re-reads them.
pub(crate) fn set_vfio_access(
    env: &HostEnv,
    group: u32,
    uid: Option<u32>,
    gid: u32,
    mode: u32,
) -> Result<()> {
    let _span = tracing::info_span!("vfio_access", group, gid, mode).entered();
    let path = paths::vfio_group_node(group);
    let is_done = |a: FileAccess| uid.is_none_or(|u| a.uid == u) && a.gid == gid && a.mode == mode;
    if env.access(&path)?.is_some_and(is_done) {
        return Ok(());
    }
    env.set_access(&path, uid, gid, mode)?;
    match env.access(&path)? {
        Some(a) if is_done(a) => Ok(()),
        found => Err(SysfsError::Verify {
            path,
            found: found.map_or("missing".into(), |a| {
                format!("uid {} gid {} mode {:o}", a.uid, a.gid, a.mode)
            }),
            expected: format!("gid {gid} mode {mode:o}"),
        }
        .into()),
    }
}
