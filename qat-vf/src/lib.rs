//! qat-vf: the host side of qatkit.
//!
//! Discover QAT PFs and VFs of every generation ([`Host::discover`]), bring a host to the wanted
//! SR-IOV, service, driver and `/dev/vfio` configuration as a verified, reversible transaction
//! ([`provision`]), open VFs the way a VM manager does ([`vfio`]), and hand them to guests as
//! libvirt `<hostdev>` XML or KubeVirt configuration ([`domain`]). Everything reaches the host
//! through one [`HostEnv`], so the same code runs on a real host, a fixture tree, or — with
//! feature `sim` — the simulated host [`sim::SimHost`].
//!
//! Modules are layered, each importing only those above it in this list: `services`, [`pci`],
//! [`error`], [`host`], `attributes`, `holders`, `iommu`, `qat`, `sriov`, `driver`,
//! `discovery`, then [`provision`], [`vfio`], [`domain`] and [`sim`].

mod attributes;
mod discovery;
pub mod domain;
mod driver;
pub mod error;
mod holders;
pub mod host;
mod iommu;
pub mod pci;
pub mod provision;
mod qat;
mod services;
#[cfg(feature = "sim")]
pub mod sim;
mod sriov;
pub mod vfio;

pub use attributes::{Heartbeat, PciInfo, RasCounters};
pub use discovery::{Host, PhysicalFunction, VirtualFunction};
pub use error::{Error, ErrorKind, Result};
pub use host::HostEnv;
pub use pci::{Bdf, QatFamily};
pub use qat::QatState;
pub use services::{InvalidServices, Services};
