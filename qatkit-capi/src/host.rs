//! The host: open it, discover its devices, and provision it with the same lock, rollback and
//! refusals as qatctl. Reports are the JSON documents `qatctl --json` prints.

use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use qat_vf::provision::{self, Desired, Plan, ProvisionLock, VfDriver, VfioAccess};
use qat_vf::sim::{FaultTrigger, Preset, SimHost};
use qat_vf::{Bdf, Heartbeat, Host, HostEnv, PciInfo, QatState, Services, VirtualFunction};

use crate::ffi::{
    Failure, QATKIT_NOT_FOUND, QATKIT_UNSUPPORTED, arg, boundary, fill, free_handle, guard,
    new_string, opt_text, out, put, put_handle, qatkit_result, text,
};

/// A host: the real one, a directory shaped like one, or a simulated host's state file.
/// Thread-safe; changes to a simulated host are saved to its file after each call.
pub struct qatkit_host {
    env: HostEnv,
    /// A simulated host and its state file.
    sim: Option<(SimHost, PathBuf)>,
    /// One save of the state file at a time (saves write a temporary file, then rename it).
    saving: Mutex<()>,
}

impl qatkit_host {
    /// Saves a simulated host's state after a change (also after a failed one: consumed faults
    /// and the write record persist, as with qatctl).
    fn save(&self) -> Result<(), Failure> {
        match &self.sim {
            Some((sim, path)) => {
                let _one_at_a_time = self.saving.lock().unwrap_or_else(|e| e.into_inner());
                Ok(sim.save(path)?)
            }
            None => Ok(()),
        }
    }

    /// The lock file when the caller names none: beside a simulated host's state file, else the
    /// system's.
    fn lock_path(&self, given: Option<&str>) -> PathBuf {
        match (given, &self.sim) {
            (Some(path), _) => PathBuf::from(path),
            (None, Some((_, state))) => {
                let mut name = state.as_os_str().to_owned();
                name.push(".lock");
                PathBuf::from(name)
            }
            (None, None) => PathBuf::from(ProvisionLock::DEFAULT_PATH),
        }
    }
}

fn open(host: qatkit_host, host_out: *mut *mut qatkit_host) {
    // SAFETY: every caller checked `host_out` with `out`.
    unsafe { put_handle(host_out, host) };
}

/// Opens the running host (`/`, the kernel's VFIO, this process). Free it with
/// `qatkit_host_free`.
///
/// # Safety
/// `host_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_open(host_out: *mut *mut qatkit_host) -> qatkit_result {
    boundary(|| {
        let host_out = out(host_out, "host_out")?;
        open(
            qatkit_host {
                env: HostEnv::real(),
                sim: None,
                saving: Mutex::new(()),
            },
            host_out,
        );
        Ok(())
    })
}

/// Opens a host whose `/` is the directory `root` (a fixture tree, or a chroot);
/// `QATKIT_NOT_FOUND` when there is no such directory.
///
/// # Safety
/// `root` is NULL or a NUL-terminated string; `host_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_open_root(
    root: *const c_char,
    host_out: *mut *mut qatkit_host,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let root = unsafe { text(root, "root")? };
        let host_out = out(host_out, "host_out")?;
        if !Path::new(root).is_dir() {
            return Err(Failure::new(
                QATKIT_NOT_FOUND,
                format!("{root} is not a directory"),
            ));
        }
        open(
            qatkit_host {
                env: HostEnv::with_root(root),
                sim: None,
                saving: Mutex::new(()),
            },
            host_out,
        );
        Ok(())
    })
}

/// Opens the simulated host saved in `state_file` (made by `qatkit_sim_create` or
/// `qatctl sim create`). Changes are saved back to it.
///
/// # Safety
/// `state_file` is NULL or a NUL-terminated string; `host_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_open_sim(
    state_file: *const c_char,
    host_out: *mut *mut qatkit_host,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let path = unsafe { text(state_file, "state_file")? };
        let host_out = out(host_out, "host_out")?;
        let sim = SimHost::load(Path::new(path))?;
        open(
            qatkit_host {
                env: sim.env().clone(),
                sim: Some((sim, PathBuf::from(path))),
                saving: Mutex::new(()),
            },
            host_out,
        );
        Ok(())
    })
}

