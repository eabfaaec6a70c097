//! SR-IOV operations on a PF. Each reads first and writes only what differs (so running one
//! twice, or undoing a step that never ran, writes nothing), then verifies by re-reading.

use crate::attributes::{list_vfs, verify};
use crate::error::{Result, SysfsError};
use crate::holders::VfioHolders;
use crate::host::{HostEnv, paths};
use crate::pci::Bdf;
use crate::qat::{QatState, read_state, set_state};

/// Sets `sriov_drivers_autoprobe`. Turn it off before enabling VFs that are meant for vfio-pci,
/// or their default driver claims them first.
pub(crate) fn set_autoprobe(env: &HostEnv, pf: Bdf, enabled: bool) -> Result<()> {
    let _span = tracing::info_span!("sriov_autoprobe", bdf = %pf, enabled).entered();
    let path = paths::device_attr(pf, "sriov_drivers_autoprobe");
    let value = if enabled { "1" } else { "0" };
    if env.read_trimmed(&path)? == value {
        return Ok(());
    }
    env.write(&path, value)?;
    verify(env, path, value)
}

/// Enables VFs on a PF that has none. QAT PF drivers enable all TotalVFs whatever the count, so
/// `expected` is what the caller predicted (`PhysicalFunction::vfs_after_enable`).
pub(crate) fn enable_vfs(env: &HostEnv, pf: Bdf, count: u16, expected: u16) -> Result<()> {
    let _span = tracing::info_span!("sriov_enable", bdf = %pf, count).entered();
    let path = paths::device_attr(pf, "sriov_numvfs");
    if env.read_trimmed(&path)? != expected.to_string() {
        env.write(&path, &count.to_string())?;
        verify(env, path, &expected.to_string())?;
    }
    // The kernel creates the virtfn links before the write returns.
    let last = format!("virtfn{}", expected.saturating_sub(1));
    if expected > 0 && env.read_link(&paths::device_attr(pf, &last))?.is_none() {
        return Err(SysfsError::Verify {
            path: paths::device_attr(pf, &last),
            found: "no link".into(),
            expected: "a link to the VF".into(),
        }
        .into());
    }
    Ok(())
}

/// Refuses when a VFIO user holds one of the PF's VFs: on a real kernel, disabling VFs whose
/// device fd is open blocks until the holder lets go (forever, for a forked child). `force`
/// passes group-only holders, never device holders.
pub(crate) fn refuse_if_vfs_held(env: &HostEnv, pf: Bdf, force: bool) -> Result<()> {
    VfioHolders::scan(env)?.refuse_to_take(list_vfs(env, pf)?, force)
}

/// Disables all VFs of a PF (`sriov_numvfs` ← 0). Unless `force`, refuses while a VFIO user holds
/// one. QAT PFs on older kernels answer EINVAL to 0; there `state=down` then `state=up` removes them.
pub(crate) fn disable_vfs(env: &HostEnv, pf: Bdf, force: bool) -> Result<()> {
    let _span = tracing::info_span!("sriov_disable", bdf = %pf, force).entered();
    let path = paths::device_attr(pf, "sriov_numvfs");
    if env.read_trimmed(&path)? == "0" {
        return Ok(());
    }
    refuse_if_vfs_held(env, pf, force)?;
    match env.write(&path, "0") {
        Err(e)
            if e.raw_os_error() == Some(nix::libc::EINVAL)
                && read_state(env, pf)? == Some(QatState::Up) =>
        {
            tracing::info!(bdf = %pf, "kernel refuses sriov_numvfs=0; cycling qat/state instead");
            set_state(env, pf, QatState::Down, true)?;
            set_state(env, pf, QatState::Up, true)?;
        }
        other => other?,
    }
    verify(env, path, "0")
}
