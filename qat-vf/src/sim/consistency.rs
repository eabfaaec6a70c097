//! Whether a kernel model could be a real host: a hand-edited state file can describe PCI
//! topologies no bus has (VFs on top of other devices, a VF without its PF), and the model's
//! answers on such a host would not be the kernel's.

use std::collections::BTreeMap;

use super::kernel::{Kernel, accepted_services};
use crate::pci::Bdf;
use crate::qat::QatState;

/// The most VF addresses a model may reserve in all: far more than any host has, few enough to
/// check quickly.
const MAX_VF_SLOTS: usize = 1 << 20;

impl Kernel {
    /// Checks the model's invariants, saying what breaks the first one that does not hold:
    /// - every SR-IOV PF's VF addresses (`offset` and `stride`, all `total` of them) are valid,
    ///   distinct, and belong to no other device or PF: a VF address is where the kernel would
    ///   put that VF;
    /// - `num` ≤ `total`; the first `num` VFs exist, name the PF as `physfn` and are what the PF
    ///   makes (its vendor, VF device id and NUMA node; no SR-IOV or QAT attributes of their
    ///   own); no other device names a PF;
    /// - bound drivers are loaded, names are usable as sysfs names, holders hold VFs;
    /// - VFs are in their PF's IOMMU group when `vfs_share_group`, else each in its own;
    /// - `/dev/vfio/N` exists exactly for the groups with a device on a VFIO driver.
    pub fn validate(&self) -> Result<(), String> {
        let enabled_vfs = self.validate_vf_addresses()?;
        let mut group_sizes: BTreeMap<u32, usize> = BTreeMap::new();
        for dev in self.devices.values() {
            *group_sizes.entry(dev.iommu_group).or_default() += 1;
        }
        for (bdf, dev) in &self.devices {
            if let Some(driver) = &dev.driver {
                if !self.drivers.contains_key(driver) {
                    return Err(format!("{bdf} is bound to {driver:?}, which is not loaded"));
                }
            }
            if let Some(name) = &dev.driver_override {
                if name.is_empty() || name.contains('\n') || name.len() >= 4096 {
                    return Err(format!("{bdf} has driver_override {name:?}"));
                }
            }
            // A QAT PF taken down has no VFs: going down removes them, enabling them brings it up.
            let vfs = dev.sriov.as_ref().map_or(0, |s| s.num);
            if dev.qat.as_ref().is_some_and(|q| q.state == QatState::Down) && vfs > 0 {
                return Err(format!("{bdf} is down with {vfs} VFs enabled"));
            }
            // cfg_services reads back what a write accepted.
            if let Some(qat) = &dev.qat {
                if accepted_services(dev.qat_family(), &qat.cfg_services).is_none() {
                    return Err(format!(
                        "{bdf} reads cfg_services {:?}, which the kernel cannot have accepted",
                        qat.cfg_services
                    ));
                }
            }
            if dev.numa_node < -1 {
                return Err(format!("{bdf} is on NUMA node {}", dev.numa_node));
            }
            if let Some(pf) = dev.physfn {
                if enabled_vfs.get(bdf) != Some(&pf) {
                    return Err(format!("{bdf} names {pf} as its PF, which has no such VF"));
                }
                // As the kernel makes VFs: the PF's vendor, its VF device id and NUMA node, no
                // SR-IOV or QAT attributes of their own; in the PF's IOMMU group when no ACS
                // separates them, else each in a group of its own.
                let pf_dev = &self.devices[&pf];
                let vf_device = pf_dev.sriov.as_ref().map(|s| s.vf_device);
                if (dev.vendor, Some(dev.device), dev.numa_node)
                    != (pf_dev.vendor, vf_device, pf_dev.numa_node)
                    || dev.sriov.is_some()
                    || dev.qat.is_some()
                {
                    return Err(format!("{bdf} is not a VF as {pf} makes them"));
                }
                let shares = pf_dev.sriov.as_ref().is_some_and(|s| s.vfs_share_group);
                let alone = group_sizes[&dev.iommu_group] == 1;
                if shares && dev.iommu_group != pf_dev.iommu_group || !shares && !alone {
                    return Err(format!(
                        "{bdf} is in IOMMU group {}, which is not how {pf}'s VFs are grouped",
                        dev.iommu_group
                    ));
                }
            }
        }
        for name in self.drivers.keys() {
            crate::driver::validate_driver_name(name).map_err(|e| e.to_string())?;
        }
        // /dev/vfio/N exists while a device of group N is bound to a VFIO driver, and only then.
        let vfio_groups: std::collections::BTreeSet<u32> = self
            .devices
            .values()
            .filter(|d| {
                d.driver
                    .as_ref()
                    .is_some_and(|name| self.drivers[name].vfio)
            })
            .map(|d| d.iommu_group)
            .collect();
        if let Some(group) = self.vfio_nodes.keys().find(|g| !vfio_groups.contains(g)) {
            return Err(format!(
                "/dev/vfio/{group} exists, but no device of group {group} is on a VFIO driver"
            ));
        }
        if let Some(group) = vfio_groups
            .iter()
            .find(|g| !self.vfio_nodes.contains_key(g))
        {
            return Err(format!(
                "group {group} has a device on a VFIO driver but no /dev/vfio/{group}"
            ));
        }
        for vf in self.holders.keys() {
            if self.devices.get(vf).is_none_or(|d| d.physfn.is_none()) {
                return Err(format!("{vf} is held by a VFIO user but is not a VF"));
            }
        }
        Ok(())
    }

