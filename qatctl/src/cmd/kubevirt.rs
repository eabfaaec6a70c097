//! `qatctl kubevirt`: the KubeVirt CR patch and VM snippet for the host's QAT VFs.

use qat_vf::{Host, domain};

use crate::args::{Global, KubevirtArgs};
use crate::failure::Failure;
use crate::output;
use crate::target;

/// Prints the configuration, as YAML unless `--format json` or `--json`.
pub(crate) fn run(global: &Global, args: &KubevirtArgs) -> Result<(), Failure> {
    target::with_host(global, false, |host| {
        let found = Host::discover(host, &[])?;
        let config = domain::kubevirt::config(
            &found,
            usize::from(args.count),
            args.resource_name.as_deref(),
            args.external_provider,
        )?;
        output::print_kubevirt(&config, args.format == "json" || global.json)
    })
}
