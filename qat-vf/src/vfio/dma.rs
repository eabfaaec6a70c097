//! DMA memory and mappings, shared by both ways of opening a device: page-aligned buffers, the
//! checks every mapping passes first (alignment, IOVA ranges, RLIMIT_MEMLOCK) so the usual
//! mistakes get a clear error instead of the kernel's EINVAL or ENOMEM, and one mapping type
//! that unmaps when dropped.

use memmap2::MmapMut;

use super::caps::IommuInfo;
use crate::error::{Result, VfioError};
use crate::host::Memlock;

/// Anonymous, page-aligned memory for DMA.
#[derive(Debug)]
pub struct DmaBuffer {
    map: MmapMut,
}

impl DmaBuffer {
    /// Allocates `len` bytes (rounded up to whole pages), zeroed.
    pub fn new(len: usize) -> Result<Self> {
        let page = page_size();
        let len = len.max(1).div_ceil(page) * page;
        let map =
            MmapMut::map_anon(len).map_err(|source| VfioError::AllocateDma { len, source })?;
        Ok(DmaBuffer { map })
    }

    /// The memory.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.map
    }

    /// The memory, read-only.
    pub fn as_slice(&self) -> &[u8] {
        &self.map
    }
}

/// The system page size.
pub fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| usize::try_from(p).ok())
        .unwrap_or(4096)
}

/// An address space DMA is mapped into: a container's IOMMU or an iommufd IOAS.
pub(super) trait DmaSpace: std::fmt::Debug {
    /// Unmaps `size` bytes at `iova`; returns the bytes the kernel unmapped.
    fn unmap(&self, iova: u64, size: u64) -> Result<u64>;
}

/// A mapping request that passed the checks: the memory's address and length.
#[derive(Debug)]
pub(super) struct DmaRequest {
    pub(super) vaddr: u64,
    pub(super) size: u64,
}

/// Checks a mapping of `memory` at `iova` before the kernel sees it: whole `page`s, inside the
/// usable IOVA ranges when the IOMMU reports them, and within what the process may pin.
pub(super) fn check_request(
    memory: &mut [u8],
    iova: u64,
    page: u64,
    iommu: Option<&IommuInfo>,
    memlock: Memlock,
) -> Result<DmaRequest> {
    let (vaddr, size) = (memory.as_mut_ptr() as u64, memory.len() as u64);
    if size == 0 || vaddr % page != 0 || size % page != 0 || iova % page != 0 {
        return Err(VfioError::DmaUnaligned { iova, size, page }.into());
    }
    if let Some(info) = iommu.filter(|info| !info.iova_usable(iova, size)) {
        return Err(VfioError::DmaOutOfRange {
            iova,
            size,
            ranges: format!("{:x?}", info.iova_ranges),
        }
        .into());
    }
    memlock.check(size)?;
    Ok(DmaRequest { vaddr, size })
}

/// A DMA mapping; unmapped when dropped. The memory stays borrowed as long, so it cannot be
/// freed while a device may write it.
#[derive(Debug)]
pub struct DmaMapping<'a> {
    space: &'a dyn DmaSpace,
    iova: u64,
    size: u64,
}

impl<'a> DmaMapping<'a> {
    pub(super) fn new(space: &'a dyn DmaSpace, iova: u64, size: u64) -> Self {
        DmaMapping { space, iova, size }
    }

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
        let result = self.unmap_exactly();
        std::mem::forget(self);
        result
    }

    /// Unmaps, and checks that the kernel unmapped exactly the mapping.
    fn unmap_exactly(&self) -> Result<u64> {
        let unmapped = self.space.unmap(self.iova, self.size)?;
        if unmapped == self.size {
            Ok(unmapped)
        } else {
            Err(VfioError::PartialUnmap {
                iova: self.iova,
                size: self.size,
                unmapped,
            }
            .into())
        }
    }
}

impl Drop for DmaMapping<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.unmap_exactly() {
            tracing::warn!(iova = self.iova, error = %e, "DMA unmap failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_whole_pages() {
        let mut b = DmaBuffer::new(100).unwrap();
        assert_eq!(b.as_slice().len(), page_size());
        assert_eq!(b.as_mut_slice().as_ptr() as usize % page_size(), 0);
    }

    #[test]
    fn requests_are_checked_before_the_kernel_sees_them() {
        let page = page_size() as u64;
        let mut b = DmaBuffer::new(2 * page as usize).unwrap();
        let unlimited = Memlock {
            limit: None,
            locked: 0,
            cap_ipc_lock: false,
        };
        let memory = b.as_mut_slice();
        assert!(check_request(memory, page, page, None, unlimited).is_ok());
        assert!(check_request(memory, page + 1, page, None, unlimited).is_err());
        assert!(check_request(&mut memory[1..], page, page, None, unlimited).is_err());
        let tight = Memlock {
            limit: Some(page),
            ..unlimited
        };
        let e = check_request(memory, page, page, None, tight).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::LimitExceeded);
    }
}
