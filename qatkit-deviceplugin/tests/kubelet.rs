//! The plugin against a kubelet played over Unix sockets in a temporary directory, on a
//! simulated host: registration, the device list with NUMA nodes, a failed heartbeat pushed,
//! preferred allocation, Allocate's answer, the opt-in reset, re-registration after the
//! kubelet deletes the socket, and a clean stop.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use qat_vf::domain::Policy;
use qat_vf::provision::{self, Desired};
use qat_vf::sim::SimHost;
use qat_vf::{Bdf, Host};
use qatkit_deviceplugin::allocation::AllocateOptions;
use qatkit_deviceplugin::api::device_plugin_client::DevicePluginClient;
use qatkit_deviceplugin::api::{
    AllocateRequest, ContainerAllocateRequest, ContainerPreferredAllocationRequest, Empty,
    ListAndWatchResponse, PreStartContainerRequest, PreferredAllocationRequest, RegisterRequest,
};
use qatkit_deviceplugin::inventory::Settings;
use qatkit_deviceplugin::kubelet;
use qatkit_deviceplugin::monitor::Monitor;
use qatkit_deviceplugin::naming::{DEFAULT_PREFIX, Naming};
use qatkit_deviceplugin::played_kubelet;
use qatkit_deviceplugin::plugin::ServeOptions;
use qatkit_deviceplugin::server::{self, ServerConfig};
use tokio::sync::{mpsc, watch};
use tonic::Streaming;

const RESOURCE: &str = "qat.intel.com/sym-dc";
const INTERVAL: Duration = Duration::from_millis(200);
/// How long a test waits for what should come within the interval, before it fails: generous,
/// for a loaded CI machine.
const PATIENCE: Duration = Duration::from_secs(10);

/// Four 4xxx PFs, two on each NUMA node, all `sym;dc` with every VF on vfio-pci.
fn host() -> SimHost {
    let sim = SimHost::preset("4xxx".parse().unwrap(), 4);
    let dir = tempfile::tempdir().unwrap();
    let want = Desired::new("vfio-pci".parse().unwrap()).with_services("sym;dc".parse().unwrap());
    let (_, report) = provision::converge(&sim, &want, &dir.path().join("lock")).unwrap();
    assert!(report.ok, "{report:#?}");
    sim
}

struct Running {
    dir: tempfile::TempDir,
    sim: SimHost,
    registrations: mpsc::UnboundedReceiver<RegisterRequest>,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

async fn start(policy: Policy, reset: bool) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let sim = host();
    let registrations = played_kubelet::start(dir.path()).unwrap();
    let env = sim.env().clone();
    let settings = Settings {
        naming: Naming::by_services(DEFAULT_PREFIX).unwrap(),
        driver: "vfio-pci".into(),
    };
    let snapshots =
        Monitor::new(Arc::new(move || Ok(env.clone())), Vec::new(), settings).spawn(INTERVAL);
    let (stop, stopped) = watch::channel(false);
    let config = ServerConfig {
        plugin_dir: dir.path().to_owned(),
        options: ServeOptions {
            driver: "vfio-pci".into(),
            policy,
            reset,
            allocate: AllocateOptions {
                cdi_kind: Some("qat.intel.com/vf".into()),
            },
        },
        recheck: Duration::from_millis(100),
    };
    let server = tokio::spawn(server::run(config, snapshots, stopped));
    Running {
        dir,
        sim,
        registrations,
        stop,
        server,
    }
}

async fn next_registration(running: &mut Running) -> RegisterRequest {
    tokio::time::timeout(PATIENCE, running.registrations.recv())
        .await
        .expect("no registration in time")
        .expect("kubelet gone")
}

async fn client(socket: PathBuf) -> DevicePluginClient<tonic::transport::Channel> {
    DevicePluginClient::new(kubelet::connect(&socket).await.unwrap())
}

async fn next_list(stream: &mut Streaming<ListAndWatchResponse>) -> ListAndWatchResponse {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("no device list in time")
        .unwrap()
        .expect("stream ended")
}

fn pfs(sim: &SimHost) -> Vec<(Bdf, Vec<Bdf>)> {
    Host::discover(sim, &[])
        .unwrap()
        .pfs
        .iter()
        .map(|pf| (pf.pci.bdf, pf.vfs.iter().map(|vf| vf.pci.bdf).collect()))
        .collect()
}

