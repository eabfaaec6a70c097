//! `SimHost`: an in-memory kernel behind a [`HostEnv`], for tests, demos and benches.
//!
//! It answers reads and writes of sysfs paths from a model of devices, drivers, SR-IOV, QAT
//! attributes and IOMMU groups ([`Kernel`]) with the real kernel's semantics, records every
//! write, can fail chosen writes ([`Fault`]), and persists to a JSON state file so that separate
//! `qatctl --sim STATE.json` commands act on one host.

mod consistency;
mod kernel;
mod presets;
mod state_file;
#[cfg(test)]
mod tests;
mod vfio;

use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::libc;
use serde::{Deserialize, Serialize};

pub use kernel::{
    BLOCKS_FOREVER, DEFAULT_VFIO_ACCESS, Errno, Kernel, Matching, Quirks, SimDevice, SimDriver,
    SimQat, SimSriov,
};
pub use presets::Preset;

use crate::error::{Result, SimError, SysfsError};
use crate::host::{FileAccess, HostEnv, HostFiles, Memlock, OpenFile, ProcessView, paths};
use crate::pci::Bdf;
use state_file::StateFile;

/// One write the host received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRecord {
    /// Host path.
    pub path: PathBuf,
    /// Value written.
    pub value: String,
    /// The errno it failed with, `None` when it succeeded.
    pub errno: Option<Errno>,
}

/// Which writes a fault fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultTrigger {
    /// The Nth write (1-based) after the fault was armed; fires once.
    NthWrite(u64),
    /// Every write to a path ending with this attribute (e.g. `sriov_numvfs`, `qat/state`).
    Attribute(String),
}

/// An armed fault: matching writes fail with `errno` and change nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Which writes.
    pub trigger: FaultTrigger,
    /// The errno they fail with.
    pub errno: Errno,
    /// Number of writes recorded when the fault was armed.
    pub armed_at: u64,
}

/// The simulated host's whole state: what a state file holds (see `state_file` for the format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimState {
    /// The modelled kernel.
    pub kernel: Kernel,
    /// The simulated process that opens VFIO devices: its RLIMIT_MEMLOCK, what it has pinned
    /// besides its DMA mappings, and whether it has CAP_IPC_LOCK.
    pub process: Memlock,
    /// Every write received, in order.
    pub writes: Vec<WriteRecord>,
    /// Armed faults.
    pub faults: Vec<Fault>,
}

impl Default for SimState {
    fn default() -> Self {
        SimState {
            kernel: Kernel::default(),
            process: root_process(),
            writes: Vec::new(),
            faults: Vec::new(),
        }
    }
}

/// A process run by root on a Debian host: the default 8 MiB RLIMIT_MEMLOCK, nothing pinned,
/// and CAP_IPC_LOCK, which lifts the limit.
fn root_process() -> Memlock {
    Memlock {
        limit: Some(8 << 20),
        locked: 0,
        cap_ipc_lock: true,
    }
}

impl SimState {
    /// Reads a state file's text: JSON of the right shape whose kernel model could be a real
    /// host ([`Kernel::validate`]).
    pub fn from_json(
        text: &str,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let file: StateFile = serde_json::from_str(text)?;
        if file.version() != state_file::VERSION {
            return Err(format!(
                "it is state file version {}; this qatkit reads version {}",
                file.version(),
                state_file::VERSION
            )
            .into());
        }
        let state = SimState::from(file);
        state
            .kernel
            .validate()
            .map_err(|why| format!("the host it describes cannot exist: {why}"))?;
        Ok(state)
    }

    /// The state file's text (pretty JSON, versioned).
    pub fn to_json(&self) -> String {
        // The file types hold strings, numbers and maps with string keys only.
        serde_json::to_string_pretty(&StateFile::from(self)).expect("state files serialize")
    }
}

/// The simulated host's shared core: the model behind every part of its [`HostEnv`].
#[derive(Debug, Default)]
struct Sim {
    state: Mutex<SimState>,
    /// Open VFIO handles (not part of the state file: they die with the process, like fds).
    vfio: Mutex<vfio::Handles>,
    /// Devices reset through VFIO (`VFIO_DEVICE_RESET`), in order; not in the state file either.
    resets: Mutex<Vec<Bdf>>,
}

/// The simulated host: a [`HostEnv`] (it dereferences to one, so it goes wherever a
/// `&HostEnv` goes) whose files, VFIO and process are an in-memory kernel, plus the controls
/// of the simulation. Clones share one host.
#[derive(Debug, Clone)]
pub struct SimHost {
    sim: Arc<Sim>,
    env: HostEnv,
}

