//! The one door to the host kernel's files: sysfs, debugfs, `/dev/vfio` and `/proc/*/fd`.
//!
//! Every access goes through [`Sysfs`], so the same code runs on a real host ([`HostSysfs`] with
//! root `/`), on a fixture directory ([`HostSysfs`] with another root) and on the simulated host
//! (`sim::SimHost`). Paths are absolute host paths built by [`paths`]; nothing else spells them.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Owner group and permission bits of a file such as `/dev/vfio/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileAccess {
    /// Owning user id.
    pub uid: u32,
    /// Owning group id.
    pub gid: u32,
    /// Permission bits (`0o660`).
    pub mode: u32,
}

/// A file a process has open, from `/proc/<pid>/fd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFile {
    /// The process.
    pub pid: u32,
    /// What the descriptor points at, e.g. `/dev/vfio/12`.
    pub target: PathBuf,
}

/// Reads and writes of the host's kernel interfaces, under some root.
pub trait Sysfs {
    /// Reads a file's whole content.
    fn read(&self, path: &Path) -> Result<String>;
    /// Writes `value` to an attribute in one `write(2)`, as `echo -n value >` would.
    fn write(&self, path: &Path, value: &str) -> Result<()>;
    /// Target of a symbolic link, as stored (usually relative); `None` when there is no link.
    fn read_link(&self, path: &Path) -> Result<Option<PathBuf>>;
    /// Names of the entries of a directory, sorted; empty when it does not exist.
    fn list(&self, path: &Path) -> Result<Vec<String>>;
    /// Whether anything exists at the path.
    fn exists(&self, path: &Path) -> bool;
    /// Owner and mode of a file; `None` when it does not exist.
    fn access(&self, path: &Path) -> Result<Option<FileAccess>>;
    /// Sets the owner (when `uid` is given), group and permission bits of a file.
    fn set_access(&self, path: &Path, uid: Option<u32>, gid: u32, mode: u32) -> Result<()>;
    /// Every file that any process has open (`/proc/*/fd/*`), for finding VFIO users.
    fn open_files(&self) -> Result<Vec<OpenFile>>;
    /// The numeric id of a group name, from the host's group database.
    fn group_id(&self, name: &str) -> Result<Option<u32>>;

    /// Reads a file and trims the trailing newline and spaces.
    fn read_trimmed(&self, path: &Path) -> Result<String> {
        Ok(self.read(path)?.trim_end().to_owned())
    }

    /// Reads and parses a file; `None` when it does not exist.
    fn read_opt<T: std::str::FromStr>(&self, path: &Path) -> Result<Option<T>>
    where
        Self: Sized,
    {
        match self.read(path) {
            Ok(text) => {
                let text = text.trim();
                let parsed = text.parse().map_err(|_| Error::Parse {
                    path: path.to_owned(),
                    content: text.to_owned(),
                })?;
                Ok(Some(parsed))
            }
            Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The last component of a link's target (a driver name, a BDF, a group number).
    fn link_name(&self, path: &Path) -> Result<Option<String>> {
        Ok(self.read_link(path)?.and_then(|target| {
            target
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        }))
    }
}

/// The real host (root `/`) or a directory shaped like it (a test fixture).
#[derive(Debug, Clone)]
pub struct HostSysfs {
    root: PathBuf,
}

impl HostSysfs {
    /// The running host.
    pub fn new() -> Self {
        Self::with_root("/")
    }

    /// A host whose `/` is `root`.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        HostSysfs { root: root.into() }
    }

    fn under_root(&self, path: &Path) -> PathBuf {
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }
}

impl Default for HostSysfs {
    fn default() -> Self {
        Self::new()
    }
}

fn read_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Read {
        path: path.to_owned(),
        source,
    }
}

impl Sysfs for HostSysfs {
    fn read(&self, path: &Path) -> Result<String> {
        fs::read_to_string(self.under_root(path)).map_err(read_error(path))
    }

