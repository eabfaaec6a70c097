//! The scenario list: every check a named function, in the order they run.
//!
//! The checks build on the host state the ones before them leave (igb provisioned, its first VF
//! open, the NVMe VFs enabled by hand), so the order matters. A state that several checks share
//! is made and undone by [`Step::Host`] entries between them; a check that needs a state which
//! could not be made is skipped, and `mismatches` reports it as not run.

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qat_vf::error::SysfsError;
use qat_vf::host::{HostEnv, VfioOps, paths};
use qat_vf::provision::{self, Desired, Plan, ProvisionLock, Report, VfDriver};
use qat_vf::vfio::{Container, DmaBuffer, Group, OpenedDevice, index};
use qat_vf::{Bdf, Error, Host, PciInfo};

use crate::observe::{driver_of, vfs_of};

use crate::observe::{errno, fingerprint, observe, observe_check, observe_error};
use crate::{Env, IGB, NVME};

/// `VFIO_TYPE1v2_IOMMU`, the IOMMU type the raw `VFIO_SET_IOMMU` calls ask for.
const TYPE1V2_IOMMU: u32 = 3;

/// One entry of the scenario list.
pub(crate) enum Step {
    /// A check: it runs, and its observation is recorded under its name.
    Check(Check),
    /// A change to the host that the checks after it build on, or the undoing of one; it
    /// records nothing.
    Host(fn(&mut Ctx<'_>)),
}

/// A named scenario and the observation it makes.
pub(crate) struct Check {
    /// Its name in expected.tsv (and the name of its function).
    pub(crate) name: &'static str,
    /// Only a real kernel can answer it (`[kernel only]` in expected.tsv).
    pub(crate) kernel_only: bool,
    /// Runs it: the observation, or `None` when a state it builds on could not be made.
    pub(crate) run: fn(&mut Ctx<'_>) -> Option<String>,
}

/// A check whose name is its function's.
macro_rules! check {
    ($run:ident) => {
        Step::Check(Check {
            name: stringify!($run),
            kernel_only: false,
            run: $run,
        })
    };
    (kernel only: $run:ident) => {
        Step::Check(Check {
            name: stringify!($run),
            kernel_only: true,
            run: $run,
        })
    };
}

/// Every step, in the order it runs.
pub(crate) fn steps() -> Vec<Step> {
    vec![
        check!(discover_named_pfs),
        check!(numvfs_above_total),
        check!(numvfs_not_a_number),
        check!(numvfs_same_value),
        check!(provision_igb_vfio),
        check!(numvfs_nonzero_to_nonzero),
        check!(replan_igb_converged),
        check!(device_plugin_serves_igb),
        // VFIO as a VM manager uses it: container and group first, then igb's first VF, open
        // from open_vf until disable_with_group_open.
        check!(set_iommu_before_any_group),
        check!(container_extensions),
        Step::Host(plan_igb_reset_while_vf_is_free),
        check!(open_vf),
        check!(group_status),
        check!(second_group_open),
        check!(unknown_device_name),
        check!(bar0),
        check!(bar0_mmio_read),
        check!(config_ids),
        check!(iommu_info),
        check!(dma_map_unmap),
        check!(dma_same_iova_twice),
        check!(dma_checks_before_the_kernel),
        check!(kernel_dma_msi_window),
        check!(kernel_dma_unaligned_iova),
        check!(kernel_dma_same_iova_twice),
        check!(kernel_set_iommu_twice),
        check!(kernel_unset_container_with_device_open),
        check!(device_reset),
        check!(req_irq_eventfd),
        check!(refuse_disable_while_device_open),
        check!(refuse_at_run_time_while_device_open),
        check!(disable_with_group_open),
        check!(stale_group_fd),
        check!(qatctl_vfio_check_usable),
        check!(provision_nvme_rolls_back),
        // The driver-binding facts, on NVMe VFs enabled by hand; the PF keeps nvme until
        // unbind_nvme_pf.
        Step::Host(enable_nvme_vfs),
        check!(vfio_bind_without_override),
        check!(drivers_probe_binds_nothing),
        Step::Host(bind_nvme_vf_to_vfio),
        check!(open_vf_in_non_viable_group),
        check!(kernel_non_viable_group),
        check!(qatctl_vfio_check_non_viable),
        check!(override_on_a_bound_device),
        Step::Host(release_nvme_vf),
        Step::Host(unbind_nvme_pf),
        check!(unbound_nvme_keeps_vfs),
        check!(numvfs_without_pf_driver),
        check!(vfio_pci_refuses_pf_with_vfs),
        Step::Host(restore_nvme),
        check!(kernel only: req_irq_fires_when_vfs_are_disabled),
        check!(bad_input_missing_device),
        check!(bad_input_pf_not_vf),
        check!(qatctl_reset_restores),
    ]
}

/// What the checks share: where they run, and the host state one step leaves for later ones.
pub(crate) struct Ctx<'e> {
    env: &'e Env<'e>,
    igb: Bdf,
    nvme: Bdf,
    /// Both PFs' state before the first check, which `qatctl reset` must bring back.
    original: (String, String),
    /// A reset of igb planned while its first VF was free, applied once the VF is open.
    early_reset: Option<qat_vf::Result<Plan>>,
    /// igb's first VF, from open_vf until disable_with_group_open closes the device.
    vf: Option<OpenedDevice>,
    /// The group and container disable_with_group_open leaves open, for stale_group_fd.
    group_left_open: Option<(Group, Container)>,
    /// The NVMe VFs, from enable_nvme_vfs to restore_nvme; `None` when they did not appear.
    nvme_vfs: Option<NvmeVfs>,
}

/// Three of the NVMe PF's VFs (which share one non-viable group with it), one per use.
#[derive(Clone, Copy)]
struct NvmeVfs {
    /// Bound to vfio-pci through driver_override, for the non-viable group checks.
    on_vfio: Bdf,
    /// Handed to vfio-pci's bind file without an override.
    bind_without_override: Bdf,
    /// Probed with an override that names no driver.
    probe_unknown_driver: Bdf,
}

impl<'e> Ctx<'e> {
    /// Before the first check: the host as the checks find it.
    pub(crate) fn new(env: &'e Env<'e>) -> Self {
        let (igb, nvme) = (bdf(IGB), bdf(NVME));
        let mut ctx = Ctx {
            env,
            igb,
            nvme,
            original: (String::new(), String::new()),
            early_reset: None,
            vf: None,
            group_left_open: None,
            nvme_vfs: None,
        };
        ctx.original = ctx.fingerprints();
        ctx
    }

    fn sysfs(&self) -> &'e HostEnv {
        self.env.host
    }

    /// Both PFs' state, to tell whether a step changed anything.
    fn fingerprints(&self) -> (String, String) {
        (
            fingerprint(self.sysfs(), self.igb),
            fingerprint(self.sysfs(), self.nvme),
        )
    }

    /// One write to an attribute; the OS error, if any, is what the checks observe.
    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        self.sysfs().write(path, value).map_err(|e| match e {
            Error::Sysfs(SysfsError::Write { source, .. }) => source,
            other => io::Error::other(other.to_string()),
        })
    }

