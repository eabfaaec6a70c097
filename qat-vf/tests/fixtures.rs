//! Read-only discovery on fixture trees shaped like a real host's sysfs, debugfs, `/dev/vfio` and
//! `/proc` (see `common` for the layout). Each test builds one host and compares whole snapshots.

mod common;

use common::{Fixture, bdf};
use qat_vf::error::{ProvisionError, SysfsError};
use qat_vf::{Error, PhysicalFunction, QatFamily, QatState, Services, VirtualFunction};
use qat_vf::{Heartbeat, PciInfo, RasCounters};

const INTEL: u16 = 0x8086;

/// An Intel device with NUMA node 0, unbound, no override, no IOMMU group.
fn pci(address: &str, device: u16, family: Option<&str>) -> PciInfo {
    PciInfo {
        bdf: bdf(address),
        vendor: INTEL,
        device,
        family: family.map(|name| QatFamily::by_name(name).expect("a known family")),
        numa_node: Some(0),
        driver: None,
        driver_override: None,
        iommu_group: None,
    }
}

/// A PF with no VFs enabled, autoprobe on, offset and stride 1, and nothing QAT-specific.
fn pf(pci: PciInfo, sriov_totalvfs: u16) -> PhysicalFunction {
    PhysicalFunction {
        pci,
        sriov_totalvfs,
        sriov_numvfs: 0,
        sriov_drivers_autoprobe: true,
        sriov_offset: 1,
        sriov_stride: 1,
        state: None,
        services: None,
        auto_reset: None,
        heartbeat: None,
        ras: None,
        vfs: Vec::new(),
    }
}

/// A VF that no process holds and that has no `/dev/vfio` node.
fn vf(pci: PciInfo, physfn: Option<&str>) -> VirtualFunction {
    VirtualFunction {
        pci,
        physfn: physfn.map(bdf),
        vfio_node: None,
        held_by: Vec::new(),
        device_open_by: Vec::new(),
    }
}

#[test]
fn gen2_c62x_has_no_qat_dir_and_vfs_on_c6xxvf() {
    let fx = Fixture::new();
    // The C62x PCH sits behind a root port and the PCH's own bridges.
    let port = fx.device("0000:3a:00.0", INTEL, 0x2030);
    port.driver("pcieport").iommu_group(30);
    let upstream = port.child("0000:3b:00.0", INTEL, 0x37c0);
    upstream.driver("pcieport").iommu_group(31);
    let downstream = upstream.child("0000:3c:03.0", INTEL, 0x37c5);
    downstream.driver("pcieport").iommu_group(32);
    let c62x = downstream.child("0000:3d:00.0", INTEL, 0x37c8);
    c62x.driver("c6xx").iommu_group(40).sriov(16, 8, 1);
    for (group, vf) in (100..).zip(c62x.enable_vfs(16, 0x37c9)) {
        vf.driver("c6xxvf").iommu_group(group);
    }
    assert_eq!(
        c62x.dir(),
        "sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/0000:3c:03.0/0000:3d:00.0"
    );
    fx.vfio_pci_disable_denylist("N");

    let host = fx.discover(&[]).unwrap();

    let expected_vfs: Vec<VirtualFunction> = (0..16u32)
        .map(|i| {
            let address = format!("0000:3d:{:02x}.{}", 1 + i / 8, i % 8);
            vf(
                PciInfo {
                    driver: Some("c6xxvf".into()),
                    iommu_group: Some(100 + i),
                    ..pci(&address, 0x37c9, Some("c62x"))
                },
                Some("0000:3d:00.0"),
            )
        })
        .collect();
    let expected = PhysicalFunction {
        sriov_numvfs: 16,
        sriov_offset: 8,
        vfs: expected_vfs,
        ..pf(
            PciInfo {
                driver: Some("c6xx".into()),
                iommu_group: Some(40),
                ..pci("0000:3d:00.0", 0x37c8, Some("c62x"))
            },
            16,
        )
    };
    assert_eq!(host.pfs, vec![expected]);
    let c62x = &host.pfs[0];
    let family = c62x.family().unwrap();
    assert_eq!(
        (family.name, family.generation, family.pf_driver),
        ("c62x", 2, "c6xx")
    );
    assert!(family.vfio_denylisted);
    // Numeric virtfn order: virtfn2 comes before virtfn10.
    assert_eq!(c62x.vfs[2].pci.bdf, bdf("0000:3d:01.2"));
    assert_eq!(c62x.vfs[10].pci.bdf, bdf("0000:3d:02.2"));
    assert_eq!(c62x.vfs[15].pci.bdf, bdf("0000:3d:02.7"));
    assert_eq!(
        c62x.predicted_vfs(16),
        c62x.vfs.iter().map(|vf| vf.pci.bdf).collect::<Vec<_>>()
    );
    assert!(host.guest_vfs.is_empty());
    assert_eq!(host.loaded_drivers, ["c6xx", "c6xxvf", "pcieport"]);
    assert!(!host.vfio_pci_denylist_disabled);
}

