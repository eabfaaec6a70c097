//! `qatkit-deviceplugin`: serves the host's QAT VFs on vfio-pci to the kubelet, one resource
//! per PF service set, until SIGTERM or SIGINT; optionally after converging the node
//! (`--provision`) and keeping a node-feature-discovery features file (`--nfd-features`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use qat_vf::HostEnv;
use qat_vf::provision::ProvisionLock;
use qat_vf::sim::SimHost;
use qatkit_deviceplugin::allocation::AllocateOptions;
use qatkit_deviceplugin::cli::{Args, check_cdi_kind};
use qatkit_deviceplugin::inventory::Settings;
use qatkit_deviceplugin::monitor::{HostSource, Monitor, Snapshot};
use qatkit_deviceplugin::naming::Naming;
use qatkit_deviceplugin::nfd;
use qatkit_deviceplugin::plugin::ServeOptions;
use qatkit_deviceplugin::provision::{NodeConfig, converge};
use qatkit_deviceplugin::server::{self, ServerConfig};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qatkit-deviceplugin: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let naming = match &args.resource_name {
        Some(name) => Naming::one(name)?,
        None => Naming::by_services(&args.prefix)?,
    };
    if let Some(kind) = &args.cdi_kind {
        check_cdi_kind(kind)?;
    }
    if let Some(config) = &args.provision {
        provision_node(&args, config)?;
        if args.provision_only {
            return Ok(());
        }
    }
    let source: HostSource = match (&args.sim, &args.sysfs_root) {
        (Some(state), _) => {
            let state = state.clone();
            Arc::new(move || SimHost::load(&state).map(|sim| sim.env().clone()))
        }
        (None, Some(root)) => {
            let env = HostEnv::with_root(root);
            Arc::new(move || Ok(env.clone()))
        }
        (None, None) => Arc::new(|| Ok(HostEnv::real())),
    };
    let settings = Settings {
        naming,
        driver: args.driver.clone(),
    };
    let config = ServerConfig {
        plugin_dir: args.plugin_dir.clone(),
        options: ServeOptions {
            driver: args.driver,
            policy: args.policy,
            reset: args.reset,
            allocate: AllocateOptions {
                cdi_kind: args.cdi_kind,
            },
        },
        recheck: Duration::from_secs(1),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    runtime.block_on(async move {
        let snapshots = Monitor::new(source, args.pfs, settings).spawn(args.interval);
        if let Some(path) = args.nfd_features {
            tokio::spawn(keep_features(path, snapshots.clone()));
        }
        let (stop, stopped) = watch::channel(false);
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let serving = tokio::spawn(server::run(config, snapshots, stopped));
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            _ = int.recv() => tracing::info!("SIGINT: stopping"),
        }
        let _ = stop.send(true);
        serving.await.map_err(|e| e.to_string())
    })
}

/// Converges the host (the simulated one saved after) to the config's desired state.
fn provision_node(args: &Args, config: &std::path::Path) -> Result<(), String> {
    let config = NodeConfig::load(config)?;
    let lock = |state: Option<&std::path::Path>| {
        args.lock_file
            .clone()
            .unwrap_or_else(|| ProvisionLock::default_path(state))
    };
    match (&args.sim, &args.sysfs_root) {
        (Some(state), _) => {
            let sim = SimHost::load(state).map_err(|e| e.chain())?;
            let result = converge(&sim, &config.desired(&sim)?, &lock(Some(state)));
            sim.save(state).map_err(|e| e.chain())?;
            result.map(drop)
        }
        (None, root) => {
            let env = root.as_ref().map_or_else(HostEnv::real, HostEnv::with_root);
            converge(&env, &config.desired(&env)?, &lock(None)).map(drop)
        }
    }
    .map_err(|e| format!("provisioning: {e}"))
}

/// Rewrites the features file whenever the device list changes.
async fn keep_features(path: PathBuf, mut snapshots: watch::Receiver<Arc<Snapshot>>) {
    loop {
        let text = {
            let snapshot = snapshots.borrow_and_update();
            snapshot
                .host
                .as_ref()
                .map(|host| nfd::features(host, &snapshot.inventory))
        };
        if let Some(text) = text {
            match nfd::write(&path, &text) {
                Ok(()) => tracing::info!("features written to {}", path.display()),
                Err(e) => tracing::warn!("writing {}: {e}", path.display()),
            }
        }
        if snapshots.changed().await.is_err() {
            return;
        }
    }
}
