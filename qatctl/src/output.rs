//! Human tables and JSON documents. The JSON shapes are a stable contract (README, "JSON").

use qat_vf::domain::kubevirt::KubevirtConfig;
use qat_vf::provision::{Plan, Report};
use qat_vf::sim::WriteRecord;
use qat_vf::vfio::VfioCheck;
use qat_vf::{Bdf, Host, PciInfo, VirtualFunction};
use serde::Serialize;
use serde_json::json;

use crate::failure::Failure;

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Left-aligned columns, two spaces apart.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

fn vf_row(vf: &VirtualFunction) -> Vec<String> {
    vec![
        vf.pci.bdf.to_string(),
        opt(vf.pci.driver.as_deref()),
        opt(vf.pci.iommu_group),
        opt(vf
            .vfio_node
            .map(|a| format!("{}:{} {:04o}", a.uid, a.gid, a.mode))),
        if vf.held_by.is_empty() {
            "-".into()
        } else {
            format!("pid {}", vf.held_by[0])
        },
    ]
}

/// One line of `qatctl list`.
#[derive(Serialize)]
struct ListedDevice<'a> {
    bdf: Bdf,
    kind: &'static str,
    guest: bool,
    generation: Option<&'static str>,
    numa_node: Option<u32>,
    driver: Option<&'a str>,
    iommu_group: Option<u32>,
}

impl<'a> ListedDevice<'a> {
    fn new(pci: &'a PciInfo, kind: &'static str, guest: bool) -> Self {
        ListedDevice {
            bdf: pci.bdf,
            kind,
            guest,
            generation: pci.family.map(|f| f.name),
            numa_node: pci.numa_node,
            driver: pci.driver.as_deref(),
            iommu_group: pci.iommu_group,
        }
    }
}

/// A JSON document on stdout, pretty-printed.
fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("qatctl's documents serialise")
    );
}

/// The VF table of `status`, indented under its PF.
fn print_vf_table(vfs: &[VirtualFunction]) {
    let rows: Vec<_> = vfs.iter().map(vf_row).collect();
    for line in table(&["VF", "DRIVER", "IOMMU", "/dev/vfio", "HELD"], &rows).lines() {
        println!("    {line}");
    }
}

/// `qatctl list`.
pub(crate) fn print_list(host: &Host, json: bool) {
    let mut devices = Vec::new();
    for pf in &host.pfs {
        devices.push(ListedDevice::new(&pf.pci, "pf", false));
        devices.extend(
            pf.vfs
                .iter()
                .map(|vf| ListedDevice::new(&vf.pci, "vf", false)),
        );
    }
    devices.extend(
        host.guest_vfs
            .iter()
            .map(|vf| ListedDevice::new(&vf.pci, "vf", true)),
    );
    if json {
        println!("{}", json!({ "devices": devices }));
    } else if devices.is_empty() {
        println!("no QAT devices found");
    } else {
        let rows: Vec<Vec<String>> = devices
            .iter()
            .map(|d| {
                let kind = match (d.kind, d.guest) {
                    ("pf", _) => "PF",
                    (_, true) => "VF (guest)",
                    _ => "VF",
                };
                vec![
                    d.bdf.to_string(),
                    kind.into(),
                    d.generation.unwrap_or("-").into(),
                    opt(d.numa_node),
                    opt(d.driver),
                    opt(d.iommu_group),
                ]
            })
            .collect();
        print!(
            "{}",
            table(&["BDF", "KIND", "FAMILY", "NUMA", "DRIVER", "IOMMU"], &rows)
        );
    }
}

