//! A builder for fixture trees shaped like a real host's `/sys`, `/dev` and `/proc`.
//!
//! Device directories live under `sys/devices/pci<domain>:<bus>/...` (nested below their bridges),
//! and everything else reaches them through relative symbolic links, as the kernel lays them out:
//! `sys/bus/pci/devices/<bdf>`, `driver`, `iommu_group`, `subsystem`, `virtfnN`, `physfn` and the
//! IOMMU group's `devices/<bdf>`. Attributes end with a newline, as the kernel prints them. Every
//! link is checked to resolve inside the fixture when it is made, so a wrong depth fails at once.

// Each integration test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};

use qat_vf::host::FileAccess;
use qat_vf::{Bdf, Host, HostEnv};

/// Parses a PCI address written in a test.
pub(crate) fn bdf(text: &str) -> Bdf {
    text.parse()
        .unwrap_or_else(|e| panic!("bad BDF {text:?} in a test: {e}"))
}

/// The address of SR-IOV VF `index`, computed here independently of `Bdf::virtfn`:
/// VF routing id = PF routing id + offset + index × stride.
fn vf_address(pf: &str, offset: u32, stride: u32, index: u32) -> String {
    let (domain, rest) = pf.split_once(':').expect("full BDF");
    let (bus, rest) = rest.split_once(':').expect("full BDF");
    let (device, function) = rest.split_once('.').expect("full BDF");
    let hex = |s| u32::from_str_radix(s, 16).expect("hex");
    let rid = (hex(bus) << 8 | hex(device) << 3 | hex(function)) + offset + index * stride;
    assert!(rid <= 0xffff, "VF {index} of {pf} falls off the bus range");
    format!(
        "{domain}:{:02x}:{:02x}.{:x}",
        rid >> 8,
        (rid >> 3) & 0x1f,
        rid & 7
    )
}

/// `../` repeated to climb from inside directory `rel` (relative to the root) up to `sys/`.
fn up_to_sys(rel: &str) -> String {
    let depth = Path::new(rel).components().count();
    assert!(
        rel.starts_with("sys/") && depth >= 2,
        "{rel} is not under sys/"
    );
    "../".repeat(depth - 1)
}

/// A fixture root in a temporary directory, removed on drop.
pub(crate) struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// An empty host: the sysfs skeleton, `/dev` and `/proc`, no devices.
    pub(crate) fn new() -> Self {
        let fx = Fixture {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        };
        for dir in [
            "sys/devices",
            "sys/bus/pci/devices",
            "sys/bus/pci/drivers",
            "sys/kernel/iommu_groups",
            "sys/module",
            "dev",
            "proc",
        ] {
            fx.mkdir(dir);
        }
        fx.write("sys/bus/pci/drivers_probe", "");
        fx
    }

    /// The fixture's `/`.
    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A [`HostEnv`] reading this fixture.
    pub(crate) fn sysfs(&self) -> HostEnv {
        HostEnv::with_root(self.root())
    }

    /// Runs discovery with the given explicitly named PFs.
    pub(crate) fn discover(&self, named: &[&str]) -> qat_vf::Result<Host> {
        let named: Vec<Bdf> = named.iter().map(|s| bdf(s)).collect();
        Host::discover(&self.sysfs(), &named)
    }

    fn path(&self, rel: &str) -> PathBuf {
        assert!(
            !rel.starts_with('/'),
            "{rel}: fixture paths are relative to the root"
        );
        self.root().join(rel)
    }

    /// Creates a directory and its parents.
    pub(crate) fn mkdir(&self, rel: &str) {
        let path = self.path(rel);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    }

    /// Writes a file verbatim (no newline added), creating its parents.
    pub(crate) fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().expect("has a parent")).expect("create parents");
        fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Makes `rel` a symbolic link to `target` (as stored: usually relative) and checks that it
    /// resolves to something inside the fixture.
    pub(crate) fn link(&self, rel: &str, target: &str) {
        self.link_unchecked(rel, target);
        let path = self.path(rel);
        let resolved = fs::canonicalize(&path)
            .unwrap_or_else(|e| panic!("{rel} -> {target} does not resolve: {e}"));
        let root = fs::canonicalize(self.root()).expect("canonical root");
        assert!(
            resolved.starts_with(&root),
            "{rel} -> {target} leaves the fixture"
        );
    }

    /// Makes a symbolic link without checking its target (for `/proc/<pid>/fd`, whose targets
    /// are host paths such as `/dev/vfio/12`).
    fn link_unchecked(&self, rel: &str, target: &str) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().expect("has a parent")).expect("create parents");
        symlink(target, &path).unwrap_or_else(|e| panic!("link {rel} -> {target}: {e}"));
    }

    /// A loaded PCI driver: `sys/bus/pci/drivers/<name>/` with its write-only control files.
    pub(crate) fn driver(&self, name: &str) {
        let dir = format!("sys/bus/pci/drivers/{name}");
        if self.path(&dir).exists() {
            return;
        }
        for file in ["bind", "unbind", "new_id", "remove_id"] {
            let rel = format!("{dir}/{file}");
            self.write(&rel, "");
            fs::set_permissions(self.path(&rel), fs::Permissions::from_mode(0o200)).expect("chmod");
        }
    }

    /// A device on a root bus: `sys/devices/pci<domain>:<bus>/<bdf>`.
    pub(crate) fn device(&self, bdf: &str, vendor: u16, device: u16) -> Dev<'_> {
        let root_bus = bdf.rsplit_once(':').expect("full BDF").0;
        Dev::create(
            self,
            &format!("sys/devices/pci{root_bus}/{bdf}"),
            bdf,
            vendor,
            device,
        )
    }

    /// `vfio_pci.disable_denylist` as the module prints it (`Y` or `N`).
    pub(crate) fn vfio_pci_disable_denylist(&self, value: &str) {
        self.write(
            "sys/module/vfio_pci/parameters/disable_denylist",
            &format!("{value}\n"),
        );
    }

    /// `/dev/vfio/<group>` with the given mode; returns its owner and mode as discovery should
    /// report them.
    pub(crate) fn vfio_group_node(&self, group: u32, mode: u32) -> FileAccess {
        let rel = format!("dev/vfio/{group}");
        self.write("dev/vfio/vfio", "");
        self.write(&rel, "");
        let path = self.path(&rel);
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        let meta = fs::metadata(&path).expect("stat");
        FileAccess {
            uid: meta.uid(),
            gid: meta.gid(),
            mode,
        }
    }

    /// A process with open files: `proc/<pid>/fd/<n> -> target`, numbered from 3 (0–2 are the
    /// terminal), as `ls -l /proc/<pid>/fd` shows them.
    pub(crate) fn process(&self, pid: u32, targets: &[&str]) {
        self.write(&format!("proc/{pid}/comm"), "qemu-system-x86\n");
        for (fd, target) in ["/dev/pts/0"; 3].iter().chain(targets).enumerate() {
            self.link_unchecked(&format!("proc/{pid}/fd/{fd}"), target);
        }
    }
}

