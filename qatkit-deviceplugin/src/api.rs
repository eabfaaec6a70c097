//! The kubelet's device plugin API, v1beta1: messages, the `Registration` client and server,
//! the `DevicePlugin` client and server, generated at build time from
//! `proto/deviceplugin_v1beta1.proto`.

#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
mod generated {
    tonic::include_proto!("v1beta1");
}

pub use generated::*;

/// The API version a plugin registers with.
pub const VERSION: &str = "v1beta1";

/// The kubelet's registration socket, in the plugin directory.
pub const KUBELET_SOCKET: &str = "kubelet.sock";

/// The plugin directory of a standard kubelet.
pub const DEFAULT_PLUGIN_DIR: &str = "/var/lib/kubelet/device-plugins";

/// A device the kubelet may allocate.
pub const HEALTHY: &str = "Healthy";

/// A device the kubelet must not allocate.
pub const UNHEALTHY: &str = "Unhealthy";
