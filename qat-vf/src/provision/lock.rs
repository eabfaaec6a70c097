//! The advisory lock that serialises provisioners on one host.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{ProvisionError, Result};

/// An exclusive `flock(2)` on a lock file, held until dropped.
#[derive(Debug)]
pub struct ProvisionLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl ProvisionLock {
    /// Default lock file on a real host.
    pub const DEFAULT_PATH: &'static str = "/run/qatkit.lock";

    /// The lock file when none is named: `<STATE>.lock` beside a simulated host's state file
    /// (so that separate simulated hosts do not wait for each other), else [`Self::DEFAULT_PATH`].
    pub fn default_path(sim_state: Option<&Path>) -> PathBuf {
        match sim_state {
            Some(state) => {
                let mut name = state.as_os_str().to_owned();
                name.push(".lock");
                PathBuf::from(name)
            }
            None => PathBuf::from(Self::DEFAULT_PATH),
        }
    }

    /// Takes the lock, waiting for another holder to let go.
    pub fn acquire(path: &Path) -> Result<Self> {
        Self::acquire_or_wait(path, || {})
    }

    /// Takes the lock; when another provisioner holds it, calls `on_wait` (to tell the user)
    /// and then waits.
    pub fn acquire_or_wait(path: &Path, on_wait: impl FnOnce()) -> Result<Self> {
        let lock_error = |source| ProvisionError::Lock {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(lock_error)?;
        let _span = tracing::debug_span!("lock", path = %path.display()).entered();
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((file, Errno::EWOULDBLOCK)) => {
                tracing::info!(path = %path.display(), "waiting for another provisioner");
                on_wait();
                Flock::lock(file, FlockArg::LockExclusive)
                    .map_err(|(_, errno)| lock_error(errno.into()))?
            }
            Err((_, errno)) => return Err(lock_error(errno.into()).into()),
        };
        Ok(ProvisionLock {
            _lock: lock,
            path: path.to_owned(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
