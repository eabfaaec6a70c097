//! `qatctl plan`: the steps `apply` would run, changing nothing.

use qat_vf::provision::{self, Desired, Plan, VfioAccess};
use qat_vf::{Host, HostEnv};

use crate::args::{DesiredArgs, Global};
use crate::failure::Failure;
use crate::output;
use crate::target;

/// Prints the plan for the desired state.
pub(crate) fn run(global: &Global, args: &DesiredArgs) -> Result<(), Failure> {
    target::with_host(global, false, |host| {
        let plan = make(host, args)?;
        output::print_plan(&plan, global.json);
        Ok(())
    })
}

/// The plan for `args` on `host`: what `plan` prints and `apply` runs.
pub(crate) fn make(host: &HostEnv, args: &DesiredArgs) -> Result<Plan, Failure> {
    let vfio_access = match &args.vfio_group {
        Some(group) => Some(VfioAccess::new(
            host.resolve_group(group)?,
            args.vfio_mode.unwrap_or(0o660),
        )?),
        None => None,
    };
    let mut desired = Desired::new(args.driver.clone())
        .with_pfs(args.pfs.iter().copied())
        .with_force(args.force);
    if let Some(services) = args.services {
        desired = desired.with_services(services);
    }
    if let Some(access) = vfio_access {
        desired = desired.with_vfio_access(access);
    }
    let found = Host::discover(host, &args.pfs)?;
    Ok(provision::plan(&found, &desired)?)
}