fn health(list: &ListAndWatchResponse) -> BTreeMap<String, String> {
    list.devices
        .iter()
        .map(|d| (d.id.clone(), d.health.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_serves_a_played_kubelet_on_a_simulated_host() {
    let mut running = start(Policy::Balanced, true).await;
    let pfs = pfs(&running.sim);
    assert_eq!(pfs.len(), 4);

    // Registration.
    let registered = next_registration(&mut running).await;
    assert_eq!(registered.version, "v1beta1");
    assert_eq!(registered.resource_name, RESOURCE);
    assert_eq!(registered.endpoint, "qatkit-qat_intel_com_sym_dc.sock");
    let options = registered.options.unwrap();
    assert!(options.pre_start_required && options.get_preferred_allocation_available);
    let socket = running.dir.path().join(&registered.endpoint);
    let mut plugin = client(socket.clone()).await;
    let asked = plugin
        .get_device_plugin_options(Empty {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(asked, options);

    // The first list: every VF, healthy, with its NUMA node (PFs 0 and 1 on node 0, 2 and 3
    // on node 1).
    let mut stream = plugin.list_and_watch(Empty {}).await.unwrap().into_inner();
    let first = next_list(&mut stream).await;
    assert_eq!(first.devices.len(), 64);
    for (i, (_, vfs)) in pfs.iter().enumerate() {
        for vf in vfs {
            let device = first
                .devices
                .iter()
                .find(|d| d.id == vf.to_string())
                .unwrap();
            assert_eq!(device.health, "Healthy");
            let nodes: Vec<i64> = device
                .topology
                .as_ref()
                .unwrap()
                .nodes
                .iter()
                .map(|n| n.id)
                .collect();
            assert_eq!(nodes, [if i < 2 { 0 } else { 1 }], "{vf}");
        }
    }

    // Preferred allocation: must-include first, then its node; balanced across that node's
    // PFs.
    let all: Vec<String> = first.devices.iter().map(|d| d.id.clone()).collect();
    let on_pf = |i: usize, j: usize| pfs[i].1[j].to_string();
    let prefer = |must: Vec<String>, size: i32| {
        let mut plugin = plugin.clone();
        let available = all.clone();
        async move {
            plugin
                .get_preferred_allocation(PreferredAllocationRequest {
                    container_requests: vec![ContainerPreferredAllocationRequest {
                        available_device_i_ds: available,
                        must_include_device_i_ds: must,
                        allocation_size: size,
                    }],
                })
                .await
                .unwrap()
                .into_inner()
                .container_responses[0]
                .device_i_ds
                .clone()
        }
    };
    let chosen = prefer(vec![on_pf(3, 5)], 3).await;
    assert_eq!(chosen[0], on_pf(3, 5));
    assert_eq!(chosen.len(), 3);
    // The other two on node 1 (PFs 2 and 3), balanced: PF 2 has given none, then both have
    // given one and the lower address goes first.
    assert_eq!(chosen[1..], [on_pf(2, 0), on_pf(2, 1)]);
    let chosen = prefer(Vec::new(), 2).await;
    assert_eq!(chosen, [on_pf(0, 0), on_pf(1, 0)]);

    // Allocate: the VFIO nodes of both groups, KubeVirt's variable, QAT<n>, CDI names.
    let (a, b) = (pfs[0].1[0], pfs[2].1[1]);
    let answer = plugin
        .allocate(AllocateRequest {
            container_requests: vec![ContainerAllocateRequest {
                devices_ids: vec![a.to_string(), b.to_string()],
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let container = &answer.container_responses[0];
    let host = Host::discover(&running.sim, &[]).unwrap();
    let group = |vf: Bdf| {
        host.pfs
            .iter()
            .flat_map(|pf| &pf.vfs)
            .find(|v| v.pci.bdf == vf)
            .unwrap()
            .pci
            .iommu_group
            .unwrap()
    };
    let nodes: Vec<(&str, &str, &str)> = container
        .devices
        .iter()
        .map(|d| {
            (
                d.container_path.as_str(),
                d.host_path.as_str(),
                d.permissions.as_str(),
            )
        })
        .collect();
    let (ga, gb) = (
        format!("/dev/vfio/{}", group(a)),
        format!("/dev/vfio/{}", group(b)),
    );
    assert_eq!(
        nodes,
        [
            ("/dev/vfio/vfio", "/dev/vfio/vfio", "rw"),
            (ga.as_str(), ga.as_str(), "rw"),
            (gb.as_str(), gb.as_str(), "rw"),
        ]
    );
    assert_eq!(
        container.envs["PCI_RESOURCE_QAT_INTEL_COM_SYM-DC"],
        format!("{a},{b}")
    );
    assert_eq!(container.envs["QAT0"], a.to_string());
    assert_eq!(container.envs["QAT1"], b.to_string());
    let cdi: Vec<&str> = container
        .cdi_devices
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        cdi,
        [
            format!("qat.intel.com/vf={a}"),
            format!("qat.intel.com/vf={b}")
        ]
    );
    let unknown = plugin
        .allocate(AllocateRequest {
            container_requests: vec![ContainerAllocateRequest {
                devices_ids: vec!["0000:99:00.1".into()],
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    assert!(
        unknown.message().contains("0000:99:00.1"),
        "{}",
        unknown.message()
    );

    // The opt-in reset, through VFIO.
    plugin
        .pre_start_container(PreStartContainerRequest {
            devices_ids: vec![b.to_string()],
        })
        .await
        .unwrap();
    assert_eq!(running.sim.resets(), [b]);

    // A failed heartbeat on PF 1: its VFs pushed as unhealthy, within the interval.
    let failed_pf = pfs[1].0;
    let failed_at = Instant::now();
    running.sim.with_kernel(|k| {
        k.devices
            .get_mut(&failed_pf)
            .unwrap()
            .qat
            .as_mut()
            .unwrap()
            .heartbeat = -1;
    });
    let pushed = next_list(&mut stream).await;
    let took = failed_at.elapsed();
    let health = health(&pushed);
    for (i, (_, vfs)) in pfs.iter().enumerate() {
        for vf in vfs {
            let want = if i == 1 { "Unhealthy" } else { "Healthy" };
            assert_eq!(health[&vf.to_string()], want, "{vf}");
        }
    }
    eprintln!("health change pushed after {took:?} (interval {INTERVAL:?})");

    // The kubelet restarts and deletes the socket: the plugin serves and registers again.
    std::fs::remove_file(&socket).unwrap();
    let again = next_registration(&mut running).await;
    assert_eq!(again.endpoint, registered.endpoint);
    assert!(socket.exists());
    let mut plugin = client(socket.clone()).await;
    let mut stream = plugin.list_and_watch(Empty {}).await.unwrap().into_inner();
    assert_eq!(next_list(&mut stream).await, pushed);

    // Stop: the server ends and its socket is gone.
    running.stop.send(true).unwrap();
    tokio::time::timeout(PATIENCE, running.server)
        .await
        .expect("the server did not stop")
        .unwrap();
    assert!(!socket.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packed_fills_one_pf_and_no_reset_is_asked_for_unless_opted_in() {
    let mut running = start(Policy::Packed, false).await;
    let pfs = pfs(&running.sim);
    let registered = next_registration(&mut running).await;
    assert!(!registered.options.unwrap().pre_start_required);
    let mut plugin = client(running.dir.path().join(&registered.endpoint)).await;
    let available: Vec<String> = pfs
        .iter()
        .flat_map(|(_, vfs)| vfs)
        .map(Bdf::to_string)
        .collect();
    let chosen = plugin
        .get_preferred_allocation(PreferredAllocationRequest {
            container_requests: vec![ContainerPreferredAllocationRequest {
                available_device_i_ds: available,
                must_include_device_i_ds: Vec::new(),
                allocation_size: 3,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let want: Vec<String> = pfs[0].1[..3].iter().map(Bdf::to_string).collect();
    assert_eq!(chosen.container_responses[0].device_i_ds, want);
    plugin
        .pre_start_container(PreStartContainerRequest {
            devices_ids: want.clone(),
        })
        .await
        .unwrap();
    assert!(running.sim.resets().is_empty());
    running.stop.send(true).unwrap();
}
