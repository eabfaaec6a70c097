//! The scenario list that runs against the real kernel (inside QEMU, tests/vm/run) and against
//! the simulated host (`tests/sim.rs`), through the same qat-vf code that qatctl uses, with the
//! PFs named explicitly (generic SR-IOV mode).
//!
//! Each check records an observation (an errno name, a count, "ok"); `expected.tsv` states,
//! check by check, what the real kernel answers. The VM run and the simulated run are both held
//! to that one table, so the model and the kernel agree on everything both cover.

use std::path::Path;
use std::sync::Arc;

use qat_vf::device::{list_vfs, read_driver};
use qat_vf::provision::{self, Desired, VfDriver};
use qat_vf::sysfs::{Sysfs, paths};
use qat_vf::vfio::{Container, DmaBuffer, Group, OpenedDevice, VfioOps, index};
use qat_vf::{Bdf, Error, Host};

mod observe;

use observe::{errno, observe, observe_check};
pub use observe::{fingerprint, observe_error};

/// What each check is expected to observe on the real kernel: `name<TAB>observation<TAB>why`.
pub const EXPECTED: &str = include_str!("../expected.tsv");

/// The igb PF of the test machine (7 VFs, each in its own IOMMU group).
pub const IGB: &str = "0000:01:00.0";
/// The NVMe PF of the test machine (4 VFs, one IOMMU group with the PF and its root port).
pub const NVME: &str = "0000:02:00.0";

/// Where the checks run.
pub struct Env<'a, S: Sysfs> {
    /// The host's files.
    pub sysfs: &'a S,
    /// The host's VFIO.
    pub ops: Arc<dyn VfioOps>,
    /// `/dev/vfio`.
    pub vfio_dir: &'a Path,
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
pub struct Check {
    /// Check name (first column of expected.tsv).
    pub name: &'static str,
    /// What was observed.
    pub observed: String,
}

fn bdf(text: &str) -> Bdf {
    text.parse().expect("a valid address")
}

fn want(pf: Bdf, driver: VfDriver, force: bool) -> Desired {
    Desired {
        pfs: vec![pf],
        services: None,
        driver,
        vfio_access: None,
        force,
    }
}

