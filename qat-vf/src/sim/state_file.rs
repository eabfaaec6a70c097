//! The state file's format: serde types of its own, versioned, so the model in `kernel` can
//! change without changing what saved files mean. Every model type converts to and from its file
//! type here, and nowhere else knows the file's shape.
//!
//! Version 1 is the shape state files had before the version field existed, so those load as
//! version 1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::kernel::{Kernel, Matching, Quirks, SimDevice, SimDriver, SimQat, SimSriov};
use super::{Fault, FaultTrigger, SimState, WriteRecord};
use crate::host::{FileAccess, Memlock};
use crate::pci::Bdf;
use crate::qat::QatState;

/// The format version this qatkit reads and writes.
pub(super) const VERSION: u32 = 1;

/// A whole state file.
#[derive(Serialize, Deserialize)]
pub(super) struct StateFile {
    #[serde(default = "first_version")]
    version: u32,
    kernel: KernelFile,
    #[serde(default)]
    process: Option<ProcessFile>,
    writes: Vec<WriteFile>,
    faults: Vec<FaultFile>,
}

fn first_version() -> u32 {
    1
}

impl StateFile {
    /// The version the file says it is.
    pub(super) fn version(&self) -> u32 {
        self.version
    }
}

#[derive(Serialize, Deserialize)]
struct KernelFile {
    devices: BTreeMap<Bdf, DeviceFile>,
    drivers: BTreeMap<String, DriverFile>,
    vfio_nodes: BTreeMap<u32, AccessFile>,
    groups: BTreeMap<String, u32>,
    holders: BTreeMap<Bdf, u32>,
    quirks: QuirksFile,
}

#[derive(Serialize, Deserialize)]
struct DeviceFile {
    vendor: u16,
    device: u16,
    numa_node: i32,
    driver: Option<String>,
    driver_override: Option<String>,
    iommu_group: u32,
    physfn: Option<Bdf>,
    sriov: Option<SriovFile>,
    qat: Option<QatFile>,
}

#[derive(Serialize, Deserialize)]
struct SriovFile {
    total: u16,
    num: u16,
    autoprobe: bool,
    offset: u16,
    stride: u16,
    vf_device: u16,
    vfs_share_group: bool,
}

