//! Provisioning on the simulated host: plans, convergence, rollback under every fault, refusals.

use std::io;
use std::path::{Path, PathBuf};

use nix::libc;
use proptest::prelude::*;
use qat_vf::error::{ProvisionError, SysfsError};
use qat_vf::host::{FileAccess, HostFiles, OpenFile, paths};
use qat_vf::provision::{self, Desired, Plan, Report, Step, VfioAccess};
use qat_vf::sim::{FaultTrigger, SimHost};
use qat_vf::{Bdf, Error, Host, HostEnv, QatState, Services};

fn preset(name: &str, pfs: usize) -> SimHost {
    SimHost::preset(name.parse().unwrap(), pfs)
}

fn bdf(s: &str) -> Bdf {
    s.parse().unwrap()
}

fn desired(services: Option<&str>, driver: &str) -> Desired {
    let want = Desired::new(driver.parse().unwrap());
    match services {
        Some(s) => want.with_services(s.parse().unwrap()),
        None => want,
    }
}

/// Applies under a lock of its own, so tests run in parallel.
fn apply(host: &HostEnv, plan: &Plan, force: bool) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let lock = provision::ProvisionLock::acquire(&dir.path().join("lock")).unwrap();
    provision::apply(host, plan, force, &lock)
}

fn plan(sim: &SimHost, want: &Desired) -> qat_vf::Result<Plan> {
    let host = Host::discover(sim, &want.pfs)?;
    provision::plan(&host, want)
}

fn converge(sim: &SimHost, want: &Desired) -> Report {
    let report = apply(sim, &plan(sim, want).unwrap(), want.force);
    assert!(report.ok, "{report:#?}");
    report
}

#[test]
fn two_pf_4xxx_converges_to_sym_dc_on_vfio_pci() {
    let sim = preset("4xxx", 2);
    let want = desired(Some("sym,dc"), "vfio-pci");
    converge(&sim, &want);
    let host = Host::discover(&sim, &[]).unwrap();
    assert_eq!(host.pfs.len(), 2);
    for pf in &host.pfs {
        assert_eq!(pf.state, Some(QatState::Up));
        assert_eq!(pf.services, Some(Services::SYM | Services::DC));
        assert_eq!(pf.sriov_numvfs, pf.sriov_totalvfs);
        assert_eq!(pf.vfs.len(), 16);
        for vf in &pf.vfs {
            assert_eq!(vf.pci.driver.as_deref(), Some("vfio-pci"), "{}", vf.pci.bdf);
            assert_eq!(vf.physfn, Some(pf.pci.bdf));
            assert!(vf.vfio_node.is_some());
        }
    }
    assert!(plan(&sim, &want).unwrap().is_converged());
}

#[test]
fn converged_host_plans_nothing_and_apply_writes_nothing() {
    let sim = preset("4xxx", 1);
    let want = desired(Some("asym,sym"), "vfio-pci");
    converge(&sim, &want);
    let before = sim.writes().len();
    let report = apply(&sim, &plan(&sim, &want).unwrap(), false);
    assert!(report.ok && report.steps_done.is_empty());
    assert_eq!(sim.writes().len(), before);
}

/// Applies `want` once with the k-th write failing, for every k, and checks that the host is
/// exactly as before and the report names the failure and a clean rollback.
fn fault_sweep(sim_for: impl Fn() -> SimHost, want: &Desired, errno: i32) {
    let clean = sim_for();
    let setup_writes = clean.writes().len();
    converge(&clean, want);
    let total = (clean.writes().len() - setup_writes) as u64;
    assert!(total > 0);
    for k in 1..=total {
        let sim = sim_for();
        let before = sim.kernel();
        sim.inject(FaultTrigger::NthWrite(k), errno);
        let report = apply(&sim, &plan(&sim, want).unwrap(), want.force);
        assert!(!report.ok, "write {k} failed but the apply succeeded");
        let error = report.error.as_ref().unwrap();
        assert!(
            error
                .message
                .contains(&std::io::Error::from_raw_os_error(errno).to_string())
        );
        assert!(report.restored(), "write {k}: {report:#?}");
        assert_eq!(
            sim.kernel(),
            before,
            "write {k} with errno {errno}: host differs after rollback"
        );
    }
}