#[test]
fn gen2_dh895xcc_offers_32_vfs() {
    let fx = Fixture::new();
    let port = fx.device("0000:00:01.0", INTEL, 0x6f02);
    port.driver("pcieport");
    let dh = port.child("0000:03:00.0", INTEL, 0x0435);
    dh.driver("dh895xcc")
        .numa_node(1)
        .iommu_group(25)
        .sriov(32, 8, 1);
    for (group, vf) in (200..).zip(dh.enable_vfs(32, 0x0443)) {
        vf.driver("dh895xccvf").iommu_group(group);
    }
    fx.vfio_pci_disable_denylist("Y");

    let host = fx.discover(&[]).unwrap();

    let expected_vfs: Vec<VirtualFunction> = (0..32u32)
        .map(|i| {
            let address = format!("0000:03:{:02x}.{}", 1 + i / 8, i % 8);
            vf(
                PciInfo {
                    numa_node: Some(1),
                    driver: Some("dh895xccvf".into()),
                    iommu_group: Some(200 + i),
                    ..pci(&address, 0x0443, Some("dh895xcc"))
                },
                Some("0000:03:00.0"),
            )
        })
        .collect();
    let expected = PhysicalFunction {
        sriov_numvfs: 32,
        sriov_offset: 8,
        vfs: expected_vfs,
        ..pf(
            PciInfo {
                numa_node: Some(1),
                driver: Some("dh895xcc".into()),
                iommu_group: Some(25),
                ..pci("0000:03:00.0", 0x0435, Some("dh895xcc"))
            },
            32,
        )
    };
    assert_eq!(host.pfs, vec![expected]);
    let dh = &host.pfs[0];
    assert_eq!(dh.family().unwrap().name, "dh895xcc");
    assert_eq!(dh.family().unwrap().generation, 2);
    assert_eq!(dh.vfs[10].pci.bdf, bdf("0000:03:02.2"));
    assert_eq!(dh.vfs[31].pci.bdf, bdf("0000:03:04.7"));
    assert!(host.vfio_pci_denylist_disabled);
    assert_eq!(host.loaded_drivers, ["dh895xcc", "dh895xccvf", "pcieport"]);
}