/// Frees a host (NULL is fine).
///
/// # Safety
/// `host` is NULL or a handle from a `qatkit_host_open*` call not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_free(host: *mut qatkit_host) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(host) }
}

/// Creates a simulated host of `preset` (`4xxx`, `c62x`, `mixed`, `igb`, `nvme`, `qemu`, ...)
/// with `pfs` PFs (0: the preset's default) and saves it to `state_file`, replacing any file
/// there.
///
/// # Safety
/// `state_file` and `preset` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_sim_create(
    state_file: *const c_char,
    preset: *const c_char,
    pfs: usize,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (path, preset) = unsafe { (text(state_file, "state_file")?, text(preset, "preset")?) };
        let preset: Preset = preset.parse().map_err(|e: String| Failure::invalid(e))?;
        let pfs = if pfs == 0 { preset.default_pfs() } else { pfs };
        if preset.is_fixed() && pfs != preset.default_pfs() {
            return Err(Failure::invalid(format!(
                "preset {preset} has {} PFs",
                preset.default_pfs()
            )));
        }
        Ok(SimHost::preset(preset, pfs).save(Path::new(path))?)
    })
}

/// Makes every later write to an attribute whose path ends with `attribute` (`sriov_numvfs`,
/// `qat/state`, ...) fail with the OS error `error_number` (e.g. `EIO`) on a simulated host;
/// `QATKIT_UNSUPPORTED` on another.
///
/// # Safety
/// `host` is NULL or a live handle; `attribute` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_sim_fail_writes(
    host: *const qatkit_host,
    attribute: *const c_char,
    error_number: i32,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (host, attribute) = unsafe { (arg(host, "host")?, text(attribute, "attribute")?) };
        let Some((sim, _)) = &host.sim else {
            return Err(Failure::new(QATKIT_UNSUPPORTED, "not a simulated host"));
        };
        if error_number <= 0 {
            return Err(Failure::invalid(format!("error number {error_number}")));
        }
        sim.inject(FaultTrigger::Attribute(attribute.to_owned()), error_number);
        host.save()
    })
}

/// Discovered devices; immutable, so thread-safe.
pub struct qatkit_discovery {
    host: Host,
}

/// A QAT device's state.
pub type qatkit_state = u32;
/// No `qat/state` (gen2, or not a QAT device).
pub const QATKIT_STATE_NONE: qatkit_state = 0;
/// Up: services run, VFs can be enabled.
pub const QATKIT_STATE_UP: qatkit_state = 1;
/// Down: services can be configured.
pub const QATKIT_STATE_DOWN: qatkit_state = 2;

/// A PF heartbeat.
pub type qatkit_heartbeat = u32;
/// Unknown (debugfs unreadable, or not a QAT device).
pub const QATKIT_HEARTBEAT_UNKNOWN: qatkit_heartbeat = 0;
/// The firmware answers.
pub const QATKIT_HEARTBEAT_HEALTHY: qatkit_heartbeat = 1;
/// The heartbeat failed: do not hand out this PF's VFs.
pub const QATKIT_HEARTBEAT_FAILED: qatkit_heartbeat = 2;

/// QAT services, as a bit set.
pub type qatkit_services = u32;
/// Asymmetric crypto.
pub const QATKIT_SERVICE_ASYM: qatkit_services = 1;
/// Symmetric crypto.
pub const QATKIT_SERVICE_SYM: qatkit_services = 2;
/// Compression.
pub const QATKIT_SERVICE_DC: qatkit_services = 4;
/// Chained compression (gen4+).
pub const QATKIT_SERVICE_DCC: qatkit_services = 8;
/// Decompression only (gen6).
pub const QATKIT_SERVICE_DECOMP: qatkit_services = 16;

