//! One provisioning step: what it does, how to run it, and how to capture its inverse.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::attributes::{list_vfs, read_driver, read_driver_override, read_iommu_group};
use crate::driver;
use crate::error::{Result, VfioError};
use crate::host::{HostEnv, paths};
use crate::iommu;
use crate::pci::Bdf;
use crate::qat::{self, QatState};
use crate::services::Services;
use crate::sriov;

/// A typed change to the host. Each step verifies itself by re-reading what it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    /// `sriov_drivers_autoprobe` ← 0/1.
    SetAutoprobe {
        /// PF.
        pf: Bdf,
        /// New value.
        enabled: bool,
    },
    /// `qat/state` ← up/down.
    SetState {
        /// PF.
        pf: Bdf,
        /// New state.
        state: QatState,
    },
    /// `qat/cfg_services` ← services (PF down).
    SetServices {
        /// PF.
        pf: Bdf,
        /// New services.
        services: Services,
    },
    /// `sriov_numvfs` ← count, from 0.
    EnableVfs {
        /// PF.
        pf: Bdf,
        /// Value written.
        count: u16,
        /// Value expected back (QAT drivers enable all TotalVFs).
        expected: u16,
    },
    /// `sriov_numvfs` ← 0.
    DisableVfs {
        /// PF.
        pf: Bdf,
    },
    /// Bind a device to `driver` (or leave it unbound) and leave `driver_override` as given.
    SetDriver {
        /// Device (usually a VF).
        device: Bdf,
        /// Driver to bind, `null` for unbound.
        driver: Option<String>,
        /// Final `driver_override`, `null` for unset.
        driver_override: Option<String>,
    },
    /// Owner group and mode of the VF's `/dev/vfio/<group>`.
    SetVfioAccess {
        /// VF whose IOMMU group node is changed.
        vf: Bdf,
        /// Owner user id; `null` leaves it as it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        /// Owner group id.
        gid: u32,
        /// Permission bits.
        mode: u32,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::SetAutoprobe { pf, enabled } => {
                write!(
                    f,
                    "{pf}: set sriov_drivers_autoprobe to {}",
                    u8::from(*enabled)
                )
            }
            Step::SetState { pf, state } => write!(f, "{pf}: set qat/state to {state}"),
            Step::SetServices { pf, services } => {
                write!(
                    f,
                    "{pf}: set qat/cfg_services to {}",
                    services.to_cfg_string()
                )
            }
            Step::EnableVfs {
                pf,
                count,
                expected,
            } if count == expected => {
                write!(f, "{pf}: enable {count} VFs")
            }
            Step::EnableVfs {
                pf,
                count,
                expected,
            } => {
                write!(
                    f,
                    "{pf}: enable VFs (write {count}; the driver enables all {expected})"
                )
            }
            Step::DisableVfs { pf } => write!(f, "{pf}: disable all VFs"),
            Step::SetDriver {
                device,
                driver,
                driver_override,
            } => {
                match driver {
                    Some(d) => write!(f, "{device}: bind to {d}")?,
                    None => write!(f, "{device}: leave unbound")?,
                }
                match driver_override {
                    Some(o) if driver.as_deref() == Some(o.as_str()) => Ok(()),
                    Some(o) => write!(f, " (driver_override {o})"),
                    None => write!(f, " (no driver_override)"),
                }
            }
            Step::SetVfioAccess {
                vf,
                uid: Some(uid),
                gid,
                mode,
            } => write!(
                f,
                "{vf}: set its /dev/vfio group node to uid {uid}, gid {gid}, mode {mode:04o}"
            ),
            Step::SetVfioAccess {
                vf,
                uid: None,
                gid,
                mode,
            } => {
                write!(
                    f,
                    "{vf}: set its /dev/vfio group node to gid {gid}, mode {mode:04o}"
                )
            }
        }
    }
}

impl Step {
    /// The device the step changes.
    pub fn target(&self) -> Bdf {
        match self {
            Step::SetAutoprobe { pf, .. }
            | Step::SetState { pf, .. }
            | Step::SetServices { pf, .. }
            | Step::EnableVfs { pf, .. }
            | Step::DisableVfs { pf } => *pf,
            Step::SetDriver { device, .. } => *device,
            Step::SetVfioAccess { vf, .. } => *vf,
        }
    }

