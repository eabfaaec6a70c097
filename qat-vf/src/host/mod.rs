//! The host context: one [`HostEnv`] holds everything qat-vf reaches on a host — its files
//! ([`HostFiles`]: sysfs, `/dev`, `/proc`, the group database), its VFIO requests ([`VfioOps`])
//! and the process that pins DMA memory ([`ProcessView`]). Discovery, provisioning, VFIO and the
//! checks all take one, so the same code runs on the real host ([`HostEnv::real`]), on a fixture
//! tree ([`HostEnv::with_root`]) and — feature `sim` — on the simulated host, which is a
//! `HostEnv` too.

mod files;
pub mod paths;
mod process;
mod sys;
mod vfio_ops;

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

pub use files::{FileAccess, HostFiles, OpenFile, RootFiles};
pub use process::{Memlock, ProcessView, ThisProcess};
pub use vfio_ops::{DeviceInfo, IrqInfo, KernelOps, VfioOps};

use crate::error::{ProvisionError, Result, SysfsError};

/// A host as qat-vf sees it. Cheap to clone (shared handles).
#[derive(Debug, Clone)]
pub struct HostEnv {
    files: Arc<dyn HostFiles>,
    vfio: Arc<dyn VfioOps>,
    process: Arc<dyn ProcessView>,
}

impl HostEnv {
    /// The running host: `/`, the kernel's VFIO, this process.
    pub fn real() -> Self {
        HostEnv::with_root("/")
    }

    /// A host whose `/` is `root` (a fixture tree, or a chroot): files and VFIO nodes under it;
    /// the process is this one.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        HostEnv::new(
            Arc::new(RootFiles::new(root.clone())),
            Arc::new(KernelOps::with_root(root)),
            Arc::new(ThisProcess),
        )
    }

    /// A host made of these parts.
    pub fn new(
        files: Arc<dyn HostFiles>,
        vfio: Arc<dyn VfioOps>,
        process: Arc<dyn ProcessView>,
    ) -> Self {
        HostEnv {
            files,
            vfio,
            process,
        }
    }

    /// The host's files, for building a host that changes some of their answers.
    pub fn files(&self) -> &Arc<dyn HostFiles> {
        &self.files
    }

    /// The host's VFIO requests.
    pub fn vfio(&self) -> &Arc<dyn VfioOps> {
        &self.vfio
    }

    /// The process that maps DMA.
    pub fn process(&self) -> &Arc<dyn ProcessView> {
        &self.process
    }

    /// The locked-memory situation of the process that maps DMA.
    pub fn memlock(&self) -> Memlock {
        self.process.memlock()
    }

    /// Reads a file's whole content.
    pub fn read(&self, path: &Path) -> Result<String> {
        self.files.read(path).map_err(read_error(path))
    }

    /// Reads a file and trims the trailing newline and spaces.
    pub fn read_trimmed(&self, path: &Path) -> Result<String> {
        Ok(self.read(path)?.trim_end().to_owned())
    }

    /// Reads and parses a file; `None` when it does not exist.
    pub fn read_opt<T: FromStr>(&self, path: &Path) -> Result<Option<T>> {
        match self.files.read(path) {
            Ok(text) => {
                let text = text.trim();
                let parsed = text.parse().map_err(|_| SysfsError::Parse {
                    path: path.to_owned(),
                    content: text.to_owned(),
                })?;
                Ok(Some(parsed))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(read_error(path)(e)),
        }
    }

    /// Writes `value` to an attribute in one `write(2)`.
    pub fn write(&self, path: &Path, value: &str) -> Result<()> {
        self.files
            .write(path, value)
            .map_err(|source| write_error(path, value.to_owned(), source))
    }

    /// Target of a symbolic link, as stored; `None` when there is no link.
    pub fn read_link(&self, path: &Path) -> Result<Option<PathBuf>> {
        self.files.read_link(path).map_err(read_error(path))
    }

    /// The last component of a link's target (a driver name, a BDF, a group number).
    pub fn link_name(&self, path: &Path) -> Result<Option<String>> {
        Ok(self.read_link(path)?.and_then(|target| {
            target
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        }))
    }

    /// Names of the entries of a directory, sorted; empty when it does not exist.
    pub fn list(&self, path: &Path) -> Result<Vec<String>> {
        self.files.list(path).map_err(read_error(path))
    }

    /// Whether anything exists at the path.
    pub fn exists(&self, path: &Path) -> bool {
        self.files.exists(path)
    }

    /// Owner and mode of a file; `None` when it does not exist.
    pub fn access(&self, path: &Path) -> Result<Option<FileAccess>> {
        self.files.access(path).map_err(read_error(path))
    }

    /// Sets the owner (when `uid` is given), group and permission bits of a file.
    pub fn set_access(&self, path: &Path, uid: Option<u32>, gid: u32, mode: u32) -> Result<()> {
        self.files
            .set_access(path, uid, gid, mode)
            .map_err(|source| write_error(path, format!("group {gid} mode {mode:o}"), source))
    }

    /// Every descriptor any process has open.
    pub fn open_files(&self) -> Result<Vec<OpenFile>> {
        self.files
            .open_files()
            .map_err(read_error(Path::new(paths::PROC)))
    }

    /// Resolves an owner group given as a number or as a name in the host's group database.
    pub fn resolve_group(&self, group: &str) -> Result<u32> {
        if let Ok(gid) = group.parse() {
            return Ok(gid);
        }
        self.files
            .group_id(group)
            .map_err(read_error(Path::new("/etc/group")))?
            .ok_or_else(|| ProvisionError::UnknownGroup(group.to_owned()).into())
    }
}

fn read_error(path: &Path) -> impl FnOnce(io::Error) -> crate::Error + '_ {
    move |source| {
        SysfsError::Read {
            path: path.to_owned(),
            source,
        }
        .into()
    }
}

fn write_error(path: &Path, value: String, source: io::Error) -> crate::Error {
    SysfsError::Write {
        path: path.to_owned(),
        value,
        source,
    }
    .into()
}
