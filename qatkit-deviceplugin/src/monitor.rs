//! Polls the host and publishes a snapshot — discovery and the inventory made from it —
//! whenever the inventory changes.

use std::sync::Arc;
use std::time::Duration;

use qat_vf::{Bdf, Host, HostEnv};
use tokio::sync::watch;

use crate::inventory::{self, HeartbeatMemory, Inventory, Settings};

/// Where the host is read from: called at every poll, so that a simulated host's state file is
/// read afresh each time.
pub type HostSource = Arc<dyn Fn() -> qat_vf::Result<HostEnv> + Send + Sync>;

/// One poll's result.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The host as read, for allocation and resets.
    pub env: Option<HostEnv>,
    /// Discovery's snapshot; the last good one when this poll could not read the host.
    pub host: Option<Host>,
    /// The devices of each resource.
    pub inventory: Inventory,
}

/// The state carried from poll to poll.
pub struct Monitor {
    source: HostSource,
    explicit_pfs: Vec<Bdf>,
    settings: Settings,
    heartbeats: HeartbeatMemory,
    last: Snapshot,
}

impl Monitor {
    /// A monitor of the host `source` gives; `explicit_pfs` are SR-IOV PFs of other kinds to
    /// serve VFs of (generic mode).
    pub fn new(source: HostSource, explicit_pfs: Vec<Bdf>, settings: Settings) -> Self {
        Monitor {
            source,
            explicit_pfs,
            settings,
            heartbeats: HeartbeatMemory::default(),
            last: Snapshot {
                env: None,
                host: None,
                inventory: Inventory::new(),
            },
        }
    }

    /// Reads the host once. A host that cannot be read makes every known device unhealthy
    /// with the reason; the plugin goes on serving.
    pub fn poll(&mut self) -> Snapshot {
        let read = (self.source)().and_then(|env| {
            let host = Host::discover(&env, &self.explicit_pfs)?;
            Ok((env, host))
        });
        self.last = match read {
            Ok((env, host)) => {
                let inventory = inventory::survey(
                    &env,
                    &host,
                    &self.settings,
                    &self.last.inventory,
                    &mut self.heartbeats,
                );
                Snapshot {
                    env: Some(env),
                    host: Some(host),
                    inventory,
                }
            }
            Err(e) => {
                let reason = format!("the host cannot be read: {}", e.chain());
                tracing::warn!("{reason}");
                Snapshot {
                    inventory: inventory::all_unhealthy(&self.last.inventory, &reason),
                    ..self.last.clone()
                }
            }
        };
        self.last.clone()
    }

    /// Polls now, then every `interval` on a blocking thread, publishing every snapshot and
    /// waking receivers when the inventory changed. Stops when every receiver is gone.
    pub fn spawn(mut self, interval: Duration) -> watch::Receiver<Arc<Snapshot>> {
        let (tx, rx) = watch::channel(Arc::new(self.poll()));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let (back, snapshot) = match tokio::task::spawn_blocking(move || {
                    let snapshot = self.poll();
                    (self, snapshot)
                })
                .await
                {
                    Ok(done) => done,
                    Err(e) => {
                        tracing::error!("host poll failed: {e}");
                        return;
                    }
                };
                self = back;
                // The newest host always (allocation reads it); receivers woken only when the
                // device list changed.
                let changed = tx.send_if_modified(|current| {
                    let changed = current.inventory != snapshot.inventory;
                    *current = Arc::new(snapshot);
                    changed
                });
                if changed {
                    tracing::info!("device list changed");
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        rx
    }
}
