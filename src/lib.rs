//! qatkit: Intel QuickAssist (QAT) virtual functions from the host to the workload.
//!
//! This root crate is the facade over qatkit's layers. It re-exports the host side,
//! [`qat_vf`] (discovery, SR-IOV, driver binding, IOMMU groups and transactional provisioning;
//! feature `sim` adds the simulated host used by tests and demos), and the guest side,
//! [`qat_crypto`] (compression through a QAT VF, or the fastest CPU path without one; features
//! `isal`, `qatzip` and `zlib-ng` choose its libraries).
//!
//! ```
//! use qatkit::qat_vf::{Host, Services, provision, sim::SimHost};
//!
//! # fn main() -> Result<(), qatkit::qat_vf::Error> {
//! // A simulated two-PF 4xxx host; on a real host use `qat_vf::HostSysfs::new()`.
//! let sysfs = SimHost::preset("4xxx".parse().unwrap(), 2);
//! let desired = provision::Desired {
//!     pfs: vec![],
//!     services: Some(Services::SYM | Services::DC),
//!     driver: provision::VfDriver::VfioPci,
//!     vfio_access: None,
//!     force: false,
//! };
//! let lock_file = std::env::temp_dir().join("qatkit-doc.lock"); // real hosts: /run/qatkit.lock
//! let (plan, report) = provision::converge(&sysfs, &desired, &lock_file)?;
//! assert!(report.ok && plan.steps.len() == 42);
//! let host = Host::discover(&sysfs, &[])?;
//! assert!(host.pfs.iter().all(|pf| pf.sriov_numvfs == pf.sriov_totalvfs));
//! assert!(provision::plan(&host, &desired)?.is_converged());
//! # Ok(())
//! # }
//! ```

pub use qat_crypto;
pub use qat_vf;