/// Runs every check in order (they build on each other) and returns the observations.
pub fn run<S: Sysfs>(env: &Env<'_, S>) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut record = |name: &'static str, observed: String| checks.push(Check { name, observed });
    let sysfs = env.sysfs;
    let (igb, nvme) = (bdf(IGB), bdf(NVME));
    let numvfs = |pf| paths::device_attr(pf, "sriov_numvfs");
    let original = (fingerprint(sysfs, igb), fingerprint(sysfs, nvme));

    record(
        "discover_named_pfs",
        observe(Host::discover(sysfs, &[igb, nvme]), |host| {
            host.pfs
                .iter()
                .filter(|pf| [igb, nvme].contains(&pf.pci.bdf))
                .map(|pf| {
                    format!(
                        "{}:total={},qat={}",
                        pf.pci.bdf,
                        pf.sriov_totalvfs,
                        pf.family().is_some()
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        }),
    );
    record("numvfs_above_total", errno(write(sysfs, &numvfs(igb), "8")));
    record(
        "numvfs_not_a_number",
        errno(write(sysfs, &numvfs(igb), "seven")),
    );
    record("numvfs_same_value", errno(write(sysfs, &numvfs(igb), "0")));

    let converge = |desired: &Desired| provision::converge(sysfs, desired, env.lock);
    record(
        "provision_igb_vfio",
        observe(
            converge(&want(igb, VfDriver::VfioPci, false)),
            |(plan, report)| {
                let vfs = list_vfs(sysfs, igb).unwrap_or_default();
                let on_vfio = vfs
                    .iter()
                    .filter(|vf| {
                        read_driver(sysfs, **vf).ok().flatten().as_deref() == Some("vfio-pci")
                    })
                    .count();
                format!(
                    "ok={} steps={} vfs={} on_vfio={on_vfio}",
                    report.ok,
                    plan.steps.len(),
                    vfs.len()
                )
            },
        ),
    );
    record(
        "numvfs_nonzero_to_nonzero",
        errno(write(sysfs, &numvfs(igb), "3")),
    );
    record(
        "replan_igb_converged",
        observe(
            Host::discover(sysfs, &[igb])
                .and_then(|h| provision::plan(&h, &want(igb, VfDriver::VfioPci, false))),
            |plan| format!("steps={}", plan.steps.len()),
        ),
    );

    // VFIO, container and group first, as a VM manager does.
    let raw_container = env.ops.open(&env.vfio_dir.join("vfio"));
    record(
        "set_iommu_before_any_group",
        match &raw_container {
            Ok(fd) => errno(env.ops.set_iommu(std::os::fd::AsFd::as_fd(fd), 3)),
            Err(e) => format!("open failed: {e}"),
        },
    );
    drop(raw_container);
    record(
        "container_extensions",
        observe(
            Container::open(Arc::clone(&env.ops), env.vfio_dir).and_then(|c| c.extensions()),
            |e| {
                format!(
                    "type1v2={} type1={} noiommu={}",
                    e.type1v2, e.type1, e.noiommu
                )
            },
        ),
    );
    let vf0 = list_vfs(sysfs, igb)
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(igb);
    // A plan made while the VF is free, applied after a VFIO user opened it.
    let early_reset =
        Host::discover(sysfs, &[igb]).and_then(|h| provision::plan_reset(&h, &[igb], true));
    let opened = OpenedDevice::open(sysfs, Arc::clone(&env.ops), env.vfio_dir, vf0);
    record(
        "open_vf",
        match &opened {
            Ok(vf) => {
                let info = vf.device.info();
                format!(
                    "regions={} irqs={} reset={}",
                    info.num_regions,
                    info.num_irqs,
                    vf.device.resettable()
                )
            }
            Err(e) => observe_error(e),
        },
    );
    if let Ok(vf) = &opened {
        record(
            "group_status",
            observe(vf.group.status(), |s| {
                format!("viable={} container_set={}", s.viable, s.container_set)
            }),
        );
        record(
            "second_group_open",
            observe(Group::open(&vf.container, vf.group.number()), |_| {
                "ok".into()
            }),
        );
        record(
            "unknown_device_name",
            observe(vf.group.device(bdf("0000:01:10.2")), |_| "ok".into()),
        );
        record(
            "bar0",
            observe(vf.device.region(index::BAR0), |r| {
                format!("size={} mmap={}", r.size, r.mappable())
            }),
        );
        record(
            "bar0_mmio_read",
            observe(vf.device.map_region(index::BAR0), |(mmio, _)| {
                observe(mmio.read::<u32>(0), |_| format!("len={}", mmio.len()))
            }),
        );
        record(
            "config_ids",
            observe(
                {
                    let mut id = [0u8; 4];
                    vf.device.read_config(0, &mut id).map(|()| id)
                },
                |id| {
                    format!(
                        "{:04x}:{:04x}",
                        u16::from_le_bytes([id[0], id[1]]),
                        u16::from_le_bytes([id[2], id[3]])
                    )
                },
            ),
        );
        record(
            "iommu_info",
            observe(vf.container.iommu_info(), |i| {
                let first = i
                    .iova_ranges
                    .first()
                    .map(|r| format!("{:#x}-{:#x}", r.start(), r.end()));
                format!(
                    "pgsizes={:#x} first_range={}",
                    i.iova_pgsizes,
                    first.unwrap_or_default()
                )
            }),
        );
        let mut buffer = DmaBuffer::new(64 << 10).expect("anonymous memory");
        record(
            "dma_map_unmap",
            observe(
                vf.container
                    .map_dma(buffer.as_mut_slice(), 0x10_0000)
                    .and_then(|m| m.unmap()),
                |n| format!("unmapped={n}"),
            ),
        );
        let mut other = DmaBuffer::new(4096).expect("anonymous memory");
        record("dma_same_iova_twice", {
            let first = vf.container.map_dma(buffer.as_mut_slice(), 0x20_0000);
            let second = vf
                .container
                .map_dma(other.as_mut_slice(), 0x20_0000)
                .map(drop);
            let observed = observe(second, |()| "ok".into());
            drop(first);
            observed
        });
        record("dma_checks_before_the_kernel", {
            let msi = observe(
                vf.container
                    .map_dma(other.as_mut_slice(), 0xfee0_0000)
                    .map(drop),
                |()| "ok".into(),
            );
            let odd = observe(
                vf.container
                    .map_dma(&mut buffer.as_mut_slice()[..2048], 0x30_0000)
                    .map(drop),
                |()| "ok".into(),
            );
            format!("msi_window={msi} unaligned={odd}")
        });
        // The same mistakes sent to the kernel as they are.
        let mut raw = |iova, len: usize| {
            let vaddr = other.as_mut_slice().as_mut_ptr() as u64;
            errno(env.ops.map_dma(
                std::os::fd::AsFd::as_fd(&vf.container),
                vaddr,
                iova,
                len as u64,
            ))
        };
        record("kernel_dma_msi_window", raw(0xfee0_0000, 4096));
        record("kernel_dma_unaligned_iova", raw(0x40_0800, 4096));
        record("kernel_dma_same_iova_twice", {
            let first = raw(0x50_0000, 4096);
            format!("first={first} second={}", raw(0x50_0000, 4096))
        });
        let _ = env
            .ops
            .unmap_dma(std::os::fd::AsFd::as_fd(&vf.container), 0x50_0000, 4096);
        record(
            "kernel_set_iommu_twice",
            errno(
                env.ops
                    .set_iommu(std::os::fd::AsFd::as_fd(&vf.container), 3),
            ),
        );
        record(
            "kernel_unset_container_with_device_open",
            errno(
                env.ops
                    .group_unset_container(std::os::fd::AsFd::as_fd(&vf.group)),
            ),
        );
        record("device_reset", observe(vf.device.reset(), |()| "ok".into()));
        record(
            "req_irq_eventfd",
            observe(vf.device.request_notifier(), |n| {
                format!("requested={}", n.requested())
            }),
        );
        // A held device: qatkit refuses before writing anything.
        let refused =
            Host::discover(sysfs, &[igb]).and_then(|h| provision::plan_reset(&h, &[igb], false));
        record(
            "refuse_disable_while_device_open",
            format!(
                "{} numvfs={}",
                observe(refused, |_| "planned".into()),
                sysfs.read_trimmed(&numvfs(igb)).unwrap_or_default()
            ),
        );
        let applied = early_reset.and_then(|plan| {
            let lock = provision::ProvisionLock::acquire(env.lock)?;
            Ok(provision::apply(sysfs, &plan, true, &lock))
        });
        let outcome = observe(applied, |report| match report.error {
            Some(e) if e.message.contains("is open by a VFIO user") => "refused".into(),
            Some(e) => e.message,
            None => "applied".into(),
        });
        record(
            "refuse_at_run_time_while_device_open",
            format!(
                "{outcome} numvfs={}",
                sysfs.read_trimmed(&numvfs(igb)).unwrap_or_default()
            ),
        );
    }
    // Only container and group left open: disabling VFs completes and the group fd goes stale.
    if let Ok(OpenedDevice {
        device,
        group,
        container,
    }) = opened
    {
        drop(device);
        let forced = Host::discover(sysfs, &[igb])
            .and_then(|h| provision::plan_reset(&h, &[igb], true))
            .and_then(|plan| {
                let lock = provision::ProvisionLock::acquire(env.lock)?;
                Ok(provision::apply(sysfs, &plan, true, &lock))
            });
        record(
            "disable_with_group_open",
            observe(forced, |r| {
                format!(
                    "ok={} node_exists={}",
                    r.ok,
                    sysfs.exists(&paths::vfio_group_node(group.number()))
                )
            }),
        );
        record("stale_group_fd", observe(group.status(), |_| "ok".into()));
        drop(group);
        drop(container);
    }

    // Provisioned again, a VF passes qatctl vfio-check.
    let reprovisioned = converge(&want(igb, VfDriver::VfioPci, false)).map(|(_, r)| r.ok);
    let first_igb_vf = list_vfs(sysfs, igb).ok().and_then(|v| v.first().copied());
    record(
        "qatctl_vfio_check_usable",
        match (reprovisioned, first_igb_vf) {
            (Ok(true), Some(vf)) => observe_check((env.vfio_check)(vf)),
            (result, _) => format!("not provisioned: {}", observe(result, |ok| ok.to_string())),
        },
    );

    // NVMe: the PF keeps its driver, so its VFs' shared group is not viable.
    let before = fingerprint(sysfs, nvme);
    record(
        "provision_nvme_rolls_back",
        observe(converge(&want(nvme, VfDriver::VfioPci, false)), |(_, r)| {
            let error = r
                .error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            let cause = if error.contains("is not viable") {
                "not viable"
            } else {
                error.as_str()
            };
            format!(
                "ok={} cause={cause} rollback_clean={} verified_restored={} identical={}",
                r.ok,
                r.rollback_failures.is_empty(),
                r.restored(),
                fingerprint(sysfs, nvme) == before
            )
        }),
    );
    let _ = write(
        sysfs,
        &paths::device_attr(nvme, "sriov_drivers_autoprobe"),
        "0",
    );
    let _ = write(sysfs, &numvfs(nvme), "4");
    let nvme_vfs = list_vfs(sysfs, nvme).unwrap_or_default();
    if nvme_vfs.len() == 4 {
        let (a, b, c) = (nvme_vfs[0], nvme_vfs[1], nvme_vfs[2]);
        record(
            "vfio_bind_without_override",
            errno(write(
                sysfs,
                &paths::driver_attr("vfio-pci", "bind"),
                &b.to_string(),
            )),
        );
        let _ = write(
            sysfs,
            &paths::device_attr(c, "driver_override"),
            "no_such_driver",
        );
        record(
            "drivers_probe_binds_nothing",
            format!(
                "{} driver={:?}",
                errno(write(
                    sysfs,
                    Path::new(paths::DRIVERS_PROBE),
                    &c.to_string()
                )),
                read_driver(sysfs, c).ok().flatten()
            ),
        );
        let _ = write(sysfs, &paths::device_attr(c, "driver_override"), "\n");
        let _ = write(sysfs, &paths::device_attr(a, "driver_override"), "vfio-pci");
        let _ = write(sysfs, Path::new(paths::DRIVERS_PROBE), &a.to_string());
        record(
            "open_vf_in_non_viable_group",
            observe(
                OpenedDevice::open(sysfs, Arc::clone(&env.ops), env.vfio_dir, a),
                |_| "opened".into(),
            ),
        );
        // The kernel's own answers for a non-viable group, below qat-vf's checks.
        record("kernel_non_viable_group", {
            let group = qat_vf::device::read_iommu_group(sysfs, a)
                .ok()
                .flatten()
                .unwrap_or(0);
            let container = env.ops.open(&env.vfio_dir.join("vfio"));
            let group_fd = env.ops.open(&env.vfio_dir.join(group.to_string()));
            match (&container, &group_fd) {
                (Ok(c), Ok(g)) => {
                    use std::os::fd::AsFd;
                    let flags = env
                        .ops
                        .group_status(g.as_fd())
                        .map_or_else(|e| e.to_string(), |f| f.to_string());
                    format!(
                        "status_flags={flags} set_container={}",
                        errno(env.ops.group_set_container(g.as_fd(), c.as_fd()))
                    )
                }
                _ => format!(
                    "open failed: {:?} {:?}",
                    container.as_ref().err(),
                    group_fd.as_ref().err()
                ),
            }
        });
        record(
            "qatctl_vfio_check_non_viable",
            observe_check((env.vfio_check)(a)),
        );
        record("override_on_a_bound_device", {
            let o = paths::device_attr(nvme, "driver_override");
            let set = errno(write(sysfs, &o, "vfio-pci"));
            let probe = errno(write(
                sysfs,
                Path::new(paths::DRIVERS_PROBE),
                &nvme.to_string(),
            ));
            let driver = read_driver(sysfs, nvme).ok().flatten();
            let cleared = errno(write(sysfs, &o, "\n"));
            let now = sysfs.read_trimmed(&o).unwrap_or_default();
            format!("set={set} probe={probe} driver={driver:?} clear={cleared} reads={now}")
        });
        let _ = write(
            sysfs,
            &paths::driver_attr("vfio-pci", "unbind"),
            &a.to_string(),
        );
        let _ = write(sysfs, &paths::device_attr(a, "driver_override"), "\n");
        // nvme keeps its VFs when unbound; without a driver, numvfs answers ENOENT; vfio-pci
        // refuses a PF with VFs.
        let _ = write(
            sysfs,
            &paths::driver_attr("nvme", "unbind"),
            &nvme.to_string(),
        );
        record(
            "unbound_nvme_keeps_vfs",
            format!(
                "numvfs={}",
                sysfs.read_trimmed(&numvfs(nvme)).unwrap_or_default()
            ),
        );
        record(
            "numvfs_without_pf_driver",
            errno(write(sysfs, &numvfs(nvme), "0")),
        );
        let _ = write(
            sysfs,
            &paths::device_attr(nvme, "driver_override"),
            "vfio-pci",
        );
        let _ = write(sysfs, Path::new(paths::DRIVERS_PROBE), &nvme.to_string());
        record(
            "vfio_pci_refuses_pf_with_vfs",
            format!("driver={:?}", read_driver(sysfs, nvme).ok().flatten()),
        );
        let _ = write(sysfs, &paths::device_attr(nvme, "driver_override"), "\n");
        let _ = write(sysfs, Path::new(paths::DRIVERS_PROBE), &nvme.to_string());
        let _ = write(sysfs, &numvfs(nvme), "0");
        let _ = write(
            sysfs,
            &paths::device_attr(nvme, "sriov_drivers_autoprobe"),
            "1",
        );
    }

    if env.real_kernel {
        record(
            "req_irq_fires_when_vfs_are_disabled",
            req_irq_check(sysfs, env, igb),
        );
    }

    // Bad input changes nothing.
    let now = (fingerprint(sysfs, igb), fingerprint(sysfs, nvme));
    record(
        "bad_input_missing_device",
        format!(
            "open={} provision={} unchanged={}",
            observe(
                OpenedDevice::open(
                    sysfs,
                    Arc::clone(&env.ops),
                    env.vfio_dir,
                    bdf("0000:09:00.0")
                ),
                |_| "ok".into()
            ),
            observe(
                converge(&want(bdf("0000:09:00.0"), VfDriver::VfioPci, false)),
                |_| "ok".into()
            ),
            (fingerprint(sysfs, igb), fingerprint(sysfs, nvme)) == now
        ),
    );
    record(
        "bad_input_not_on_vfio",
        format!(
            "{} unchanged={}",
            observe(
                OpenedDevice::open(sysfs, Arc::clone(&env.ops), env.vfio_dir, igb),
                |_| "ok".into()
            ),
            (fingerprint(sysfs, igb), fingerprint(sysfs, nvme)) == now
        ),
    );

    // qatctl reset after provisioning again: the original state, exactly.
    let again = converge(&want(igb, VfDriver::VfioPci, false)).map(|(_, r)| r.ok);
    let reset = (env.reset)(&[igb, nvme]);
    record(
        "qatctl_reset_restores",
        format!(
            "provisioned={} reset={} identical={}",
            observe(again, |ok| ok.to_string()),
            reset.err().unwrap_or_else(|| "ok".into()),
            (fingerprint(sysfs, igb), fingerprint(sysfs, nvme)) == original
        ),
    );
    checks
}

/// With a device open and its REQ irq on an eventfd, a raw `sriov_numvfs=0` (what qatkit
/// refuses to do) blocks; the kernel signals the eventfd; closing the device lets the write end.
fn req_irq_check<S: Sysfs>(sysfs: &S, env: &Env<'_, S>, pf: Bdf) -> String {
    let provisioned = provision::converge(sysfs, &want(pf, VfDriver::VfioPci, false), env.lock);
    let Some(vf) = list_vfs(sysfs, pf).ok().and_then(|v| v.first().copied()) else {
        return format!(
            "not provisioned: {}",
            observe(provisioned.map(|_| ()), |()| "no VFs".into())
        );
    };
    let opened = match OpenedDevice::open(sysfs, Arc::clone(&env.ops), env.vfio_dir, vf) {
        Ok(opened) => opened,
        Err(e) => return observe_error(&e),
    };
    let notifier = match opened.device.request_notifier() {
        Ok(n) => n,
        Err(e) => return observe_error(&e),
    };
    let (done, finished) = std::sync::mpsc::channel();
    let path = paths::device_attr(pf, "sriov_numvfs");
    // The raw write, as another tool would do it; it runs in the real kernel only.
    std::thread::spawn(move || {
        let result = qat_vf::HostSysfs::new().write(&path, "0");
        let _ = done.send(result.is_ok());
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut requested = false;
    while !requested && std::time::Instant::now() < deadline {
        requested = notifier.requested();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let blocked = finished.try_recv().is_err();
    drop(notifier);
    drop(opened);
    let completed = finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap_or(false);
    format!("requested={requested} blocked_until_closed={blocked} completed={completed}")
}

fn write(sysfs: &impl Sysfs, path: &Path, value: &str) -> std::io::Result<()> {
    sysfs.write(path, value).map_err(|e| match e {
        Error::Write { source, .. } => source,
        other => std::io::Error::other(other.to_string()),
    })
}

/// Compares observations with the expected table: (name, observed, expected) of each mismatch,
/// and names in the table that did not run.
pub fn mismatches(
    checks: &[Check],
    expected: &str,
    real_kernel: bool,
) -> Vec<(String, String, String)> {
    let table: Vec<(&str, &str)> = expected
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let (name, observation) = (cols.next()?, cols.next()?);
            let kernel_only = cols.next().is_some_and(|why| why.starts_with(KERNEL_ONLY));
            (real_kernel || !kernel_only).then_some((name, observation))
        })
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
