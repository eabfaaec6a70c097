//! The host's files — sysfs, debugfs, `/dev/vfio`, `/proc` and the group database — as one
//! trait of raw operations, [`HostFiles`]. Implementations deal in OS errors only;
//! [`HostEnv`](super::HostEnv) adds the path and the operation to every error.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::paths;

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

/// A descriptor a process has open, from `/proc/<pid>/fd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFile {
    /// The process.
    pub pid: u32,
    /// The descriptor's number (its name under `/proc/<pid>/fd`).
    pub fd: String,
    /// What the descriptor points at, e.g. `/dev/vfio/12` or `anon_inode:[vfio-device]`.
    pub target: PathBuf,
}

/// Raw access to a host's files by absolute host path. The real host and fixture trees are
/// [`RootFiles`]; the simulated host answers from its model.
pub trait HostFiles: std::fmt::Debug + Send + Sync {
    /// Reads a file's whole content.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Writes `value` to an attribute in one `write(2)`, as `echo -n value >` would.
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    /// Target of a symbolic link, as stored (usually relative); `None` when there is no link.
    fn read_link(&self, path: &Path) -> io::Result<Option<PathBuf>>;
    /// Names of the entries of a directory, sorted; empty when it does not exist.
    fn list(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether anything exists at the path.
    fn exists(&self, path: &Path) -> bool;
    /// Owner and mode of a file; `None` when it does not exist.
    fn access(&self, path: &Path) -> io::Result<Option<FileAccess>>;
    /// Sets the owner (when `uid` is given), group and permission bits of a file.
    fn set_access(&self, path: &Path, uid: Option<u32>, gid: u32, mode: u32) -> io::Result<()>;
    /// Every descriptor that any process has open (`/proc/*/fd/*`), for finding VFIO users.
    /// Processes that vanish or cannot be read meanwhile are skipped.
    fn open_files(&self) -> io::Result<Vec<OpenFile>>;
    /// The numeric id of a group name, from the host's group database.
    fn group_id(&self, name: &str) -> io::Result<Option<u32>>;
}

/// The real host (root `/`) or a directory shaped like it (a test fixture).
#[derive(Debug, Clone)]
pub struct RootFiles {
    root: PathBuf,
}

impl RootFiles {
    /// A host whose `/` is `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RootFiles { root: root.into() }
    }

    /// Where a host path is under the root.
    pub(crate) fn under_root(&self, path: &Path) -> PathBuf {
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }
}

impl HostFiles for RootFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        fs::read_to_string(self.under_root(path))
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        // No O_CREAT and no truncation: a sysfs attribute either exists or the write is wrong.
        let mut file = fs::OpenOptions::new()
            .write(true)
            .open(self.under_root(path))?;
        // One write(2) call, as the kernel treats each call as one store.
        let written = file.write(value.as_bytes())?;
        if written != value.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write to a sysfs attribute",
            ));
        }
        Ok(())
    }

    fn read_link(&self, path: &Path) -> io::Result<Option<PathBuf>> {
        match fs::read_link(self.under_root(path)) {
            Ok(target) => Ok(Some(target)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            // EINVAL: the path exists but is not a link (e.g. a fixture's plain file).
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let entries = match fs::read_dir(self.under_root(path)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        fs::symlink_metadata(self.under_root(path)).is_ok()
    }

    fn access(&self, path: &Path) -> io::Result<Option<FileAccess>> {
        match fs::metadata(self.under_root(path)) {
            Ok(meta) => Ok(Some(FileAccess {
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode() & 0o7777,
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_access(&self, path: &Path, uid: Option<u32>, gid: u32, mode: u32) -> io::Result<()> {
        let full = self.under_root(path);
        std::os::unix::fs::chown(&full, uid, Some(gid))?;
        fs::set_permissions(&full, fs::Permissions::from_mode(mode))
    }

    fn open_files(&self) -> io::Result<Vec<OpenFile>> {
        let mut open = Vec::new();
        for pid in self.list(Path::new(paths::PROC))? {
            let Ok(pid) = pid.parse::<u32>() else {
                continue;
            };
            let fd_dir = paths::proc_fds(pid);
            // Processes come and go, and other users' fds are unreadable without root: skip those.
            let Ok(fds) = self.list(&fd_dir) else {
                continue;
            };
            for fd in fds {
                if let Ok(Some(target)) = self.read_link(&fd_dir.join(&fd)) {
                    open.push(OpenFile { pid, fd, target });
                }
            }
        }
        Ok(open)
    }

    fn group_id(&self, name: &str) -> io::Result<Option<u32>> {
        if self.root == Path::new("/") {
            // The real host: ask NSS, so groups from LDAP or sssd resolve too.
            return nix::unistd::Group::from_name(name)
                .map(|group| group.map(|g| g.gid.as_raw()))
                .map_err(io::Error::from);
        }
        match self.read(Path::new("/etc/group")) {
            Ok(text) => Ok(parse_group_file(&text, name)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Finds `name` in the text of an `/etc/group` file (`name:x:gid:members`).
pub(crate) fn parse_group_file(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::Bdf;

    #[test]
    fn group_file_lookup() {
        let text = "root:x:0:\nqat:x:990:alice,bob\nkvm:x:994:\nbroken\n";
        assert_eq!(parse_group_file(text, "qat"), Some(990));
        assert_eq!(parse_group_file(text, "kvm"), Some(994));
        assert_eq!(parse_group_file(text, "qa"), None);
        assert_eq!(parse_group_file(text, "broken"), None);
    }

    #[test]
    fn root_files_read_links_and_write_under_their_root() {
        let dir = tempfile::tempdir().unwrap();
        let files = RootFiles::new(dir.path());
        let dev = dir.path().join("sys/bus/pci/devices/0000:01:00.0");
        fs::create_dir_all(&dev).unwrap();
        fs::write(dev.join("sriov_numvfs"), "0\n").unwrap();
        std::os::unix::fs::symlink("../../../bus/pci/drivers/igb", dev.join("driver")).unwrap();
        let bdf: Bdf = "01:00.0".parse().unwrap();

        assert_eq!(
            files
                .read(&paths::device_attr(bdf, "sriov_numvfs"))
                .unwrap(),
            "0\n"
        );
        assert_eq!(
            files.read_link(&paths::device_attr(bdf, "driver")).unwrap(),
            Some(PathBuf::from("../../../bus/pci/drivers/igb"))
        );
        assert_eq!(
            files.read_link(&paths::device_attr(bdf, "physfn")).unwrap(),
            None
        );
        files
            .write(&paths::device_attr(bdf, "sriov_numvfs"), "4")
            .unwrap();
        assert_eq!(fs::read_to_string(dev.join("sriov_numvfs")).unwrap(), "4\n");
        assert!(
            files
                .write(&paths::device_attr(bdf, "missing"), "1")
                .is_err()
        );
        assert_eq!(
            files.list(Path::new(paths::PCI_DEVICES)).unwrap(),
            vec!["0000:01:00.0"]
        );
    }
}
