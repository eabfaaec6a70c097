//! `qatctl list`: one line per QAT PF and VF.

use qat_vf::Host;

use crate::args::Global;
use crate::failure::Failure;
use crate::output;
use crate::target;

/// Lists the selected host's QAT PFs and VFs.
pub(crate) fn run(global: &Global) -> Result<(), Failure> {
    target::with_host(global, false, |host| {
        let found = Host::discover(host, &[])?;
        output::print_list(&found, global.json);
        Ok(())
    })
}