impl Default for SimHost {
    fn default() -> Self {
        SimHost::from_state(SimState::default())
    }
}

impl std::ops::Deref for SimHost {
    type Target = HostEnv;
    fn deref(&self) -> &HostEnv {
        &self.env
    }
}

impl SimHost {
    /// A host with this kernel and no history.
    pub fn new(kernel: Kernel) -> Self {
        SimHost::from_state(SimState {
            kernel,
            ..SimState::default()
        })
    }

    /// A host from a saved state.
    pub fn from_state(state: SimState) -> Self {
        let sim = Arc::new(Sim {
            state: Mutex::new(state),
            vfio: Mutex::default(),
            resets: Mutex::default(),
        });
        let env = HostEnv::new(sim.clone(), sim.clone(), sim.clone());
        SimHost { sim, env }
    }

    /// The host as a [`HostEnv`], to keep or pass on.
    pub fn env(&self) -> &HostEnv {
        &self.env
    }

    /// A preset host with `pfs` PFs (see [`Preset`]).
    pub fn preset(preset: Preset, pfs: usize) -> Self {
        SimHost::new(preset.build(pfs))
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.sim.lock()
    }

    /// Loads a state file.
    pub fn load(path: &Path) -> Result<Self> {
        let state_error = |source: Box<dyn std::error::Error + Send + Sync>| SimError::Load {
            path: path.to_owned(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(|e| state_error(e.into()))?;
        let state = SimState::from_json(&text).map_err(state_error)?;
        Ok(SimHost::from_state(state))
    }

    /// Saves to a state file atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let state_error = |source: Box<dyn std::error::Error + Send + Sync>| SimError::Save {
            path: path.to_owned(),
            source,
        };
        let text = self.lock().to_json();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, text + "\n").map_err(|e| state_error(e.into()))?;
        Ok(std::fs::rename(&tmp, path).map_err(|e| state_error(e.into()))?)
    }

    /// A copy of the whole state.
    pub fn state(&self) -> SimState {
        self.lock().clone()
    }

    /// A copy of the modelled kernel, for comparing hosts.
    pub fn kernel(&self) -> Kernel {
        self.sim.kernel()
    }

    /// Changes the model directly (no write is recorded): for test setup.
    pub fn with_kernel<T>(&self, f: impl FnOnce(&mut Kernel) -> T) -> T {
        self.sim.with_kernel(f)
    }

    /// Sets the simulated process's locked-memory situation (its DMA mappings add to `locked`).
    pub fn set_process(&self, process: Memlock) {
        self.lock().process = process;
    }

    /// Every write received so far.
    pub fn writes(&self) -> Vec<WriteRecord> {
        self.lock().writes.clone()
    }

    /// Every device reset through VFIO so far, in order (this process's handles only).
    pub fn resets(&self) -> Vec<Bdf> {
        self.sim
            .resets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Arms a fault.
    pub fn inject(&self, trigger: FaultTrigger, errno: Errno) {
        let mut state = self.lock();
        let armed_at = state.writes.len() as u64;
        state.faults.push(Fault {
            trigger,
            errno,
            armed_at,
        });
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Marks a VF as held by a VFIO user (a process with its group or device open).
    pub fn hold(&self, vf: Bdf, pid: u32) -> Result<()> {
        let mut state = self.lock();
        let dev = state
            .kernel
            .devices
            .get(&vf)
            .ok_or(SysfsError::NoSuchDevice(vf))?;
        if dev.physfn.is_none() {
            return Err(SimError::NotAVf(vf).into());
        }
        state.kernel.holders.insert(vf, pid);
        Ok(())
    }

    /// The VFIO user lets go of a VF.
    pub fn release(&self, vf: Bdf) {
        self.lock().kernel.holders.remove(&vf);
    }
}

impl Sim {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A panic while holding the lock cannot leave the model half-written in a way that
        // matters more than the panic itself; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn vfio_handles(&self) -> MutexGuard<'_, vfio::Handles> {
        self.vfio.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn kernel(&self) -> Kernel {
        self.lock().kernel.clone()
    }

    fn with_kernel<T>(&self, f: impl FnOnce(&mut Kernel) -> T) -> T {
        f(&mut self.lock().kernel)
    }

    /// Runs one write against the model unless an armed fault fails it, and records it.
    fn record_write(
        &self,
        path: &Path,
        value: String,
        apply: impl FnOnce(&mut Kernel) -> Result<(), Errno>,
    ) -> io::Result<()> {
        let mut state = self.lock();
        let index = state.writes.len() as u64;
        let fired = state.faults.iter().position(|f| match &f.trigger {
            FaultTrigger::NthWrite(n) => index + 1 == f.armed_at + n,
            FaultTrigger::Attribute(attr) => path.ends_with(attr),
        });
        let result = match fired {
            Some(i) => {
                let errno = state.faults[i].errno;
                if matches!(state.faults[i].trigger, FaultTrigger::NthWrite(_)) {
                    state.faults.remove(i);
                }
                Err(errno)
            }
            None => apply(&mut state.kernel),
        };
        state.writes.push(WriteRecord {
            path: path.to_owned(),
            value,
            errno: result.err(),
        });
        result.map_err(io::Error::from_raw_os_error)
    }
}

/// The parts of a path under `/sys/bus/pci/devices/<bdf>/...` or `/sys/bus/pci/drivers/<d>/...`.
fn parts(path: &Path) -> Vec<&str> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect()
}

