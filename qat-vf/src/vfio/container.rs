//! The VFIO container: one IOMMU context that groups attach to and DMA maps into.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vfio_bindings::bindings::vfio as b;

use super::caps::{IommuInfo, parse_iommu_info};
use super::dma::check_memlock_here;
use super::group::Group;
use super::ops::VfioOps;
use crate::error::{Error, Result};
use crate::iommu;
use crate::sysfs::Sysfs;

/// IOMMU models a container can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Extensions {
    /// `VFIO_TYPE1v2_IOMMU`.
    pub type1v2: bool,
    /// `VFIO_TYPE1_IOMMU`.
    pub type1: bool,
    /// `VFIO_NOIOMMU_IOMMU` (unsafe mode, no isolation).
    pub noiommu: bool,
}

/// `/dev/vfio/vfio`, open.
#[derive(Debug)]
pub struct Container {
    fd: OwnedFd,
    ops: Arc<dyn VfioOps>,
    dir: PathBuf,
    iommu: Option<u32>,
    groups: Vec<u32>,
}

impl Container {
    /// Opens `<dir>/vfio` (`dir` is `/dev/vfio` on a real host) and checks the API version.
    pub fn open(ops: Arc<dyn VfioOps>, dir: &Path) -> Result<Self> {
        let path = dir.join("vfio");
        let fd = ops.open(&path).map_err(|source| Error::Vfio {
            op: "open",
            target: path.display().to_string(),
            source,
        })?;
        let container = Container {
            fd,
            ops,
            dir: dir.to_owned(),
            iommu: None,
            groups: Vec::new(),
        };
        let version = container
            .ops
            .api_version(container.fd.as_fd())
            .map_err(|source| container.error("VFIO_GET_API_VERSION", source))?;
        if version != b::VFIO_API_VERSION as i32 {
            return Err(Error::VfioApiVersion { found: version });
        }
        Ok(container)
    }

    fn error(&self, op: &'static str, source: std::io::Error) -> Error {
        Error::Vfio {
            op,
            target: self.dir.join("vfio").display().to_string(),
            source,
        }
    }

