//! Runs inside the QEMU test machine (tests/vm/run) from its init: the scenario list of
//! `vm_checks::run` against the real kernel's sysfs and VFIO, each observation compared with
//! expected.tsv.
//!
//! Protocol (parsed by tests/vm/run): `QATKIT-CHECK ok <name>` or `QATKIT-CHECK FAIL <name>:
//! <why>` per check, then `QATKIT-DONE <passed> <failed>`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use qat_vf::{Bdf, HostEnv};
use vm_checks::{EXPECTED, Env, VfioCheckSummary, mismatches, run};

fn qatctl_reset(pfs: &[Bdf]) -> Result<(), String> {
    let mut command = Command::new("/bin/qatctl");
    command.args(["--lock-file", "/tmp/qatkit.lock", "reset"]);
    for pf in pfs {
        command.args(["--pf", &pf.to_string()]);
    }
    let out = command
        .output()
        .map_err(|e| format!("cannot run qatctl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn qatctl_vfio_check(vf: Bdf) -> Result<VfioCheckSummary, String> {
    let out = Command::new("/bin/qatctl")
        .args(["--json", "vfio-check", "--vf", &vf.to_string()])
        .output()
        .map_err(|e| format!("cannot run qatctl: {e}"))?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "exit {:?}, no JSON ({e}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let usable = json["error"].is_null();
    if usable != out.status.success() {
        return Err(format!(
            "exit {:?} disagrees with the report",
            out.status.code()
        ));
    }
    Ok(VfioCheckSummary {
        usable,
        dma_map: json["dma_map"].as_bool(),
        regions: json["regions"].as_array().map_or(0, Vec::len),
        blockers: json["blockers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                format!(
                    "{}={}",
                    b["bdf"].as_str().unwrap_or("?"),
                    b["driver"].as_str().unwrap_or("?")
                )
            })
            .collect(),
    })
}

fn main() {
    let started = Instant::now();
    let host = HostEnv::real();
    let env = Env {
        host: &host,
        lock: Path::new("/tmp/qatkit.lock"),
        reset: &qatctl_reset,
        vfio_check: &qatctl_vfio_check,
        real_kernel: true,
    };
    let checks = run(&env);
    let bad = mismatches(&checks, EXPECTED, true);
    for check in &checks {
        match bad.iter().find(|(name, _, _)| name == check.name) {
            None => println!("QATKIT-CHECK ok {}: {}", check.name, check.observed),
            Some((_, observed, expected)) => {
                println!(
                    "QATKIT-CHECK FAIL {}: observed {observed:?}, expected {expected:?}",
                    check.name
                );
            }
        }
    }
    for (name, observed, expected) in bad
        .iter()
        .filter(|(n, _, _)| !checks.iter().any(|c| c.name == n))
    {
        println!("QATKIT-CHECK FAIL {name}: {observed} (expected {expected:?})");
    }
    println!(
        "QATKIT-OBSERVE checks_seconds {:.1}",
        started.elapsed().as_secs_f64()
    );
    println!(
        "QATKIT-DONE {} {}",
        checks.len()
            - bad
                .iter()
                .filter(|(n, _, _)| checks.iter().any(|c| c.name == n))
                .count(),
        bad.len()
    );
}