    /// `sriov_numvfs` as it reads now (empty when it cannot be read).
    fn read_numvfs(&self, pf: Bdf) -> String {
        self.sysfs().read_trimmed(&numvfs(pf)).unwrap_or_default()
    }

    fn set_autoprobe(&self, pf: Bdf, on: bool) -> io::Result<()> {
        let value = if on { "1" } else { "0" };
        self.write(&paths::device_attr(pf, "sriov_drivers_autoprobe"), value)
    }

    fn set_override(&self, device: Bdf, driver: &str) -> io::Result<()> {
        self.write(&paths::device_attr(device, "driver_override"), driver)
    }

    /// A lone newline is how the kernel is told to forget an override.
    fn clear_override(&self, device: Bdf) -> io::Result<()> {
        self.set_override(device, "\n")
    }

    /// `drivers_probe`: binds the device to a driver that takes it, if any.
    fn probe(&self, device: Bdf) -> io::Result<()> {
        self.write(Path::new(paths::DRIVERS_PROBE), &device.to_string())
    }

    fn unbind(&self, driver: &str, device: Bdf) -> io::Result<()> {
        self.write(&paths::driver_attr(driver, "unbind"), &device.to_string())
    }

    fn driver(&self, device: Bdf) -> Option<String> {
        driver_of(self.sysfs(), device)
    }

    fn first_vf(&self, pf: Bdf) -> Option<Bdf> {
        vfs_of(self.sysfs(), pf).first().copied()
    }