/// One PCI device directory in a [`Fixture`]. Methods add attributes and links and return `&Self`
/// so that a device is described in one chain.
pub(crate) struct Dev<'a> {
    fx: &'a Fixture,
    bdf: String,
    /// The real directory, relative to the root: `sys/devices/pci0000:6b/0000:6b:00.0`.
    dir: String,
}

impl<'a> Dev<'a> {
    fn create(fx: &'a Fixture, dir: &str, bdf: &str, vendor: u16, device: u16) -> Dev<'a> {
        let dev = Dev {
            fx,
            bdf: bdf.to_owned(),
            dir: dir.to_owned(),
        };
        fx.mkdir(&format!("{dir}/power"));
        dev.attr("vendor", &format!("0x{vendor:04x}"))
            .attr("device", &format!("0x{device:04x}"))
            .attr("enable", "1")
            .attr("numa_node", "0")
            .attr("driver_override", "(null)");
        fx.write(&format!("{dir}/config"), &"\0".repeat(256));
        fx.link(
            &format!("{dir}/subsystem"),
            &format!("{}bus/pci", up_to_sys(dir)),
        );
        fx.link(
            &format!("sys/bus/pci/devices/{bdf}"),
            &format!("../../../{}", &dir[4..]),
        );
        dev
    }

    /// The real directory, relative to the fixture root.
    pub(crate) fn dir(&self) -> &str {
        &self.dir
    }

    /// A device on the secondary bus of this bridge: a directory below this one.
    pub(crate) fn child(&self, bdf: &str, vendor: u16, device: u16) -> Dev<'a> {
        Dev::create(self.fx, &format!("{}/{bdf}", self.dir), bdf, vendor, device)
    }

    /// An attribute, written with the trailing newline the kernel prints.
    pub(crate) fn attr(&self, name: &str, value: &str) -> &Self {
        self.fx
            .write(&format!("{}/{name}", self.dir), &format!("{value}\n"));
        self
    }

    /// `numa_node` (`-1` when the firmware gives none).
    pub(crate) fn numa_node(&self, node: i32) -> &Self {
        self.attr("numa_node", &node.to_string())
    }

    /// Binds to a driver: the `driver` link, and the driver directory's link back.
    pub(crate) fn driver(&self, name: &str) -> &Self {
        self.fx.driver(name);
        let up = up_to_sys(&self.dir);
        self.fx.link(
            &format!("{}/driver", self.dir),
            &format!("{up}bus/pci/drivers/{name}"),
        );
        self.fx.link(
            &format!("sys/bus/pci/drivers/{name}/{}", self.bdf),
            &format!("../../../../{}", &self.dir[4..]),
        );
        self
    }

    /// `driver_override`.
    pub(crate) fn driver_override(&self, name: &str) -> &Self {
        self.attr("driver_override", name)
    }

