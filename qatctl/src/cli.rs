//! What each command does.

use qat_vf::Bdf;
use qat_vf::domain;
use qat_vf::provision::{self, Desired, Plan, VfioAccess};
use qat_vf::sim::{FaultTrigger, SimHost};
use serde_json::json;

use crate::args::{AllocArgs, Cli, Command, DesiredArgs, Global, SimCommand, XmlArgs};
use crate::domain_file::DomainFile;
use crate::failure::Failure;
use crate::output;
use crate::target::{self, HostAccess};
use crate::transaction;

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
        Command::Apply(args) => transaction::run(global, args.force, |host| plan(host, &args)),
        Command::Reset { pfs, force } => transaction::run(global, force, |host| {
            let found = host.discover(&pfs)?;
            Ok(provision::plan_reset(&found, &pfs, force)?)
        }),
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

fn run_sim(global: &Global, command: SimCommand) -> Result<(), Failure> {
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

fn print_ok(json: bool, message: &str) {
    if json {
        println!("{}", json!({ "ok": true, "message": message }));
    } else {
        println!("{message}");
    }
}
