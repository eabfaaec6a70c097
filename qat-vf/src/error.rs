//! The one error type of qat-vf.

use std::io;
use std::path::PathBuf;

use crate::pci::Bdf;

/// Everything that can go wrong in qat-vf. Messages are short sentences; the OS error, when there
/// is one, is the `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PCI address did not parse.
    #[error("invalid PCI address {input:?}: {reason}")]
    ParseBdf {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A service is listed twice.
    #[error("service {0:?} is listed twice")]
    DuplicateService(String),
    /// A service name is not one the kernel knows.
    #[error("unknown service {0:?} (known: sym, asym, dc, dcc, decomp)")]
    ParseService(String),
    /// Reading a file or attribute failed.
    #[error("cannot read {path}")]
    Read {
        /// Host path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Writing an attribute failed.
    #[error("cannot write {value:?} to {path}")]
    Write {
        /// Host path.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An attribute held something qat-vf cannot interpret.
    #[error("unexpected content {content:?} in {path}")]
    Parse {
        /// Host path.
        path: PathBuf,
        /// What it held.
        content: String,
    },
    /// No PCI device at this address.
    #[error("no PCI device {0}")]
    NoSuchDevice(Bdf),
    /// The request names no PF and the host has no QAT PF.
    #[error("no QAT PF found; name SR-IOV PFs with --pf")]
    NothingToManage,
    /// The device has no SR-IOV capability (no `sriov_totalvfs`).
    #[error("{0} has no SR-IOV capability")]
    NotSriov(Bdf),
    /// A request that the device or its generation cannot satisfy.
    #[error("{bdf}: {reason}")]
    Unsupported {
        /// The device concerned.
        bdf: Bdf,
        /// Why not.
        reason: String,
    },
    /// The requested driver is not loaded (no directory under /sys/bus/pci/drivers).
    #[error("driver {0} is not loaded (modprobe it first)")]
    DriverNotLoaded(String),
    /// A driver name that cannot be a sysfs directory name.
    #[error("invalid driver name {0:?}")]
    InvalidDriverName(String),
    /// An owner group that is neither a number nor a known group name.
    #[error("unknown group {0:?}")]
    UnknownGroup(String),
    /// After a write, re-reading showed that the change did not happen.
    #[error("{path} reads {found:?} after the write, expected {expected:?}")]
    Verify {
        /// Host path re-read.
        path: PathBuf,
        /// What it read.
        found: String,
        /// What it should have read.
        expected: String,
    },
    /// A VFIO user has the VF's group open and the operation would take the VF away.
    #[error("{vf} is in use by a VFIO user (pid {pid} has its group open); stop it first or force")]
    HeldByVfioUser {
        /// The held VF.
        vf: Bdf,
        /// A process holding it.
        pid: u32,
    },
    /// A VFIO user has the VF's device open: the kernel would wait for it to close it.
    #[error(
        "{vf} is open by a VFIO user (pid {pid}); the kernel would wait until it closes it, so stop it first (force does not override this)"
    )]
    DeviceOpenByVfioUser {
        /// The VF.
        vf: Bdf,
        /// A process holding it.
        pid: u32,
    },
    /// A process holds a VFIO device fd whose device cannot be identified; it may be a VF the
    /// operation would take away.
    #[error("pid {pid} holds a VFIO device that cannot be identified; stop it first or force")]
    UnidentifiedVfioUser {
        /// The process.
        pid: u32,
    },
    /// A VFIO request failed.
    #[error("{op} on {target} failed")]
    Vfio {
        /// The request (`VFIO_GROUP_SET_CONTAINER`, `open`, ...).
        op: &'static str,
        /// The node or device.
        target: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The kernel speaks another VFIO API version.
    #[error("VFIO API version {found}, expected 0")]
    VfioApiVersion {
        /// What the kernel answered.
        found: i32,
    },
    /// The device is not bound to a VFIO driver.
    #[error("{bdf} is bound to {}, not to vfio-pci (qatctl apply --driver vfio-pci)", driver.as_deref().unwrap_or("no driver"))]
    NotBoundToVfio {
        /// The device.
        bdf: Bdf,
        /// Its driver.
        driver: Option<String>,
    },
    /// Another device of the IOMMU group is bound to a host driver.
    #[error("IOMMU group {group} is not viable: {}", blockers_text(blockers))]
    GroupNotViable {
        /// The group.
        group: u32,
        /// The devices that make it so.
        blockers: Vec<crate::iommu::Blocker>,
    },
    /// DMA memory, size or IOVA not aligned to the IOMMU page size.
    #[error(
        "DMA mapping of {size:#x} bytes at IOVA {iova:#x} is not aligned to {page:#x}-byte pages"
    )]
    DmaUnaligned {
        /// IOVA.
        iova: u64,
        /// Size.
        size: u64,
        /// IOMMU page size.
        page: u64,
    },
    /// The IOVA range is outside what the IOMMU offers (e.g. the MSI window).
    #[error("IOVA {iova:#x}+{size:#x} is outside the usable ranges {ranges}")]
    DmaOutOfRange {
        /// IOVA.
        iova: u64,
        /// Size.
        size: u64,
        /// The usable ranges.
        ranges: String,
    },
    /// The IOVA range is mapped already.
    #[error("IOVA {iova:#x}+{size:#x} overlaps an existing DMA mapping")]
    DmaOverlap {
        /// IOVA.
        iova: u64,
        /// Size.
        size: u64,
    },
    /// Pinning would exceed RLIMIT_MEMLOCK.
    #[error(
        "pinning {needed} more bytes ({locked} pinned already) exceeds RLIMIT_MEMLOCK ({limit} bytes); raise it (ulimit -l, LimitMEMLOCK=) or run with CAP_IPC_LOCK"
    )]
    MemlockTooLow {
        /// Bytes to pin.
        needed: u64,
        /// Bytes pinned already.
        locked: u64,
        /// The soft limit.
        limit: u64,
    },
    /// A register access outside a mapping or region, or not aligned to its width.
    #[error(
        "access of {width} bytes at offset {offset:#x} is outside a {len:#x}-byte region or unaligned"
    )]
    MmioOutOfBounds {
        /// Offset.
        offset: usize,
        /// Width in bytes.
        width: usize,
        /// Region length.
        len: usize,
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
    /// The domain XML cannot take the hostdevs.
    #[error("domain XML: {0}")]
    Domain(String),
    /// A name (alias, resource name) that would not survive in XML, YAML or JSON as given.
    #[error("invalid {what} {value:?}: {rule}")]
    InvalidName {
        /// Which kind of name.
        what: &'static str,
        /// What was given.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The advisory provisioning lock could not be taken.
    #[error("cannot lock {path}")]
    Lock {
        /// Lock file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A simulated host's state file could not be loaded or saved.
    #[error("cannot {action} simulated host state {path}")]
    SimState {
        /// `load` or `save`.
        action: &'static str,
        /// State file.
        path: PathBuf,
        /// The I/O or JSON error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Result with qat-vf's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn blockers_text(blockers: &[crate::iommu::Blocker]) -> String {
    if blockers.is_empty() {
        return "a member is bound to a host driver".into();
    }
    let list: Vec<String> = blockers
        .iter()
        .map(|b| format!("{} is bound to {}", b.bdf, b.driver))
        .collect();
    format!("{}; unbind them or bind them to vfio-pci", list.join(", "))
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