fn route_write(kernel: &mut Kernel, path: &Path, value: &str) -> Result<(), Errno> {
    match parts(path).as_slice() {
        ["sys", "bus", "pci", "drivers_probe"] => kernel.write_drivers_probe(value),
        ["sys", "bus", "pci", "drivers", driver, op] if kernel.drivers.contains_key(*driver) => {
            match *op {
                "bind" => kernel.write_bind(driver, value),
                "unbind" => kernel.write_unbind(driver, value),
                _ => Err(libc::ENOENT),
            }
        }
        ["sys", "bus", "pci", "devices", bdf, rest @ ..] => {
            let bdf: Bdf = bdf.parse().map_err(|_| libc::ENOENT)?;
            if !kernel.devices.contains_key(&bdf) {
                return Err(libc::ENOENT);
            }
            let has_sriov = kernel.devices[&bdf].sriov.is_some();
            match rest {
                ["sriov_numvfs"] if has_sriov => kernel.write_numvfs(bdf, value),
                ["sriov_drivers_autoprobe"] if has_sriov => kernel.write_autoprobe(bdf, value),
                ["driver_override"] => kernel.write_override(bdf, value),
                // `<dev>/driver` is a link to the bound driver's directory.
                ["driver", "unbind"] => match kernel.devices[&bdf].driver.clone() {
                    Some(driver) => kernel.write_unbind(&driver, value),
                    None => Err(libc::ENOENT),
                },
                ["qat", attr] => kernel.write_qat(bdf, attr, value),
                ["qat_ras", attr] => kernel.write_ras(bdf, attr, value),
                [
                    "vendor" | "device" | "numa_node" | "sriov_totalvfs" | "sriov_offset"
                    | "sriov_stride" | "reset_method",
                ] => Err(libc::EACCES),
                _ => Err(libc::ENOENT),
            }
        }
        _ => Err(libc::ENOENT),
    }
}

fn not_found() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOENT)
}

/// What a path is in the model: a file's content, a link's target or a directory's entries.
enum Node {
    File(String),
    Link(PathBuf),
    Dir(Vec<String>),
}

