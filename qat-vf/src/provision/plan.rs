//! Desired state → plan. Pure: reads only the [`Host`] snapshot.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::step::Step;
use crate::discovery::{Host, PhysicalFunction, VirtualFunction};
use crate::driver::validate_driver_name;
use crate::error::{Error, ProvisionError, Result, SysfsError};
use crate::pci::Bdf;
use crate::qat::QatState;
use crate::services::Services;

/// Which driver the VFs should end up with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum VfDriver {
    /// `vfio-pci`, for VMs and userspace drivers.
    VfioPci,
    /// `qat_vfio_pci`, the QAT variant driver (gen4 4xxx/401xx/402xx; override-only).
    QatVfioPci,
    /// The family's kernel VF driver (gen2 only: `c6xxvf`, ...).
    Kernel,
    /// No driver: VFs stay unbound.
    None,
    /// Any other driver, by directory name (generic SR-IOV devices, e.g. `igbvf`).
    Named(String),
}

impl FromStr for VfDriver {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "vfio-pci" => VfDriver::VfioPci,
            "qat_vfio_pci" => VfDriver::QatVfioPci,
            "kernel" => VfDriver::Kernel,
            "none" => VfDriver::None,
            other => {
                validate_driver_name(other)?;
                VfDriver::Named(other.to_owned())
            }
        })
    }
}

impl fmt::Display for VfDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VfDriver::VfioPci => "vfio-pci",
            VfDriver::QatVfioPci => "qat_vfio_pci",
            VfDriver::Kernel => "kernel",
            VfDriver::None => "none",
            VfDriver::Named(name) => name,
        })
    }
}

impl From<VfDriver> for String {
    fn from(d: VfDriver) -> String {
        d.to_string()
    }
}

impl TryFrom<String> for VfDriver {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

/// Owner group and mode for the VFs' `/dev/vfio/<group>` nodes. Built with
/// [`VfioAccess::new`], which checks them; [`plan`] checks deserialized ones again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VfioAccess {
    /// Owner group id.
    pub gid: u32,
    /// Permission bits, e.g. `0o660`.
    pub mode: u32,
}

impl VfioAccess {
    /// Owner group `gid` and permission bits `mode`, checked: not the gid chown(2) takes as "leave it", permission bits only.
    pub fn new(gid: u32, mode: u32) -> Result<Self> {
        let access = VfioAccess { gid, mode };
        access.validate()?;
        Ok(access)
    }

    /// Parses an octal mode such as `0660`, `660` or `0o660`: permission bits only.
    pub fn parse_mode(text: &str) -> Result<u32> {
        let digits = text.strip_prefix("0o").unwrap_or(text);
        let mode = if !digits.is_empty() && digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            u32::from_str_radix(digits, 8).ok()
        } else {
            None
        };
        match mode {
            Some(mode) if mode <= 0o777 => Ok(mode),
            _ => Err(ProvisionError::InvalidVfioAccess {
                what: "mode",
                value: text.to_owned(),
                rule: "an octal mode from 000 to 777, such as 0660",
            }
            .into()),
        }
    }

    /// Checks what chown(2) and chmod(2) would take other than meant: a gid of `(gid_t)-1` means
    /// "leave the group as it is", and a set-id or sticky bit on a device node is never wanted.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.gid == u32::MAX {
            return Err(ProvisionError::InvalidVfioAccess {
                what: "group id",
                value: self.gid.to_string(),
                rule: "4294967295 is (gid_t)-1, which chown(2) takes as \"leave the group as it is\"",
            }.into());
        }
        if self.mode > 0o777 {
            return Err(ProvisionError::InvalidVfioAccess {
                what: "mode",
                value: format!("{:o}", self.mode),
                rule: "permission bits only, 000 to 777",
            }
            .into());
        }
        Ok(())
    }
}

/// What the operator wants the host to look like. Built with [`Desired::new`] and the `with_*`
/// methods, so new fields can come with defaults; as JSON, only `driver` is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Desired {
    /// PFs to manage; empty means every QAT PF. Any SR-IOV PF may be named (generic mode).
    #[serde(default)]
    pub pfs: Vec<Bdf>,
    /// QAT services; `None` leaves them as they are.
    #[serde(default)]
    pub services: Option<Services>,
    /// Driver for every VF. Every PF gets all the VFs it offers.
    pub driver: VfDriver,
    /// `/dev/vfio` node ownership, for VFIO drivers.
    #[serde(default)]
    pub vfio_access: Option<VfioAccess>,
    /// Go ahead even when a VFIO user holds a VF that the plan removes.
    #[serde(default)]
    pub force: bool,
}

impl Desired {
    /// Every PF (every QAT PF when none is named) with all its VFs on `driver`; services and
    /// `/dev/vfio` access left as they are; VFIO users respected.
    pub fn new(driver: VfDriver) -> Self {
        Desired {
            pfs: Vec::new(),
            services: None,
            driver,
            vfio_access: None,
            force: false,
        }
    }