    /// Provisions all of a PF's VFs on vfio-pci, as `qatctl provision` does.
    fn provision(&self, pf: Bdf) -> qat_vf::Result<(Plan, Report)> {
        provision::converge(self.sysfs(), &want_vfio(pf), self.env.lock)
    }

    /// Plans to disable a PF's VFs, as `qatctl reset` does; `force` passes VFIO users that
    /// hold only the group.
    fn plan_reset(&self, pf: Bdf, force: bool) -> qat_vf::Result<Plan> {
        Host::discover(self.sysfs(), &[pf]).and_then(|h| provision::plan_reset(&h, &[pf], force))
    }

    /// Applies a plan forced, under the provisioning lock.
    fn apply_forced(&self, plan: Plan) -> qat_vf::Result<Report> {
        let lock = ProvisionLock::acquire(self.env.lock)?;
        Ok(provision::apply(self.sysfs(), &plan, true, &lock))
    }

    /// Opens a device as a VM manager does: container, group, attach, IOMMU, device fd.
    fn open(&self, device: Bdf) -> qat_vf::Result<OpenedDevice> {
        OpenedDevice::open(self.sysfs(), device)
    }

    fn ops(&self) -> &dyn VfioOps {
        &**self.sysfs().vfio()
    }
}

fn numvfs(pf: Bdf) -> PathBuf {
    paths::device_attr(pf, "sriov_numvfs")
}

fn bdf(text: &str) -> Bdf {
    text.parse().expect("a valid address")
}

/// All of a PF's VFs on vfio-pci, nothing forced.
fn want_vfio(pf: Bdf) -> Desired {
    Desired::new(VfDriver::VfioPci).with_pfs([pf])
}

// ---- SR-IOV and provisioning ------------------------------------------------------------------

/// Named explicitly, both PFs are found (generic SR-IOV mode) with their VF totals, and neither
/// is taken for QAT.
fn discover_named_pfs(ctx: &mut Ctx<'_>) -> Option<String> {
    let named = [ctx.igb, ctx.nvme];
    Some(observe(Host::discover(ctx.sysfs(), &named), |host| {
        host.pfs
            .iter()
            .filter(|pf| named.contains(&pf.pci.bdf))
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
    }))
}

/// `sriov_numvfs` above `sriov_totalvfs` is refused (ERANGE).
fn numvfs_above_total(ctx: &mut Ctx<'_>) -> Option<String> {
    Some(errno(ctx.write(&numvfs(ctx.igb), "8")))
}

/// `sriov_numvfs` that is not a number is refused (EINVAL).
fn numvfs_not_a_number(ctx: &mut Ctx<'_>) -> Option<String> {
    Some(errno(ctx.write(&numvfs(ctx.igb), "seven")))
}

/// Writing `sriov_numvfs`'s current value (0) again is a no-op that succeeds.
fn numvfs_same_value(ctx: &mut Ctx<'_>) -> Option<String> {
    Some(errno(ctx.write(&numvfs(ctx.igb), "0")))
}

/// Provisioning igb for vfio-pci enables all its VFs and binds each to vfio-pci, as re-reading
/// the host confirms. igb stays provisioned for the checks after it.
fn provision_igb_vfio(ctx: &mut Ctx<'_>) -> Option<String> {
    let igb = ctx.igb;
    Some(observe(ctx.provision(igb), |(plan, report)| {
        let vfs = vfs_of(ctx.sysfs(), igb);
        let on_vfio = vfs
            .iter()
            .filter(|vf| ctx.driver(**vf).as_deref() == Some("vfio-pci"))
            .count();
        format!(
            "ok={} steps={} vfs={} on_vfio={on_vfio}",
            report.ok,
            plan.steps.len(),
            vfs.len()
        )
    }))
}

/// With VFs enabled, changing their number without going through 0 is refused (EBUSY).
fn numvfs_nonzero_to_nonzero(ctx: &mut Ctx<'_>) -> Option<String> {
    Some(errno(ctx.write(&numvfs(ctx.igb), "3")))
}

/// A converged host plans nothing.
fn replan_igb_converged(ctx: &mut Ctx<'_>) -> Option<String> {
    let plan = Host::discover(ctx.sysfs(), &[ctx.igb])
        .and_then(|h| provision::plan(&h, &want_vfio(ctx.igb)));
    Some(observe(plan, |plan| format!("steps={}", plan.steps.len())))
}

