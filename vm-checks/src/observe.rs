//! What a check records: errno names, qat-vf error kinds, reports and host state as strings,
//! compared as they are with expected.tsv.

use qat_vf::device::{list_vfs, read_driver, read_driver_override};
use qat_vf::sysfs::{Sysfs, paths};
use qat_vf::{Bdf, Error};

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

/// What kind of qat-vf error this is, as expected.tsv names it. The one place that lists
/// qat-vf's error variants: it is what moves to `Error::kind()` once qat-vf has it.
fn error_kind(error: &Error) -> String {
    match error {
        Error::NoSuchDevice(_) => "NoSuchDevice".into(),
        Error::NotBoundToVfio { driver, .. } => {
            format!("NotBoundToVfio({})", driver.as_deref().unwrap_or("none"))
        }
        Error::GroupNotViable { blockers, .. } => {
            let list: Vec<String> = blockers
                .iter()
                .map(|b| format!("{}={}", b.bdf, b.driver))
                .collect();
            format!("GroupNotViable({})", list.join(","))
        }
        Error::HeldByVfioUser { .. } => "HeldByVfioUser".into(),
        Error::DeviceOpenByVfioUser { .. } => "DeviceOpenByVfioUser".into(),
        Error::DmaOverlap { .. } => "DmaOverlap".into(),
        Error::DmaOutOfRange { .. } => "DmaOutOfRange".into(),
        Error::DmaUnaligned { .. } => "DmaUnaligned".into(),
        other => format!("{other}"),
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
pub fn fingerprint(sysfs: &impl Sysfs, pf: Bdf) -> String {
    let attr = |name| {
        sysfs
            .read_trimmed(&paths::device_attr(pf, name))
            .unwrap_or_else(|e| e.to_string())
    };
    let mut text = format!(
        "{pf} numvfs={} autoprobe={} driver={:?} override={:?}",
        attr("sriov_numvfs"),
        attr("sriov_drivers_autoprobe"),
        read_driver(sysfs, pf).ok().flatten(),
        read_driver_override(sysfs, pf).ok().flatten(),
    );
    for vf in list_vfs(sysfs, pf).unwrap_or_default() {
        text += &format!(
            " {vf}:{:?}/{:?}",
            read_driver(sysfs, vf).ok().flatten(),
            read_driver_override(sysfs, vf).ok().flatten()
        );
    }
    text
}
