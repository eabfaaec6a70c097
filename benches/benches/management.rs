//! Management-plane cost: discovery and planning on simulated hosts of 1, 8 and 64 4xxx PFs with
//! all 16 VFs enabled and bound. Throughput is in VFs, so reports read as time per VF; the cost
//! should grow linearly with the number of VFs.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use qat_vf::provision::{self, Desired};
use qat_vf::sim::{Preset, SimHost};
use qat_vf::{Host, Services};

fn provisioned_host(pfs: usize) -> SimHost {
    let sim = SimHost::preset("4xxx".parse::<Preset>().expect("preset"), pfs);
    let want = request(Services::SYM | Services::DC);
    let plan = provision::plan(&Host::discover(&sim, &[]).expect("discover"), &want).expect("plan");
    let dir = std::env::temp_dir().join(format!("qatkit-bench-{}.lock", std::process::id()));
    let lock = provision::ProvisionLock::acquire(&dir).expect("lock");
    assert!(provision::apply(&sim, &plan, false, &lock).ok);
    drop(lock);
    let _ = std::fs::remove_file(dir);
    sim
}

fn request(services: Services) -> Desired {
    Desired::new(provision::VfDriver::VfioPci).with_services(services)
}

fn management(c: &mut Criterion) {
    let mut group = c.benchmark_group("discover_and_plan");
    for pfs in [1usize, 8, 64] {
        let sim = provisioned_host(pfs);
        let vfs = (pfs * 16) as u64;
        group.throughput(Throughput::Elements(vfs));
        group.bench_with_input(BenchmarkId::new("discover", vfs), &sim, |b, sim| {
            b.iter(|| black_box(Host::discover(sim, &[]).expect("discover")));
        });
        // A services change: every PF gets disable/down/configure/up/enable and every VF a bind.
        let change = request(Services::ASYM | Services::DC);
        group.bench_with_input(BenchmarkId::new("discover+plan", vfs), &sim, |b, sim| {
            b.iter(|| {
                let host = Host::discover(sim, &[]).expect("discover");
                black_box(provision::plan(&host, &change).expect("plan"))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, management);
criterion_main!(benches);