/// qatkit's device plugin, driven by a played kubelet, serves igb's VFs (generic mode, one
/// resource): all listed and healthy, with their NUMA node, and Allocate gives the VFIO nodes
/// of their real IOMMU groups and KubeVirt's variable.
fn device_plugin_serves_igb(ctx: &mut Ctx<'_>) -> Option<String> {
    Some(
        crate::device_plugin::serve_and_allocate(ctx.sysfs(), ctx.igb)
            .unwrap_or_else(|e| format!("failed: {e}")),
    )
}

// ---- VFIO on igb's first VF -------------------------------------------------------------------

/// `VFIO_SET_IOMMU` on a container with no group attached is refused (EINVAL).
fn set_iommu_before_any_group(ctx: &mut Ctx<'_>) -> Option<String> {
    Some(match ctx.ops().open(Path::new(paths::VFIO_CONTAINER)) {
        Ok(container) => errno(ctx.ops().set_iommu(container.as_fd(), TYPE1V2_IOMMU)),
        Err(e) => format!("open failed: {e}"),
    })
}

/// The container reports the type1 IOMMU extensions, and no no-IOMMU mode.
fn container_extensions(ctx: &mut Ctx<'_>) -> Option<String> {
    let extensions = Container::open(ctx.sysfs()).and_then(|c| c.extensions());
    Some(observe(extensions, |e| {
        format!(
            "type1v2={} type1={} noiommu={}",
            e.type1v2, e.type1, e.noiommu
        )
    }))
}

/// For refuse_at_run_time_while_device_open: a reset planned while igb's first VF is free.
fn plan_igb_reset_while_vf_is_free(ctx: &mut Ctx<'_>) {
    ctx.early_reset = Some(ctx.plan_reset(ctx.igb, true));
}

/// igb's first VF opens as a VM manager opens it; the checks after it use the open device.
fn open_vf(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.first_vf(ctx.igb).unwrap_or(ctx.igb);
    let opened = ctx.open(vf);
    let observed = match &opened {
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
    };
    ctx.vf = opened.ok();
    Some(observed)
}

/// After attach, the group is viable and has its container set.
fn group_status(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    Some(observe(vf.group.status(), |s| {
        format!("viable={} container_set={}", s.viable, s.container_set)
    }))
}

/// A second open of an open group's node is refused (EBUSY).
fn second_group_open(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    let again = Group::open(ctx.sysfs(), vf.group.number());
    Some(observe(again, |_| "ok".into()))
}

/// The group answers ENODEV for a device that is not in it.
fn unknown_device_name(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    Some(observe(vf.group.device(bdf("0000:01:10.2")), |_| {
        "ok".into()
    }))
}

/// The VF's BAR0: its size, and that it can be mmap'ed.
fn bar0(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    Some(observe(vf.device.region(index::BAR0), |r| {
        format!("size={} mmap={}", r.size, r.mappable())
    }))
}

/// BAR0 maps, and reads through the MMIO view.
fn bar0_mmio_read(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    Some(observe(vf.device.map_region(index::BAR0), |(mmio, _)| {
        observe(mmio.read::<u32>(0), |_| format!("len={}", mmio.len()))
    }))
}

/// Config space read through VFIO holds the igb VF's vendor and device id.
fn config_ids(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    let mut id = [0u8; 4];
    let read = vf.device.read_config(0, &mut id);
    Some(observe(read, |()| {
        format!(
            "{:04x}:{:04x}",
            u16::from_le_bytes([id[0], id[1]]),
            u16::from_le_bytes([id[2], id[3]])
        )
    }))
}

/// The container's IOMMU page sizes and first usable IOVA range.
fn iommu_info(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    Some(observe(vf.container.iommu_info(), |i| {
        let first = i
            .iova_ranges
            .first()
            .map(|r| format!("{:#x}-{:#x}", r.start(), r.end()));
        format!(
            "pgsizes={:#x} first_range={}",
            i.iova_pgsizes,
            first.unwrap_or_default()
        )
    }))
}

/// A DMA map then its unmap: the unmap reports the whole size.
fn dma_map_unmap(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    let mut buffer = DmaBuffer::new(64 << 10).expect("anonymous memory");
    let unmapped = vf
        .container
        .map_dma(buffer.as_mut_slice(), 0x10_0000)
        .and_then(|m| m.unmap());
    Some(observe(unmapped, |n| format!("unmapped={n}")))
}

