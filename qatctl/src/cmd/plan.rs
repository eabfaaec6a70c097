//! `qatctl plan`: the steps `apply` would run, changing nothing.

use qat_vf::provision::{self, Desired, Plan, VfioAccess};

use crate::args::{DesiredArgs, Global};
use crate::failure::Failure;
use crate::output;
use crate::target::{self, HostAccess};

/// Prints the plan for the desired state.
pub(crate) fn run(global: &Global, args: &DesiredArgs) -> Result<(), Failure> {
    target::with_host(global, false, |host| {
        let plan = make(host, args)?;
        output::print_plan(&plan, global.json);
        Ok(())
    })
}

/// The plan for `args` on `host`: what `plan` prints and `apply` runs.
pub(crate) fn make(host: &dyn HostAccess, args: &DesiredArgs) -> Result<Plan, Failure> {
    let vfio_access = match &args.vfio_group {
        Some(group) => Some(VfioAccess::new(
            host.resolve_group(group)?,
            args.vfio_mode.unwrap_or(0o660),
        )?),
        None => None,
    };
    let desired = Desired {
        pfs: args.pfs.clone(),
        services: args.services,
        driver: args.driver.clone(),
        vfio_access,
        force: args.force,
    };
    let found = host.discover(&args.pfs)?;
    Ok(provision::plan(&found, &desired)?)
}
