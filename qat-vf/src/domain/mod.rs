//! Handing VFs to VMs: choose them ([`allocate`]), place them on guest buses by qatlib's rule
//! ([`layout`]), write libvirt `<hostdev>`s and the controllers they need and insert them into a
//! domain idempotently ([`insert`], [`hostdev_xml`]), and the KubeVirt configuration
//! ([`kubevirt`]).

mod allocate;
pub mod kubevirt;
mod layout;
mod xml;

pub use allocate::{Allocated, Policy, Request, allocate};
pub use layout::{GuestBus, Machine, Placement, layout};
use xml::render;
pub use xml::{DomainInfo, HostdevOptions, MAX_DOMAIN_XML_BYTES, validate_alias_prefix};

use crate::discovery::Host;
use crate::error::{DomainError, Result};

/// Chooses VFs on `host` by `request` and writes their hostdevs: into `domain_xml` when given
/// (keeping, first, the VFs it has from qatkit already and never choosing those it passes
/// through otherwise, so re-running is stable), else on their own for `machine`. The request's
/// `keep` and `exclude` are taken from the domain. Returns the VFs and the XML.
pub fn choose_and_write(
    host: &Host,
    request: &Request,
    domain_xml: Option<&str>,
    machine: Machine,
    opts: &HostdevOptions,
) -> Result<(Vec<Allocated>, String)> {
    opts.validate()?;
    match domain_xml {
        Some(text) => {
            let info = DomainInfo::parse(text, &opts.alias_prefix)?;
            let request = Request {
                keep: info.own_sources.clone(),
                exclude: info.other_sources.clone(),
                ..request.clone()
            };
            let vfs = allocate(host, &request)?;
            let xml = insert_parsed(text, &info, &vfs, opts)?;
            Ok((vfs, xml))
        }
        None => {
            let vfs = allocate(host, request)?;
            let xml = hostdev_xml(&vfs, machine, opts)?;
            Ok((vfs, xml))
        }
    }
}

/// The hostdev elements for `vfs` on their own (for a fresh q35 domain, whose `pcie-root` is
/// controller 0: qatkit's controllers start at index 1).
pub fn hostdev_xml(vfs: &[Allocated], machine: Machine, opts: &HostdevOptions) -> Result<String> {
    let (buses, placements) = layout(vfs, machine, 1..)?;
    Ok(render(&buses, &placements, opts)?.join("\n") + "\n")
}

/// `domain_xml` with qatkit's hostdevs for `vfs` (replacing any it added before), the
/// controllers on the lowest indexes the domain's own do not use (stable across re-runs, also
/// after libvirt adds controllers of its own), and every other byte unchanged. A VF that another
/// hostdev of the domain passes through already is refused.
pub fn insert(domain_xml: &str, vfs: &[Allocated], opts: &HostdevOptions) -> Result<String> {
    validate_alias_prefix(&opts.alias_prefix)?;
    insert_parsed(
        domain_xml,
        &DomainInfo::parse(domain_xml, &opts.alias_prefix)?,
        vfs,
        opts,
    )
}

/// [`insert`] with the domain parsed already (with the same alias prefix).
pub fn insert_parsed(
    domain_xml: &str,
    info: &DomainInfo,
    vfs: &[Allocated],
    opts: &HostdevOptions,
) -> Result<String> {
    if let Some(taken) = vfs.iter().find(|a| info.other_sources.contains(&a.vf)) {
        return Err(DomainError::Place(format!(
            "{} is passed to the domain by another <hostdev> already",
            taken.vf
        ))
        .into());
    }
    let free = (1..).filter(|i| !info.used_pci_indexes.contains(i));
    let (buses, placements) = layout(vfs, info.machine, free)?;
    let elements = render(&buses, &placements, opts)?;
    let out = info.rewrite(domain_xml, &elements);
    // What qatkit writes, it must be able to read again (and so must virsh).
    if out.len() > MAX_DOMAIN_XML_BYTES {
        return Err(DomainError::Place(format!(
            "the result would have {} bytes, more than the {MAX_DOMAIN_XML_BYTES} virsh reads",
            out.len()
        ))
        .into());
    }
    Ok(out)
}
