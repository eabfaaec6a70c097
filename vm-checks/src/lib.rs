//! The scenario list that runs against the real kernel (inside QEMU, tests/vm/run) and against
//! the simulated host (`tests/sim.rs`), through the same qat-vf code that qatctl uses, with the
//! PFs named explicitly (generic SR-IOV mode).
//!
//! Each check records an observation (an errno name, a count, "ok"); `expected.tsv` states,
//! check by check, what the real kernel answers. The VM run and the simulated run are both held
//! to that one table, so the model and the kernel agree on everything both cover.
//!
//! The list itself, one function per check, is in `checks.rs`; how observations are spelled, in
//! `observe.rs`.

use std::path::Path;

use qat_vf::{Bdf, HostEnv};

mod checks;
mod device_plugin;
mod observe;

use checks::{Ctx, Step};
pub use observe::{fingerprint, observe_error};

/// What each check is expected to observe on the real kernel: `name<TAB>observation<TAB>why`.
pub const EXPECTED: &str = include_str!("../expected.tsv");

/// The igb PF of the test machine (7 VFs, each in its own IOMMU group).
pub const IGB: &str = "0000:01:00.0";
/// The NVMe PF of the test machine (4 VFs, one IOMMU group with the PF and its root port).
pub const NVME: &str = "0000:02:00.0";

/// Where the checks run.
pub struct Env<'a> {
    /// The host: its files, its VFIO and the process that maps DMA.
    pub host: &'a HostEnv,
    /// The provisioning lock file.
    pub lock: &'a Path,
    /// `qatctl reset --pf ...`: the binary in the VM, the library on the simulated host.
    pub reset: &'a dyn Fn(&[Bdf]) -> Result<(), String>,
    /// `qatctl vfio-check --json --vf BDF`, parsed: the binary in the VM, the library on the
    /// simulated host.
    pub vfio_check: &'a dyn Fn(Bdf) -> Result<VfioCheckSummary, String>,
    /// Run the checks only a real kernel can answer (marked `[kernel only]` in expected.tsv):
    /// those that wait on the kernel, which the model answers at once.
    pub real_kernel: bool,
}

/// The mark, at the start of expected.tsv's third column, of checks only the kernel runs.
pub const KERNEL_ONLY: &str = "[kernel only]";

/// The parts of a `vfio-check` report the checks compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VfioCheckSummary {
    /// No error: a VM manager can use the VF.
    pub usable: bool,
    /// The DMA map worked.
    pub dma_map: Option<bool>,
    /// Regions reported.
    pub regions: usize,
    /// Devices named as breaking the group's viability.
    pub blockers: Vec<String>,
}

impl VfioCheckSummary {
    /// From the library's report.
    pub fn from_report(r: &qat_vf::vfio::VfioCheck) -> Self {
        VfioCheckSummary {
            usable: r.usable(),
            dma_map: r.dma_map,
            regions: r.regions.len(),
            blockers: r
                .blockers
                .iter()
                .map(|b| format!("{}={}", b.bdf, b.driver))
                .collect(),
        }
    }
}

/// One check's observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Check name (first column of expected.tsv).
    pub name: &'static str,
    /// What was observed.
    pub observed: String,
}

/// Runs every check in order (they build on each other) and returns the observations.
pub fn run(env: &Env<'_>) -> Vec<Observation> {
    let mut ctx = Ctx::new(env);
    let mut observations = Vec::new();
    for step in checks::steps() {
        match step {
            Step::Host(change) => change(&mut ctx),
            Step::Check(check) if check.kernel_only && !env.real_kernel => {}
            Step::Check(check) => {
                if let Some(observed) = (check.run)(&mut ctx) {
                    observations.push(Observation {
                        name: check.name,
                        observed,
                    });
                }
            }
        }
    }
    observations
}

/// Compares observations with the expected table: (name, observed, expected) of each mismatch,
/// and names in the table that did not run.
pub fn mismatches(
    checks: &[Observation],
    expected: &str,
    real_kernel: bool,
) -> Vec<(String, String, String)> {
    let table: Vec<(&str, &str)> = rows(expected)
        .filter(|row| real_kernel || !row.kernel_only)
        .map(|row| (row.name, row.observation))
        .collect();
    let mut bad = Vec::new();
    for check in checks {
        match table.iter().find(|(name, _)| *name == check.name) {
            Some((_, want)) if *want == check.observed => {}
            Some((_, want)) => {
                bad.push((check.name.into(), check.observed.clone(), (*want).into()))
            }
            None => bad.push((
                check.name.into(),
                check.observed.clone(),
                "(not in expected.tsv)".into(),
            )),
        }
    }
    for (name, want) in &table {
        if !checks.iter().any(|c| c.name == *name) {
            bad.push(((*name).into(), "(did not run)".into(), (*want).into()));
        }
    }
    bad
}

/// One line of expected.tsv.
struct Row<'t> {
    name: &'t str,
    observation: &'t str,
    kernel_only: bool,
}

/// expected.tsv's rows, in order, without comments and blank lines.
fn rows(expected: &str) -> impl Iterator<Item = Row<'_>> {
    expected
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let (name, observation) = (cols.next()?, cols.next()?);
            let kernel_only = cols.next().is_some_and(|why| why.starts_with(KERNEL_ONLY));
            Some(Row {
                name,
                observation,
                kernel_only,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list runs expected.tsv's checks in its order, with its `[kernel only]` marks, so the
    /// table reads as the run does (mismatches alone would not notice a change of order).
    #[test]
    fn the_list_is_expected_tsv_in_order() {
        let listed: Vec<(&str, bool)> = checks::steps()
            .iter()
            .filter_map(|step| match step {
                Step::Check(check) => Some((check.name, check.kernel_only)),
                Step::Host(_) => None,
            })
            .collect();
        let expected: Vec<(&str, bool)> = rows(EXPECTED)
            .map(|row| (row.name, row.kernel_only))
            .collect();
        assert_eq!(listed, expected);
    }
}
