//! A simulated host's state file, as a careless hand might edit it, then a provisioning
//! transaction on it, with a write failing or not. Invariants: no panic; a loaded model is
//! consistent and stays so; a state that loads saves and loads again; an apply that succeeds
//! leaves nothing to plan; a rollback reported as restored left the kernel exactly as before.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use qat_vf::Host;
use qat_vf::provision::{self, Desired, ProvisionLock, VfioAccess};
use qat_vf::sim::{FaultTrigger, Kernel, SimHost, SimState};

/// The provisioning lock `apply` asks for: a file of this process's own, unlinked once taken
/// (the lock lives on in the open descriptor).
fn lock() -> &'static ProvisionLock {
    static LOCK: OnceLock<ProvisionLock> = OnceLock::new();
    LOCK.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("qatkit-fuzz-{}.lock", std::process::id()));
        let lock = ProvisionLock::acquire(&path).expect("lock");
        let _ = std::fs::remove_file(&path);
        lock
    })
}

fn desired(choice: u8, sim: &SimHost) -> Desired {
    let every_sriov_pf: Vec<_> = sim
        .kernel()
        .devices
        .iter()
        .filter(|(_, d)| d.sriov.is_some())
        .map(|(bdf, _)| *bdf)
        .collect();
    let driver = ["vfio-pci", "kernel", "none", "qat_vfio_pci"][usize::from((choice >> 3) & 3)]
        .parse()
        .unwrap();
    let mut want = Desired::new(driver).with_force(choice & 0x20 != 0);
    if choice & 1 != 0 {
        want = want.with_pfs(every_sriov_pf);
    }
    let services = match (choice >> 1) & 3 {
        0 => None,
        1 => Some("sym".parse().unwrap()),
        2 => Some("dc".parse().unwrap()),
        _ => Some("asym,sym".parse().unwrap()),
    };
    if let Some(services) = services {
        want = want.with_services(services);
    }
    if choice & 0x40 != 0 {
        want = want.with_vfio_access(VfioAccess::new(990, 0o660).unwrap());
    }
    want
}

/// The kernel with IOMMU group numbers replaced by the lowest address in each group: VFs made
/// again take the lowest free numbers, on a real kernel too, so a rollback that recreates VFs
/// restores the groups, not their numbers.
fn comparable(kernel: &Kernel) -> Kernel {
    let mut named: BTreeMap<u32, u32> = BTreeMap::new();
    for (bdf, dev) in &kernel.devices {
        let id = (u32::from(bdf.domain) << 16) | u32::from(bdf.routing_id());
        named.entry(dev.iommu_group).or_insert(id);
    }
    let mut out = kernel.clone();
    for dev in out.devices.values_mut() {
        dev.iommu_group = named[&dev.iommu_group];
    }
    out.vfio_nodes = kernel
        .vfio_nodes
        .iter()
        .map(|(group, access)| (named.get(group).copied().unwrap_or(u32::MAX), *access))
        .collect();
    out
}

fuzz_target!(|data: &[u8]| {
    let [choice, fault, json @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(json) else {
        return;
    };
    let Ok(state) = SimState::from_json(text) else {
        return;
    };
    let sim = SimHost::from_state(state);
    let saved = sim.state().to_json();
    assert!(
        SimState::from_json(&saved).is_ok(),
        "a loaded state does not load again"
    );
    let want = desired(*choice, &sim);
    let Ok(host) = Host::discover(&sim, &want.pfs) else {
        return;
    };
    let Ok(plan) = provision::plan(&host, &want) else {
        return;
    };
    let before = sim.kernel();
    if *fault != 0 {
        sim.inject(FaultTrigger::NthWrite(1 + u64::from(*fault % 64)), 5);
    }
    let report = provision::apply(&sim, &plan, want.force, lock());
    let after = sim.kernel();
    assert_eq!(after.validate(), Ok(()), "the model broke: {report:?}");
    assert!(SimState::from_json(&sim.state().to_json()).is_ok());
    if report.ok {
        if let Ok(host) = Host::discover(&sim, &want.pfs)
            && let Ok(again) = provision::plan(&host, &want)
        {
            assert!(again.is_converged(), "applied, yet more to do: {again:?}");
        }
    } else if report.restored() {
        assert_eq!(
            comparable(&after),
            comparable(&before),
            "reported restored, but the kernel differs: {report:?}"
        );
    }
});