/// `qatctl status`.
pub(crate) fn print_status(host: &Host, json: bool) {
    if json {
        print_json(host);
        return;
    }
    if host.pfs.is_empty() && host.guest_vfs.is_empty() {
        println!("no QAT devices found");
    }
    for pf in &host.pfs {
        let family = pf.family().map_or("generic SR-IOV".to_owned(), |f| {
            format!("{} (gen{})", f.name, f.generation)
        });
        println!(
            "{}  {family}  numa {}  driver {}",
            pf.pci.bdf,
            opt(pf.pci.numa_node),
            opt(pf.pci.driver.as_deref())
        );
        if let Some(state) = pf.state {
            let services = pf.services.map_or("-".to_owned(), |s| s.to_string());
            println!(
                "  state {state}  services {services}  auto_reset {}",
                opt(pf.auto_reset.map(|a| if a { "on" } else { "off" }))
            );
        }
        println!(
            "  VFs {}/{}  autoprobe {}  heartbeat {}",
            pf.sriov_numvfs,
            pf.sriov_totalvfs,
            u8::from(pf.sriov_drivers_autoprobe),
            opt(pf.heartbeat.map(|h| format!("{h:?}").to_lowercase())),
        );
        if let Some(ras) = pf.ras {
            println!(
                "  RAS errors: correctable {} nonfatal {} fatal {}",
                ras.correctable, ras.nonfatal, ras.fatal
            );
        }
        if !pf.vfs.is_empty() {
            print_vf_table(&pf.vfs);
        }
    }
    if !host.guest_vfs.is_empty() {
        println!("VFs without a visible PF (guest):");
        print_vf_table(&host.guest_vfs);
    }
}

/// `qatctl plan`.
pub(crate) fn print_plan(plan: &Plan, json: bool) {
    if json {
        print_json(plan);
    } else {
        print!("{plan}");
    }
}

/// `qatctl apply` and `qatctl reset`.
pub(crate) fn print_report(report: &Report, json: bool) {
    if let (Some(error), Some(outcome)) = (&report.error, report.failed_outcome()) {
        eprintln!(
            "qatctl: error: {}: {} ({outcome})",
            error.description, error.message
        );
    }
    if json {
        print_json(report);
        return;
    }
    let Some(error) = &report.error else {
        if report.steps_done.is_empty() {
            println!("nothing to do: the host is as desired");
        } else {
            println!("applied {} steps:", report.steps_done.len());
            for step in &report.steps_done {
                println!("  {step}");
            }
        }
        return;
    };
    if !report.started {
        println!("not started, nothing was changed: {}", error.message);
        return;
    }
    println!("failed: {}", error.description);
    println!("  cause: {}", error.message);
    println!(
        "rolled back {} completed steps with {} inverse steps:",
        report.steps_done.len(),
        report.rolled_back.len()
    );
    for step in &report.rolled_back {
        println!("  {step}");
    }
    if !report.rollback_failures.is_empty() {
        println!("inverse steps that failed:");
        for failure in &report.rollback_failures {
            println!("  {}: {}", failure.description, failure.message);
        }
    }
    if report.restored() {
        println!("the host reads as it did before (verified by re-reading it)");
    } else {
        println!("ROLLBACK INCOMPLETE, check the host; re-reading it found:");
        for difference in &report.still_changed {
            println!("  {difference}");
        }
    }
}

/// `qatctl sim writes`.
pub(crate) fn print_writes(writes: &[WriteRecord], json: bool) {
    if json {
        println!("{}", json!({ "writes": writes }));
        return;
    }
    for (i, w) in writes.iter().enumerate() {
        let result = w.errno.map_or("ok".to_owned(), |e| {
            format!("{:?}", nix::errno::Errno::from_raw(e))
        });
        println!(
            "{:>4}  {} <- {:?}  {result}",
            i + 1,
            w.path.display(),
            w.value
        );
    }
}

/// `qatctl sim fail` and `sim hold`: what was done, or `{"ok": true, "message": ...}`.
pub(crate) fn print_ok(message: &str, json: bool) {
    if json {
        println!("{}", json!({ "ok": true, "message": message }));
    } else {
        println!("{message}");
    }
}

