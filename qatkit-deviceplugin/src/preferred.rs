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

#[cfg(test)]
mod tests {
    use super::*;

    /// `per_node[n]` devices on node n, and one device reporting no node.
    fn devices(per_node: &[usize]) -> Vec<Device> {
        let mut devices = Vec::new();
        for (node, &count) in per_node.iter().enumerate() {
            for i in 0..count {
                devices.push(device(node as u8, i as u8, Some(node as u32)));
            }
        }
        devices.push(device(9, 0, None));
        devices
    }

    fn device(bus: u8, index: u8, numa_node: Option<u32>) -> Device {
        Device {
            vf: Bdf {
                domain: 0,
                bus: 0x10 + bus,
                device: index >> 3,
                function: index & 7,
            },
            pf: Bdf {
                domain: 0,
                bus: 0x10 + bus,
                device: 31,
                function: 0,
            },
            numa_node,
            iommu_group: None,
            problem: None,
        }
    }

    #[test]
    fn the_node_is_the_must_includes_else_the_smallest_that_fits_else_the_largest() {
        let all = devices(&[10, 3, 6]);
        let offered: Vec<&Device> = all.iter().collect();
        assert_eq!(numa_node(&offered, &[], 2), Some(1));
        assert_eq!(numa_node(&offered, &[], 4), Some(2));
        assert_eq!(numa_node(&offered, &[], 7), Some(0));
        assert_eq!(numa_node(&offered, &[], 20), Some(0));
        // A must-include device decides, whatever fits.
        let on_node_1 = all.iter().find(|d| d.numa_node == Some(1)).unwrap().vf;
        assert_eq!(numa_node(&offered, &[on_node_1], 20), Some(1));
        // Ties go to the lower node; no node at all, no preference.
        let tied = devices(&[4, 4]);
        assert_eq!(numa_node(&tied.iter().collect::<Vec<_>>(), &[], 2), Some(0));
        let none = [device(9, 0, None)];
        assert_eq!(numa_node(&none.iter().collect::<Vec<_>>(), &[], 1), None);
    }
}