#[test]
fn gen4_4xxx_services_as_sets_vfs_on_vfio_pci_one_unbound() {
    let fx = Fixture::new();
    // Noise a real host has: a host bridge and an NVMe drive, neither QAT nor named.
    fx.device("0000:00:00.0", INTEL, 0x09a2);
    let nvme_port = fx.device("0000:00:1b.0", INTEL, 0x1bb8);
    nvme_port.driver("pcieport");
    let nvme = nvme_port.child("0000:01:00.0", 0x144d, 0xa808);
    nvme.driver("nvme").iommu_group(5);

    // 6b:00.0 is up with VFs enabled (newer kernel: canonical order "asym;sym").
    let up = fx.device("0000:6b:00.0", INTEL, 0x4940);
    up.driver("4xxx").iommu_group(11).sriov(16, 1, 1);
    up.attr("sriov_drivers_autoprobe", "0");
    up.qat("up", "asym;sym")
        .auto_reset("off")
        .ras(0, 0, 0)
        .heartbeat("4xxx", "0");
    let mut nodes = Vec::new();
    for (i, vf) in (0u32..).zip(up.enable_vfs(16, 0x4941)) {
        let group = 300 + i;
        vf.iommu_group(group);
        if i == 3 {
            nodes.push(None); // unbound, as after a failed probe: no driver, no override, no node
        } else {
            vf.driver_override("vfio-pci")
                .driver("vfio-pci")
                .vfio_dev(&format!("vfio{i}"));
            nodes.push(Some(fx.vfio_group_node(group, 0o660)));
        }
    }
    // e8:00.0 is down, no VFs (older kernel: echoes the order it was given, "sym;asym").
    let down = fx.device("0000:e8:00.0", INTEL, 0x4940);
    down.driver("4xxx")
        .numa_node(1)
        .iommu_group(12)
        .sriov(16, 1, 1);
    down.qat("down", "sym;asym")
        .auto_reset("on")
        .ras(0, 0, 0)
        .heartbeat("4xxx", "0");

    let host = fx.discover(&[]).unwrap();

    let sym_asym = Services::SYM | Services::ASYM;
    let expected_vfs: Vec<VirtualFunction> = (0..16u32)
        .zip(nodes)
        .map(|(i, node)| {
            let address = format!("0000:6b:{:02x}.{}", (i + 1) / 8, (i + 1) % 8);
            let bound = i != 3;
            VirtualFunction {
                vfio_node: node,
                ..vf(
                    PciInfo {
                        driver: bound.then(|| "vfio-pci".into()),
                        driver_override: bound.then(|| "vfio-pci".into()),
                        iommu_group: Some(300 + i),
                        ..pci(&address, 0x4941, Some("4xxx"))
                    },
                    Some("0000:6b:00.0"),
                )
            }
        })
        .collect();
    let zero = RasCounters {
        correctable: 0,
        nonfatal: 0,
        fatal: 0,
    };
    let expected_up = PhysicalFunction {
        sriov_numvfs: 16,
        sriov_drivers_autoprobe: false,
        state: Some(QatState::Up),
        services: Some(sym_asym),
        auto_reset: Some(false),
        heartbeat: Some(Heartbeat::Healthy),
        ras: Some(zero),
        vfs: expected_vfs,
        ..pf(
            PciInfo {
                driver: Some("4xxx".into()),
                iommu_group: Some(11),
                ..pci("0000:6b:00.0", 0x4940, Some("4xxx"))
            },
            16,
        )
    };
    let expected_down = PhysicalFunction {
        state: Some(QatState::Down),
        services: Some(sym_asym),
        auto_reset: Some(true),
        heartbeat: Some(Heartbeat::Healthy),
        ras: Some(zero),
        ..pf(
            PciInfo {
                numa_node: Some(1),
                driver: Some("4xxx".into()),
                iommu_group: Some(12),
                ..pci("0000:e8:00.0", 0x4940, Some("4xxx"))
            },
            16,
        )
    };
    assert_eq!(host.pfs, vec![expected_up, expected_down]);
    let up = &host.pfs[0];
    assert_eq!(up.family().unwrap().name, "4xxx");
    assert_eq!(up.family().unwrap().generation, 4);
    assert_eq!(
        up.services, host.pfs[1].services,
        "cfg_services compare as sets"
    );
    assert_eq!(up.vfs[0].pci.bdf, bdf("0000:6b:00.1"));
    assert_eq!(up.vfs[2].pci.bdf, bdf("0000:6b:00.3"));
    assert_eq!(up.vfs[10].pci.bdf, bdf("0000:6b:01.3"));
    assert_eq!(up.vfs[15].pci.bdf, bdf("0000:6b:02.0"));
    assert_eq!(up.vfs[3].pci.driver, None);
    assert_eq!(up.vfs[3].vfio_node, None);
    assert_eq!(up.vfs[4].vfio_node.unwrap().mode, 0o660);
    assert!(host.guest_vfs.is_empty());
    assert_eq!(
        host.loaded_drivers,
        ["4xxx", "nvme", "pcieport", "vfio-pci"]
    );
    assert!(
        !host.vfio_pci_denylist_disabled,
        "no vfio_pci module parameters"
    );
}