/// A second buffer mapped at an IOVA already mapped: qat-vf names the kernel's EEXIST
/// DmaOverlap.
fn dma_same_iova_twice(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    let mut buffer = DmaBuffer::new(64 << 10).expect("anonymous memory");
    let mut other = DmaBuffer::new(4096).expect("anonymous memory");
    let first = vf.container.map_dma(buffer.as_mut_slice(), 0x20_0000);
    let second = vf
        .container
        .map_dma(other.as_mut_slice(), 0x20_0000)
        .map(drop);
    let observed = observe(second, |()| "ok".into());
    drop(first);
    Some(observed)
}

/// qat-vf refuses, without asking the kernel, a map in the MSI window and one whose length is
/// not whole pages.
fn dma_checks_before_the_kernel(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    let mut page = DmaBuffer::new(4096).expect("anonymous memory");
    let msi = vf
        .container
        .map_dma(page.as_mut_slice(), 0xfee0_0000)
        .map(drop);
    let half_page = vf
        .container
        .map_dma(&mut page.as_mut_slice()[..2048], 0x30_0000)
        .map(drop);
    Some(format!(
        "msi_window={} unaligned={}",
        observe(msi, |()| "ok".into()),
        observe(half_page, |()| "ok".into())
    ))
}

/// The kernel itself refuses a map in the MSI window (EINVAL).
fn kernel_dma_msi_window(ctx: &mut Ctx<'_>) -> Option<String> {
    kernel_map_new_page(ctx, 0xfee0_0000)
}

/// The kernel itself refuses a map at an IOVA that is not page-aligned (EINVAL).
fn kernel_dma_unaligned_iova(ctx: &mut Ctx<'_>) -> Option<String> {
    kernel_map_new_page(ctx, 0x40_0800)
}

/// A fresh page mapped at `iova` by a raw map into the open VF's container: the errno.
fn kernel_map_new_page(ctx: &mut Ctx<'_>, iova: u64) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    let mut page = DmaBuffer::new(4096).expect("anonymous memory");
    Some(kernel_map_page(ctx.ops(), &vf.container, &mut page, iova))
}

/// The kernel maps an IOVA once and refuses it the second time (EEXIST).
fn kernel_dma_same_iova_twice(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    let mut page = DmaBuffer::new(4096).expect("anonymous memory");
    let first = kernel_map_page(ctx.ops(), &vf.container, &mut page, 0x50_0000);
    let second = kernel_map_page(ctx.ops(), &vf.container, &mut page, 0x50_0000);
    // The first map is not a DmaMapping, so nothing else unmaps it.
    let _ = ctx.ops().unmap_dma(vf.container.as_fd(), 0x50_0000, 4096);
    Some(format!("first={first} second={second}"))
}

/// One page mapped by a raw `VFIO_IOMMU_MAP_DMA`, past qat-vf's own checks: the errno.
fn kernel_map_page(
    ops: &dyn VfioOps,
    container: &Container,
    page: &mut DmaBuffer,
    iova: u64,
) -> String {
    let vaddr = page.as_mut_slice().as_mut_ptr() as u64;
    errno(ops.map_dma(container.as_fd(), vaddr, iova, 4096))
}

/// `VFIO_SET_IOMMU` on a container that has its IOMMU is refused (EINVAL).
fn kernel_set_iommu_twice(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    Some(errno(
        ctx.ops().set_iommu(vf.container.as_fd(), TYPE1V2_IOMMU),
    ))
}

/// Detaching the group from its container while a device fd is open is refused (EBUSY).
fn kernel_unset_container_with_device_open(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    Some(errno(ctx.ops().group_unset_container(vf.group.as_fd())))
}

/// `VFIO_DEVICE_RESET` works on the open VF.
fn device_reset(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    Some(observe(vf.device.reset(), |()| "ok".into()))
}

/// The REQ irq can be wired to an eventfd; nothing has asked for the device back yet.
fn req_irq_eventfd(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.vf.as_ref()?;
    Some(observe(vf.device.request_notifier(), |n| {
        format!("requested={}", n.requested())
    }))
}

