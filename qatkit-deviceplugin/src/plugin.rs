//! The DevicePlugin service of one resource, answering from the monitor's newest snapshot.

use std::pin::Pin;
use std::sync::Arc;

use qat_vf::domain::Policy;
use qat_vf::vfio::HostDevice;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::allocation::{AllocateOptions, container_response, find};
use crate::api::device_plugin_server::DevicePlugin;
use crate::api::{
    AllocateRequest, AllocateResponse, ContainerPreferredAllocationResponse, Device,
    DevicePluginOptions, Empty, HEALTHY, ListAndWatchResponse, NumaNode, PreStartContainerRequest,
    PreStartContainerResponse, PreferredAllocationRequest, PreferredAllocationResponse,
    TopologyInfo, UNHEALTHY,
};
use crate::inventory;
use crate::monitor::Snapshot;
use crate::preferred::preferred;

/// How a resource is served, beyond its devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeOptions {
    /// The driver VFs are on (for the allocation policy).
    pub driver: String,
    /// Balanced or packed across PFs.
    pub policy: Policy,
    /// Reset each VF (VFIO device reset) in PreStartContainer, so that nothing passes from one
    /// pod to the next.
    pub reset: bool,
    /// Allocate's extras.
    pub allocate: AllocateOptions,
}

impl ServeOptions {
    /// What the plugin tells the kubelet it offers, at registration and when asked.
    pub fn plugin_options(&self) -> DevicePluginOptions {
        DevicePluginOptions {
            pre_start_required: self.reset,
            get_preferred_allocation_available: true,
        }
    }
}

/// One resource's service.
#[derive(Clone)]
pub struct ResourcePlugin {
    resource: String,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    options: ServeOptions,
    stop: watch::Receiver<bool>,
}

impl ResourcePlugin {
    /// Serves `resource` from `snapshots`; open ListAndWatch streams end when `stop` turns true
    /// (a server's graceful shutdown waits for them).
    pub fn new(
        resource: String,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        options: ServeOptions,
        stop: watch::Receiver<bool>,
    ) -> Self {
        ResourcePlugin {
            resource,
            snapshots,
            options,
            stop,
        }
    }

    /// The newest snapshot, taken once per request so that its host and devices agree.
    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }
}

/// The devices `snapshot` has for `resource`.
fn devices_of<'s>(snapshot: &'s Snapshot, resource: &str) -> &'s [inventory::Device] {
    snapshot.inventory.get(resource).map_or(&[], Vec::as_slice)
}

/// The kubelet's view of the devices.
pub fn device_list(devices: &[inventory::Device]) -> ListAndWatchResponse {
    ListAndWatchResponse {
        devices: devices
            .iter()
            .map(|d| Device {
                id: d.id(),
                health: if d.healthy() { HEALTHY } else { UNHEALTHY }.into(),
                topology: d.numa_node.map(|node| TopologyInfo {
                    nodes: vec![NumaNode { id: node.into() }],
                }),
            })
            .collect(),
    }
}

/// Logs a device list as sent, and each unhealthy device with why.
fn log_sent(resource: &str, devices: &[inventory::Device]) {
    let healthy = devices.iter().filter(|d| d.healthy()).count();
    tracing::info!(%resource, devices = devices.len(), healthy, "device list sent");
    for device in devices {
        if let Some(problem) = &device.problem {
            tracing::warn!(%resource, device = %device.vf, %problem, "unhealthy");
        }
    }
}

type DeviceStream = Pin<Box<dyn Stream<Item = Result<ListAndWatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl DevicePlugin for ResourcePlugin {
    async fn get_device_plugin_options(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<DevicePluginOptions>, Status> {
        Ok(Response::new(self.options.plugin_options()))
    }

    type ListAndWatchStream = DeviceStream;

    async fn list_and_watch(&self, _: Request<Empty>) -> Result<Response<DeviceStream>, Status> {
        let (tx, rx) = mpsc::channel(4);
        let mut snapshots = self.snapshots.clone();
        let mut stop = self.stop.clone();
        let resource = self.resource.clone();
        tokio::spawn(async move {
            let mut sent = None;
            loop {
                let devices = devices_of(&snapshots.borrow_and_update(), &resource).to_vec();
                if sent.as_ref() != Some(&devices) {
                    log_sent(&resource, &devices);
                    if tx.send(Ok(device_list(&devices))).await.is_err() {
                        return;
                    }
                    sent = Some(devices);
                }
                tokio::select! {
                    changed = snapshots.changed() => if changed.is_err() { return },
                    _ = stop.wait_for(|stop| *stop) => return,
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_preferred_allocation(
        &self,
        request: Request<PreferredAllocationRequest>,
    ) -> Result<Response<PreferredAllocationResponse>, Status> {
        let snapshot = self.snapshot();
        let Some(host) = &snapshot.host else {
            return Err(Status::unavailable("the host has not been read yet"));
        };
        let devices = devices_of(&snapshot, &self.resource);
        let container_responses = request
            .into_inner()
            .container_requests
            .iter()
            .map(|r| ContainerPreferredAllocationResponse {
                device_i_ds: preferred(
                    host,
                    devices,
                    &self.options.driver,
                    self.options.policy,
                    &r.available_device_i_ds,
                    &r.must_include_device_i_ds,
                    usize::try_from(r.allocation_size).unwrap_or(0),
                ),
            })
            .collect();
        Ok(Response::new(PreferredAllocationResponse {
            container_responses,
        }))
    }

    async fn allocate(
        &self,
        request: Request<AllocateRequest>,
    ) -> Result<Response<AllocateResponse>, Status> {
        let snapshot = self.snapshot();
        let devices = devices_of(&snapshot, &self.resource);
        let container_responses = request
            .into_inner()
            .container_requests
            .iter()
            .map(|r| {
                container_response(
                    &self.resource,
                    devices,
                    &r.devices_ids,
                    &self.options.allocate,
                )
            })
            .collect::<Result<_, _>>()
            .map_err(|e| {
                tracing::warn!(resource = %self.resource, "allocate refused: {e}");
                Status::invalid_argument(e)
            })?;
        Ok(Response::new(AllocateResponse {
            container_responses,
        }))
    }

    async fn pre_start_container(
        &self,
        request: Request<PreStartContainerRequest>,
    ) -> Result<Response<PreStartContainerResponse>, Status> {
        if !self.options.reset {
            return Ok(Response::new(PreStartContainerResponse {}));
        }
        let snapshot = self.snapshot();
        let Some(env) = snapshot.env.clone() else {
            return Err(Status::unavailable("the host has not been read yet"));
        };
        let devices = devices_of(&snapshot, &self.resource);
        let vfs = request
            .into_inner()
            .devices_ids
            .iter()
            .map(|id| find(&self.resource, devices, id).map(|d| d.vf))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Status::invalid_argument)?;
        tokio::task::spawn_blocking(move || {
            for vf in vfs {
                HostDevice::open(&env, vf)
                    .and_then(|opened| opened.device().reset())
                    .map_err(|e| {
                        Status::failed_precondition(format!("resetting {vf}: {}", e.chain()))
                    })?;
                tracing::info!(%vf, "reset before the container starts");
            }
            Ok(Response::new(PreStartContainerResponse {}))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
    }
}
