//! KubeVirt: the KubeVirt CR patch that permits the QAT VFs
//! (`spec.configuration.permittedHostDevices.pciHostDevices`) and the VM's
//! `spec.domain.devices.hostDevices` that asks for them. Field names are KubeVirt's API's.

use serde::Serialize;

use crate::discovery::Host;
use crate::error::{KubevirtError, Result};
use crate::pci::{INTEL_VENDOR_ID, QatFamily};

/// One permitted PCI device (KubeVirt `PciHostDevice`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PciHostDevice {
    /// `vendor:device` in hex, e.g. `8086:4941`.
    pub pci_vendor_selector: String,
    /// The extended resource VMs request.
    pub resource_name: String,
    /// Another device plugin (e.g. Intel's QAT plugin) advertises the resource, not KubeVirt.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external_resource_provider: bool,
}

/// One device a VM asks for (KubeVirt `HostDevice`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostDevice {
    /// Name in the VM spec.
    pub name: String,
    /// The resource name.
    pub device_name: String,
}

/// The KubeVirt CR patch: `spec.configuration.permittedHostDevices.pciHostDevices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubevirtPatch {
    /// `spec`.
    pub spec: PatchSpec,
}

/// `spec` of the patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchSpec {
    /// `configuration`.
    pub configuration: Configuration,
}

/// `configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Configuration {
    /// `permittedHostDevices`.
    pub permitted_host_devices: PermittedHostDevices,
}

/// `permittedHostDevices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermittedHostDevices {
    /// `pciHostDevices`.
    pub pci_host_devices: Vec<PciHostDevice>,
}

/// The VM (or VMI) snippet: `spec.domain.devices.hostDevices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmHostDevices {
    /// `spec`.
    pub spec: VmSpec,
}

/// `spec` of the VM snippet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmSpec {
    /// `domain`.
    pub domain: VmDomain,
}

/// `domain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmDomain {
    /// `devices`.
    pub devices: VmDevices,
}

/// `devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmDevices {
    /// `hostDevices`.
    pub host_devices: Vec<HostDevice>,
}

/// Both documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubevirtConfig {
    /// Merge into the KubeVirt CR.
    pub kubevirt_patch: KubevirtPatch,
    /// Merge into the VM's `spec.template` (or the VMI).
    pub vm_host_devices: VmHostDevices,
}

/// The default resource name of a family's VFs: `intel.com/qat_<family>_vf`.
pub fn default_resource_name(family: &QatFamily) -> String {
    format!("intel.com/qat_{}_vf", family.name)
}

/// Checks a Kubernetes extended resource name, by Kubernetes' own rule (`IsExtendedResourceName`
/// in `pkg/apis/core/v1/helper/helpers.go`, which the kubelet applies to device plugins):
/// `<DNS subdomain>/<name>`, the name at most 63 characters of letters, digits, `-`, `_`, `.`,
/// starting and ending with a letter or digit; not in the `kubernetes.io` domain (`IsNativeResource`:
/// the name contains `kubernetes.io/`); not starting with the quota prefix `requests.`; and still
/// a qualified name with that prefix added, so the domain has at most 253 - 9 characters.
pub fn validate_resource_name(value: &str) -> Result<()> {
    let invalid = |rule| {
        Err(KubevirtError::InvalidResourceName {
            value: value.to_owned(),
            rule,
        }
        .into())
    };
    const QUOTA_PREFIX: &str = "requests.";
    let Some((prefix, name)) = value.split_once('/') else {
        return invalid("it must be <domain>/<name>, e.g. intel.com/qat_4xxx_vf");
    };
    if value.contains("kubernetes.io/") {
        return invalid("the kubernetes.io domains are for Kubernetes' own resources");
    }
    if value.starts_with(QUOTA_PREFIX) {
        return invalid("names starting with requests. are read as resource quotas");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if QUOTA_PREFIX.len() + prefix.len() > 253 || !prefix.split('.').all(label_ok) {
        return invalid(
            "the domain must be a DNS subdomain of at most 244 characters (lower-case letters, digits, - and .)",
        );
    }
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if name.len() > 63
        || !edge_ok(name.bytes().next())
        || !edge_ok(name.bytes().last())
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return invalid(
            "the name must be 1-63 letters, digits, - _ . starting and ending alphanumeric",
        );
    }
    Ok(())
}

/// Builds both documents: one permitted entry per QAT VF device id on the host, and `count`
/// `hostDevices` entries (`qat0`, `qat1`, ...; KubeVirt and the device plugin choose the VFs).
/// `resource_name` overrides the per-family default and must then be unambiguous (one family);
/// with `external_provider` it is required, as the plugin decides the name.
pub fn config(
    host: &Host,
    count: usize,
    resource_name: Option<&str>,
    external_provider: bool,
) -> Result<KubevirtConfig> {
    let mut families: Vec<&'static QatFamily> = host
        .pfs
        .iter()
        .filter_map(|pf| pf.family())
        .chain(host.guest_vfs.iter().filter_map(|vf| vf.pci.family))
        .collect();
    families.sort_by_key(|f| f.vf_device);
    families.dedup_by_key(|f| f.vf_device);
    if families.is_empty() {
        return Err(KubevirtError::NoQatDevices.into());
    }
    if let Some(name) = resource_name {
        validate_resource_name(name)?;
        if families.len() > 1 {
            return Err(KubevirtError::AmbiguousResourceName {
                kinds: families.len(),
            }
            .into());
        }
    } else if external_provider {
        return Err(KubevirtError::ResourceNameRequired.into());
    }
    let resource_of = |family: &QatFamily| {
        resource_name.map_or_else(|| default_resource_name(family), str::to_owned)
    };
    let pci_host_devices = families
        .iter()
        .map(|f| PciHostDevice {
            pci_vendor_selector: format!("{INTEL_VENDOR_ID:04x}:{:04x}", f.vf_device),
            resource_name: resource_of(f),
            external_resource_provider: external_provider,
        })
        .collect();
    // With two kinds on the host, which one a VM asks for is the operator's choice.
    let host_devices = if families.len() == 1 {
        (0..count)
            .map(|i| HostDevice {
                name: format!("qat{i}"),
                device_name: resource_of(families[0]),
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(KubevirtConfig {
        kubevirt_patch: KubevirtPatch {
            spec: PatchSpec {
                configuration: Configuration {
                    permitted_host_devices: PermittedHostDevices { pci_host_devices },
                },
            },
        },
        vm_host_devices: VmHostDevices {
            spec: VmSpec {
                domain: VmDomain {
                    devices: VmDevices { host_devices },
                },
            },
        },
    })
}
