//! The node converged before serving: a desired state from a config file (YAML, or JSON, which
//! is YAML too) applied as qatctl applies it — one verified transaction under the provisioning
//! lock, rolled back on failure, refusing to pull VFs that running workloads hold.
//!
//! ```yaml
//! driver: vfio-pci        # default; or qat_vfio_pci, kernel, none, a driver name
//! services: [sym, dc]     # optional: leave the services as they are
//! pfs: []                 # optional: every QAT PF; any SR-IOV PF may be named
//! vfio-group: kvm         # optional: owner group of /dev/vfio/<group> (name or number)
//! vfio-mode: "0660"       # with vfio-group; default 0660
//! ```

use std::path::Path;

use nix::sys::signal::{SigSet, Signal};
use qat_vf::provision::{self, Desired, ProvisionLock, VfDriver, VfioAccess};
use qat_vf::{Bdf, Host, HostEnv, Services};
use serde::Deserialize;

/// The desired state of the node, as the config file says it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeConfig {
    /// The VFs' driver.
    #[serde(default = "vfio_pci")]
    pub driver: VfDriver,
    /// QAT services; absent: left as they are.
    #[serde(default)]
    pub services: Option<Services>,
    /// PFs to manage; empty: every QAT PF.
    #[serde(default)]
    pub pfs: Vec<Bdf>,
    /// Owner group of the VFs' `/dev/vfio/<group>` nodes.
    #[serde(default)]
    pub vfio_group: Option<String>,
    /// Their mode, octal.
    #[serde(default)]
    pub vfio_mode: Option<String>,
}

fn vfio_pci() -> VfDriver {
    VfDriver::VfioPci
}

impl NodeConfig {
    /// Parses a config file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_norway::from_str(text).map_err(|e| e.to_string())
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        NodeConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The desired state on `env` (where the group name is resolved).
    pub fn desired(&self, env: &HostEnv) -> Result<Desired, String> {
        if self.vfio_mode.is_some() && self.vfio_group.is_none() {
            return Err("vfio-mode needs vfio-group".into());
        }
        let mut desired = Desired::new(self.driver.clone()).with_pfs(self.pfs.iter().copied());
        if let Some(services) = self.services {
            desired = desired.with_services(services);
        }
        if let Some(group) = &self.vfio_group {
            let mode = match &self.vfio_mode {
                Some(mode) => VfioAccess::parse_mode(mode).map_err(|e| e.chain())?,
                None => 0o660,
            };
            let gid = env.resolve_group(group).map_err(|e| e.chain())?;
            desired = desired.with_vfio_access(VfioAccess::new(gid, mode).map_err(|e| e.chain())?);
        }
        Ok(desired)
    }
}

/// Brings `env` to `desired` under the lock at `lock_path`, logging the plan and each step;
/// SIGINT and SIGTERM are held until the transaction (and any rollback) is over. Returns the
/// steps run; on failure, what failed and whether the host was restored.
pub fn converge(env: &HostEnv, desired: &Desired, lock_path: &Path) -> Result<usize, String> {
    let lock = ProvisionLock::acquire_or_wait(lock_path, || {
        tracing::info!(
            "waiting for another provisioner to release {}",
            lock_path.display()
        );
    })
    .map_err(|e| e.chain())?;
    let found = Host::discover(env, &desired.pfs).map_err(|e| e.chain())?;
    let plan = provision::plan(&found, desired).map_err(|e| e.chain())?;
    if plan.steps.is_empty() {
        tracing::info!("the node is as desired: nothing to do");
        return Ok(0);
    }
    for step in &plan.steps {
        tracing::info!("plan: {step}");
    }
    let held = hold_signals();
    let report = provision::apply(env, &plan, desired.force, &lock);
    release_signals(held);
    match (&report.error, report.failed_outcome()) {
        (Some(error), Some(outcome)) => Err(format!(
            "{}: {} ({outcome})",
            error.description, error.message
        )),
        _ => {
            tracing::info!("applied {} steps", report.steps_done.len());
            Ok(report.steps_done.len())
        }
    }
}

/// Blocks SIGINT and SIGTERM in this thread (provisioning runs before any other thread).
fn hold_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    // Blocking a valid set cannot fail.
    let _ = set.thread_block();
    set
}

/// Unblocks them: one that arrived meanwhile now ends the process, the host converged or
/// rolled back.
fn release_signals(set: SigSet) {
    let _ = set.thread_unblock();
}
