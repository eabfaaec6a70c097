//! The DevicePlugin service of one resource, answering from the monitor's newest snapshot.

use std::pin::Pin;
use std::sync::Arc;

use qat_vf::domain::Policy;
use qat_vf::vfio::HostDevice;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::allocation::{AllocateOptions, container_response};
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

    fn devices(&self) -> Vec<inventory::Device> {
        self.snapshots
            .borrow()
            .inventory
            .get(&self.resource)
            .cloned()
            .unwrap_or_default()
    }
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
        Ok(Response::new(DevicePluginOptions {
            pre_start_required: self.options.reset,
            get_preferred_allocation_available: true,
        }))
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
                let devices = snapshots
                    .borrow_and_update()
                    .inventory
                    .get(&resource)
                    .cloned()
                    .unwrap_or_default();
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
        let snapshot = self.snapshots.borrow().clone();
        let Some(host) = &snapshot.host else {
            return Err(Status::unavailable("the host has not been read yet"));
        };
        let devices = self.devices();
        let container_responses = request
            .into_inner()
            .container_requests
            .iter()
            .map(|r| ContainerPreferredAllocationResponse {
                device_i_ds: preferred(
                    host,
                    &devices,
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
        let devices = self.devices();
        let container_responses = request
            .into_inner()
            .container_requests
            .iter()
            .map(|r| {
                container_response(
                    &self.resource,
                    &devices,
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
        let Some(env) = self.snapshots.borrow().env.clone() else {
            return Err(Status::unavailable("the host has not been read yet"));
        };
        let devices = self.devices();
        let ids = request.into_inner().devices_ids;
        let mut vfs = Vec::with_capacity(ids.len());
        for id in &ids {
            let device = devices.iter().find(|d| d.id() == *id).ok_or_else(|| {
                Status::invalid_argument(format!("{} has no device {id}", self.resource))
            })?;
            vfs.push(device.vf);
        }
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
