//! qat-vf: the host side of qatkit.
//!
//! Discover QAT PFs and VFs of every generation ([`device`]), configure services and SR-IOV
//! ([`sriov`]), bind VFs to drivers ([`driver`]), check IOMMU groups ([`iommu`]), and do all of it
//! as a verified, reversible transaction ([`provision`]). Every access to the kernel goes through
//! the [`Sysfs`] trait, so the same code runs on a real host, a fixture tree, or — with feature
//! `sim` — the simulated host [`sim::SimHost`].

pub mod device;
pub mod domain;
pub mod driver;
mod error;
pub mod holders;
pub mod iommu;
pub mod pci;
pub mod provision;
pub mod services;
#[cfg(feature = "sim")]
pub mod sim;
pub mod sriov;
pub mod sysfs;
pub mod vfio;

pub use device::{Host, PhysicalFunction, QatState, VirtualFunction};
pub use error::{Error, Result};
pub use pci::{Bdf, QatFamily};
pub use services::Services;
pub use sysfs::{HostSysfs, Sysfs};
