//! qatkit: Intel QuickAssist (QAT) virtual functions from the host to the workload.
//!
//! This root crate is the curated facade over qatkit's layers, in three modules:
//! - [`host`]: discover QAT PFs and VFs, provision SR-IOV, services, drivers and `/dev/vfio`
//!   access as one verified transaction, open VFs through VFIO, and hand them to guests as
//!   libvirt XML or KubeVirt configuration (from `qat-vf`; feature `sim` adds the simulated
//!   host used by tests and demos);
//! - [`compress`]: compression through a QAT VF, or the fastest CPU path without one (from
//!   `qat-crypto`; features `isal`, `qatzip` and `zlib-ng` choose its libraries);
//! - [`crypto`]: AEAD (AES-GCM, ChaCha20-Poly1305), ciphers (AES-CBC, AES-XTS), hashes
//!   (SHA-2, SHA3-256) and HMAC through a QAT VF with qatlib (feature `qatlib`), or AWS-LC on
//!   the CPU; and public-key operations (RSA signatures and OAEP, ECDSA, ECDH and X25519), the
//!   arithmetic on a QAT VF through qatlib or all of it on the CPU through AWS-LC.
//!
//! Every error of every module answers `kind()` with one [`ErrorKind`], the classification to map to
//! exit codes, status codes or retries.
//!
//! With feature `sim`:
//!
//! ```
//! # #[cfg(feature = "sim")]
//! # fn main() -> Result<(), qatkit::host::Error> {
//! use qatkit::host::{Host, Services, provision, sim::SimHost};
//!
//! // A simulated two-PF 4xxx host; on a real host use `HostEnv::real()`.
//! let host_env = SimHost::preset("4xxx".parse().unwrap(), 2);
//! let desired = provision::Desired::new(provision::VfDriver::VfioPci)
//!     .with_services(Services::SYM | Services::DC);
//! let lock_file = std::env::temp_dir().join("qatkit-doc.lock"); // real hosts: /run/qatkit.lock
//! let (plan, report) = provision::converge(&host_env, &desired, &lock_file)?;
//! assert!(report.ok && plan.steps.len() == 42);
//! let host = Host::discover(&host_env, &[])?;
//! assert!(host.pfs.iter().all(|pf| pf.sriov_numvfs == pf.sriov_totalvfs));
//! assert!(provision::plan(&host, &desired)?.is_converged());
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sim"))]
//! # fn main() {}
//! ```

pub use qat_error::ErrorKind;

/// The host side: QAT devices, provisioning, VFIO and guests' configuration.
pub mod host {
    pub use qat_vf::{
        Bdf, Error, Heartbeat, Host, HostEnv, PciInfo, PhysicalFunction, QatFamily, QatState,
        RasCounters, Result, Services, VirtualFunction, domain, error, provision, vfio,
    };

    /// The host context's parts, for hosts other than the real one and fixture trees.
    pub use qat_vf::host as env;

    /// The simulated host (feature `sim`).
    #[cfg(feature = "sim")]
    pub use qat_vf::sim;
}

/// Crypto: AEAD, ciphers, hashes, MACs, RSA, ECDSA, ECDH and X25519, on QAT through qatlib
/// (feature `qatlib`) or the CPU through AWS-LC. Every key takes a [`Backend`](crypto::Backend): `auto` (the default),
/// `cpu` or `qat`.
pub mod crypto {
    pub use qat_crypto::crypto::{DEFAULT_AUTO_MIN_REQUEST, Error, Operation, Settings};
    pub use qat_crypto::{Backend, Served, ServedBy, aead, cipher, ecdh, ecdsa, hash, mac, rsa};
}

/// Compression: one codec over gzip, zlib, raw deflate and LZ4, on QAT or the CPU.
pub mod compress {
    pub use qat_crypto::compress::{
        Backend, Bytes, Codec, DEFAULT_LIMIT, Decoder, Encoder, Error, Format, Operation, Served,
        ServedBy, compress, decompress,
    };
}