fn device_node(kernel: &Kernel, bdf: Bdf, rest: &[&str]) -> Option<Node> {
    let dev = kernel.devices.get(&bdf)?;
    let file = |s: String| Some(Node::File(s + "\n"));
    let sriov = dev.sriov.as_ref();
    let qat = dev.qat.as_ref();
    match rest {
        [] => {
            let mut names: Vec<String> = ["vendor", "device", "numa_node", "driver_override"]
                .map(String::from)
                .to_vec();
            names.push("iommu_group".into());
            if dev.driver.is_some() {
                names.push("driver".into());
            }
            if dev.physfn.is_some() {
                names.extend(["physfn".into(), "reset_method".into()]);
            }
            if let Some(s) = sriov {
                names.extend(
                    [
                        "sriov_totalvfs",
                        "sriov_numvfs",
                        "sriov_drivers_autoprobe",
                        "sriov_offset",
                        "sriov_stride",
                    ]
                    .map(String::from),
                );
                names.extend((0..s.num).map(|i| format!("virtfn{i}")));
            }
            if qat.is_some() {
                names.extend(["qat".into(), "qat_ras".into()]);
            }
            names.sort();
            Some(Node::Dir(names))
        }
        ["vendor"] => file(format!("0x{:04x}", dev.vendor)),
        ["device"] => file(format!("0x{:04x}", dev.device)),
        ["numa_node"] => file(dev.numa_node.to_string()),
        ["driver_override"] => file(
            dev.driver_override
                .clone()
                .unwrap_or_else(|| "(null)".into()),
        ),
        ["reset_method"] if dev.physfn.is_some() => file("flr".into()),
        // Listed whenever the device is bound to VFIO, as on kernels without iommufd too.
        ["vfio-dev"] if kernel.is_vfio_bound(bdf) => {
            Some(Node::Dir(vec![format!("vfio{}", dev.iommu_group)]))
        }
        ["driver"] => dev
            .driver
            .as_ref()
            .map(|d| Node::Link(PathBuf::from(format!("../../../bus/pci/drivers/{d}")))),
        ["iommu_group"] => Some(Node::Link(PathBuf::from(format!(
            "../../../kernel/iommu_groups/{}",
            dev.iommu_group
        )))),
        ["physfn"] => dev
            .physfn
            .map(|pf| Node::Link(PathBuf::from(format!("../{pf}")))),
        [link] if link.starts_with("virtfn") => {
            let index: u16 = link["virtfn".len()..].parse().ok()?;
            let s = sriov?;
            (index < s.num)
                .then(|| bdf.virtfn(s.offset, s.stride, index))
                .flatten()
                .map(|vf| Node::Link(PathBuf::from(format!("../{vf}"))))
        }
        ["sriov_totalvfs"] => file(sriov?.total.to_string()),
        ["sriov_numvfs"] => file(sriov?.num.to_string()),
        ["sriov_drivers_autoprobe"] => file(u8::from(sriov?.autoprobe).to_string()),
        ["sriov_offset"] => file(sriov?.offset.to_string()),
        ["sriov_stride"] => file(sriov?.stride.to_string()),
        ["qat"] => qat.map(|_| {
            Node::Dir(
                [
                    "auto_reset",
                    "cfg_services",
                    "num_rps",
                    "pm_idle_enabled",
                    "rp2srv",
                    "state",
                ]
                .map(String::from)
                .to_vec(),
            )
        }),
        ["qat", "state"] => file(qat?.state.to_string()),
        ["qat", "cfg_services"] => file(qat?.cfg_services.clone()),
        ["qat", "auto_reset"] => file(if qat?.auto_reset { "on" } else { "off" }.into()),
        ["qat", "pm_idle_enabled"] => file(u8::from(qat?.pm_idle_enabled).to_string()),
        ["qat", "rp2srv"] => file(qat?.rp2srv.clone()),
        ["qat", "num_rps"] => file(qat?.num_rps.to_string()),
        ["qat_ras", "errors_correctable"] => file(qat?.ras[0].to_string()),
        ["qat_ras", "errors_nonfatal"] => file(qat?.ras[1].to_string()),
        ["qat_ras", "errors_fatal"] => file(qat?.ras[2].to_string()),
        _ => None,
    }
}

fn node(kernel: &Kernel, path: &Path) -> Option<Node> {
    match parts(path).as_slice() {
        ["sys", "bus", "pci", "devices"] => Some(Node::Dir(
            kernel.devices.keys().map(Bdf::to_string).collect(),
        )),
        ["sys", "bus", "pci", "devices", bdf, rest @ ..] => {
            device_node(kernel, bdf.parse().ok()?, rest)
        }
        ["sys", "bus", "pci", "drivers"] => {
            Some(Node::Dir(kernel.drivers.keys().cloned().collect()))
        }
        ["sys", "bus", "pci", "drivers", driver] => kernel
            .drivers
            .contains_key(*driver)
            .then(|| Node::Dir(vec!["bind".into(), "unbind".into()])),
        ["sys", "kernel", "iommu_groups", group, "devices"] => {
            let group: u32 = group.parse().ok()?;
            let members: Vec<String> = kernel.group_members(group).map(|b| b.to_string()).collect();
            (!members.is_empty()).then_some(Node::Dir(members))
        }
        [
            "sys",
            "module",
            "vfio_pci",
            "parameters",
            "disable_denylist",
        ] => kernel.drivers.contains_key("vfio-pci").then(|| {
            Node::File(
                if kernel.quirks.vfio_disable_denylist {
                    "Y\n"
                } else {
                    "N\n"
                }
                .into(),
            )
        }),
        ["sys", "kernel", "debug", dir, "heartbeat", "status"] => {
            let (driver, bdf) = dir.strip_prefix("qat_")?.rsplit_once('_')?;
            let dev = kernel.devices.get(&bdf.parse().ok()?)?;
            (dev.driver.as_deref() == Some(driver))
                .then_some(dev.qat.as_ref())
                .flatten()
                .map(|q| Node::File(format!("{}\n", q.heartbeat)))
        }
        ["dev", "vfio"] => Some(Node::Dir(
            std::iter::once("vfio".to_owned())
                .chain(kernel.vfio_nodes.keys().map(u32::to_string))
                .collect(),
        )),
        ["dev", "vfio", "vfio"] => Some(Node::File(String::new())),
        ["dev", "iommu"] if kernel.quirks.iommufd => Some(Node::File(String::new())),
        ["dev", "vfio", "devices"] if kernel.quirks.iommufd => Some(Node::Dir(
            kernel
                .vfio_nodes
                .keys()
                .filter_map(|g| kernel.cdev_device(*g).map(|_| format!("vfio{g}")))
                .collect(),
        )),
        ["dev", "vfio", "devices", cdev] => {
            let n: u32 = cdev.strip_prefix("vfio")?.parse().ok()?;
            kernel.cdev_device(n).map(|_| Node::File(String::new()))
        }
        ["dev", "vfio", group] => kernel
            .vfio_nodes
            .contains_key(&group.parse().ok()?)
            .then(|| Node::File(String::new())),
        _ => None,
    }
}