#[test]
fn gen4_420xx_has_its_own_driver_dir() {
    let fx = Fixture::new();
    let pf420 = fx.device("0000:76:00.0", INTEL, 0x4946);
    // An older kernel without auto_reset; debugfs not mounted, so no heartbeat.
    pf420
        .driver("420xx")
        .numa_node(0)
        .iommu_group(14)
        .sriov(16, 1, 1);
    pf420.qat("up", "sym;dc").ras(2, 0, 0);
    for (group, vf) in (400..).zip(pf420.enable_vfs(16, 0x4947)) {
        vf.driver_override("vfio-pci")
            .driver("vfio-pci")
            .iommu_group(group);
    }

    let host = fx.discover(&[]).unwrap();

    let expected_vfs: Vec<VirtualFunction> = (0..16u32)
        .map(|i| {
            let address = format!("0000:76:{:02x}.{}", (i + 1) / 8, (i + 1) % 8);
            vf(
                PciInfo {
                    driver: Some("vfio-pci".into()),
                    driver_override: Some("vfio-pci".into()),
                    iommu_group: Some(400 + i),
                    ..pci(&address, 0x4947, Some("420xx"))
                },
                Some("0000:76:00.0"),
            )
        })
        .collect();
    let expected = PhysicalFunction {
        sriov_numvfs: 16,
        state: Some(QatState::Up),
        services: Some(Services::SYM | Services::DC),
        ras: Some(RasCounters {
            correctable: 2,
            nonfatal: 0,
            fatal: 0,
        }),
        vfs: expected_vfs,
        ..pf(
            PciInfo {
                driver: Some("420xx".into()),
                iommu_group: Some(14),
                ..pci("0000:76:00.0", 0x4946, Some("420xx"))
            },
            16,
        )
    };
    assert_eq!(host.pfs, vec![expected]);
    let family = host.pfs[0].family().unwrap();
    assert_eq!(
        (family.name, family.generation, family.pf_driver),
        ("420xx", 4, "420xx")
    );
    assert!(!family.qat_vfio_pci);
    assert_eq!(host.pfs[0].vfs[10].pci.bdf, bdf("0000:76:01.3"));
    assert_eq!(host.loaded_drivers, ["420xx", "vfio-pci"]);
}

#[test]
fn gen6_6xxx_with_three_services_including_decomp() {
    let fx = Fixture::new();
    let pf6 = fx.device("0000:a8:00.0", INTEL, 0x4948);
    pf6.driver("6xxx")
        .numa_node(1)
        .iommu_group(15)
        .sriov(16, 1, 1);
    pf6.qat("up", "asym;sym;decomp")
        .auto_reset("on")
        .heartbeat("6xxx", "0");
    pf6.ras(0, 1, 0);
    for (group, vf) in (500..).zip(pf6.enable_vfs(16, 0x4949)) {
        vf.driver_override("vfio-pci")
            .driver("vfio-pci")
            .iommu_group(group);
    }

    let host = fx.discover(&[]).unwrap();

    let expected_vfs: Vec<VirtualFunction> = (0..16u32)
        .map(|i| {
            let address = format!("0000:a8:{:02x}.{}", (i + 1) / 8, (i + 1) % 8);
            vf(
                PciInfo {
                    numa_node: Some(1),
                    driver: Some("vfio-pci".into()),
                    driver_override: Some("vfio-pci".into()),
                    iommu_group: Some(500 + i),
                    ..pci(&address, 0x4949, Some("6xxx"))
                },
                Some("0000:a8:00.0"),
            )
        })
        .collect();
    let expected = PhysicalFunction {
        sriov_numvfs: 16,
        state: Some(QatState::Up),
        services: Some(Services::ASYM | Services::SYM | Services::DECOMP),
        auto_reset: Some(true),
        heartbeat: Some(Heartbeat::Healthy),
        ras: Some(RasCounters {
            correctable: 0,
            nonfatal: 1,
            fatal: 0,
        }),
        vfs: expected_vfs,
        ..pf(
            PciInfo {
                numa_node: Some(1),
                driver: Some("6xxx".into()),
                iommu_group: Some(15),
                ..pci("0000:a8:00.0", 0x4948, Some("6xxx"))
            },
            16,
        )
    };
    assert_eq!(host.pfs, vec![expected]);
    let family = host.pfs[0].family().unwrap();
    assert_eq!(
        (family.name, family.generation, family.pf_driver),
        ("6xxx", 6, "6xxx")
    );
    assert_eq!(
        host.pfs[0].services.unwrap().names(),
        ["asym", "sym", "decomp"]
    );
}