/// A physical function, as discovery found it.
#[repr(C)]
#[derive(Debug)]
pub struct qatkit_pf_info {
    /// PCI address, `dddd:bb:dd.f`.
    pub bdf: [c_char; 16],
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// QAT family (`4xxx`, `c62x`, ...); empty for another SR-IOV device.
    pub family: [c_char; 16],
    /// QAT generation (2, 4, 6); 0 for another device.
    pub generation: u8,
    /// NUMA node; -1 when the kernel reports none.
    pub numa_node: i32,
    /// Bound driver; empty when unbound.
    pub driver: [c_char; 72],
    /// IOMMU group; -1 without an IOMMU.
    pub iommu_group: i64,
    /// VFs the PF offers.
    pub sriov_totalvfs: u16,
    /// VFs enabled.
    pub sriov_numvfs: u16,
    /// `QATKIT_STATE_*`.
    pub state: qatkit_state,
    /// `QATKIT_SERVICE_*` bits; 0 where the PF has none to read.
    pub services: qatkit_services,
    /// `QATKIT_HEARTBEAT_*`.
    pub heartbeat: qatkit_heartbeat,
    /// VFs listed for this PF (`qatkit_discovery_vf`).
    pub vf_count: usize,
}

/// A virtual function, as discovery found it.
#[repr(C)]
#[derive(Debug)]
pub struct qatkit_vf_info {
    /// PCI address.
    pub bdf: [c_char; 16],
    /// Its PF's address; empty inside a guest, where the PF is not visible.
    pub physfn: [c_char; 16],
    /// PCI vendor id.
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// NUMA node; -1 when none.
    pub numa_node: i32,
    /// Bound driver; empty when unbound.
    pub driver: [c_char; 72],
    /// IOMMU group; -1 without an IOMMU.
    pub iommu_group: i64,
    /// Whether `/dev/vfio/<group>` exists; then its owner and mode follow.
    pub vfio_node: bool,
    /// Owner of `/dev/vfio/<group>`.
    pub vfio_uid: u32,
    /// Group of `/dev/vfio/<group>`.
    pub vfio_gid: u32,
    /// Mode of `/dev/vfio/<group>` (e.g. 0660).
    pub vfio_mode: u32,
    /// Processes holding the VF through VFIO (group or device).
    pub holders: usize,
    /// Of those, how many have the device itself open.
    pub device_open_by: usize,
}

const fn empty_name<const N: usize>() -> [c_char; N] {
    [0; N]
}

fn pci_fields(pci: &PciInfo) -> (i32, i64) {
    (
        pci.numa_node.map_or(-1, |n| i32::try_from(n).unwrap_or(-1)),
        pci.iommu_group.map_or(-1, i64::from),
    )
}

fn services_bits(services: Option<Services>) -> qatkit_services {
    services.map_or(0, |s| u32::from(s.bits()))
}

fn pf_info(pf: &qat_vf::PhysicalFunction) -> Result<qatkit_pf_info, Failure> {
    let (numa_node, iommu_group) = pci_fields(&pf.pci);
    let mut info = qatkit_pf_info {
        bdf: empty_name(),
        vendor: pf.pci.vendor,
        device: pf.pci.device,
        family: empty_name(),
        generation: pf.family().map_or(0, |f| f.generation),
        numa_node,
        driver: empty_name(),
        iommu_group,
        sriov_totalvfs: pf.sriov_totalvfs,
        sriov_numvfs: pf.sriov_numvfs,
        state: match pf.state {
            None => QATKIT_STATE_NONE,
            Some(QatState::Up) => QATKIT_STATE_UP,
            Some(QatState::Down) => QATKIT_STATE_DOWN,
        },
        services: services_bits(pf.services),
        heartbeat: match pf.heartbeat {
            None => QATKIT_HEARTBEAT_UNKNOWN,
            Some(Heartbeat::Healthy) => QATKIT_HEARTBEAT_HEALTHY,
            Some(Heartbeat::Failed) => QATKIT_HEARTBEAT_FAILED,
        },
        vf_count: pf.vfs.len(),
    };
    fill(&mut info.bdf, &pf.pci.bdf.to_string())?;
    fill(&mut info.family, pf.family().map_or("", |f| f.name))?;
    fill(&mut info.driver, pf.pci.driver.as_deref().unwrap_or(""))?;
    Ok(info)
}