    fn write(&self, path: &Path, value: &str) -> Result<()> {
        let write_error = |source| Error::Write {
            path: path.to_owned(),
            value: value.to_owned(),
            source,
        };
        // No O_CREAT and no truncation: a sysfs attribute either exists or the write is wrong.
        let mut file = fs::OpenOptions::new()
            .write(true)
            .open(self.under_root(path))
            .map_err(write_error)?;
        // One write(2) call, as the kernel treats each call as one store.
        let written = file.write(value.as_bytes()).map_err(write_error)?;
        if written != value.len() {
            return Err(write_error(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write to a sysfs attribute",
            )));
        }
        Ok(())
    }

    fn read_link(&self, path: &Path) -> Result<Option<PathBuf>> {
        match fs::read_link(self.under_root(path)) {
            Ok(target) => Ok(Some(target)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            // EINVAL: the path exists but is not a link (e.g. a fixture's plain file).
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => Ok(None),
            Err(e) => Err(read_error(path)(e)),
        }
    }

    fn list(&self, path: &Path) -> Result<Vec<String>> {
        let entries = match fs::read_dir(self.under_root(path)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(read_error(path)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(read_error(path))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        fs::symlink_metadata(self.under_root(path)).is_ok()
    }

    fn access(&self, path: &Path) -> Result<Option<FileAccess>> {
        match fs::metadata(self.under_root(path)) {
            Ok(meta) => Ok(Some(FileAccess {
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode() & 0o7777,
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(read_error(path)(e)),
        }
    }

    fn set_access(&self, path: &Path, uid: Option<u32>, gid: u32, mode: u32) -> Result<()> {
        let full = self.under_root(path);
        let write_error = |source| Error::Write {
            path: path.to_owned(),
            value: format!("group {gid} mode {mode:o}"),
            source,
        };
        std::os::unix::fs::chown(&full, uid, Some(gid)).map_err(write_error)?;
        fs::set_permissions(&full, fs::Permissions::from_mode(mode)).map_err(write_error)
    }

    fn open_files(&self) -> Result<Vec<OpenFile>> {
        let mut open = Vec::new();
        for pid in self.list(Path::new("/proc"))? {
            let Ok(pid_number) = pid.parse::<u32>() else {
                continue;
            };
            let fd_dir = Path::new("/proc").join(&pid).join("fd");
            // Processes come and go, and other users' fds are unreadable without root: skip those.
            let Ok(fds) = self.list(&fd_dir) else {
                continue;
            };
            for fd in fds {
                let Ok(Some(mut target)) = self.read_link(&fd_dir.join(&fd)) else {
                    continue;
                };
                if target.as_os_str() == crate::holders::VFIO_DEVICE_ANON_INODE {
                    // Newer kernels name a VFIO device fd's device in fdinfo.
                    let fdinfo = Path::new("/proc").join(&pid).join("fdinfo").join(&fd);
                    if let Some(syspath) = self.read(&fdinfo).ok().as_deref().and_then(vfio_syspath)
                    {
                        target = PathBuf::from(syspath);
                    }
                }
                open.push(OpenFile {
                    pid: pid_number,
                    target,
                });
            }
        }
        Ok(open)
    }

    fn group_id(&self, name: &str) -> Result<Option<u32>> {
        if self.root == Path::new("/") {
            // The real host: ask NSS, so groups from LDAP or sssd resolve too.
            return nix::unistd::Group::from_name(name)
                .map(|group| group.map(|g| g.gid.as_raw()))
                .map_err(|errno| Error::Read {
                    path: PathBuf::from("/etc/group"),
                    source: errno.into(),
                });
        }
        let path = Path::new("/etc/group");
        let text = match self.read(path) {
            Ok(text) => text,
            Err(Error::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(parse_group_file(&text, name))
    }
}

/// The device path a VFIO device fd's fdinfo names (`vfio-device-syspath: /sys/devices/...`).
pub fn vfio_syspath(fdinfo: &str) -> Option<&str> {
    fdinfo
        .lines()
        .find_map(|line| line.strip_prefix("vfio-device-syspath:"))
        .map(str::trim)
}

/// Finds `name` in the text of an `/etc/group` file (`name:x:gid:members`).
pub fn parse_group_file(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// Builders for every host path qat-vf touches. Callers pass parsed values only ([`Bdf`],
/// validated driver names, numbers), so no input can walk out of these directories.
///
/// [`Bdf`]: crate::pci::Bdf
pub mod paths {
    use std::path::PathBuf;

    use crate::pci::Bdf;

    /// `/sys/bus/pci/devices`.
    pub const PCI_DEVICES: &str = "/sys/bus/pci/devices";
    /// `/sys/bus/pci/drivers`.
    pub const PCI_DRIVERS: &str = "/sys/bus/pci/drivers";
    /// `/sys/bus/pci/drivers_probe`.
    pub const DRIVERS_PROBE: &str = "/sys/bus/pci/drivers_probe";
    /// vfio-pci's module parameter that lifts its denylist.
    pub const VFIO_PCI_DISABLE_DENYLIST: &str = "/sys/module/vfio_pci/parameters/disable_denylist";

    /// `/sys/bus/pci/devices/<bdf>`.
    pub fn device(bdf: Bdf) -> PathBuf {
        PathBuf::from(PCI_DEVICES).join(bdf.to_string())
    }

    /// An attribute or link of a device: `/sys/bus/pci/devices/<bdf>/<name>`.
    pub fn device_attr(bdf: Bdf, name: &str) -> PathBuf {
        device(bdf).join(name)
    }

    /// A QAT PF attribute: `/sys/bus/pci/devices/<bdf>/qat/<name>`.
    pub fn qat_attr(bdf: Bdf, name: &str) -> PathBuf {
        device(bdf).join("qat").join(name)
    }

    /// A QAT RAS counter: `/sys/bus/pci/devices/<bdf>/qat_ras/<name>`.
    pub fn qat_ras(bdf: Bdf, name: &str) -> PathBuf {
        device(bdf).join("qat_ras").join(name)
    }

    /// `/sys/bus/pci/drivers/<driver>`.
    pub fn driver(driver: &str) -> PathBuf {
        PathBuf::from(PCI_DRIVERS).join(driver)
    }

    /// `/sys/bus/pci/drivers/<driver>/<bind|unbind|...>`.
    pub fn driver_attr(driver: &str, name: &str) -> PathBuf {
        self::driver(driver).join(name)
    }

    /// `/sys/kernel/iommu_groups/<group>/devices`.
    pub fn iommu_group_devices(group: u32) -> PathBuf {
        PathBuf::from(format!("/sys/kernel/iommu_groups/{group}/devices"))
    }

    /// `/dev/vfio/<group>`: the VFIO group's character device.
    pub fn vfio_group_node(group: u32) -> PathBuf {
        PathBuf::from(format!("/dev/vfio/{group}"))
    }

    /// The PF heartbeat status in debugfs: `/sys/kernel/debug/qat_<driver>_<bdf>/heartbeat/status`.
    pub fn heartbeat_status(pf_driver: &str, bdf: Bdf) -> PathBuf {
        PathBuf::from(format!(
            "/sys/kernel/debug/qat_{pf_driver}_{bdf}/heartbeat/status"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdinfo_names_the_vfio_device() {
        let fdinfo = "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\n\
                      vfio-device-syspath: /sys/devices/pci0000:00/0000:00:02.0/0000:01:10.0\n";
        assert_eq!(
            vfio_syspath(fdinfo),
            Some("/sys/devices/pci0000:00/0000:00:02.0/0000:01:10.0")
        );
        assert_eq!(vfio_syspath("pos:\t0\nflags:\t02\n"), None);
    }

    #[test]
    fn group_file_lookup() {
        let text = "root:x:0:\nqat:x:990:alice,bob\nkvm:x:994:\nbroken\n";
        assert_eq!(parse_group_file(text, "qat"), Some(990));
        assert_eq!(parse_group_file(text, "kvm"), Some(994));
        assert_eq!(parse_group_file(text, "qa"), None);
        assert_eq!(parse_group_file(text, "broken"), None);
    }

    #[test]
    fn host_sysfs_reads_links_and_writes_under_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let sysfs = HostSysfs::with_root(dir.path());
        let dev = dir.path().join("sys/bus/pci/devices/0000:01:00.0");
        fs::create_dir_all(&dev).unwrap();
        fs::write(dev.join("sriov_numvfs"), "0\n").unwrap();
        std::os::unix::fs::symlink("../../../bus/pci/drivers/igb", dev.join("driver")).unwrap();
        let bdf = "01:00.0".parse().unwrap();

        assert_eq!(
            sysfs
                .read_opt::<u32>(&paths::device_attr(bdf, "sriov_numvfs"))
                .unwrap(),
            Some(0)
        );
        assert_eq!(
            sysfs
                .read_opt::<u32>(&paths::device_attr(bdf, "nope"))
                .unwrap(),
            None
        );
        assert_eq!(
            sysfs
                .link_name(&paths::device_attr(bdf, "driver"))
                .unwrap()
                .as_deref(),
            Some("igb")
        );
        assert_eq!(
            sysfs.link_name(&paths::device_attr(bdf, "physfn")).unwrap(),
            None
        );
        sysfs
            .write(&paths::device_attr(bdf, "sriov_numvfs"), "4")
            .unwrap();
        assert_eq!(fs::read_to_string(dev.join("sriov_numvfs")).unwrap(), "4\n");
        let err = sysfs
            .write(&paths::device_attr(bdf, "missing"), "1")
            .unwrap_err();
        assert!(matches!(err, Error::Write { .. }), "{err}");
        assert_eq!(
            sysfs.list(Path::new(paths::PCI_DEVICES)).unwrap(),
            vec!["0000:01:00.0"]
        );
    }
}
