//! Choosing VFs for a VM: `balanced` spreads them over PFs, `packed` fills one PF first; a NUMA
//! node can be preferred. Only VFs on the requested driver, whose PF is up and healthy, that no
//! VFIO user holds and that the domain does not use otherwise are eligible.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::attributes::Heartbeat;
use crate::discovery::{Host, PhysicalFunction, VirtualFunction};
use crate::error::{DomainError, Result};
use crate::pci::Bdf;
use crate::qat::QatState;

/// How VFs are spread over PFs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// One VF per PF in turn (Intel's device plugin calls it balanced).
    #[default]
    Balanced,
    /// Fill one PF before the next.
    Packed,
}

impl FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "balanced" => Ok(Policy::Balanced),
            "packed" => Ok(Policy::Packed),
            _ => Err(format!("unknown policy {s:?} (balanced or packed)")),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Balanced => "balanced",
            Policy::Packed => "packed",
        })
    }
}

/// What to allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// How many VFs.
    pub count: usize,
    /// Spread or fill.
    pub policy: Policy,
    /// Prefer VFs on this NUMA node; others are taken only when it has too few. A node none of
    /// the host's VFs is on is an error.
    pub numa_node: Option<u32>,
    /// The driver the VFs must be bound to (`vfio-pci`, `qat_vfio_pci`).
    pub driver: String,
    /// VFs the domain already has through qatkit: kept first, so that re-running is stable
    /// (they may be held by the domain's own VM).
    pub keep: Vec<Bdf>,
    /// VFs the domain uses through other hostdevs: never chosen.
    pub exclude: Vec<Bdf>,
}

/// A chosen VF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Allocated {
    /// The VF.
    pub vf: Bdf,
    /// Its PF.
    pub pf: Bdf,
    /// Its NUMA node.
    pub numa_node: Option<u32>,
}

/// Why a VF was not eligible.
fn ineligible(pf: &PhysicalFunction, vf: &VirtualFunction, req: &Request) -> Option<String> {
    if req.exclude.contains(&vf.pci.bdf) {
        return Some("used by another hostdev of the domain".into());
    }
    if vf.pci.driver.as_deref() != Some(req.driver.as_str()) {
        let driver = vf.pci.driver.as_deref().unwrap_or("no driver");
        return Some(format!("bound to {driver}, not {}", req.driver));
    }
    if pf.state == Some(QatState::Down) {
        return Some(format!("its PF {} is down", pf.pci.bdf));
    }
    if pf.heartbeat == Some(Heartbeat::Failed) {
        return Some(format!("its PF {} failed its heartbeat", pf.pci.bdf));
    }
    if !vf.held_by.is_empty() && !req.keep.contains(&vf.pci.bdf) {
        return Some(format!("held by pid {}", vf.held_by[0]));
    }
    None
}

/// Picks `req.count` VFs from the host's PFs, or says why too few are eligible. A preferred
/// NUMA node that none of the host's VFs is on is refused as a mistake, unless the VFs report
/// no node at all (one socket, a VM): then the preference cannot matter.
pub fn allocate(host: &Host, req: &Request) -> Result<Vec<Allocated>> {
    if let Some(node) = req.numa_node {
        let nodes: std::collections::BTreeSet<u32> = host
            .pfs
            .iter()
            .flat_map(|pf| &pf.vfs)
            .filter_map(|vf| vf.pci.numa_node)
            .collect();
        if !nodes.is_empty() && !nodes.contains(&node) {
            return Err(DomainError::NoVfsOnNode {
                node,
                nodes: nodes.into_iter().collect(),
            }
            .into());
        }
    }
    let mut pool: BTreeMap<Bdf, Vec<Allocated>> = BTreeMap::new();
    let mut left_out = Vec::new();
    for pf in &host.pfs {
        for vf in &pf.vfs {
            match ineligible(pf, vf, req) {
                Some(reason) => left_out.push((vf.pci.bdf, reason)),
                None => pool.entry(pf.pci.bdf).or_default().push(Allocated {
                    vf: vf.pci.bdf,
                    pf: pf.pci.bdf,
                    numa_node: vf.pci.numa_node,
                }),
            }
        }
    }
    let eligible: usize = pool.values().map(Vec::len).sum();
    if eligible < req.count {
        return Err(DomainError::TooFewVfs {
            wanted: req.count,
            eligible,
            left_out,
        }
        .into());
    }
    let mut chosen: Vec<Allocated> = Vec::new();
    for keep in &req.keep {
        if chosen.len() == req.count {
            break;
        }
        for vfs in pool.values_mut() {
            if let Some(i) = vfs.iter().position(|a| a.vf == *keep) {
                chosen.push(vfs.remove(i));
            }
        }
    }
    let near = |vfs: &[Allocated]| {
        req.numa_node.is_some() && vfs.first().is_some_and(|a| a.numa_node == req.numa_node)
    };
    // How many VFs each PF has given so far: the kept ones count, so policies continue them.
    let mut given: BTreeMap<Bdf, usize> = BTreeMap::new();
    for a in &chosen {
        *given.entry(a.pf).or_default() += 1;
    }
    let mut pfs: Vec<(bool, Bdf, std::collections::VecDeque<Allocated>)> = pool
        .into_iter()
        .map(|(pf, vfs)| (!near(&vfs), pf, vfs.into()))
        .collect();
    while chosen.len() < req.count {
        // Preferred node first; then packed continues the PF that gave most, balanced the one
        // that gave fewest; then by address.
        let pick = pfs
            .iter_mut()
            .filter(|(_, _, vfs)| !vfs.is_empty())
            .min_by_key(|(far, pf, _)| {
                let n = given.get(pf).copied().unwrap_or(0);
                let rank = match req.policy {
                    Policy::Packed => usize::MAX - n,
                    Policy::Balanced => n,
                };
                (*far, rank, *pf)
            });
        let Some((_, pf, vfs)) = pick else { break };
        let next = vfs.pop_front().expect("non-empty queue");
        *given.entry(*pf).or_default() += 1;
        chosen.push(next);
    }
    Ok(chosen)
}