/// With the VF open, qatkit refuses to plan disabling igb's VFs, and writes nothing.
fn refuse_disable_while_device_open(ctx: &mut Ctx<'_>) -> Option<String> {
    ctx.vf.as_ref()?;
    let refused = ctx.plan_reset(ctx.igb, false);
    Some(format!(
        "{} numvfs={}",
        observe(refused, |_| "planned".into()),
        ctx.read_numvfs(ctx.igb)
    ))
}

/// A reset planned before the VF was opened, applied now even forced, refuses at run time
/// before writing.
fn refuse_at_run_time_while_device_open(ctx: &mut Ctx<'_>) -> Option<String> {
    ctx.vf.as_ref()?;
    let applied = ctx
        .early_reset
        .take()?
        .and_then(|plan| ctx.apply_forced(plan));
    let outcome = observe(applied, |report| match report.error {
        Some(e) if e.message.contains("is open by a VFIO user") => "refused".into(),
        Some(e) => e.message,
        None => "applied".into(),
    });
    Some(format!("{outcome} numvfs={}", ctx.read_numvfs(ctx.igb)))
}

/// With the device closed but its container and group open, a forced disable of igb's VFs
/// completes and the group's node goes away. The group stays open for stale_group_fd.
fn disable_with_group_open(ctx: &mut Ctx<'_>) -> Option<String> {
    let OpenedDevice {
        device,
        group,
        container,
    } = ctx.vf.take()?;
    drop(device);
    let forced = ctx
        .plan_reset(ctx.igb, true)
        .and_then(|plan| ctx.apply_forced(plan));
    let observed = observe(forced, |r| {
        let node = paths::vfio_group_node(group.number());
        format!("ok={} node_exists={}", r.ok, ctx.sysfs().exists(&node))
    });
    ctx.group_left_open = Some((group, container));
    Some(observed)
}

/// The group fd kept across the disable answers ENODEV. Then it and its container close.
fn stale_group_fd(ctx: &mut Ctx<'_>) -> Option<String> {
    let (group, container) = ctx.group_left_open.take()?;
    let observed = observe(group.status(), |_| "ok".into());
    drop(group);
    drop(container);
    Some(observed)
}

/// Provisioned again, a VF passes `qatctl vfio-check`: it opens and DMA works.
fn qatctl_vfio_check_usable(ctx: &mut Ctx<'_>) -> Option<String> {
    let provisioned = ctx.provision(ctx.igb).map(|(_, r)| r.ok);
    Some(match (provisioned, ctx.first_vf(ctx.igb)) {
        (Ok(true), Some(vf)) => observe_check((ctx.env.vfio_check)(vf)),
        (result, _) => format!("not provisioned: {}", observe(result, |ok| ok.to_string())),
    })
}

// ---- NVMe: VFs in one group with their PF, which keeps its driver ------------------------------

/// Provisioning NVMe for vfio-pci fails, as its VFs' group is not viable while nvme keeps the
/// PF; the rollback restores everything, and re-reading the host says so.
fn provision_nvme_rolls_back(ctx: &mut Ctx<'_>) -> Option<String> {
    let before = fingerprint(ctx.sysfs(), ctx.nvme);
    Some(observe(ctx.provision(ctx.nvme), |(_, r)| {
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
            fingerprint(ctx.sysfs(), ctx.nvme) == before
        )
    }))
}

/// Enables the NVMe PF's VFs by hand, autoprobe off, so that the checks bind them one by one.
/// The NVMe checks are skipped unless all four appear.
fn enable_nvme_vfs(ctx: &mut Ctx<'_>) {
    let _ = ctx.set_autoprobe(ctx.nvme, false);
    let _ = ctx.write(&numvfs(ctx.nvme), "4");
    ctx.nvme_vfs = match vfs_of(ctx.sysfs(), ctx.nvme)[..] {
        [a, b, c, _] => Some(NvmeVfs {
            on_vfio: a,
            bind_without_override: b,
            probe_unknown_driver: c,
        }),
        _ => None,
    };
}

/// vfio-pci's bind file refuses a device whose driver_override does not name it (ENODEV).
fn vfio_bind_without_override(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.nvme_vfs?.bind_without_override;
    let bind = paths::driver_attr("vfio-pci", "bind");
    Some(errno(ctx.write(&bind, &vf.to_string())))
}

/// `drivers_probe` succeeds for a device whose override names no driver, though nothing binds.
fn drivers_probe_binds_nothing(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.nvme_vfs?.probe_unknown_driver;
    let _ = ctx.set_override(vf, "no_such_driver");
    let probed = errno(ctx.probe(vf));
    let observed = format!("{probed} driver={:?}", ctx.driver(vf));
    let _ = ctx.clear_override(vf);
    Some(observed)
}

