//! The command line: every clap type (global options, commands, their arguments) and the value
//! parsers. The help texts are the doc comments here; what each command does is in `cmd`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use qat_vf::domain::{Machine, Policy};
use qat_vf::provision::{VfDriver, VfioAccess};
use qat_vf::sim::Preset;
use qat_vf::{Bdf, Services};

/// Take Intel QuickAssist VFs from "driver loaded" to "ready for VMs", safely.
#[derive(Debug, Parser)]
#[command(name = "qatctl", version, about)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Act on the filesystem under DIR instead of `/` (a fixture tree).
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "sim")]
    pub(crate) sysfs_root: Option<PathBuf>,
    /// Act on a simulated host kept in a state file (see `qatctl sim create`).
    #[arg(long, global = true, value_name = "STATE.json")]
    pub(crate) sim: Option<PathBuf>,
    /// Provisioning lock file [default: /run/qatkit.lock; with --sim, STATE.json.lock].
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) lock_file: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage simulated hosts (state files for --sim).
    #[command(subcommand)]
    Sim(SimCommand),
    /// One line per QAT PF and VF.
    List,
    /// PFs in detail: state, services, SR-IOV, health, and their VFs.
    Status {
        /// Only these PFs (any SR-IOV PF may be named).
        #[arg(long = "pf", value_name = "BDF")]
        pfs: Vec<Bdf>,
    },
    /// Print the steps that `apply` would run; change nothing.
    Plan(DesiredArgs),
    /// Bring the host to the desired state as one transaction, rolled back on any failure.
    Apply(DesiredArgs),
    /// Open a VF through VFIO as a VM manager would and report what it needs: group and
    /// viability, regions, irqs, whether DMA mapping works, RLIMIT_MEMLOCK.
    VfioCheck {
        /// The VF.
        #[arg(long)]
        vf: Bdf,
    },
    /// Choose VFs for a VM and print libvirt `<hostdev>` XML, or the updated domain.
    Xml(XmlArgs),
    /// Print the KubeVirt configuration for the host's QAT VFs (CR patch and VM snippet).
    Kubevirt(KubevirtArgs),
    /// Disable VFs and turn VF driver autoprobe back on; services are left as they are.
    Reset {
        /// Only these PFs [default: every QAT PF].
        #[arg(long = "pf", value_name = "BDF")]
        pfs: Vec<Bdf>,
        /// Go ahead even when a VFIO user holds a VF.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DesiredArgs {
    /// QAT services, e.g. `sym,dc` (sym, asym, dc, dcc, decomp) [default: leave as they are].
    #[arg(long, value_name = "LIST")]
    pub(crate) services: Option<Services>,
    /// VF driver: vfio-pci, qat_vfio_pci, kernel (the family's VF driver), none, or a driver name.
    #[arg(long, value_name = "DRIVER", default_value = "vfio-pci")]
    pub(crate) driver: VfDriver,
    /// Only these PFs [default: every QAT PF]; any SR-IOV PF may be named.
    #[arg(long = "pf", value_name = "BDF")]
    pub(crate) pfs: Vec<Bdf>,
    /// Owner group of the VFs' /dev/vfio/<group> nodes (name or number).
    #[arg(long, value_name = "GROUP")]
    pub(crate) vfio_group: Option<String>,
    /// Mode of the VFs' /dev/vfio/<group> nodes, octal (needs --vfio-group).
    #[arg(long, value_name = "MODE", requires = "vfio_group", value_parser = parse_mode)]
    pub(crate) vfio_mode: Option<u32>,
    /// Go ahead even when a VFIO user holds a VF that the plan removes.
    #[arg(long)]
    pub(crate) force: bool,
}