#[derive(Serialize, Deserialize)]
struct QatFile {
    state: StateWord,
    cfg_services: String,
    auto_reset: bool,
    pm_idle_enabled: bool,
    rp2srv: String,
    num_rps: u32,
    ras: [u64; 3],
    heartbeat: i32,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StateWord {
    Up,
    Down,
}

#[derive(Serialize, Deserialize)]
struct DriverFile {
    matching: MatchingFile,
    vfio: bool,
    sriov: bool,
    keeps_vfs_on_unbind: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MatchingFile {
    Ids(Vec<(u16, u16)>),
    OverrideOnly(Vec<(u16, u16)>),
}

#[derive(Serialize, Deserialize)]
struct AccessFile {
    uid: u32,
    gid: u32,
    mode: u32,
}

#[derive(Serialize, Deserialize)]
struct QuirksFile {
    qat_numvfs_zero: bool,
    canonical_services: bool,
    vfio_disable_denylist: bool,
    #[serde(default)]
    iommufd: bool,
}

#[derive(Serialize, Deserialize)]
struct ProcessFile {
    memlock_limit: Option<u64>,
    locked: u64,
    cap_ipc_lock: bool,
}

#[derive(Serialize, Deserialize)]
struct WriteFile {
    path: std::path::PathBuf,
    value: String,
    errno: Option<i32>,
}

#[derive(Serialize, Deserialize)]
struct FaultFile {
    trigger: TriggerFile,
    errno: i32,
    armed_at: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TriggerFile {
    NthWrite(u64),
    Attribute(String),
}

impl From<&SimState> for StateFile {
    fn from(state: &SimState) -> Self {
        let k = &state.kernel;
        StateFile {
            version: VERSION,
            kernel: KernelFile {
                devices: k
                    .devices
                    .iter()
                    .map(|(bdf, d)| (*bdf, DeviceFile::from(d)))
                    .collect(),
                drivers: k
                    .drivers
                    .iter()
                    .map(|(name, d)| (name.clone(), DriverFile::from(d)))
                    .collect(),
                vfio_nodes: k
                    .vfio_nodes
                    .iter()
                    .map(|(group, a)| {
                        let access = AccessFile {
                            uid: a.uid,
                            gid: a.gid,
                            mode: a.mode,
                        };
                        (*group, access)
                    })
                    .collect(),
                groups: k.groups.clone(),
                holders: k.holders.clone(),
                quirks: QuirksFile {
                    qat_numvfs_zero: k.quirks.qat_numvfs_zero,
                    canonical_services: k.quirks.canonical_services,
                    vfio_disable_denylist: k.quirks.vfio_disable_denylist,
                    iommufd: k.quirks.iommufd,
                },
            },
            process: Some(ProcessFile {
                memlock_limit: state.process.limit,
                locked: state.process.locked,
                cap_ipc_lock: state.process.cap_ipc_lock,
            }),
            writes: state
                .writes
                .iter()
                .map(|w| WriteFile {
                    path: w.path.clone(),
                    value: w.value.clone(),
                    errno: w.errno,
                })
                .collect(),
            faults: state
                .faults
                .iter()
                .map(|f| FaultFile {
                    trigger: match &f.trigger {
                        FaultTrigger::NthWrite(n) => TriggerFile::NthWrite(*n),
                        FaultTrigger::Attribute(a) => TriggerFile::Attribute(a.clone()),
                    },
                    errno: f.errno,
                    armed_at: f.armed_at,
                })
                .collect(),
        }
    }
}

impl From<StateFile> for SimState {
    fn from(file: StateFile) -> Self {
        let k = file.kernel;
        let process = match file.process {
            Some(p) => Memlock {
                limit: p.memlock_limit,
                locked: p.locked,
                cap_ipc_lock: p.cap_ipc_lock,
            },
            None => SimState::default().process,
        };
        SimState {
            kernel: Kernel {
                devices: k
                    .devices
                    .into_iter()
                    .map(|(bdf, d)| (bdf, d.into()))
                    .collect(),
                drivers: k
                    .drivers
                    .into_iter()
                    .map(|(name, d)| (name, d.into()))
                    .collect(),
                vfio_nodes: k
                    .vfio_nodes
                    .into_iter()
                    .map(|(group, a)| {
                        let access = FileAccess {
                            uid: a.uid,
                            gid: a.gid,
                            mode: a.mode,
                        };
                        (group, access)
                    })
                    .collect(),
                groups: k.groups,
                holders: k.holders,
                quirks: Quirks {
                    qat_numvfs_zero: k.quirks.qat_numvfs_zero,
                    canonical_services: k.quirks.canonical_services,
                    vfio_disable_denylist: k.quirks.vfio_disable_denylist,
                    iommufd: k.quirks.iommufd,
                },
            },
            process,
            writes: file
                .writes
                .into_iter()
                .map(|w| WriteRecord {
                    path: w.path,
                    value: w.value,
                    errno: w.errno,
                })
                .collect(),
            faults: file
                .faults
                .into_iter()
                .map(|f| Fault {
                    trigger: match f.trigger {
                        TriggerFile::NthWrite(n) => FaultTrigger::NthWrite(n),
                        TriggerFile::Attribute(a) => FaultTrigger::Attribute(a),
                    },
                    errno: f.errno,
                    armed_at: f.armed_at,
                })
                .collect(),
        }
    }
}

impl From<&SimDevice> for DeviceFile {
    fn from(d: &SimDevice) -> Self {
        DeviceFile {
            vendor: d.vendor,
            device: d.device,
            numa_node: d.numa_node,
            driver: d.driver.clone(),
            driver_override: d.driver_override.clone(),
            iommu_group: d.iommu_group,
            physfn: d.physfn,
            sriov: d.sriov.as_ref().map(|s| SriovFile {
                total: s.total,
                num: s.num,
                autoprobe: s.autoprobe,
                offset: s.offset,
                stride: s.stride,
                vf_device: s.vf_device,
                vfs_share_group: s.vfs_share_group,
            }),
            qat: d.qat.as_ref().map(|q| QatFile {
                state: match q.state {
                    QatState::Up => StateWord::Up,
                    QatState::Down => StateWord::Down,
                },
                cfg_services: q.cfg_services.clone(),
                auto_reset: q.auto_reset,
                pm_idle_enabled: q.pm_idle_enabled,
                rp2srv: q.rp2srv.clone(),
                num_rps: q.num_rps,
                ras: q.ras,
                heartbeat: q.heartbeat,
            }),
        }
    }
}

impl From<DeviceFile> for SimDevice {
    fn from(d: DeviceFile) -> Self {
        SimDevice {
            vendor: d.vendor,
            device: d.device,
            numa_node: d.numa_node,
            driver: d.driver,
            driver_override: d.driver_override,
            iommu_group: d.iommu_group,
            physfn: d.physfn,
            sriov: d.sriov.map(|s| SimSriov {
                total: s.total,
                num: s.num,
                autoprobe: s.autoprobe,
                offset: s.offset,
                stride: s.stride,
                vf_device: s.vf_device,
                vfs_share_group: s.vfs_share_group,
            }),
            qat: d.qat.map(|q| SimQat {
                state: match q.state {
                    StateWord::Up => QatState::Up,
                    StateWord::Down => QatState::Down,
                },
                cfg_services: q.cfg_services,
                auto_reset: q.auto_reset,
                pm_idle_enabled: q.pm_idle_enabled,
                rp2srv: q.rp2srv,
                num_rps: q.num_rps,
                ras: q.ras,
                heartbeat: q.heartbeat,
            }),
        }
    }
}

impl From<&SimDriver> for DriverFile {
    fn from(d: &SimDriver) -> Self {
        DriverFile {
            matching: match &d.matching {
                Matching::Ids(ids) => MatchingFile::Ids(ids.clone()),
                Matching::OverrideOnly(ids) => MatchingFile::OverrideOnly(ids.clone()),
            },
            vfio: d.vfio,
            sriov: d.sriov,
            keeps_vfs_on_unbind: d.keeps_vfs_on_unbind,
        }
    }
}

impl From<DriverFile> for SimDriver {
    fn from(d: DriverFile) -> Self {
        SimDriver {
            matching: match d.matching {
                MatchingFile::Ids(ids) => Matching::Ids(ids),
                MatchingFile::OverrideOnly(ids) => Matching::OverrideOnly(ids),
            },
            vfio: d.vfio,
            sriov: d.sriov,
            keeps_vfs_on_unbind: d.keeps_vfs_on_unbind,
        }
    }
}
