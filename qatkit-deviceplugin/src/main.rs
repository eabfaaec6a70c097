//! `qatkit-deviceplugin`: serves the host's QAT VFs on vfio-pci to the kubelet, one resource
//! per PF service set, until SIGTERM or SIGINT; optionally after converging the node
//! (`--provision`) and keeping a node-feature-discovery features file (`--nfd-features`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use qat_vf::domain::Policy;
use qat_vf::provision::ProvisionLock;
use qat_vf::sim::SimHost;
use qat_vf::{Bdf, HostEnv};
use qatkit_deviceplugin::allocation::AllocateOptions;
use qatkit_deviceplugin::api::DEFAULT_PLUGIN_DIR;
use qatkit_deviceplugin::inventory::Settings;
use qatkit_deviceplugin::monitor::{HostSource, Monitor, Snapshot};
use qatkit_deviceplugin::naming::{DEFAULT_PREFIX, Naming};
use qatkit_deviceplugin::nfd;
use qatkit_deviceplugin::plugin::ServeOptions;
use qatkit_deviceplugin::provision::{NodeConfig, converge};
use qatkit_deviceplugin::server::{self, ServerConfig};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Serve QAT VFs bound to vfio-pci to Kubernetes (kubelet device plugin API v1beta1).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The kubelet's device plugin directory (holding kubelet.sock).
    #[arg(long, default_value = DEFAULT_PLUGIN_DIR)]
    plugin_dir: PathBuf,
    /// Resource name prefix: resources are <prefix><services>, e.g. qat.intel.com/sym-dc.
    #[arg(long, default_value = DEFAULT_PREFIX, conflicts_with = "resource_name")]
    prefix: String,
    /// Serve every VF as this one resource instead (e.g. intel.com/qat_vf).
    #[arg(long)]
    resource_name: Option<String>,
    /// The VFIO driver VFs must be bound to.
    #[arg(long, default_value = "vfio-pci")]
    driver: String,
    /// How often to read the host and push health changes (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    interval: Duration,
    /// Preferred allocation across PFs: balanced or packed.
    #[arg(long, default_value_t = Policy::Balanced)]
    policy: Policy,
    /// Reset each VF (VFIO device reset) before a container starts with it (PreStartContainer).
    #[arg(long)]
    reset: bool,
    /// Also name each device for CDI as <KIND>=<PCI address> (KIND: vendor.com/class).
    #[arg(long, value_name = "KIND")]
    cdi_kind: Option<String>,
    /// Also serve VFs of this SR-IOV PF of another kind (repeatable; generic mode).
    #[arg(long = "pf", value_name = "BDF")]
    pfs: Vec<Bdf>,
    /// Read the filesystem under DIR instead of `/` (a fixture tree).
    #[arg(long, value_name = "DIR", conflicts_with = "sim")]
    sysfs_root: Option<PathBuf>,
    /// Serve a simulated host's state file (read afresh at every poll; see `qatctl sim`).
    #[arg(long, value_name = "STATE.json")]
    sim: Option<PathBuf>,
    /// Converge the node to the desired state in CONFIG (YAML) before serving, as `qatctl
    /// apply` does; a failure rolls back and ends the plugin.
    #[arg(long, value_name = "CONFIG")]
    provision: Option<PathBuf>,
    /// Provisioning lock file [default: /run/qatkit.lock; with --sim, STATE.json.lock].
    #[arg(long, value_name = "PATH")]
    lock_file: Option<PathBuf>,
    /// Keep a node-feature-discovery features file here (e.g.
    /// /etc/kubernetes/node-feature-discovery/features.d/qatkit).
    #[arg(long, value_name = "FILE")]
    nfd_features: Option<PathBuf>,
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.strip_suffix("ms") {
        Some(n) => (n, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    let seconds = number
        .parse::<f64>()
        .ok()
        .map(|n| n * unit)
        .filter(|s| (0.01..=3600.0).contains(s))
        .ok_or_else(|| format!("{text:?}: give 10ms to 3600s, e.g. 5s or 500ms"))?;
    Ok(Duration::from_secs_f64(seconds))
}

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
    let lock = |state: Option<&std::path::Path>| match (&args.lock_file, state) {
        (Some(path), _) => path.clone(),
        (None, Some(state)) => PathBuf::from(format!("{}.lock", state.display())),
        (None, None) => PathBuf::from(ProvisionLock::DEFAULT_PATH),
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

/// A CDI kind is `vendor/class`: the vendor a DNS name, the class letters, digits, `_`, `-`.
fn check_cdi_kind(kind: &str) -> Result<(), String> {
    let ok = kind.split_once('/').is_some_and(|(vendor, class)| {
        let label =
            |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        vendor.split('.').all(label)
            && !class.is_empty()
            && class
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if ok {
        Ok(())
    } else {
        Err(format!("--cdi-kind {kind:?}: give vendor.com/class"))
    }
}
