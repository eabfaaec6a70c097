//! `qatctl status`: PFs in detail, and their VFs.

use qat_vf::{Bdf, Host};

use crate::args::Global;
use crate::failure::Failure;
use crate::output;
use crate::target;

/// Shows `pfs`, or every QAT PF when none is named.
pub(crate) fn run(global: &Global, pfs: &[Bdf]) -> Result<(), Failure> {
    target::with_host(global, false, |host| {
        let mut found = Host::discover(host, pfs)?;
        if !pfs.is_empty() {
            found.pfs.retain(|pf| pfs.contains(&pf.pci.bdf));
        }
        output::print_status(&found, global.json);
        Ok(())
    })
}