fn vf_info(vf: &VirtualFunction) -> Result<qatkit_vf_info, Failure> {
    let (numa_node, iommu_group) = pci_fields(&vf.pci);
    let node = vf.vfio_node;
    let mut info = qatkit_vf_info {
        bdf: empty_name(),
        physfn: empty_name(),
        vendor: vf.pci.vendor,
        device: vf.pci.device,
        numa_node,
        driver: empty_name(),
        iommu_group,
        vfio_node: node.is_some(),
        vfio_uid: node.map_or(0, |n| n.uid),
        vfio_gid: node.map_or(0, |n| n.gid),
        vfio_mode: node.map_or(0, |n| n.mode),
        holders: vf.held_by.len(),
        device_open_by: vf.device_open_by.len(),
    };
    fill(&mut info.bdf, &vf.pci.bdf.to_string())?;
    fill(
        &mut info.physfn,
        &vf.physfn.map(|b| b.to_string()).unwrap_or_default(),
    )?;
    fill(&mut info.driver, vf.pci.driver.as_deref().unwrap_or(""))?;
    Ok(info)
}

/// Addresses from a C array of strings (NULL when `count` is 0).
///
/// # Safety
/// `list` holds `count` NUL-terminated strings.
unsafe fn bdfs(list: *const *const c_char, count: usize, name: &str) -> Result<Vec<Bdf>, Failure> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(Failure::new(
            crate::ffi::QATKIT_NULL_PARAMETER,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: the caller's contract above.
    let items = unsafe { std::slice::from_raw_parts(list, count) };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            // SAFETY: each item is a NUL-terminated string (the caller's contract).
            let text = unsafe { text(*item, &format!("{name}[{i}]"))? };
            text.parse::<Bdf>()
                .map_err(|e| Failure::from(qat_vf::Error::from(e)))
        })
        .collect()
}

/// Discovers every QAT PF, the SR-IOV PFs named in `pfs` (generic mode; NULL when `pf_count`
/// is 0), and QAT VFs without a visible PF. Free the result with `qatkit_discovery_free`.
///
/// # Safety
/// `host` is NULL or a live handle; `pfs` holds `pf_count` NUL-terminated strings;
/// `discovery_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_discover(
    host: *const qatkit_host,
    pfs: *const *const c_char,
    pf_count: usize,
    discovery_out: *mut *mut qatkit_discovery,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (host, named) = unsafe { (arg(host, "host")?, bdfs(pfs, pf_count, "pfs")?) };
        let discovery_out = out(discovery_out, "discovery_out")?;
        let found = Host::discover(&host.env, &named)?;
        let discovery = qatkit_discovery { host: found };
        // SAFETY: checked by `out`.
        unsafe { put_handle(discovery_out, discovery) };
        Ok(())
    })
}

/// Frees a discovery result (NULL is fine).
///
/// # Safety
/// `discovery` is NULL or a handle from `qatkit_host_discover` not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_discovery_free(discovery: *mut qatkit_discovery) {
    // SAFETY: the caller's contract above.
    unsafe { free_handle(discovery) }
}

/// How many PFs were found; 0 when `discovery` is NULL.
///
/// # Safety
/// `discovery` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_discovery_pf_count(discovery: *const qatkit_discovery) -> usize {
    guard(0, || {
        // SAFETY: the caller's contract above.
        unsafe { discovery.as_ref() }.map_or(0, |d| d.host.pfs.len())
    })
}

/// How many QAT VFs without a visible PF (inside a guest) were found; 0 when NULL.
///
/// # Safety
/// `discovery` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_discovery_guest_vf_count(
    discovery: *const qatkit_discovery,
) -> usize {
    guard(0, || {
        // SAFETY: the caller's contract above.
        unsafe { discovery.as_ref() }.map_or(0, |d| d.host.guest_vfs.len())
    })
}

fn index<'a, T>(items: &'a [T], i: usize, what: &str) -> Result<&'a T, Failure> {
    items.get(i).ok_or_else(|| {
        Failure::invalid(format!("{what} {i} does not exist ({} found)", items.len()))
    })
}

