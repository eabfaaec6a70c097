//! The command line, here so that tests can check the deployment's arguments with the real
//! parser.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use qat_vf::Bdf;
use qat_vf::domain::Policy;

use crate::api::DEFAULT_PLUGIN_DIR;
use crate::naming::DEFAULT_PREFIX;

/// Serve QAT VFs bound to vfio-pci to Kubernetes (kubelet device plugin API v1beta1).
#[derive(Debug, Parser)]
#[command(version)]
pub struct Args {
    /// The kubelet's device plugin directory (holding kubelet.sock).
    #[arg(long, default_value = DEFAULT_PLUGIN_DIR)]
    pub plugin_dir: PathBuf,
    /// Resource name prefix: resources are <prefix><services>, e.g. qat.intel.com/sym-dc.
    #[arg(long, default_value = DEFAULT_PREFIX, conflicts_with = "resource_name")]
    pub prefix: String,
    /// Serve every VF as this one resource instead (e.g. intel.com/qat_vf).
    #[arg(long)]
    pub resource_name: Option<String>,
    /// The VFIO driver VFs must be bound to.
    #[arg(long, default_value = "vfio-pci")]
    pub driver: String,
    /// How often to read the host and push health changes (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    pub interval: Duration,
    /// Preferred allocation across PFs: balanced or packed.
    #[arg(long, default_value_t = Policy::Balanced)]
    pub policy: Policy,
    /// Reset each VF (VFIO device reset) before a container starts with it (PreStartContainer).
    #[arg(long)]
    pub reset: bool,
    /// Also name each device for CDI as <KIND>=<PCI address> (KIND: vendor.com/class).
    #[arg(long, value_name = "KIND")]
    pub cdi_kind: Option<String>,
    /// Also serve VFs of this SR-IOV PF of another kind (repeatable; generic mode).
    #[arg(long = "pf", value_name = "BDF")]
    pub pfs: Vec<Bdf>,
    /// Read the filesystem under DIR instead of `/` (a fixture tree).
    #[arg(long, value_name = "DIR", conflicts_with = "sim")]
    pub sysfs_root: Option<PathBuf>,
    /// Serve a simulated host's state file (read afresh at every poll; see `qatctl sim`).
    #[arg(long, value_name = "STATE.json")]
    pub sim: Option<PathBuf>,
    /// Converge the node to the desired state in CONFIG (YAML) before serving, as `qatctl
    /// apply` does; a failure rolls back and ends the plugin.
    #[arg(long, value_name = "CONFIG")]
    pub provision: Option<PathBuf>,
    /// With --provision: exit once the node is converged (an init container's job).
    #[arg(long, requires = "provision")]
    pub provision_only: bool,
    /// Provisioning lock file [default: /run/qatkit.lock; with --sim, STATE.json.lock].
    #[arg(long, value_name = "PATH")]
    pub lock_file: Option<PathBuf>,
    /// Keep a node-feature-discovery features file here (e.g.
    /// /etc/kubernetes/node-feature-discovery/features.d/qatkit).
    #[arg(long, value_name = "FILE")]
    pub nfd_features: Option<PathBuf>,
}

/// An interval such as `5s`, `500ms` or `2.5` (seconds), from 10 ms to an hour.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.strip_suffix("ms") {
        Some(n) => (n, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    let seconds = number
        .parse::<f64>()
        .ok()
        .map(|n| n * unit)
        .filter(|s| (0.01..=3600.0).contains(s))
        .ok_or_else(|| format!("{text:?}: give 10ms to 3600s, e.g. 5s or 500ms"))?;
    Ok(Duration::from_secs_f64(seconds))
}

/// A CDI kind is `vendor/class`: the vendor a DNS name, the class letters, digits, `_`, `-`.
pub fn check_cdi_kind(kind: &str) -> Result<(), String> {
    let ok = kind.split_once('/').is_some_and(|(vendor, class)| {
        let label =
            |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        vendor.split('.').all(label)
            && !class.is_empty()
            && class
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if ok {
        Ok(())
    } else {
        Err(format!("--cdi-kind {kind:?}: give vendor.com/class"))
    }
}
