//! One gRPC server and socket per resource, registered with the kubelet and kept so: when the
//! kubelet restarts it deletes every plugin socket, and the plugin then serves on a new socket
//! and registers again; on shutdown the sockets are removed.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::Server;

use crate::api::KUBELET_SOCKET;
use crate::api::device_plugin_server::DevicePluginServer;
use crate::kubelet;
use crate::monitor::Snapshot;
use crate::naming::socket_name;
use crate::plugin::{ResourcePlugin, ServeOptions};

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The kubelet's plugin directory, holding `kubelet.sock` and the plugin's sockets.
    pub plugin_dir: PathBuf,
    /// How each resource is served.
    pub options: ServeOptions,
    /// How often to look whether a socket was deleted, and to retry registering.
    pub recheck: Duration,
}

/// Serves every resource the snapshots name (resources appearing later too) until `stop`
/// turns true, then removes the sockets.
pub async fn run(
    config: ServerConfig,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut served = BTreeSet::new();
    let mut tasks = JoinSet::new();
    loop {
        let resources: Vec<String> = snapshots
            .borrow_and_update()
            .inventory
            .keys()
            .cloned()
            .collect();
        for resource in resources {
            if served.insert(resource.clone()) {
                tasks.spawn(serve_resource(
                    config.clone(),
                    resource,
                    snapshots.clone(),
                    stop.clone(),
                ));
            }
        }
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { break },
            _ = stop.wait_for(|stop| *stop) => break,
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Serves one resource: socket, server, registration; again whenever the socket is deleted.
async fn serve_resource(
    config: ServerConfig,
    resource: String,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    mut stop: watch::Receiver<bool>,
) {
    let endpoint = socket_name(&resource);
    let socket = config.plugin_dir.join(&endpoint);
    let kubelet_socket = config.plugin_dir.join(KUBELET_SOCKET);
    let registration = config.options.plugin_options();
    loop {
        let (server_stop, server_stopped) = watch::channel(false);
        let (server, inode) = match listen(&socket) {
            Ok(listening) => listening,
            Err(e) => {
                tracing::error!(%resource, "cannot serve on {}: {e}", socket.display());
                if wait_or_stop(&mut stop, config.recheck).await {
                    return;
                }
                continue;
            }
        };
        let plugin = ResourcePlugin::new(
            resource.clone(),
            snapshots.clone(),
            config.options.clone(),
            server_stopped.clone(),
        );
        let mut shutdown = server_stopped.clone();
        let serving = tokio::spawn(
            Server::builder()
                .add_service(DevicePluginServer::new(plugin))
                .serve_with_incoming_shutdown(UnixListenerStream::new(server), async move {
                    let _ = shutdown.wait_for(|s| *s).await;
                }),
        );
        tracing::info!(%resource, socket = %socket.display(), "serving");
        // Registered, or stopped trying.
        let mut registered = false;
        loop {
            if !registered {
                match kubelet::register(&kubelet_socket, &endpoint, &resource, registration).await {
                    Ok(()) => {
                        tracing::info!(%resource, "registered with the kubelet");
                        registered = true;
                    }
                    Err(e) => tracing::warn!(%resource, "registration failed, retrying: {e}"),
                }
            }
            if wait_or_stop(&mut stop, config.recheck).await {
                break;
            }
            if !still_there(&socket, inode) {
                let socket = socket.display();
                tracing::warn!(%resource, "{socket} was deleted (kubelet restart?): serving again");
                break;
            }
        }
        let _ = server_stop.send(true);
        match serving.await {
            Ok(Err(e)) => tracing::warn!(%resource, "server ended: {e}"),
            Err(e) => tracing::warn!(%resource, "server task failed: {e}"),
            Ok(Ok(())) => {}
        }
        if *stop.borrow() {
            if still_there(&socket, inode) {
                let _ = std::fs::remove_file(&socket);
            }
            tracing::info!(%resource, "stopped");
            return;
        }
    }
}

/// Binds `socket`, replacing a stale file of an earlier run; returns the listener and the
/// socket's inode (to tell it from a new file of the same name).
fn listen(socket: &Path) -> std::io::Result<(UnixListener, u64)> {
    match std::fs::remove_file(socket) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(socket)?;
    let inode = std::fs::symlink_metadata(socket)?.ino();
    Ok((listener, inode))
}

fn still_there(socket: &Path, inode: u64) -> bool {
    std::fs::symlink_metadata(socket).is_ok_and(|m| m.ino() == inode)
}

/// Waits `period`; true when `stop` turned true meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, period: Duration) -> bool {
    let stopped = tokio::select! {
        _ = stop.wait_for(|stop| *stop) => true,
        () = tokio::time::sleep(period) => false,
    };
    stopped || *stop.borrow()
}
