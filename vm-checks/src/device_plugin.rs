//! The device plugin against a host, as a played kubelet drives it: igb's VFs served in generic
//! mode under one resource, listed and allocated. Run in the VM on the real kernel's /sys and
//! /dev/vfio, and on the simulated host of the same machine.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use qat_vf::domain::Policy;
use qat_vf::{Bdf, Host, HostEnv};
use qatkit_deviceplugin::api::device_plugin_client::DevicePluginClient;
use qatkit_deviceplugin::api::{AllocateRequest, ContainerAllocateRequest, Empty, HEALTHY};
use qatkit_deviceplugin::inventory::Settings;
use qatkit_deviceplugin::monitor::Monitor;
use qatkit_deviceplugin::naming::{Naming, kubevirt_env_var};
use qatkit_deviceplugin::plugin::ServeOptions;
use qatkit_deviceplugin::server::{self, ServerConfig};
use qatkit_deviceplugin::{kubelet, played_kubelet};
use tokio::sync::watch;

/// The resource igb's VFs are served as.
const RESOURCE: &str = "qatkit.io/igb-vf";

/// How long to wait for the plugin's first registration and answers (TCG is slow).
const PATIENCE: Duration = Duration::from_secs(30);

/// Serves `pf`'s VFs on `host`, registers with a played kubelet, reads the first device list
/// and allocates the first two VFs; describes what came back, compared with sysfs.
pub(crate) fn serve_and_allocate(host: &HostEnv, pf: Bdf) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let registrations =
            played_kubelet::start(dir.path()).map_err(|e| format!("kubelet.sock: {e}"))?;
        let env = host.clone();
        let settings = Settings {
            naming: Naming::one(RESOURCE)?,
            driver: "vfio-pci".into(),
        };
        let snapshots = Monitor::new(Arc::new(move || Ok(env.clone())), vec![pf], settings)
            .spawn(Duration::from_secs(1));
        let (stop, stopped) = watch::channel(false);
        let config = ServerConfig {
            plugin_dir: dir.path().to_owned(),
            options: ServeOptions {
                driver: "vfio-pci".into(),
                policy: Policy::Balanced,
                ..ServeOptions::default()
            },
            recheck: Duration::from_millis(200),
        };
        let server = tokio::spawn(server::run(config, snapshots, stopped));
        let observed = tokio::time::timeout(PATIENCE, drive(host, pf, dir.path(), registrations))
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
        let _ = stop.send(true);
        let _ = tokio::time::timeout(PATIENCE, server).await;
        observed
    })
}

async fn drive(
    host: &HostEnv,
    pf: Bdf,
    dir: &Path,
    mut registrations: tokio::sync::mpsc::UnboundedReceiver<
        qatkit_deviceplugin::api::RegisterRequest,
    >,
) -> Result<String, String> {
    let registered = registrations.recv().await.ok_or("no registration")?;
    let channel = kubelet::connect(&dir.join(&registered.endpoint))
        .await
        .map_err(|e| format!("connecting to the plugin: {e}"))?;
    let mut plugin = DevicePluginClient::new(channel);
    let list = plugin
        .list_and_watch(Empty {})
        .await
        .map_err(|e| e.to_string())?
        .into_inner()
        .message()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the device list stream ended")?;
    let found = Host::discover(host, &[pf]).map_err(|e| e.chain())?;
    let vfs = &found.pf(pf).ok_or("PF gone")?.vfs;
    let mut listed: Vec<&str> = list.devices.iter().map(|d| d.id.as_str()).collect();
    listed.sort_unstable();
    let sysfs_ids: Vec<String> = vfs.iter().map(|vf| vf.pci.bdf.to_string()).collect();
    let ids = if listed == sysfs_ids.iter().map(String::as_str).collect::<Vec<_>>() {
        "sysfs".to_owned()
    } else {
        format!("differ:{listed:?}")
    };
    let healthy = list.devices.iter().filter(|d| d.health == HEALTHY).count();
    let mut nodes: Vec<i64> = list
        .devices
        .iter()
        .flat_map(|d| d.topology.iter().flat_map(|t| t.nodes.iter().map(|n| n.id)))
        .collect();
    nodes.dedup();
    let topology = if nodes.is_empty() {
        "none".to_owned()
    } else {
        format!("{nodes:?}")
    };
    // Allocate the first two VFs.
    let chosen = vfs.get(..2).ok_or("fewer than 2 VFs")?;
    let ids_asked: Vec<String> = chosen.iter().map(|vf| vf.pci.bdf.to_string()).collect();
    let answer = plugin
        .allocate(AllocateRequest {
            container_requests: vec![ContainerAllocateRequest {
                devices_ids: ids_asked.clone(),
            }],
        })
        .await
        .map_err(|e| e.to_string())?
        .into_inner();
    let container = answer
        .container_responses
        .first()
        .ok_or("no container answer")?;
    let specs: Vec<&str> = container
        .devices
        .iter()
        .map(|d| d.host_path.as_str())
        .collect();
    let mut want = vec!["/dev/vfio/vfio".to_owned()];
    for vf in chosen {
        let group = vf.pci.iommu_group.ok_or("a VF without an IOMMU group")?;
        want.push(format!("/dev/vfio/{group}"));
    }
    let groups = if specs == want.iter().map(String::as_str).collect::<Vec<_>>() {
        "sysfs".to_owned()
    } else {
        format!("differ:{specs:?}")
    };
    let exist = specs.iter().all(|p| host.exists(Path::new(p)));
    let env = container.envs.get(&kubevirt_env_var(RESOURCE)) == Some(&ids_asked.join(","));
    Ok(format!(
        "resource={} devices={} healthy={healthy} ids={ids} topology={topology} specs={} groups={groups} exist={exist} env={env}",
        registered.resource_name,
        list.devices.len(),
        specs.len()
    ))
}