/// PF number `pf` (0-based, in address order).
///
/// # Safety
/// `discovery` is NULL or a live handle; `info_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_discovery_pf(
    discovery: *const qatkit_discovery,
    pf: usize,
    info_out: *mut qatkit_pf_info,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let discovery = unsafe { arg(discovery, "discovery")? };
        let info_out = out(info_out, "info_out")?;
        let info = pf_info(index(&discovery.host.pfs, pf, "PF")?)?;
        // SAFETY: checked by `out`.
        unsafe { put(info_out, info) };
        Ok(())
    })
}

/// VF number `vf` of PF number `pf` (both 0-based; VFs in `virtfn` order).
///
/// # Safety
/// `discovery` is NULL or a live handle; `info_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_discovery_vf(
    discovery: *const qatkit_discovery,
    pf: usize,
    vf: usize,
    info_out: *mut qatkit_vf_info,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let discovery = unsafe { arg(discovery, "discovery")? };
        let info_out = out(info_out, "info_out")?;
        let pf = index(&discovery.host.pfs, pf, "PF")?;
        let info = vf_info(index(&pf.vfs, vf, "VF")?)?;
        // SAFETY: checked by `out`.
        unsafe { put(info_out, info) };
        Ok(())
    })
}

/// Guest VF number `vf` (a QAT VF without a visible PF).
///
/// # Safety
/// `discovery` is NULL or a live handle; `info_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_discovery_guest_vf(
    discovery: *const qatkit_discovery,
    vf: usize,
    info_out: *mut qatkit_vf_info,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let discovery = unsafe { arg(discovery, "discovery")? };
        let info_out = out(info_out, "info_out")?;
        let info = vf_info(index(&discovery.host.guest_vfs, vf, "guest VF")?)?;
        // SAFETY: checked by `out`.
        unsafe { put(info_out, info) };
        Ok(())
    })
}

fn json<T: serde::Serialize>(value: &T, json_out: *mut *mut c_char) -> Result<(), Failure> {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::new(crate::ffi::QATKIT_OTHER, e.to_string()))?;
    let string = new_string(text)?;
    // SAFETY: every caller checked `json_out` with `out`.
    unsafe { put(json_out, string) };
    Ok(())
}

/// The host's status as the JSON document `qatctl status --json` prints (README, "JSON
/// output"). Free the string with `qatkit_string_free`.
///
/// # Safety
/// `host` is NULL or a live handle; `json_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_status_json(
    host: *const qatkit_host,
    json_out: *mut *mut c_char,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let host = unsafe { arg(host, "host")? };
        let json_out = out(json_out, "json_out")?;
        json(&Host::discover(&host.env, &[])?, json_out)
    })
}

/// A desired state, field by field.
#[repr(C)]
#[derive(Debug)]
pub struct qatkit_desired {
    /// PFs to manage (NULL when `pf_count` is 0: every QAT PF). Any SR-IOV PF may be named.
    pub pfs: *const *const c_char,
    /// How many.
    pub pf_count: usize,
    /// `QATKIT_SERVICE_*` bits to configure; 0 leaves services as they are.
    pub services: qatkit_services,
    /// The VFs' driver: `vfio-pci` (also when NULL), `qat_vfio_pci`, `kernel`, `none`, or a
    /// driver directory name.
    pub driver: *const c_char,
    /// Owner group of the VFs' `/dev/vfio` nodes, a name or a number; NULL leaves them.
    pub vfio_group: *const c_char,
    /// Their mode (e.g. 0660); 0 means 0660.
    pub vfio_mode: u32,
    /// Go ahead when a VFIO user holds only the group of a VF the plan removes.
    pub force: bool,
}