    /// Manages these PFs only (any SR-IOV PF may be named: generic mode).
    pub fn with_pfs(mut self, pfs: impl IntoIterator<Item = Bdf>) -> Self {
        self.pfs = pfs.into_iter().collect();
        self
    }

    /// Configures these QAT services.
    pub fn with_services(mut self, services: Services) -> Self {
        self.services = Some(services);
        self
    }

    /// Sets the owner group and mode of the VFs' `/dev/vfio` nodes (VFIO drivers only).
    pub fn with_vfio_access(mut self, access: VfioAccess) -> Self {
        self.vfio_access = Some(access);
        self
    }

    /// Goes ahead even when a VFIO user holds only the group of a VF the plan removes.
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// The steps that take the host to the desired state, in order. Empty when converged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Steps, in execution order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Whether the host already is as desired.
    pub fn is_converged(&self) -> bool {
        self.steps.is_empty()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return writeln!(f, "nothing to do: the host is as desired");
        }
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "{:>3}. {step}", i + 1)?;
        }
        Ok(())
    }
}

/// The PFs a request manages: those named (each once), or every QAT PF. No PF at all is an
/// error, as is a PF that offers no VFs.
pub(crate) fn target_pfs<'h>(host: &'h Host, named: &[Bdf]) -> Result<Vec<&'h PhysicalFunction>> {
    let targets: Vec<&PhysicalFunction> = if named.is_empty() {
        host.pfs.iter().filter(|pf| pf.family().is_some()).collect()
    } else {
        let mut unique = named.to_vec();
        unique.sort_unstable();
        unique.dedup();
        unique
            .into_iter()
            .map(|bdf| host.pf(bdf).ok_or(SysfsError::NoSuchDevice(bdf).into()))
            .collect::<Result<_>>()?
    };
    if targets.is_empty() {
        return Err(ProvisionError::NothingToManage.into());
    }
    match targets.iter().find(|pf| pf.sriov_totalvfs == 0) {
        Some(pf) => Err(ProvisionError::NotSriov(pf.pci.bdf).into()),
        None => Ok(targets),
    }
}

/// The driver directory the VFs of `pf` should be bound to, checked against what the family and
/// the loaded modules allow.
fn resolve_driver(host: &Host, pf: &PhysicalFunction, driver: &VfDriver) -> Result<Option<String>> {
    let unsupported = |reason: String| -> Error {
        ProvisionError::Unsupported {
            bdf: pf.pci.bdf,
            reason,
        }
        .into()
    };
    let family = pf.family();
    let name = match driver {
        VfDriver::None => return Ok(None),
        VfDriver::VfioPci => {
            if let Some(f) = family.filter(|f| f.vfio_denylisted) {
                if !host.vfio_pci_denylist_disabled {
                    return Err(unsupported(format!(
                        "vfio-pci refuses {} devices unless loaded with disable_denylist=1",
                        f.name
                    )));
                }
            }
            "vfio-pci".to_owned()
        }
        VfDriver::QatVfioPci => match family {
            Some(f) if f.qat_vfio_pci => "qat_vfio_pci".to_owned(),
            Some(f) => {
                return Err(unsupported(format!(
                    "qat_vfio_pci does not drive {} VFs",
                    f.name
                )));
            }
            None => return Err(unsupported("qat_vfio_pci drives QAT VFs only".into())),
        },
        VfDriver::Kernel => match family {
            Some(f) => f.vf_driver.map(str::to_owned).ok_or_else(|| {
                unsupported(format!(
                    "{} has no upstream VF driver; use vfio-pci",
                    f.name
                ))
            })?,
            None => return Err(unsupported("not a QAT device: name its VF driver".into())),
        },
        VfDriver::Named(name) => name.clone(),
    };
    if !host.driver_loaded(&name) {
        return Err(ProvisionError::DriverNotLoaded(name).into());
    }
    Ok(Some(name))
}

/// Refuses to take away `vfs` while a VFIO user holds one (see `holders`: device holders
/// always, group holders and unidentified device fds unless `force`).
fn refuse_if_held<'v>(
    host: &Host,
    vfs: impl IntoIterator<Item = &'v VirtualFunction>,
    force: bool,
) -> Result<()> {
    crate::holders::refuse(
        vfs.into_iter().map(|vf| {
            let device_pid = vf.device_open_by.first().copied();
            let group_pid = vf
                .held_by
                .iter()
                .find(|p| !vf.device_open_by.contains(p))
                .copied();
            (vf.pci.bdf, device_pid, group_pid)
        }),
        &host.unidentified_vfio_users,
        force,
    )
}

