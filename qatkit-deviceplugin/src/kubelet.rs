//! gRPC over the kubelet's Unix sockets: a channel to a socket path, and registration.
//!
//! The channel's URI is `http://localhost`, so requests carry `:authority: localhost`, as
//! current kubelets send it; Rust's HTTP/2 stack refuses a socket path there, which kubelets
//! before 1.26 sent when they dialled a plugin (see the README).

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::api::registration_client::RegistrationClient;
use crate::api::{DevicePluginOptions, RegisterRequest, VERSION};

/// A channel to the gRPC server on the Unix socket `path`, connected now.
pub async fn connect(path: &Path) -> Result<Channel, tonic::transport::Error> {
    let path: PathBuf = path.to_owned();
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await
}

/// Registers `resource`, served on `endpoint` (a socket file name in the plugin directory),
/// with the kubelet at `kubelet_socket`.
pub async fn register(
    kubelet_socket: &Path,
    endpoint: &str,
    resource: &str,
    options: DevicePluginOptions,
) -> Result<(), String> {
    let channel = connect(kubelet_socket).await.map_err(|e| {
        format!(
            "connecting to {}: {}",
            kubelet_socket.display(),
            qat_error::chain(&e)
        )
    })?;
    RegistrationClient::new(channel)
        .register(RegisterRequest {
            version: VERSION.into(),
            endpoint: endpoint.into(),
            resource_name: resource.into(),
            options: Some(options),
        })
        .await
        .map_err(|e| format!("the kubelet refused {resource}: {}", e.message()))?;
    Ok(())
}
