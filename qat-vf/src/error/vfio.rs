//! Errors of VFIO: opening nodes, the requests (ioctls), DMA mappings, register access, and
//! what must hold before a device can be opened.

use std::io;
use std::path::PathBuf;

use super::{ErrorKind, kind_of_os, kind_of_refusal};
use crate::pci::Bdf;

/// A device that makes its IOMMU group unusable for VFIO, and the host driver it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Blocker {
    /// The device.
    pub bdf: Bdf,
    /// Its host driver.
    pub driver: String,
}

/// Opening or using a device through VFIO failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VfioError {
    /// Opening a VFIO node (`/dev/vfio/vfio`, a group, a cdev, `/dev/iommu`) failed.
    #[error("cannot open {path}")]
    Open {
        /// The node.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A VFIO or iommufd request failed.
    #[error("{request} on {target} failed")]
    Request {
        /// The ioctl (`VFIO_GROUP_SET_CONTAINER`, ...).
        request: &'static str,
        /// The node or device.
        target: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A request answered with data qat-vf cannot parse (a truncated capability chain).
    #[error("{request} on {target} answered malformed data")]
    Malformed {
        /// The ioctl.
        request: &'static str,
        /// The node or device.
        target: String,
    },
    /// The kernel unmapped another amount than was mapped.
    #[error("unmapping IOVA {iova:#x}+{size:#x} unmapped {unmapped:#x} bytes")]
    PartialUnmap {
        /// IOVA.
        iova: u64,
        /// Bytes mapped.
        size: u64,
        /// Bytes the kernel unmapped.
        unmapped: u64,
    },
    /// The IOMMU model can only be set once a group is attached (the kernel answers EINVAL).
    #[error("the container's IOMMU can only be set once a group is attached")]
    NoGroupAttached,
    /// A region that cannot be mapped into the process (not mmap-capable, or empty).
    #[error("region {index} of {bdf} cannot be mapped")]
    RegionNotMappable {
        /// The device.
        bdf: Bdf,
        /// Region index.
        index: u32,
    },
    /// Mapping a region into the process failed.
    #[error("cannot map region {index} of {bdf}")]
    MapRegion {
        /// The device.
        bdf: Bdf,
        /// Region index.
        index: u32,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Config space read or write moved fewer bytes than asked.
    #[error("config space {op} of {bdf} at {offset:#x} moved {done} of {wanted} bytes")]
    ShortTransfer {
        /// The device.
        bdf: Bdf,
        /// `read` or `write`.
        op: &'static str,
        /// Offset in config space.
        offset: u64,
        /// Bytes moved.
        done: usize,
        /// Bytes asked for.
        wanted: usize,
    },
    /// Creating the eventfd for the REQ notifier failed.
    #[error("cannot create an eventfd")]
    EventFd(#[source] io::Error),
    /// Allocating DMA memory failed.
    #[error("cannot allocate {len} bytes of DMA memory")]
    AllocateDma {
        /// Bytes asked for.
        len: usize,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The kernel speaks another VFIO API version.
    #[error("VFIO API version {found}, expected 0")]
    ApiVersion {
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
    /// The device has no IOMMU group.
    #[error("{0} has no IOMMU group (is the IOMMU enabled?)")]
    NoIommuGroup(Bdf),
    /// An SR-IOV PF was named where a VF is wanted.
    #[error("{0} is an SR-IOV PF, not a VF; name one of its VFs")]
    NotAVf(Bdf),
    /// Another device of the IOMMU group is bound to a host driver.
    #[error("IOMMU group {group} is not viable: {}", blockers_text(blockers))]
    GroupNotViable {
        /// The group.
        group: u32,
        /// The devices that make it so.
        blockers: Vec<Blocker>,
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
    OutOfBounds {
        /// Offset.
        offset: usize,
        /// Width in bytes.
        width: usize,
        /// Region length.
        len: usize,
    },
}

impl VfioError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            VfioError::Open { source, .. } => kind_of_os(source),
            VfioError::Request { source, .. } => match source.raw_os_error() {
                Some(nix::libc::ENOTTY) => ErrorKind::Unsupported,
                _ => kind_of_refusal(source),
            },
            VfioError::Malformed { .. }
            | VfioError::PartialUnmap { .. }
            | VfioError::ShortTransfer { .. } => ErrorKind::DeviceFailure,
            VfioError::MapRegion { source, .. } => kind_of_refusal(source),
            VfioError::EventFd(source) | VfioError::AllocateDma { source, .. } => {
                kind_of_os(source)
            }
            VfioError::ApiVersion { .. }
            | VfioError::NoIommuGroup(_)
            | VfioError::RegionNotMappable { .. } => ErrorKind::Unsupported,
            VfioError::NoGroupAttached
            | VfioError::NotBoundToVfio { .. }
            | VfioError::NotAVf(_)
            | VfioError::DmaUnaligned { .. }
            | VfioError::DmaOutOfRange { .. }
            | VfioError::DmaOverlap { .. }
            | VfioError::OutOfBounds { .. } => ErrorKind::InvalidInput,
            VfioError::GroupNotViable { .. } => ErrorKind::NotViable,
            VfioError::MemlockTooLow { .. } => ErrorKind::LimitExceeded,
        }
    }
}

fn blockers_text(blockers: &[Blocker]) -> String {
    if blockers.is_empty() {
        return "a member is bound to a host driver".into();
    }
    let list: Vec<String> = blockers
        .iter()
        .map(|b| format!("{} is bound to {}", b.bdf, b.driver))
        .collect();
    format!("{}; unbind them or bind them to vfio-pci", list.join(", "))
}
