//! Driver binding: unbind, `driver_override`, `drivers_probe`, and the re-read that catches a
//! probe that bound nothing.

use std::path::Path;

use crate::attributes::{read_driver, read_driver_override, read_iommu_group};
use crate::error::{ProvisionError, Result, SysfsError, VfioError};
use crate::holders::VfioHolders;
use crate::host::{HostEnv, paths};
use crate::iommu::viability_blockers;
use crate::pci::Bdf;

/// The VFIO drivers a VF can be handed to VMs with.
pub(crate) const VFIO_DRIVERS: [&str; 2] = ["vfio-pci", "qat_vfio_pci"];

/// Checks that a driver name can only name a directory under /sys/bus/pci/drivers.
pub(crate) fn validate_driver_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ProvisionError::InvalidDriverName(name.to_owned()).into())
    }
}

/// Unbinds a device from its driver, if it has one, and checks that the `driver` link is gone.
pub(crate) fn unbind(env: &HostEnv, bdf: Bdf) -> Result<()> {
    let Some(current) = read_driver(env, bdf)? else {
        return Ok(());
    };
    let _span = tracing::info_span!("unbind", bdf = %bdf, driver = %current).entered();
    env.write(&paths::driver_attr(&current, "unbind"), &bdf.to_string())?;
    if let Some(still) = read_driver(env, bdf)? {
        return Err(SysfsError::Verify {
            path: paths::device_attr(bdf, "driver"),
            found: still,
            expected: "no driver".into(),
        }
        .into());
    }
    Ok(())
}

/// Writes `driver_override`; `None` clears it, which takes a write of "\n" (a zero-length write
/// never reaches the kernel).
pub(crate) fn set_override(env: &HostEnv, bdf: Bdf, value: Option<&str>) -> Result<()> {
    let path = paths::device_attr(bdf, "driver_override");
    env.write(&path, value.unwrap_or("\n"))?;
    let found = read_driver_override(env, bdf)?;
    if found.as_deref() == value {
        Ok(())
    } else {
        Err(SysfsError::Verify {
            path,
            found: found.unwrap_or_else(|| "(null)".into()),
            expected: value.unwrap_or("(null)").to_owned(),
        }
        .into())
    }
}

/// Brings a device to exactly `driver` (bound, or unbound for `None`) and `driver_override`.
///
/// The sequence that works on real kernels: unbind from the current driver, point
/// `driver_override` at the target, write the BDF to `drivers_probe`, then re-read the `driver`
/// link, because `drivers_probe` answers success even when nothing bound. Last, the override is
/// set to its final value.
///
/// Unbinding a device that a VFIO user has open blocks on a real kernel until the holder lets
/// go, so that is refused; a holder of only its group is passed when `force`.
pub(crate) fn set_driver(
    env: &HostEnv,
    bdf: Bdf,
    driver: Option<&str>,
    driver_override: Option<&str>,
    force: bool,
) -> Result<()> {
    let _span =
        tracing::info_span!("bind", bdf = %bdf, driver = driver.unwrap_or("none")).entered();
    let current = read_driver(env, bdf)?;
    if current.as_deref() != driver {
        if current.is_some() {
            VfioHolders::scan(env)?.refuse_to_take([bdf], force)?;
        }
        unbind(env, bdf)?;
        if let Some(target) = driver {
            if read_driver_override(env, bdf)?.as_deref() != Some(target) {
                set_override(env, bdf, Some(target))?;
            }
            env.write(Path::new(paths::DRIVERS_PROBE), &bdf.to_string())?;
            let bound = read_driver(env, bdf)?;
            if bound.as_deref() != Some(target) {
                return Err(SysfsError::Verify {
                    path: paths::device_attr(bdf, "driver"),
                    found: bound.unwrap_or_else(|| "no driver".into()),
                    expected: target.to_owned(),
                }
                .into());
            }
            // Bound to VFIO is only half the job: a VM can use the device only if its IOMMU
            // group is viable, which the kernel checks no earlier than VFIO_GROUP_SET_CONTAINER.
            if VFIO_DRIVERS.contains(&target) {
                if let Some(group) = read_iommu_group(env, bdf)? {
                    let blockers = viability_blockers(env, group)?;
                    if !blockers.is_empty() {
                        return Err(VfioError::GroupNotViable { group, blockers }.into());
                    }
                }
            }
        }
    }
    if read_driver_override(env, bdf)?.as_deref() != driver_override {
        set_override(env, bdf, driver_override)?;
    }
    Ok(())
}
