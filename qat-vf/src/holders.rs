//! Who holds VFIO devices open, from `/proc/*/fd`: the processes qatkit must not pull a VF from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::{Error, Result};
use crate::pci::Bdf;
use crate::sysfs::{Sysfs, paths};

/// What a legacy VFIO device fd's link reads. Its device is named only in fdinfo, on kernels
/// that print `vfio-device-syspath` there.
pub const VFIO_DEVICE_ANON_INODE: &str = "anon_inode:[vfio-device]";

/// VFIO users found on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VfioHolders {
    /// Devices held, each with the holders' pids (sorted, unique).
    pub by_device: BTreeMap<Bdf, Vec<u32>>,
    /// Processes holding a VFIO device fd that cannot be tied to a device (no group or cdev fd,
    /// no `vfio-device-syspath`). They might hold any VF.
    pub unidentified: Vec<u32>,
}

impl VfioHolders {
    /// Scans every process's open files. A group fd (`/dev/vfio/N`) holds every device of the
    /// group; a cdev fd (`/dev/vfio/devices/vfioN`) holds the device whose `vfio-dev` lists it; a
    /// device fd holds the device fdinfo names.
    pub fn scan(sysfs: &impl Sysfs) -> Result<Self> {
        let mut by_group: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        let mut by_cdev: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        let mut by_device: BTreeMap<Bdf, BTreeSet<u32>> = BTreeMap::new();
        let mut device_fd_users = BTreeSet::new();
        for open in sysfs.open_files()? {
            let target = open.target.to_string_lossy();
            // A node removed while open reads "/dev/vfio/12 (deleted)"; it is still held.
            let target = target.trim_end_matches(" (deleted)");
            if target == VFIO_DEVICE_ANON_INODE {
                device_fd_users.insert(open.pid);
            } else if let Some(cdev) = target.strip_prefix("/dev/vfio/devices/") {
                by_cdev.entry(cdev.to_owned()).or_default().insert(open.pid);
            } else if let Some(group) = target.strip_prefix("/dev/vfio/") {
                if let Ok(group) = group.trim_start_matches("noiommu-").parse::<u32>() {
                    by_group.entry(group).or_default().insert(open.pid);
                }
            } else if target.starts_with("/sys/") {
                // A device fd resolved through fdinfo to the device's sysfs path.
                if let Some(bdf) = Path::new(target)
                    .file_name()
                    .and_then(|n| n.to_str()?.parse::<Bdf>().ok())
                {
                    by_device.entry(bdf).or_default().insert(open.pid);
                }
            }
        }
        for (group, pids) in &by_group {
            for name in sysfs.list(&paths::iommu_group_devices(*group))? {
                if let Ok(bdf) = name.parse() {
                    by_device.entry(bdf).or_default().extend(pids);
                }
            }
        }
        if !by_cdev.is_empty() {
            for name in sysfs.list(Path::new(paths::PCI_DEVICES))? {
                let Ok(bdf) = name.parse::<Bdf>() else {
                    continue;
                };
                for cdev in sysfs.list(&paths::device_attr(bdf, "vfio-dev"))? {
                    if let Some(pids) = by_cdev.get(&cdev) {
                        by_device.entry(bdf).or_default().extend(pids);
                    }
                }
            }
        }
        let identified: BTreeSet<u32> = by_group
            .values()
            .chain(by_cdev.values())
            .flatten()
            .copied()
            .collect();
        let unidentified = device_fd_users.difference(&identified).copied().collect();
        Ok(VfioHolders {
            by_device: by_device
                .into_iter()
                .map(|(b, pids)| (b, pids.into_iter().collect()))
                .collect(),
            unidentified,
        })
    }

    /// The pids holding `bdf`.
    pub fn of(&self, bdf: Bdf) -> Vec<u32> {
        self.by_device.get(&bdf).cloned().unwrap_or_default()
    }

    /// Refuses when any of `devices` is held, or when a process holds a device qatkit cannot
    /// identify (it might be one of them).
    pub fn refuse_if_any_held(&self, devices: impl IntoIterator<Item = Bdf>) -> Result<()> {
        for bdf in devices {
            if let Some(&pid) = self.by_device.get(&bdf).and_then(|pids| pids.first()) {
                return Err(Error::HeldByVfioUser { vf: bdf, pid });
            }
        }
        match self.unidentified.first() {
            Some(&pid) => Err(Error::UnidentifiedVfioUser { pid }),
            None => Ok(()),
        }
    }
}
