//! Handing VFs to guests: libvirt hostdev XML, alone or inserted into a domain, and KubeVirt's
//! configuration.

use std::ffi::c_char;

use qat_vf::domain::{self, HostdevOptions, Machine, Policy, Request};

use crate::ffi::{Failure, arg, boundary, new_string, opt_text, out, put, qatkit_result};
use crate::host::{discover, qatkit_host};

/// How VFs are spread over PFs.
pub type qatkit_policy = u32;
/// Spread over PFs: the most free VFs first.
pub const QATKIT_POLICY_BALANCED: qatkit_policy = 0;
/// Fill one PF before the next.
pub const QATKIT_POLICY_PACKED: qatkit_policy = 1;

/// What to choose and how to write it.
#[repr(C)]
#[derive(Debug)]
pub struct qatkit_xml_options {
    /// How many VFs.
    pub count: usize,
    /// `QATKIT_POLICY_*`.
    pub policy: qatkit_policy,
    /// Prefer VFs on this NUMA node; -1 for any.
    pub numa_node: i32,
    /// `managed='yes'`: libvirt binds the VFs to vfio-pci when the VM starts.
    pub managed: bool,
    /// `<driver name='vfio' model='...'/>` (e.g. `qat_vfio_pci`); NULL for none. The VFs must
    /// be bound to it (else to vfio-pci).
    pub model: *const c_char,
    /// `<rom bar='off'/>`.
    pub rom_bar_off: bool,
    /// Alias prefix of qatkit's elements (a libvirt user alias); NULL for `ua-qat-`.
    pub alias_prefix: *const c_char,
}

/// Chooses VFs and writes their `<hostdev>`s (and the controllers they need): into
/// `domain_xml` when it is not NULL — the whole domain comes back with qatkit's elements
/// replaced, everything else unchanged, the VFs it had from qatkit kept — or on their own for a
/// fresh q35 domain. Free the string with `qatkit_string_free`. Too few eligible VFs is
/// `QATKIT_LIMIT_EXCEEDED`; a domain qatkit cannot edit is `QATKIT_INVALID_INPUT`.
///
/// # Safety
/// `host` and `options` are NULL or live; `options`' strings and `domain_xml` are NULL or
/// NUL-terminated; `xml_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_hostdev_xml(
    host: *const qatkit_host,
    options: *const qatkit_xml_options,
    domain_xml: *const c_char,
    xml_out: *mut *mut c_char,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (host, options, domain_xml) = unsafe {
            (
                arg(host, "host")?,
                arg(options, "options")?,
                opt_text(domain_xml, "domain_xml")?,
            )
        };
        let xml_out = out(xml_out, "xml_out")?;
        // SAFETY: the caller's contract for the options' strings.
        let (model, prefix) = unsafe {
            (
                opt_text(options.model, "options.model")?,
                opt_text(options.alias_prefix, "options.alias_prefix")?,
            )
        };
        let defaults = HostdevOptions::default();
        let opts = HostdevOptions {
            managed: options.managed,
            model: model.map(str::to_owned),
            rom_bar_off: options.rom_bar_off,
            alias_prefix: prefix.map_or(defaults.alias_prefix, str::to_owned),
        };
        let request = Request {
            count: options.count,
            policy: match options.policy {
                QATKIT_POLICY_BALANCED => Policy::Balanced,
                QATKIT_POLICY_PACKED => Policy::Packed,
                other => return Err(Failure::invalid(format!("unknown policy {other}"))),
            },
            numa_node: match options.numa_node {
                -1 => None,
                n => {
                    Some(u32::try_from(n).map_err(|_| Failure::invalid(format!("NUMA node {n}")))?)
                }
            },
            driver: model.unwrap_or("vfio-pci").to_owned(),
            keep: Vec::new(),
            exclude: Vec::new(),
        };
        opts.validate()?;
        let found = discover(host)?;
        let (_, xml) = domain::choose_and_write(&found, &request, domain_xml, Machine::Q35, &opts)?;
        let string = new_string(xml)?;
        // SAFETY: checked by `out`.
        unsafe { put(xml_out, string) };
        Ok(())
    })
}

/// KubeVirt configuration for the host's QAT VFs, as `qatctl kubevirt --format json` prints
/// it: `{"kubevirtPatch": ..., "vmHostDevices": ...}` with `count` host devices. The resource
/// name defaults per family; `external_provider` (a device plugin names the resource) needs
/// `resource_name`. Free the string with `qatkit_string_free`.
///
/// # Safety
/// `host` is NULL or live; `resource_name` is NULL or NUL-terminated; `json_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qatkit_host_kubevirt_json(
    host: *const qatkit_host,
    count: usize,
    resource_name: *const c_char,
    external_provider: bool,
    json_out: *mut *mut c_char,
) -> qatkit_result {
    boundary(|| {
        // SAFETY: the caller's contract above.
        let (host, name) = unsafe {
            (
                arg(host, "host")?,
                opt_text(resource_name, "resource_name")?,
            )
        };
        let json_out = out(json_out, "json_out")?;
        let config = domain::kubevirt::config(&discover(host)?, count, name, external_provider)?;
        let text = serde_json::to_string(&config)
            .map_err(|e| Failure::new(crate::ffi::QATKIT_OTHER, e.to_string()))?;
        let string = new_string(text)?;
        // SAFETY: checked by `out`.
        unsafe { put(json_out, string) };
        Ok(())
    })
}
