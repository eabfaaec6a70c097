//! What a check records: errno names, qat-vf error kinds, reports and host state as strings,
//! compared as they are with expected.tsv.

use qat_vf::error::{ProvisionError, SysfsError, VfioError};
use qat_vf::host::{HostEnv, paths};
use qat_vf::{Bdf, Error, Host, PciInfo};

use crate::VfioCheckSummary;

/// A `vfio-check` report as one line: its parts that the checks compare, or why it failed.
pub(crate) fn observe_check(result: Result<VfioCheckSummary, String>) -> String {
    match result {
        Ok(s) => format!(
            "usable={} dma_map={:?} regions={} blockers=[{}]",
            s.usable,
            s.dma_map,
            s.regions,
            s.blockers.join(",")
        ),
        Err(e) => e,
    }
}

/// The observation an error makes: the errno name where there is an OS error, else the kind.
pub fn observe_error(error: &Error) -> String {
    match os_errno(error) {
        Some(errno) => format!("{errno:?}"),
        None => error_kind(error),
    }
}

/// The OS error among an error's causes, as the kernel's answer is what expected.tsv records.
fn os_errno(error: &Error) -> Option<nix::errno::Errno> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(errno) = cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
        {
            return Some(nix::errno::Errno::from_raw(errno));
        }
        source = cause.source();
    }
    None
}

/// What a qat-vf error is, as expected.tsv names it: the operation's variant where the checks
/// tell those apart, and otherwise the error's kind, which every qat-vf error answers.
fn error_kind(error: &Error) -> String {
    match error {
        Error::Sysfs(SysfsError::NoSuchDevice(_)) => "NoSuchDevice".into(),
        Error::Vfio(VfioError::NotAVf(_)) => "NotAVf".into(),
        Error::Vfio(VfioError::NotBoundToVfio { driver, .. }) => {
            format!("NotBoundToVfio({})", driver.as_deref().unwrap_or("none"))
        }
        Error::Vfio(VfioError::GroupNotViable { blockers, .. }) => {
            let list: Vec<String> = blockers
                .iter()
                .map(|b| format!("{}={}", b.bdf, b.driver))
                .collect();
            format!("GroupNotViable({})", list.join(","))
        }
        Error::Provision(ProvisionError::HeldByVfioUser { .. }) => "HeldByVfioUser".into(),
        Error::Provision(ProvisionError::DeviceOpenByVfioUser { .. }) => {
            "DeviceOpenByVfioUser".into()
        }
        Error::Vfio(VfioError::DmaOverlap { .. }) => "DmaOverlap".into(),
        Error::Vfio(VfioError::DmaOutOfRange { .. }) => "DmaOutOfRange".into(),
        Error::Vfio(VfioError::DmaUnaligned { .. }) => "DmaUnaligned".into(),
        other => format!("{}: {other}", other.kind()),
    }
}

/// A result as an observation: `ok` describes the value, an error is [`observe_error`]'s.
pub(crate) fn observe<T>(result: Result<T, Error>, ok: impl FnOnce(T) -> String) -> String {
    match result {
        Ok(value) => ok(value),
        Err(e) => observe_error(&e),
    }
}

/// An OS call's result as an observation: `ok`, or the errno name.
pub(crate) fn errno(result: std::io::Result<impl Sized>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e.raw_os_error().map_or(e.to_string(), |n| {
            format!("{:?}", nix::errno::Errno::from_raw(n))
        }),
    }
}

/// The SR-IOV and driver state of a PF and its VFs, as one string, for "changed nothing".
pub fn fingerprint(sysfs: &HostEnv, pf: Bdf) -> String {
    let attr = |name| {
        sysfs
            .read_trimmed(&paths::device_attr(pf, name))
            .unwrap_or_else(|e| e.to_string())
    };
    let mut text = format!(
        "{pf} numvfs={} autoprobe={} driver={:?} override={:?}",
        attr("sriov_numvfs"),
        attr("sriov_drivers_autoprobe"),
        driver_of(sysfs, pf),
        override_of(sysfs, pf),
    );
    for vf in vfs_of(sysfs, pf) {
        text += &format!(
            " {vf}:{:?}/{:?}",
            driver_of(sysfs, vf),
            override_of(sysfs, vf)
        );
    }
    text
}

/// A device's driver; `None` when unbound or unreadable.
pub(crate) fn driver_of(host: &HostEnv, device: Bdf) -> Option<String> {
    PciInfo::read(host, device).ok()?.driver
}

/// A device's `driver_override`; `None` when unset or unreadable.
fn override_of(host: &HostEnv, device: Bdf) -> Option<String> {
    PciInfo::read(host, device).ok()?.driver_override
}

/// A PF's VFs in `virtfn` order; none when it cannot be read.
pub(crate) fn vfs_of(host: &HostEnv, pf: Bdf) -> Vec<Bdf> {
    Host::discover(host, &[pf])
        .ok()
        .and_then(|h| {
            h.pf(pf)
                .map(|p| p.vfs.iter().map(|vf| vf.pci.bdf).collect())
        })
        .unwrap_or_default()
}
