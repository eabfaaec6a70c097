//! Who holds VFIO devices, from `/proc/*/fd`: the processes qatkit must not pull a VF from.
//!
//! Two strengths. A process with the *device* open makes the kernel wait, when the VF is
//! disabled or unbound, until it closes it (forever, for a forked child): never done, even when
//! forced. A process with only the *group* open loses it (its fd turns stale) but nothing
//! blocks: refused unless forced.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::{ProvisionError, Result};
use crate::host::{HostEnv, OpenFile, paths};
use crate::pci::Bdf;

/// What a legacy VFIO device fd's link reads. Its device is named only in fdinfo, on kernels
/// that print `vfio-device-syspath` there.
pub(crate) const VFIO_DEVICE_ANON_INODE: &str = "anon_inode:[vfio-device]";

/// VFIO users found on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VfioHolders {
    /// Devices open through VFIO (device fd, cdev), with the holders' pids (sorted, unique).
    pub(crate) device_open: BTreeMap<Bdf, Vec<u32>>,
    /// Devices whose group is open by a process that has no device fd.
    pub(crate) group_open: BTreeMap<Bdf, Vec<u32>>,
    /// Processes holding a VFIO device fd that cannot be tied to a device (no group or cdev fd,
    /// no `vfio-device-syspath`). They might hold any VF.
    pub(crate) unidentified: Vec<u32>,
}

/// One process's VFIO descriptors.
#[derive(Default)]
struct ProcessFds {
    groups: BTreeSet<u32>,
    cdevs: BTreeSet<String>,
    devices: BTreeSet<Bdf>,
    anonymous_devices: usize,
}

fn add(map: &mut BTreeMap<Bdf, Vec<u32>>, bdf: Bdf, pid: u32) {
    let pids = map.entry(bdf).or_default();
    if !pids.contains(&pid) {
        pids.push(pid);
        pids.sort_unstable();
    }
}

impl VfioHolders {
    /// Scans every process's open files: group fds (`/dev/vfio/N`), cdev fds
    /// (`/dev/vfio/devices/vfioN`, for the device whose `vfio-dev` lists it), and device fds,
    /// named by fdinfo where the kernel says, else taken to be devices of the process's groups.
    pub(crate) fn scan(env: &HostEnv) -> Result<Self> {
        let mut processes: BTreeMap<u32, ProcessFds> = BTreeMap::new();
        for open in env.open_files()? {
            let target = descriptor_target(env, &open);
            // A node removed while open reads "/dev/vfio/12 (deleted)"; it is still held.
            let target = target.trim_end_matches(" (deleted)");
            let fds = processes.entry(open.pid).or_default();
            if target == VFIO_DEVICE_ANON_INODE {
                fds.anonymous_devices += 1;
            } else if let Some(cdev) = target.strip_prefix("/dev/vfio/devices/") {
                fds.cdevs.insert(cdev.to_owned());
            } else if let Some(group) = target.strip_prefix("/dev/vfio/") {
                if let Ok(group) = group.trim_start_matches("noiommu-").parse::<u32>() {
                    fds.groups.insert(group);
                }
            } else if target.starts_with("/sys/") {
                // A device fd resolved through fdinfo to the device's sysfs path.
                if let Some(bdf) = Path::new(target)
                    .file_name()
                    .and_then(|n| n.to_str()?.parse::<Bdf>().ok())
                {
                    fds.devices.insert(bdf);
                }
            }
        }
        let mut holders = VfioHolders::default();
        let wants_cdevs = processes.values().any(|p| !p.cdevs.is_empty());
        let cdev_owner = if wants_cdevs {
            cdev_owners(env)?
        } else {
            BTreeMap::new()
        };
        for (pid, fds) in &processes {
            for bdf in &fds.devices {
                add(&mut holders.device_open, *bdf, *pid);
            }
            for cdev in &fds.cdevs {
                if let Some(bdf) = cdev_owner.get(cdev) {
                    add(&mut holders.device_open, *bdf, *pid);
                }
            }
            if fds.anonymous_devices > 0 && fds.groups.is_empty() && fds.devices.is_empty() {
                holders.unidentified.push(*pid);
            }
            // Device fds fdinfo did not name: take them to be devices of the process's groups.
            let unnamed_devices = fds.anonymous_devices > 0;
            for group in &fds.groups {
                for name in env.list(&paths::iommu_group_devices(*group))? {
                    let Ok(bdf) = name.parse::<Bdf>() else {
                        continue;
                    };
                    if unnamed_devices {
                        add(&mut holders.device_open, bdf, *pid);
                    } else if !fds.devices.contains(&bdf) {
                        add(&mut holders.group_open, bdf, *pid);
                    }
                }
            }
        }
        Ok(holders)
    }

