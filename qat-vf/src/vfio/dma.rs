//! DMA memory: page-aligned buffers, mappings that unmap on drop, and the RLIMIT_MEMLOCK check
//! that turns a late `ENOMEM` into a clear error.

use memmap2::MmapMut;
use nix::sys::resource::{Resource, getrlimit};

use crate::error::{Error, Result};

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
        let map = MmapMut::map_anon(len).map_err(|source| Error::Vfio {
            op: "allocate DMA buffer",
            target: format!("{len} bytes"),
            source,
        })?;
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

/// `CAP_IPC_LOCK` lifts VFIO's locked-memory accounting.
const CAP_IPC_LOCK: u32 = 14;

/// Whether `CapEff` in a `/proc/<pid>/status` text has `CAP_IPC_LOCK`.
pub fn status_has_ipc_lock(status: &str) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

/// The soft RLIMIT_MEMLOCK in bytes; `None` when unlimited.
pub fn memlock_limit() -> Option<u64> {
    let (soft, _) = getrlimit(Resource::RLIMIT_MEMLOCK).ok()?;
    (soft != nix::libc::RLIM_INFINITY).then_some(soft)
}

/// `VmLck` of a `/proc/<pid>/status` text in bytes: what is pinned already (VFIO's type1 driver
/// charges its pins there).
pub(super) fn status_locked_bytes(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Checks that pinning `len` more bytes on top of `locked` fits RLIMIT_MEMLOCK, unless the
/// process has `CAP_IPC_LOCK` (root has), which the type1 IOMMU driver honours.
pub fn check_memlock(len: u64, locked: u64, limit: Option<u64>, has_ipc_lock: bool) -> Result<()> {
    match limit {
        Some(limit) if !has_ipc_lock && locked.saturating_add(len) > limit => {
            Err(Error::MemlockTooLow {
                needed: len,
                locked,
                limit,
            })
        }
        _ => Ok(()),
    }
}

/// This process's locked-memory situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memlock {
    /// Soft RLIMIT_MEMLOCK; `None` when unlimited.
    pub limit: Option<u64>,
    /// Bytes pinned already (`VmLck`).
    pub locked: u64,
    /// `CAP_IPC_LOCK`, which lifts the limit.
    pub cap_ipc_lock: bool,
}

impl Memlock {
    /// Reads it from `/proc/self/status` and getrlimit.
    pub fn here() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        Memlock {
            limit: memlock_limit(),
            locked: status_locked_bytes(&status),
            cap_ipc_lock: status_has_ipc_lock(&status),
        }
    }

    /// Whether `len` more bytes can be pinned.
    pub fn check(&self, len: u64) -> Result<()> {
        check_memlock(len, self.locked, self.limit, self.cap_ipc_lock)
    }
}

/// The check for this process.
pub fn check_memlock_here(len: u64) -> Result<()> {
    Memlock::here().check(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memlock_rules() {
        assert!(check_memlock(1 << 20, 0, Some(64 << 10), false).is_err());
        assert!(check_memlock(1 << 20, 0, Some(64 << 10), true).is_ok());
        assert!(check_memlock(1 << 20, 0, None, false).is_ok());
        assert!(check_memlock(64 << 10, 0, Some(64 << 10), false).is_ok());
        // The second 16 MiB map does not fit a 24 MiB limit: pins add up.
        assert!(check_memlock(16 << 20, 16 << 20, Some(24 << 20), false).is_err());
        assert_eq!(status_locked_bytes("VmLck:\t   16384 kB\n"), 16 << 20);
        assert_eq!(status_locked_bytes("Name:\tx\n"), 0);
        let e = check_memlock(16 << 20, 0, Some(8 << 20), false).unwrap_err();
        assert!(e.to_string().contains("RLIMIT_MEMLOCK"), "{e}");
    }

    #[test]
    fn capability_parse() {
        assert!(status_has_ipc_lock("Name:\tx\nCapEff:\t000001ffffffffff\n"));
        assert!(!status_has_ipc_lock("CapEff:\t0000000000000000\n"));
        assert!(status_has_ipc_lock("CapEff:\t0000000000004000\n"));
        assert!(!status_has_ipc_lock("CapEff:\tnothex\n"));
    }

    #[test]
    fn buffers_are_whole_pages() {
        let mut b = DmaBuffer::new(100).unwrap();
        assert_eq!(b.as_slice().len(), page_size());
        assert_eq!(b.as_mut_slice().as_ptr() as usize % page_size(), 0);
    }
}
