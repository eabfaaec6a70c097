//! The kernel model: PCI devices, drivers, SR-IOV, QAT attributes, IOMMU groups and `/dev/vfio`
//! nodes, with the kernel's answers to writes (shared/facts/kernel-abi.md).

use std::collections::BTreeMap;

use nix::libc;

use crate::host::FileAccess;
use crate::pci::{Bdf, QatFamily};
use crate::qat::QatState;
use crate::services::Services;

/// An errno answered by the model.
pub type Errno = i32;

/// Differences between kernel versions that the model can reproduce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quirks {
    /// Newer kernels let QAT PFs disable VFs with `sriov_numvfs=0`; older ones answer EINVAL.
    pub qat_numvfs_zero: bool,
    /// Newer kernels read `cfg_services` back in canonical order; older ones echo the input.
    pub canonical_services: bool,
    /// vfio-pci loaded with `disable_denylist=1`.
    pub vfio_disable_denylist: bool,
    /// The kernel has iommufd: `/dev/iommu`, and a cdev `/dev/vfio/devices/vfio<group>` (the
    /// model numbers cdevs by IOMMU group) for each device bound to a VFIO driver.
    pub iommufd: bool,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            qat_numvfs_zero: true,
            canonical_services: true,
            vfio_disable_denylist: false,
            iommufd: false,
        }
    }
}

/// How a driver claims devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matching {
    /// By its id table, on probe or `bind`.
    Ids(Vec<(u16, u16)>),
    /// Only devices whose `driver_override` names it; these ids (empty: any device).
    /// vfio-pci (any) and qat_vfio_pci (some QAT VFs).
    OverrideOnly(Vec<(u16, u16)>),
}

/// A loaded PCI driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDriver {
    /// Which devices it takes.
    pub matching: Matching,
    /// A VFIO driver: binding creates `/dev/vfio/<group>`; refuses PFs with VFs enabled and
    /// (vfio-pci) denylisted QAT gen2 devices.
    pub vfio: bool,
    /// It implements `sriov_configure` (writes to `sriov_numvfs` work).
    pub sriov: bool,
    /// Unbinding it leaves SR-IOV enabled (nvme does; igb and QAT disable VFs).
    pub keeps_vfs_on_unbind: bool,
}

/// SR-IOV state of a PF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSriov {
    /// `sriov_totalvfs`.
    pub total: u16,
    /// `sriov_numvfs`.
    pub num: u16,
    /// `sriov_drivers_autoprobe`.
    pub autoprobe: bool,
    /// `sriov_offset`.
    pub offset: u16,
    /// `sriov_stride`.
    pub stride: u16,
    /// VF device id.
    pub vf_device: u16,
    /// VFs land in the PF's IOMMU group (no ACS on the path) instead of groups of their own.
    pub vfs_share_group: bool,
}

/// QAT PF attributes (gen4+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimQat {
    /// `qat/state`.
    pub state: QatState,
    /// `qat/cfg_services` as it reads back.
    pub cfg_services: String,
    /// `qat/auto_reset`.
    pub auto_reset: bool,
    /// `qat/pm_idle_enabled`.
    pub pm_idle_enabled: bool,
    /// `qat/rp2srv`.
    pub rp2srv: String,
    /// `qat/num_rps`.
    pub num_rps: u32,
    /// `qat_ras/errors_{correctable,nonfatal,fatal}`.
    pub ras: [u64; 3],
    /// debugfs `heartbeat/status`: 0 healthy, -1 failed.
    pub heartbeat: i32,
}

/// One PCI function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDevice {
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// NUMA node (-1: none).
    pub numa_node: i32,
    /// Bound driver.
    pub driver: Option<String>,
    /// `driver_override`.
    pub driver_override: Option<String>,
    /// IOMMU group.
    pub iommu_group: u32,
    /// Parent PF, for VFs.
    pub physfn: Option<Bdf>,
    /// SR-IOV capability, for PFs.
    pub sriov: Option<SimSriov>,
    /// QAT attributes, for gen4+ QAT PFs.
    pub qat: Option<SimQat>,
}

