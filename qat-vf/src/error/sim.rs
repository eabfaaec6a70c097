//! Errors of the simulated host: its state file and its controls.

use std::path::PathBuf;

use super::ErrorKind;
use crate::pci::Bdf;

/// The simulated host cannot do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A state file could not be read, parsed, or describes a host that cannot exist.
    #[error("cannot load simulated host state {path}")]
    Load {
        /// State file.
        path: PathBuf,
        /// The I/O, JSON or consistency error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A state file could not be written.
    #[error("cannot save simulated host state {path}")]
    Save {
        /// State file.
        path: PathBuf,
        /// The I/O or JSON error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Only a VF can be held by a VFIO user.
    #[error("{0} is not a VF")]
    NotAVf(Bdf),
}

impl SimError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            // The state file is the simulated host's input.
            SimError::Load { .. } | SimError::NotAVf(_) => ErrorKind::InvalidInput,
            SimError::Save { .. } => ErrorKind::Io,
        }
    }
}
