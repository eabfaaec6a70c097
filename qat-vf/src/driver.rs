//! Driver binding: unbind, `driver_override`, `drivers_probe`, and the re-read that catches a
//! probe that bound nothing.

use std::path::Path;

use crate::device;
use crate::error::{Error, Result};
use crate::holders::VfioHolders;
use crate::pci::Bdf;
use crate::sysfs::{Sysfs, paths};

/// The VFIO drivers a VF can be handed to VMs with.
pub const VFIO_DRIVERS: [&str; 2] = ["vfio-pci", "qat_vfio_pci"];

/// Drivers under which a device does not break its IOMMU group's viability for VFIO.
pub const VFIO_SAFE_DRIVERS: [&str; 4] = ["vfio-pci", "qat_vfio_pci", "pci-stub", "pcieport"];

/// Checks that a driver name can only name a directory under /sys/bus/pci/drivers.
pub fn validate_driver_name(name: &str) -> Result<()> {
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
        Err(Error::InvalidDriverName(name.to_owned()))
    }
}

/// Unbinds a device from its driver, if it has one, and checks that the `driver` link is gone.
pub fn unbind(sysfs: &impl Sysfs, bdf: Bdf) -> Result<()> {
    let Some(current) = device::read_driver(sysfs, bdf)? else {
        return Ok(());
    };
    let _span = tracing::info_span!("unbind", bdf = %bdf, driver = %current).entered();
    sysfs.write(&paths::driver_attr(&current, "unbind"), &bdf.to_string())?;
    if let Some(still) = device::read_driver(sysfs, bdf)? {
        return Err(Error::Verify {
            path: paths::device_attr(bdf, "driver"),
            found: still,
            expected: "no driver".into(),
        });
    }
    Ok(())
}

/// Writes `driver_override`; `None` clears it, which takes a write of "\n" (a zero-length write
/// never reaches the kernel).
pub fn set_override(sysfs: &impl Sysfs, bdf: Bdf, value: Option<&str>) -> Result<()> {
    let path = paths::device_attr(bdf, "driver_override");
    sysfs.write(&path, value.unwrap_or("\n"))?;
    let found = device::read_driver_override(sysfs, bdf)?;
    if found.as_deref() == value {
        Ok(())
    } else {
        Err(Error::Verify {
            path,
            found: found.unwrap_or_else(|| "(null)".into()),
            expected: value.unwrap_or("(null)").to_owned(),
        })
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
pub fn set_driver(
    sysfs: &impl Sysfs,
    bdf: Bdf,
    driver: Option<&str>,
    driver_override: Option<&str>,
    force: bool,
) -> Result<()> {
    let _span =
        tracing::info_span!("bind", bdf = %bdf, driver = driver.unwrap_or("none")).entered();
    let current = device::read_driver(sysfs, bdf)?;
    if current.as_deref() != driver {
        if current.is_some() {
            VfioHolders::scan(sysfs)?.refuse_to_take([bdf], force)?;
        }
        unbind(sysfs, bdf)?;
        if let Some(target) = driver {
            if device::read_driver_override(sysfs, bdf)?.as_deref() != Some(target) {
                set_override(sysfs, bdf, Some(target))?;
            }
            sysfs.write(Path::new(paths::DRIVERS_PROBE), &bdf.to_string())?;
            let bound = device::read_driver(sysfs, bdf)?;
            if bound.as_deref() != Some(target) {
                return Err(Error::Verify {
                    path: paths::device_attr(bdf, "driver"),
                    found: bound.unwrap_or_else(|| "no driver".into()),
                    expected: target.to_owned(),
                });
            }
            // Bound to VFIO is only half the job: a VM can use the device only if its IOMMU
            // group is viable, which the kernel checks no earlier than VFIO_GROUP_SET_CONTAINER.
            if VFIO_DRIVERS.contains(&target) {
                if let Some(group) = device::read_iommu_group(sysfs, bdf)? {
                    let blockers = crate::iommu::viability_blockers(sysfs, group)?;
                    if !blockers.is_empty() {
                        return Err(Error::GroupNotViable { group, blockers });
                    }
                }
            }
        }
    }
    if device::read_driver_override(sysfs, bdf)?.as_deref() != driver_override {
        set_override(sysfs, bdf, driver_override)?;
    }
    Ok(())
}
