//! Which host a command acts on: the real one (or a fixture root), or a simulated host's state
//! file; and the provisioning lock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use qat_vf::provision::{Plan, ProvisionLock, Report};
use qat_vf::sim::SimHost;
use qat_vf::vfio::{KernelOps, VfioCheck, VfioOps};
use qat_vf::{Bdf, Host, HostSysfs, Sysfs};

use crate::args::Global;
use crate::failure::Failure;

/// What the commands do to a host, object-safe so one code path serves every kind of host.
pub(crate) trait HostAccess {
    fn discover(&self, pfs: &[Bdf]) -> qat_vf::Result<Host>;
    fn apply(&self, plan: &Plan, force: bool, lock: &ProvisionLock) -> Report;
    fn resolve_group(&self, group: &str) -> qat_vf::Result<u32>;
    fn vfio_check(&self, vf: Bdf) -> qat_vf::Result<VfioCheck>;
}

/// A host: its files, its VFIO, and where its VFIO nodes are.
struct Target<S> {
    sysfs: Arc<S>,
    vfio: Arc<dyn VfioOps>,
    vfio_dir: PathBuf,
}

impl<S: Sysfs> HostAccess for Target<S> {
    fn discover(&self, pfs: &[Bdf]) -> qat_vf::Result<Host> {
        Host::discover(&*self.sysfs, pfs)
    }
    fn apply(&self, plan: &Plan, force: bool, lock: &ProvisionLock) -> Report {
        qat_vf::provision::apply(&*self.sysfs, plan, force, lock)
    }
    fn resolve_group(&self, group: &str) -> qat_vf::Result<u32> {
        qat_vf::iommu::resolve_group(&*self.sysfs, group)
    }
    fn vfio_check(&self, vf: Bdf) -> qat_vf::Result<VfioCheck> {
        qat_vf::vfio::check(&*self.sysfs, Arc::clone(&self.vfio), &self.vfio_dir, vf)
    }
}

/// Runs `f` against the selected host. A simulated host is loaded first and, when `save` is
/// set, saved afterwards — also when `f` failed, so consumed faults and the write record persist.
pub(crate) fn with_host<T>(
    global: &Global,
    save: bool,
    f: impl FnOnce(&dyn HostAccess) -> Result<T, Failure>,
) -> Result<T, Failure> {
    match &global.sim {
        Some(path) => {
            let sim = Arc::new(SimHost::load(path)?);
            let target = Target {
                sysfs: Arc::clone(&sim),
                vfio: sim.clone(),
                vfio_dir: "/dev/vfio".into(),
            };
            let result = f(&target);
            if save {
                // The host may have changed already: failing to record it is an operation
                // failure (exit 1), not bad input.
                sim.save(path)
                    .map_err(|e| Failure::Failed(qat_vf::provision::error_chain(&e)))?;
            }
            result
        }
        None => {
            let root = global
                .sysfs_root
                .clone()
                .unwrap_or_else(|| PathBuf::from("/"));
            let target = Target {
                sysfs: Arc::new(HostSysfs::with_root(&root)),
                vfio: Arc::new(KernelOps),
                vfio_dir: root.join("dev/vfio"),
            };
            f(&target)
        }
    }
}

/// Loads a simulated host's state file, lets `f` change it, and saves it.
pub(crate) fn with_sim<T>(
    state: &Path,
    f: impl FnOnce(&SimHost) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let sim = SimHost::load(state)?;
    let result = f(&sim)?;
    sim.save(state)
        .map_err(|e| Failure::Failed(qat_vf::provision::error_chain(&e)))?;
    Ok(result)
}

/// The lock file: `--lock-file`, else `<STATE>.lock` beside a simulated host's state file (so
/// separate simulated hosts do not wait for each other), else `/run/qatkit.lock`.
pub(crate) fn lock(global: &Global, state: Option<&Path>) -> Result<ProvisionLock, Failure> {
    let path = match (&global.lock_file, state.or(global.sim.as_deref())) {
        (Some(path), _) => path.clone(),
        (None, Some(state)) => {
            let mut name = state.as_os_str().to_owned();
            name.push(".lock");
            PathBuf::from(name)
        }
        (None, None) => PathBuf::from(ProvisionLock::DEFAULT_PATH),
    };
    Ok(ProvisionLock::acquire_or_wait(&path, || {
        eprintln!(
            "qatctl: waiting for another provisioner to release {}",
            path.display()
        );
    })?)
}