#[test]
fn every_failed_write_rolls_back_to_the_exact_prior_state_4xxx() {
    let want = desired(Some("sym,dc"), "vfio-pci");
    for errno in [libc::EIO, libc::EBUSY] {
        fault_sweep(|| preset("4xxx", 2), &want, errno);
    }
}

#[test]
fn fault_sweep_from_a_provisioned_host_with_vfio_ownership() {
    // Start from VFs already bound with custom /dev/vfio ownership, then change services:
    // rollback must recreate VFs, rebind them and restore node ownership.
    let setup = || {
        let sim = preset("4xxx", 1);
        let first =
            desired(Some("sym"), "vfio-pci").with_vfio_access(VfioAccess::new(990, 0o660).unwrap());
        converge(&sim, &first);
        sim
    };
    fault_sweep(setup, &desired(Some("dc"), "qat_vfio_pci"), libc::EIO);
}

#[test]
fn fault_sweep_generic_and_gen2() {
    let mut igb = desired(None, "vfio-pci");
    igb.pfs = vec![bdf("0000:01:00.0")];
    fault_sweep(|| preset("igb", 1), &igb, libc::EIO);
    fault_sweep(|| preset("c62x", 2), &desired(None, "kernel"), libc::EBUSY);
    let old_kernel = || {
        let sim = preset("4xxx", 1);
        sim.with_kernel(|k| k.quirks.qat_numvfs_zero = false);
        converge(&sim, &desired(Some("sym"), "vfio-pci"));
        sim
    };
    fault_sweep(old_kernel, &desired(Some("dc"), "vfio-pci"), libc::EIO);
}

#[test]
fn services_change_on_a_provisioned_pf_goes_through_disable_down_configure_up() {
    let sim = preset("4xxx", 1);
    converge(&sim, &desired(Some("sym"), "vfio-pci"));
    let pf = bdf("0000:6b:00.0");
    let steps = plan(&sim, &desired(Some("dc"), "vfio-pci")).unwrap().steps;
    assert_eq!(
        &steps[..5],
        &[
            Step::DisableVfs { pf },
            Step::SetState {
                pf,
                state: QatState::Down
            },
            Step::SetServices {
                pf,
                services: Services::DC
            },
            Step::SetState {
                pf,
                state: QatState::Up
            },
            Step::EnableVfs {
                pf,
                count: 16,
                expected: 16
            },
        ]
    );
    // Autoprobe is already off from the first apply: no step for it.
    assert_eq!(steps.len(), 5 + 16);
}

#[test]
fn older_kernels_echo_services_and_still_converge() {
    let sim = preset("4xxx", 1);
    sim.with_kernel(|k| k.quirks.canonical_services = false);
    let want = desired(Some("sym,asym"), "vfio-pci");
    converge(&sim, &want);
    assert!(plan(&sim, &want).unwrap().is_converged());
}

#[test]
fn older_kernels_without_numvfs_zero_disable_by_cycling_state() {
    let sim = preset("4xxx", 1);
    sim.with_kernel(|k| k.quirks.qat_numvfs_zero = false);
    converge(&sim, &desired(Some("sym"), "vfio-pci"));
    let report = apply(
        &sim,
        &provision::plan_reset(&Host::discover(&sim, &[]).unwrap(), &[], false).unwrap(),
        false,
    );
    assert!(report.ok, "{report:#?}");
    let pf = &Host::discover(&sim, &[]).unwrap().pfs[0];
    assert_eq!((pf.sriov_numvfs, pf.state), (0, Some(QatState::Up)));
}

#[test]
fn reset_disables_vfs_restores_autoprobe_and_keeps_services() {
    let sim = preset("4xxx", 2);
    converge(&sim, &desired(Some("sym,dc"), "vfio-pci"));
    let host = Host::discover(&sim, &[]).unwrap();
    let reset = provision::plan_reset(&host, &[], false).unwrap();
    assert!(apply(&sim, &reset, false).ok);
    let host = Host::discover(&sim, &[]).unwrap();
    for pf in &host.pfs {
        assert_eq!(pf.sriov_numvfs, 0);
        assert!(pf.sriov_drivers_autoprobe);
        assert_eq!(pf.services, Some(Services::SYM | Services::DC));
        assert!(sim.kernel().vfio_nodes.is_empty());
    }
    assert!(
        provision::plan_reset(&host, &[], false)
            .unwrap()
            .is_converged()
    );
}