/// # Safety
/// `desired`'s pointers are as its fields say.
unsafe fn desired_of(host: &qatkit_host, desired: &qatkit_desired) -> Result<Desired, Failure> {
    // SAFETY: the caller's contract above.
    let (pfs, driver, group) = unsafe {
        (
            bdfs(desired.pfs, desired.pf_count, "desired.pfs")?,
            opt_text(desired.driver, "desired.driver")?,
            opt_text(desired.vfio_group, "desired.vfio_group")?,
        )
    };
    let driver: VfDriver = driver
        .unwrap_or("vfio-pci")
        .parse()
        .map_err(Failure::from)?;
    let mut want = Desired::new(driver).with_pfs(pfs).with_force(desired.force);
    if desired.services != 0 {
        let bits = u8::try_from(desired.services)
            .ok()
            .and_then(Services::from_bits)
            .ok_or_else(|| Failure::invalid(format!("services bits {:#x}", desired.services)))?;
        want = want.with_services(bits);
    }
    if let Some(group) = group {
        let gid = host.env.resolve_group(group)?;
        let mode = if desired.vfio_mode == 0 {
            0o660
        } else {
            desired.vfio_mode
        };
        want = want.with_vfio_access(VfioAccess::new(gid, mode)?);
    }
    Ok(want)
}

fn desired_from_json(text: &str) -> Result<Desired, Failure> {
    serde_json::from_str(text).map_err(|e| Failure::invalid(format!("desired state JSON: {e}")))
}

/// Writes the plan to `plan_json_out`, as `qatctl plan --json` prints it: `{"steps": [...]}`,
/// empty when the host is as desired. Changes nothing.
fn plan(
    host: &qatkit_host,
    desired: &Desired,
    plan_json_out: *mut *mut c_char,
) -> Result<(), Failure> {
    let found = Host::discover(&host.env, &desired.pfs)?;
    json(&provision::plan(&found, desired)?, plan_json_out)
}

/// The whole transaction, as qatctl runs it: takes the lock, discovers the host (with `pfs`
/// named), makes the plan, applies it and saves a simulated host, also after a failure (consumed
/// faults persist). The report goes to `report_json_out` and whether it succeeded to `ok_out`.
fn transaction(
    host: &qatkit_host,
    lock: Option<&str>,
    pfs: &[Bdf],
    force: bool,
    make_plan: impl FnOnce(&Host) -> qat_vf::Result<Plan>,
    report_json_out: *mut *mut c_char,
    ok_out: *mut bool,
) -> Result<(), Failure> {
    let held = ProvisionLock::acquire(&host.lock_path(lock))?;
    let result = Host::discover(&host.env, pfs)
        .and_then(|found| make_plan(&found))
        .map(|plan| provision::apply(&host.env, &plan, force, &held));
    host.save()?;
    let report = result?;
    json(&report, report_json_out)?;
    // SAFETY: every caller checked `ok_out` with `out`.
    unsafe { put(ok_out, report.ok) };
    Ok(())
}

/// [`transaction`] for a desired state.
fn apply(
    host: &qatkit_host,
    desired: &Desired,
    lock: Option<&str>,
    report_json_out: *mut *mut c_char,
    ok_out: *mut bool,
) -> Result<(), Failure> {
    let plan = |found: &Host| provision::plan(found, desired);
    transaction(
        host,
        lock,
        &desired.pfs,
        desired.force,
        plan,
        report_json_out,
        ok_out,
    )
}

/// Plans `desired` (fields) on `host`: the steps `qatkit_host_apply` would run, as JSON. A bad
/// or impossible request is an error and no plan. Free the string with `qatkit_string_free`.
///
/// # Safety
/// `host` and `desired` are NULL or live; `desired`'s pointers are as its fields say;
/// `plan_json_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_plan(
    host: *const qatkit_host,
    desired: *const qatkit_desired,
    plan_json_out: *mut *mut c_char,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (host, desired) = unsafe { (arg(host, "host")?, arg(desired, "desired")?) };
        let plan_json_out = out(plan_json_out, "plan_json_out")?;
        // SAFETY: the caller's contract for `desired`'s fields.
        let want = unsafe { desired_of(host, desired)? };
        plan(host, &want, plan_json_out)
    })
}

