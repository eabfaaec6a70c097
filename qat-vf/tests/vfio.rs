//! The VFIO layer against the simulated host: container, group and device logic and its errors,
//! without `/dev/vfio`.

use std::path::Path;
use std::sync::Arc;

use qat_vf::provision::{self, Desired, VfDriver};
use qat_vf::sim::{Preset, SimHost};
use qat_vf::sysfs::{Sysfs, paths};
use qat_vf::vfio::{Container, DmaBuffer, Group, OpenedDevice, VfioOps, index};
use qat_vf::{Bdf, Error, Host};

fn provisioned(preset: &str, pf: &str) -> Arc<SimHost> {
    let sim = Arc::new(SimHost::preset(preset.parse::<Preset>().unwrap(), 1));
    let desired = Desired {
        pfs: vec![pf.parse().unwrap()],
        services: None,
        driver: VfDriver::VfioPci,
        vfio_access: None,
        force: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = provision::converge(&*sim, &desired, &dir.path().join("lock")).unwrap();
    assert!(report.ok, "{report:?}");
    sim
}

fn open(sim: &Arc<SimHost>, vf: &str) -> qat_vf::Result<OpenedDevice> {
    let ops: Arc<dyn VfioOps> = sim.clone();
    OpenedDevice::open(&**sim, ops, Path::new("/dev/vfio"), vf.parse().unwrap())
}

#[test]
fn a_vf_opens_like_a_vm_manager_opens_it() {
    let sim = provisioned("igb", "0000:01:00.0");
    let vf = open(&sim, "0000:01:10.0").unwrap();
    let info = vf.device.info();
    assert_eq!((info.num_regions, info.num_irqs), (9, 5));
    assert!(vf.device.resettable());
    let bar0 = vf.device.region(index::BAR0).unwrap();
    assert_eq!(bar0.size, 16 << 10);
    assert!(bar0.mappable());
    // Nine indexes, but a VF has no VGA region: the kernel answers EINVAL and it is left out.
    assert_eq!(vf.device.regions().unwrap().len(), 8);
    assert_eq!(vf.device.irq(index::REQ).unwrap().count, 1);
    let mut id = [0u8; 4];
    vf.device.read_config(0, &mut id).unwrap();
    assert_eq!(id, [0x86, 0x80, 0xca, 0x10]);
    assert!(
        vf.device.read_config(4094, &mut id).is_err(),
        "past config space"
    );

    let (mmio, start) = vf.device.map_region(index::BAR0).unwrap();
    assert_eq!((start, mmio.len()), (0, 16 << 10));
    mmio.write::<u32>(0x10, 7).unwrap();
    assert_eq!(mmio.read::<u32>(0x10).unwrap(), 7);

    vf.device.reset().unwrap();
    let notifier = vf.device.request_notifier().unwrap();
    assert!(!notifier.requested());
}

#[test]
fn dma_maps_unmap_on_drop_and_report_mistakes_clearly() {
    let sim = provisioned("igb", "0000:01:00.0");
    let vf = open(&sim, "0000:01:10.0").unwrap();
    let info = vf.container.iommu_info().unwrap();
    assert_eq!(info.iova_pgsizes, 0x4020_1000);
    let mut buffer = DmaBuffer::new(64 << 10).unwrap();
    let mut other = DmaBuffer::new(4096).unwrap();
    {
        let mapping = vf
            .container
            .map_dma(buffer.as_mut_slice(), 0x10_0000)
            .unwrap();
        assert_eq!(mapping.size(), 64 << 10);
        let overlap = vf
            .container
            .map_dma(other.as_mut_slice(), 0x10_8000)
            .map(drop);
        assert!(
            matches!(overlap, Err(Error::DmaOverlap { .. })),
            "{overlap:?}"
        );
        assert_eq!(mapping.unmap().unwrap(), 64 << 10);
    }
    // Unmapped: the range is free again, and a dropped mapping frees it too.
    drop(
        vf.container
            .map_dma(other.as_mut_slice(), 0x10_8000)
            .unwrap(),
    );
    assert!(
        vf.container
            .map_dma(other.as_mut_slice(), 0x10_8000)
            .is_ok()
    );
    let msi = vf
        .container
        .map_dma(buffer.as_mut_slice(), 0xfee0_0000)
        .map(drop);
    assert!(matches!(msi, Err(Error::DmaOutOfRange { .. })), "{msi:?}");
    let unaligned = vf
        .container
        .map_dma(&mut buffer.as_mut_slice()[8..4104], 0x20_0000)
        .map(drop);
    assert!(
        matches!(unaligned, Err(Error::DmaUnaligned { .. })),
        "{unaligned:?}"
    );
}

#[test]
fn a_group_opens_once() {
    let sim = provisioned("igb", "0000:01:00.0");
    let vf = open(&sim, "0000:01:10.0").unwrap();
    let again = Group::open(&vf.container, vf.group.number());
    match again {
        Err(Error::Vfio { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(nix::libc::EBUSY))
        }
        other => panic!("{other:?}"),
    }
    drop(vf);
    assert!(
        open(&sim, "0000:01:10.0").is_ok(),
        "closing frees the group"
    );
}

#[test]
fn a_non_viable_group_names_the_devices_that_make_it_so() {
    // Provisioning refuses this group (see the provisioning tests), so bind by hand, as an
    // operator with other tools would.
    let sim = Arc::new(SimHost::preset("nvme".parse::<Preset>().unwrap(), 1));
    let pf: Bdf = "0000:20:00.0".parse().unwrap();
    let vf: Bdf = "0000:20:00.1".parse().unwrap();
    sim.write(&paths::device_attr(pf, "sriov_drivers_autoprobe"), "0")
        .unwrap();
    sim.write(&paths::device_attr(pf, "sriov_numvfs"), "4")
        .unwrap();
    let _ = qat_vf::driver::set_driver(&*sim, vf, Some("vfio-pci"), Some("vfio-pci"), false);
    assert_eq!(
        qat_vf::device::read_driver(&*sim, vf).unwrap().as_deref(),
        Some("vfio-pci")
    );
    let err = open(&sim, "0000:20:00.1").unwrap_err();
    match &err {
        Error::GroupNotViable { blockers, .. } => {
            assert_eq!(blockers.len(), 1);
            assert_eq!(blockers[0].bdf.to_string(), "0000:20:00.0");
            assert_eq!(blockers[0].driver, "nvme");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("0000:20:00.0 is bound to nvme"),
        "{err}"
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let sim = provisioned("igb", "0000:01:00.0");
    assert!(matches!(
        open(&sim, "0000:09:00.0"),
        Err(Error::NoSuchDevice(_))
    ));
    let pf = open(&sim, "0000:01:00.0").unwrap_err();
    assert!(matches!(pf, Error::NotBoundToVfio { .. }), "{pf:?}");
    assert!(pf.to_string().contains("bound to igb"));
    // A container cannot take an IOMMU before a group.
    let ops: Arc<dyn VfioOps> = sim.clone();
    let mut container = Container::open(ops, Path::new("/dev/vfio")).unwrap();
    assert!(container.set_iommu(3).is_err());
    // A device that is not in the group.
    let vf = open(&sim, "0000:01:10.0").unwrap();
    let stranger: Bdf = "0000:01:10.2".parse().unwrap();
    match vf.group.device(stranger) {
        Err(Error::Vfio { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(nix::libc::ENODEV))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_group_whose_vfs_were_removed_answers_enodev() {
    let sim = provisioned("igb", "0000:01:00.0");
    let vf = open(&sim, "0000:01:10.0").unwrap();
    drop(vf.device);
    let host = Host::discover(&*sim, &["0000:01:00.0".parse().unwrap()]).unwrap();
    let pf: Bdf = "0000:01:00.0".parse().unwrap();
    // qatkit sees this process's group fd and refuses; forced, the kernel completes, since only
    // container and group are open, not the device.
    assert!(matches!(
        provision::plan_reset(&host, &[pf], false),
        Err(Error::HeldByVfioUser { .. })
    ));
    let reset = provision::plan_reset(&host, &[pf], true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lock = provision::ProvisionLock::acquire(&dir.path().join("l")).unwrap();
    assert!(provision::apply(&*sim, &reset, true, &lock).ok);
    match vf.group.status() {
        Err(Error::Vfio { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(nix::libc::ENODEV))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_open_device_fd_blocks_disabling_its_vfs() {
    let sim = provisioned("igb", "0000:01:00.0");
    let vf = open(&sim, "0000:01:10.0").unwrap();
    let pf: Bdf = "0000:01:00.0".parse().unwrap();
    let host = Host::discover(&*sim, &[pf]).unwrap();
    let me = std::process::id();
    assert_eq!(host.pf(pf).unwrap().vfs[0].device_open_by, [me]);
    // qat-vf refuses, forced or not...
    assert!(matches!(
        provision::plan_reset(&host, &[pf], true),
        Err(Error::DeviceOpenByVfioUser { .. })
    ));
    // ...because the kernel (here its model) would not return from the write.
    let before = sim.kernel();
    let write = sim.write(&paths::device_attr(pf, "sriov_numvfs"), "0");
    assert!(
        matches!(write, Err(Error::Write { source, .. }) if source.raw_os_error() == Some(qat_vf::sim::BLOCKS_FOREVER))
    );
    assert_eq!(sim.kernel(), before);
    drop(vf);
    assert!(
        Host::discover(&*sim, &[pf]).unwrap().pf(pf).unwrap().vfs[0]
            .held_by
            .is_empty()
    );
}

#[test]
fn detaching_a_group_needs_its_devices_closed_and_unsets_the_iommu() {
    let sim = provisioned("igb", "0000:01:00.0");
    let OpenedDevice {
        device,
        group,
        mut container,
    } = open(&sim, "0000:01:10.0").unwrap();
    match container.detach(&group) {
        Err(Error::Vfio { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(nix::libc::EBUSY))
        }
        other => panic!("{other:?}"),
    }
    drop(device);
    container.detach(&group).unwrap();
    assert!(
        container.set_iommu(3).is_err(),
        "no group left: the IOMMU cannot be set"
    );
    assert!(container.iommu_info().is_err());
}
