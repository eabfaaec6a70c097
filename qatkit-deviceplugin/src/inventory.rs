//! Which VFs each resource has and whether each is healthy, from one discovery snapshot and
//! the previous inventory: a device once listed stays listed, unhealthy with the reason, when
//! it stops qualifying, so that the kubelet sees it go bad rather than vanish.

use std::collections::{BTreeMap, BTreeSet};

use qat_vf::host::paths;
use qat_vf::{Bdf, Host, HostEnv, PhysicalFunction, QatState, VirtualFunction};

use crate::naming::Naming;

/// One VF as a resource's device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The VF, whose address is the device ID.
    pub vf: Bdf,
    /// Its PF.
    pub pf: Bdf,
    /// Its NUMA node, when the kernel reports one.
    pub numa_node: Option<u32>,
    /// Its IOMMU group.
    pub iommu_group: Option<u32>,
    /// Why it is unhealthy; `None` when healthy.
    pub problem: Option<String>,
}

impl Device {
    /// The device ID the kubelet knows it by.
    pub fn id(&self) -> String {
        self.vf.to_string()
    }

    /// Whether the kubelet may allocate it.
    pub fn healthy(&self) -> bool {
        self.problem.is_none()
    }
}

/// Resources by name, each with its devices in address order.
pub type Inventory = BTreeMap<String, Vec<Device>>;

/// What the plugin serves: how resources are named and which driver VFs must be on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Resource naming.
    pub naming: Naming,
    /// The VFIO driver the VFs must be bound to.
    pub driver: String,
}

/// The heartbeats seen so far: a PF whose heartbeat was once readable and no longer is counts
/// as failed, not as unknown.
#[derive(Debug, Clone, Default)]
pub struct HeartbeatMemory {
    seen: BTreeSet<Bdf>,
}

/// The inventory of `host`, read through `env`, continuing `previous`.
pub fn survey(
    env: &HostEnv,
    host: &Host,
    settings: &Settings,
    previous: &Inventory,
    heartbeats: &mut HeartbeatMemory,
) -> Inventory {
    // Each PF's heartbeat read once per survey, for its VFs listed now and before.
    let pf_problems: BTreeMap<Bdf, Option<String>> = host
        .pfs
        .iter()
        .map(|pf| (pf.pci.bdf, pf_problem(env, pf, heartbeats)))
        .collect();
    let mut inventory = Inventory::new();
    let mut listed = BTreeSet::new();
    for pf in &host.pfs {
        if let Some(why) = unnamed(pf) {
            tracing::warn!("{why}: its VFs are not served");
            continue;
        }
        let pf_problem = &pf_problems[&pf.pci.bdf];
        for vf in &pf.vfs {
            if !qualifies(pf, vf, settings) {
                continue;
            }
            listed.insert(vf.pci.bdf);
            let problem = pf_problem.clone().or_else(|| vf_problem(env, vf, settings));
            inventory
                .entry(settings.naming.resource(pf.services))
                .or_default()
                .push(device(pf, vf, problem));
        }
    }
    // Devices listed before that no longer qualify: kept, with why.
    for (resource, devices) in previous {
        for old in devices.iter().filter(|d| !listed.contains(&d.vf)) {
            let now = find(host, old.vf);
            let problem = match now {
                None => match host.pf(old.pf) {
                    Some(pf) if pf.state == Some(QatState::Down) => {
                        format!("PF {} is down (its VFs are gone)", old.pf)
                    }
                    _ => format!("VF {} is gone", old.vf),
                },
                Some((pf, vf)) => pf_problems[&pf.pci.bdf]
                    .clone()
                    .or_else(|| unnamed(pf))
                    .or_else(|| vf_problem(env, vf, settings))
                    .unwrap_or_else(|| format!("VF {} moved to another resource", old.vf)),
            };
            let mut kept = old.clone();
            kept.problem = Some(problem);
            inventory.entry(resource.clone()).or_default().push(kept);
        }
    }
    for devices in inventory.values_mut() {
        devices.sort_by_key(|d| d.vf);
    }
    inventory
}

