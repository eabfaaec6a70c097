//! The VFIO layer against the simulated host: container, group and device logic and its errors,
//! without `/dev/vfio`.

use std::path::Path;

use qat_vf::error::{ProvisionError, SysfsError, VfioError};
use qat_vf::host::{Memlock, paths};
use qat_vf::provision::{self, Desired, VfDriver};
use qat_vf::sim::{Preset, SimHost};
use qat_vf::vfio::{
    Container, DmaBuffer, Group, HostDevice, IommufdDevice, OpenedDevice, cdev_path, check, index,
};
use qat_vf::{Bdf, Error, Host, PciInfo};

fn provisioned(preset: &str, pf: &str) -> SimHost {
    let sim = SimHost::preset(preset.parse::<Preset>().unwrap(), 1);
    let desired = Desired::new(VfDriver::VfioPci).with_pfs([pf.parse().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let (_, report) = provision::converge(&sim, &desired, &dir.path().join("lock")).unwrap();
    assert!(report.ok, "{report:?}");
    sim
}

fn open(sim: &SimHost, vf: &str) -> qat_vf::Result<OpenedDevice> {
    OpenedDevice::open(sim, vf.parse().unwrap())
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
            matches!(overlap, Err(Error::Vfio(VfioError::DmaOverlap { .. }))),
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
    assert!(
        matches!(msi, Err(Error::Vfio(VfioError::DmaOutOfRange { .. }))),
        "{msi:?}"
    );
    let unaligned = vf
        .container
        .map_dma(&mut buffer.as_mut_slice()[8..4104], 0x20_0000)
        .map(drop);
    assert!(
        matches!(unaligned, Err(Error::Vfio(VfioError::DmaUnaligned { .. }))),
        "{unaligned:?}"
    );
}

#[test]
fn a_group_opens_once() {
    let sim = provisioned("igb", "0000:01:00.0");
    let vf = open(&sim, "0000:01:10.0").unwrap();
    let again = Group::open(&sim, vf.group.number());
    match again {
        Err(Error::Vfio(VfioError::Open { source, .. })) => {
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
    let sim = SimHost::preset("nvme".parse::<Preset>().unwrap(), 1);
    let pf: Bdf = "0000:20:00.0".parse().unwrap();
    let vf: Bdf = "0000:20:00.1".parse().unwrap();
    sim.write(&paths::device_attr(pf, "sriov_drivers_autoprobe"), "0")
        .unwrap();
    sim.write(&paths::device_attr(pf, "sriov_numvfs"), "4")
        .unwrap();
    sim.write(&paths::device_attr(vf, "driver_override"), "vfio-pci")
        .unwrap();
    sim.write(Path::new(paths::DRIVERS_PROBE), &vf.to_string())
        .unwrap();
    assert_eq!(
        PciInfo::read(&sim, vf).unwrap().driver.as_deref(),
        Some("vfio-pci")
    );
    let err = open(&sim, "0000:20:00.1").unwrap_err();
    match &err {
        Error::Vfio(VfioError::GroupNotViable { blockers, .. }) => {
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
        Err(Error::Sysfs(SysfsError::NoSuchDevice(_)))
    ));
    let pf = open(&sim, "0000:01:00.0").unwrap_err();
    assert!(matches!(pf, Error::Vfio(VfioError::NotAVf(_))), "{pf:?}");
    assert!(pf.to_string().contains("is an SR-IOV PF"));
    // A VF that is not on a VFIO driver.
    sim.write(
        &paths::device_attr("0000:01:10.2".parse().unwrap(), "driver/unbind"),
        "0000:01:10.2",
    )
    .unwrap();
    let unbound = open(&sim, "0000:01:10.2").unwrap_err();
    assert!(
        matches!(unbound, Error::Vfio(VfioError::NotBoundToVfio { .. })),
        "{unbound:?}"
    );
    assert!(unbound.to_string().contains("bound to no driver"));
    // A container cannot take an IOMMU before a group.
    let mut container = Container::open(&sim).unwrap();
    assert!(container.set_iommu(3).is_err());
    // A device that is not in the group.
    let vf = open(&sim, "0000:01:10.0").unwrap();
    let stranger: Bdf = "0000:01:10.2".parse().unwrap();
    match vf.group.device(stranger) {
        Err(Error::Vfio(VfioError::Request { source, .. })) => {
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
    let host = Host::discover(&sim, &["0000:01:00.0".parse().unwrap()]).unwrap();
    let pf: Bdf = "0000:01:00.0".parse().unwrap();
    // qatkit sees this process's group fd and refuses; forced, the kernel completes, since only
    // container and group are open, not the device.
    assert!(matches!(
        provision::plan_reset(&host, &[pf], false),
        Err(Error::Provision(ProvisionError::HeldByVfioUser { .. }))
    ));
    let reset = provision::plan_reset(&host, &[pf], true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lock = provision::ProvisionLock::acquire(&dir.path().join("l")).unwrap();
    assert!(provision::apply(&sim, &reset, true, &lock).ok);
    match vf.group.status() {
        Err(Error::Vfio(VfioError::Request { source, .. })) => {
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
    let host = Host::discover(&sim, &[pf]).unwrap();
    let me = std::process::id();
    assert_eq!(host.pf(pf).unwrap().vfs[0].device_open_by, [me]);
    // qat-vf refuses, forced or not...
    assert!(matches!(
        provision::plan_reset(&host, &[pf], true),
        Err(Error::Provision(
            ProvisionError::DeviceOpenByVfioUser { .. }
        ))
    ));
    // ...because the kernel (here its model) would not return from the write.
    let before = sim.kernel();
    let write = sim.write(&paths::device_attr(pf, "sriov_numvfs"), "0");
    assert!(
        matches!(write, Err(Error::Sysfs(SysfsError::Write { source, .. })) if source.raw_os_error() == Some(qat_vf::sim::BLOCKS_FOREVER))
    );
    assert_eq!(sim.kernel(), before);
    drop(vf);
    assert!(
        Host::discover(&sim, &[pf]).unwrap().pf(pf).unwrap().vfs[0]
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
        Err(Error::Vfio(VfioError::Request { source, .. })) => {
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

#[test]
fn the_iommufd_path_opens_maps_and_unmaps_on_the_simulated_host() {
    let sim = provisioned("igb", "0000:01:00.0");
    let vf: Bdf = "0000:01:10.0".parse().unwrap();
    // Without iommufd in the kernel, the host offers container and group only.
    assert_eq!(cdev_path(&sim, vf).unwrap(), None);
    assert!(matches!(
        HostDevice::open(&sim, vf),
        Ok(HostDevice::Group(_))
    ));

    sim.with_kernel(|k| k.quirks.iommufd = true);
    let cdev = cdev_path(&sim, vf).unwrap().expect("a cdev");
    assert!(cdev.starts_with("/dev/vfio/devices"), "{cdev:?}");
    let opened = HostDevice::open(&sim, vf).unwrap();
    let HostDevice::Iommufd(device) = &opened else {
        panic!("{opened:?}");
    };
    // The bound cdev answers device requests as a group-opened device does.
    assert_eq!(device.device().bdf(), vf);
    assert!(device.device().regions().unwrap().len() >= 2);
    // Its open device fd holds the VF, as it does on a real kernel.
    let host = Host::discover(&sim, &["0000:01:00.0".parse().unwrap()]).unwrap();
    assert_eq!(
        host.pf("0000:01:00.0".parse().unwrap()).unwrap().vfs[0].device_open_by,
        [std::process::id()]
    );

    let mut buffer = DmaBuffer::new(64 << 10).unwrap();
    let mut other = DmaBuffer::new(64 << 10).unwrap();
    let locked_before = sim.memlock().locked;
    {
        let mapping = opened.map_dma(buffer.as_mut_slice(), 0x10_0000).unwrap();
        assert_eq!(mapping.iova(), 0x10_0000);
        // The simulated process pins what it maps.
        assert_eq!(sim.memlock().locked, locked_before + (64 << 10));
        let overlap = opened.map_dma(other.as_mut_slice(), 0x10_8000).map(drop);
        assert!(
            matches!(overlap, Err(Error::Vfio(VfioError::DmaOverlap { .. }))),
            "{overlap:?}"
        );
        let unaligned = opened
            .map_dma(&mut other.as_mut_slice()[8..4104], 0x20_0000)
            .map(drop);
        assert!(
            matches!(unaligned, Err(Error::Vfio(VfioError::DmaUnaligned { .. }))),
            "{unaligned:?}"
        );
    }
    // Dropped: unmapped, so the range maps again and nothing stays pinned.
    assert_eq!(sim.memlock().locked, locked_before);
    let again = opened.map_dma(other.as_mut_slice(), 0x10_8000).unwrap();
    assert_eq!(again.unmap().unwrap(), 64 << 10);

    // The same pre-open checks as container and group: a PF is refused.
    let pf = IommufdDevice::open(&sim, &cdev, "0000:01:00.0".parse().unwrap()).unwrap_err();
    assert!(matches!(pf, Error::Vfio(VfioError::NotAVf(_))), "{pf:?}");
}

#[test]
fn dma_mappings_are_held_to_the_simulated_process_memlock() {
    let sim = provisioned("igb", "0000:01:00.0");
    sim.set_process(Memlock {
        limit: Some(64 << 10),
        locked: 0,
        cap_ipc_lock: false,
    });
    let vf = open(&sim, "0000:01:10.0").unwrap();
    let mut first = DmaBuffer::new(64 << 10).unwrap();
    let mut second = DmaBuffer::new(4 << 10).unwrap();
    let mapping = vf
        .container
        .map_dma(first.as_mut_slice(), 0x10_0000)
        .unwrap();
    // The limit is used up by the first mapping: the second would exceed it.
    let err = vf
        .container
        .map_dma(second.as_mut_slice(), 0x20_0000)
        .map(drop)
        .unwrap_err();
    assert!(
        matches!(err, Error::Vfio(VfioError::MemlockTooLow { locked, limit, .. }) if locked == 64 << 10 && limit == 64 << 10),
        "{err:?}"
    );
    assert_eq!(err.kind(), qat_vf::ErrorKind::LimitExceeded);
    drop(mapping);
    assert!(
        vf.container
            .map_dma(second.as_mut_slice(), 0x20_0000)
            .is_ok()
    );
}

#[test]
fn vfio_check_reports_the_simulated_process_not_the_test_runner() {
    let sim = provisioned("igb", "0000:01:00.0");
    let vf: Bdf = "0000:01:10.0".parse().unwrap();
    sim.set_process(Memlock {
        limit: Some(12345 << 10),
        locked: 0,
        cap_ipc_lock: false,
    });
    let report = check(&sim, vf).unwrap();
    assert!(report.usable(), "{report:?}");
    assert_eq!(report.memlock_limit, Some(12345 << 10));
    assert!(!report.cap_ipc_lock);
    // 12 MiB is less than the 16 MiB qatlib pins per VF.
    assert!(!report.memlock_enough_for_qatlib);
    assert_eq!(report.dma_map, Some(true));

    // A process without room to pin one page: not the VF's fault, so reported, not unusable.
    sim.set_process(Memlock {
        limit: Some(0),
        locked: 0,
        cap_ipc_lock: false,
    });
    let report = check(&sim, vf).unwrap();
    assert!(report.usable(), "{report:?}");
    assert_eq!(report.dma_map, None);
    // Root's CAP_IPC_LOCK lifts the limit.
    sim.set_process(Memlock {
        limit: Some(0),
        locked: 0,
        cap_ipc_lock: true,
    });
    let report = check(&sim, vf).unwrap();
    assert!(report.memlock_enough_for_qatlib && report.cap_ipc_lock);
    assert_eq!(report.dma_map, Some(true));
}
