//! SR-IOV and QAT PF operations. Each reads first and writes only what differs (so running one
//! twice, or undoing a step that never ran, writes nothing), then verifies by re-reading.

use std::io;

use crate::device::{self, QatState};
use crate::error::{Error, Result};
use crate::holders::VfioHolders;
use crate::pci::Bdf;
use crate::services::Services;
use crate::sysfs::{Sysfs, paths};

fn verify(sysfs: &impl Sysfs, path: std::path::PathBuf, expected: &str) -> Result<()> {
    let found = sysfs.read_trimmed(&path)?;
    if found == expected {
        Ok(())
    } else {
        Err(Error::Verify {
            path,
            found,
            expected: expected.to_owned(),
        })
    }
}

/// Sets `sriov_drivers_autoprobe`. Turn it off before enabling VFs that are meant for vfio-pci,
/// or their default driver claims them first.
pub fn set_autoprobe(sysfs: &impl Sysfs, pf: Bdf, enabled: bool) -> Result<()> {
    let _span = tracing::info_span!("sriov_autoprobe", bdf = %pf, enabled).entered();
    let path = paths::device_attr(pf, "sriov_drivers_autoprobe");
    let value = if enabled { "1" } else { "0" };
    if sysfs.read_trimmed(&path)? == value {
        return Ok(());
    }
    sysfs.write(&path, value)?;
    verify(sysfs, path, value)
}

/// Enables VFs on a PF that has none. QAT PF drivers enable all TotalVFs whatever the count, so
/// `expected` is what the caller predicted (`PhysicalFunction::vfs_after_enable`).
pub fn enable_vfs(sysfs: &impl Sysfs, pf: Bdf, count: u16, expected: u16) -> Result<()> {
    let _span = tracing::info_span!("sriov_enable", bdf = %pf, count).entered();
    let path = paths::device_attr(pf, "sriov_numvfs");
    if sysfs.read_trimmed(&path)? != expected.to_string() {
        sysfs.write(&path, &count.to_string())?;
        verify(sysfs, path, &expected.to_string())?;
    }
    // The kernel creates the virtfn links before the write returns.
    let last = format!("virtfn{}", expected.saturating_sub(1));
    if expected > 0 && sysfs.read_link(&paths::device_attr(pf, &last))?.is_none() {
        return Err(Error::Verify {
            path: paths::device_attr(pf, &last),
            found: "no link".into(),
            expected: "a link to the VF".into(),
        });
    }
    Ok(())
}

/// Refuses when a VFIO user holds one of the PF's VFs: on a real kernel, disabling VFs whose
/// device fd is open blocks until the holder lets go (forever, for a forked child). `force`
/// passes group-only holders, never device holders.
pub fn refuse_if_vfs_held(sysfs: &impl Sysfs, pf: Bdf, force: bool) -> Result<()> {
    VfioHolders::scan(sysfs)?.refuse_to_take(device::list_vfs(sysfs, pf)?, force)
}

/// Disables all VFs of a PF (`sriov_numvfs` ← 0). Unless `force`, refuses while a VFIO user holds
/// one. QAT PFs on older kernels answer EINVAL to 0; there `state=down` then `state=up` removes them.
pub fn disable_vfs(sysfs: &impl Sysfs, pf: Bdf, force: bool) -> Result<()> {
    let _span = tracing::info_span!("sriov_disable", bdf = %pf, force).entered();
    let path = paths::device_attr(pf, "sriov_numvfs");
    if sysfs.read_trimmed(&path)? == "0" {
        return Ok(());
    }
    refuse_if_vfs_held(sysfs, pf, force)?;
    match sysfs.write(&path, "0") {
        Err(Error::Write { source, .. })
            if source.raw_os_error() == Some(nix::libc::EINVAL)
                && device::read_state(sysfs, pf)? == Some(QatState::Up) =>
        {
            tracing::info!(bdf = %pf, "kernel refuses sriov_numvfs=0; cycling qat/state instead");
            set_state(sysfs, pf, QatState::Down, true)?;
            set_state(sysfs, pf, QatState::Up, true)?;
        }
        other => other?,
    }
    verify(sysfs, path, "0")
}

/// Writes a QAT PF's `state`. Taking a PF down removes its VFs, so unless `force` it is refused
/// while a VFIO user holds one.
pub fn set_state(sysfs: &impl Sysfs, pf: Bdf, state: QatState, force: bool) -> Result<()> {
    let _span = tracing::info_span!("qat_state", bdf = %pf, %state).entered();
    if device::read_state(sysfs, pf)? == Some(state) {
        return Ok(());
    }
    if state == QatState::Down {
        refuse_if_vfs_held(sysfs, pf, force)?;
    }
    let path = paths::qat_attr(pf, "state");
    sysfs.write(&path, state.as_str())?;
    verify(sysfs, path, state.as_str())
}

/// Writes a QAT PF's `cfg_services` (the PF must be down) and checks the read-back as a set.
pub fn set_services(sysfs: &impl Sysfs, pf: Bdf, services: Services) -> Result<()> {
    let _span = tracing::info_span!("qat_services", bdf = %pf, %services).entered();
    let path = paths::qat_attr(pf, "cfg_services");
    if device::read_services(sysfs, pf)? == Some(services) {
        return Ok(());
    }
    sysfs.write(&path, &services.to_cfg_string())?;
    let found = device::read_services(sysfs, pf)?;
    if found == Some(services) {
        Ok(())
    } else {
        Err(Error::Verify {
            path,
            found: found.map(Services::to_cfg_string).unwrap_or_default(),
            expected: services.to_cfg_string(),
        })
    }
}

/// Whether an error is the OS error `errno`.
pub fn is_errno(error: &Error, errno: i32) -> bool {
    let source: Option<&io::Error> = match error {
        Error::Write { source, .. } | Error::Read { source, .. } => Some(source),
        _ => None,
    };
    source.and_then(io::Error::raw_os_error) == Some(errno)
}
