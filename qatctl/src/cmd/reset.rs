//! `qatctl reset`: disable VFs and turn VF driver autoprobe back on, as one transaction.

use qat_vf::provision;
use qat_vf::{Bdf, Host};

use crate::args::Global;
use crate::failure::Failure;
use crate::transaction;

/// Resets `pfs`, or every QAT PF when none is named.
pub(crate) fn run(global: &Global, pfs: &[Bdf], force: bool) -> Result<(), Failure> {
    transaction::run(global, force, |host| {
        let found = Host::discover(host, pfs)?;
        Ok(provision::plan_reset(&found, pfs, force)?)
    })
}
