//! Which host a command acts on: the real one (or a fixture root), or a simulated host's state
//! file; and the provisioning lock.

use std::path::Path;

use qat_vf::HostEnv;
use qat_vf::provision::ProvisionLock;
use qat_vf::sim::SimHost;

use crate::args::Global;
use crate::failure::Failure;

/// Runs `f` against the selected host: the real one, a `--sysfs-root` tree, or a simulated
/// host, which is loaded first and, when `save` is set, saved afterwards — also when `f` failed,
/// so consumed faults and the write record persist.
pub(crate) fn with_host<T>(
    global: &Global,
    save: bool,
    f: impl FnOnce(&HostEnv) -> Result<T, Failure>,
) -> Result<T, Failure> {
    match &global.sim {
        Some(path) => {
            let sim = SimHost::load(path)?;
            let result = f(&sim);
            if save {
                // The host may have changed already: failing to record it is an operation
                // failure (exit 1), not bad input.
                sim.save(path).map_err(|e| Failure::Failed(e.chain()))?;
            }
            result
        }
        None => match &global.sysfs_root {
            Some(root) => f(&HostEnv::with_root(root)),
            None => f(&HostEnv::real()),
        },
    }
}

/// Loads a simulated host's state file, lets `f` change it, and saves it.
pub(crate) fn with_sim<T>(
    state: &Path,
    f: impl FnOnce(&SimHost) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let sim = SimHost::load(state)?;
    let result = f(&sim)?;
    sim.save(state).map_err(|e| Failure::Failed(e.chain()))?;
    Ok(result)
}

/// The lock file: `--lock-file`, else `<STATE>.lock` beside a simulated host's state file (so
/// separate simulated hosts do not wait for each other), else `/run/qatkit.lock`.
pub(crate) fn lock(global: &Global, state: Option<&Path>) -> Result<ProvisionLock, Failure> {
    let path = match &global.lock_file {
        Some(path) => path.clone(),
        None => ProvisionLock::default_path(state.or(global.sim.as_deref())),
    };
    Ok(ProvisionLock::acquire_or_wait(&path, || {
        eprintln!(
            "qatctl: waiting for another provisioner to release {}",
            path.display()
        );
    })?)
}