    /// Runs the step and verifies its effect. Steps that remove VFs refuse while a VFIO user
    /// holds one, unless `force`. Crate-private: steps run only inside `apply`, which demands
    /// the provisioning lock.
    pub(super) fn run(&self, env: &HostEnv, force: bool) -> Result<()> {
        match self {
            Step::SetAutoprobe { pf, enabled } => sriov::set_autoprobe(env, *pf, *enabled),
            Step::SetState { pf, state } => qat::set_state(env, *pf, *state, force),
            Step::SetServices { pf, services } => qat::set_services(env, *pf, *services),
            Step::EnableVfs {
                pf,
                count,
                expected,
            } => sriov::enable_vfs(env, *pf, *count, *expected),
            Step::DisableVfs { pf } => sriov::disable_vfs(env, *pf, force),
            Step::SetDriver {
                device,
                driver,
                driver_override,
            } => driver::set_driver(
                env,
                *device,
                driver.as_deref(),
                driver_override.as_deref(),
                force,
            ),
            Step::SetVfioAccess { vf, uid, gid, mode } => {
                let group = vf_group(env, *vf)?;
                iommu::set_vfio_access(env, group, *uid, *gid, *mode)
            }
        }
    }

    /// Reads the host and returns the steps that put back what this step is about to change.
    /// They restore absolute values, so running them is safe even if this step only half ran.
    pub(super) fn capture_inverse(&self, env: &HostEnv) -> Result<Vec<Step>> {
        Ok(match self {
            Step::SetAutoprobe { pf, .. } => {
                let path = paths::device_attr(*pf, "sriov_drivers_autoprobe");
                let enabled = env.read_opt::<u8>(&path)? != Some(0);
                vec![Step::SetAutoprobe { pf: *pf, enabled }]
            }
            Step::SetState { pf, state } => {
                let mut undo = Vec::new();
                if let Some(old) = qat::read_state(env, *pf)? {
                    if old != *state {
                        undo.push(Step::SetState {
                            pf: *pf,
                            state: old,
                        });
                    }
                }
                // Taking a PF down removes its VFs: bring them back as they were.
                if *state == QatState::Down {
                    undo.extend(capture_vfs(env, *pf)?);
                }
                undo
            }
            Step::SetServices { pf, .. } => match qat::read_services(env, *pf)? {
                Some(services) => vec![Step::SetServices { pf: *pf, services }],
                None => Vec::new(),
            },
            Step::EnableVfs { pf, .. } => vec![Step::DisableVfs { pf: *pf }],
            Step::DisableVfs { pf } => capture_vfs(env, *pf)?,
            Step::SetDriver { device, .. } => {
                let mut undo = vec![Step::SetDriver {
                    device: *device,
                    driver: read_driver(env, *device)?,
                    driver_override: read_driver_override(env, *device)?,
                }];
                undo.extend(capture_vfio_access(env, *device)?);
                undo
            }
            Step::SetVfioAccess { vf, .. } => capture_vfio_access(env, *vf)?,
        })
    }
}

fn vf_group(env: &HostEnv, vf: Bdf) -> Result<u32> {
    read_iommu_group(env, vf)?.ok_or_else(|| VfioError::NoIommuGroup(vf).into())
}

/// The steps that recreate a PF's current VFs with their drivers and `/dev/vfio` access.
fn capture_vfs(env: &HostEnv, pf: Bdf) -> Result<Vec<Step>> {
    let numvfs: u16 = env
        .read_opt(&paths::device_attr(pf, "sriov_numvfs"))?
        .unwrap_or(0);
    if numvfs == 0 {
        return Ok(Vec::new());
    }
    let mut undo = vec![Step::EnableVfs {
        pf,
        count: numvfs,
        expected: numvfs,
    }];
    for vf in list_vfs(env, pf)? {
        undo.push(Step::SetDriver {
            device: vf,
            driver: read_driver(env, vf)?,
            driver_override: read_driver_override(env, vf)?,
        });
        undo.extend(capture_vfio_access(env, vf)?);
    }
    Ok(undo)
}

fn capture_vfio_access(env: &HostEnv, vf: Bdf) -> Result<Vec<Step>> {
    let Some(group) = read_iommu_group(env, vf)? else {
        return Ok(Vec::new());
    };
    Ok(env
        .access(&paths::vfio_group_node(group))?
        .map(|a| Step::SetVfioAccess {
            vf,
            uid: Some(a.uid),
            gid: a.gid,
            mode: a.mode,
        })
        .into_iter()
        .collect())
}
