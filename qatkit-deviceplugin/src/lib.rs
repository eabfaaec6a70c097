//! qatkit-deviceplugin: a Kubernetes device plugin (kubelet API v1beta1) that serves QAT VFs
//! bound to vfio-pci to pods and KubeVirt VMs.
//!
//! Layers, each using only those above it: [`api`] (the generated gRPC code), [`naming`]
//! (resource names and KubeVirt's variable), [`inventory`] (which VFs each resource has, and
//! their health, from a discovery snapshot), [`monitor`] (polls the host and publishes
//! snapshots), [`preferred`] and [`allocation`] (the answers to the kubelet's two questions),
//! [`plugin`] (the DevicePlugin service of one resource), [`kubelet`] (Unix-socket transport and
//! registration) and [`server`] (one socket per resource, kept registered for the plugin's life).
//! Beside them: [`cli`] (the command line), [`provision`] (the node converged from a config
//! file before serving), [`nfd`] (a features file for node-feature-discovery) and
//! [`played_kubelet`] (the kubelet's registration side, for tests and the real-kernel checks).

pub mod allocation;
pub mod api;
pub mod cli;
pub mod inventory;
pub mod kubelet;
pub mod monitor;
pub mod naming;
pub mod nfd;
pub mod played_kubelet;
pub mod plugin;
pub mod preferred;
pub mod provision;
pub mod server;