/// A host with an igb 82576 behind a root port (7 VFs on igbvf, offset 0x80, stride 2) and one
/// 4xxx PF that is down.
fn igb_host() -> Fixture {
    let fx = Fixture::new();
    let port = fx.device("0000:00:1c.0", INTEL, 0xa110);
    port.driver("pcieport").iommu_group(8);
    let igb = port.child("0000:01:00.0", INTEL, 0x10c9);
    igb.driver("igb").iommu_group(9).sriov(7, 0x80, 2);
    for (group, vf) in (60..).zip(igb.enable_vfs(7, 0x10ca)) {
        vf.driver("igbvf").iommu_group(group);
    }
    let qat = fx.device("0000:6b:00.0", INTEL, 0x4940);
    qat.driver("4xxx")
        .iommu_group(11)
        .sriov(16, 1, 1)
        .qat("down", "dc");
    fx
}

#[test]
fn generic_sriov_pf_is_found_only_when_named() {
    let fx = igb_host();
    assert_eq!(
        fx.sysfs()
            .read_link("/sys/bus/pci/devices/0000:01:00.0/driver".as_ref())
            .unwrap(),
        Some("../../../../bus/pci/drivers/igb".into()),
        "a device behind a root port sits one level deeper"
    );

    let unnamed = fx.discover(&[]).unwrap();
    assert_eq!(unnamed.pfs.len(), 1);
    assert_eq!(unnamed.pfs[0].pci.bdf, bdf("0000:6b:00.0"));
    assert!(unnamed.guest_vfs.is_empty(), "igb VFs are not QAT VFs");

    let host = fx.discover(&["01:00.0"]).unwrap();
    let expected_vfs: Vec<VirtualFunction> = (0..7u32)
        .map(|i| {
            // rid 0x0100 + 0x80 + 2i: bus 01, device 0x10 + i/4, function 2 × (i % 4).
            let address = format!("0000:01:{:02x}.{}", 0x10 + i / 4, 2 * (i % 4));
            vf(
                PciInfo {
                    driver: Some("igbvf".into()),
                    iommu_group: Some(60 + i),
                    ..pci(&address, 0x10ca, None)
                },
                Some("0000:01:00.0"),
            )
        })
        .collect();
    let expected_igb = PhysicalFunction {
        sriov_numvfs: 7,
        sriov_offset: 0x80,
        sriov_stride: 2,
        vfs: expected_vfs,
        ..pf(
            PciInfo {
                driver: Some("igb".into()),
                iommu_group: Some(9),
                ..pci("0000:01:00.0", 0x10c9, None)
            },
            7,
        )
    };
    assert_eq!(host.pfs.len(), 2);
    assert_eq!(host.pfs[0], expected_igb);
    assert_eq!(host.pfs[1], unnamed.pfs[0]);
    assert_eq!(host.pf(bdf("0000:01:00.0")).unwrap().family(), None);
    assert_eq!(host.pfs[0].vfs[1].pci.bdf, bdf("0000:01:10.2"));
    assert_eq!(host.pfs[0].vfs[6].pci.bdf, bdf("0000:01:11.4"));
    assert_eq!(
        host.pfs[0].predicted_vfs(7),
        host.pfs[0]
            .vfs
            .iter()
            .map(|v| v.pci.bdf)
            .collect::<Vec<_>>()
    );

    // Naming a QAT PF that discovery finds anyway does not list it twice.
    let both = fx.discover(&["0000:6b:00.0", "0000:01:00.0"]).unwrap();
    assert_eq!(both.pfs, host.pfs);
}

