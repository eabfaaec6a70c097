//! PCI addresses and the table of QAT device families.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::services::Services;

/// Intel's PCI vendor id.
pub const INTEL_VENDOR_ID: u16 = 0x8086;

/// A PCI address that did not parse or is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid PCI address {input:?}: {reason}")]
pub struct InvalidAddress {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A PCI address: `domain:bus:device.function`, written `0000:3d:01.2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// PCI segment (domain), 16 bits.
    pub domain: u16,
    /// Bus number.
    pub bus: u8,
    /// Device (slot) number, 0–31.
    pub device: u8,
    /// Function number, 0–7.
    pub function: u8,
}

impl Bdf {
    /// Builds an address, checking the device (0–31) and function (0–7) ranges.
    pub fn new(domain: u16, bus: u8, device: u8, function: u8) -> Result<Self, InvalidAddress> {
        if device > 31 || function > 7 {
            return Err(InvalidAddress {
                input: format!("{domain:04x}:{bus:02x}:{device:02x}.{function:x}"),
                reason: "device must be 0-1f and function 0-7",
            });
        }
        Ok(Bdf {
            domain,
            bus,
            device,
            function,
        })
    }

    /// The 16-bit routing id (bus, device, function) within the domain.
    pub fn routing_id(self) -> u16 {
        (u16::from(self.bus) << 8) | (u16::from(self.device) << 3) | u16::from(self.function)
    }

    /// The address with the given routing id in the same domain.
    pub fn from_routing_id(domain: u16, rid: u16) -> Self {
        Bdf {
            domain,
            bus: (rid >> 8) as u8,
            device: ((rid >> 3) & 0x1f) as u8,
            function: (rid & 7) as u8,
        }
    }

    /// The address of SR-IOV virtual function `index` (0-based) of this PF, from the PF's
    /// `sriov_offset` and `sriov_stride` (PCIe SR-IOV: VF rid = PF rid + offset + index × stride).
    pub fn virtfn(self, offset: u16, stride: u16, index: u16) -> Option<Self> {
        let rid =
            u32::from(self.routing_id()) + u32::from(offset) + u32::from(index) * u32::from(stride);
        u16::try_from(rid)
            .ok()
            .map(|rid| Bdf::from_routing_id(self.domain, rid))
    }
}

impl fmt::Display for Bdf {
    /// `dddd:bb:dd.f`, lower-case hex. Written by hand: every sysfs path is built from it, and
    /// four padded integer formats cost more than the rest of a path lookup.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let nibble = |value: u16, shift: u32| HEX[usize::from((value >> shift) & 0xf)];
        let (d, b, s) = (self.domain, u16::from(self.bus), u16::from(self.device));
        let text = [
            nibble(d, 12),
            nibble(d, 8),
            nibble(d, 4),
            nibble(d, 0),
            b':',
            nibble(b, 4),
            nibble(b, 0),
            b':',
            nibble(s, 4),
            nibble(s, 0),
            b'.',
            nibble(u16::from(self.function), 0),
        ];
        // Every byte comes from HEX or is ASCII punctuation.
        f.pad(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for Bdf {
    type Err = InvalidAddress;

    /// Parses `dddd:bb:dd.f` or `bb:dd.f` (domain 0). Hex digits only; nothing else is accepted,
    /// so a parsed address is always safe to use as a sysfs path component.
    fn from_str(input: &str) -> Result<Self, InvalidAddress> {
        let bad = |reason| InvalidAddress {
            input: input.to_owned(),
            reason,
        };
        let hex = |s: &str, max_len: usize| -> Option<u32> {
            if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(s, 16).ok()
        };
        let (rest, function) = input
            .rsplit_once('.')
            .ok_or_else(|| bad("expected dddd:bb:dd.f or bb:dd.f"))?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (domain, bus, device) = match parts.as_slice() {
            [d, b, s] => (*d, *b, *s),
            [b, s] => ("0", *b, *s),
            _ => return Err(bad("expected dddd:bb:dd.f or bb:dd.f")),
        };
        let domain = hex(domain, 4).ok_or_else(|| bad("domain must be 1-4 hex digits"))?;
        let bus = hex(bus, 2).ok_or_else(|| bad("bus must be 1-2 hex digits"))?;
        let device = hex(device, 2)
            .filter(|d| *d <= 0x1f)
            .ok_or_else(|| bad("device must be hex 00-1f"))?;
        let function = hex(function, 1)
            .filter(|f| *f <= 7)
            .ok_or_else(|| bad("function must be 0-7"))?;
        // The ranges were checked above, so the narrowing casts are exact.
        Ok(Bdf {
            domain: domain as u16,
            bus: bus as u8,
            device: device as u8,
            function: function as u8,
        })
    }
}

impl Serialize for Bdf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Bdf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One QAT device family: its ids, driver directory names and what the kernel allows it.
#[derive(Debug, PartialEq, Eq)]
pub struct QatFamily {
    /// Family name as operators know it, e.g. `4xxx`, `c62x`.
    pub name: &'static str,
    /// Hardware generation: 2 (DH895xCC, C62x, C3xxx), 4 (4xxx, 420xx), 6 (6xxx).
    pub generation: u8,
    /// PF device id.
    pub pf_device: u16,
    /// VF device id.
    pub vf_device: u16,
    /// PF driver directory under /sys/bus/pci/drivers (not the module name).
    pub pf_driver: &'static str,
    /// Upstream VF driver directory, when one exists (gen2 only).
    pub vf_driver: Option<&'static str>,
    /// PF and VF are on vfio-pci's denylist: binding needs `vfio-pci.disable_denylist=1`.
    pub vfio_denylisted: bool,
    /// The variant driver `qat_vfio_pci` matches this VF (through driver_override).
    pub qat_vfio_pci: bool,
    /// What `qat/cfg_services` accepts; `None` where services are fixed (gen2).
    pub services: Option<ServiceRules>,
}

/// What a family's kernel driver accepts in `qat/cfg_services` (adf_cfg_services.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceRules {
    /// Services the generation offers.
    pub offered: Services,
    /// How many may be configured together.
    pub max_together: u32,
    /// Services that must be configured on their own.
    pub alone: Services,
}

/// Gen4 (4xxx, 401xx, 402xx, 420xx): two services at most, chained compression on its own.
const GEN4_SERVICES: ServiceRules = ServiceRules {
    offered: Services::ASYM
        .union(Services::SYM)
        .union(Services::DC)
        .union(Services::DCC),
    max_together: 2,
    alone: Services::DCC,
};

/// Gen6 (6xxx): adds decompression-only, three services at most.
const GEN6_SERVICES: ServiceRules = ServiceRules {
    offered: Services::all(),
    max_together: 3,
    alone: Services::empty(),
};

impl QatFamily {
    /// Whether services are configured through `qat/cfg_services` (gen4 and later).
    pub fn has_cfg_services(&self) -> bool {
        self.services.is_some()
    }

    /// Checks a combination of services against what the family's kernel driver accepts, and
    /// says why not.
    pub fn check_services(&self, services: Services) -> Result<(), String> {
        let Some(rules) = self.services else {
            return Err(format!(
                "{} (gen{}) has no configurable services",
                self.name, self.generation
            ));
        };
        let count = services.bits().count_ones();
        if count == 0 {
            return Err("at least one service is needed".into());
        }
        let missing = services.difference(rules.offered);
        if !missing.is_empty() {
            return Err(format!(
                "{} (gen{}) does not offer {}",
                self.name,
                self.generation,
                missing.to_cfg_string()
            ));
        }
        if count > rules.max_together {
            let most = ["none", "one", "two", "three", "four", "five"];
            return Err(format!(
                "{} allows at most {} services",
                self.name,
                most.get(rules.max_together as usize).unwrap_or(&"a few")
            ));
        }
        let alone = services.intersection(rules.alone);
        if count > 1 && !alone.is_empty() {
            return Err(format!(
                "{} allows {} only on its own",
                self.name,
                alone.to_cfg_string()
            ));
        }
        Ok(())
    }

    /// Finds the family whose PF has this device id.
    pub fn by_pf_device(vendor: u16, device: u16) -> Option<&'static QatFamily> {
        (vendor == INTEL_VENDOR_ID)
            .then(|| QAT_FAMILIES.iter().find(|f| f.pf_device == device))
            .flatten()
    }

    /// Finds the family whose VF has this device id.
    pub fn by_vf_device(vendor: u16, device: u16) -> Option<&'static QatFamily> {
        (vendor == INTEL_VENDOR_ID)
            .then(|| QAT_FAMILIES.iter().find(|f| f.vf_device == device))
            .flatten()
    }

    /// Finds a family by name (`4xxx`, `c62x`, ...).
    pub fn by_name(name: &str) -> Option<&'static QatFamily> {
        QAT_FAMILIES
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

impl Serialize for &'static QatFamily {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

const fn gen4_or_later(name: &'static str, pf: u16, vf: u16, qat_vfio_pci: bool) -> QatFamily {
    QatFamily {
        name,
        generation: 4,
        pf_device: pf,
        vf_device: vf,
        pf_driver: "4xxx",
        vf_driver: None,
        vfio_denylisted: false,
        qat_vfio_pci,
        services: Some(GEN4_SERVICES),
    }
}

/// Every QAT family the kernel drives (kernel-abi.md, "QAT device table").
pub static QAT_FAMILIES: [QatFamily; 8] = [
    QatFamily {
        name: "dh895xcc",
        generation: 2,
        pf_device: 0x0435,
        vf_device: 0x0443,
        pf_driver: "dh895xcc",
        vf_driver: Some("dh895xccvf"),
        vfio_denylisted: true,
        qat_vfio_pci: false,
        services: None,
    },
    QatFamily {
        name: "c62x",
        generation: 2,
        pf_device: 0x37c8,
        vf_device: 0x37c9,
        pf_driver: "c6xx",
        vf_driver: Some("c6xxvf"),
        vfio_denylisted: true,
        qat_vfio_pci: false,
        services: None,
    },
    QatFamily {
        name: "c3xxx",
        generation: 2,
        pf_device: 0x19e2,
        vf_device: 0x19e3,
        pf_driver: "c3xxx",
        vf_driver: Some("c3xxxvf"),
        vfio_denylisted: true,
        qat_vfio_pci: false,
        services: None,
    },
    gen4_or_later("4xxx", 0x4940, 0x4941, true),
    gen4_or_later("401xx", 0x4942, 0x4943, true),
    gen4_or_later("402xx", 0x4944, 0x4945, true),
    QatFamily {
        name: "420xx",
        pf_driver: "420xx",
        ..gen4_or_later("420xx", 0x4946, 0x4947, false)
    },
    QatFamily {
        name: "6xxx",
        generation: 6,
        pf_driver: "6xxx",
        services: Some(GEN6_SERVICES),
        ..gen4_or_later("6xxx", 0x4948, 0x4949, false)
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_full_and_short_forms() {
        let b: Bdf = "0000:3d:01.2".parse().unwrap();
        assert_eq!(b, Bdf::new(0, 0x3d, 1, 2).unwrap());
        assert_eq!(b.to_string(), "0000:3d:01.2");
        assert_eq!("3d:01.2".parse::<Bdf>().unwrap(), b);
        assert_eq!(
            "ffff:ff:1f.7".parse::<Bdf>().unwrap().to_string(),
            "ffff:ff:1f.7"
        );
        assert_eq!(
            "0001:3D:1F.0".parse::<Bdf>().unwrap().to_string(),
            "0001:3d:1f.0"
        );
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "..",
            "/",
            "0000:3d:01",
            "0000:3d:01.8",
            "0000:3d:20.0",
            "10000:3d:01.0",
            "0000:100:01.0",
            "0000:3d:01.2 ",
            " 0000:3d:01.2",
            "0000:3d:01.2/..",
            "../0000:3d:01.2",
            "0000:3d:0x.1",
            "0000:3d:01.-1",
            "0:0:0:0.0",
            "0000:3d:01.2\n",
            "+3d:01.2",
        ] {
            assert!(bad.parse::<Bdf>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn virtfn_follows_offset_and_stride() {
        let pf: Bdf = "0000:6b:00.0".parse().unwrap();
        assert_eq!(pf.virtfn(1, 1, 0).unwrap().to_string(), "0000:6b:00.1");
        assert_eq!(pf.virtfn(1, 1, 7).unwrap().to_string(), "0000:6b:01.0");
        assert_eq!(pf.virtfn(1, 1, 15).unwrap().to_string(), "0000:6b:02.0");
        let igb: Bdf = "0000:01:00.0".parse().unwrap();
        assert_eq!(igb.virtfn(0x80, 2, 1).unwrap().to_string(), "0000:01:10.2");
        assert!(
            "0000:ff:1f.7"
                .parse::<Bdf>()
                .unwrap()
                .virtfn(1, 1, 0)
                .is_none()
        );
    }

    #[test]
    fn generation_rules() {
        let gen4 = QatFamily::by_name("4xxx").unwrap();
        let gen6 = QatFamily::by_name("6xxx").unwrap();
        let gen2 = QatFamily::by_name("c62x").unwrap();
        let ok =
            |s: &str, f: &QatFamily| f.check_services(Services::parse_list(s).unwrap()).is_ok();
        assert!(ok("sym;dc", gen4));
        assert!(ok("dcc", gen4));
        assert!(!ok("dcc;sym", gen4));
        assert!(!ok("sym;asym;dc", gen4));
        assert!(!ok("decomp", gen4));
        assert!(ok("sym;asym;decomp", gen6));
        assert!(!ok("sym;asym;dc;decomp", gen6));
        assert!(!ok("sym", gen2));
    }

    #[test]
    fn a_refusal_says_why() {
        let gen4 = QatFamily::by_name("4xxx").unwrap();
        let why = |s: &str| {
            gen4.check_services(Services::parse_list(s).unwrap())
                .unwrap_err()
        };
        assert_eq!(why("decomp"), "4xxx (gen4) does not offer decomp");
        assert_eq!(why("sym;asym;dc"), "4xxx allows at most two services");
        assert_eq!(why("dcc;sym"), "4xxx allows dcc only on its own");
    }

    #[test]
    fn family_table_matches_the_facts() {
        assert_eq!(
            QatFamily::by_pf_device(0x8086, 0x37c8).unwrap().vf_driver,
            Some("c6xxvf")
        );
        assert_eq!(
            QatFamily::by_vf_device(0x8086, 0x4947).unwrap().name,
            "420xx"
        );
        assert!(!QatFamily::by_name("420xx").unwrap().qat_vfio_pci);
        assert!(QatFamily::by_name("402xx").unwrap().qat_vfio_pci);
        assert_eq!(QatFamily::by_name("6xxx").unwrap().generation, 6);
        assert!(QatFamily::by_pf_device(0x1234, 0x4940).is_none());
        for f in &QAT_FAMILIES {
            assert_eq!(f.vfio_denylisted, f.generation == 2, "{}", f.name);
            assert_eq!(f.vf_driver.is_some(), f.generation == 2, "{}", f.name);
        }
    }
}
