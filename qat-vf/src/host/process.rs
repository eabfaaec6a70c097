//! The process view: what the kernel will let the process that opens VFIO devices pin.

use nix::sys::resource::{Resource, getrlimit};

use crate::error::VfioError;

/// `CAP_IPC_LOCK` lifts VFIO's locked-memory accounting.
const CAP_IPC_LOCK: u32 = 14;

/// A process's locked-memory situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Memlock {
    /// Soft RLIMIT_MEMLOCK in bytes; `None` when unlimited.
    pub limit: Option<u64>,
    /// Bytes pinned already (`VmLck`: VFIO's type1 driver charges its pins there).
    pub locked: u64,
    /// `CAP_IPC_LOCK` (root has it), which the type1 IOMMU driver honours over the limit.
    pub cap_ipc_lock: bool,
}

impl Memlock {
    /// Checks that `len` more bytes can be pinned.
    pub fn check(&self, len: u64) -> Result<(), VfioError> {
        match self.limit {
            Some(limit) if !self.cap_ipc_lock && self.locked.saturating_add(len) > limit => {
                Err(VfioError::MemlockTooLow {
                    needed: len,
                    locked: self.locked,
                    limit,
                })
            }
            _ => Ok(()),
        }
    }
}

/// The process whose memory DMA mappings pin.
pub trait ProcessView: std::fmt::Debug + Send + Sync {
    /// Its locked-memory limit, what it has pinned, and whether the limit applies.
    fn memlock(&self) -> Memlock;
}

/// The running process: `getrlimit` and `/proc/self/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThisProcess;

impl ProcessView for ThisProcess {
    fn memlock(&self) -> Memlock {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let limit = getrlimit(Resource::RLIMIT_MEMLOCK)
            .ok()
            .and_then(|(soft, _)| (soft != nix::libc::RLIM_INFINITY).then_some(soft));
        Memlock {
            limit,
            locked: status_locked_bytes(&status),
            cap_ipc_lock: status_has_ipc_lock(&status),
        }
    }
}

/// Whether `CapEff` in a `/proc/<pid>/status` text has `CAP_IPC_LOCK`.
fn status_has_ipc_lock(status: &str) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_IPC_LOCK) != 0)
}

/// `VmLck` of a `/proc/<pid>/status` text in bytes.
fn status_locked_bytes(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memlock(limit: Option<u64>, locked: u64, cap_ipc_lock: bool) -> Memlock {
        Memlock {
            limit,
            locked,
            cap_ipc_lock,
        }
    }

    #[test]
    fn memlock_rules() {
        assert!(memlock(Some(64 << 10), 0, false).check(1 << 20).is_err());
        assert!(memlock(Some(64 << 10), 0, true).check(1 << 20).is_ok());
        assert!(memlock(None, 0, false).check(1 << 20).is_ok());
        assert!(memlock(Some(64 << 10), 0, false).check(64 << 10).is_ok());
        // The second 16 MiB map does not fit a 24 MiB limit: pins add up.
        assert!(
            memlock(Some(24 << 20), 16 << 20, false)
                .check(16 << 20)
                .is_err()
        );
        assert_eq!(status_locked_bytes("VmLck:\t   16384 kB\n"), 16 << 20);
        assert_eq!(status_locked_bytes("Name:\tx\n"), 0);
        let e = memlock(Some(8 << 20), 0, false)
            .check(16 << 20)
            .unwrap_err();
        assert!(e.to_string().contains("RLIMIT_MEMLOCK"), "{e}");
    }

    #[test]
    fn capability_parse() {
        assert!(status_has_ipc_lock("Name:\tx\nCapEff:\t000001ffffffffff\n"));
        assert!(!status_has_ipc_lock("CapEff:\t0000000000000000\n"));
        assert!(status_has_ipc_lock("CapEff:\t0000000000004000\n"));
        assert!(!status_has_ipc_lock("CapEff:\tnothex\n"));
    }
}
