//! Ready-made hosts: one per QAT family, a mixed host, and the generic SR-IOV devices of the
//! QEMU test machine (igb, NVMe).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::kernel::{Kernel, Matching, SimDevice, SimDriver, SimQat, SimSriov};
use crate::pci::{Bdf, INTEL_VENDOR_ID, QatFamily};
use crate::qat::QatState;

/// A preset host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// A QAT family (`4xxx`, `401xx`, `402xx`, `420xx`, `6xxx`, `c62x`, `c3xxx`, `dh895xcc`).
    Qat(&'static QatFamily),
    /// 4xxx, C62x and igb (generic SR-IOV) PFs in turn: three PFs make one of each.
    Mixed,
    /// Intel 82576 (igb) PFs with 7 VFs each, every VF in its own IOMMU group.
    Igb,
    /// QEMU NVMe PFs with 4 VFs behind a port without ACS: PF and VFs share one IOMMU group.
    Nvme,
    /// The QEMU test machine of tests/vm: an igb PF at 01:00.0 behind a root port with ACS and an
    /// NVMe PF at 02:00.0 behind one without, sharing an IOMMU group with that port.
    Qemu,
}

impl FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mixed" => Ok(Preset::Mixed),
            "igb" => Ok(Preset::Igb),
            "nvme" => Ok(Preset::Nvme),
            "qemu" => Ok(Preset::Qemu),
            _ => QatFamily::by_name(s).map(Preset::Qat).ok_or_else(|| {
                format!(
                    "unknown preset {s:?} (known: {})",
                    Preset::names().join(", ")
                )
            }),
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preset::Qat(family) => family.name,
            Preset::Mixed => "mixed",
            Preset::Igb => "igb",
            Preset::Nvme => "nvme",
            Preset::Qemu => "qemu",
        })
    }
}

/// Buses of the QAT endpoints on a two-socket Sapphire Rapids host; more PFs use more domains.
const QAT_BUSES: [u8; 8] = [0x6b, 0x70, 0x75, 0x7a, 0xe8, 0xed, 0xf2, 0xf7];
const IGB_PF: u16 = 0x10c9;
const IGB_VF: u16 = 0x10ca;
const REDHAT_VENDOR_ID: u16 = 0x1b36;
const QEMU_NVME: u16 = 0x0010;
const QEMU_ROOT_PORT: u16 = 0x000c;

impl Preset {
    /// Every preset name.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<_> = crate::pci::QAT_FAMILIES.iter().map(|f| f.name).collect();
        names.extend(["mixed", "igb", "nvme", "qemu"]);
        names
    }

    /// How many PFs the preset has unless told otherwise.
    pub fn default_pfs(self) -> usize {
        match self {
            Preset::Mixed => 3,
            _ => 2,
        }
    }

    /// Whether the preset is one fixed machine, whatever PF count is asked for.
    pub fn is_fixed(self) -> bool {
        self == Preset::Qemu
    }

    /// Builds the host with `pfs` PFs (at least one), spread evenly over NUMA nodes 0 and 1.
    pub fn build(self, pfs: usize) -> Kernel {
        let mut b = Builder::default();
        let pfs = pfs.max(1);
        match self {
            Preset::Qat(family) => {
                for i in 0..pfs {
                    b.qat_pf(family, i, pfs);
                }
            }
            Preset::Mixed => {
                let four = QatFamily::by_name("4xxx").expect("4xxx in table");
                let c62x = QatFamily::by_name("c62x").expect("c62x in table");
                let qat_pfs = pfs - pfs / 3;
                let (mut qat, mut igb) = (0, 0);
                for i in 0..pfs {
                    match i % 3 {
                        2 => {
                            b.igb_pf(igb);
                            igb += 1;
                        }
                        kind => {
                            b.qat_pf(if kind == 0 { four } else { c62x }, qat, qat_pfs);
                            qat += 1;
                        }
                    }
                }
            }
            Preset::Igb => (0..pfs).for_each(|i| b.igb_pf(i)),
            Preset::Nvme => (0..pfs).for_each(|i| b.nvme_pf(i)),
            Preset::Qemu => b.qemu_machine(),
        }
        b.finish()
    }
}

/// PF `index` of a generic preset: buses from `first_bus` on, 32 per PCI domain (each PF's VFs
/// sit on the bus after it at most, so there is room; and below the QAT buses).
fn generic_pf_address(first_bus: u8, index: usize) -> Bdf {
    Bdf {
        domain: (index / 32) as u16,
        bus: first_bus + 2 * (index % 32) as u8,
        device: 0,
        function: 0,
    }
}

#[derive(Default)]
struct Builder {
    kernel: Kernel,
}

impl Builder {
    fn add(&mut self, bdf: Bdf, mut dev: SimDevice) {
        dev.iommu_group = self.kernel.devices.len() as u32;
        self.kernel.devices.insert(bdf, dev);
    }

    fn driver(&mut self, name: &str, driver: SimDriver) {
        self.kernel.drivers.entry(name.to_owned()).or_insert(driver);
    }

    fn ids_driver(&mut self, name: &str, ids: Vec<(u16, u16)>, sriov: bool, keeps: bool) {
        let entry = self
            .kernel
            .drivers
            .entry(name.to_owned())
            .or_insert(SimDriver {
                matching: Matching::Ids(Vec::new()),
                vfio: false,
                sriov,
                keeps_vfs_on_unbind: keeps,
            });
        if let Matching::Ids(existing) = &mut entry.matching {
            for id in ids {
                if !existing.contains(&id) {
                    existing.push(id);
                }
            }
        }
    }

