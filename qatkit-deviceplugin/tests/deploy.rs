//! The manifests in `deploy/` parse into Kubernetes' own types (k8s-openapi, the API's schema),
//! hold together (selector and labels, the ConfigMap the pod mounts, the volumes each container
//! uses), give the plugin arguments its real parser accepts and a config it accepts, and keep
//! privilege where the README says it is.

use std::path::Path;

use clap::Parser;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace};
use qat_vf::sim::SimHost;
use qatkit_deviceplugin::cli::Args;
use qatkit_deviceplugin::provision::NodeConfig;
use serde::de::DeserializeOwned;

fn manifest<T: DeserializeOwned>(name: &str) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn args_of(container: &Container) -> Args {
    let args = container.args.clone().unwrap_or_default();
    Args::try_parse_from(std::iter::once("qatkit-deviceplugin".to_owned()).chain(args))
        .unwrap_or_else(|e| panic!("{}: {e}", container.name))
}

fn mounts(container: &Container) -> Vec<(String, String, bool)> {
    container
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| {
            (
                m.name.clone(),
                m.mount_path.clone(),
                m.read_only.unwrap_or(false),
            )
        })
        .collect()
}

#[test]
fn the_manifests_parse_and_hold_together() {
    let namespace: Namespace = manifest("namespace.yaml");
    let namespace = namespace.metadata.name.unwrap();
    let config: ConfigMap = manifest("configmap.yaml");
    let daemonset: DaemonSet = manifest("daemonset.yaml");
    assert_eq!(
        config.metadata.namespace.as_deref(),
        Some(namespace.as_str())
    );
    assert_eq!(
        daemonset.metadata.namespace.as_deref(),
        Some(namespace.as_str())
    );

    // The node config the init container converges is one the plugin accepts.
    let node = &config.data.as_ref().unwrap()["node.yaml"];
    let sim = SimHost::preset("4xxx".parse().unwrap(), 1);
    NodeConfig::parse(node).unwrap().desired(&sim).unwrap();

    let spec = daemonset.spec.unwrap();
    let labels = spec.template.metadata.unwrap().labels.unwrap();
    for (key, value) in spec.selector.match_labels.unwrap() {
        assert_eq!(labels.get(&key), Some(&value), "selector {key}");
    }
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.host_pid, Some(true));
    let volumes = pod.volumes.unwrap();
    let host_path = |name: &str| {
        volumes
            .iter()
            .find(|v| v.name == name)
            .and_then(|v| v.host_path.as_ref())
            .map(|h| h.path.clone())
    };
    assert_eq!(host_path("sys").as_deref(), Some("/sys"));
    assert_eq!(host_path("dev-vfio").as_deref(), Some("/dev/vfio"));
    assert_eq!(
        host_path("device-plugins").as_deref(),
        Some("/var/lib/kubelet/device-plugins")
    );
    let config_volume = volumes.iter().find(|v| v.name == "config").unwrap();
    assert_eq!(
        config_volume.config_map.as_ref().unwrap().name,
        config.metadata.name.unwrap()
    );

    // The init container converges and exits; privileged, for sysfs writes.
    let init = &pod.init_containers.unwrap()[0];
    let args = args_of(init);
    assert!(args.provision_only);
    let config_path = args.provision.unwrap();
    let (_, config_mount, _) = mounts(init)
        .into_iter()
        .find(|(name, _, _)| name == "config")
        .unwrap();
    assert_eq!(config_path, Path::new(&config_mount).join("node.yaml"));
    assert_eq!(
        init.security_context.as_ref().unwrap().privileged,
        Some(true)
    );

    // The plugin serves on the kubelet's directory, unprivileged, reading /sys and /dev/vfio.
    let plugin = &pod.containers[0];
    let args = args_of(plugin);
    assert!(args.provision.is_none() && !args.reset);
    let plugin_mounts = mounts(plugin);
    assert!(plugin_mounts.contains(&(
        "device-plugins".into(),
        args.plugin_dir.display().to_string(),
        false
    )));
    assert!(plugin_mounts.contains(&("sys".into(), "/sys".into(), true)));
    assert!(plugin_mounts.contains(&("dev-vfio".into(), "/dev/vfio".into(), true)));
    let features_dir = args
        .nfd_features
        .unwrap()
        .parent()
        .unwrap()
        .display()
        .to_string();
    assert!(
        plugin_mounts
            .iter()
            .any(|(_, path, ro)| *path == features_dir && !ro)
    );
    let security = plugin.security_context.as_ref().unwrap();
    assert_ne!(security.privileged, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let capabilities = security.capabilities.as_ref().unwrap();
    assert_eq!(capabilities.drop.as_deref(), Some(&["ALL".to_owned()][..]));
    assert_eq!(init.image, plugin.image);
}

#[test]
fn the_containerfile_copies_the_binary_its_comment_builds() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/Containerfile");
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines[0], "FROM scratch");
    assert!(text.contains("--target x86_64-unknown-linux-gnu"));
    assert!(text.contains("+crt-static"));
    assert!(lines.contains(
        &"COPY target/x86_64-unknown-linux-gnu/release/qatkit-deviceplugin /qatkit-deviceplugin"
    ));
}
