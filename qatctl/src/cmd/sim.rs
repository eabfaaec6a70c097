//! `qatctl sim`: make and change simulated hosts, the state files that `--sim` acts on.

use std::path::Path;

use qat_vf::Bdf;
use qat_vf::sim::{FaultTrigger, Preset, SimHost};
use serde_json::json;

use crate::args::{Global, SimCommand};
use crate::failure::Failure;
use crate::output;
use crate::target;

/// Runs one `sim` subcommand.
pub(crate) fn run(global: &Global, command: SimCommand) -> Result<(), Failure> {
    match command {
        SimCommand::Create {
            state,
            preset,
            pfs,
            force,
        } => create(global, &state, preset, pfs, force),
        SimCommand::Fail {
            state,
            nth_write,
            attribute,
            errno,
            clear,
        } => {
            let trigger = match (clear, nth_write, attribute) {
                (true, _, _) => None,
                (false, Some(n), _) => Some(FaultTrigger::NthWrite(n)),
                (false, None, Some(attr)) => Some(FaultTrigger::Attribute(attr)),
                (false, None, None) => unreachable!("clap requires one"),
            };
            fail(global, &state, trigger, errno)
        }
        SimCommand::Hold {
            state,
            vf,
            pid,
            release,
        } => hold(global, &state, vf, (!release).then_some(pid)),
        SimCommand::Writes { state } => {
            let writes = SimHost::load(&state)?.writes();
            output::print_writes(&writes, global.json);
            Ok(())
        }
    }
}

/// Writes a new state file with the preset's devices; an existing one only with `force`.
fn create(
    global: &Global,
    state: &Path,
    preset: Preset,
    pfs: Option<u16>,
    force: bool,
) -> Result<(), Failure> {
    if state.exists() && !force {
        return Err(Failure::Usage(format!(
            "{} exists; pass --force to replace it",
            state.display()
        )));
    }
    let dir = state
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
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
    let _lock = target::lock(global, Some(state))?;
    let sim = SimHost::preset(preset, pfs);
    sim.save(state)?;
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

/// Arms a fault that fails writes with `errno`, or with no trigger disarms every fault.
fn fail(
    global: &Global,
    state: &Path,
    trigger: Option<FaultTrigger>,
    errno: i32,
) -> Result<(), Failure> {
    let _lock = target::lock(global, Some(state))?;
    target::with_sim(state, |sim| {
        match trigger {
            None => sim.clear_faults(),
            Some(trigger) => sim.inject(trigger, errno),
        }
        Ok(())
    })?;
    output::print_ok(
        &format!("faults updated in {}", state.display()),
        global.json,
    );
    Ok(())
}

/// Marks `vf` as held by the VFIO user `pid`, or with no pid lets go of it.
fn hold(global: &Global, state: &Path, vf: Bdf, pid: Option<u32>) -> Result<(), Failure> {
    let _lock = target::lock(global, Some(state))?;
    target::with_sim(state, |sim| match pid {
        None => {
            sim.release(vf);
            Ok(())
        }
        Some(pid) => Ok(sim.hold(vf, pid)?),
    })?;
    let what = match pid {
        None => "released",
        Some(_) => "held by a VFIO user",
    };
    output::print_ok(&format!("{vf} {what}"), global.json);
    Ok(())
}