/// Binds one NVMe VF to vfio-pci through driver_override, for the non-viable group checks.
fn bind_nvme_vf_to_vfio(ctx: &mut Ctx<'_>) {
    if let Some(vfs) = ctx.nvme_vfs {
        let _ = ctx.set_override(vfs.on_vfio, "vfio-pci");
        let _ = ctx.probe(vfs.on_vfio);
    }
}

/// Opening a VF whose group is not viable fails, naming the PF and its driver.
fn open_vf_in_non_viable_group(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.nvme_vfs?.on_vfio;
    Some(observe(ctx.open(vf), |_| "opened".into()))
}

/// The kernel's own answers for a non-viable group, below qat-vf's checks: no status flags,
/// and attaching it to a container is refused (EPERM).
fn kernel_non_viable_group(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.nvme_vfs?.on_vfio;
    let group = PciInfo::read(ctx.sysfs(), vf)
        .ok()
        .and_then(|info| info.iommu_group)
        .unwrap_or(0);
    let container = ctx.ops().open(Path::new(paths::VFIO_CONTAINER));
    let group_fd = ctx.ops().open(&paths::vfio_group_node(group));
    Some(match (&container, &group_fd) {
        (Ok(c), Ok(g)) => {
            let flags = ctx
                .ops()
                .group_status(g.as_fd())
                .map_or_else(|e| e.to_string(), |f| f.to_string());
            format!(
                "status_flags={flags} set_container={}",
                errno(ctx.ops().group_set_container(g.as_fd(), c.as_fd()))
            )
        }
        _ => format!(
            "open failed: {:?} {:?}",
            container.as_ref().err(),
            group_fd.as_ref().err()
        ),
    })
}

/// `qatctl vfio-check` on a VF in a non-viable group names the device that breaks it.
fn qatctl_vfio_check_non_viable(ctx: &mut Ctx<'_>) -> Option<String> {
    let vf = ctx.nvme_vfs?.on_vfio;
    Some(observe_check((ctx.env.vfio_check)(vf)))
}

/// driver_override and `drivers_probe` leave a bound device (the NVMe PF) on its driver; a
/// lone newline clears the override, which then reads "(null)".
fn override_on_a_bound_device(ctx: &mut Ctx<'_>) -> Option<String> {
    ctx.nvme_vfs?;
    let nvme = ctx.nvme;
    let set = errno(ctx.set_override(nvme, "vfio-pci"));
    let probe = errno(ctx.probe(nvme));
    let driver = ctx.driver(nvme);
    let cleared = errno(ctx.clear_override(nvme));
    let reads = ctx
        .sysfs()
        .read_trimmed(&paths::device_attr(nvme, "driver_override"))
        .unwrap_or_default();
    Some(format!(
        "set={set} probe={probe} driver={driver:?} clear={cleared} reads={reads}"
    ))
}

/// Takes the NVMe VF off vfio-pci and forgets its override.
fn release_nvme_vf(ctx: &mut Ctx<'_>) {
    if let Some(vfs) = ctx.nvme_vfs {
        let _ = ctx.unbind("vfio-pci", vfs.on_vfio);
        let _ = ctx.clear_override(vfs.on_vfio);
    }
}

/// Unbinds the NVMe PF from nvme, for the checks of a PF with VFs and no driver.
fn unbind_nvme_pf(ctx: &mut Ctx<'_>) {
    if ctx.nvme_vfs.is_some() {
        let _ = ctx.unbind("nvme", ctx.nvme);
    }
}

/// nvme leaves SR-IOV enabled when unbound.
fn unbound_nvme_keeps_vfs(ctx: &mut Ctx<'_>) -> Option<String> {
    ctx.nvme_vfs?;
    Some(format!("numvfs={}", ctx.read_numvfs(ctx.nvme)))
}

/// Without a driver on the PF, `sriov_numvfs` answers ENOENT.
fn numvfs_without_pf_driver(ctx: &mut Ctx<'_>) -> Option<String> {
    ctx.nvme_vfs?;
    Some(errno(ctx.write(&numvfs(ctx.nvme), "0")))
}