    /// Puts the device in an IOMMU group: its `iommu_group` link and the group's `devices` link.
    pub(crate) fn iommu_group(&self, group: u32) -> &Self {
        let group_dir = format!("sys/kernel/iommu_groups/{group}");
        self.fx.write(&format!("{group_dir}/type"), "DMA-FQ\n");
        self.fx.write(
            &format!("{group_dir}/reserved_regions"),
            "0x00000000fee00000 0x00000000feefffff msi\n",
        );
        self.fx.link(
            &format!("{group_dir}/devices/{}", self.bdf),
            &format!("../../../../{}", &self.dir[4..]),
        );
        let up = up_to_sys(&self.dir);
        self.fx.link(
            &format!("{}/iommu_group", self.dir),
            &format!("{up}kernel/iommu_groups/{group}"),
        );
        self
    }

    /// The SR-IOV capability with no VFs enabled and autoprobe on.
    pub(crate) fn sriov(&self, total: u16, offset: u16, stride: u16) -> &Self {
        self.attr("sriov_totalvfs", &total.to_string())
            .attr("sriov_numvfs", "0")
            .attr("sriov_drivers_autoprobe", "1")
            .attr("sriov_offset", &offset.to_string())
            .attr("sriov_stride", &stride.to_string())
    }

    /// Enables `count` VFs with PCI device id `vf_device`, at the addresses offset and stride
    /// give, as siblings of the PF (`virtfnK -> ../<vf>`, `physfn -> ../<pf>`). They start
    /// unbound, with the PF's vendor and NUMA node. Call after [`Dev::sriov`].
    pub(crate) fn enable_vfs(&self, count: u16, vf_device: u16) -> Vec<Dev<'a>> {
        let read = |name: &str| -> String {
            fs::read_to_string(self.fx.path(&format!("{}/{name}", self.dir)))
                .unwrap_or_else(|e| panic!("{}: {name}: {e}", self.bdf))
                .trim_end()
                .to_owned()
        };
        let (offset, stride) = (
            read("sriov_offset").parse().unwrap(),
            read("sriov_stride").parse().unwrap(),
        );
        let vendor = u16::from_str_radix(read("vendor").trim_start_matches("0x"), 16).unwrap();
        let numa = read("numa_node");
        let parent = self
            .dir
            .rsplit_once('/')
            .expect("device dir has a parent")
            .0;
        let vfs: Vec<Dev<'a>> = (0..u32::from(count))
            .map(|index| {
                let vf_bdf = vf_address(&self.bdf, offset, stride, index);
                let vf = Dev::create(
                    self.fx,
                    &format!("{parent}/{vf_bdf}"),
                    &vf_bdf,
                    vendor,
                    vf_device,
                );
                vf.attr("numa_node", &numa);
                self.fx
                    .link(&format!("{}/physfn", vf.dir), &format!("../{}", self.bdf));
                self.fx.link(
                    &format!("{}/virtfn{index}", self.dir),
                    &format!("../{vf_bdf}"),
                );
                vf
            })
            .collect();
        self.attr("sriov_numvfs", &count.to_string());
        vfs
    }

    /// The QAT PF directory `qat/` (gen4 and later) with `state` and `cfg_services`.
    pub(crate) fn qat(&self, state: &str, services: &str) -> &Self {
        self.attr("qat/state", state)
            .attr("qat/cfg_services", services)
            .attr("qat/pm_idle_enabled", "1")
            .attr("qat/num_rps", "64")
            .attr("qat/rp2srv", "sym")
    }

    /// `qat/auto_reset` (`on`/`off`; newer kernels only).
    pub(crate) fn auto_reset(&self, value: &str) -> &Self {
        self.attr("qat/auto_reset", value)
    }

    /// `qat_ras/errors_{correctable,nonfatal,fatal}` and the write-only reset file.
    pub(crate) fn ras(&self, correctable: u64, nonfatal: u64, fatal: u64) -> &Self {
        self.attr("qat_ras/errors_correctable", &correctable.to_string())
            .attr("qat_ras/errors_nonfatal", &nonfatal.to_string())
            .attr("qat_ras/errors_fatal", &fatal.to_string());
        let reset = format!("{}/qat_ras/reset_error_counters", self.dir);
        self.fx.write(&reset, "");
        fs::set_permissions(self.fx.path(&reset), fs::Permissions::from_mode(0o200))
            .expect("chmod");
        self
    }

    /// The debugfs heartbeat: `sys/kernel/debug/qat_<class>_<bdf>/heartbeat/status`.
    pub(crate) fn heartbeat(&self, class: &str, status: &str) -> &Self {
        let dir = format!("sys/kernel/debug/qat_{class}_{}", self.bdf);
        self.fx
            .write(&format!("{dir}/heartbeat/status"), &format!("{status}\n"));
        self.fx
            .write(&format!("{dir}/heartbeat/queries_sent"), "42\n");
        self.fx
            .write(&format!("{dir}/heartbeat/queries_failed"), "0\n");
        self.fx.write(&format!("{dir}/frequency"), "1000000000\n");
        self
    }

    /// The VFIO device's `vfio-dev/<name>` directory (present with vfio-pci, cdev or not).
    pub(crate) fn vfio_dev(&self, name: &str) -> &Self {
        self.fx.mkdir(&format!("{}/vfio-dev/{name}", self.dir));
        self
    }
}