/// Plans the steps from `host` to `desired`. Validates the whole request first: a bad request
/// is an error and no plan.
pub fn plan(host: &Host, desired: &Desired) -> Result<Plan> {
    if let Some(access) = &desired.vfio_access {
        access.validate()?;
    }
    let targets = target_pfs(host, &desired.pfs)?;
    let is_vfio = matches!(desired.driver, VfDriver::VfioPci | VfDriver::QatVfioPci);
    let mut steps = Vec::new();
    for pf in targets {
        let bdf = pf.pci.bdf;
        let driver = resolve_driver(host, pf, &desired.driver)?;
        if desired.vfio_access.is_some() && !is_vfio {
            return Err(ProvisionError::Unsupported {
                bdf,
                reason: "/dev/vfio ownership needs a VFIO driver (vfio-pci or qat_vfio_pci)".into(),
            }
            .into());
        }
        if desired.vfio_access.is_some() && pf.pci.iommu_group.is_none() {
            return Err(ProvisionError::Unsupported {
                bdf,
                reason: "has no IOMMU group, so its VFs get no /dev/vfio node (enable the IOMMU)"
                    .into(),
            }
            .into());
        }
        let mut numvfs = pf.sriov_numvfs;
        let mut state = pf.state;
        if let Some(services) = desired.services {
            let family = pf.family().ok_or_else(|| ProvisionError::Unsupported {
                bdf,
                reason: "not a QAT device: services apply to QAT PFs only".into(),
            })?;
            family
                .check_services(services)
                .map_err(|reason| ProvisionError::Unsupported { bdf, reason })?;
            if pf.state.is_none() {
                return Err(ProvisionError::Unsupported {
                    bdf,
                    reason: "the kernel exposes no qat/state or qat/cfg_services (too old?)".into(),
                }
                .into());
            }
            if pf.services != Some(services) {
                if numvfs > 0 {
                    refuse_if_held(host, &pf.vfs, desired.force)?;
                    steps.push(Step::DisableVfs { pf: bdf });
                    numvfs = 0;
                }
                if state != Some(QatState::Down) {
                    steps.push(Step::SetState {
                        pf: bdf,
                        state: QatState::Down,
                    });
                }
                steps.push(Step::SetServices { pf: bdf, services });
                state = Some(QatState::Down);
            }
        }
        if state == Some(QatState::Down) {
            steps.push(Step::SetState {
                pf: bdf,
                state: QatState::Up,
            });
        }
        let wanted = pf.vfs_after_enable(pf.sriov_totalvfs);
        // (bdf, current driver, current override, current /dev/vfio access) of each VF to be.
        let vfs: Vec<_> = if numvfs == wanted {
            let rebound = pf
                .vfs
                .iter()
                .filter(|vf| vf.pci.driver.is_some() && vf.pci.driver != driver);
            refuse_if_held(host, rebound, desired.force)?;
            pf.vfs
                .iter()
                .map(|vf| {
                    (
                        vf.pci.bdf,
                        vf.pci.driver.clone(),
                        vf.pci.driver_override.clone(),
                        vf.vfio_node,
                    )
                })
                .collect()
        } else {
            if numvfs > 0 {
                refuse_if_held(host, &pf.vfs, desired.force)?;
                steps.push(Step::DisableVfs { pf: bdf });
            }
            if pf.sriov_drivers_autoprobe {
                steps.push(Step::SetAutoprobe {
                    pf: bdf,
                    enabled: false,
                });
            }
            steps.push(Step::EnableVfs {
                pf: bdf,
                count: pf.sriov_totalvfs,
                expected: wanted,
            });
            pf.predicted_vfs(wanted)
                .into_iter()
                .map(|vf| (vf, None, None, None))
                .collect()
        };
        for (vf, current, current_override, access) in vfs {
            let rebind = current != driver;
            if rebind || current_override != driver {
                steps.push(Step::SetDriver {
                    device: vf,
                    driver: driver.clone(),
                    driver_override: driver.clone(),
                });
            }
            if let Some(want) = desired.vfio_access {
                // Rebinding recreates /dev/vfio/N with the default owner and mode.
                let access = if rebind { None } else { access };
                if access.is_none_or(|a| a.gid != want.gid || a.mode != want.mode) {
                    steps.push(Step::SetVfioAccess {
                        vf,
                        uid: None,
                        gid: want.gid,
                        mode: want.mode,
                    });
                }
            }
        }
    }
    Ok(Plan { steps })
}

/// Plans a reset of the named PFs (or every QAT PF): VFs off and `sriov_drivers_autoprobe` back
/// on, so VFs enabled later get their default drivers again. Services and PF state are untouched.
pub fn plan_reset(host: &Host, pfs: &[Bdf], force: bool) -> Result<Plan> {
    let mut steps = Vec::new();
    for pf in target_pfs(host, pfs)? {
        if pf.sriov_numvfs > 0 {
            refuse_if_held(host, &pf.vfs, force)?;
            steps.push(Step::DisableVfs { pf: pf.pci.bdf });
        }
        if !pf.sriov_drivers_autoprobe {
            steps.push(Step::SetAutoprobe {
                pf: pf.pci.bdf,
                enabled: true,
            });
        }
    }
    Ok(Plan { steps })
}
