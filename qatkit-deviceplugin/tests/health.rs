//! Device health on a simulated host, poll by poll through the monitor: a failed heartbeat,
//! one that cannot be read while the PF has one, a PF taken down, a VF leaving vfio-pci, its
//! `/dev/vfio` node gone, and a host that cannot be read at all.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use qat_vf::host::{FileAccess, HostFiles, OpenFile, paths};
use qat_vf::provision::{self, Desired};
use qat_vf::sim::SimHost;
use qat_vf::{Bdf, Host, HostEnv};
use qatkit_deviceplugin::inventory::{Device, Settings};
use qatkit_deviceplugin::monitor::{Monitor, Snapshot};
use qatkit_deviceplugin::naming::{DEFAULT_PREFIX, Naming};

const RESOURCE: &str = "qat.intel.com/sym-dc";

/// What a read of the tampered path gives.
#[derive(Debug, Clone)]
enum Answer {
    /// Fails with this errno.
    Errno(i32),
    /// Reads this.
    Text(&'static str),
}

const EACCES: i32 = 13;
const ENOENT: i32 = 2;

/// The simulated host's files, except for reads of one path.
#[derive(Debug)]
struct Tampered {
    inner: Arc<dyn HostFiles>,
    read: Mutex<Option<(PathBuf, Answer)>>,
}

impl Tampered {
    fn set(&self, path: PathBuf, answer: Answer) {
        *self.read.lock().unwrap() = Some((path, answer));
    }

