//! The node converged from a config file before serving, on simulated hosts: applied and
//! verified, a no-op the second time, refused (changing nothing) when it would pull a VF a
//! workload holds, bad configs refused with the reason; and the features file for NFD.

use qat_vf::sim::SimHost;
use qat_vf::{Host, QatState, Services};
use qatkit_deviceplugin::inventory::{HeartbeatMemory, Inventory, Settings, survey};
use qatkit_deviceplugin::naming::{DEFAULT_PREFIX, Naming};
use qatkit_deviceplugin::nfd;
use qatkit_deviceplugin::provision::{NodeConfig, converge};

const CONFIG: &str = "driver: vfio-pci\nservices: [sym, dc]\n";

fn fresh() -> SimHost {
    SimHost::preset("4xxx".parse().unwrap(), 2)
}

#[test]
fn a_config_converges_the_node_once() {
    let sim = fresh();
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("lock");
    let desired = NodeConfig::parse(CONFIG).unwrap().desired(&sim).unwrap();
    let steps = converge(&sim, &desired, &lock).unwrap();
    assert!(steps > 0);
    let host = Host::discover(&sim, &[]).unwrap();
    for pf in &host.pfs {
        assert_eq!(pf.state, Some(QatState::Up));
        assert_eq!(pf.services, Some(Services::SYM | Services::DC));
        assert_eq!(pf.vfs.len(), 16);
        assert!(
            pf.vfs
                .iter()
                .all(|vf| vf.pci.driver.as_deref() == Some("vfio-pci"))
        );
    }
    assert_eq!(converge(&sim, &desired, &lock).unwrap(), 0);
}

#[test]
fn a_plan_that_would_pull_a_held_vf_is_refused_and_changes_nothing() {
    let sim = fresh();
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("lock");
    let first = NodeConfig::parse(CONFIG).unwrap().desired(&sim).unwrap();
    converge(&sim, &first, &lock).unwrap();
    let host = Host::discover(&sim, &[]).unwrap();
    sim.hold(host.pfs[0].vfs[3].pci.bdf, 4242).unwrap();
    let before = sim.state();
    // New services need the PF down, which takes its VFs away.
    let other = NodeConfig::parse("services: [asym]\n")
        .unwrap()
        .desired(&sim)
        .unwrap();
    let error = converge(&sim, &other, &lock).unwrap_err();
    assert!(error.contains("4242"), "{error}");
    assert_eq!(sim.state().kernel, before.kernel);
}

#[test]
fn bad_configs_are_refused_with_the_reason() {
    let sim = fresh();
    for (text, says) in [
        (
            "driver: vfio-pci\nservice: [sym]\n",
            "unknown field `service`",
        ),
        ("services: [sym, zip]\n", "zip"),
        ("pfs: [not-a-bdf]\n", "not-a-bdf"),
        ("vfio-mode: \"0660\"\n", "vfio-mode needs vfio-group"),
        ("vfio-group: \"0\"\nvfio-mode: \"0999\"\n", "0999"),
    ] {
        let error = NodeConfig::parse(text)
            .and_then(|config| config.desired(&sim).map(drop))
            .unwrap_err();
        assert!(error.contains(says), "{text:?}: {error}");
    }
}

#[test]
fn the_features_file_names_families_services_and_healthy_vfs() {
    let sim = fresh();
    let dir = tempfile::tempdir().unwrap();
    let desired = NodeConfig::parse(CONFIG).unwrap().desired(&sim).unwrap();
    converge(&sim, &desired, &dir.path().join("lock")).unwrap();
    let host = Host::discover(&sim, &[]).unwrap();
    let settings = Settings {
        naming: Naming::by_services(DEFAULT_PREFIX).unwrap(),
        driver: "vfio-pci".into(),
    };
    let inventory = survey(
        &sim,
        &host,
        &settings,
        &Inventory::new(),
        &mut HeartbeatMemory::default(),
    );
    let text = nfd::features(&host, &inventory);
    assert_eq!(
        text,
        "qat.present=true\nqat.family.4xxx=true\nqat.services.sym-dc=true\nqat.vfs=32\n"
    );
    let path = dir.path().join("features.d").join("qatkit");
    std::fs::create_dir(path.parent().unwrap()).unwrap();
    nfd::write(&path, &text).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    // No QAT device: present=false, no VFs.
    let empty = SimHost::preset("igb".parse().unwrap(), 1);
    let host = Host::discover(&empty, &[]).unwrap();
    assert_eq!(
        nfd::features(&host, &Inventory::new()),
        "qat.present=false\nqat.vfs=0\n"
    );
}