    /// Checks every PF's VF addresses; returns the enabled VFs with their PFs.
    fn validate_vf_addresses(&self) -> Result<BTreeMap<Bdf, Bdf>, String> {
        // The PF each VF slot belongs to, and the slots that are enabled VFs.
        let mut owner: BTreeMap<Bdf, Bdf> = BTreeMap::new();
        let mut enabled = BTreeMap::new();
        let pfs: Vec<_> = self
            .devices
            .iter()
            .filter_map(|(bdf, d)| d.sriov.as_ref().map(|s| (*bdf, s)))
            .collect();
        let slots: usize = pfs.iter().map(|(_, s)| usize::from(s.total)).sum();
        if slots > MAX_VF_SLOTS {
            return Err(format!(
                "its PFs offer {slots} VFs in all, more than {MAX_VF_SLOTS}"
            ));
        }
        for (pf, sriov) in pfs {
            if sriov.num > sriov.total {
                return Err(format!(
                    "{pf} has {} VFs enabled of {} it offers",
                    sriov.num, sriov.total
                ));
            }
            for index in 0..sriov.total {
                let Some(vf) = pf.virtfn(sriov.offset, sriov.stride, index) else {
                    return Err(format!(
                        "{pf}'s VF {index} (offset {}, stride {}) is past the end of its PCI domain",
                        sriov.offset, sriov.stride
                    ));
                };
                if let Some(other) = owner.insert(vf, pf) {
                    return Err(format!(
                        "{pf}'s VF {index} would be at {vf}, where {other} has a VF already"
                    ));
                }
                match self.devices.get(&vf) {
                    Some(dev) if index < sriov.num && dev.physfn == Some(pf) => {
                        enabled.insert(vf, pf);
                    }
                    Some(_) if vf == pf => {
                        return Err(format!(
                            "{pf}'s VF {index} (offset {}, stride {}) would be the PF itself",
                            sriov.offset, sriov.stride
                        ));
                    }
                    Some(_) => {
                        return Err(format!(
                            "{pf}'s VF {index} would be at {vf}, where another device is"
                        ));
                    }
                    None if index < sriov.num => {
                        return Err(format!("{pf}'s VF {index} at {vf} is enabled but missing"));
                    }
                    None => {}
                }
            }
        }
        Ok(enabled)
    }
}
