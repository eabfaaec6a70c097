//! `qatctl vfio-check`: open a VF as a VM manager would and report what it needs.

use qat_vf::Bdf;

use crate::args::Global;
use crate::failure::Failure;
use crate::output;
use crate::target;

/// Checks `vf`; an unusable VF is a failure (exit 1) after the full report.
pub(crate) fn run(global: &Global, vf: Bdf) -> Result<(), Failure> {
    target::with_host(global, false, |host| {
        let report = qat_vf::vfio::check(host, vf)?;
        output::print_vfio_check(&report, global.json);
        match &report.error {
            None => Ok(()),
            Some(error) => Err(Failure::ReportedBecause(format!(
                "{vf} is not usable through VFIO: {error}"
            ))),
        }
    })
}
