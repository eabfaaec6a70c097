//! Command-line definitions and what each command does.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use qat_vf::domain::{self, Machine, Policy};
use qat_vf::provision::{self, Desired, Plan, ProvisionLock, VfDriver, VfioAccess};
use qat_vf::sim::{FaultTrigger, Preset, SimHost};
use qat_vf::{Bdf, Services};
use serde_json::json;

use crate::domain_file::DomainFile;
use crate::failure::Failure;
use crate::output;
use crate::target::{self, HostAccess};

/// Take Intel QuickAssist VFs from "driver loaded" to "ready for VMs", safely.
#[derive(Debug, Parser)]
#[command(name = "qatctl", version, about)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    command: Command,
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
enum Command {
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
struct DesiredArgs {
    /// QAT services, e.g. `sym,dc` (sym, asym, dc, dcc, decomp) [default: leave as they are].
    #[arg(long, value_name = "LIST")]
    services: Option<Services>,
    /// VF driver: vfio-pci, qat_vfio_pci, kernel (the family's VF driver), none, or a driver name.
    #[arg(long, value_name = "DRIVER", default_value = "vfio-pci")]
    driver: VfDriver,
    /// Only these PFs [default: every QAT PF]; any SR-IOV PF may be named.
    #[arg(long = "pf", value_name = "BDF")]
    pfs: Vec<Bdf>,
    /// Owner group of the VFs' /dev/vfio/<group> nodes (name or number).
    #[arg(long, value_name = "GROUP")]
    vfio_group: Option<String>,
    /// Mode of the VFs' /dev/vfio/<group> nodes, octal (needs --vfio-group).
    #[arg(long, value_name = "MODE", requires = "vfio_group", value_parser = parse_mode)]
    vfio_mode: Option<u32>,
    /// Go ahead even when a VFIO user holds a VF that the plan removes.
    #[arg(long)]
    force: bool,
}

/// Which VFs a VM gets.
#[derive(Debug, Args)]
struct AllocArgs {
    /// How many VFs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    count: u16,
    /// balanced (spread over PFs) or packed (fill one PF first).
    #[arg(long, default_value = "balanced")]
    policy: Policy,
    /// Prefer VFs on this NUMA node.
    #[arg(long, value_name = "NODE")]
    numa: Option<u32>,
}

#[derive(Debug, Args)]
struct XmlArgs {
    #[command(flatten)]
    alloc: AllocArgs,
    /// managed='yes': libvirt binds the VFs itself when the VM starts.
    #[arg(long, default_value = "yes", value_parser = ["yes", "no"])]
    managed: String,
    /// The hostdev driver model, e.g. qat_vfio_pci (libvirt ≥ 9.3); VFs must be bound to it.
    #[arg(long, value_name = "DRIVER")]
    model: Option<String>,
    /// `off`: add <rom bar='off'/>.
    #[arg(long, value_name = "off", value_parser = ["off"])]
    rom_bar: Option<String>,
    /// Alias prefix that marks qatkit's elements (a libvirt user alias: ua-...).
    #[arg(long, default_value = "ua-qat-")]
    alias_prefix: String,
    /// Guest machine for standalone output (with --domain it is read from the domain).
    #[arg(long, default_value = "q35")]
    machine: Machine,
    /// Insert into this domain XML (replacing what qatkit added before) and print the result.
    #[arg(long, value_name = "FILE")]
    domain: Option<PathBuf>,
    /// Write the result back to the --domain file (through symbolic links) instead of printing it.
    #[arg(long, requires = "domain")]
    in_place: bool,
    /// With --in-place: replace the file even when it is read-only.
    #[arg(long, requires = "in_place")]
    force: bool,
}

#[derive(Debug, Args)]
struct KubevirtArgs {
    /// How many VFs the VM asks for (KubeVirt and the device plugin pick which).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    count: u16,
    /// Resource name for the VFs [default: intel.com/qat_<family>_vf].
    #[arg(long, value_name = "NAME")]
    resource_name: Option<String>,
    /// Another device plugin (Intel's QAT plugin) advertises the resource; give its name with
    /// --resource-name.
    #[arg(long, requires = "resource_name")]
    external_provider: bool,
    /// Output format.
    #[arg(long, default_value = "yaml", value_parser = ["yaml", "json"])]
    format: String,
}

#[derive(Debug, Subcommand)]
enum SimCommand {
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

pub(crate) fn run(cli: Cli) -> Result<(), Failure> {
    let global = &cli.global;
    match cli.command {
        Command::Sim(command) => run_sim(global, command),
        Command::List => target::with_host(global, false, |host| {
            let found = host.discover(&[])?;
            output::print_list(&found, global.json);
            Ok(())
        }),
        Command::Status { pfs } => target::with_host(global, false, |host| {
            let mut found = host.discover(&pfs)?;
            if !pfs.is_empty() {
                found.pfs.retain(|pf| pfs.contains(&pf.pci.bdf));
            }
            output::print_status(&found, global.json);
            Ok(())
        }),
        Command::VfioCheck { vf } => target::with_host(global, false, |host| {
            let report = host.vfio_check(vf)?;
            output::print_vfio_check(&report, global.json);
            match &report.error {
                None => Ok(()),
                Some(error) => Err(Failure::ReportedBecause(format!(
                    "{vf} is not usable through VFIO: {error}"
                ))),
            }
        }),
        Command::Xml(args) => {
            target::with_host(global, false, |host| run_xml(host, &args, global.json))
        }
        Command::Kubevirt(args) => target::with_host(global, false, |host| {
            let found = host.discover(&[])?;
            let config = domain::kubevirt::config(
                &found,
                usize::from(args.count),
                args.resource_name.as_deref(),
                args.external_provider,
            )?;
            output::print_kubevirt(&config, args.format == "json" || global.json)
        }),
        Command::Plan(args) => target::with_host(global, false, |host| {
            let plan = plan(host, &args)?;
            output::print_plan(&plan, global.json);
            Ok(())
        }),
        Command::Apply(args) => {
            let lock = target::lock(global, None)?;
            // Ctrl-C or SIGTERM halfway would leave the host half-provisioned with the undo
            // journal lost: hold them until the transaction, any rollback and the save are over.
            let signals = target::HeldSignals::hold();
            let result = target::with_host(global, true, |host| {
                let plan = plan(host, &args)?;
                finish(host, &plan, args.force, &lock, global.json)
            });
            say_arrived(signals.finish());
            result
        }
        Command::Reset { pfs, force } => {
            let lock = target::lock(global, None)?;
            let signals = target::HeldSignals::hold();
            let result = target::with_host(global, true, |host| {
                let found = host.discover(&pfs)?;
                let plan = provision::plan_reset(&found, &pfs, force)?;
                finish(host, &plan, force, &lock, global.json)
            });
            say_arrived(signals.finish());
            result
        }
    }
}

fn allocate(
    host: &qat_vf::Host,
    args: &AllocArgs,
    driver: &str,
    keep: Vec<Bdf>,
    exclude: Vec<Bdf>,
) -> Result<Vec<domain::Allocated>, Failure> {
    let request = domain::Request {
        count: usize::from(args.count),
        policy: args.policy,
        numa_node: args.numa,
        driver: driver.to_owned(),
        keep,
        exclude,
    };
    Ok(domain::allocate(host, &request)?)
}

fn run_xml(host: &dyn HostAccess, args: &XmlArgs, json: bool) -> Result<(), Failure> {
    let opts = domain::HostdevOptions {
        managed: args.managed == "yes",
        model: args.model.clone(),
        rom_bar_off: args.rom_bar.is_some(),
        alias_prefix: args.alias_prefix.clone(),
    };
    domain::validate_alias_prefix(&opts.alias_prefix)?;
    if let Some(model) = &args.model {
        qat_vf::driver::validate_driver_name(model)?;
    }
    let driver = args.model.clone().unwrap_or_else(|| "vfio-pci".into());
    let found = host.discover(&[])?;
    let (vfs, xml) = match &args.domain {
        Some(path) => {
            let file = DomainFile::read(path, args.in_place, args.force)?;
            let info = domain::DomainInfo::parse(&file.text, &opts.alias_prefix)?;
            let vfs = allocate(
                &found,
                &args.alloc,
                &driver,
                info.own_sources.clone(),
                info.other_sources.clone(),
            )?;
            let xml = domain::insert_parsed(&file.text, &info, &vfs, &opts)?;
            if let Some(warning) = file.replace(&xml)? {
                eprintln!("qatctl: warning: {warning}");
            }
            (vfs, xml)
        }
        None => {
            let vfs = allocate(&found, &args.alloc, &driver, Vec::new(), Vec::new())?;
            let xml = domain::hostdev_xml(&vfs, args.machine, &opts)?;
            (vfs, xml)
        }
    };
    if json {
        println!(
            "{}",
            serde_json::json!({ "vfs": vfs, "xml": xml, "written": args.in_place })
        );
    } else if args.in_place {
        let list: Vec<String> = vfs.iter().map(|a| a.vf.to_string()).collect();
        println!(
            "{}: {} VFs ({})",
            args.domain
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            vfs.len(),
            list.join(" ")
        );
    } else {
        print!("{xml}");
    }
    Ok(())
}

fn plan(host: &dyn HostAccess, args: &DesiredArgs) -> Result<Plan, Failure> {
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

fn finish(
    host: &dyn HostAccess,
    plan: &Plan,
    force: bool,
    lock: &ProvisionLock,
    json: bool,
) -> Result<(), Failure> {
    let report = host.apply(plan, force, lock);
    output::print_report(&report, json);
    if report.ok {
        Ok(())
    } else {
        Err(Failure::Reported)
    }
}

fn run_sim(global: &crate::cli::Global, command: SimCommand) -> Result<(), Failure> {
    match command {
        SimCommand::Create {
            state,
            preset,
            pfs,
            force,
        } => {
            if state.exists() && !force {
                return Err(Failure::Usage(format!(
                    "{} exists; pass --force to replace it",
                    state.display()
                )));
            }
            let dir = state
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            if !dir.is_dir() {
                return Err(Failure::Usage(format!(
                    "cannot create {}: {} is not a directory",
                    state.display(),
                    dir.display()
                )));
            }
            if preset.is_fixed() && pfs.is_some() {
                return Err(Failure::Usage(format!(
                    "the {preset} preset is one fixed machine; --pfs does not apply"
                )));
            }
            let pfs = pfs.map_or(preset.default_pfs(), usize::from);
            let _lock = target::lock(global, Some(&state))?;
            let sim = SimHost::preset(preset, pfs);
            sim.save(&state)?;
            let kernel = sim.kernel();
            let pf_count = kernel
                .devices
                .values()
                .filter(|d| d.sriov.is_some())
                .count();
            if global.json {
                println!(
                    "{}",
                    json!({ "ok": true, "state": state, "preset": preset.to_string() })
                );
            } else {
                println!(
                    "created {} ({preset}, {pf_count} SR-IOV PFs, {} devices)",
                    state.display(),
                    kernel.devices.len()
                );
            }
            Ok(())
        }
        SimCommand::Fail {
            state,
            nth_write,
            attribute,
            errno,
            clear,
        } => {
            let _lock = target::lock(global, Some(&state))?;
            target::with_sim(&state, |sim| {
                match (clear, nth_write, attribute) {
                    (true, _, _) => sim.clear_faults(),
                    (false, Some(n), _) => sim.inject(FaultTrigger::NthWrite(n), errno),
                    (false, None, Some(attr)) => sim.inject(FaultTrigger::Attribute(attr), errno),
                    (false, None, None) => unreachable!("clap requires one"),
                }
                Ok(())
            })?;
            print_ok(
                global.json,
                &format!("faults updated in {}", state.display()),
            );
            Ok(())
        }
        SimCommand::Hold {
            state,
            vf,
            pid,
            release,
        } => {
            let _lock = target::lock(global, Some(&state))?;
            target::with_sim(&state, |sim| {
                if release {
                    sim.release(vf);
                    Ok(())
                } else {
                    Ok(sim.hold(vf, pid)?)
                }
            })?;
            let what = if release {
                "released"
            } else {
                "held by a VFIO user"
            };
            print_ok(global.json, &format!("{vf} {what}"));
            Ok(())
        }
        SimCommand::Writes { state } => {
            let writes = SimHost::load(&state)?.writes();
            output::print_writes(&writes, global.json);
            Ok(())
        }
    }
}

/// Says which held signals arrived while the host was being changed.
fn say_arrived(signals: Vec<nix::sys::signal::Signal>) {
    if !signals.is_empty() {
        let names: Vec<&str> = signals.iter().map(|s| s.as_str()).collect();
        eprintln!(
            "qatctl: {} arrived while the host was being changed; the command ran to the end first (its outcome is above)",
            names.join(", ")
        );
    }
}

fn print_ok(json: bool, message: &str) {
    if json {
        println!("{}", json!({ "ok": true, "message": message }));
    } else {
        println!("{message}");
    }
}
