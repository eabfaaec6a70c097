//! A QAT PF's own attributes under `qat/`: its state and its services, read and written with a
//! re-read that verifies each write.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::attributes::{list_vfs, verify};
use crate::error::{Result, SysfsError};
use crate::holders::VfioHolders;
use crate::host::{HostEnv, paths};
use crate::pci::Bdf;
use crate::services::Services;

/// A QAT PF's `qat/state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QatState {
    /// Started: services run, VFs can be enabled.
    Up,
    /// Stopped: services can be configured; no VFs.
    Down,
}

impl QatState {
    /// The word the kernel reads and writes.
    pub fn as_str(self) -> &'static str {
        match self {
            QatState::Up => "up",
            QatState::Down => "down",
        }
    }
}

impl fmt::Display for QatState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QatState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "up" => Ok(QatState::Up),
            "down" => Ok(QatState::Down),
            _ => Err(()),
        }
    }
}

/// Reads the PF's QAT `state`; `None` where the attribute does not exist.
pub(crate) fn read_state(env: &HostEnv, bdf: Bdf) -> Result<Option<QatState>> {
    env.read_opt(&paths::qat_attr(bdf, "state"))
}

/// Reads the PF's `cfg_services` as a set; `None` where the attribute does not exist.
pub(crate) fn read_services(env: &HostEnv, bdf: Bdf) -> Result<Option<Services>> {
    let path = paths::qat_attr(bdf, "cfg_services");
    match env.read_opt::<String>(&path)? {
        None => Ok(None),
        Some(text) => Services::parse_list(&text).map(Some).map_err(|_| {
            SysfsError::Parse {
                path,
                content: text,
            }
            .into()
        }),
    }
}

/// Writes a QAT PF's `state`. Taking a PF down removes its VFs, so unless `force` it is refused
/// while a VFIO user holds one.
pub(crate) fn set_state(env: &HostEnv, pf: Bdf, state: QatState, force: bool) -> Result<()> {
    let _span = tracing::info_span!("qat_state", bdf = %pf, %state).entered();
    if read_state(env, pf)? == Some(state) {
        return Ok(());
    }
    if state == QatState::Down {
        VfioHolders::scan(env)?.refuse_to_take(list_vfs(env, pf)?, force)?;
    }
    let path = paths::qat_attr(pf, "state");
    env.write(&path, state.as_str())?;
    verify(env, path, state.as_str())
}

/// Writes a QAT PF's `cfg_services` (the PF must be down) and checks the read-back as a set.
pub(crate) fn set_services(env: &HostEnv, pf: Bdf, services: Services) -> Result<()> {
    let _span = tracing::info_span!("qat_services", bdf = %pf, %services).entered();
    let path = paths::qat_attr(pf, "cfg_services");
    if read_services(env, pf)? == Some(services) {
        return Ok(());
    }
    env.write(&path, &services.to_cfg_string())?;
    let found = read_services(env, pf)?;
    if found == Some(services) {
        Ok(())
    } else {
        Err(SysfsError::Verify {
            path,
            found: found.map(Services::to_cfg_string).unwrap_or_default(),
            expected: services.to_cfg_string(),
        }
        .into())
    }
}