#[test]
fn a_held_vf_is_refused_at_plan_time_and_at_run_time() {
    let sim = preset("4xxx", 1);
    converge(&sim, &desired(Some("sym"), "vfio-pci"));
    let vf = bdf("0000:6b:00.3");
    sim.hold(vf, 777).unwrap();
    let change = desired(Some("dc"), "vfio-pci");
    match plan(&sim, &change) {
        Err(Error::Provision(ProvisionError::DeviceOpenByVfioUser { vf: held, pid })) => {
            assert_eq!((held, pid), (vf, 777))
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Planned before the VFIO user arrived: the step itself refuses, before writing anything.
    sim.release(vf);
    let planned = plan(&sim, &change).unwrap();
    sim.hold(vf, 777).unwrap();
    let before = (sim.kernel(), sim.writes().len());
    let report = apply(&sim, &planned, false);
    assert!(!report.ok);
    assert!(
        report
            .error
            .unwrap()
            .message
            .contains("is open by a VFIO user")
    );
    assert_eq!((sim.kernel(), sim.writes().len()), before);
    // Changes that do not remove VFs are fine while held.
    assert!(
        plan(&sim, &desired(Some("sym"), "vfio-pci"))
            .unwrap()
            .is_converged()
    );
}

#[test]
fn force_never_passes_a_vfio_user_with_the_device_open() {
    let sim = preset("igb", 1);
    let mut want = desired(None, "vfio-pci");
    want.pfs = vec![bdf("01:00.0")];
    converge(&sim, &want);
    let host = Host::discover(&sim, &want.pfs).unwrap();
    let reset = provision::plan_reset(&host, &want.pfs, true).unwrap();
    sim.hold(bdf("0000:01:10.0"), 1).unwrap();
    // At plan time...
    let host = Host::discover(&sim, &want.pfs).unwrap();
    assert!(matches!(
        provision::plan_reset(&host, &want.pfs, true),
        Err(Error::Provision(ProvisionError::DeviceOpenByVfioUser {
            pid: 1,
            ..
        }))
    ));
    // ...and at run time, for a plan made before the user came, before any write.
    let before = (sim.kernel(), sim.writes().len());
    let report = apply(&sim, &reset, true);
    assert!(!report.ok);
    let error = report.error.unwrap();
    assert!(matches!(error.step, Step::DisableVfs { .. }));
    assert!(
        error.message.contains("force does not override"),
        "{}",
        error.message
    );
    assert_eq!((sim.kernel(), sim.writes().len()), before);
}

#[test]
fn bad_requests_are_errors() {
    type Case = (&'static str, Desired, fn(&Error) -> bool);
    let cases: Vec<Case> = vec![
        ("4xxx", desired(Some("sym,asym,dc"), "vfio-pci"), |e| {
            matches!(e, Error::Provision(ProvisionError::Unsupported { .. }))
        }),
        ("4xxx", desired(Some("dcc,sym"), "vfio-pci"), |e| {
            matches!(e, Error::Provision(ProvisionError::Unsupported { .. }))
        }),
        ("4xxx", desired(Some("decomp"), "vfio-pci"), |e| {
            matches!(e, Error::Provision(ProvisionError::Unsupported { .. }))
        }),
        ("4xxx", desired(None, "kernel"), |e| {
            matches!(e, Error::Provision(ProvisionError::Unsupported { .. }))
        }),
        ("4xxx", desired(None, "igbvf"), |e| {
            matches!(e, Error::Provision(ProvisionError::DriverNotLoaded(_)))
        }),
        ("c62x", desired(Some("sym"), "kernel"), |e| {
            matches!(e, Error::Provision(ProvisionError::Unsupported { .. }))
        }),
        ("c62x", desired(None, "vfio-pci"), |e| {
            matches!(e, Error::Provision(ProvisionError::Unsupported { .. }))
        }),
        ("420xx", desired(None, "qat_vfio_pci"), |e| {
            matches!(e, Error::Provision(ProvisionError::Unsupported { .. }))
        }),
        (
            "igb",
            desired(Some("sym"), "vfio-pci").with_pfs([bdf("01:00.0")]),
            |e| matches!(e, Error::Provision(ProvisionError::Unsupported { .. })),
        ),
        (
            "igb",
            desired(None, "vfio-pci").with_pfs(vec![bdf("00:00.0")]),
            |e| matches!(e, Error::Provision(ProvisionError::NotSriov(_))),
        ),
        (
            "igb",
            desired(None, "vfio-pci").with_pfs(vec![bdf("09:00.0")]),
            |e| matches!(e, Error::Sysfs(SysfsError::NoSuchDevice(_))),
        ),
        (
            "4xxx",
            desired(None, "none").with_vfio_access(VfioAccess::new(1, 0o660).unwrap()),
            |e| matches!(e, Error::Provision(ProvisionError::Unsupported { .. })),
        ),
    ];
    for (name, want, expected) in cases {
        let sim = preset(name, 2);
        let result = plan(&sim, &want);
        let err = result.expect_err(&format!("{name} {want:?} planned"));
        assert!(expected(&err), "{name} {want:?}: wrong error {err:?}");
        assert!(!err.to_string().contains('\n'));
    }
}

#[test]
fn denylisted_gen2_binds_to_vfio_pci_once_the_denylist_is_off() {
    let sim = preset("c62x", 1);
    sim.with_kernel(|k| k.quirks.vfio_disable_denylist = true);
    converge(&sim, &desired(None, "vfio-pci"));
    let host = Host::discover(&sim, &[]).unwrap();
    assert!(
        host.pfs[0]
            .vfs
            .iter()
            .all(|vf| vf.pci.driver.as_deref() == Some("vfio-pci"))
    );
}

#[test]
fn gen2_vfs_go_to_their_kernel_driver_and_back() {
    let sim = preset("dh895xcc", 1);
    converge(&sim, &desired(None, "kernel"));
    let host = Host::discover(&sim, &[]).unwrap();
    assert_eq!(host.pfs[0].vfs.len(), 32);
    assert!(
        host.pfs[0]
            .vfs
            .iter()
            .all(|vf| vf.pci.driver.as_deref() == Some("dh895xccvf"))
    );
    converge(&sim, &desired(None, "none"));
    let host = Host::discover(&sim, &[]).unwrap();
    assert!(
        host.pfs[0]
            .vfs
            .iter()
            .all(|vf| vf.pci.driver.is_none() && vf.pci.driver_override.is_none())
    );
}

#[test]
fn generic_pfs_are_managed_when_named() {
    let sim = preset("mixed", 3);
    let igb = bdf("0000:01:00.0");
    let want = desired(None, "vfio-pci").with_pfs(vec![igb]);
    converge(&sim, &want);
    let host = Host::discover(&sim, &[igb]).unwrap();
    let pf = host.pf(igb).unwrap();
    assert_eq!(pf.sriov_numvfs, 7);
    assert_eq!(pf.vfs[1].pci.bdf, bdf("0000:01:10.2"));
    assert!(
        pf.vfs
            .iter()
            .all(|vf| vf.pci.driver.as_deref() == Some("vfio-pci"))
    );
    // QAT PFs of the mixed host were not touched.
    assert!(
        host.pfs
            .iter()
            .filter(|p| p.pci.bdf != igb)
            .all(|p| p.sriov_numvfs == 0)
    );
    // And the VFs can go to their own kernel driver by name.
    converge(&sim, &desired(None, "igbvf").with_pfs(vec![igb]));
}

#[test]
fn vfio_ownership_is_applied_and_converges() {
    let sim = preset("4xxx", 1);
    let gid = sim.resolve_group("qat").unwrap();
    assert_eq!(sim.resolve_group("1234").unwrap(), 1234);
    assert!(matches!(
        sim.resolve_group("nobody-here"),
        Err(Error::Provision(ProvisionError::UnknownGroup(_)))
    ));
    let want = desired(None, "vfio-pci").with_vfio_access(VfioAccess::new(gid, 0o660).unwrap());
    converge(&sim, &want);
    assert!(
        sim.kernel()
            .vfio_nodes
            .values()
            .all(|a| a.gid == gid && a.mode == 0o660)
    );
    assert_eq!(sim.kernel().vfio_nodes.len(), 16);
    assert!(plan(&sim, &want).unwrap().is_converged());
}

#[test]
fn a_probe_that_binds_nothing_fails_the_step_and_rolls_back() {
    // Unload vfio-pci's acceptance by marking the PF's VFs denylisted after planning.
    let sim = preset("c62x", 1);
    sim.with_kernel(|k| k.quirks.vfio_disable_denylist = true);
    let planned = plan(&sim, &desired(None, "vfio-pci")).unwrap();
    sim.with_kernel(|k| k.quirks.vfio_disable_denylist = false);
    let before = sim.kernel();
    let report = apply(&sim, &planned, false);
    assert!(!report.ok);
    assert!(
        report.error.unwrap().message.contains("driver reads"),
        "drivers_probe success was trusted"
    );
    assert_eq!(sim.kernel(), before);
}

#[test]
fn plans_round_trip_through_json() {
    let sim = preset("4xxx", 1);
    let planned = plan(&sim, &desired(Some("sym,dc"), "qat_vfio_pci")).unwrap();
    let json = serde_json::to_string(&planned).unwrap();
    assert!(json.contains(r#""op":"set_services""#) && json.contains(r#"["sym","dc"]"#));
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), planned);
}

fn arb_desired() -> impl Strategy<Value = Desired> {
    let services = prop::sample::select(vec![
        None,
        Some("sym"),
        Some("dc"),
        Some("asym,sym"),
        Some("sym,dc"),
        Some("dcc"),
    ]);
    let driver = prop::sample::select(vec!["vfio-pci", "qat_vfio_pci", "none"]);
    let access = prop::option::of((
        prop::sample::select(vec![0u32, 990, 994]),
        prop::sample::select(vec![0o600u32, 0o660, 0o666]),
    ));
    (services, driver, access).prop_map(|(services, driver, access)| {
        let is_vfio = driver != "none";
        let want = desired(services, driver);
        match access.filter(|_| is_vfio) {
            Some((gid, mode)) => want.with_vfio_access(VfioAccess::new(gid, mode).unwrap()),
            None => want,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any sequence of requests converges, and a fault at any write of the last one leaves
    /// the host exactly as it was.
    #[test]
    fn any_request_sequence_converges_and_any_fault_rolls_back(
        sequence in prop::collection::vec(arb_desired(), 1..4),
        fault_at in 1u64..80,
        busy in any::<bool>(),
    ) {
        let sim = preset("4xxx", 2);
        let (last, earlier) = sequence.split_last().unwrap();
        for want in earlier {
            converge(&sim, want);
            prop_assert!(plan(&sim, want).unwrap().is_converged());
        }
        let before = sim.kernel();
        let writes_before = sim.writes().len() as u64;
        sim.inject(FaultTrigger::NthWrite(fault_at), if busy { libc::EBUSY } else { libc::EIO });
        let report = apply(&sim, &plan(&sim, last).unwrap(), false);
        let attempted = sim.writes().len() as u64 - writes_before;
        if report.ok {
            prop_assert!(attempted < fault_at);
            prop_assert!(plan(&sim, last).unwrap().is_converged());
        } else {
            prop_assert!(report.restored(), "{:#?}", report);
            prop_assert_eq!(sim.kernel(), before);
        }
        prop_assert_eq!(sim.kernel().validate(), Ok(()));
    }
}

#[test]
fn bdf_parse_never_panics_and_round_trips() {
    proptest!(|(s in "\\PC{0,16}")| {
        if let Ok(b) = s.parse::<Bdf>() {
            prop_assert_eq!(b.to_string().parse::<Bdf>().unwrap(), b);
        }
    });
}

#[test]
fn rebinding_a_held_vf_is_refused_at_plan_time_and_at_run_time() {
    let sim = preset("4xxx", 1);
    converge(&sim, &desired(Some("sym"), "vfio-pci"));
    let vf = bdf("0000:6b:00.2");
    let to_qat_vfio = desired(Some("sym"), "qat_vfio_pci");
    let planned = plan(&sim, &to_qat_vfio).unwrap();
    sim.hold(vf, 31).unwrap();
    assert!(matches!(
        plan(&sim, &to_qat_vfio),
        Err(Error::Provision(ProvisionError::DeviceOpenByVfioUser { vf: held, pid: 31 })) if held == vf
    ));
    // Planned before the holder came: the bind step refuses before unbinding, and the VFs
    // rebound before it are put back.
    let before = sim.kernel();
    let report = apply(&sim, &planned, false);
    assert!(!report.ok);
    assert_eq!(report.error.unwrap().step.target(), vf);
    assert_eq!(sim.kernel(), before);
}

#[test]
fn a_vfio_user_that_cannot_be_identified_blocks_removal_unless_forced() {
    let sim = preset("4xxx", 1);
    converge(&sim, &desired(Some("sym"), "vfio-pci"));
    let mut host = Host::discover(&sim, &[]).unwrap();
    host.unidentified_vfio_users = vec![4711];
    let change = desired(Some("dc"), "vfio-pci");
    assert!(matches!(
        provision::plan(&host, &change),
        Err(Error::Provision(ProvisionError::UnidentifiedVfioUser {
            pid: 4711
        }))
    ));
    assert!(provision::plan(&host, &change.clone().with_force(true)).is_ok());
    // Steps that take nothing away are fine.
    assert!(
        provision::plan(&host, &desired(Some("sym"), "vfio-pci"))
            .unwrap()
            .is_converged()
    );
}

#[test]
fn a_qat_pf_without_sriov_does_not_stop_discovery_but_cannot_be_provisioned() {
    let sim = preset("4xxx", 2);
    sim.with_kernel(|k| k.devices.get_mut(&bdf("0000:70:00.0")).unwrap().sriov = None);
    let host = Host::discover(&sim, &[]).unwrap();
    assert_eq!(host.pfs.len(), 2);
    assert_eq!(host.pfs[1].sriov_totalvfs, 0);
    assert!(matches!(
        plan(&sim, &desired(None, "vfio-pci")),
        Err(Error::Provision(ProvisionError::NotSriov(_)))
    ));
    let first_only = desired(None, "vfio-pci").with_pfs(vec![bdf("0000:6b:00.0")]);
    converge(&sim, &first_only);
    // Named explicitly, it is an error at discovery.
    assert!(matches!(
        Host::discover(&sim, &[bdf("0000:70:00.0")]),
        Err(Error::Provision(ProvisionError::NotSriov(_)))
    ));
}

#[test]
fn no_pf_to_manage_is_an_error_and_named_pfs_count_once() {
    let igb = preset("igb", 1);
    assert!(matches!(
        plan(&igb, &desired(None, "vfio-pci")),
        Err(Error::Provision(ProvisionError::NothingToManage))
    ));
    let sim = preset("4xxx", 1);
    let once = desired(Some("sym"), "vfio-pci").with_pfs([bdf("6b:00.0")]);
    let twice = once.clone().with_pfs([bdf("6b:00.0"), bdf("0000:6b:00.0")]);
    assert_eq!(plan(&sim, &twice).unwrap(), plan(&sim, &once).unwrap());
}

#[test]
fn a_failing_undo_is_reported_and_the_host_read_again() {
    let sim = preset("4xxx", 1);
    let want = desired(Some("sym"), "vfio-pci");
    let planned = plan(&sim, &want).unwrap();
    // Write 6 (the first VF's driver_override) fails, and so does write 8, the undo of
    // "autoprobe off" (write 7 disables the VFs again).
    sim.inject(FaultTrigger::NthWrite(6), libc::EIO);
    sim.inject(FaultTrigger::NthWrite(8), libc::EIO);
    let report = apply(&sim, &planned, false);
    assert!(!report.ok);
    assert_eq!(report.rollback_failures.len(), 1, "{report:#?}");
    assert!(
        report.rollback_failures[0]
            .message
            .contains("sriov_drivers_autoprobe: Input/output error")
    );
    // Every other undo still ran, and re-reading the host finds what the failed one left.
    assert!(!report.rolled_back.is_empty());
    assert!(!report.restored());
    assert_eq!(
        report.still_changed,
        ["0000:6b:00.0 sriov_drivers_autoprobe reads 0, was 1"],
        "{report:#?}"
    );
}

#[test]
fn a_failed_undo_whose_effect_came_about_anyway_is_verified_restored() {
    let sim = preset("4xxx", 1);
    let before = sim.kernel();
    let planned = plan(&sim, &desired(Some("sym"), "vfio-pci")).unwrap();
    // Write 7, the undo "disable VFs", fails; the later undo "state down" removes them anyway.
    sim.inject(FaultTrigger::NthWrite(6), libc::EIO);
    sim.inject(FaultTrigger::NthWrite(7), libc::EIO);
    let report = apply(&sim, &planned, false);
    assert_eq!(report.rollback_failures.len(), 1, "{report:#?}");
    assert!(
        report.still_changed.is_empty() && report.restored(),
        "{report:#?}"
    );
    assert_eq!(sim.kernel(), before);
}

/// The simulated host in trouble: a PF that vanishes (hot-unplugged, or its slot powered off)
/// at the `nth` write, which fails; or a device list that cannot be read.
#[derive(Debug)]
struct Troubled {
    sim: SimHost,
    nth: usize,
    pf: Bdf,
    unlistable: bool,
}

impl Troubled {
    /// The simulated host with this trouble, as a host to apply plans to.
    fn env(self) -> HostEnv {
        let sim = self.sim.clone();
        HostEnv::new(
            std::sync::Arc::new(self),
            sim.vfio().clone(),
            sim.process().clone(),
        )
    }
}

impl HostFiles for Troubled {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.sim.files().read(path)
    }
    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        if self.sim.writes().len() + 1 == self.nth {
            self.sim.with_kernel(|k| k.devices.remove(&self.pf));
            self.sim.inject(FaultTrigger::NthWrite(1), libc::ENODEV);
        }
        self.sim.files().write(path, value)
    }
    fn read_link(&self, path: &Path) -> io::Result<Option<PathBuf>> {
        self.sim.files().read_link(path)
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        if self.unlistable && path == Path::new(paths::PCI_DEVICES) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        self.sim.files().list(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.sim.files().exists(path)
    }
    fn access(&self, path: &Path) -> io::Result<Option<FileAccess>> {
        self.sim.files().access(path)
    }
    fn set_access(&self, path: &Path, uid: Option<u32>, gid: u32, mode: u32) -> io::Result<()> {
        self.sim.files().set_access(path, uid, gid, mode)
    }
    fn open_files(&self) -> io::Result<Vec<OpenFile>> {
        self.sim.files().open_files()
    }
    fn group_id(&self, name: &str) -> io::Result<Option<u32>> {
        self.sim.files().group_id(name)
    }
}

#[test]
fn a_device_that_vanishes_during_an_apply_is_reported_not_claimed_restored() {
    let sim = preset("4xxx", 2);
    let want = desired(Some("sym"), "vfio-pci");
    let planned = plan(&sim, &want).unwrap();
    let host = Troubled {
        sim: sim.clone(),
        nth: 4,
        pf: bdf("0000:70:00.0"),
        unlistable: false,
    }
    .env();
    let report = apply(&host, &planned, false);
    assert!(!report.ok);
    // Every undo ran cleanly, but the host is not as it was: the report must not say it is.
    assert!(report.rollback_failures.is_empty(), "{report:#?}");
    assert!(!report.restored());
    assert!(
        report
            .still_changed
            .contains(&"0000:70:00.0 is gone".to_owned()),
        "{report:#?}"
    );
}

#[test]
fn a_host_that_cannot_be_read_first_is_not_changed_and_not_claimed_restored() {
    let sim = preset("4xxx", 1);
    let planned = plan(&sim, &desired(Some("sym"), "vfio-pci")).unwrap();
    let host = Troubled {
        sim: sim.clone(),
        nth: 0,
        pf: bdf("0000:6b:00.0"),
        unlistable: true,
    }
    .env();
    let report = apply(&host, &planned, false);
    assert!(
        !report.ok && !report.started && !report.restored(),
        "{report:#?}"
    );
    assert!(
        report
            .error
            .unwrap()
            .message
            .contains("could not be read first")
    );
    assert!(sim.writes().is_empty());
}

#[test]
fn a_vfio_group_id_chown_would_ignore_is_refused() {
    let sim = preset("4xxx", 1);
    // Refused when built, and when it arrives deserialized, by the plan.
    assert!(VfioAccess::new(u32::MAX, 0o660).is_err());
    let access: VfioAccess = serde_json::from_str(r#"{"gid": 4294967295, "mode": 432}"#).unwrap();
    let want = desired(None, "vfio-pci").with_vfio_access(access);
    let err = plan(&sim, &want).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Provision(ProvisionError::InvalidVfioAccess {
                what: "group id",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(VfioAccess::new(u32::MAX, 0o660).is_err());
    assert!(VfioAccess::new(u32::MAX - 1, 0o660).is_ok());
    assert!(VfioAccess::new(0, 0o1777).is_err());
    for (text, mode) in [
        ("0660", Some(0o660)),
        ("660", Some(0o660)),
        ("0o600", Some(0o600)),
    ] {
        assert_eq!(VfioAccess::parse_mode(text).ok(), mode, "{text}");
    }
    for text in ["", "0o", "+660", "999", "4777", "0x1ff", "66 0", "0o0o660"] {
        assert!(VfioAccess::parse_mode(text).is_err(), "{text:?} parsed");
    }
}

#[test]
fn vfs_in_a_group_their_pf_keeps_unusable_fail_the_bind_and_roll_back() {
    let sim = preset("nvme", 1);
    let pf = bdf("0000:20:00.0");
    let before = sim.kernel();
    let report = apply(
        &sim,
        &plan(&sim, &desired(None, "vfio-pci").with_pfs(vec![pf])).unwrap(),
        false,
    );
    let error = report.error.expect("the bind must fail");
    assert!(
        error
            .message
            .contains("is not viable: 0000:20:00.0 is bound to nvme"),
        "{}",
        error.message
    );
    assert!(report.rollback_failures.is_empty());
    assert_eq!(sim.kernel(), before);
}

#[test]
fn switching_vfio_drivers_reapplies_dev_vfio_ownership() {
    // Rebinding recreates /dev/vfio/N with the default owner: the plan sets it again.
    let sim = preset("4xxx", 1);
    let access = VfioAccess::new(990, 0o666).unwrap();
    converge(&sim, &desired(None, "vfio-pci").with_vfio_access(access));
    let to_variant = desired(None, "qat_vfio_pci").with_vfio_access(access);
    converge(&sim, &to_variant);
    assert!(plan(&sim, &to_variant).unwrap().is_converged());
    assert!(
        sim.kernel()
            .vfio_nodes
            .values()
            .all(|a| (a.gid, a.mode) == (990, 0o666))
    );
}

#[test]
fn a_rollback_writes_back_a_driver_override_exactly_spaces_and_all() {
    // Found by fuzzing: the override was read trimmed, so "c7xxvf " came back as "c7xxvf".
    let sim = preset("c62x", 1);
    converge(&sim, &desired(None, "kernel"));
    let (padded, other) = (bdf("0000:6b:01.0"), bdf("0000:6b:01.1"));
    sim.with_kernel(|k| {
        k.devices.get_mut(&padded).unwrap().driver_override = Some("c7xxvf ".into());
        k.devices.get_mut(&other).unwrap().driver_override = Some("other".into());
    });
    let before = sim.kernel();
    let planned = plan(&sim, &desired(None, "kernel")).unwrap();
    let targets: Vec<Bdf> = planned.steps.iter().map(Step::target).collect();
    assert_eq!(targets, [padded, other], "{planned}");
    // The first step sets its override; the second's write fails; the first is undone.
    sim.inject(FaultTrigger::NthWrite(2), libc::EIO);
    let report = apply(&sim, &planned, false);
    assert!(report.restored(), "{report:#?}");
    assert_eq!(sim.kernel(), before);
}