#[test]
fn named_pf_that_does_not_exist_is_no_such_device() {
    let fx = igb_host();
    let err = fx.discover(&["0000:01:00.0", "0000:99:00.0"]).unwrap_err();
    assert!(
        matches!(err, Error::Sysfs(SysfsError::NoSuchDevice(b)) if b == bdf("0000:99:00.0")),
        "{err:?}"
    );
}

#[test]
fn named_device_without_sriov_is_not_sriov() {
    let fx = igb_host();
    // An i210 has no SR-IOV capability: no sriov_* attributes at all.
    let port = fx.device("0000:00:1c.4", INTEL, 0xa114);
    port.driver("pcieport");
    port.child("0000:02:00.0", INTEL, 0x1533)
        .driver("igb")
        .iommu_group(10);
    let err = fx.discover(&["0000:02:00.0"]).unwrap_err();
    assert!(
        matches!(err, Error::Provision(ProvisionError::NotSriov(b)) if b == bdf("0000:02:00.0")),
        "{err:?}"
    );
    // A VF is no PF either.
    let err = fx.discover(&["0000:01:10.0"]).unwrap_err();
    assert!(
        matches!(err, Error::Provision(ProvisionError::NotSriov(b)) if b == bdf("0000:01:10.0")),
        "{err:?}"
    );
}

#[test]
fn guest_mode_lists_qat_vfs_without_physfn() {
    let fx = Fixture::new();
    // A q35 guest: the VFs of one host PF share a guest bus (multifunction), another PF's VF sits
    // on its own bus. No vIOMMU for the last one; NUMA is unknown in the guest.
    let port1 = fx.device("0000:00:02.0", 0x1b36, 0x000c);
    port1.driver("pcieport");
    let port2 = fx.device("0000:00:03.0", 0x1b36, 0x000c);
    port2.driver("pcieport");
    port1
        .child("0000:01:00.0", INTEL, 0x4941)
        .numa_node(-1)
        .driver("vfio-pci")
        .iommu_group(3);
    port1
        .child("0000:01:00.1", INTEL, 0x4941)
        .numa_node(-1)
        .driver("vfio-pci")
        .iommu_group(3);
    port2.child("0000:02:00.0", INTEL, 0x4941).numa_node(-1);

    let host = fx.discover(&[]).unwrap();

    let guest_vf = |address: &str, driver: Option<&str>, group: Option<u32>| {
        vf(
            PciInfo {
                numa_node: None,
                driver: driver.map(Into::into),
                iommu_group: group,
                ..pci(address, 0x4941, Some("4xxx"))
            },
            None,
        )
    };
    assert!(host.pfs.is_empty());
    assert_eq!(
        host.guest_vfs,
        vec![
            guest_vf("0000:01:00.0", Some("vfio-pci"), Some(3)),
            guest_vf("0000:01:00.1", Some("vfio-pci"), Some(3)),
            guest_vf("0000:02:00.0", None, None),
        ]
    );
    assert_eq!(host.guest_vfs[0].pci.family.unwrap().name, "4xxx");
    assert_eq!(host.loaded_drivers, ["pcieport", "vfio-pci"]);
}

#[test]
fn heartbeat_healthy_failed_and_absent() {
    let fx = Fixture::new();
    for (address, status) in [
        ("0000:6b:00.0", Some("0")),
        ("0000:70:00.0", Some("-1")),
        ("0000:75:00.0", None),
    ] {
        let dev = fx.device(address, INTEL, 0x4940);
        dev.driver("4xxx").sriov(16, 1, 1).qat("up", "dc");
        if let Some(status) = status {
            dev.heartbeat("4xxx", status);
        }
    }
    // A debugfs directory without the heartbeat file reads as unknown too.
    fx.mkdir("sys/kernel/debug/qat_4xxx_0000:75:00.0");

    let host = fx.discover(&[]).unwrap();

    let expected = |address, heartbeat| PhysicalFunction {
        state: Some(QatState::Up),
        services: Some(Services::DC),
        heartbeat,
        ..pf(
            PciInfo {
                driver: Some("4xxx".into()),
                ..pci(address, 0x4940, Some("4xxx"))
            },
            16,
        )
    };
    assert_eq!(
        host.pfs,
        vec![
            expected("0000:6b:00.0", Some(Heartbeat::Healthy)),
            expected("0000:70:00.0", Some(Heartbeat::Failed)),
            expected("0000:75:00.0", None),
        ]
    );
}

