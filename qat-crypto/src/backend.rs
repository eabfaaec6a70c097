//! Who serves a request, shared by compression and crypto: the [`Backend`] a caller asks for,
//! what actually served each request ([`ServedBy`]), and the counts of both ([`Served`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Who serves requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// The device when one is there and takes the request (its algorithm, parameters and
    /// size); the CPU otherwise. Never an error because no device is there.
    #[default]
    Auto,
    /// The CPU libraries.
    Cpu,
    /// The device library (QATzip for compression, qatlib for crypto), asked by name: its
    /// errors are returned, not hidden by a fallback.
    Qat,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Auto => "auto",
            Backend::Cpu => "cpu",
            Backend::Qat => "qat",
        })
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Backend::Auto),
            "cpu" => Ok(Backend::Cpu),
            "qat" => Ok(Backend::Qat),
            _ => Err(format!("unknown backend {s:?} (auto, cpu or qat)")),
        }
    }
}

/// What served one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServedBy {
    /// The CPU backend.
    Cpu,
    /// A QAT device.
    QatDevice,
    /// QATzip's software path (compression only: qatlib has none for crypto).
    QatSoftware,
}

impl fmt::Display for ServedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServedBy::Cpu => "cpu",
            ServedBy::QatDevice => "qat device",
            ServedBy::QatSoftware => "qatzip software",
        })
    }
}

/// How many requests each server took, since the codec or key was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Served {
    /// By the CPU backend.
    pub cpu: u64,
    /// By a QAT device.
    pub qat_device: u64,
    /// By QATzip's software path.
    pub qat_software: u64,
}

/// The running counts behind [`Served`], updated from any thread.
#[derive(Debug, Default)]
pub(crate) struct Counters([AtomicU64; 3]);

impl Counters {
    /// Counts one request served by `served_by`, and traces it under `target` with what it
    /// was (`what`: a format or an algorithm).
    pub(crate) fn count(&self, served_by: ServedBy, what: &dyn fmt::Display, bytes: usize) {
        let i = match served_by {
            ServedBy::Cpu => 0,
            ServedBy::QatDevice => 1,
            ServedBy::QatSoftware => 2,
        };
        self.0[i].fetch_add(1, Ordering::Relaxed);
        tracing::trace!(%served_by, bytes, %what, "request served");
    }

    /// The counts so far.
    pub(crate) fn served(&self) -> Served {
        let n = |i: usize| self.0[i].load(Ordering::Relaxed);
        Served {
            cpu: n(0),
            qat_device: n(1),
            qat_software: n(2),
        }
    }
}