    /// Every pid holding `bdf`, device or group.
    pub(crate) fn of(&self, bdf: Bdf) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .device_open
            .get(&bdf)
            .into_iter()
            .chain(self.group_open.get(&bdf))
            .flatten()
            .copied()
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Refuses to take `devices` away: always when a VFIO user has one open (the kernel would
    /// wait for it); unless `force`, when one's group is open or an unidentified device fd
    /// might be one of them.
    pub(crate) fn refuse_to_take(
        &self,
        devices: impl IntoIterator<Item = Bdf>,
        force: bool,
    ) -> Result<()> {
        let devices: Vec<Bdf> = devices.into_iter().collect();
        refuse(
            devices.iter().map(|bdf| {
                (
                    *bdf,
                    self.device_open.get(bdf).and_then(|p| p.first().copied()),
                    self.group_open.get(bdf).and_then(|p| p.first().copied()),
                )
            }),
            &self.unidentified,
            force,
        )
    }
}

/// The refusal rule, shared with planning (which works on a snapshot): for each device, its first
/// device-open holder and its first group-only holder.
pub(crate) fn refuse(
    devices: impl IntoIterator<Item = (Bdf, Option<u32>, Option<u32>)>,
    unidentified: &[u32],
    force: bool,
) -> Result<()> {
    let mut any = false;
    let mut group_only = None;
    for (vf, device_pid, group_pid) in devices {
        any = true;
        if let Some(pid) = device_pid {
            return Err(ProvisionError::DeviceOpenByVfioUser { vf, pid }.into());
        }
        group_only = group_only.or(group_pid.map(|pid| (vf, pid)));
    }
    if force || !any {
        return Ok(());
    }
    if let Some((vf, pid)) = group_only {
        return Err(ProvisionError::HeldByVfioUser { vf, pid }.into());
    }
    match unidentified.first() {
        Some(&pid) => Err(ProvisionError::UnidentifiedVfioUser { pid }.into()),
        None => Ok(()),
    }
}

/// Which device each VFIO cdev (`vfioN`) belongs to, from the devices' `vfio-dev` directories.
fn cdev_owners(env: &HostEnv) -> Result<BTreeMap<String, Bdf>> {
    let mut owners = BTreeMap::new();
    for name in env.list(Path::new(paths::PCI_DEVICES))? {
        let Ok(bdf) = name.parse::<Bdf>() else {
            continue;
        };
        for cdev in env.list(&paths::device_attr(bdf, "vfio-dev"))? {
            owners.insert(cdev, bdf);
        }
    }
    Ok(owners)
}

/// What a descriptor points at. A VFIO device fd's link names no device; newer kernels name it
/// in fdinfo (`vfio-device-syspath`), and then the device's sysfs path stands for the link.
fn descriptor_target(env: &HostEnv, open: &OpenFile) -> String {
    let target = open.target.to_string_lossy().into_owned();
    if target != VFIO_DEVICE_ANON_INODE {
        return target;
    }
    env.read(&paths::proc_fdinfo(open.pid, &open.fd))
        .ok()
        .as_deref()
        .and_then(vfio_syspath)
        .map_or(target, str::to_owned)
}

/// The device path a VFIO device fd's fdinfo names (`vfio-device-syspath: /sys/devices/...`).
fn vfio_syspath(fdinfo: &str) -> Option<&str> {
    fdinfo
        .lines()
        .find_map(|line| line.strip_prefix("vfio-device-syspath:"))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdinfo_names_the_vfio_device() {
        let fdinfo = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\n\
                      vfio-device-syspath: /sys/devices/pci0000:00/0000:00:02.0/0000:01:10.0\n";
        assert_eq!(
            vfio_syspath(fdinfo),
            Some("/sys/devices/pci0000:00/0000:00:02.0/0000:01:10.0")
        );
        assert_eq!(vfio_syspath("pos:\t0\nflags:\t02\n"), None);
    }
}
