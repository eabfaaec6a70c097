//! Builders for every host path qat-vf touches. Callers pass parsed values only ([`Bdf`],
//! validated driver names, numbers), so no input can walk out of these directories.
//!
//! [`Bdf`]: crate::pci::Bdf

use std::path::PathBuf;

use crate::pci::Bdf;

/// `/sys/bus/pci/devices`.
pub const PCI_DEVICES: &str = "/sys/bus/pci/devices";
/// `/sys/bus/pci/drivers`.
pub const PCI_DRIVERS: &str = "/sys/bus/pci/drivers";
/// `/sys/bus/pci/drivers_probe`.
pub const DRIVERS_PROBE: &str = "/sys/bus/pci/drivers_probe";
/// `/dev/vfio`: the container node `vfio` and one node per IOMMU group.
pub const VFIO_DIR: &str = "/dev/vfio";
/// `/dev/vfio/vfio`: the VFIO container node.
pub const VFIO_CONTAINER: &str = "/dev/vfio/vfio";
/// `/dev/iommu`: the iommufd node, on kernels built with it.
pub const IOMMUFD: &str = "/dev/iommu";
/// `/dev/vfio/devices`: the VFIO device cdevs, on kernels with iommufd.
pub const VFIO_CDEVS: &str = "/dev/vfio/devices";
/// `/proc`.
pub const PROC: &str = "/proc";
/// vfio-pci's module parameter that lifts its denylist.
pub const VFIO_PCI_DISABLE_DENYLIST: &str = "/sys/module/vfio_pci/parameters/disable_denylist";

/// `/sys/bus/pci/devices/<bdf>`.
pub fn device(bdf: Bdf) -> PathBuf {
    PathBuf::from(PCI_DEVICES).join(bdf.to_string())
}

/// An attribute or link of a device: `/sys/bus/pci/devices/<bdf>/<name>`.
pub fn device_attr(bdf: Bdf, name: &str) -> PathBuf {
    device(bdf).join(name)
}

/// A QAT PF attribute: `/sys/bus/pci/devices/<bdf>/qat/<name>`.
pub fn qat_attr(bdf: Bdf, name: &str) -> PathBuf {
    device(bdf).join("qat").join(name)
}

/// A QAT RAS counter: `/sys/bus/pci/devices/<bdf>/qat_ras/<name>`.
pub fn qat_ras(bdf: Bdf, name: &str) -> PathBuf {
    device(bdf).join("qat_ras").join(name)
}

/// `/sys/bus/pci/drivers/<driver>`.
pub fn driver(driver: &str) -> PathBuf {
    PathBuf::from(PCI_DRIVERS).join(driver)
}

/// `/sys/bus/pci/drivers/<driver>/<bind|unbind|...>`.
pub fn driver_attr(driver: &str, name: &str) -> PathBuf {
    self::driver(driver).join(name)
}

/// `/sys/kernel/iommu_groups/<group>/devices`.
pub fn iommu_group_devices(group: u32) -> PathBuf {
    PathBuf::from(format!("/sys/kernel/iommu_groups/{group}/devices"))
}

/// `/dev/vfio/<group>`: the VFIO group's character device.
pub fn vfio_group_node(group: u32) -> PathBuf {
    PathBuf::from(format!("/dev/vfio/{group}"))
}

/// The PF heartbeat status in debugfs: `/sys/kernel/debug/qat_<driver>_<bdf>/heartbeat/status`.
pub fn heartbeat_status(pf_driver: &str, bdf: Bdf) -> PathBuf {
    PathBuf::from(format!(
        "/sys/kernel/debug/qat_{pf_driver}_{bdf}/heartbeat/status"
    ))
}

/// `/dev/vfio/noiommu-<group>`: the group node in VFIO's no-IOMMU mode.
pub fn vfio_noiommu_group_node(group: u32) -> PathBuf {
    PathBuf::from(format!("/dev/vfio/noiommu-{group}"))
}

/// `/dev/vfio/devices/<name>`: a device's VFIO cdev.
pub fn vfio_cdev(name: &str) -> PathBuf {
    PathBuf::from(VFIO_CDEVS).join(name)
}

/// `/proc/<pid>/fd`: a process's descriptors.
pub fn proc_fds(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/fd"))
}

/// `/proc/<pid>/fdinfo/<fd>`: what the kernel says about one descriptor.
pub fn proc_fdinfo(pid: u32, fd: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/fdinfo/{fd}"))
}