impl HostFiles for Sim {
    fn read(&self, path: &Path) -> io::Result<String> {
        match node(&self.lock().kernel, path) {
            Some(Node::File(text)) => Ok(text),
            Some(Node::Dir(_)) => Err(io::Error::from_raw_os_error(libc::EISDIR)),
            Some(Node::Link(_)) | None => Err(not_found()),
        }
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        self.live_vfio_handles();
        self.record_write(path, value.to_owned(), |kernel| {
            route_write(kernel, path, value)
        })
    }

    fn read_link(&self, path: &Path) -> io::Result<Option<PathBuf>> {
        Ok(match node(&self.lock().kernel, path) {
            Some(Node::Link(target)) => Some(target),
            _ => None,
        })
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        Ok(match node(&self.lock().kernel, path) {
            Some(Node::Dir(names)) => names,
            _ => Vec::new(),
        })
    }

    fn exists(&self, path: &Path) -> bool {
        node(&self.lock().kernel, path).is_some()
    }

    fn access(&self, path: &Path) -> io::Result<Option<FileAccess>> {
        let kernel = &self.lock().kernel;
        Ok(match parts(path).as_slice() {
            ["dev", "vfio", group] => group
                .parse()
                .ok()
                .and_then(|g: u32| kernel.vfio_nodes.get(&g).copied()),
            _ => node(kernel, path).map(|_| FileAccess {
                uid: 0,
                gid: 0,
                mode: 0o644,
            }),
        })
    }

    fn set_access(&self, path: &Path, uid: Option<u32>, gid: u32, mode: u32) -> io::Result<()> {
        self.record_write(
            path,
            format!("gid {gid} mode {mode:o}"),
            |kernel| match parts(path).as_slice() {
                ["dev", "vfio", group] => group
                    .parse::<u32>()
                    .ok()
                    .and_then(|g| kernel.vfio_nodes.get_mut(&g))
                    .map(|node| {
                        node.uid = uid.unwrap_or(node.uid);
                        node.gid = gid;
                        node.mode = mode & 0o7777;
                    })
                    .ok_or(libc::ENOENT),
                _ => Err(libc::EPERM),
            },
        )
    }

    fn open_files(&self) -> io::Result<Vec<OpenFile>> {
        let own = self.live_vfio_handles();
        let kernel = &self.lock().kernel;
        let me = std::process::id();
        let mut files = Vec::new();
        let mut push = |pid: u32, target: PathBuf| {
            let fd = files.len().to_string();
            files.push(OpenFile { pid, fd, target });
        };
        // A VF marked held looks like QEMU holding it: its group fd and a device fd.
        for (vf, pid) in kernel.holders.iter().filter(|(_, pid)| **pid != me) {
            if let Some(dev) = kernel.devices.get(vf) {
                push(*pid, paths::vfio_group_node(dev.iommu_group));
                push(*pid, VFIO_DEVICE_FD.into());
            }
        }
        // This process's own simulated VFIO descriptors.
        for target in own {
            push(me, target);
        }
        Ok(files)
    }

    fn group_id(&self, name: &str) -> io::Result<Option<u32>> {
        Ok(self.lock().kernel.groups.get(name).copied())
    }
}

impl ProcessView for Sim {
    /// The simulated process's limit and capability, with what its open DMA mappings pin.
    fn memlock(&self) -> Memlock {
        let base = self.lock().process;
        Memlock {
            locked: base.locked.saturating_add(self.pinned_bytes()),
            ..base
        }
    }
}

/// What a VFIO device fd's link reads in `/proc/<pid>/fd` (the model gives no fdinfo, as older
/// kernels did not).
pub(super) const VFIO_DEVICE_FD: &str = "anon_inode:[vfio-device]";