impl SimDevice {
    /// A device with no driver, SR-IOV or QAT attributes.
    pub fn new(vendor: u16, device: u16, numa_node: i32, iommu_group: u32) -> Self {
        SimDevice {
            vendor,
            device,
            numa_node,
            driver: None,
            driver_override: None,
            iommu_group,
            physfn: None,
            sriov: None,
            qat: None,
        }
    }

    pub(super) fn qat_family(&self) -> Option<&'static QatFamily> {
        QatFamily::by_pf_device(self.vendor, self.device)
            .or_else(|| QatFamily::by_vf_device(self.vendor, self.device))
    }
}

/// The whole modelled kernel. Two equal values are indistinguishable through sysfs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kernel {
    /// PCI devices by address.
    pub devices: BTreeMap<Bdf, SimDevice>,
    /// Loaded drivers by directory name.
    pub drivers: BTreeMap<String, SimDriver>,
    /// `/dev/vfio/<group>` nodes that exist, with their owner and mode.
    pub vfio_nodes: BTreeMap<u32, FileAccess>,
    /// The group database (`/etc/group`).
    pub groups: BTreeMap<String, u32>,
    /// VFs that a VFIO user holds open, with the holder's pid.
    pub holders: BTreeMap<Bdf, u32>,
    /// Kernel-version differences.
    pub quirks: Quirks,
}

/// Mode of a freshly created `/dev/vfio/<group>` (no udev rule).
pub const DEFAULT_VFIO_ACCESS: FileAccess = FileAccess {
    uid: 0,
    gid: 0,
    mode: 0o600,
};

/// The errno the model answers where the real kernel would block until a VFIO user closes its
/// device fd (forever, for a forked child): disabling held VFs, taking their QAT PF down,
/// unbinding a held device. Qatkit must never get here; the model makes it visible.
pub const BLOCKS_FOREVER: Errno = libc::EDEADLK;