#[test]
fn ras_counters_are_read_where_present() {
    let fx = Fixture::new();
    let with = fx.device("0000:6b:00.0", INTEL, 0x4940);
    with.driver("4xxx")
        .sriov(16, 1, 1)
        .qat("up", "sym")
        .ras(12, 3, 1);
    let without = fx.device("0000:70:00.0", INTEL, 0x4940);
    without.driver("4xxx").sriov(16, 1, 1).qat("up", "sym");

    let host = fx.discover(&[]).unwrap();

    let expected = |address, ras| PhysicalFunction {
        state: Some(QatState::Up),
        services: Some(Services::SYM),
        ras,
        ..pf(
            PciInfo {
                driver: Some("4xxx".into()),
                ..pci(address, 0x4940, Some("4xxx"))
            },
            16,
        )
    };
    assert_eq!(
        host.pfs,
        vec![
            expected(
                "0000:6b:00.0",
                Some(RasCounters {
                    correctable: 12,
                    nonfatal: 3,
                    fatal: 1
                })
            ),
            expected("0000:70:00.0", None),
        ]
    );
}

#[test]
fn numa_node_minus_one_is_none() {
    let fx = Fixture::new();
    let no_numa = fx.device("0000:6b:00.0", INTEL, 0x4940);
    no_numa
        .driver("4xxx")
        .numa_node(-1)
        .sriov(16, 1, 1)
        .qat("up", "sym");
    no_numa.enable_vfs(16, 0x4941);
    let node1 = fx.device("0000:e8:00.0", INTEL, 0x4940);
    node1
        .driver("4xxx")
        .numa_node(1)
        .sriov(16, 1, 1)
        .qat("down", "sym");

    let host = fx.discover(&[]).unwrap();

    assert_eq!(host.pfs[0].pci.numa_node, None);
    assert!(host.pfs[0].vfs.iter().all(|vf| vf.pci.numa_node.is_none()));
    assert_eq!(host.pfs[0].vfs.len(), 16);
    assert_eq!(host.pfs[1].pci.numa_node, Some(1));
    assert_eq!(
        host.pfs[0].vfs[0],
        vf(
            PciInfo {
                numa_node: None,
                ..pci("0000:6b:00.1", 0x4941, Some("4xxx"))
            },
            Some("0000:6b:00.0")
        )
    );
}