/// vfio-pci does not take a PF that has VFs enabled, even when its override names vfio-pci.
fn vfio_pci_refuses_pf_with_vfs(ctx: &mut Ctx<'_>) -> Option<String> {
    ctx.nvme_vfs?;
    let nvme = ctx.nvme;
    let _ = ctx.set_override(nvme, "vfio-pci");
    let _ = ctx.probe(nvme);
    let observed = format!("driver={:?}", ctx.driver(nvme));
    let _ = ctx.clear_override(nvme);
    Some(observed)
}

/// Gives the NVMe PF back to nvme and disables its VFs, autoprobe on again: as it was before
/// enable_nvme_vfs.
fn restore_nvme(ctx: &mut Ctx<'_>) {
    if ctx.nvme_vfs.take().is_some() {
        let _ = ctx.probe(ctx.nvme);
        let _ = ctx.write(&numvfs(ctx.nvme), "0");
        let _ = ctx.set_autoprobe(ctx.nvme, true);
    }
}

// ---- The REQ irq (real kernel only) -----------------------------------------------------------

/// With a VF open and its REQ irq on an eventfd, a raw `sriov_numvfs=0` (what qatkit refuses
/// to do) blocks; the kernel signals the eventfd; closing the device lets the write end.
fn req_irq_fires_when_vfs_are_disabled(ctx: &mut Ctx<'_>) -> Option<String> {
    let igb = ctx.igb;
    let provisioned = ctx.provision(igb);
    let Some(vf) = ctx.first_vf(igb) else {
        return Some(format!(
            "not provisioned: {}",
            observe(provisioned.map(|_| ()), |()| "no VFs".into())
        ));
    };
    let opened = match ctx.open(vf) {
        Ok(opened) => opened,
        Err(e) => return Some(observe_error(&e)),
    };
    let notifier = match opened.device.request_notifier() {
        Ok(n) => n,
        Err(e) => return Some(observe_error(&e)),
    };
    let (done, finished) = std::sync::mpsc::channel();
    let path = numvfs(igb);
    // The raw write, as another tool would do it; it runs in the real kernel only.
    std::thread::spawn(move || {
        let result = HostEnv::real().write(&path, "0");
        let _ = done.send(result.is_ok());
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut requested = false;
    while !requested && Instant::now() < deadline {
        requested = notifier.requested();
        std::thread::sleep(Duration::from_millis(10));
    }
    let blocked = finished.try_recv().is_err();
    drop(notifier);
    drop(opened);
    let completed = finished
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or(false);
    Some(format!(
        "requested={requested} blocked_until_closed={blocked} completed={completed}"
    ))
}

// ---- Bad input, and the way back --------------------------------------------------------------

/// A BDF that does not exist: opening and provisioning it fail NoSuchDevice, and nothing
/// changes.
fn bad_input_missing_device(ctx: &mut Ctx<'_>) -> Option<String> {
    let before = ctx.fingerprints();
    let missing = bdf("0000:09:00.0");
    let open = observe(ctx.open(missing), |_| "ok".into());
    let provision = observe(ctx.provision(missing), |_| "ok".into());
    Some(format!(
        "open={open} provision={provision} unchanged={}",
        ctx.fingerprints() == before
    ))
}

/// Opening a PF (igb, on its host driver) through VFIO is refused as not a VF, before any VFIO
/// node is opened, and nothing changes. (A VF not bound to vfio-pci is refused as
/// NotBoundToVfio; qat-vf's tests/vfio.rs checks that on the simulated host.)
fn bad_input_pf_not_vf(ctx: &mut Ctx<'_>) -> Option<String> {
    let before = ctx.fingerprints();
    let open = observe(ctx.open(ctx.igb), |_| "ok".into());
    Some(format!("{open} unchanged={}", ctx.fingerprints() == before))
}

/// Provisioned once more, `qatctl reset` brings both PFs back to their state before the first
/// check, exactly.
fn qatctl_reset_restores(ctx: &mut Ctx<'_>) -> Option<String> {
    let provisioned = ctx.provision(ctx.igb).map(|(_, r)| r.ok);
    let reset = (ctx.env.reset)(&[ctx.igb, ctx.nvme]);
    Some(format!(
        "provisioned={} reset={} identical={}",
        observe(provisioned, |ok| ok.to_string()),
        reset.err().unwrap_or_else(|| "ok".into()),
        ctx.fingerprints() == ctx.original
    ))
}
