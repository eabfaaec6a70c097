//! Allocate's answer for one container: the VFIO device nodes, the variables KubeVirt and
//! DPDK/qatlib containers read the PCI addresses from, and optionally CDI device names.

use std::collections::BTreeSet;

use qat_vf::host::paths;

use crate::api::{CdiDevice, ContainerAllocateResponse, DeviceSpec};
use crate::inventory::Device;
use crate::naming::kubevirt_env_var;

/// How Allocate answers, beyond what every answer holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllocateOptions {
    /// CDI kind (`vendor.com/class`): each device is also named `<kind>=<PCI address>`.
    pub cdi_kind: Option<String>,
}

/// The device `id` of `resource`, or an error naming it.
pub fn find<'d>(resource: &str, devices: &'d [Device], id: &str) -> Result<&'d Device, String> {
    devices
        .iter()
        .find(|d| d.id() == id)
        .ok_or_else(|| format!("{resource} has no device {id}"))
}

/// The answer for a container given `ids` of `resource`. An ID the resource does not have, or
/// an unhealthy device, is an error naming it: the kubelet then fails the pod rather than start
/// it without its device.
pub fn container_response(
    resource: &str,
    devices: &[Device],
    ids: &[String],
    options: &AllocateOptions,
) -> Result<ContainerAllocateResponse, String> {
    let mut chosen = Vec::with_capacity(ids.len());
    for id in ids {
        let device = find(resource, devices, id)?;
        if let Some(problem) = &device.problem {
            return Err(format!("{id} is unhealthy: {problem}"));
        }
        chosen.push(device);
    }
    let groups: BTreeSet<u32> = chosen.iter().filter_map(|d| d.iommu_group).collect();
    let node = |path: String| DeviceSpec {
        container_path: path.clone(),
        host_path: path,
        permissions: "rw".into(),
    };
    let mut devices = vec![node(paths::VFIO_CONTAINER.to_owned())];
    devices.extend(
        groups
            .into_iter()
            .map(|g| node(paths::vfio_group_node(g).display().to_string())),
    );
    let addresses: Vec<String> = chosen.iter().map(|d| d.id()).collect();
    let mut envs = std::collections::HashMap::new();
    envs.insert(kubevirt_env_var(resource), addresses.join(","));
    for (i, address) in addresses.iter().enumerate() {
        envs.insert(format!("QAT{i}"), address.clone());
    }
    let cdi_devices = match &options.cdi_kind {
        Some(kind) => addresses
            .iter()
            .map(|a| CdiDevice {
                name: format!("{kind}={a}"),
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(ContainerAllocateResponse {
        envs,
        mounts: Vec::new(),
        devices,
        annotations: Default::default(),
        cdi_devices,
    })
}