    fn clear(&self) {
        *self.read.lock().unwrap() = None;
    }
}

impl HostFiles for Tampered {
    fn read(&self, path: &Path) -> io::Result<String> {
        match &*self.read.lock().unwrap() {
            Some((p, Answer::Errno(errno))) if p == path => {
                Err(io::Error::from_raw_os_error(*errno))
            }
            Some((p, Answer::Text(text))) if p == path => Ok((*text).to_owned()),
            _ => self.inner.read(path),
        }
    }
    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        self.inner.write(path, value)
    }
    fn read_link(&self, path: &Path) -> io::Result<Option<PathBuf>> {
        self.inner.read_link(path)
    }
    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.list(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn access(&self, path: &Path) -> io::Result<Option<FileAccess>> {
        self.inner.access(path)
    }
    fn set_access(&self, path: &Path, uid: Option<u32>, gid: u32, mode: u32) -> io::Result<()> {
        self.inner.set_access(path, uid, gid, mode)
    }
    fn open_files(&self) -> io::Result<Vec<OpenFile>> {
        self.inner.open_files()
    }
    fn group_id(&self, name: &str) -> io::Result<Option<u32>> {
        self.inner.group_id(name)
    }
}

struct Fixture {
    sim: SimHost,
    files: Arc<Tampered>,
    monitor: Monitor,
    pfs: Vec<(Bdf, Vec<Bdf>)>,
}

/// Two 4xxx PFs, `sym;dc`, every VF on vfio-pci.
fn fixture() -> Fixture {
    let sim = SimHost::preset("4xxx".parse().unwrap(), 2);
    let dir = tempfile::tempdir().unwrap();
    let want = Desired::new("vfio-pci".parse().unwrap()).with_services("sym;dc".parse().unwrap());
    let (_, report) = provision::converge(&sim, &want, &dir.path().join("lock")).unwrap();
    assert!(report.ok, "{report:#?}");
    let files = Arc::new(Tampered {
        inner: sim.files().clone(),
        read: Mutex::new(None),
    });
    let env = HostEnv::new(files.clone(), sim.vfio().clone(), sim.process().clone());
    let settings = Settings {
        naming: Naming::by_services(DEFAULT_PREFIX).unwrap(),
        driver: "vfio-pci".into(),
    };
    let monitor = Monitor::new(Arc::new(move || Ok(env.clone())), Vec::new(), settings);
    let pfs = Host::discover(&sim, &[])
        .unwrap()
        .pfs
        .iter()
        .map(|pf| (pf.pci.bdf, pf.vfs.iter().map(|vf| vf.pci.bdf).collect()))
        .collect();
    Fixture {
        sim,
        files,
        monitor,
        pfs,
    }
}

fn devices(snapshot: &Snapshot) -> &[Device] {
    &snapshot.inventory[RESOURCE]
}

/// The problems of the devices that have one, by VF.
fn problems(snapshot: &Snapshot) -> Vec<(Bdf, String)> {
    devices(snapshot)
        .iter()
        .filter_map(|d| d.problem.clone().map(|p| (d.vf, p)))
        .collect()
}

fn set_qat(sim: &SimHost, pf: Bdf, f: impl FnOnce(&mut qat_vf::sim::SimQat)) {
    sim.with_kernel(|k| f(k.devices.get_mut(&pf).unwrap().qat.as_mut().unwrap()));
}

#[test]
fn a_provisioned_host_is_all_healthy() {
    let mut fx = fixture();
    let first = fx.monitor.poll();
    assert_eq!(devices(&first).len(), 32);
    assert!(problems(&first).is_empty(), "{:?}", problems(&first));
}

#[test]
fn a_failed_heartbeat_makes_every_vf_of_its_pf_unhealthy_and_recovers() {
    let mut fx = fixture();
    fx.monitor.poll();
    let (pf, vfs) = fx.pfs[0].clone();
    set_qat(&fx.sim, pf, |q| q.heartbeat = -1);
    let found = problems(&fx.monitor.poll());
    assert_eq!(found.len(), vfs.len());
    assert!(
        found
            .iter()
            .all(|(vf, p)| vfs.contains(vf) && p == &format!("PF {pf} failed its heartbeat"))
    );
    set_qat(&fx.sim, pf, |q| q.heartbeat = 0);
    assert!(problems(&fx.monitor.poll()).is_empty());
}

#[test]
fn a_heartbeat_that_cannot_be_read_while_the_pf_has_one_is_unhealthy() {
    let mut fx = fixture();
    fx.monitor.poll();
    let (pf, vfs) = fx.pfs[1].clone();
    fx.files
        .set(paths::heartbeat_status("4xxx", pf), Answer::Errno(EACCES));
    let found = problems(&fx.monitor.poll());
    assert_eq!(found.len(), vfs.len());
    assert!(found.iter().all(|(vf, _)| vfs.contains(vf)));
    assert!(
        found[0]
            .1
            .starts_with(&format!("PF {pf}'s heartbeat cannot be read")),
        "{found:?}"
    );
    fx.files.clear();
    assert!(problems(&fx.monitor.poll()).is_empty());
}

#[test]
fn a_heartbeat_gone_after_it_was_read_is_unhealthy_but_none_at_all_is_not() {
    // debugfs unmounted after the monitor read the heartbeat: the PF had one, and now it is
    // gone.
    let mut fx = fixture();
    fx.monitor.poll();
    let (pf, vfs) = fx.pfs[0].clone();
    let status = paths::heartbeat_status("4xxx", pf);
    fx.files.set(status.clone(), Answer::Errno(ENOENT));
    let found = problems(&fx.monitor.poll());
    assert_eq!(found.len(), vfs.len());
    assert!(found[0].1.contains("heartbeat cannot be read"), "{found:?}");
    // A monitor that never read it (no debugfs on this host, as far as it knows): no problem.
    let mut fresh = fixture();
    fresh.files.set(status, Answer::Errno(ENOENT));
    assert!(problems(&fresh.monitor.poll()).is_empty());
}

#[test]
fn a_pf_taken_down_keeps_its_vfs_listed_as_unhealthy() {
    let mut fx = fixture();
    fx.monitor.poll();
    let (pf, vfs) = fx.pfs[0].clone();
    fx.sim.write(&paths::qat_attr(pf, "state"), "down").unwrap();
    let snapshot = fx.monitor.poll();
    assert_eq!(devices(&snapshot).len(), 32);
    let found = problems(&snapshot);
    assert_eq!(found.len(), vfs.len());
    assert!(
        found
            .iter()
            .all(|(_, p)| p == &format!("PF {pf} is down (its VFs are gone)")),
        "{found:?}"
    );
}

#[test]
fn a_vf_that_left_vfio_pci_or_lost_its_vfio_node_is_unhealthy() {
    let mut fx = fixture();
    let first = fx.monitor.poll();
    let (left, lost) = (fx.pfs[0].1[2], fx.pfs[1].1[3]);
    fx.sim
        .write(&paths::driver_attr("vfio-pci", "unbind"), &left.to_string())
        .unwrap();
    let group = devices(&first)
        .iter()
        .find(|d| d.vf == lost)
        .unwrap()
        .iommu_group
        .unwrap();
    fx.sim.with_kernel(|k| k.vfio_nodes.remove(&group));
    let found = problems(&fx.monitor.poll());
    assert_eq!(
        found,
        [
            (
                left,
                format!("VF {left} is bound to no driver, not vfio-pci")
            ),
            (lost, format!("VF {lost}: /dev/vfio/{group} is gone")),
        ]
    );
}

#[test]
fn a_service_string_qatkit_does_not_know_keeps_the_vfs_where_they_were_unhealthy() {
    let mut fx = fixture();
    fx.monitor.poll();
    let (pf, vfs) = fx.pfs[1].clone();
    fx.files.set(
        paths::qat_attr(pf, "cfg_services"),
        Answer::Text("sym;bogus\n"),
    );
    let snapshot = fx.monitor.poll();
    assert_eq!(snapshot.inventory.keys().collect::<Vec<_>>(), [RESOURCE]);
    let found = problems(&snapshot);
    assert_eq!(found.len(), vfs.len());
    assert!(found.iter().all(|(vf, _)| vfs.contains(vf)));
    assert_eq!(
        found[0].1,
        format!("PF {pf}'s cfg_services cannot be read (a service qatkit does not know?)")
    );
    fx.files.clear();
    assert!(problems(&fx.monitor.poll()).is_empty());
}

#[test]
fn a_host_that_cannot_be_read_makes_every_device_unhealthy_and_the_plugin_goes_on() {
    let mut fx = fixture();
    fx.monitor.poll();
    let (pf, _) = fx.pfs[0];
    fx.files.set(
        paths::device_attr(pf, "sriov_totalvfs"),
        Answer::Errno(EACCES),
    );
    let found = problems(&fx.monitor.poll());
    assert_eq!(found.len(), 32);
    assert!(
        found[0].1.starts_with("the host cannot be read"),
        "{found:?}"
    );
    fx.files.clear();
    assert!(problems(&fx.monitor.poll()).is_empty());
}