    fn qat_pf(&mut self, family: &'static QatFamily, index: usize, count: usize) {
        let bdf = Bdf {
            domain: (index / QAT_BUSES.len()) as u16,
            bus: QAT_BUSES[index % QAT_BUSES.len()],
            device: 0,
            function: 0,
        };
        let numa = (index * 2 / count) as i32;
        let mut dev = SimDevice::new(INTEL_VENDOR_ID, family.pf_device, numa, 0);
        dev.driver = Some(family.pf_driver.to_owned());
        // gen2 VFs start at device 1 (offset 8); gen4 VFs right after the PF (offset 1).
        let (total, offset) = match family.name {
            "dh895xcc" => (32, 8),
            _ if family.generation == 2 => (16, 8),
            _ => (16, 1),
        };
        dev.sriov = Some(SimSriov {
            total,
            num: 0,
            autoprobe: true,
            offset,
            stride: 1,
            vf_device: family.vf_device,
            vfs_share_group: false,
        });
        if family.has_cfg_services() {
            dev.qat = Some(SimQat {
                state: QatState::Up,
                // Newer kernels give PFs alternating defaults.
                cfg_services: if index % 2 == 0 { "asym;sym" } else { "dc" }.into(),
                auto_reset: false,
                pm_idle_enabled: true,
                rp2srv: String::new(),
                num_rps: 64,
                ras: [0; 3],
                heartbeat: 0,
            });
        }
        self.add(bdf, dev);
        self.ids_driver(
            family.pf_driver,
            vec![(INTEL_VENDOR_ID, family.pf_device)],
            true,
            false,
        );
        if let Some(vf_driver) = family.vf_driver {
            self.ids_driver(
                vf_driver,
                vec![(INTEL_VENDOR_ID, family.vf_device)],
                false,
                false,
            );
        }
        if family.qat_vfio_pci || family.generation >= 4 {
            let ids = crate::pci::QAT_FAMILIES
                .iter()
                .filter(|f| f.qat_vfio_pci)
                .map(|f| (INTEL_VENDOR_ID, f.vf_device))
                .collect();
            self.driver(
                "qat_vfio_pci",
                SimDriver {
                    matching: Matching::OverrideOnly(ids),
                    vfio: true,
                    sriov: false,
                    keeps_vfs_on_unbind: false,
                },
            );
        }
    }

    fn igb_pf(&mut self, index: usize) {
        let bdf = generic_pf_address(0x01, index);
        let mut dev = SimDevice::new(INTEL_VENDOR_ID, IGB_PF, -1, 0);
        dev.driver = Some("igb".into());
        dev.sriov = Some(SimSriov {
            total: 7,
            num: 0,
            autoprobe: true,
            offset: 0x80,
            stride: 2,
            vf_device: IGB_VF,
            vfs_share_group: false,
        });
        self.add(bdf, dev);
        self.ids_driver("igb", vec![(INTEL_VENDOR_ID, IGB_PF)], true, false);
        self.ids_driver("igbvf", vec![(INTEL_VENDOR_ID, IGB_VF)], false, false);
    }

    fn qemu_machine(&mut self) {
        let port = |device| Bdf {
            domain: 0,
            bus: 0,
            device,
            function: 0,
        };
        let mut root_port = SimDevice::new(REDHAT_VENDOR_ID, QEMU_ROOT_PORT, -1, 0);
        root_port.driver = Some("pcieport".into());
        self.add(port(1), root_port.clone());
        self.add(port(2), root_port);
        self.ids_driver(
            "pcieport",
            vec![(REDHAT_VENDOR_ID, QEMU_ROOT_PORT)],
            false,
            false,
        );
        self.igb_pf(0);
        self.nvme_pf_at(Bdf {
            domain: 0,
            bus: 2,
            device: 0,
            function: 0,
        });
        // No ACS on the NVMe's port: the port, the PF and its VFs form one group.
        let shared = self.kernel.devices[&port(2)].iommu_group;
        self.kernel
            .devices
            .values_mut()
            .filter(|d| d.device == QEMU_NVME)
            .for_each(|d| d.iommu_group = shared);
    }

    fn nvme_pf(&mut self, index: usize) {
        self.nvme_pf_at(generic_pf_address(0x20, index));
    }

    fn nvme_pf_at(&mut self, bdf: Bdf) {
        let mut dev = SimDevice::new(REDHAT_VENDOR_ID, QEMU_NVME, -1, 0);
        dev.driver = Some("nvme".into());
        dev.sriov = Some(SimSriov {
            total: 4,
            num: 0,
            autoprobe: true,
            offset: 1,
            stride: 1,
            vf_device: QEMU_NVME,
            vfs_share_group: true,
        });
        self.add(bdf, dev);
        self.ids_driver("nvme", vec![(REDHAT_VENDOR_ID, QEMU_NVME)], true, true);
    }

    fn finish(mut self) -> Kernel {
        // A device without SR-IOV, for "not an SR-IOV PF" answers.
        let host_bridge = Bdf {
            domain: 0,
            bus: 0,
            device: 0,
            function: 0,
        };
        self.add(host_bridge, SimDevice::new(INTEL_VENDOR_ID, 0x09a2, 0, 0));
        self.driver(
            "vfio-pci",
            SimDriver {
                matching: Matching::OverrideOnly(Vec::new()),
                vfio: true,
                sriov: false,
                keeps_vfs_on_unbind: false,
            },
        );
        self.kernel.groups = BTreeMap::from([
            ("root".to_owned(), 0),
            ("kvm".to_owned(), 994),
            ("qat".to_owned(), 990),
        ]);
        self.kernel
    }
}