/// `qatctl vfio-check`.
pub(crate) fn print_vfio_check(report: &VfioCheck, json: bool) {
    if json {
        print_json(report);
        return;
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("VF {}  driver {}", report.vf, opt(report.driver.as_deref()));
    println!(
        "  IOMMU group {}  /dev/vfio node {}",
        opt(report.iommu_group),
        opt(report
            .vfio_node
            .map(|a| format!("{}:{} {:04o}", a.uid, a.gid, a.mode)))
    );
    if report.blockers.is_empty() {
        println!("  group viable: yes");
    } else {
        println!("  group viable: no");
        for b in &report.blockers {
            println!(
                "    {} is bound to {} (unbind it or bind it to vfio-pci)",
                b.bdf, b.driver
            );
        }
    }
    if let Some(cdev) = &report.cdev {
        println!("  iommufd cdev: {}", cdev.display());
    }
    if let Some(info) = report.device {
        println!(
            "  device: {} regions, {} irq indexes, reset {}",
            info.num_regions,
            info.num_irqs,
            yes_no(report.resettable == Some(true))
        );
        let rows: Vec<Vec<String>> = report
            .regions
            .iter()
            .filter(|r| r.size > 0)
            .map(|r| {
                vec![
                    r.index.to_string(),
                    format!("{:#x}", r.size),
                    format!(
                        "{}{}{}",
                        if r.readable() { "r" } else { "-" },
                        if r.writable() { "w" } else { "-" },
                        if r.mappable() { "m" } else { "-" }
                    ),
                    r.sparse_mmap
                        .as_ref()
                        .map_or("-".into(), |a| format!("{} areas", a.len())),
                ]
            })
            .collect();
        for line in table(&["REGION", "SIZE", "RWM", "SPARSE"], &rows).lines() {
            println!("    {line}");
        }
        let irqs: Vec<String> = report
            .irqs
            .iter()
            .map(|i| format!("{}:{}", i.index, i.count))
            .collect();
        println!("  irqs (index:vectors): {}", irqs.join(" "));
    }
    if let Some(iommu) = &report.iommu {
        let ranges: Vec<String> = iommu
            .iova_ranges
            .iter()
            .map(|r| format!("{:#x}-{:#x}", r.start(), r.end()))
            .collect();
        println!(
            "  IOMMU page sizes {:#x}, IOVA ranges {}",
            iommu.iova_pgsizes,
            ranges.join(" ")
        );
    }
    if let Some(ok) = report.dma_map {
        println!(
            "  DMA map/unmap of one page: {}",
            if ok { "works" } else { "FAILED" }
        );
    }
    println!(
        "  RLIMIT_MEMLOCK {}{}; enough for qatlib (16 MiB per VF): {}",
        report
            .memlock_limit
            .map_or("unlimited".into(), |l| format!("{l} bytes")),
        if report.cap_ipc_lock {
            " (CAP_IPC_LOCK lifts it)"
        } else {
            ""
        },
        yes_no(report.memlock_enough_for_qatlib)
    );
    match &report.error {
        None => println!("usable: yes"),
        Some(error) => println!("usable: no: {error}"),
    }
}

/// `qatctl kubevirt`.
pub(crate) fn print_kubevirt(config: &KubevirtConfig, json: bool) -> Result<(), Failure> {
    if json {
        print_json(config);
        return Ok(());
    }
    println!(
        "# For the KubeVirt CR. A merge patch (kubectl patch kubevirt kubevirt -n kubevirt --type merge)"
    );
    println!(
        "# REPLACES spec.configuration.permittedHostDevices.pciHostDevices: add these entries to those"
    );
    println!(
        "# the cluster permits already (kubectl get kubevirt -n kubevirt -o yaml) before applying."
    );
    print!("{}", to_yaml(&config.kubevirt_patch)?);
    println!("---");
    println!("# Merge into the VirtualMachine's spec.template (or a VMI):");
    print!("{}", to_yaml(&config.vm_host_devices)?);
    Ok(())
}

fn to_yaml<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_norway::to_string(value).map_err(|e| Failure::Failed(format!("YAML: {e}")))
}