/// Which VFs a VM gets.
#[derive(Debug, Args)]
pub(crate) struct AllocArgs {
    /// How many VFs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) count: u16,
    /// balanced (spread over PFs) or packed (fill one PF first).
    #[arg(long, default_value = "balanced")]
    pub(crate) policy: Policy,
    /// Prefer VFs on this NUMA node.
    #[arg(long, value_name = "NODE")]
    pub(crate) numa: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct XmlArgs {
    #[command(flatten)]
    pub(crate) alloc: AllocArgs,
    /// managed='yes': libvirt binds the VFs itself when the VM starts.
    #[arg(long, default_value = "yes", value_parser = ["yes", "no"])]
    pub(crate) managed: String,
    /// The hostdev driver model, e.g. qat_vfio_pci (libvirt ≥ 9.3); VFs must be bound to it.
    #[arg(long, value_name = "DRIVER")]
    pub(crate) model: Option<String>,
    /// `off`: add <rom bar='off'/>.
    #[arg(long, value_name = "off", value_parser = ["off"])]
    pub(crate) rom_bar: Option<String>,
    /// Alias prefix that marks qatkit's elements (a libvirt user alias: ua-...).
    #[arg(long, default_value = "ua-qat-")]
    pub(crate) alias_prefix: String,
    /// Guest machine for standalone output (with --domain it is read from the domain).
    #[arg(long, default_value = "q35")]
    pub(crate) machine: Machine,
    /// Insert into this domain XML (replacing what qatkit added before) and print the result.
    #[arg(long, value_name = "FILE")]
    pub(crate) domain: Option<PathBuf>,
    /// Write the result back to the --domain file (through symbolic links) instead of printing it.
    #[arg(long, requires = "domain")]
    pub(crate) in_place: bool,
    /// With --in-place: replace the file even when it is read-only.
    #[arg(long, requires = "in_place")]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct KubevirtArgs {
    /// How many VFs the VM asks for (KubeVirt and the device plugin pick which).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) count: u16,
    /// Resource name for the VFs [default: intel.com/qat_<family>_vf].
    #[arg(long, value_name = "NAME")]
    pub(crate) resource_name: Option<String>,
    /// Another device plugin (Intel's QAT plugin) advertises the resource; give its name with
    /// --resource-name.
    #[arg(long, requires = "resource_name")]
    pub(crate) external_provider: bool,
    /// Output format.
    #[arg(long, default_value = "yaml", value_parser = ["yaml", "json"])]
    pub(crate) format: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SimCommand {
    /// Create a simulated host.
    Create {
        /// State file to write.
        state: PathBuf,
        /// Host kind: 4xxx, 401xx, 402xx, 420xx, 6xxx, c62x, c3xxx, dh895xcc, mixed, igb, nvme,
        /// qemu.
        #[arg(long, default_value = "4xxx")]
        preset: Preset,
        /// Number of PFs [default: 2; mixed: 3; qemu is one fixed machine].
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
        pfs: Option<u16>,
        /// Replace an existing state file.
        #[arg(long)]
        force: bool,
    },
    /// Make writes of the next command fail with an errno.
    Fail {
        /// State file.
        state: PathBuf,
        /// Fail the Nth write (1-based) from now, once.
        #[arg(long, value_name = "N", required_unless_present_any = ["attribute", "clear"],
              value_parser = clap::value_parser!(u64).range(1..))]
        nth_write: Option<u64>,
        /// Fail every write to this attribute (e.g. sriov_numvfs, qat/state).
        #[arg(long, value_name = "NAME", conflicts_with = "nth_write")]
        attribute: Option<String>,
        /// Errno to fail with (EIO, EBUSY, ... or a number).
        #[arg(long, default_value = "EIO", value_parser = parse_errno)]
        errno: i32,
        /// Disarm every fault instead.
        #[arg(long, conflicts_with_all = ["nth_write", "attribute"])]
        clear: bool,
    },
    /// Mark a VF as held by a VFIO user, or let go of it.
    Hold {
        /// State file.
        state: PathBuf,
        /// The VF.
        #[arg(long)]
        vf: Bdf,
        /// The holder's pid.
        #[arg(long, default_value_t = 4242)]
        pid: u32,
        /// Let go instead.
        #[arg(long)]
        release: bool,
    },
    /// Print every write the simulated host has received.
    Writes {
        /// State file.
        state: PathBuf,
    },
}

fn parse_mode(text: &str) -> Result<u32, String> {
    VfioAccess::parse_mode(text).map_err(|e| e.to_string())
}

fn parse_errno(text: &str) -> Result<i32, String> {
    if let Ok(n) = text.parse::<i32>() {
        return if n > 0 {
            Ok(n)
        } else {
            Err("errno must be positive".into())
        };
    }
    let wanted = text.to_ascii_uppercase();
    (1..4096)
        .map(nix::errno::Errno::from_raw)
        .find(|e| format!("{e:?}") == wanted)
        .map(|e| e as i32)
        .ok_or_else(|| format!("unknown errno {text:?}"))
}
