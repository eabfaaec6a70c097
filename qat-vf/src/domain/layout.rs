//! Where the VFs sit in the guest, by qatlib's rule: the VFs of one host PF share one guest bus,
//! functions 0–7 of a slot before the next slot, `multifunction='on'` on function 0 of every slot
//! with more than one function.
//!
//! The bus is a bridge with 31 slots: on q35 a `pcie-to-pci-bridge` behind a `pcie-root-port` of
//! its own (a root port's bus has a single slot, too few for 16 VFs), on i440fx a `pci-bridge`.

use std::collections::BTreeMap;

use super::allocate::Allocated;
use crate::error::{DomainError, Result};
use crate::pci::Bdf;

/// The guest machine type, which decides the controllers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Machine {
    /// q35 (PCIe).
    #[default]
    Q35,
    /// i440fx (`pc`, conventional PCI).
    Pc,
}

impl std::str::FromStr for Machine {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "q35" => Ok(Machine::Q35),
            "pc" | "i440fx" => Ok(Machine::Pc),
            _ => Err(format!("unknown machine {s:?} (q35 or pc)")),
        }
    }
}

/// A guest bus for the VFs of one host PF.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GuestBus {
    /// The host PF whose VFs it carries.
    pub pf: Bdf,
    /// Controller index of the root port the bridge plugs into (q35).
    pub root_port: Option<u32>,
    /// Controller index of the bridge: the guest bus number of its VFs.
    pub bridge: u32,
}

/// A VF's guest PCI address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Placement {
    /// The host VF.
    pub vf: Bdf,
    /// Guest bus (the bridge's index).
    pub bus: u32,
    /// Guest slot, from 1.
    pub slot: u8,
    /// Guest function.
    pub function: u8,
    /// `multifunction='on'`: function 0 of a slot with more functions.
    pub multifunction: bool,
}

/// Slots a bridge offers (1–31; slot 0 is reserved).
const SLOTS: u8 = 31;

/// Lays out the VFs: one bus per PF (PFs in address order), controller indexes taken from
/// `indexes` (free ones, ascending).
pub fn layout(
    vfs: &[Allocated],
    machine: Machine,
    mut indexes: impl Iterator<Item = u32>,
) -> Result<(Vec<GuestBus>, Vec<Placement>)> {
    let mut by_pf: BTreeMap<Bdf, Vec<Bdf>> = BTreeMap::new();
    for a in vfs {
        by_pf.entry(a.pf).or_default().push(a.vf);
    }
    let mut buses = Vec::new();
    let mut placements = Vec::new();
    let mut next_index = || {
        indexes
            .next()
            .ok_or_else(|| DomainError::Place("no free controller index".into()))
    };
    // PFs in address order; each PF's VFs in the order given (kept ones first, so a re-run
    // keeps their guest addresses).
    for (pf, vfs) in by_pf {
        if vfs.len() > usize::from(SLOTS) * 8 {
            return Err(DomainError::Place(format!(
                "{} VFs of {pf} do not fit one guest bus",
                vfs.len()
            ))
            .into());
        }
        // q35 needs a root port and a bridge per PF, i440fx a bridge.
        let root_port = if machine == Machine::Q35 {
            Some(next_index()?)
        } else {
            None
        };
        let bridge = next_index()?;
        buses.push(GuestBus {
            pf,
            root_port,
            bridge,
        });
        for (i, chunk) in vfs.chunks(8).enumerate() {
            for (function, vf) in chunk.iter().enumerate() {
                placements.push(Placement {
                    vf: *vf,
                    bus: bridge,
                    slot: 1 + i as u8,
                    function: function as u8,
                    multifunction: function == 0 && chunk.len() > 1,
                });
            }
        }
    }
    Ok((buses, placements))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vfs(pf: &str, n: u16) -> Vec<Allocated> {
        let pf: Bdf = pf.parse().unwrap();
        (0..n)
            .map(|i| Allocated {
                vf: pf.virtfn(1, 1, i).unwrap(),
                pf,
                numa_node: Some(0),
            })
            .collect()
    }

    #[test]
    fn sixteen_vfs_of_one_pf_fill_two_slots_of_one_bus() {
        let (buses, places) = layout(&vfs("0000:6b:00.0", 16), Machine::Q35, 1..).unwrap();
        assert_eq!(
            buses,
            vec![GuestBus {
                pf: "6b:00.0".parse().unwrap(),
                root_port: Some(1),
                bridge: 2
            }]
        );
        assert_eq!(places.len(), 16);
        assert!(places.iter().all(|p| p.bus == 2));
        assert_eq!(
            (places[0].slot, places[0].function, places[0].multifunction),
            (1, 0, true)
        );
        assert_eq!(
            (places[7].slot, places[7].function, places[7].multifunction),
            (1, 7, false)
        );
        assert_eq!(
            (places[8].slot, places[8].function, places[8].multifunction),
            (2, 0, true)
        );
    }

    #[test]
    fn one_bus_per_pf_and_a_lone_function_is_not_multifunction() {
        let mut both = vfs("0000:70:00.0", 1);
        both.extend(vfs("0000:6b:00.0", 9));
        let (buses, places) = layout(&both, Machine::Pc, 5..).unwrap();
        assert_eq!(
            buses
                .iter()
                .map(|b| (b.root_port, b.bridge))
                .collect::<Vec<_>>(),
            vec![(None, 5), (None, 6)]
        );
        let last = places.last().unwrap();
        assert_eq!(
            (last.bus, last.slot, last.function, last.multifunction),
            (6, 1, 0, false)
        );
        let ninth = places[8];
        assert_eq!(
            (ninth.bus, ninth.slot, ninth.function, ninth.multifunction),
            (5, 2, 0, false)
        );
    }
}
