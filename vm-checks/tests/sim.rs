//! The real-kernel scenario list against the simulated host of the same machine: the model must
//! answer every check as expected.tsv says the real kernel does.

use qat_vf::provision::{self, ProvisionLock};
use qat_vf::sim::{Preset, SimHost};
use qat_vf::{Bdf, Host};
use vm_checks::{EXPECTED, Env, VfioCheckSummary, mismatches, run};

#[test]
fn the_model_answers_every_check_as_the_real_kernel_does() {
    let sim = SimHost::preset("qemu".parse::<Preset>().unwrap(), 1);
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("lock");
    let reset = |pfs: &[Bdf]| -> Result<(), String> {
        let host = Host::discover(&sim, pfs).map_err(|e| e.to_string())?;
        let plan = provision::plan_reset(&host, pfs, false).map_err(|e| e.to_string())?;
        let held = ProvisionLock::acquire(&lock).map_err(|e| e.to_string())?;
        let report = provision::apply(&sim, &plan, false, &held);
        report
            .ok
            .then_some(())
            .ok_or_else(|| format!("{:?}", report.error))
    };
    let vfio_check = |vf: Bdf| -> Result<VfioCheckSummary, String> {
        let report = qat_vf::vfio::check(&sim, vf).map_err(|e| e.to_string())?;
        Ok(VfioCheckSummary::from_report(&report))
    };
    let env = Env {
        host: &sim,
        lock: &lock,
        reset: &reset,
        vfio_check: &vfio_check,
        real_kernel: false,
    };
    let checks = run(&env);
    let bad = mismatches(&checks, EXPECTED, false);
    for c in &checks {
        println!("{}\t{}", c.name, c.observed);
    }
    assert!(
        bad.is_empty(),
        "the model disagrees with the real kernel: {bad:#?}"
    );
}