#[test]
fn vfio_holders_by_group_and_by_cdev() {
    let fx = Fixture::new();
    let qat = fx.device("0000:6b:00.0", INTEL, 0x4940);
    qat.driver("4xxx")
        .iommu_group(11)
        .sriov(16, 1, 1)
        .qat("up", "sym;asym");
    let vfs = qat.enable_vfs(16, 0x4941);
    let mut nodes = Vec::new();
    for (i, vf) in (0u32..).zip(&vfs) {
        vf.driver_override("vfio-pci")
            .driver("vfio-pci")
            .iommu_group(20 + i)
            .vfio_dev(&format!("vfio{i}"));
        nodes.push(fx.vfio_group_node(20 + i, 0o660));
    }
    // QEMU (pid 999) holds group 20 through the legacy container/group interface; its forked
    // child (pid 1000) inherited the group fd, and it dup'ed the fd once more.
    fx.process(
        999,
        &[
            "/dev/vfio/vfio",
            "/dev/vfio/20",
            "/dev/vfio/20",
            "anon_inode:[vfio-device]",
        ],
    );
    fx.process(1000, &["/dev/vfio/vfio", "/dev/vfio/20"]);
    // Another user opened VF 2 through the VFIO cdev.
    fx.process(1234, &["/dev/iommu", "/dev/vfio/devices/vfio2"]);
    // Processes with unrelated files, and /proc entries that are not processes.
    fx.process(1, &["/dev/null", "socket:[4242]", "/dev/vfio.bak/21"]);
    fx.link("proc/self", "1234");
    fx.mkdir("proc/sys/kernel");
    fx.write("proc/uptime", "1.00 2.00\n");

    let host = fx.discover(&[]).unwrap();

    let vfs = &host.pfs[0].vfs;
    assert_eq!(vfs[0].held_by, [999, 1000], "numeric order, each pid once");
    assert_eq!(vfs[1].held_by, Vec::<u32>::new());
    assert_eq!(vfs[2].held_by, [1234]);
    assert!(vfs[3..].iter().all(|vf| vf.held_by.is_empty()));
    assert_eq!(
        vfs[0],
        VirtualFunction {
            vfio_node: Some(nodes[0]),
            held_by: vec![999, 1000],
            // 999 also has a device fd (fdinfo does not name it): it counts for its group's
            // devices; 1000 only inherited the group fd.
            device_open_by: vec![999],
            ..vf(
                PciInfo {
                    driver: Some("vfio-pci".into()),
                    driver_override: Some("vfio-pci".into()),
                    iommu_group: Some(20),
                    ..pci("0000:6b:00.1", 0x4941, Some("4xxx"))
                },
                Some("0000:6b:00.0"),
            )
        }
    );
}

#[test]
fn holders_of_a_shared_group_hold_every_member() {
    let fx = Fixture::new();
    let qat = fx.device("0000:6b:00.0", INTEL, 0x4940);
    qat.driver("4xxx").sriov(16, 1, 1).qat("up", "dc");
    let vfs = qat.enable_vfs(16, 0x4941);
    // Without ACS two VFs can share a group: whoever opens it holds both.
    for vf in &vfs[..2] {
        vf.driver("vfio-pci").iommu_group(7);
    }
    fx.vfio_group_node(7, 0o600);
    fx.process(4321, &["/dev/vfio/7"]);

    let host = fx.discover(&[]).unwrap();

    let vfs = &host.pfs[0].vfs;
    assert_eq!(vfs[0].held_by, [4321]);
    assert_eq!(vfs[1].held_by, [4321]);
    assert_eq!(vfs[0].vfio_node.unwrap().mode, 0o600);
    assert!(
        vfs[2..]
            .iter()
            .all(|vf| vf.held_by.is_empty() && vf.vfio_node.is_none())
    );
}

#[test]
fn vfio_device_fds_are_tied_to_devices_through_fdinfo_or_reported_unidentified() {
    let fx = Fixture::new();
    let qat = fx.device("0000:6b:00.0", INTEL, 0x4940);
    qat.driver("4xxx").sriov(16, 1, 1).qat("up", "sym");
    for (i, vf) in qat.enable_vfs(2, 0x4941).iter().enumerate() {
        vf.driver("vfio-pci").iommu_group(20 + i as u32);
    }
    // pid 555 kept only its device fd (fd 3); the kernel names the device in fdinfo.
    fx.process(555, &["anon_inode:[vfio-device]"]);
    fx.write(
        "proc/555/fdinfo/3",
        "pos:\t0\nflags:\t02000002\nvfio-device-syspath: /sys/devices/pci0000:6b/0000:6b:00.2\n",
    );
    let host = fx.discover(&[]).unwrap();
    assert_eq!(host.pfs[0].vfs[1].held_by, [555]);
    assert_eq!(host.pfs[0].vfs[1].device_open_by, [555]);
    assert!(host.pfs[0].vfs[0].held_by.is_empty());
    assert!(host.unidentified_vfio_users.is_empty());

    // pid 556 holds a device fd on a kernel without the fdinfo line: it might hold any VF.
    fx.process(556, &["anon_inode:[vfio-device]"]);
    let host = fx.discover(&[]).unwrap();
    assert_eq!(host.unidentified_vfio_users, [556]);
}