/// Every device of `previous` marked unhealthy for `reason` (the host could not be read).
pub fn all_unhealthy(previous: &Inventory, reason: &str) -> Inventory {
    previous
        .iter()
        .map(|(resource, devices)| {
            let devices = devices
                .iter()
                .map(|d| Device {
                    problem: Some(reason.to_owned()),
                    ..d.clone()
                })
                .collect();
            (resource.clone(), devices)
        })
        .collect()
}

/// Why a PF's VFs cannot be named: a PF with services whose `cfg_services` discovery could not
/// read (a service this version does not know). Its VFs are not moved to another resource.
fn unnamed(pf: &PhysicalFunction) -> Option<String> {
    (pf.state.is_some() && pf.services.is_none()).then(|| {
        format!(
            "PF {}'s cfg_services cannot be read (a service qatkit does not know?)",
            pf.pci.bdf
        )
    })
}

/// A VF is served when it is on the driver and its PF is up (or has no state: gen2, other
/// SR-IOV devices).
fn qualifies(pf: &PhysicalFunction, vf: &VirtualFunction, settings: &Settings) -> bool {
    vf.pci.driver.as_deref() == Some(settings.driver.as_str()) && pf.state != Some(QatState::Down)
}

fn device(pf: &PhysicalFunction, vf: &VirtualFunction, problem: Option<String>) -> Device {
    Device {
        vf: vf.pci.bdf,
        pf: pf.pci.bdf,
        numa_node: vf.pci.numa_node,
        iommu_group: vf.pci.iommu_group,
        problem,
    }
}

fn find(host: &Host, bdf: Bdf) -> Option<(&PhysicalFunction, &VirtualFunction)> {
    host.pfs.iter().find_map(|pf| {
        pf.vfs
            .iter()
            .find(|vf| vf.pci.bdf == bdf)
            .map(|vf| (pf, vf))
    })
}

/// Why every VF of `pf` is unhealthy, if it is: the PF is down, or its heartbeat failed, or
/// cannot be read although the PF has one (its debugfs directory is there, or it was read
/// before). Without debugfs there is no heartbeat to judge by.
fn pf_problem(
    env: &HostEnv,
    pf: &PhysicalFunction,
    heartbeats: &mut HeartbeatMemory,
) -> Option<String> {
    let bdf = pf.pci.bdf;
    if pf.state == Some(QatState::Down) {
        return Some(format!("PF {bdf} is down"));
    }
    let driver = pf.pci.driver.as_deref()?;
    let status = paths::heartbeat_status(driver, bdf);
    match env.read_opt::<i32>(&status) {
        Ok(Some(0)) => {
            heartbeats.seen.insert(bdf);
            None
        }
        Ok(Some(_)) => {
            heartbeats.seen.insert(bdf);
            Some(format!("PF {bdf} failed its heartbeat"))
        }
        Ok(None) => {
            let has_one = heartbeats.seen.contains(&bdf)
                || status.parent().is_some_and(|dir| env.exists(dir));
            has_one.then(|| {
                format!(
                    "PF {bdf}'s heartbeat cannot be read: {} is gone",
                    status.display()
                )
            })
        }
        Err(e) => Some(format!("PF {bdf}'s heartbeat cannot be read: {e}")),
    }
}

/// Why one VF is unhealthy, if it is: it left the driver, or has no IOMMU group, or its
/// `/dev/vfio` node is gone.
fn vf_problem(env: &HostEnv, vf: &VirtualFunction, settings: &Settings) -> Option<String> {
    let bdf = vf.pci.bdf;
    if vf.pci.driver.as_deref() != Some(settings.driver.as_str()) {
        let driver = vf.pci.driver.as_deref().unwrap_or("no driver");
        return Some(format!(
            "VF {bdf} is bound to {driver}, not {}",
            settings.driver
        ));
    }
    let Some(group) = vf.pci.iommu_group else {
        return Some(format!("VF {bdf} has no IOMMU group"));
    };
    let node = paths::vfio_group_node(group);
    (!env.exists(&node)).then(|| format!("VF {bdf}: {} is gone", node.display()))
}
