//! GetPreferredAllocation's answer: the must-include devices, then devices on one NUMA node,
//! then qatkit's balanced or packed policy across PFs — `qatctl xml`'s allocation code, run on
//! the host reduced to the devices the kubelet offers.

use std::collections::BTreeMap;

use qat_vf::domain::{Policy, Request, allocate};
use qat_vf::{Bdf, Host};

use crate::inventory::Device;

/// Chooses `size` of `available` (device IDs), `must_include` first. IDs the plugin does not
/// know are ignored; when the policy cannot fill the request (it passes over VFs a process
/// outside Kubernetes holds, for one), the rest is filled from `available` in order, since the
/// kubelet takes the answer only as a preference.
pub fn preferred(
    host: &Host,
    devices: &[Device],
    driver: &str,
    policy: Policy,
    available: &[String],
    must_include: &[String],
    size: usize,
) -> Vec<String> {
    let known = |id: &String| devices.iter().find(|d| d.id() == *id);
    let offered: Vec<&Device> = available.iter().filter_map(known).collect();
    let keep: Vec<Bdf> = must_include
        .iter()
        .filter_map(known)
        .map(|d| d.vf)
        .collect();
    let mut chosen: Vec<String> = allocate(
        &offered_only(host, &offered),
        &Request {
            count: size.min(offered.len()),
            policy,
            numa_node: numa_node(&offered, &keep, size),
            driver: driver.to_owned(),
            keep: keep.clone(),
            exclude: Vec::new(),
        },
    )
    .map(|vfs| vfs.iter().map(|a| a.vf.to_string()).collect())
    .unwrap_or_default();
    // The kubelet's must-include IDs are in the answer whatever the policy said.
    for id in must_include.iter().rev() {
        if !chosen.contains(id) {
            chosen.insert(0, id.clone());
        }
    }
    for id in available {
        if chosen.len() >= size {
            break;
        }
        if !chosen.contains(id) {
            chosen.push(id.clone());
        }
    }
    chosen.truncate(size.max(must_include.len()));
    chosen
}

/// The host with only the offered VFs left.
fn offered_only(host: &Host, offered: &[&Device]) -> Host {
    let mut host = host.clone();
    for pf in &mut host.pfs {
        pf.vfs
            .retain(|vf| offered.iter().any(|d| d.vf == vf.pci.bdf));
    }
    host
}

/// The node to prefer: the must-include devices' node (the first one's); else the node with
/// the most offered devices among those that can hold the whole request, else the one with the
/// most; `None` when no device reports a node.
fn numa_node(offered: &[&Device], keep: &[Bdf], size: usize) -> Option<u32> {
    if let Some(node) = keep.iter().find_map(|bdf| {
        offered
            .iter()
            .find(|d| d.vf == *bdf)
            .and_then(|d| d.numa_node)
    }) {
        return Some(node);
    }
    let mut count: BTreeMap<u32, usize> = BTreeMap::new();
    for node in offered.iter().filter_map(|d| d.numa_node) {
        *count.entry(node).or_default() += 1;
    }
    // Fewest devices that still fit the request keeps the larger nodes for larger requests;
    // without such a node, the largest.
    count
        .iter()
        .filter(|(_, n)| **n >= size)
        .min_by_key(|(node, n)| (**n, **node))
        .or_else(|| {
            count
                .iter()
                .max_by_key(|(node, n)| (**n, std::cmp::Reverse(**node)))
        })
        .map(|(node, _)| *node)
}