    pub(super) fn ops(&self) -> &Arc<dyn VfioOps> {
        &self.ops
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The IOMMU models the kernel offers.
    pub fn extensions(&self) -> Result<Extensions> {
        let check = |ext| {
            self.ops
                .check_extension(self.fd.as_fd(), ext)
                .map_err(|e| self.error("VFIO_CHECK_EXTENSION", e))
        };
        Ok(Extensions {
            type1v2: check(b::VFIO_TYPE1v2_IOMMU)?,
            type1: check(b::VFIO_TYPE1_IOMMU)?,
            noiommu: check(b::VFIO_NOIOMMU_IOMMU)?,
        })
    }

    /// Attaches a group. A group that is not viable is refused with the devices that make it
    /// so, read from sysfs, before the kernel's bare EPERM. The first attach also sets the
    /// IOMMU model (type1v2, else type1, else noiommu), which the kernel allows only once a
    /// group is attached.
    pub fn attach(&mut self, group: &Group, sysfs: &impl Sysfs) -> Result<()> {
        let _span = tracing::info_span!("vfio_attach", group = group.number()).entered();
        if !group.status()?.viable {
            return Err(Error::GroupNotViable {
                group: group.number(),
                blockers: iommu::viability_blockers(sysfs, group.number())?,
            });
        }
        self.ops
            .group_set_container(group.fd(), self.fd.as_fd())
            .map_err(|source| match source.raw_os_error() {
                Some(nix::libc::EPERM) => match iommu::viability_blockers(sysfs, group.number()) {
                    Ok(blockers) => Error::GroupNotViable {
                        group: group.number(),
                        blockers,
                    },
                    Err(e) => e,
                },
                _ => group.error("VFIO_GROUP_SET_CONTAINER", source),
            })?;
        self.groups.push(group.number());
        if self.iommu.is_none() {
            let ext = self.extensions()?;
            let kind = if ext.type1v2 {
                b::VFIO_TYPE1v2_IOMMU
            } else if ext.type1 {
                b::VFIO_TYPE1_IOMMU
            } else {
                b::VFIO_NOIOMMU_IOMMU
            };
            self.set_iommu(kind)?;
        }
        Ok(())
    }

    /// Detaches a group (the kernel also does when the group is closed). The last group's
    /// leaving unsets the IOMMU and drops every DMA mapping. EBUSY while a device of the group
    /// is open.
    pub fn detach(&mut self, group: &Group) -> Result<()> {
        self.ops
            .group_unset_container(group.fd())
            .map_err(|e| group.error("VFIO_GROUP_UNSET_CONTAINER", e))?;
        self.groups.retain(|g| *g != group.number());
        if self.groups.is_empty() {
            self.iommu = None;
        }
        Ok(())
    }

    /// Sets the IOMMU model. Needs an attached group first (the kernel answers EINVAL).
    pub fn set_iommu(&mut self, kind: u32) -> Result<()> {
        if self.groups.is_empty() {
            return Err(Error::Vfio {
                op: "VFIO_SET_IOMMU",
                target: "a container with no group (attach a group first)".into(),
                source: std::io::Error::from_raw_os_error(nix::libc::EINVAL),
            });
        }
        self.ops
            .set_iommu(self.fd.as_fd(), kind)
            .map_err(|e| self.error("VFIO_SET_IOMMU", e))?;
        self.iommu = Some(kind);
        Ok(())
    }

    /// Page sizes and usable IOVA ranges (needs the IOMMU set).
    pub fn iommu_info(&self) -> Result<IommuInfo> {
        let buf = self
            .ops
            .iommu_info(self.fd.as_fd())
            .map_err(|e| self.error("VFIO_IOMMU_GET_INFO", e))?;
        parse_iommu_info(&buf).ok_or_else(|| {
            self.error(
                "VFIO_IOMMU_GET_INFO",
                std::io::Error::from_raw_os_error(nix::libc::EPROTO),
            )
        })
    }

    /// Maps `memory` for device DMA at `iova` until the mapping is dropped. The memory is
    /// borrowed for the mapping's life, so it cannot be freed while a device may write it.
    /// Checks alignment, the IOVA ranges and RLIMIT_MEMLOCK first, so the usual mistakes get a
    /// clear error instead of the kernel's EINVAL or ENOMEM.
    pub fn map_dma<'a>(&'a self, memory: &'a mut [u8], iova: u64) -> Result<DmaMapping<'a>> {
        let info = self.iommu_info()?;
        let page = info.min_page_size();
        let vaddr = memory.as_mut_ptr() as u64;
        let size = memory.len() as u64;
        if size == 0 || vaddr % page != 0 || size % page != 0 || iova % page != 0 {
            return Err(Error::DmaUnaligned { iova, size, page });
        }
        if !info.iova_usable(iova, size) {
            return Err(Error::DmaOutOfRange {
                iova,
                size,
                ranges: format!("{:x?}", info.iova_ranges),
            });
        }
        check_memlock_here(size)?;
        let _span = tracing::info_span!("dma_map", iova, size).entered();
        self.ops
            .map_dma(self.fd.as_fd(), vaddr, iova, size)
            .map_err(|source| {
                if source.raw_os_error() == Some(nix::libc::EEXIST) {
                    Error::DmaOverlap { iova, size }
                } else {
                    self.error("VFIO_IOMMU_MAP_DMA", source)
                }
            })?;
        Ok(DmaMapping {
            container: self,
            iova,
            size,
        })
    }
}

/// A DMA mapping; unmapped when dropped.
#[derive(Debug)]
pub struct DmaMapping<'a> {
    container: &'a Container,
    iova: u64,
    size: u64,
}

impl DmaMapping<'_> {
    /// Device-visible address.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// Bytes mapped.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Unmaps now and returns how many bytes the kernel unmapped.
    pub fn unmap(self) -> Result<u64> {
        let result = self.unmap_inner();
        std::mem::forget(self);
        result
    }

    /// Unmaps, and checks that the kernel unmapped exactly the mapping.
    fn unmap_inner(&self) -> Result<u64> {
        let c = self.container;
        let unmapped = c
            .ops
            .unmap_dma(c.fd.as_fd(), self.iova, self.size)
            .map_err(|e| c.error("VFIO_IOMMU_UNMAP_DMA", e))?;
        if unmapped == self.size {
            Ok(unmapped)
        } else {
            Err(c.error(
                "VFIO_IOMMU_UNMAP_DMA",
                std::io::Error::other(format!("unmapped {unmapped} of {} bytes", self.size)),
            ))
        }
    }
}

impl Drop for DmaMapping<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.unmap_inner() {
            tracing::warn!(iova = self.iova, error = %e, "DMA unmap failed");
        }
    }
}

impl AsFd for Container {
    /// The descriptor, for what qat-vf does not wrap (e.g. handing it to KVM).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
