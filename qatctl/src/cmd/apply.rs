//! `qatctl apply`: run the plan that `qatctl plan` prints, as one transaction.

use crate::args::{DesiredArgs, Global};
use crate::failure::Failure;
use crate::transaction;

use super::plan;

/// Brings the host to the desired state, or rolls back.
pub(crate) fn run(global: &Global, args: &DesiredArgs) -> Result<(), Failure> {
    transaction::run(global, args.force, |host| plan::make(host, args))
}
