//! What a plan can change on a host, read before the apply and again after a rollback: the
//! rollback is reported as complete only when the host reads as it did.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::Plan;
use super::step::Step;
use crate::attributes::{list_vfs, read_driver, read_driver_override, read_iommu_group};
use crate::error::Result;
use crate::host::{FileAccess, HostEnv, paths};
use crate::pci::Bdf;
use crate::services::Services;

/// One device's binding and its `/dev/vfio` node.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Binding {
    driver: Option<String>,
    driver_override: Option<String>,
    vfio_node: Option<FileAccess>,
}

/// The host as far as a plan can change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Snapshot {
    /// Every PCI device: a device that vanished or appeared is a difference wherever it is.
    devices: BTreeSet<Bdf>,
    /// PF attributes the steps write (`sriov_numvfs`, autoprobe, QAT state and services), as read.
    attributes: BTreeMap<(Bdf, &'static str), Option<String>>,
    /// The PFs in the plan, their VFs, and any other device a step binds.
    bindings: BTreeMap<Bdf, Binding>,
}

const PF_ATTRIBUTES: [&str; 4] = [
    "sriov_numvfs",
    "sriov_drivers_autoprobe",
    "qat/state",
    "qat/cfg_services",
];

impl Snapshot {
    /// Reads everything `plan`'s steps and their inverses can change.
    pub(super) fn read(env: &HostEnv, plan: &Plan) -> Result<Self> {
        let devices: BTreeSet<Bdf> = env
            .list(paths::PCI_DEVICES.as_ref())?
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect();
        let mut pfs = BTreeSet::new();
        let mut others = BTreeSet::new();
        for step in &plan.steps {
            match step {
                Step::SetDriver { device: bdf, .. } | Step::SetVfioAccess { vf: bdf, .. } => {
                    others.insert(*bdf);
                }
                _ => {
                    pfs.insert(step.target());
                }
            }
        }
        let mut attributes = BTreeMap::new();
        let mut bindings = BTreeMap::new();
        for &pf in &pfs {
            for name in PF_ATTRIBUTES {
                let mut value = env.read_opt::<String>(&paths::device_attr(pf, name))?;
                // Services are a set: older kernels echo them in the order written.
                if name == "qat/cfg_services" {
                    value =
                        value.map(|v| Services::parse_list(&v).map_or(v, |s| s.to_cfg_string()));
                }
                attributes.insert((pf, name), value);
            }
            others.insert(pf);
            others.extend(list_vfs(env, pf)?);
        }
        for bdf in others.into_iter().filter(|b| devices.contains(b)) {
            bindings.insert(bdf, Binding::read(env, bdf)?);
        }
        Ok(Snapshot {
            devices,
            attributes,
            bindings,
        })
    }

    /// What differs in `now` from this snapshot, one sentence each; empty when nothing does.
    pub(super) fn differences(&self, now: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for gone in self.devices.difference(&now.devices) {
            out.push(format!("{gone} is gone"));
        }
        for new in now.devices.difference(&self.devices) {
            out.push(format!("{new} appeared"));
        }
        for ((bdf, name), was) in &self.attributes {
            let is = now.attributes.get(&(*bdf, *name)).cloned().flatten();
            if *was != is {
                out.push(format!(
                    "{bdf} {name} reads {}, was {}",
                    shown(&is),
                    shown(was)
                ));
            }
        }
        for (bdf, was) in &self.bindings {
            // A device that is gone was reported as such.
            let Some(is) = now.bindings.get(bdf) else {
                continue;
            };
            if was.driver != is.driver {
                out.push(format!(
                    "{bdf} is bound to {}, was {}",
                    shown(&is.driver),
                    shown(&was.driver)
                ));
            }
            if was.driver_override != is.driver_override {
                out.push(format!(
                    "{bdf} driver_override reads {}, was {}",
                    shown(&is.driver_override),
                    shown(&was.driver_override)
                ));
            }
            if was.vfio_node != is.vfio_node {
                out.push(format!(
                    "{bdf}'s /dev/vfio node is {}, was {}",
                    access_text(is.vfio_node),
                    access_text(was.vfio_node)
                ));
            }
        }
        out
    }
}

impl Binding {
    fn read(env: &HostEnv, bdf: Bdf) -> Result<Self> {
        let vfio_node = match read_iommu_group(env, bdf)? {
            Some(group) => env.access(&paths::vfio_group_node(group))?,
            None => None,
        };
        Ok(Binding {
            driver: read_driver(env, bdf)?,
            driver_override: read_driver_override(env, bdf)?,
            vfio_node,
        })
    }
}

fn shown(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("nothing")
}

fn access_text(access: Option<FileAccess>) -> String {
    access.map_or("absent".into(), |a| {
        format!("uid {} gid {} mode {:04o}", a.uid, a.gid, a.mode)
    })
}