impl Kernel {
    /// Members of an IOMMU group.
    pub fn group_members(&self, group: u32) -> impl Iterator<Item = Bdf> + '_ {
        self.devices
            .iter()
            .filter(move |(_, d)| d.iommu_group == group)
            .map(|(b, _)| *b)
    }

    /// Whether a device is bound to a VFIO driver.
    pub fn is_vfio_bound(&self, bdf: Bdf) -> bool {
        self.devices
            .get(&bdf)
            .and_then(|d| d.driver.as_ref())
            .is_some_and(|d| self.drivers.get(d).is_some_and(|d| d.vfio))
    }

    /// The device whose VFIO cdev is `vfio<n>`, when the kernel has iommufd.
    pub fn cdev_device(&self, n: u32) -> Option<Bdf> {
        if !self.quirks.iommufd {
            return None;
        }
        self.devices
            .iter()
            .find(|(bdf, d)| d.iommu_group == n && self.is_vfio_bound(**bdf))
            .map(|(bdf, _)| *bdf)
    }

    /// VFs of a PF in `virtfn` order.
    pub fn vfs_of(&self, pf: Bdf) -> Vec<Bdf> {
        let Some(sriov) = self.devices.get(&pf).and_then(|d| d.sriov.as_ref()) else {
            return Vec::new();
        };
        (0..sriov.num)
            .filter_map(|i| pf.virtfn(sriov.offset, sriov.stride, i))
            .collect()
    }

    fn device_mut(&mut self, bdf: Bdf) -> Result<&mut SimDevice, Errno> {
        self.devices.get_mut(&bdf).ok_or(libc::ENODEV)
    }

    /// The `count` lowest group numbers no device uses, as the kernel's ida allocator gives them.
    fn free_groups(&self, count: usize) -> Vec<u32> {
        let used: std::collections::BTreeSet<u32> =
            self.devices.values().map(|d| d.iommu_group).collect();
        (0..).filter(|g| !used.contains(g)).take(count).collect()
    }

    /// Whether `driver` would take `bdf` on a probe.
    fn accepts(&self, driver_name: &str, bdf: Bdf) -> bool {
        let (Some(driver), Some(dev)) = (self.drivers.get(driver_name), self.devices.get(&bdf))
        else {
            return false;
        };
        let id = (dev.vendor, dev.device);
        let by_override = dev.driver_override.as_deref() == Some(driver_name);
        let matched = match &driver.matching {
            Matching::Ids(ids) => ids.contains(&id),
            Matching::OverrideOnly(ids) => by_override && (ids.is_empty() || ids.contains(&id)),
        };
        if !matched {
            return false;
        }
        if driver.vfio {
            if dev.sriov.as_ref().is_some_and(|s| s.num > 0) {
                return false;
            }
            if driver_name == "vfio-pci"
                && !self.quirks.vfio_disable_denylist
                && dev.qat_family().is_some_and(|f| f.vfio_denylisted)
            {
                return false;
            }
        }
        true
    }

    /// Probes an unbound device: its override driver if set (and only that), else the first
    /// driver whose id table matches. Binding nothing is not an error.
    pub fn probe(&mut self, bdf: Bdf) {
        let Some(dev) = self.devices.get(&bdf) else {
            return;
        };
        if dev.driver.is_some() {
            return;
        }
        let candidate = match &dev.driver_override {
            Some(name) => Some(name.clone()).filter(|n| self.accepts(n, bdf)),
            None => self.drivers.keys().find(|n| self.accepts(n, bdf)).cloned(),
        };
        if let Some(name) = candidate {
            self.attach(bdf, name);
        }
    }

    fn attach(&mut self, bdf: Bdf, driver: String) {
        let vfio = self.drivers.get(&driver).is_some_and(|d| d.vfio);
        let dev = self
            .devices
            .get_mut(&bdf)
            .expect("attach to an existing device");
        dev.driver = Some(driver);
        let group = dev.iommu_group;
        if vfio {
            self.vfio_nodes.entry(group).or_insert(DEFAULT_VFIO_ACCESS);
        }
    }

    /// Unbinds a device; a PF whose driver does not keep VFs loses them.
    pub fn detach(&mut self, bdf: Bdf) {
        let Some(dev) = self.devices.get_mut(&bdf) else {
            return;
        };
        let Some(driver) = dev.driver.take() else {
            return;
        };
        let group = dev.iommu_group;
        let keeps = self
            .drivers
            .get(&driver)
            .is_some_and(|d| d.keeps_vfs_on_unbind);
        if !keeps {
            self.remove_vfs(bdf);
        }
        let still_vfio = self.group_members(group).any(|m| {
            self.devices[&m]
                .driver
                .as_ref()
                .is_some_and(|d| self.drivers.get(d).is_some_and(|d| d.vfio))
        });
        if !still_vfio {
            self.vfio_nodes.remove(&group);
        }
    }

    fn remove_vfs(&mut self, pf: Bdf) {
        for vf in self.vfs_of(pf).into_iter().rev() {
            self.detach(vf);
            self.holders.remove(&vf);
            self.devices.remove(&vf);
        }
        if let Some(sriov) = self.devices.get_mut(&pf).and_then(|d| d.sriov.as_mut()) {
            sriov.num = 0;
        }
    }

    fn held_vf(&self, pf: Bdf) -> Option<Bdf> {
        self.vfs_of(pf)
            .into_iter()
            .find(|vf| self.holders.contains_key(vf))
    }

    /// `sriov_numvfs` ← value.
    pub fn write_numvfs(&mut self, pf: Bdf, value: &str) -> Result<(), Errno> {
        let count: u16 = value.trim().parse().map_err(|_| libc::EINVAL)?;
        let dev = self.devices.get(&pf).ok_or(libc::ENODEV)?;
        let sriov = dev.sriov.clone().ok_or(libc::ENOENT)?;
        // drivers/pci/iov.c checks the range and "no change" before it looks for a driver.
        if count > sriov.total {
            return Err(libc::ERANGE);
        }
        if count == sriov.num {
            return Ok(());
        }
        let driver = dev.driver.as_ref().and_then(|d| self.drivers.get(d));
        if !driver.is_some_and(|d| d.sriov) {
            return Err(libc::ENOENT);
        }
        let is_qat = dev.qat_family().is_some();
        if count == 0 {
            if is_qat && !self.quirks.qat_numvfs_zero {
                return Err(libc::EINVAL);
            }
            if self.held_vf(pf).is_some() {
                return Err(BLOCKS_FOREVER);
            }
            self.remove_vfs(pf);
            return Ok(());
        }
        if sriov.num != 0 {
            return Err(libc::EBUSY);
        }
        // QAT PF drivers enable every VF whatever the count, and start the device first.
        let count = if is_qat { sriov.total } else { count };
        // Every address first, so that a model whose VFs have no room changes nothing.
        let vfs = (0..count)
            .map(|i| pf.virtfn(sriov.offset, sriov.stride, i))
            .collect::<Option<Vec<Bdf>>>()
            .filter(|vfs| vfs.iter().all(|vf| !self.devices.contains_key(vf)))
            .ok_or(libc::ERANGE)?;
        let pf_dev = self.device_mut(pf)?;
        if let Some(qat) = pf_dev.qat.as_mut() {
            qat.state = QatState::Up;
        }
        let (vendor, numa, pf_group) = (pf_dev.vendor, pf_dev.numa_node, pf_dev.iommu_group);
        let mut free_groups = self.free_groups(usize::from(count)).into_iter();
        for vf in vfs {
            let group = match free_groups.next() {
                Some(group) if !sriov.vfs_share_group => group,
                _ => pf_group,
            };
            let mut dev = SimDevice::new(vendor, sriov.vf_device, numa, group);
            dev.physfn = Some(pf);
            self.devices.insert(vf, dev);
        }
        if let Some(s) = self.device_mut(pf)?.sriov.as_mut() {
            s.num = count;
        }
        if sriov.autoprobe {
            for vf in self.vfs_of(pf) {
                self.probe(vf);
            }
        }
        Ok(())
    }

    /// `sriov_drivers_autoprobe` ← value.
    pub fn write_autoprobe(&mut self, pf: Bdf, value: &str) -> Result<(), Errno> {
        let enabled = match value.trim() {
            "0" => false,
            "1" => true,
            _ => return Err(libc::EINVAL),
        };
        let sriov = self.device_mut(pf)?.sriov.as_mut().ok_or(libc::ENOENT)?;
        sriov.autoprobe = enabled;
        Ok(())
    }

    /// `driver_override` ← value. "\n" clears; an empty write never reaches the kernel.
    pub fn write_override(&mut self, bdf: Bdf, value: &str) -> Result<(), Errno> {
        if value.is_empty() {
            return Ok(());
        }
        if value.len() >= 4096 {
            return Err(libc::EINVAL);
        }
        let dev = self.device_mut(bdf)?;
        // The kernel keeps what comes before the first newline.
        let trimmed = value.split('\n').next().unwrap_or_default();
        dev.driver_override = (!trimmed.is_empty()).then(|| trimmed.to_owned());
        Ok(())
    }

    /// `/sys/bus/pci/drivers_probe` ← BDF: succeeds even when nothing binds.
    pub fn write_drivers_probe(&mut self, value: &str) -> Result<(), Errno> {
        let bdf: Bdf = value.trim().parse().map_err(|_| libc::ENODEV)?;
        if !self.devices.contains_key(&bdf) {
            return Err(libc::ENODEV);
        }
        self.probe(bdf);
        Ok(())
    }

    /// `/sys/bus/pci/drivers/<driver>/bind` ← BDF.
    pub fn write_bind(&mut self, driver: &str, value: &str) -> Result<(), Errno> {
        let bdf: Bdf = value.trim().parse().map_err(|_| libc::ENODEV)?;
        let dev = self.devices.get(&bdf).ok_or(libc::ENODEV)?;
        if dev.driver.is_some() {
            return Err(libc::EBUSY);
        }
        if dev.driver_override.as_deref().is_some_and(|o| o != driver) || !self.accepts(driver, bdf)
        {
            return Err(libc::ENODEV);
        }
        self.attach(bdf, driver.to_owned());
        Ok(())
    }

    /// `/sys/bus/pci/drivers/<driver>/unbind` ← BDF.
    pub fn write_unbind(&mut self, driver: &str, value: &str) -> Result<(), Errno> {
        let bdf: Bdf = value.trim().parse().map_err(|_| libc::ENODEV)?;
        let dev = self.devices.get(&bdf).ok_or(libc::ENODEV)?;
        if dev.driver.as_deref() != Some(driver) {
            return Err(libc::ENODEV);
        }
        // Unbinding waits for VFIO users of the device, or of the VFs it would remove.
        let keeps_vfs = self
            .drivers
            .get(driver)
            .is_some_and(|d| d.keeps_vfs_on_unbind);
        if self.holders.contains_key(&bdf) || (!keeps_vfs && self.held_vf(bdf).is_some()) {
            return Err(BLOCKS_FOREVER);
        }
        self.detach(bdf);
        Ok(())
    }

    /// `qat/<attribute>` ← value.
    pub fn write_qat(&mut self, pf: Bdf, attribute: &str, value: &str) -> Result<(), Errno> {
        let family = self.devices.get(&pf).and_then(SimDevice::qat_family);
        let held = self.held_vf(pf).is_some();
        let quirks = self.quirks.clone();
        let qat = self.device_mut(pf)?.qat.as_mut().ok_or(libc::ENOENT)?;
        let value = value.trim_end_matches('\n');
        match attribute {
            "state" => {
                let new: QatState = value.parse().map_err(|()| libc::EINVAL)?;
                if new == qat.state {
                    return Ok(());
                }
                if new == QatState::Down {
                    if held {
                        return Err(BLOCKS_FOREVER);
                    }
                    qat.state = QatState::Down;
                    self.remove_vfs(pf);
                } else {
                    qat.state = QatState::Up;
                }
                Ok(())
            }
            "cfg_services" => {
                if qat.state != QatState::Down {
                    return Err(libc::EINVAL);
                }
                let services = accepted_services(family, value).ok_or(libc::EINVAL)?;
                qat.cfg_services = if quirks.canonical_services {
                    services.to_cfg_string()
                } else {
                    value.to_owned()
                };
                Ok(())
            }
            "pm_idle_enabled" => {
                if qat.state != QatState::Down {
                    return Err(libc::EINVAL);
                }
                qat.pm_idle_enabled = parse_bool(value)?;
                Ok(())
            }
            "auto_reset" => {
                qat.auto_reset = parse_bool(value)?;
                Ok(())
            }
            "rp2srv" => {
                qat.rp2srv = value.to_owned();
                Ok(())
            }
            "num_rps" => Err(libc::EACCES),
            _ => Err(libc::ENOENT),
        }
    }

    /// `qat_ras/<attribute>` ← value.
    pub fn write_ras(&mut self, pf: Bdf, attribute: &str, value: &str) -> Result<(), Errno> {
        let qat = self.device_mut(pf)?.qat.as_mut().ok_or(libc::ENOENT)?;
        match attribute {
            "reset_error_counters" if value.trim() == "1" => {
                qat.ras = [0; 3];
                Ok(())
            }
            "reset_error_counters" => Err(libc::EINVAL),
            "errors_correctable" | "errors_nonfatal" | "errors_fatal" => Err(libc::EACCES),
            _ => Err(libc::ENOENT),
        }
    }
}

/// The services a `cfg_services` write of `value` sets, if the kernel takes it: a `;` list
/// (no `,`) that `family` allows.
pub(super) fn accepted_services(family: Option<&QatFamily>, value: &str) -> Option<Services> {
    let services = Services::parse_list(value).ok()?;
    let allowed = family.is_some_and(|f| f.check_services(services).is_ok());
    (allowed && !value.contains(',')).then_some(services)
}

fn parse_bool(value: &str) -> Result<bool, Errno> {
    match value {
        "1" | "on" | "y" | "Y" => Ok(true),
        "0" | "off" | "n" | "N" => Ok(false),
        _ => Err(libc::EINVAL),
    }
}
