//! Errors of handing VFs to guests: allocation, libvirt domain XML, KubeVirt configuration.

use super::ErrorKind;
use crate::pci::Bdf;

/// VFs cannot be chosen for a guest, or the domain XML cannot take them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The domain XML given is not one qat-vf can edit (malformed, too large, not x86, ...).
    #[error("domain XML: {0}")]
    Read(String),
    /// The hostdevs do not fit the domain (no free controller index, PCI addresses taken).
    #[error("domain XML: {0}")]
    Place(String),
    /// Writing XML failed.
    #[error("domain XML: cannot write it: {0}")]
    Write(String),
    /// A name (alias prefix, driver model) that would not survive in XML as given.
    #[error("invalid {what} {value:?}: {rule}")]
    InvalidName {
        /// Which kind of name.
        what: &'static str,
        /// What was given.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// Fewer eligible VFs than requested.
    #[error(
        "{wanted} VFs requested, {eligible} eligible; left out: {}",
        left_out_text(left_out)
    )]
    TooFewVfs {
        /// Requested.
        wanted: usize,
        /// Eligible.
        eligible: usize,
        /// Every other VF and why it was left out.
        left_out: Vec<(Bdf, String)>,
    },
    /// A preferred NUMA node that no VF is on.
    #[error("no VF is on NUMA node {node} (VFs are on {})", nodes_text(nodes))]
    NoVfsOnNode {
        /// The node asked for.
        node: u32,
        /// The nodes that have VFs.
        nodes: Vec<u32>,
    },
}

impl DomainError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DomainError::Read(_)
            | DomainError::Place(_)
            | DomainError::InvalidName { .. }
            | DomainError::NoVfsOnNode { .. } => ErrorKind::InvalidInput,
            DomainError::Write(_) => ErrorKind::Io,
            DomainError::TooFewVfs { .. } => ErrorKind::LimitExceeded,
        }
    }
}

/// KubeVirt configuration cannot be built as asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubevirtError {
    /// The host has no QAT device to configure.
    #[error("kubevirt: the host has no QAT PF or VF")]
    NoQatDevices,
    /// One resource name was given for VFs of several kinds.
    #[error(
        "kubevirt: the host has {kinds} QAT VF kinds; one --resource-name cannot name them all"
    )]
    AmbiguousResourceName {
        /// How many VF kinds the host has.
        kinds: usize,
    },
    /// An external device plugin names the resource, so the name must be given.
    #[error(
        "kubevirt: an external provider names the resource: give it with --resource-name (Intel's QAT plugin: qat.intel.com/generic, or on gen4 qat.intel.com/<services>)"
    )]
    ResourceNameRequired,
    /// A resource name Kubernetes would refuse.
    #[error("kubevirt: invalid resource name {value:?}: {rule}")]
    InvalidResourceName {
        /// What was given.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
}

impl KubevirtError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            KubevirtError::NoQatDevices => ErrorKind::NotFound,
            KubevirtError::AmbiguousResourceName { .. }
            | KubevirtError::ResourceNameRequired
            | KubevirtError::InvalidResourceName { .. } => ErrorKind::InvalidInput,
        }
    }
}

fn left_out_text(left_out: &[(Bdf, String)]) -> String {
    if left_out.is_empty() {
        return "none (the host has no more VFs)".into();
    }
    let list: Vec<String> = left_out
        .iter()
        .map(|(vf, why)| format!("{vf} {why}"))
        .collect();
    list.join("; ")
}

fn nodes_text(nodes: &[u32]) -> String {
    match nodes {
        [node] => format!("node {node} only"),
        _ => {
            let list: Vec<String> = nodes.iter().map(u32::to_string).collect();
            format!("nodes {}", list.join(", "))
        }
    }
}
