//! The VFIO container: one IOMMU context that groups attach to and DMA maps into.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use vfio_bindings::bindings::vfio as b;

use super::caps::{IommuInfo, parse_iommu_info};
use super::dma::{DmaMapping, DmaSpace, check_request};
use super::group::Group;
use crate::error::{Result, VfioError};
use crate::host::{HostEnv, paths};
use crate::iommu;

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
    env: HostEnv,
    iommu: Option<u32>,
    groups: Vec<u32>,
}

impl Container {
    /// Opens the host's `/dev/vfio/vfio` and checks the API version.
    pub fn open(env: &HostEnv) -> Result<Self> {
        let path = Path::new(paths::VFIO_CONTAINER);
        let fd = env.vfio().open(path).map_err(|source| VfioError::Open {
            path: path.to_owned(),
            source,
        })?;
        let container = Container {
            fd,
            env: env.clone(),
            iommu: None,
            groups: Vec::new(),
        };
        let version = container
            .env
            .vfio()
            .api_version(container.fd.as_fd())
            .map_err(|source| container.error("VFIO_GET_API_VERSION", source))?;
        if version != b::VFIO_API_VERSION as i32 {
            return Err(VfioError::ApiVersion { found: version }.into());
        }
        Ok(container)
    }

    fn error(&self, request: &'static str, source: std::io::Error) -> VfioError {
        VfioError::Request {
            request,
            target: paths::VFIO_CONTAINER.to_owned(),
            source,
        }
    }

    /// The IOMMU models the kernel offers.
    pub fn extensions(&self) -> Result<Extensions> {
        let check = |ext| {
            self.env
                .vfio()
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
    pub fn attach(&mut self, group: &Group) -> Result<()> {
        let _span = tracing::info_span!("vfio_attach", group = group.number()).entered();
        let not_viable = |env: &HostEnv| -> crate::Error {
            match iommu::viability_blockers(env, group.number()) {
                Ok(blockers) => VfioError::GroupNotViable {
                    group: group.number(),
                    blockers,
                }
                .into(),
                Err(e) => e,
            }
        };
        if !group.status()?.viable {
            return Err(not_viable(&self.env));
        }
        self.env
            .vfio()
            .group_set_container(group.as_fd(), self.fd.as_fd())
            .map_err(|source| match source.raw_os_error() {
                Some(nix::libc::EPERM) => not_viable(&self.env),
                _ => group.error("VFIO_GROUP_SET_CONTAINER", source).into(),
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
        self.env
            .vfio()
            .group_unset_container(group.as_fd())
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
            return Err(VfioError::NoGroupAttached.into());
        }
        self.env
            .vfio()
            .set_iommu(self.fd.as_fd(), kind)
            .map_err(|e| self.error("VFIO_SET_IOMMU", e))?;
        self.iommu = Some(kind);
        Ok(())
    }

    /// Page sizes and usable IOVA ranges (needs the IOMMU set).
    pub fn iommu_info(&self) -> Result<IommuInfo> {
        let buf = self
            .env
            .vfio()
            .iommu_info(self.fd.as_fd())
            .map_err(|e| self.error("VFIO_IOMMU_GET_INFO", e))?;
        parse_iommu_info(&buf).ok_or_else(|| {
            VfioError::Malformed {
                request: "VFIO_IOMMU_GET_INFO",
                target: paths::VFIO_CONTAINER.to_owned(),
            }
            .into()
        })
    }

    /// Maps `memory` for device DMA at `iova` until the mapping is dropped. Checks alignment,
    /// the IOVA ranges and RLIMIT_MEMLOCK first.
    pub fn map_dma<'a>(&'a self, memory: &'a mut [u8], iova: u64) -> Result<DmaMapping<'a>> {
        let info = self.iommu_info()?;
        let request = check_request(
            memory,
            iova,
            info.min_page_size(),
            Some(&info),
            self.env.memlock(),
        )?;
        let size = request.size;
        let _span = tracing::info_span!("dma_map", iova, size).entered();
        self.env
            .vfio()
            .map_dma(self.fd.as_fd(), request.vaddr, iova, size)
            .map_err(|source| match source.raw_os_error() {
                Some(nix::libc::EEXIST) => VfioError::DmaOverlap { iova, size },
                _ => self.error("VFIO_IOMMU_MAP_DMA", source),
            })?;
        Ok(DmaMapping::new(self, iova, size))
    }
}

impl DmaSpace for Container {
    fn unmap(&self, iova: u64, size: u64) -> Result<u64> {
        Ok(self
            .env
            .vfio()
            .unmap_dma(self.fd.as_fd(), iova, size)
            .map_err(|e| self.error("VFIO_IOMMU_UNMAP_DMA", e))?)
    }
}

impl AsFd for Container {
    /// The descriptor, for what qat-vf does not wrap (e.g. handing it to KVM).
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