/// As `qatkit_host_plan`, with the desired state as JSON: `{"driver": "vfio-pci", "pfs": [...],
/// "services": ["sym", "dc"], "vfio_access": {"gid": 990, "mode": 432}, "force": false}` (only
/// `driver` is required).
///
/// # Safety
/// `host` is NULL or live; `desired_json` is NULL or a NUL-terminated string; `plan_json_out`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_plan_json(
    host: *const qatkit_host,
    desired_json: *const c_char,
    plan_json_out: *mut *mut c_char,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (host, text) = unsafe { (arg(host, "host")?, text(desired_json, "desired_json")?) };
        let plan_json_out = out(plan_json_out, "plan_json_out")?;
        plan(host, &desired_from_json(text)?, plan_json_out)
    })
}

/// Brings `host` to `desired` as one transaction, as `qatctl apply` does: takes the lock
/// `lock_path` (NULL: beside a simulated host's state file, else `/run/qatkit.lock`), plans,
/// applies, and on a failing step rolls back. `QATKIT_OK` means the transaction ran: its report
/// (as `qatctl apply --json` prints it) goes to `report_json_out` and whether it succeeded to
/// `ok_out` (false: rolled back; the report says what failed and what was undone). A bad or
/// impossible request, a VFIO user in the way or a lock that cannot be taken is an error, and
/// nothing is changed.
///
/// # Safety
/// `host` and `desired` are NULL or live; `desired`'s pointers are as its fields say;
/// `lock_path` is NULL or a NUL-terminated string; the out-parameters are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_apply(
    host: *const qatkit_host,
    desired: *const qatkit_desired,
    lock_path: *const c_char,
    report_json_out: *mut *mut c_char,
    ok_out: *mut bool,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (host, desired, lock) = unsafe {
            (
                arg(host, "host")?,
                arg(desired, "desired")?,
                opt_text(lock_path, "lock_path")?,
            )
        };
        let report_json_out = out(report_json_out, "report_json_out")?;
        let ok_out = out(ok_out, "ok_out")?;
        // SAFETY: the caller's contract for `desired`'s fields.
        let want = unsafe { desired_of(host, desired)? };
        apply(host, &want, lock, report_json_out, ok_out)
    })
}

/// As `qatkit_host_apply`, with the desired state as JSON (see `qatkit_host_plan_json`).
///
/// # Safety
/// As for `qatkit_host_apply`, with `desired_json` NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_apply_json(
    host: *const qatkit_host,
    desired_json: *const c_char,
    lock_path: *const c_char,
    report_json_out: *mut *mut c_char,
    ok_out: *mut bool,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (host, text, lock) = unsafe {
            (
                arg(host, "host")?,
                text(desired_json, "desired_json")?,
                opt_text(lock_path, "lock_path")?,
            )
        };
        let report_json_out = out(report_json_out, "report_json_out")?;
        let ok_out = out(ok_out, "ok_out")?;
        apply(
            host,
            &desired_from_json(text)?,
            lock,
            report_json_out,
            ok_out,
        )
    })
}

/// Disables the VFs of `pfs` (NULL when `pf_count` is 0: every QAT PF), as `qatctl reset`
/// does: the same lock, refusals, rollback and report as `qatkit_host_apply`.
///
/// # Safety
/// `host` is NULL or live; `pfs` holds `pf_count` NUL-terminated strings; `lock_path` is NULL
/// or a NUL-terminated string; the out-parameters are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_reset(
    host: *const qatkit_host,
    pfs: *const *const c_char,
    pf_count: usize,
    force: bool,
    lock_path: *const c_char,
    report_json_out: *mut *mut c_char,
    ok_out: *mut bool,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (host, pfs, lock) = unsafe {
            (
                arg(host, "host")?,
                bdfs(pfs, pf_count, "pfs")?,
                opt_text(lock_path, "lock_path")?,
            )
        };
        let report_json_out = out(report_json_out, "report_json_out")?;
        let ok_out = out(ok_out, "ok_out")?;
        let plan = |found: &Host| provision::plan_reset(found, &pfs, force);
        transaction(host, lock, &pfs, force, plan, report_json_out, ok_out)
    })
}

/// The discovered host, for the domain functions.
pub(crate) fn discover(host: &qatkit_host) -> Result<Host, Failure> {
    Ok(Host::discover(&host.env, &[])?)
}
